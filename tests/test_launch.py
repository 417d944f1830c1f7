"""Launch buttons: none until the book has a repository, then ones that open the reader's notebook.

The URL builder of ``book/_ext/lossbook_launch.py`` is checked against URLs
written out by hand; the built site is scanned for links to placeholder hosts
and, since this repository configures none, for launch links at all.
(``tests/test_book_build.py`` builds a throwaway book with a repository set and
finds the buttons there.)
"""

import re
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "book" / "_ext"))

import lossbook_launch as launch  # noqa: E402

SITE = REPO_ROOT / "_build" / "html"
PROVIDERS = {
    "binderhub_url": "https://mybinder.org",
    "colab_url": "https://colab.research.google.com",
    "jupyterhub_url": "https://hub.uni.edu/",
}


def test_buttons_open_the_published_readers_notebook():
    """Colab opens it from the pages branch; Binder and the hub pull that branch and open it in lab."""
    urls = launch.launch_urls("https://github.com/org/book", "main", "gh-pages", "book/bce.ipynb", PROVIDERS)
    assert urls["Colab"] == "https://colab.research.google.com/github/org/book/blob/gh-pages/_sources/book/bce.ipynb"
    assert urls["JupyterHub"] == (
        "https://hub.uni.edu/hub/user-redirect/git-pull?repo=https%3A//github.com/org/book"
        "&branch=gh-pages&urlpath=lab/tree/book/_sources/book/bce.ipynb"
    )
    assert urls["Binder"] == (
        "https://mybinder.org/v2/gh/org/book/main?urlpath=git-pull%3Frepo%3Dhttps%253A%2F%2Fgithub.com"
        "%2Forg%2Fbook%26branch%3Dgh-pages%26urlpath%3Dlab%2Ftree%2Fbook%2F_sources%2Fbook%2Fbce.ipynb"
    )


def test_no_button_for_an_empty_or_placeholder_provider():
    """An empty provider, or one at a placeholder host, gives no button; Colab needs GitHub."""
    providers = dict(PROVIDERS, jupyterhub_url="https://jupyterhub.example.org", binderhub_url="")
    assert set(launch.launch_urls("https://github.com/org/book", "main", "gh-pages", "a.ipynb", providers)) == {"Colab"}
    assert launch.launch_urls("https://gitlab.com/org/book", "main", "gh-pages", "a.ipynb", {"colab_url": "https://colab.research.google.com"}) == {}
    assert launch.is_placeholder("") and launch.is_placeholder("https://sub.example.com/x")
    assert not launch.is_placeholder("https://mybinder.org")


def site_links():
    """{page: [absolute http(s) link, ...]} over every page of the built site."""
    if not (SITE / "index.html").exists():
        pytest.fail(f"no built site in {SITE}: run `make book` first")
    links = {}
    for page in sorted(SITE.rglob("*.html")):
        html = page.read_text(encoding="utf-8")
        links[page.relative_to(SITE).as_posix()] = re.findall(r'href="(https?://[^"]+)"', html)
    return links


def test_no_page_links_a_placeholder_host():
    """No link on any built page points at a placeholder host such as jupyterhub.example.org."""
    placeholders = {
        page: [url for url in urls if launch.is_placeholder(url)] for page, urls in site_links().items()
    }
    assert {page: urls for page, urls in placeholders.items() if urls} == {}


def test_without_a_repository_the_site_offers_downloads_only():
    """This repository configures no repository URL, so no page links Binder, Colab or a hub."""
    config = yaml.safe_load((REPO_ROOT / "_config.yml").read_text())
    assert not config["repository"]["url"]
    launchers = ("mybinder.org", "colab.research.google.com")
    found = {
        page: [url for url in urls if urlparse(url).hostname in launchers or "/hub/user-redirect/" in url]
        for page, urls in site_links().items()
    }
    assert {page: urls for page, urls in found.items() if urls} == {}
