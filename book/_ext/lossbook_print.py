"""Let the ``singlehtml`` builder write the book as one page, for ``make pdf`` to print.

Some extensions register translator handlers for ``singlehtml`` alone, and
Sphinx then looks no further: the handlers registered for ``html`` (sphinx-design's
tabs among them) are lost and the build fails on the first tab. This copies the
missing ones over before anything is written.
"""


def share_html_handlers(app):
    """Give the ``singlehtml`` builder every node handler the ``html`` builder has."""
    if app.builder.name != "singlehtml":
        return
    handlers = app.registry.translation_handlers
    single = handlers.setdefault("singlehtml", {})
    for node, pair in handlers.get("html", {}).items():
        single.setdefault(node, pair)


def setup(app):
    app.connect("builder-inited", share_html_handlers)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
