"""Write a PEP 503 "simple" package index for a directory of wheels.

The index is static files: ``simple/index.html`` lists projects, ``simple/<project>/``
holds the wheels (hard links when possible, else copies) and an ``index.html`` whose links
carry ``#sha256=`` fragments. Relative links, so ``--index-url file:///…/simple`` works as
well as any static web server.
"""

from __future__ import annotations

import contextlib
import html
import os
import shutil
from pathlib import Path

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from ..errors import WasixError
from ..fsutil import file_sha256, make_temp_dir, replace_dir


def _page(title: str, links: list[tuple[str, str]]) -> str:
    body = "\n".join(f'    <a href="{html.escape(h)}">{html.escape(t)}</a><br/>' for h, t in links)
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        '    <meta name="pypi:repository-version" content="1.0">\n'
        f"    <title>{html.escape(title)}</title>\n  </head>\n  <body>\n"
        f"{body}\n  </body>\n</html>\n"
    )


def _link_or_copy(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)
    except OSError:  # another filesystem, or links not allowed
        shutil.copy2(src, dest)


def write_index(wheel_dir: Path, simple_dir: Path) -> Path:
    """Write ``simple_dir`` for every ``*.whl`` in ``wheel_dir``; return ``simple_dir``.

    Built in a temporary sibling directory and swapped into place, so readers never see a
    half-written index.
    """
    wheel_dir, simple_dir = Path(wheel_dir), Path(simple_dir)
    projects: dict[str, list[Path]] = {}
    for wheel in sorted(wheel_dir.glob("*.whl")):
        try:
            name = parse_wheel_filename(wheel.name)[0]
        except InvalidWheelFilename as exc:
            raise WasixError(f"{wheel}: not a valid wheel file name ({exc}); remove or rename it") from None
        projects.setdefault(str(canonicalize_name(name)), []).append(wheel)

    tmp = make_temp_dir(simple_dir)
    try:
        for project, wheels in sorted(projects.items()):
            pdir = tmp / project
            pdir.mkdir()
            links = []
            for wheel in wheels:
                _link_or_copy(wheel, pdir / wheel.name)
                links.append((f"{wheel.name}#sha256={file_sha256(wheel)}", wheel.name))
            (pdir / "index.html").write_text(_page(f"Links for {project}", links), encoding="utf-8")
        root = [(f"{p}/", p) for p in sorted(projects)]
        (tmp / "index.html").write_text(_page("Simple index", root), encoding="utf-8")
        replace_dir(tmp, simple_dir)
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)
        raise
    return simple_dir
