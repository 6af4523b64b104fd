"""extract(): real archives written by the tests, good ones unpacked, hostile ones refused."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from wasix_backend import extract as extract_module
from wasix_backend.errors import FetchError
from wasix_backend.extract import extract


@pytest.fixture(autouse=True, params=["stdlib", "python-3.11.2"])
def tarfile_flavour(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test twice: with this Python's tarfile, and with one like Debian 12's 3.11.2,
    which has no extraction filters (extraction must then use backports.tarfile)."""
    if request.param == "python-3.11.2":
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
        monkeypatch.delattr(tarfile, "FilterError", raising=False)
        chosen = extract_module._tarfile_with_filters()
        assert chosen is not tarfile and hasattr(chosen, "data_filter")
        monkeypatch.setattr(extract_module, "tarfile", chosen)
    return request.param

FILES = {"pkg-1.0/README": b"read me\n", "pkg-1.0/src/main.c": b"int main(void){return 0;}\n"}


def _add_file(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))


def _add_link(tar: tarfile.TarFile, name: str, target: str, *, hard: bool = False) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    tar.addfile(info)


def make_tar(path: Path, members: list[tuple], mode: str = "w:gz") -> Path:
    """members: ("file", name, data[, mode]) | ("dir", name) | ("sym"/"hard", name, target) | ("dev", name)."""
    with tarfile.open(path, mode) as tar:
        for kind, name, *rest in members:
            if kind == "file":
                _add_file(tar, name, *rest)
            elif kind == "dir":
                info = tarfile.TarInfo(name)
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif kind in ("sym", "hard"):
                _add_link(tar, name, rest[0], hard=kind == "hard")
            elif kind == "dev":
                info = tarfile.TarInfo(name)
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
                tar.addfile(info)
    return path


def good_members() -> list[tuple]:
    return [
        ("dir", "pkg-1.0"),
        *[("file", n, d) for n, d in FILES.items()],
        ("file", "pkg-1.0/bin/tool", b"#!/bin/sh\necho hi\n", 0o755),
        ("sym", "pkg-1.0/link", "src/main.c"),
        ("hard", "pkg-1.0/hard", "pkg-1.0/README"),
    ]


def _leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if ".extract-" in p.name]


@pytest.mark.parametrize(
    ("suffix", "mode"),
    [
        (".tar", "w"),
        (".tar.gz", "w:gz"),
        (".tgz", "w:gz"),
        (".tar.xz", "w:xz"),
        (".tar.bz2", "w:bz2"),
        (".crate", "w:gz"),
    ],
)
def test_tar_formats_unpack_with_strip(tmp_path: Path, suffix: str, mode: str) -> None:
    archive = make_tar(tmp_path / f"pkg{suffix}", good_members(), mode)
    dest = tmp_path / "out"
    extract(archive, dest, strip=1, what="pkg")
    assert (dest / "README").read_bytes() == FILES["pkg-1.0/README"]
    assert (dest / "src/main.c").read_bytes() == FILES["pkg-1.0/src/main.c"]
    assert os.readlink(dest / "link") == "src/main.c"
    assert (dest / "link").read_bytes() == FILES["pkg-1.0/src/main.c"]
    assert (dest / "hard").read_bytes() == FILES["pkg-1.0/README"]
    assert (dest / "bin/tool").stat().st_mode & stat.S_IXUSR
    assert not _leftovers(tmp_path)


def test_strip_zero_keeps_top_directory(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "pkg.tar.gz", good_members())
    extract(archive, tmp_path / "out")
    assert (tmp_path / "out/pkg-1.0/README").is_file()


def test_zip_unpacks_with_strip_and_exec_bit(tmp_path: Path) -> None:
    archive = tmp_path / "pkg.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name, data in FILES.items():
            zf.writestr(name, data)
        info = zipfile.ZipInfo("pkg-1.0/bin/tool")
        info.external_attr = (stat.S_IFREG | 0o755) << 16
        zf.writestr(info, b"#!/bin/sh\n")
    extract(archive, tmp_path / "out", strip=1)
    assert (tmp_path / "out/src/main.c").read_bytes() == FILES["pkg-1.0/src/main.c"]
    assert (tmp_path / "out/bin/tool").stat().st_mode & stat.S_IXUSR


HOSTILE = {
    "dotdot": ([("file", "pkg/../../evil", b"x")], 0, "'..'"),
    "absolute": ([("file", "/tmp/evil-abs", b"x")], 0, "absolute"),
    "symlink-up": ([("sym", "pkg/up", "../../outside")], 0, "outside"),
    "symlink-absolute": ([("sym", "pkg/passwd", "/etc/passwd")], 0, "absolute"),
    "symlink-escapes-after-strip": ([("sym", "pkg/link", "../x")], 1, "outside"),
    "hardlink-up": ([("hard", "pkg/h", "../etc/passwd")], 0, "hard link"),
    "device": ([("dev", "pkg/null")], 0, "device"),
    # p -> . is harmless alone; q -> p/.. then really points at dest's parent.
    "symlink-chain": ([("sym", "p", "."), ("sym", "q", "p/.."), ("file", "q/evil", b"x")], 0, ""),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_tar_is_refused_and_leaves_nothing(tmp_path: Path, case: str) -> None:
    members, strip, expected = HOSTILE[case]
    members = [("file", "pkg/ok.txt", b"fine"), *members]
    archive = make_tar(tmp_path / "evil.tar.gz", members)
    dest = tmp_path / "sub" / "out"
    with pytest.raises(FetchError) as err:
        extract(archive, dest, strip=strip, what="evil")
    message = str(err.value)
    assert "evil.tar.gz" in message and "evil:" in message
    assert expected in message
    assert not dest.exists(), "a refused archive must leave no destination"
    assert not _leftovers(dest.parent)
    assert not (tmp_path / "evil").exists() and not (tmp_path / "outside").exists()
    assert not Path("/tmp/evil-abs").exists()


def test_hostile_zip_members_are_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("pkg/ok.txt", b"fine")
        zf.writestr("pkg/../../evil.txt", b"x")
    with pytest.raises(FetchError, match=r"member 'pkg/\.\./\.\./evil\.txt' contains '\.\.'"):
        extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()

    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("pkg/link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, b"../../outside")
    with pytest.raises(FetchError, match="outside the destination"):
        extract(archive, tmp_path / "out2")
    assert not (tmp_path / "out2").exists()


def test_truncated_and_garbage_archives_are_refused(tmp_path: Path) -> None:
    big = [("file", f"pkg/f{i}", os.urandom(20_000)) for i in range(10)]
    whole = make_tar(tmp_path / "whole.tar.gz", big).read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(FetchError, match=r"cut\.tar\.gz"):
        extract(cut, tmp_path / "out", strip=1)
    assert not (tmp_path / "out").exists()
    assert not _leftovers(tmp_path)

    junk = tmp_path / "junk.tar.xz"
    junk.write_bytes(b"this is not an archive at all" * 10)
    with pytest.raises(FetchError, match=r"junk\.tar\.xz"):
        extract(junk, tmp_path / "out")
    assert not (tmp_path / "out").exists()

    with pytest.raises(FetchError, match="not found"):
        extract(tmp_path / "missing.tar.gz", tmp_path / "out")


def test_existing_destination_receives_new_entries_only(tmp_path: Path) -> None:
    dest = tmp_path / "tree"
    (dest / "vendor").mkdir(parents=True)
    extract(make_tar(tmp_path / "a.tar.gz", good_members()), dest, strip=1)
    assert (dest / "README").is_file() and (dest / "vendor").is_dir()
    # A second archive with a clashing entry is refused before anything moves.
    other = make_tar(
        tmp_path / "b.tar.gz", [("file", "x/NEW", b"n"), ("file", "x/README", b"other")]
    )
    with pytest.raises(FetchError, match="already there: README"):
        extract(other, dest, strip=1)
    assert not (dest / "NEW").exists()
    assert (dest / "README").read_bytes() == FILES["pkg-1.0/README"]
    assert not _leftovers(tmp_path)
