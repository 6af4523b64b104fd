"""Git sources: one commit, pinned by its id, from the mirror or from its repository.

Why a commit id is a pin as good as an archive's sha256: git names every object by the hash
of its content (a blob by its bytes, a tree by its entries' names, modes and object ids, a
commit by its tree and parents), and ``index-pack`` recomputes the id of every object it
receives, whether from a fetch or a bundle. So once ``<rev>^{commit}`` resolves to ``rev``
in our repository, every file of its tree is exactly the one upstream committed. (Git's
SHA-1 is the collision-detecting variant; 64-hex ids are SHA-256 repositories.) This is
git's own integrity checking; no separate ``git fsck`` pass is needed.

Places, in order: ``$WASIX_MIRROR`` (a bundle ``<name>-<rev>.bundle``, or a repository
directory ``<name>.git`` / ``<name>``, where ``<name>`` is the package's or the repository's
name), then the repository URL (``git fetch --depth 1 <url> <rev>``). Fetched commits are
kept in a bare cache repository per URL under ``<cache>/git/``. The tree is written with
``git archive`` and unpacked by :func:`wasix_backend.extract.extract` (temporary directory,
then rename): nothing half-written is left under the final name.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock

from . import paths
from .errors import FetchError, SourcesUnreachable
from .extract import extract

if TYPE_CHECKING:
    from .recipe import Source

#: Seconds one network fetch may take; local git commands get LOCAL_TIMEOUT.
FETCH_TIMEOUT = 900.0
LOCAL_TIMEOUT = 300.0
#: Keeps fetched commits reachable, so no gc ever drops them.
_PIN_REF = "refs/wasix/pins/"
#: Overrides the tree's own .gitattributes (info/attributes wins over them): the written
#: files are the committed blobs exactly, with no export-ignore/export-subst, eol
#: conversion, ident expansion or filter drivers applied.
_ATTRIBUTES = "* -export-ignore -export-subst -text !eol -ident -filter !working-tree-encoding\n"
#: Environment variables that would point git at some other repository than ours.
_REPO_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
)


class _GitFailed(Exception):
    """One git command failed; ``reason`` is git's own error lines, shortened."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _label(source: Source, package: str) -> str:
    return f"{package}: git {source.git} commit {source.rev}"


def _git_env(*, isolated: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _REPO_ENV}
    env["GIT_TERMINAL_PROMPT"] = "0"  # never wait for a password nobody will type
    env["GCM_INTERACTIVE"] = "never"
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    if isolated:
        # Local operations must not depend on the user's or the system's git config
        # (core.autocrlf, filter drivers, ...): the result is a function of the commit.
        env["GIT_CONFIG_NOSYSTEM"] = "1"
        env["GIT_CONFIG_GLOBAL"] = os.devnull
    return env


def _git(
    args: list[str],
    *,
    timeout: float = LOCAL_TIMEOUT,
    isolated: bool = True,
) -> str:
    """Run ``git ARGS``; return stdout, or raise :class:`_GitFailed` with git's error lines."""
    try:
        proc = subprocess.run(
            ["git", *args],
            env=_git_env(isolated=isolated),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise _GitFailed(f"`git {_subcommand(args)}` timed out after {timeout:.0f} s") from None
    if proc.returncode != 0:
        lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
        important = [ln for ln in lines if ln.startswith(("fatal:", "error:"))] or lines[-3:]
        reason = "; ".join(important) or f"git exited with status {proc.returncode}"
        raise _GitFailed(reason[:500])
    return proc.stdout


def _subcommand(args: list[str]) -> str:
    """The git command's name (``fetch``), skipping global options and their values."""
    rest = iter(args)
    for arg in rest:
        if arg in ("-c", "--git-dir", "-C"):
            next(rest, None)
        elif not arg.startswith("-"):
            return arg
    return "git"


def _require_git(source: Source, package: str) -> None:
    if shutil.which("git") is None:
        raise SourcesUnreachable(
            f"{_label(source, package)}: the `git` program is needed for git sources and was not "
            "found on PATH: install git (e.g. `apt-get install git`)",
            how="apt-get install git",
            reason="the `git` program is not installed",
        )


def _check_pin(source: Source, package: str) -> None:
    rev = source.rev
    if not source.git or len(rev) not in (40, 64) or any(c not in "0123456789abcdef" for c in rev):
        raise FetchError(
            f"{_label(source, package)}: not a pinned git source (needs a repository URL and a full "
            "40- or 64-hex commit id); refusing to fetch"
        )


def cache_repo(source: Source, cache_dir: Path | None = None) -> Path:
    """The bare cache repository for ``source``'s URL: ``<cache>/git/<sha256 of the URL>``."""
    base = Path(cache_dir) if cache_dir is not None else paths.cache_root() / "git"
    key = hashlib.sha256(source.git.encode()).hexdigest()
    # SHA-1 and SHA-256 repositories cannot share an object database.
    return base / (key if len(source.rev) == 40 else f"{key}-sha256")


def _ensure_repo(repo: Path, rev: str) -> None:
    """Create the bare cache repository if needed (whole or not at all); call under the lock."""
    if not (repo / "HEAD").is_file():
        repo.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=repo.parent, prefix=f".{repo.name}.init-"))
        try:
            fmt = "sha1" if len(rev) == 40 else "sha256"
            _git(["init", "--quiet", "--bare", f"--object-format={fmt}", str(tmp)])
            _git(["--git-dir", str(tmp), "config", "gc.auto", "0"])  # we decide what stays
            os.rename(tmp, repo)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    attributes = repo / "info" / "attributes"
    if not attributes.is_file() or attributes.read_text() != _ATTRIBUTES:
        attributes.parent.mkdir(exist_ok=True)
        attributes.write_text(_ATTRIBUTES)


def _commit_problem(repo: Path, rev: str) -> str | None:
    """None when ``rev`` is a commit in ``repo`` and resolves to itself; else what is wrong."""
    try:
        kind = _git(["--git-dir", str(repo), "cat-file", "-t", rev]).strip()
    except _GitFailed:
        return f"commit {rev} is not there"
    if kind != "commit":
        hint = ""
        if kind == "tag":
            try:
                peeled = _git(
                    ["--git-dir", str(repo), "rev-parse", "--verify", f"{rev}^{{commit}}"]
                ).strip()
                hint = f" (pin the commit it points to: rev = {peeled!r})"
            except _GitFailed:
                pass
        return f"{rev} is a {kind} object, not a commit{hint}"
    try:
        resolved = _git(
            [
                "--git-dir",
                str(repo),
                "rev-parse",
                "--verify",
                "--end-of-options",
                f"{rev}^{{commit}}",
            ]
        ).strip()
    except _GitFailed as exc:
        return f"commit {rev} cannot be read: {exc.reason}"
    if resolved != rev:
        return f"{rev} resolves to commit {resolved}, not to itself"
    return None


def _pin(repo: Path, rev: str) -> None:
    try:
        _git(["--git-dir", str(repo), "update-ref", _PIN_REF + rev, rev])
    except _GitFailed as exc:
        raise FetchError(
            f"cannot record commit {rev} in {repo}: {exc.reason} (delete {repo} and retry)"
        ) from None


def _mirror_names(source: Source, package: str) -> list[str]:
    return list(dict.fromkeys([package, source.repo_name]))


def _places(
    source: Source, package: str, repo: Path, mirror: Path | None, tried: list[str]
) -> list[tuple[str, Callable[[], object]]]:
    """Where the commit may come from, in order, each with the git command that gets it."""
    gd = ["--git-dir", str(repo)]
    places: list[tuple[str, Callable[[], object]]] = []
    if mirror is None:
        tried.append("mirror: $WASIX_MIRROR is not set")
    else:
        names = _mirror_names(source, package)
        for name in names:
            bundle = mirror / f"{name}-{source.rev}.bundle"
            if bundle.is_file():
                # index-pack checks every object's id while unbundling.
                places.append(
                    (
                        f"mirror bundle {bundle}",
                        functools.partial(_git, [*gd, "bundle", "unbundle", str(bundle)]),
                    )
                )
        for name in names:
            for folder in (mirror / f"{name}.git", mirror / name):
                if (folder / "HEAD").is_file() or (folder / ".git").exists():
                    local = [
                        "-c",
                        "protocol.file.allow=always",
                        *gd,
                        "fetch",
                        "--quiet",
                        "--no-tags",
                        "--depth",
                        "1",
                    ]
                    places.append(
                        (
                            f"mirror repository {folder}",
                            functools.partial(_git, [*local, "--", str(folder), source.rev]),
                        )
                    )
        if not places:
            wanted = ", ".join(f"{n}-{source.rev}.bundle, {n}.git, {n}/" for n in names)
            tried.append(f"mirror {mirror}: none of {wanted} there")
    net = [
        *gd,
        "-c",
        "http.lowSpeedLimit=1000",
        "-c",
        "http.lowSpeedTime=60",
        "fetch",
        "--quiet",
        "--no-tags",
    ]
    places.append(
        (
            source.git,
            lambda: _git(
                [*net, "--depth", "1", "--", source.git, source.rev],
                timeout=FETCH_TIMEOUT,
                isolated=False,
            ),
        )
    )
    return places


def fetch_git_source(
    source: Source, *, package: str, mirror: Path | None = None, cache_dir: Path | None = None
) -> Path:
    """Make sure commit ``source.rev`` is in the cache repository; return that repository.

    Tries the mirror (``$WASIX_MIRROR`` unless ``mirror`` is given), then ``source.git``.
    A place that fails or does not have the commit is noted and the next one tried; when all
    fail, one :class:`FetchError` names the package, the repository, the commit, every place
    tried and how to provide a bundle. A per-repository file lock serialises processes.
    """
    _check_pin(source, package)
    _require_git(source, package)
    mirror = Path(mirror) if mirror is not None else paths.mirror_dir()
    repo = cache_repo(source, cache_dir)
    repo.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(repo) + ".lock"):
        try:
            _ensure_repo(repo, source.rev)
        except _GitFailed as exc:
            raise FetchError(
                f"{_label(source, package)}: cannot create the cache repository {repo}: {exc.reason}"
            ) from None
        if _commit_problem(repo, source.rev) is None:
            _pin(repo, source.rev)
            return repo  # verified when it came in
        tried: list[str] = []
        wrong = False  # a place that answered with something unusable: a real failure
        for place, get in _places(source, package, repo, mirror, tried):
            try:
                get()
            except _GitFailed as exc:
                # The repository URL failing is the network; a mirror entry failing is a bad file.
                wrong = wrong or place != source.git
                tried.append(f"{place}: {exc.reason}")
                continue
            problem = _commit_problem(repo, source.rev)
            if problem is None:
                _pin(repo, source.rev)
                return repo
            wrong = True
            tried.append(f"{place}: {problem}")
        message, how = _failure(source, package, mirror, tried)
        if wrong:
            raise FetchError(message)
        raise SourcesUnreachable(
            message, how=how, reason=f"commit {source.rev[:12]} of {source.git} is unreachable"
        )


def _failure(
    source: Source, package: str, mirror: Path | None, tried: list[str]
) -> tuple[str, str]:
    """The full message and the one-line way to provide the commit."""
    lines = "\n".join(f"  - {t}" for t in tried)
    where = (
        f"$WASIX_MIRROR ({mirror})" if mirror is not None else "a directory named by $WASIX_MIRROR"
    )
    bundle = f"{package}-{source.rev}.bundle"
    how = f"put a bundle {bundle} of the commit into {where}"
    return (
        f"{package}: could not get commit {source.rev} of {source.git}. Tried:\n{lines}\n"
        f"To proceed, on a machine that can reach the repository run\n"
        f"  git clone {source.git} {source.repo_name} && cd {source.repo_name} && "
        f"git branch wasix-pin {source.rev} && git bundle create {bundle} wasix-pin\n"
        f"and put {bundle} into {where}; its content is verified by the commit id."
    ), how


def export_git_source(
    source: Source,
    dest: Path,
    *,
    package: str,
    mirror: Path | None = None,
    cache_dir: Path | None = None,
) -> Path:
    """Write the tree of commit ``source.rev`` into the new directory ``dest``; return it.

    Fetches first (:func:`fetch_git_source`). The files are the committed blobs exactly:
    the tree's ``.gitattributes`` export and conversion rules are overridden. ``dest``
    appears whole or not at all.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if shutil.which("git") is None:
        _check_pin(source, package)
        done = _export_bundle_without_git(source, dest, package=package, mirror=mirror)
        if done is not None:
            return done
    repo = fetch_git_source(source, package=package, mirror=mirror, cache_dir=cache_dir)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}.git-") as tmp:
        tar = Path(tmp) / "tree.tar"
        try:
            _git(["--git-dir", str(repo), "archive", "--format=tar", "-o", str(tar), source.rev])
        except _GitFailed as exc:
            raise FetchError(
                f"{_label(source, package)}: cannot write the commit's files from {repo}: {exc.reason} "
                f"(the cache repository may be damaged: delete {repo} and build again)"
            ) from None
        extract(tar, dest, strip=0, what=f"{package}: {source.filename}")
    return dest


def _export_bundle_without_git(
    source: Source, dest: Path, *, package: str, mirror: Path | None
) -> Path | None:
    """Without the ``git`` program: the commit's tree from a mirror bundle, read with dulwich
    (pure Python). ``None`` when the mirror has no bundle of it (then git is needed).

    Every object's id is computed from its content as it is read, and the tree is reached
    from the pinned commit id, so the files are verified as ``git bundle unbundle`` would.
    Files get the commit's time, as ``git archive`` gives them.
    """
    mirror = Path(mirror) if mirror is not None else paths.mirror_dir()
    if mirror is None:
        return None
    bundles = [
        b
        for n in _mirror_names(source, package)
        if (b := mirror / f"{n}-{source.rev}.bundle").is_file()
    ]
    if not bundles:
        return None
    from dulwich.bundle import read_bundle
    from dulwich.object_store import MemoryObjectStore
    from dulwich.objects import Commit, ObjectID
    from dulwich.pack import PackData, PackInflater

    store = MemoryObjectStore()
    try:
        with bundles[0].open("rb") as fh:
            bundle = read_bundle(fh)
            pack = bundle.pack_data
            if not isinstance(pack, PackData):
                raise FetchError(f"{_label(source, package)}: {bundles[0]} holds no pack")
            store.add_objects([(obj, None) for obj in PackInflater.for_pack_data(pack)])
        commit = store[ObjectID(source.rev.encode())]
    except FetchError:
        raise
    except KeyError:
        raise FetchError(
            f"{_label(source, package)}: {bundles[0]} does not hold the commit"
        ) from None
    except Exception as exc:  # dulwich's errors for a damaged file have no common base
        raise FetchError(f"{_label(source, package)}: cannot read {bundles[0]}: {exc}") from None
    if not isinstance(commit, Commit):
        raise FetchError(
            f"{_label(source, package)}: {source.rev} in {bundles[0]} is a {commit.type_name.decode()}, not a commit"
        )
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.dulwich-"))
    try:
        _write_tree(store, commit.tree, tmp, commit.commit_time)
        os.rename(tmp, dest)  # whole or not at all
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def _write_tree(store: object, tree_id: bytes, folder: Path, mtime: int) -> None:
    import stat

    tree = store[tree_id]  # type: ignore[index]
    for entry in tree.items():
        name = entry.path.decode("utf-8", "surrogateescape")
        if name in ("", ".", "..") or "/" in name or "\\" in name:
            raise FetchError(f"unsafe name {name!r} in the git tree")
        path = folder / name
        if stat.S_ISDIR(entry.mode):
            path.mkdir()
            _write_tree(store, entry.sha, path, mtime)
        elif stat.S_ISLNK(entry.mode):
            os.symlink(store[entry.sha].data, path)  # type: ignore[index]
            os.utime(path, (mtime, mtime), follow_symlinks=False)
            continue
        elif entry.mode == 0o160000:  # a submodule: git archive writes an empty directory
            path.mkdir()
        else:
            path.write_bytes(store[entry.sha].data)  # type: ignore[index]
            path.chmod(0o755 if entry.mode & 0o111 else 0o644)
        os.utime(path, (mtime, mtime))


def bundle_source(source: Source, package: str, dest_dir: Path) -> Path:
    """Write a git bundle of ``source.rev`` as ``dest_dir/<package>-<rev>.bundle``; return it.

    The bundle is what the mirror look-up accepts, so a directory of them (an sdist's
    ``sources/``) serves as ``$WASIX_MIRROR`` for builds without network.
    """
    repo = fetch_git_source(source, package=package)
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / f"{package}-{source.rev}.bundle"
    fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix=f".{dest.name}.", suffix=".part")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        tmp.unlink()  # git bundle create wants to create the file itself
        try:
            _git(
                [
                    "--git-dir",
                    str(repo),
                    "bundle",
                    "create",
                    "--quiet",
                    str(tmp),
                    _PIN_REF + source.rev,
                ]
            )
        except _GitFailed as exc:
            raise FetchError(
                f"{_label(source, package)}: cannot write a bundle from {repo}: {exc.reason}"
            ) from None
        os.replace(tmp, dest)
        return dest
    finally:
        tmp.unlink(missing_ok=True)
