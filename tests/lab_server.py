"""Run JupyterLab on 127.0.0.1 for the browser tests, with nothing of the user's own.

The server serves one folder, with no token (it listens on the loopback address
only, for the length of the tests), its settings, workspaces and runtime files
in a temporary folder, and its kernels found through ``JUPYTER_PATH``: the
virtualenv's ``python3``, as when the book is built.
"""

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

SETTINGS = {
    # Render every cell, not only those in view, so that a test sees the whole notebook.
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
    # Ask no question about news and fetch nothing from the network.
    "@jupyterlab/apputils-extension:notification": {"checkForUpdates": False, "fetchNews": "false"},
}


def free_port():
    """A TCP port of 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def jupyterlab(root, scratch, *, timeout=120):
    """Serve ``root`` with JupyterLab; yield its base URL. ``scratch`` holds its own files."""
    scratch = Path(scratch)
    settings = scratch / "settings"
    for plugin, values in SETTINGS.items():
        package, name = plugin.split(":")
        path = settings / package / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port = free_port()
    venv = Path(sys.executable).parent.parent
    env = dict(
        os.environ,
        JUPYTER_PATH=str(venv / "share" / "jupyter"),
        JUPYTER_CONFIG_DIR=str(scratch / "config"),
        JUPYTER_RUNTIME_DIR=str(scratch / "runtime"),
        JUPYTER_DATA_DIR=str(scratch / "data"),
    )
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", f"--ServerApp.root_dir={root}",
        "--IdentityProvider.token=", "--ServerApp.password=",
        "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.expose_app_in_browser=True",
        f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={scratch / 'workspaces'}",
    ]  # fmt: skip
    log = open(scratch / "server.log", "w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(url + "api/status", timeout=5)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start: see {scratch / 'server.log'}")
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
