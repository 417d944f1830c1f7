"""Point the Colab launch button at a real notebook.

sphinx-book-theme builds its Colab link from the page's source file, and for a
MyST Markdown chapter that is the ``.md`` file, which Colab cannot open. Nothing
generated is committed to the source branch, but every build publishes each
chapter's executed notebook next to the site, at ``_sources/<page>.ipynb`` (the
target of the ``.ipynb`` download button). Once the site is published from the
branch ``lossbook_colab_branch`` names (``gh-pages``, where ``ghp-import`` puts a
Jupyter Book), that notebook has a GitHub address Colab opens.
"""

from urllib.parse import urlparse


def notebook_url(colab_url, repository_url, branch, ipynb_source):
    """Return the Colab address of the notebook the site publishes for one page."""
    org, repo = urlparse(repository_url).path.strip("/").split("/")[:2]
    return f"{colab_url.rstrip('/')}/github/{org}/{repo}/blob/{branch}/_sources/{ipynb_source}"


def point_colab_at_notebook(app, pagename, templatename, context, doctree):
    """Rewrite the Colab button that sphinx-book-theme added to this page, if any."""
    options = app.config.html_theme_options
    colab_url = options.get("launch_buttons", {}).get("colab_url")
    if not (colab_url and context.get("ipynb_source")):
        return
    url = notebook_url(
        colab_url,
        options["repository_url"],
        app.config.lossbook_colab_branch,
        context["ipynb_source"],
    )
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []):
            if button.get("text") == "Colab":
                button["url"] = url


def setup(app):
    app.add_config_value("lossbook_colab_branch", "gh-pages", "html")
    # sphinx-book-theme adds its launch buttons at priority 501; this runs after it.
    app.connect("html-page-context", point_colab_at_notebook, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
