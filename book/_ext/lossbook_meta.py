"""Give every page a meta description.

Search engines and link previews show a page's ``<meta name="description">``. A
page can set its own in its front matter::

    myst:
      html_meta:
        description: One sentence about the page.

Every other page gets the opening of its first paragraph of running text (one
that stands directly in a section, not in an admonition, list or table), so none
goes without.
"""

import html
import textwrap

from docutils import nodes

LONGEST_DESCRIPTION = 160


def add_description(app, pagename, templatename, context, doctree):
    """Append a description taken from the first paragraph of running text, unless the page has one."""
    if doctree is None or 'name="description"' in context.get("metatags", ""):
        return
    paragraph = next(
        (p for p in doctree.findall(nodes.paragraph) if isinstance(p.parent, nodes.section)), None
    )
    if paragraph is None:
        return
    text = textwrap.shorten(paragraph.astext(), LONGEST_DESCRIPTION, placeholder=" …")
    context["metatags"] = (
        context.get("metatags", "") + f'\n<meta name="description" content="{html.escape(text)}" />'
    )


def setup(app):
    app.connect("html-page-context", add_description)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
