"""Keep a book build's log to what a reader of it needs: ``make book`` pipes the build through this.

    jupyter-book build . --quiet ... 2>&1 | python book/_ext/quiet_log.py _build/html

``--quiet`` already hides Sphinx's progress; what is left is Jupyter Book's
banner and closing box, the executed notebooks (one line each, from
``parallel_execution``), every warning and error, and two lines that each
kernel prints whatever it runs: the notice that its local connection is not
encrypted, and, when it is shut down mid-wait, "KeyboardInterrupt caught in
kernel". Those two lines, matched whole, and Jupyter Book's banner and box are
dropped; everything else passes unchanged, and the last line names the output.
"""

import re
import sys

KERNEL_CHATTER = re.compile(
    r"^(\[IPKernelApp\] WARNING \| Kernel is running over TCP without encryption\."
    r" All communication \(including code and outputs\) is sent in plain text and is susceptible to"
    r" eavesdropping\. Use IPC transport or launch with kernel manager-provisioned CurveZMQ keys to"
    r" enable transport encryption\."
    r"|(\[IPKernelApp\] ERROR \| )?KeyboardInterrupt caught in kernel\.?)$"
)
BANNER = re.compile(r"^(Running Jupyter-Book v\S+|Source Folder: .*|Config Path: .*|Output Path: .*)$")
# Jupyter Book's closing box on success: its rule, then lines about where the pages are.
BOX_RULE = re.compile(r"^(\x1b\[\d+m)?={20,}(\x1b\[0m)?$")


def quiet(lines, output):
    """Yield the lines of a build log worth reading, then where the output is (if it built)."""
    box, blanks, failed = [], [], False
    for line in lines:
        bare = line.rstrip("\n")
        if KERNEL_CHATTER.match(bare) or BANNER.match(bare):
            continue
        if BOX_RULE.match(bare) or box:
            box.append(line)
            if len(box) > 1 and BOX_RULE.match(bare):
                text = "".join(box)
                if not ("Finished generating" in text or "The HTML page is in" in text):
                    failed = True
                    yield from blanks + box
                box, blanks = [], []
            continue
        if not bare.strip():
            blanks.append(line)  # kept only if something worth reading follows
            continue
        yield from blanks
        blanks = []
        yield line
    yield from box
    if not failed:
        yield f"{output}\n"


def main():
    output = sys.argv[1] if len(sys.argv) > 1 else "_build/html"
    for line in quiet(iter(sys.stdin.readline, ""), output):
        sys.stdout.write(line)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
