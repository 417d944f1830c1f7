"""Serve a folder over HTTP on 127.0.0.1, from a background thread, for the browser tests."""

import contextlib
import functools
import http.server
import threading


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """A static file handler that does not print a line per request."""

    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def serving(directory):
    """Serve ``directory`` on a free port of 127.0.0.1; yield the site's base URL."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
