"""Write each inline script into a page once.

sphinx-thebe and sphinx-togglebutton register small inline scripts after the
HTML builder has started, and with Jupyter Book 1 on Sphinx 7.4 they reach every
page twice. Declaring sphinx-thebe's ``const THEBE_JS_URL`` twice is a
SyntaxError, which shows in the console of every page. This extension keeps the
first of any inline scripts with the same body and type.
"""


def drop_repeated_inline_scripts(app, pagename, templatename, context, doctree):
    """Remove later copies of an inline script from the page's script list."""
    seen = set()
    kept = []
    for script in context.get("script_files", []):
        body = script.attributes.get("body")
        key = (body, script.attributes.get("type"))
        if body and key in seen:
            continue
        seen.add(key)
        kept.append(script)
    context["script_files"] = kept


def setup(app):
    # After every extension has added its scripts for the page.
    app.connect("html-page-context", drop_repeated_inline_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
