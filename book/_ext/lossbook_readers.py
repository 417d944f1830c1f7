"""Reader's notebooks: every chapter as a notebook that reads like its web page.

A chapter is MyST Markdown. Its prose pastes glued numbers (``{glue:text}``),
refers to equations, figures and exercises by number (``{eq}``, ``{numref}``),
cites (``{cite}``) and links glossary terms (``{term}``); its directives make
admonitions, dropdowns, exercises and framework tabs. Only Sphinx resolves
these. Plain Jupyter and Colab show them as source, and so does JupyterLab even
with ``jupyterlab-myst``, which renders directives but knows neither glue nor
the numbers Sphinx gives.

When the site is built, this extension writes each executed chapter (its
outputs kept) again, twice, with every glued value written into the text and
every reference replaced by what the web page shows, its numbers read from the
page itself:

``_build/html/_sources/<page>.ipynb``, the *download*
    The notebook behind the page's ``.ipynb`` button (and Colab's). Its
    Markdown is the kind any Jupyter renders: admonitions and exercises become
    block quotes, dropdowns and solutions ``<details>``, labelled equations
    carry ``\\tag``, and each framework's ``%%tab`` cell shows its own code and
    output in place of the tabs.
``_build/lab/<page>.ipynb``, for ``make lab``
    The same, except that admonitions, dropdowns and framework tabs stay MyST
    directives, which ``jupyterlab-myst`` renders as the site does; the
    ``%%tab`` cells are kept (later cells use what they import) but folded.

In both, the cells of a gated solution are folded, and a figure's caption
follows the figure. The prose numbers stay where the tests read them: the glued
values in ``_build/jupyter_execute``; these notebooks are made from them.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)

FLAVOURS = ("download", "lab")

GLUE_PREFIX = "application/papermill.record/"

ADMONITIONS = {
    "admonition": None,
    "attention": "Attention",
    "caution": "Caution",
    "danger": "Danger",
    "error": "Error",
    "hint": "Hint",
    "important": "Important",
    "note": "Note",
    "seealso": "See also",
    "tip": "Tip",
    "warning": "Warning",
    "margin": None,
    "sidebar": None,
    "topic": None,
    "epigraph": None,
}
"""Directives that frame their body; the value is the title when they take no argument."""

PROOF_KINDS = (
    "proof",
    "axiom",
    "theorem",
    "lemma",
    "algorithm",
    "definition",
    "remark",
    "conjecture",
    "corollary",
    "criterion",
    "example",
    "property",
    "observation",
    "proposition",
    "assumption",
    "notation",
)

DROPPED = {"toctree", "tableofcontents", "bibliography", "nb-exec-table", "index", "glossary"}
"""Directives that only make sense on the site (navigation, indexes, build tables)."""

# A directive's opening fence: ```{name} argument  or  :::{name} argument.
_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|:{3,})\{(?P<name>[^}\s]+)\}[ \t]*(?P<arg>.*?)\s*$")
# A plain code fence (no directive), whose content is left as it is.
_CODE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?!.*`)(?P<info>.*)$")
_OPTION = re.compile(r"^:(?P<key>[\w-]+):(?:[ \t]+(?P<value>.*?))?\s*$")
# A role (or, without one, a code span, which is left alone).
_INLINE = re.compile(r"(?:\{(?P<role>[A-Za-z][\w:+.-]*)\})?(?P<ticks>`+)(?P<content>.+?)(?<!`)(?P=ticks)(?!`)", re.DOTALL)
# Display math: $$ on the line it opens, $$ and an optional (label) on the line it closes.
_DISPLAY_MATH = re.compile(
    r"^[ \t]*\$\$(?P<body>.+?)\$\$[ \t]*(?:\((?P<label>[^()\s]+)\))?[ \t]*$", re.DOTALL | re.MULTILINE
)
_TARGET = re.compile(r"^\([^()\s]+\)=[ \t]*\n?", re.MULTILINE)
_COMMENT = re.compile(r"^%(?!%).*\n?", re.MULTILINE)
_TITLED = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>\s*$", re.DOTALL)


class ReaderError(ValueError):
    """A chapter uses something the reader's notebook cannot render, or refers to nothing."""


@dataclass
class Directive:
    """One MyST directive: its name, argument, options and unparsed body."""

    name: str
    argument: str = ""
    options: dict = field(default_factory=dict)
    body: str = ""


@dataclass
class Verbatim:
    """A plain fenced code block, kept exactly as written."""

    text: str


def parse_blocks(text):
    """Split MyST Markdown into prose (str), :class:`Verbatim` code fences and :class:`Directive` s.

    Only the outer level is split; a directive's body stays text, for the
    directive's renderer to parse again when its content is Markdown.
    """
    lines = text.splitlines(keepends=True)
    blocks, prose, i = [], [], 0
    while i < len(lines):
        line = lines[i]
        opening = _OPEN.match(line.rstrip("\n"))
        code = None if opening else _CODE.match(line.rstrip("\n"))
        if not (opening or code):
            prose.append(line)
            i += 1
            continue
        match = opening or code
        indent, fence = match["indent"], match["fence"]
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        end = next((j for j in range(i + 1, len(lines)) if closing.match(lines[j].rstrip("\n"))), len(lines))
        inner = [line[len(indent) :] if line.startswith(indent) else line for line in lines[i + 1 : end]]
        if prose:
            blocks.append("".join(prose))
            prose = []
        if opening:
            blocks.append(_directive(opening["name"], opening["arg"], inner))
        else:
            blocks.append(Verbatim("".join(lines[i : end + 1])))
        i = end + 1
    if prose:
        blocks.append("".join(prose))
    return blocks


def _directive(name, argument, lines):
    """A :class:`Directive` from its name, argument and the lines inside its fences."""
    options = {}
    if lines and lines[0].strip() == "---":
        end = next((k for k in range(1, len(lines)) if lines[k].strip() == "---"), None)
        if end is not None:
            import yaml

            options = yaml.safe_load("".join(lines[1:end])) or {}
            lines = lines[end + 1 :]
    else:
        while lines:
            option = _OPTION.match(lines[0].rstrip("\n"))
            if not option:
                break
            options[option["key"]] = option["value"] or ""
            lines = lines[1:]
    return Directive(name, argument, options, "".join(lines).strip("\n"))


@dataclass
class SiteNumbers:
    """What the built site shows for the things a chapter refers to.

    Attributes
    ----------
    captions : dict
        ``{id: "Fig. 2.1"}``: the number of each numbered figure, table,
        exercise or proof-like block, by its HTML id (its label).
    titles : dict
        ``{id: "(title)"}``: the title that follows that number, if any.
    equations : dict
        ``{label: "2.1"}``: each numbered equation's number.
    sections : dict
        ``{label: ("Section title", docname)}``: the text ``{ref}`label``` shows, and its page.
    citations : dict
        ``{docname: [(text, [work, ...]), ...]}``: each citation a page
        shows, in order, and the references it stands for.
    terms : dict
        ``{term in lower case: definition}``, for the glossary's hover text.
    """

    captions: dict = field(default_factory=dict)
    titles: dict = field(default_factory=dict)
    equations: dict = field(default_factory=dict)
    sections: dict = field(default_factory=dict)
    citations: dict = field(default_factory=dict)
    terms: dict = field(default_factory=dict)

    def add_page(self, docname, html):
        """Record the numbers, titles and citations of one built HTML page."""
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(html, "html.parser")
        article = soup.find("article") or soup
        for number in article.select("span.caption-number"):
            owner = number.find_parent(id=True)
            while owner is not None and owner.name in ("p", "span", "figcaption", "div") and owner.get("id", "").endswith("-content"):
                owner = owner.find_parent(id=True)
            if owner is None:
                continue
            key = owner["id"]
            if key in self.captions:
                continue
            self.captions[key] = number.get_text().strip()
            title = number.parent
            rest = title.get_text(" ", strip=True)[len(self.captions[key]) :].strip()
            self.titles[key] = re.sub(r"\s+", " ", rest.rstrip("#").strip())
        for equation in article.select("div.math[id^=equation-]"):
            eqno = equation.select_one("span.eqno")
            if eqno is not None:
                label = equation["id"][len("equation-") :]
                self.equations[label] = eqno.get_text().strip().rstrip("#").strip().strip("()")
        self.citations[docname] = [
            (
                re.sub(r"\s+", " ", span.get_text()).strip(),
                [re.sub(r"\s+", " ", link["title"]).strip() for link in span.select("a[title]")],
            )
            for span in article.select("span.bibtex-citation")
        ]


@dataclass
class Page:
    """What rendering one chapter needs besides its notebook.

    Attributes
    ----------
    docname : str
        The page's name, ``book/<chapter>``.
    numbers : SiteNumbers
    glue : dict
        ``{key: mime bundle}`` of the values the chapter glued.
    include : callable, optional
        ``include(path, options) -> str``: the text ``{literalinclude}`` shows.
    notebooks : frozenset, optional
        The pages that have a reader's notebook, for links between lab notebooks.
    site_page : str, optional
        The page's address on the published site (``html_baseurl``), for the
        sentence that stands in for an interactive figure.
    """

    docname: str
    numbers: SiteNumbers
    glue: dict
    include: object = None
    site_page: str = ""
    notebooks: frozenset = frozenset()


def glued_bundles(notebook):
    """``{key: mime bundle}`` for every value a notebook's cells glued."""
    found = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                found[name] = {
                    mime[len(GLUE_PREFIX) :] if mime.startswith(GLUE_PREFIX) else mime: value
                    for mime, value in output.get("data", {}).items()
                }
    return found


def plain_text(text, spec=""):
    """The text ``{glue:text}`` shows for a glued ``text/plain``, as MyST-NB formats it."""
    from myst_nb.core.variables import format_plain_text

    return format_plain_text(text, spec)


class Renderer:
    """Turn a chapter's MyST Markdown into a reader's notebook's Markdown.

    Parameters
    ----------
    page : Page
    flavour : {"download", "lab"}
        ``"download"`` writes Markdown any Jupyter renders; ``"lab"`` keeps the
        directives ``jupyterlab-myst`` renders (admonitions, dropdowns, tabs).
    """

    def __init__(self, page, flavour):
        if flavour not in FLAVOURS:
            raise ValueError(f"flavour must be one of {FLAVOURS}, got {flavour!r}")
        self.page, self.flavour = page, flavour
        self.cited = 0

    # -- blocks ---------------------------------------------------------------------------

    def markdown(self, text):
        """Render MyST Markdown text."""
        return self.blocks(parse_blocks(text))

    def blocks(self, blocks):
        """Render blocks :func:`parse_blocks` split."""
        parts = []
        for block in blocks:
            if isinstance(block, str):
                parts.append(self.inline(block))
            elif isinstance(block, Verbatim):
                parts.append(block.text)
            else:
                parts.append(self.directive(block))
        return _tidy("".join(part if part.endswith("\n") else part + "\n" for part in parts if part))

    def directive(self, block):
        """Render one directive as Markdown (ending with a newline)."""
        name = block.name
        if name in ADMONITIONS:
            title = block.argument or ADMONITIONS[name] or name.title()
            return self.frame(title, self.markdown(block.body), kind=block.options.get("class", name))
        if name in ("card", "grid-item-card"):
            return self.card(block)
        if name in ("grid", "grid-item"):
            return self.markdown(block.body)
        if name == "dropdown":
            return self.fold(self.inline(block.argument) or "Details", self.markdown(block.body), open_="open" in block.options)
        if name == "exercise":
            return self.frame(self.numbered(block), self.markdown(block.body), kind="note")
        if name == "solution":
            title = self.solution_title(block.argument)
            if "dropdown" in block.options.get("class", ""):
                return self.fold(title, self.markdown(block.body))
            return self.frame(title, self.markdown(block.body), kind="note")
        if name.startswith("prf:") and name[4:] in PROOF_KINDS:
            title = "Proof." if name == "prf:proof" else self.numbered(block)
            return self.frame(title, self.markdown(block.body), kind="note")
        if name in ("glue", "glue:", "glue:any", "glue:figure"):
            pasted = self.paste(block.argument)
            if name == "glue:figure" and block.body:
                pasted += "\n" + self.caption(block.options.get("name", ""), block.body)
            return pasted
        if name == "glue:md":
            return self.glued_markdown(block.argument)
        if name == "framework-tabs":
            return self.framework_tabs(block)
        if name == "tab-set":
            return self.tab_set(block)
        if name == "tab-item":
            return self.tab_item(self.inline(block.argument), self.markdown(block.body))
        if name in ("code-block", "code", "sourcecode", "code-cell"):
            return self.fence(block.argument.split()[0] if block.argument else "", block.body)
        if name == "literalinclude":
            if self.page.include is None:
                raise ReaderError(f"{self.page.docname}: literalinclude needs the build's sources")
            language = block.options.get("language", "python" if block.argument.endswith(".py") else "")
            return self.fence(language, self.page.include(block.argument, block.options).rstrip("\n"))
        if name == "math":
            return self.display_math(block.body, block.options.get("label"))
        if name == "raw":
            return self.raw(block.argument, block.body)
        if name in DROPPED:
            return ""
        if name in ("solution-start", "solution-end"):
            raise ReaderError(f"{self.page.docname}: a gated solution is handled by the notebook")
        raise ReaderError(f"{self.page.docname}: the reader's notebook cannot render a {{{name}}} directive")

    def frame(self, title, body, kind="note"):
        """A titled box: a MyST admonition (lab) or a block quote with a bold title."""
        if self.flavour == "lab":
            return self.fenced_directive("admonition", title, body, {"class": kind})
        quoted = "\n".join(f"> {line}" if line.strip() else ">" for line in body.rstrip("\n").splitlines())
        return f"> **{title}**\n>\n{quoted}\n"

    def card(self, block):
        """A sphinx-design card: a MyST card (lab) or a framed block; header and footer rules dropped."""
        body = re.sub(r"^(\^\^\^|\+\+\+)[ \t]*$", "", block.body, flags=re.MULTILINE)
        title = self.inline(block.argument).strip()
        if self.flavour == "lab":
            return self.fenced_directive("card", title, self.markdown(body))
        return self.frame(title, self.markdown(body)) if title else self.markdown(body)

    def fold(self, title, body, open_=False):
        """A folded box: a MyST dropdown (lab) or ``<details>``."""
        if self.flavour == "lab":
            return self.fenced_directive("dropdown", title, body, {"open": ""} if open_ else {})
        summary = _inline_html(title)
        return f"<details{' open' if open_ else ''}>\n<summary>{summary}</summary>\n\n{body.strip()}\n\n</details>\n"

    @staticmethod
    def fenced_directive(name, argument, body, options=None):
        """A colon-fenced MyST directive, its fence longer than any colon fence inside it."""
        longest = max((len(m) for m in re.findall(r"^:{3,}", body, re.MULTILINE)), default=2)
        fence = ":" * max(3, longest + 1)
        lines = [f"{fence}{{{name}}} {argument}".rstrip()]
        lines += [f":{key}: {value}".rstrip() for key, value in (options or {}).items()]
        return "\n".join(lines) + "\n\n" + body.strip("\n") + f"\n{fence}\n"

    @staticmethod
    def fence(language, body):
        """A plain fenced code block, its fence longer than any inside it."""
        longest = max((len(m) for m in re.findall(r"`{3,}", body)), default=2)
        ticks = "`" * max(3, longest + 1)
        return f"{ticks}{language}\n{body.rstrip()}\n{ticks}\n"

    def numbered(self, block):
        """The site's title of a numbered block: ``Exercise 2.1 (title)``."""
        label = block.options.get("label", "")
        if label not in self.page.numbers.captions:
            raise ReaderError(f"{self.page.docname}: the site shows no number for {{{block.name}}} {label!r}")
        title = self.page.numbers.titles.get(label, "")
        if not title and block.argument:
            title = f"({self.inline(block.argument).strip()})"
        return f"{self.page.numbers.captions[label]} {title}".strip()

    def solution_title(self, label):
        """``Solution to Exercise 2.1``, as the site titles a solution."""
        label = label.strip()
        if label not in self.page.numbers.captions:
            raise ReaderError(f"{self.page.docname}: a solution refers to an exercise the site does not number: {label!r}")
        return f"Solution to {self.page.numbers.captions[label]}"

    def caption(self, name, text):
        """A figure's caption as the site shows it: ``**Fig. 2.1** caption``."""
        number = self.page.numbers.captions.get(name)
        body = self.inline(text.strip()).strip()
        return f"**{number}** {body}\n" if number else f"{body}\n"

    def display_math(self, body, label=None):
        """Display math, with the site's number as a ``\\tag`` when labelled, and no other number.

        jupyterlab-myst numbers every display equation itself, so the lab
        flavour writes a ``{math}`` directive that it leaves unnumbered.
        """
        body = body.strip()
        if label:
            if label not in self.page.numbers.equations:
                raise ReaderError(f"{self.page.docname}: the site shows no number for equation {label!r}")
            body = f"{body}\n\\tag{{{self.page.numbers.equations[label]}}}"
        if self.flavour == "lab":
            return f"```{{math}}\n:enumerated: false\n\n{body}\n```\n"
        return f"$$\n{body}\n$$\n"

    def raw(self, fmt, body):
        """Raw HTML stays (a notebook renders it); an interactive figure gets a sentence instead."""
        if fmt.strip() != "html":
            return ""
        if "lossbook-widget" in body:
            site = f"[the book's website]({self.page.site_page})" if self.page.site_page else "the book's website"
            return f"*An interactive figure stands here on {site}: it runs in the browser, not in a notebook.*\n"
        return body + "\n"

    # -- glue -----------------------------------------------------------------------------

    def bundle(self, key):
        """The mime bundle glued under ``key``."""
        key = key.strip()
        if key not in self.page.glue:
            raise ReaderError(f"{self.page.docname}: nothing is glued under {key!r}")
        return self.page.glue[key]

    def paste(self, key):
        """A glued value as a block: Markdown, HTML, an image or text, as the site prefers."""
        data = self.bundle(key)
        if "text/markdown" in data:
            return self.markdown(data["text/markdown"])
        if "text/html" in data:
            return _html_block(data["text/html"])
        for mime in ("image/png", "image/jpeg"):
            if mime in data:
                return f"![{key}](data:{mime};base64,{''.join(data[mime].split())})\n"
        if "image/svg+xml" in data:
            svg = base64.b64encode(data["image/svg+xml"].encode()).decode()
            return f"![{key}](data:image/svg+xml;base64,{svg})\n"
        if "text/latex" in data:
            return f"{data['text/latex'].strip()}\n"
        return self.fence("text", plain_text(data.get("text/plain", "")))

    def glued_markdown(self, key):
        """A glued ``text/markdown`` value as a block, its MyST rendered too."""
        return self.markdown(self.glued_markdown_text(key))

    def framework_tabs(self, block):
        """The ``{framework-tabs}`` group: MyST tabs (lab), or nothing where the cells show it."""
        frameworks = block.options.get("frameworks", "gluon torch lossbook").split()
        items = [(name, self.glued_markdown(f"{block.argument}-{name}")) for name in frameworks]
        if self.flavour != "lab":
            # Each framework's %%tab cell stands in the notebook with its own output.
            return ""
        body = "".join(self.tab_item(name, content, sync=name) for name, content in items)
        return self.fenced_directive("tab-set", "", body, {"sync-group": "framework"})

    def tab_set(self, block):
        if self.flavour == "lab":
            return self.fenced_directive("tab-set", "", self.markdown(block.body), block.options)
        return self.markdown(block.body)

    def tab_item(self, title, body, sync=None):
        if self.flavour == "lab":
            return self.fenced_directive("tab-item", title, body, {"sync": sync} if sync else {})
        return f"**{title}**\n\n{body}"

    # -- inline ---------------------------------------------------------------------------

    def inline(self, text):
        """Render the roles, labelled equations, targets and comments of a stretch of prose."""
        text = _COMMENT.sub("", _TARGET.sub("", text))
        text = _DISPLAY_MATH.sub(lambda m: self.display_math(m["body"], m["label"]).rstrip("\n"), text)
        return _INLINE.sub(self._inline_match, text)

    def _inline_match(self, match):
        if match["role"] is None:
            return match.group(0)
        return self.role(match["role"], match["content"])

    def role(self, name, content):
        """What the site shows for one role, as Markdown."""
        text, target = _split_title(content)
        numbers = self.page.numbers
        if name == "glue:text":
            key, _, spec = content.rpartition(":") if ":" in content else (content, "", "")
            return _escape(plain_text(self.bundle(key).get("text/plain", ""), spec))
        if name in ("glue", "glue:any"):
            data = self.bundle(content)
            if "text/markdown" in data:
                return self.inline(data["text/markdown"]).strip()
            return f"`{plain_text(data.get('text/plain', ''))}`"
        if name == "glue:md":
            key = content.rsplit(":", 1)[0] if content.count(":") else content
            return self.inline(self.glued_markdown_text(key)).strip()
        if name == "eq":
            if target not in numbers.equations:
                raise ReaderError(f"{self.page.docname}: the site shows no number for equation {target!r}")
            return f"({numbers.equations[target]})"
        if name in ("numref", "prf:ref"):
            if target not in numbers.captions:
                raise ReaderError(f"{self.page.docname}: the site shows no number for {target!r}")
            caption = numbers.captions[target]
            if text is None:
                return caption
            number = caption.split()[-1]
            return text.replace("%s", number).replace("{number}", number)
        if name == "ref":
            if target not in numbers.sections:
                raise ReaderError(f"{self.page.docname}: the site shows no title for {target!r}")
            title, docname = numbers.sections[target]
            return self.link(text if text is not None else title, docname)
        if name == "doc":
            return text if text is not None else target
        if name == "term":
            shown = text if text is not None else target
            return self.term(shown, target)
        if name.startswith("cite"):
            return self.citation()
        if name == "math":
            return f"${content}$"
        if name in ("sub", "sup", "abbr", "kbd"):
            return content
        if name in ("download",):
            return text if text is not None else target
        if re.match(r"^(py:)?(mod|func|class|meth|attr|obj|data|exc)$", name):
            shown = text if text is not None else target.lstrip("~")
            if text is None and target.startswith("~"):
                shown = shown.rsplit(".", 1)[-1]
            return f"`{shown}`"
        raise ReaderError(f"{self.page.docname}: the reader's notebook cannot render a {{{name}}} role")

    def link(self, text, docname):
        """``text``, linked to the lab notebook of ``docname`` where there is one (lab only)."""
        if self.flavour != "lab" or docname not in self.page.notebooks or docname == self.page.docname:
            return text
        here = Path(self.page.docname).parent
        return f"[{text}]({Path(docname).relative_to(here).as_posix() if Path(docname).is_relative_to(here) else docname}.ipynb)"

    def glued_markdown_text(self, key):
        data = self.bundle(key)
        if "text/markdown" not in data:
            raise ReaderError(f"{self.page.docname}: {key!r} holds no text/markdown")
        return data["text/markdown"]

    def term(self, shown, target):
        """A glossary term: its words, with the glossary's definition on hover."""
        definition = self.page.numbers.terms.get(target.lower())
        if not definition:
            return shown
        return f'<abbr title="{_attribute(definition)}">{shown}</abbr>'

    def citation(self):
        """The next citation the site shows on this page, in the site's words."""
        shown = self.page.numbers.citations.get(self.page.docname, [])
        if self.cited >= len(shown):
            raise ReaderError(f"{self.page.docname}: the chapter cites more often than its page shows")
        text, _ = shown[self.cited]
        self.cited += 1
        return _escape(text)


def _split_title(content):
    """``("text", "target")`` for ``text <target>``, else ``(None, content)``."""
    match = _TITLED.match(content)
    if match and match["text"]:
        return match["text"].strip(), match["target"].strip()
    return None, content.strip()


def _escape(text):
    """Text that Markdown shows as it is (square brackets would start a link)."""
    return text.replace("[", r"\[").replace("]", r"\]")


def _attribute(text):
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


def _inline_html(text):
    """A title inside HTML (a ``<summary>``): Markdown emphasis as HTML."""
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    return re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<i>\1</i>", text)


def _html_block(html):
    """HTML pasted into Markdown, without its ``<style>`` (a notebook drops it, or shows it as text).

    No blank or indented line is left to end Markdown's HTML block early.
    """
    html = re.sub(r"<style[^>]*>.*?</style>", "", html, flags=re.DOTALL | re.IGNORECASE)
    lines = [line.strip() for line in html.strip().splitlines() if line.strip()]
    return "\n".join(lines) + "\n"


def _tidy(text):
    return re.sub(r"\n{3,}", "\n\n", text)


# -- notebooks -------------------------------------------------------------------------------

TAB_CELL = re.compile(r"^%%tab\s")
HIDDEN_TAGS = {
    "remove-cell": ("source_hidden", "outputs_hidden"),
    "hide-cell": ("source_hidden", "outputs_hidden"),
    "remove-input": ("source_hidden",),
    "hide-input": ("source_hidden",),
    "remove-output": ("outputs_hidden",),
    "hide-output": ("outputs_hidden",),
}


def reader_notebook(executed, page, flavour):
    """The reader's notebook of one executed chapter.

    Parameters
    ----------
    executed : nbformat.NotebookNode
        The chapter as the build executed it, outputs included.
    page : Page
    flavour : {"download", "lab"}

    Returns
    -------
    nbformat.NotebookNode
    """
    renderer = Renderer(page, flavour)
    notebook = nbformat.v4.new_notebook(metadata=_metadata(executed.metadata))
    gate = None  # the title of the gated solution whose cells we are in
    for cell in executed.cells:
        if cell.cell_type == "code":
            notebook.cells.append(_code_cell(cell, flavour, folded=gate is not None))
            caption = cell.metadata.get("mystnb", {}).get("figure", {})
            if caption.get("caption"):
                text = renderer.caption(caption.get("name", ""), caption["caption"])
                notebook.cells.append(nbformat.v4.new_markdown_cell(text.strip()))
            continue
        if cell.cell_type != "markdown":
            notebook.cells.append(copy.deepcopy(cell))
            continue
        for text, gate in _gated_parts(cell.source, gate, renderer):
            if text.strip():
                notebook.cells.append(nbformat.v4.new_markdown_cell(text.strip("\n")))
    if gate is not None:
        raise ReaderError(f"{page.docname}: a gated solution has no {{solution-end}}")
    shown = len(page.numbers.citations.get(page.docname, []))
    if renderer.cited != shown:
        raise ReaderError(f"{page.docname}: the chapter cites {renderer.cited} times but its page shows {shown}")
    references = _references(page)
    if references:
        notebook.cells.append(nbformat.v4.new_markdown_cell(references))
    return notebook


def _gated_parts(source, gate, renderer):
    """Yield ``(markdown, gate)`` for the pieces of one Markdown cell, folding gated solutions.

    ``gate`` is the title of the solution the cell starts inside, or None;
    each piece is rendered Markdown, and the gate it leaves open.
    """
    pending, inside = [], []
    title = gate
    continued = gate is not None

    def close():
        body = renderer.blocks(inside)
        return renderer.fold(f"{title} (continued)" if continued else title, body) if body.strip() else ""

    for block in parse_blocks(source):
        if isinstance(block, Directive) and block.name == "solution-start":
            yield renderer.blocks(pending), None
            pending, inside, title, continued = [], [], renderer.solution_title(block.argument), False
            continue
        if isinstance(block, Directive) and block.name == "solution-end":
            if title is None:
                raise ReaderError(f"{renderer.page.docname}: {{solution-end}} without {{solution-start}}")
            yield close(), None
            inside, title, continued = [], None, False
            continue
        (inside if title is not None else pending).append(block)
    if title is not None:
        yield close(), title
    else:
        yield renderer.blocks(pending), None


def _metadata(metadata):
    """The executed notebook's metadata, without jupytext's (it would pair the copy with a text file)."""
    kept = {key: copy.deepcopy(value) for key, value in metadata.items() if key not in ("jupytext", "source_map")}
    kept.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    return kept


def _code_cell(cell, flavour, folded):
    """A code cell with its outputs, glue records dropped, folded as the page hides it."""
    new = nbformat.v4.new_code_cell(cell.source, execution_count=cell.get("execution_count"))
    new.outputs = [_shown_output(output) for output in cell.get("outputs", []) if _shown_output(output) is not None]
    tags = set(cell.metadata.get("tags", []))
    hidden = set()
    for tag in tags:
        hidden.update(HIDDEN_TAGS.get(tag, ()))
    if TAB_CELL.match(cell.source) and flavour == "download":
        hidden.clear()  # the tabs are not there: the cell itself shows this framework's step
    if folded:
        hidden.update(("source_hidden", "outputs_hidden"))
    if hidden:
        new.metadata["jupyter"] = {name: True for name in sorted(hidden)}
    if tags:
        new.metadata["tags"] = sorted(tags)
    return new


def _shown_output(output):
    """An output as a notebook shows it, or None for a glue record only the build reads."""
    if output.get("output_type") not in ("display_data", "execute_result"):
        return copy.deepcopy(output)
    data = {mime: value for mime, value in output.get("data", {}).items() if not mime.startswith(GLUE_PREFIX)}
    if not data:
        return None
    shown = copy.deepcopy(output)
    shown["data"] = data
    shown.get("metadata", {}).pop("scrapbook", None)
    return shown


def _references(page):
    """A closing cell listing the works the chapter cites, in the site's words."""
    entries = []
    for _, works in page.numbers.citations.get(page.docname, []):
        entries += [work for work in works if work and work not in entries]
    if not entries:
        return ""
    return "## References\n\n" + "\n".join(f"- {_escape(work)}" for work in entries)


# -- Sphinx ----------------------------------------------------------------------------------


def _executed_notebook(app, docname):
    return Path(app.outdir).parent / "jupyter_execute" / f"{docname}.ipynb"


def offer_notebook_download(app, pagename, templatename, context, doctree):
    """Offer the reader's notebook for download on every page that has one."""
    if app.builder.name == "html" and _executed_notebook(app, pagename).exists():
        context["ipynb_source"] = f"{pagename}.ipynb"


def site_numbers(app):
    """:class:`SiteNumbers` of the built site: every page's HTML and the glossary."""
    numbers = SiteNumbers()
    std = app.env.domaindata["std"]
    for label, (docname, _, title) in std["labels"].items():
        numbers.sections[label] = (title, docname)
    for docname in sorted(app.env.found_docs):
        path = Path(app.outdir) / f"{docname}.html"
        if path.exists():
            numbers.add_page(docname, path.read_text(encoding="utf-8"))
    definitions = getattr(app.env, "lossbook_glossary", {})
    for (kind, term), (docname, anchor) in std["objects"].items():
        if kind == "term" and anchor in definitions:
            numbers.terms[term.lower()] = definitions[anchor][1]
    return numbers


def include_reader(app, docname):
    """``include(path, options)``: the text Sphinx's ``{literalinclude}`` shows, from the page's folder."""
    from sphinx.directives.code import LiteralIncludeReader

    folder = Path(app.env.doc2path(docname)).parent

    def include(path, options):
        reader = LiteralIncludeReader(str((folder / path).resolve()), dict(options), app.config)
        text, _ = reader.read()
        return text

    return include


def write_reader_notebooks(app, exception):
    """After a successful HTML build, write every chapter's two reader's notebooks."""
    if exception is not None or app.builder.name != "html":
        return
    numbers = site_numbers(app)
    executed_root = Path(app.outdir).parent / "jupyter_execute"
    for docname in sorted(app.env.found_docs):
        executed_path = executed_root / f"{docname}.ipynb"
        if not executed_path.exists():
            continue
        executed = nbformat.read(executed_path, as_version=4)
        try:
            write_page(app, docname, executed_path, executed, numbers)
        except ReaderError as error:
            LOGGER.warning(f"no reader's notebook for {docname}: {error}", type="lossbook", subtype="readers")


def write_page(app, docname, executed_path, executed, numbers):
    """Write one chapter's two reader's notebooks."""
    glue = glued_bundles(executed)
    glue_file = executed_path.with_suffix(".glue.json")
    if glue_file.exists():
        for key, output in json.loads(glue_file.read_text()).items():
            glue.setdefault(key, output.get("data", {}))
    base = (app.config.html_baseurl or "").rstrip("/")
    site_page = f"{base}/{docname}.html" if base else ""
    notebooks = frozenset(
        name for name in app.env.found_docs if (Path(app.outdir).parent / "jupyter_execute" / f"{name}.ipynb").exists()
    )
    page = Page(docname, numbers, glue, include_reader(app, docname), site_page, notebooks)
    for flavour, root in (("download", Path(app.outdir) / "_sources"), ("lab", Path(app.outdir).parent / "lab")):
        target = root / f"{docname}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(reader_notebook(executed, page, flavour), target)


def setup(app):
    # Before sphinx-book-theme builds the download buttons (priority 501).
    app.connect("html-page-context", offer_notebook_download, priority=450)
    app.connect("build-finished", write_reader_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
