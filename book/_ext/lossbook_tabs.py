"""The ``{framework-tabs}`` directive: one synced tab per framework, each its own code and output.

The ``%%tab FRAMEWORK KEY`` cell magic of :mod:`lossbook.show` glues each
framework's snippet and result under ``KEY-FRAMEWORK``. The directive ::

    ```{framework-tabs} KEY
    :frameworks: gluon torch lossbook
    ```

expands to a sphinx-design tab set, synced across the page (and the book) by
framework, whose tabs paste those glued values. ``:frameworks:`` defaults to
all three; a glued key that is missing fails the build like any other glue.
"""

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

FRAMEWORKS = ("gluon", "torch", "lossbook")


def _frameworks(argument):
    names = tuple(argument.split())
    unknown = [name for name in names if name not in FRAMEWORKS]
    if unknown or not names:
        raise ValueError(f"frameworks must be some of {' '.join(FRAMEWORKS)}, got {argument!r}")
    return names


class FrameworkTabs(SphinxDirective):
    required_arguments = 1
    option_spec = {"frameworks": _frameworks}

    def run(self):
        key = self.arguments[0]
        lines = ["::::{tab-set}", ":sync-group: framework", ""]
        for name in self.options.get("frameworks", FRAMEWORKS):
            lines += [
                f":::{{tab-item}} {name}",
                f":sync: {name}",
                "",
                f"```{{glue:md}} {key}-{name}",
                ":format: myst",
                "```",
                ":::",
                "",
            ]
        lines.append("::::")
        node = nodes.container(classes=["lossbook-framework-tabs"])
        source = StringList(lines, source=self.get_source_info()[0])
        self.state.nested_parse(source, self.content_offset, node)
        return [node]


def setup(app):
    app.add_directive("framework-tabs", FrameworkTabs)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
