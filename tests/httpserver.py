"""A real HTTP server on 127.0.0.1 for tests: serves a directory from a thread.

    with serve(tmp_path) as srv:
        urllib.request.urlopen(srv.url + "/file.tar.gz")

``truncate`` maps a request path (``"/file.tar.gz"``) to a byte count: the full
``Content-Length`` is announced but the connection is closed after that many bytes, as a
dropped download would be. ``delay`` sleeps between chunks of ``chunk`` bytes, so a test can
interrupt a download halfway. ``tls`` (a server-side ``ssl.SSLContext``) serves HTTPS
instead (``srv.url`` then starts with ``https://``); ``mixin`` is a class put before the
handler, whose methods (``do_POST``, a ``do_GET`` that answers some paths itself) win. The
server is shut down when the ``with`` block ends, whatever happens inside it.
"""

from __future__ import annotations

import functools
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO


@dataclass
class Server:
    url: str  # "http://127.0.0.1:PORT", no trailing slash
    #: Paths requested so far (``"/a/b.tar.gz"``), in order, including ones that 404ed.
    requests: list[str] = field(default_factory=list)

    def url_for(self, path: str) -> str:
        return f"{self.url}/{path.lstrip('/')}"


class _Handler(SimpleHTTPRequestHandler):
    server_info: Server
    truncate: Mapping[str, int]
    delay: float
    chunk: int

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass

    def send_head(self):  # type: ignore[no-untyped-def]
        self.server_info.requests.append(self.path)
        return super().send_head()

    def copyfile(self, source: BinaryIO, outputfile: BinaryIO) -> None:  # type: ignore[override]
        limit = self.truncate.get(self.path)
        sent = 0
        try:
            while limit is None or sent < limit:
                size = self.chunk if limit is None else min(self.chunk, limit - sent)
                data = source.read(size)
                if not data:
                    break
                outputfile.write(data)
                outputfile.flush()
                sent += len(data)
                if self.delay:
                    time.sleep(self.delay)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away (a test killed it): nothing to report
        if limit is not None:
            self.close_connection = True


@contextmanager
def serve(
    directory: Path,
    *,
    truncate: Mapping[str, int] | None = None,
    delay: float = 0.0,
    chunk: int = 64 * 1024,
    tls: ssl.SSLContext | None = None,
    mixin: type | None = None,
) -> Iterator[Server]:
    """Serve ``directory`` on 127.0.0.1 at a free port until the block ends."""
    info = Server(url="")
    handler = type(
        "Handler",
        (_Handler,) if mixin is None else (mixin, _Handler),
        {"server_info": info, "truncate": dict(truncate or {}), "delay": delay, "chunk": chunk},
    )
    httpd = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(directory))
    )
    httpd.daemon_threads = True  # a stuck slow response must never keep the test run alive
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    info.url = f"{'https' if tls else 'http'}://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield info
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
