"""debian.py: apt configuration parsing (files written by the tests) and the pool layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from wasix_backend.debian import apt_uris, pool_dir, pool_urls
from wasix_backend.errors import FetchError


def write_apt(
    root: Path, *, sources: dict[str, str] | None = None, main_list: str | None = None
) -> Path:
    apt = root / "etc" / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    if main_list is not None:
        (apt / "sources.list").write_text(main_list)
    for name, text in (sources or {}).items():
        (apt / "sources.list.d" / name).write_text(text)
    return root


DEB822 = """\
Types: deb
# a comment inside a stanza
URIs: http://mirror-a.test/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/x.gpg

Types: deb-src
URIs: http://src-only.test/debian
Suites: bookworm
Components: main

Types: deb
URIs: http://mirror-a.test/debian http://mirror-b.test/debian
  https://continued.test/debian
Suites: bookworm

Types: deb
Enabled: no
URIs: http://disabled.test/debian
Suites: bookworm

Types: something-else
URIs: http://not-deb.test/debian

types: deb
uris: cdrom:[Debian]/ file:///srv/local-mirror
suites: bookworm
"""


def test_deb822_sources(tmp_path: Path) -> None:
    root = write_apt(tmp_path, sources={"debian.sources": DEB822})
    assert apt_uris(root) == [
        "http://mirror-a.test/debian",  # trailing '/' stripped, duplicate dropped
        "http://src-only.test/debian",  # deb-src counts
        "http://mirror-b.test/debian",
        "https://continued.test/debian",  # continuation line
        "file:///srv/local-mirror",  # field names are case-insensitive; cdrom: is not fetchable
    ]


def test_one_line_format_and_order(tmp_path: Path) -> None:
    main_list = """\
# deb http://commented.test/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://opts.test/debian bookworm main
deb-src http://src.test/debian/ bookworm main  # trailing comment
deb http://opts.test/debian bookworm-updates main
rpm http://not-apt.test/ x
"""
    root = write_apt(
        tmp_path,
        main_list=main_list,
        sources={
            "b.sources": "Types: deb\nURIs: http://b.test/debian\nSuites: x\n",
            "a.list": "deb http://a-list.test/debian bookworm main\n",
            "c.list.disabled": "deb http://ignored.test/debian bookworm main\n",
        },
    )
    # apt's order: sources.list first, then sources.list.d/ by file name.
    assert apt_uris(root) == [
        "http://opts.test/debian",
        "http://src.test/debian",
        "http://a-list.test/debian",
        "http://b.test/debian",
    ]


def test_no_apt_configuration(tmp_path: Path) -> None:
    assert apt_uris(tmp_path) == []
    assert pool_urls("nano", "nano_7.2.orig.tar.xz", root=tmp_path) == []


@pytest.mark.parametrize(
    ("srcpkg", "expected"),
    [
        ("nano", "n/nano"),
        ("ncurses", "n/ncurses"),
        ("libpng1.6", "libp/libpng1.6"),
        ("libx11", "libx/libx11"),
        ("lib", "l/lib"),
        ("zlib", "z/zlib"),
        ("0ad", "0/0ad"),
        ("g++-12", "g/g++-12"),
    ],
)
def test_pool_dir(srcpkg: str, expected: str) -> None:
    assert pool_dir(srcpkg) == expected


@pytest.mark.parametrize("bad", ["", "Nano", "../etc", "a/b", "x"])
def test_pool_dir_rejects_bad_names(bad: str) -> None:
    with pytest.raises(FetchError, match="not a valid Debian source package name"):
        pool_dir(bad)


def test_pool_urls_use_main_of_every_uri(tmp_path: Path) -> None:
    root = write_apt(
        tmp_path,
        sources={
            "d.sources": "Types: deb\nURIs: http://one.test/debian/ http://two.test/deb\nSuites: x\n"
        },
    )
    assert pool_urls("libpng1.6", "libpng1.6_1.6.39.orig.tar.xz", root=root) == [
        "http://one.test/debian/pool/main/libp/libpng1.6/libpng1.6_1.6.39.orig.tar.xz",
        "http://two.test/deb/pool/main/libp/libpng1.6/libpng1.6_1.6.39.orig.tar.xz",
    ]
    with pytest.raises(FetchError, match="plain file name"):
        pool_urls("nano", "../nano.tar.xz", root=root)


def test_this_machine_has_a_usable_apt_uri() -> None:
    uris = apt_uris()
    if not uris:
        pytest.skip(reason="this machine has no apt sources configured")
    assert all(u.startswith(("http://", "https://", "file:")) and not u.endswith("/") for u in uris)
