"""Debian's nginx on 127.0.0.1 as a binary cache: GET everywhere, PUT (its WebDAV module)
under ``/cache/``, GET only under ``/readonly/``. Started from a generated config in a
temporary folder, in the foreground, and stopped when the ``with`` block ends.

    with nginx_cache(tmp_path) as srv:
        srv.url("cache")  # "http://127.0.0.1:PORT/cache"
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
DAV_EXT = Path("/usr/lib/nginx/modules/ngx_http_dav_ext_module.so")


def nginx_problem() -> str | None:
    """Why the nginx tests cannot run here (the skip reason), or None."""
    if NGINX is None:
        return "nginx is not installed (apt-get install nginx libnginx-mod-http-dav-ext)"
    return None


@dataclass
class Nginx:
    port: int
    root: Path  # what it serves: root/cache/, root/readonly/

    def url(self, location: str) -> str:
        return f"http://127.0.0.1:{self.port}/{location}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


CONFIG = """\
daemon off;
master_process on;
worker_processes 1;
{user}
{dav_ext}
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log {tmp}/access.log;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  client_max_body_size 0;
  server {{
    listen 127.0.0.1:{port};
    root {root};
    location /cache/ {{
      dav_methods PUT DELETE MKCOL;
      {dav_ext_methods}
      create_full_put_path on;
      dav_access user:rw group:r all:r;
    }}
    location /readonly/ {{ }}
  }}
}}
"""


@contextmanager
def nginx_cache(tmp: Path) -> Iterator[Nginx]:
    tmp.mkdir(parents=True, exist_ok=True)
    root = tmp / "www"
    for sub in ("cache", "readonly"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = CONFIG.format(
        # Workers of a root master switch to `nobody`, who cannot read pytest's 0700 folders.
        user="user root root;" if os.geteuid() == 0 else "",
        dav_ext=f"load_module {DAV_EXT};" if DAV_EXT.exists() else "",
        dav_ext_methods="dav_ext_methods PROPFIND OPTIONS;" if DAV_EXT.exists() else "",
        tmp=tmp, port=port, root=root,
    )
    conf = tmp / "nginx.conf"
    conf.write_text(config)
    assert NGINX is not None
    proc = subprocess.Popen([NGINX, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"nginx exited ({proc.returncode}): {proc.stderr.read().decode() if proc.stderr else ''}"
                                   f"{(tmp / 'error.log').read_text() if (tmp / 'error.log').exists() else ''}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("nginx did not start listening within 15 s")
            time.sleep(0.05)
        yield Nginx(port, root)
    finally:
        proc.terminate()  # SIGTERM: nginx's fast shutdown, workers included
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
