"""Programs of the build machine that builds run, and the Debian packages that have them.

A package whose build needs a program this machine lacks is *skipped*, not failed: the
missing program is a :class:`~wasix_backend.errors.MissingRequirement` whose remedy is the
exact ``apt-get install`` line (README.md, Set-up, lists the same packages). Three places
find them missing: planning (a recipe's ``[build] host-tools``), the autotools build system
before ``autoreconf`` and :meth:`BuildContext.run <wasix_backend.context.BuildContext.run>`
when the program it starts is not on ``PATH``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable

from .errors import MissingRequirement

#: Program -> the Debian (12) package that installs it.
DEBIAN_PACKAGES = {
    "autoreconf": "autoconf",
    "autoconf": "autoconf",
    "autoheader": "autoconf",
    "automake": "automake",
    "aclocal": "automake",
    "autopoint": "autopoint",
    "libtoolize": "libtool",
    "pkg-config": "pkgconf",
    "tclsh": "tcl",
    "perl": "perl",
    "python3.11": "python3.11",
    "ed": "ed",
    "cmake": "cmake",
    "make": "make",
    "patch": "patch",
    "git": "git",
    "gcc": "gcc",
    "cc": "gcc",
}


def debian_install(programs: Iterable[str]) -> str:
    """How to get ``programs``: ``on Debian/Ubuntu `apt-get install P…``` for the ones
    :data:`DEBIAN_PACKAGES` knows, and ``install X`` for any other."""
    programs = list(dict.fromkeys(programs))
    packages = list(dict.fromkeys(DEBIAN_PACKAGES[p] for p in programs if p in DEBIAN_PACKAGES))
    others = [p for p in programs if p not in DEBIAN_PACKAGES]
    ways = [f"on Debian/Ubuntu `apt-get install {' '.join(packages)}`"] if packages else []
    ways += [f"install {p}" for p in others]
    return "; ".join(ways)


def missing(programs: Iterable[str], path: str | None = None) -> list[str]:
    """The ``programs`` that are not on ``path`` (default: where builds find host tools,
    :func:`.buildenv.host_path`)."""
    if path is None:
        from .buildenv import host_path

        path = host_path()
    return [p for p in dict.fromkeys(programs) if shutil.which(p, path=path) is None]


def missing_requirement(package: str, programs: list[str], why: str = "") -> MissingRequirement:
    """The skip for ``package`` when ``programs`` are not installed (``why``: what needs them)."""
    names = " and ".join(", ".join(programs).rsplit(", ", 1))
    verb = "is" if len(programs) == 1 else "are"
    return MissingRequirement(
        f"{package}: {why + ' needs ' if why else 'needs '}{names}, which {verb} not on PATH",
        how=debian_install(programs),
        reason=f"{names} not installed",
    )


def require(package: str, programs: Iterable[str], path: str | None = None, why: str = "") -> None:
    """Raise :func:`missing_requirement` when any of ``programs`` is not on ``path``."""
    absent = missing(programs, path)
    if absent:
        raise missing_requirement(package, absent, why)
