"""Launch buttons that open a page's reader's notebook, and none until the book has a home.

sphinx-book-theme builds its Binder, JupyterHub and Colab links from the page's
source file, which for a MyST chapter is the ``.md`` file: Colab cannot open it,
and Binder and a hub would open it with its glue and roles unresolved. Every
build publishes each chapter's reader's notebook (``lossbook_readers``) next to
the site, at ``_sources/<page>.ipynb``, the target of the ``.ipynb`` download
button; once the site is published from the branch ``lossbook_pages_branch``
names (``gh-pages``, where ``ghp-import`` puts a Jupyter Book), that notebook has
a GitHub address. The buttons point there:

- Colab opens the notebook from that branch;
- Binder builds the environment from the repository's sources (its
  ``requirements.txt`` includes nbgitpuller), pulls the pages branch and opens
  the notebook in JupyterLab;
- a JupyterHub (which needs nbgitpuller) does the same with its own environment.

The buttons need the repository: with ``repository.url`` empty in
``_config.yml`` (as in this repository), a page offers downloads only, and a
link to a host that is only a placeholder is never written.
"""

from urllib.parse import quote, urlencode, urlparse

PLACEHOLDER_HOSTS = ("example.org", "example.com", "example.net", "localhost")
"""Hosts that stand for a real one in documentation; no launch button may point at them."""


def is_placeholder(url):
    """Whether ``url`` is empty or points at a documentation placeholder host."""
    host = urlparse(url or "").hostname or ""
    return not host or any(host == name or host.endswith("." + name) for name in PLACEHOLDER_HOSTS)


def launch_urls(repository_url, branch, pages_branch, ipynb_source, providers):
    """Return ``{button text: URL}`` opening the published notebook ``_sources/<ipynb_source>``.

    Parameters
    ----------
    repository_url : str
        The book's GitHub repository, ``https://github.com/<org>/<repo>``.
    branch : str
        The branch of its sources (Binder builds the environment from it).
    pages_branch : str
        The branch the site, and so the notebook, is published from.
    ipynb_source : str
        The notebook's path under ``_sources``, such as ``book/bce.ipynb``.
    providers : dict
        ``binderhub_url``, ``colab_url`` and ``jupyterhub_url``, each a base URL
        or empty; an empty or placeholder one gives no button.

    Returns
    -------
    dict
    """
    parts = urlparse(repository_url)
    org, repo = parts.path.strip("/").split("/")[:2]
    notebook = f"_sources/{ipynb_source}"
    pull = urlencode(
        {"repo": repository_url, "branch": pages_branch, "urlpath": f"lab/tree/{repo}/{notebook}"}, safe="/"
    )
    urls = {}
    binder = providers.get("binderhub_url", "")
    if not is_placeholder(binder):
        urls["Binder"] = f"{binder.rstrip('/')}/v2/gh/{org}/{repo}/{branch}?urlpath={quote('git-pull?' + pull, safe='')}"
    hub = providers.get("jupyterhub_url", "")
    if not is_placeholder(hub):
        urls["JupyterHub"] = f"{hub.rstrip('/')}/hub/user-redirect/git-pull?{pull}"
    colab = providers.get("colab_url", "")
    if not is_placeholder(colab) and parts.hostname == "github.com":
        urls["Colab"] = f"{colab.rstrip('/')}/github/{org}/{repo}/blob/{pages_branch}/{notebook}"
    return urls


def point_buttons_at_notebook(app, pagename, templatename, context, doctree):
    """Give this page's launch buttons the reader's notebook's URLs, and drop any without one."""
    options = app.config.html_theme_options
    repository_url = options.get("repository_url", "")
    groups = context.get("header_buttons", [])
    launchers = [group for group in groups if group.get("label") == "launch-buttons"]
    if not launchers:
        return
    urls = {}
    if context.get("ipynb_source") and not is_placeholder(repository_url):
        urls = launch_urls(
            repository_url,
            options.get("repository_branch", "main"),
            app.config.lossbook_pages_branch,
            context["ipynb_source"],
            options.get("launch_buttons", {}),
        )
    for group in launchers:
        group["buttons"] = [dict(button, url=urls[button["text"]]) for button in group["buttons"] if button.get("text") in urls]
    context["header_buttons"] = [group for group in groups if group.get("label") != "launch-buttons" or group["buttons"]]


def no_launchers_without_repository(app):
    """Without a repository there is nothing to launch: switch every provider off.

    (sphinx-book-theme would otherwise fail on the empty repository URL.)
    """
    options = app.config.html_theme_options
    if is_placeholder(options.get("repository_url", "")):
        launch = dict(options.get("launch_buttons", {}))
        for key in ("binderhub_url", "colab_url", "jupyterhub_url", "deepnote_url", "jupyterlite_url"):
            launch.pop(key, None)
        options["launch_buttons"] = launch


def setup(app):
    app.add_config_value("lossbook_pages_branch", "gh-pages", "html")
    app.connect("builder-inited", no_launchers_without_repository)
    # sphinx-book-theme adds its launch buttons at priority 501; this runs after it.
    app.connect("html-page-context", point_buttons_at_notebook, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
