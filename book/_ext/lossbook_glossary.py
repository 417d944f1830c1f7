"""Carry each glossary definition to the links that cite its term.

A ``{term}`` role links to the term's entry in a ``{glossary}``. While pages are
read, this extension records each glossary entry's definition under the entry's
anchor, and which pages link to terms; when a page is written, it sets the title
of every term link on it to that definition. ``_static/glossary-hover.js`` shows
the title as a card on hover and keyboard focus (without JavaScript the browser
shows it as a tooltip). When a page holding a glossary changes, the pages that
link to terms are read again, so their cards never show an old definition.
"""

import textwrap

from docutils import nodes
from sphinx import addnodes

LONGEST_DEFINITION = 320


def record_page(app, doctree):
    """Store the page's glossary definitions, and whether it links to any term."""
    env = app.env
    for glossary in doctree.findall(addnodes.glossary):
        for entry in glossary.findall(nodes.definition_list_item):
            definition = next(entry.findall(nodes.definition), None)
            if definition is None:
                continue
            text = textwrap.shorten(definition.astext(), LONGEST_DEFINITION, placeholder=" …")
            for term in entry.findall(nodes.term):
                for anchor in term["ids"]:
                    env.lossbook_glossary[anchor] = (env.docname, text)
    if any(xref["reftype"] == "term" for xref in doctree.findall(addnodes.pending_xref)):
        env.lossbook_term_pages.add(env.docname)


def title_term_links(app, doctree, docname):
    """Give each term link on the page being written its definition as a title."""
    definitions = app.env.lossbook_glossary
    for link in doctree.findall(nodes.reference):
        children = [child for child in link.children if isinstance(child, nodes.Element)]
        if not any("std-term" in child["classes"] for child in children):
            continue
        anchor = link.get("refid") or link.get("refuri", "").partition("#")[2]
        if anchor in definitions:
            link["reftitle"] = definitions[anchor][1]


def pages_citing_changed_glossaries(app, env, added, changed, removed):
    """The pages that link to terms, when a page holding a glossary is about to be read again."""
    glossary_pages = {docname for docname, _ in env.lossbook_glossary.values()}
    if glossary_pages & (added | changed | removed):
        return sorted(env.lossbook_term_pages - removed)
    return []


def start_store(app):
    """Give a new environment, or one pickled before these were kept, its empty stores."""
    for name, empty in (("lossbook_glossary", dict), ("lossbook_term_pages", set)):
        if not hasattr(app.env, name):
            setattr(app.env, name, empty())


def forget_page(app, env, docname):
    env.lossbook_glossary = {
        anchor: entry for anchor, entry in env.lossbook_glossary.items() if entry[0] != docname
    }
    env.lossbook_term_pages.discard(docname)


def merge_stores(app, env, docnames, other):
    env.lossbook_glossary.update(other.lossbook_glossary)
    env.lossbook_term_pages |= other.lossbook_term_pages


def setup(app):
    app.connect("builder-inited", start_store)
    app.connect("env-get-outdated", pages_citing_changed_glossaries)
    app.connect("env-purge-doc", forget_page)
    app.connect("env-merge-info", merge_stores)
    app.connect("doctree-read", record_page)
    app.connect("doctree-resolved", title_term_links)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
