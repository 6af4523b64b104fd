"""``wasix-build serve``: a static file server for the ``web`` output, with the headers that
make its pages cross-origin isolated (Wasmer's JavaScript SDK needs ``SharedArrayBuffer``).

Loopback only: it is for looking at a site on this machine, not for publishing one.
"""

from __future__ import annotations

import functools
import http.server
from pathlib import Path

#: The headers that make a page cross-origin isolated (and its resources loadable there).
ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}
#: Types a browser checks strictly (module scripts, streaming wasm compilation), whatever
#: the machine's mime.types says.
_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm",
          ".css": "text/css", ".json": "application/json", ".webc": "application/octet-stream"}  # fmt: skip


class IsolatedHandler(http.server.SimpleHTTPRequestHandler):
    """Files of one directory, with :data:`ISOLATION_HEADERS` on every answer."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **_TYPES}
    isolate = True

    def end_headers(self) -> None:
        if self.isolate:
            for key, value in ISOLATION_HEADERS.items():
                self.send_header(key, value)
        # Revalidated on each load (Last-Modified): a rebuilt site is never served stale.
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        if not self.quiet:
            super().log_message(format, *args)

    quiet = False


def make_server(directory: Path, port: int = 8000, *, host: str = "127.0.0.1", isolate: bool = True,
                quiet: bool = False) -> http.server.ThreadingHTTPServer:  # fmt: skip
    """A server of ``directory`` on ``host:port`` (0: any free port), not started yet."""
    handler = type("Handler", (IsolatedHandler,), {"isolate": isolate, "quiet": quiet})
    return http.server.ThreadingHTTPServer((host, port), functools.partial(handler, directory=str(directory)))
