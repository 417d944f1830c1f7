"""The book as one PDF: what the site and the ``singlehtml`` build need for ``make pdf``.

The site's ".pdf" download button (sphinx-book-theme prints the page in view)
becomes a link to the whole book, ``lossbook.pdf`` at the top of the site,
where ``make pdf`` puts it.

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


PDF_NAME = "lossbook.pdf"
"""Where ``make pdf`` copies the book's PDF, relative to the site's root."""


def link_the_book_pdf(app, pagename, templatename, context, doctree):
    """Point the page's PDF download button at the book's PDF."""
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []):
            if button.get("label") == "download-pdf-button":
                button.update(
                    type="link",
                    url=context["pathto"](PDF_NAME, 1),
                    tooltip="Download the whole book as one PDF",
                )
                button.pop("javascript", None)


def setup(app):
    app.connect("builder-inited", share_html_handlers)
    # After sphinx-book-theme adds its download buttons (priority 501).
    app.connect("html-page-context", link_the_book_pdf, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
