"""Host files in and out of wasmer-sdk's sandbox, for the wheel launcher.

Copied verbatim into every wheel as ``wasix_NAME/_mirror.py``: standard library only,
Python 3.9+.

The sandbox takes files only under ``/workspace`` and gives every run a fresh in-memory
root, so host path ``P`` is copied to ``GUEST_ROOT + P``; programs built with this
project's toolchain link each mirrored directory back to its real path before ``main()``
(``toolchain/compat/src/mirror.c``), so they see the host's own paths. Mirrored are the
working directory (bounded: ``WASIX_MIRROR_MAX_BYTES``, ``WASIX_MIRROR_MAX_FILES``) and
the files and directories named on the command line.

Only regular files are copied, never anything under ``/proc``, ``/sys``, ``/dev`` or another
kernel file system (a read there can block forever), never a name that is not UTF-8 (the
sandbox cannot hold it; the launcher says so), and the copy is bounded in time
(``WASIX_MIRROR_MAX_SECONDS``) as well as in bytes and files.

Write-back only ever writes inside what was mirrored: every target is reached from its
root's directory descriptor one component at a time without following symlinks, an existing
host symlink is never replaced, and host files are never deleted. A host file is replaced only
while it still holds what was copied in (otherwise someone else changed it meanwhile: the
host's version stays) and only when the user may write it (a read-only file stays as it is,
as a native write would fail). A changed file stays the same file to its users, as a native
write leaves it: it is replaced atomically, keeping its mode and group, when that can be done,
and otherwise (another user's file, one with hard links, one whose group this user cannot
give, one in a directory this user may not write) written in place. Whatever cannot be
written back goes to a rescue directory, and the launcher names each file and why.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

GUEST_ROOT = "/workspace/.host"  # host path P lives at GUEST_ROOT + P in the sandbox
#: Where programs record the modes they give files (``toolchain/compat/src/modes.c``): in the
#: sandbox's private area, outside everything written back.
GUEST_MODES = "/workspace/.wasix-modes"
SCRATCH = ("/tmp",)  # writes here are kept (rescued) rather than lost with the fresh root
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_FILES = 10_000
DEFAULT_MAX_SECONDS = 10.0
#: Never copied from: reading files there can block for ever (``/proc/kmsg``), or means nothing.
SPECIAL_DIRS = ("/proc", "/sys", "/dev")
#: Kernel file systems, wherever they are mounted (from ``/proc/self/mountinfo``).
SPECIAL_FS = frozenset({
    "proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "debugfs", "tracefs", "securityfs",
    "pstore", "bpf", "configfs", "fusectl", "mqueue", "hugetlbfs", "binfmt_misc", "autofs", "efivarfs",
    "rpc_pipefs", "nsfs", "selinuxfs",
})


def _size(text: str) -> int:
    text = text.strip().upper().rstrip("B").rstrip("I")
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def limits() -> tuple[int, int]:
    """``(max_bytes, max_files)`` for the working directory's copy, from the environment."""
    try:
        max_bytes = _size(os.environ.get("WASIX_MIRROR_MAX_BYTES") or str(DEFAULT_MAX_BYTES))
        max_files = int(os.environ.get("WASIX_MIRROR_MAX_FILES") or DEFAULT_MAX_FILES)
    except ValueError:
        raise SystemExit("WASIX_MIRROR_MAX_BYTES / WASIX_MIRROR_MAX_FILES: expected a number such as 64M / 10000") from None
    return max_bytes, max_files


def max_seconds() -> float:
    """How long copying the working directory may take (``WASIX_MIRROR_MAX_SECONDS``)."""
    text = os.environ.get("WASIX_MIRROR_MAX_SECONDS") or str(DEFAULT_MAX_SECONDS)
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise SystemExit(f"WASIX_MIRROR_MAX_SECONDS: expected a positive number of seconds, got {text!r}")
    return value


class TooBig(Exception):
    """Over a bound; the message says which (``files or bytes`` or ``seconds``)."""


class _Budget:
    """What the copy may still take: bytes, files, and time."""

    def __init__(self, max_bytes: int, max_files: int, seconds: float) -> None:
        self.bytes, self.files = max_bytes, max_files
        self.deadline = time.monotonic() + seconds

    def take(self, size: int) -> None:
        self.bytes -= size
        self.files -= 1
        if self.bytes < 0 or self.files < 0:
            raise TooBig("size")
        self.check_time()

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise TooBig("time")


def _special_mounts() -> set[str]:
    """Mount points of kernel file systems (Linux; elsewhere only :data:`SPECIAL_DIRS`)."""
    found = set(SPECIAL_DIRS)
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as fh:
            for line in fh:
                left, _, right = line.partition(" - ")
                fields = left.split()
                if len(fields) >= 5 and right.split()[:1] and right.split()[0] in SPECIAL_FS:
                    found.add(fields[4].replace("\\040", " "))
    except OSError:
        pass
    return found


def _special(path: str, mounts: set[str]) -> bool:
    return any(_inside(path, m) for m in mounts if m != "/")


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes, kept by the file system encoding as surrogates
        return False
    return True


def _read_regular(path: str, limit: int) -> bytes | None:
    """The bytes of ``path`` if it is (still) a regular file, at most ``limit`` of them; never
    blocks on a FIFO or device put there since it was listed."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return _read_upto(fd, limit)
    finally:
        os.close(fd)


def _read_upto(fd: int, limit: int) -> bytes:
    """At most ``limit`` bytes from ``fd``, read in large pieces."""
    chunks, left = [], limit
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


@dataclass
class Root:
    """One mirrored host path: ``path`` as the program sees it, ``target`` on the host."""

    path: str
    target: str  # realpath of ``path``: symlinks the user named are followed once, here
    is_dir: bool
    complete: bool = True  # False: over the bound, only named files were copied


@dataclass
class Plan:
    roots: list[Root] = field(default_factory=list)
    originals: dict[str, bytes] = field(default_factory=dict)  # path -> bytes copied in
    dirs: set[str] = field(default_factory=set)  # directories to create in the sandbox
    size: int = 0
    warnings: list[str] = field(default_factory=list)
    unnamed: list[str] = field(default_factory=list)  # names that are not UTF-8: not copied

    def guest(self, path: str) -> str:
        return GUEST_ROOT + path

    def links(self) -> list[str]:
        """The outermost mirrored directories (and scratch ones): what the guest links."""
        # "/" is never linked, and holds no others: a named path at the top (`-subj /CN=x`,
        # which only looks like one) must not leave the working directory unlinked.
        dirs = sorted(({r.path if r.is_dir else _parent(r.path) for r in self.roots} | set(SCRATCH)) - {"/"})
        return [d for d in dirs if not any(_inside(d, o) for o in dirs if o != d)]

    def root_of(self, path: str) -> Root | None:
        """The most specific root holding ``path``."""
        best = None
        for r in self.roots:
            if (path == r.path if not r.is_dir else _inside(path, r.path)) and (best is None or len(r.path) > len(best.path)):
                best = r
        return best

    def sandbox_files(self) -> dict[str, bytes]:
        return {self.guest(p): data for p, data in self.originals.items()}


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _parent(path: str) -> str:
    return os.path.dirname(path) or "/"


def looks_like_path(arg: str) -> bool:
    if not arg or arg.startswith("-") or "\0" in arg:
        return False
    if os.path.lexists(arg):
        return True
    parent = os.path.dirname(arg) or "."
    return os.path.isdir(parent) and ("/" in arg or "." in os.path.basename(arg))


def _copy_tree(plan: Plan, root: Root, budget: _Budget) -> None:
    """Copy the regular files under ``root`` (no symlinks followed, no kernel file systems,
    no names the sandbox cannot hold) within ``budget``."""
    plan.dirs.add(root.path)
    mounts = _special_mounts()
    if _special(root.target, mounts):
        plan.warnings.append(f"{root.path} is on a kernel file system (/proc, /sys, /dev …): nothing "
                             "under it is copied into the sandbox")
        return
    for top, dirnames, filenames in os.walk(root.target, followlinks=False):
        rel = os.path.relpath(top, root.target)
        here = root.path if rel == "." else os.path.join(root.path, rel)
        plan.dirs.add(here)
        kept = []
        for d in dirnames:
            full = os.path.join(top, d)
            if os.path.islink(full) or _special(full, mounts):
                continue
            if not _utf8(d):
                plan.unnamed.append(os.path.join(here, d))
                continue
            kept.append(d)
        dirnames[:] = kept
        for name in filenames:
            host = os.path.join(top, name)
            try:
                st = os.lstat(host)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue  # symlinks, devices, sockets: not copied (nor ever written through)
            if not _utf8(name):
                plan.unnamed.append(os.path.join(here, name))
                continue
            budget.take(st.st_size)
            try:
                data = _read_regular(host, st.st_size)
            except OSError:
                continue  # unreadable here: the program will not see it, nor overwrite it
            if data is not None:
                plan.originals[os.path.join(here, name)] = data


def _copy_file(plan: Plan, path: str, target: str) -> None:
    data = _read_regular(target, os.stat(target).st_size)
    if data is not None:
        plan.originals[path] = data
    plan.dirs.add(_parent(path))


def plan_mirror(args: list[str], cwd: str | None = None, prog: str = "program") -> Plan:
    """What to copy: the working directory (bounded) and the paths named in ``args``."""
    cwd = cwd or os.getcwd()
    max_bytes, max_files = limits()
    seconds = max_seconds()
    plan = Plan()
    named: list[Root] = []
    mounts = _special_mounts()
    for arg in args:
        if not looks_like_path(arg):
            continue
        path = os.path.normpath(os.path.join(cwd, arg))
        target = os.path.realpath(path)
        if not _utf8(path) or _special(target, mounts):
            continue  # the sandbox cannot hold the name / a kernel file: not copied
        is_dir = os.path.isdir(target)
        if os.path.lexists(path) and not is_dir and not os.path.isfile(target):
            continue  # a device or a dangling link: nothing to copy
        named.append(Root(path, target, is_dir))
    cwd_root = Root(cwd, os.path.realpath(cwd), True)
    budget = _Budget(max_bytes, max_files, seconds)
    try:
        _copy_tree(plan, cwd_root, budget)
    except TooBig as exc:
        cwd_root.complete = False
        plan.originals.clear()
        plan.unnamed.clear()
        plan.dirs = {cwd}
        what = (f"took more than {seconds:g} s to copy" if str(exc) == "time"
                else f"holds more than {max_files} files or {max_bytes >> 20} MiB")
        plan.warnings.append(
            f"{prog}: the working directory {cwd} {what}, so only the paths named on the command "
            "line are copied into the sandbox; run from a smaller directory, or raise "
            "WASIX_MIRROR_MAX_BYTES / WASIX_MIRROR_MAX_FILES / WASIX_MIRROR_MAX_SECONDS to copy it all"
        )
    plan.roots.append(cwd_root)
    for root in named:
        # A named path needs its own root when the working directory's copy does not hold
        # it as it is on the host (outside it, behind a symlink, or over the bound).
        covered = _inside(root.path, cwd) and root.target == os.path.join(cwd_root.target, os.path.relpath(root.path, cwd))
        if covered and cwd_root.complete:
            continue
        plan.roots.append(root)
        if root.is_dir:
            try:
                _copy_tree(plan, root, budget if cwd_root.complete else _Budget(max_bytes, max_files, seconds))
            except TooBig as exc:
                what = (f"takes more than {seconds:g} s" if str(exc) == "time"
                        else f"holds more than {max_files} files or {max_bytes >> 20} MiB")
                raise SystemExit(
                    f"{prog}: {root.path} {what} (with the working directory) to copy into the sandbox; "
                    "name a smaller directory, or raise WASIX_MIRROR_MAX_BYTES / WASIX_MIRROR_MAX_FILES / "
                    "WASIX_MIRROR_MAX_SECONDS"
                ) from None
        elif os.path.isfile(root.target):
            with contextlib.suppress(OSError):
                _copy_file(plan, root.path, root.target)
        else:
            plan.dirs.add(_parent(root.path))
    if plan.unnamed:
        shown = ", ".join(repr(os.fsencode(p))[1:] for p in plan.unnamed[:3])
        plan.warnings.append(
            f"{prog}: {len(plan.unnamed)} name(s) that are not UTF-8 are not copied into the sandbox "
            f"(which cannot hold them), so the program does not see them: {shown}"
            + (" …" if len(plan.unnamed) > 3 else "")
        )
    plan.size = sum(len(d) for d in plan.originals.values())
    return plan


# ------------------------------------------------------------------ safe write-back ---


class Refused(Exception):
    """A target the launcher will not write: the message says why."""


def _open_dir(name: str, dir_fd: int, create: bool) -> int:
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        if not create:
            raise
        os.mkdir(name, 0o777, dir_fd=dir_fd)
        return os.open(name, flags, dir_fd=dir_fd)
    if stat.S_ISLNK(st.st_mode):
        raise Refused(f"{name} is a symlink on the host and is not followed")
    if not stat.S_ISDIR(st.st_mode):
        raise Refused(f"{name} is not a directory on the host")
    return os.open(name, flags, dir_fd=dir_fd)


def _open_chain(base: str, parts: list[str]) -> list[int]:
    """Descriptors of ``base`` and of each of ``parts`` below it, made where missing, never
    through a symlink; the caller closes them."""
    fds = [os.open(base, os.O_RDONLY | os.O_DIRECTORY)]
    try:
        for part in parts:
            fds.append(_open_dir(part, fds[-1], create=True))
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return fds


#: What a new file starts with when it is a program (a script, an ELF binary): such files
#: are made executable, as the program that wrote them made them natively. The sandbox keeps
#: no modes (``open(…, O_CREAT, 0755)`` keeps none, ``chmod`` fails with ENOSYS, ``stat``
#: answers permission bits 0, the SDK's ``fs.stat`` gives only a kind and a size): programs
#: built with wasix-libc record the modes they ask for (:func:`parse_modes`, applied by
#: :func:`apply_modes`); this is the rule for a file without a record (an older module, a Rust
#: program, a call modes.c does not wrap).
EXECUTABLE_MAGIC = (b"#!", b"\x7fELF")


def _new_file_mode(data: bytes) -> int:
    """The mode a new file is created with; the kernel takes the umask (or the directory's
    default ACL) off it, as for the program's own ``open``."""
    return 0o777 if data.startswith(EXECUTABLE_MAGIC) else 0o666


def _changed_file_mode(st: os.stat_result) -> int:
    """The mode of a file the program changed: the host's, less the set-user-ID bit (and
    set-group-ID with group execute) that the kernel clears when anyone but root writes."""
    mode = stat.S_IMODE(st.st_mode)
    if os.geteuid() != 0:
        mode &= ~stat.S_ISUID
        if mode & stat.S_IXGRP:
            mode &= ~stat.S_ISGID
    return mode


def _write_in_place(fd: int, name: str, st: os.stat_result, data: bytes) -> None:
    """Overwrite host file ``name`` (in directory ``fd``) as a native write does: the same
    file, owner, group, links and ACLs; ``st`` is what it was when it was checked."""
    flags = os.O_WRONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    out = os.open(name, flags, dir_fd=fd)
    try:
        now = os.fstat(out)
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino) or not stat.S_ISREG(now.st_mode):
            raise Refused("it was replaced on the host while the program ran; the host's file is kept")
        view = memoryview(data)
        while view:
            view = view[os.write(out, view):]
        os.ftruncate(out, len(data))
    finally:
        os.close(out)


def _current(fd: int, name: str, limit: int) -> bytes | None:
    """What the host file ``name`` (in directory ``fd``) holds now, up to ``limit`` + 1 bytes."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        f = os.open(name, flags, dir_fd=fd)
    except FileNotFoundError:
        return None
    try:
        return _read_upto(f, limit + 1)
    finally:
        os.close(f)


def safe_write(base: str, parts: list[str], data: bytes, original: bytes | None) -> None:
    """Write ``data`` to ``base/parts…`` without leaving ``base`` or following symlinks.

    ``base`` is a resolved host directory; ``original`` is what was copied into the sandbox
    (None: nothing was, and a host file the program never saw is not overwritten). A host
    file that no longer holds ``original`` changed while the program ran and is kept; one
    the user may not write is kept too (natively the program's write would have failed).
    """
    if not parts or any(p in ("", ".", "..") or "/" in p for p in parts):
        raise Refused("not a plain path inside what was named")
    fds = _open_chain(base, parts[:-1])
    try:
        fd, name = fds[-1], parts[-1]
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            st = None
        if st is not None:
            if stat.S_ISLNK(st.st_mode):
                raise Refused("it is a symlink on the host and is not replaced")
            if not stat.S_ISREG(st.st_mode):
                raise Refused("it is not a regular file on the host")
            if original is None:
                raise Refused("it exists on the host but was not copied into the sandbox "
                              "(made there while the program ran?); the host's file is kept")
            if not os.access(name, os.W_OK, dir_fd=fd, effective_ids=os.access in os.supports_effective_ids):
                raise Refused("it is read-only on the host (natively the write fails: permission denied); "
                              "the host's file is kept")
            now = _current(fd, name, max(len(original), len(data)))
            if now == data:
                return  # someone else wrote the very same bytes meanwhile: nothing to do
            if now != original:
                raise Refused("it changed on the host while the program ran; the host's version is kept")
        elif original is not None:
            raise Refused("it was removed on the host while the program ran; it is not made again")
        if st is not None and (st.st_nlink != 1 or st.st_uid != os.geteuid()):
            # A new file renamed over it would be this user's, and one link only.
            return _write_in_place(fd, name, st, data)
        # A short temporary name: one beside a 255-byte name would be too long to create.
        tmp = f".wasix-{os.getpid()}-{time.monotonic_ns() % 10**12}.tmp"
        create = 0o600 if st is not None else _new_file_mode(data)
        try:
            out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, create, dir_fd=fd)
        except PermissionError:
            if st is None:
                raise
            return _write_in_place(fd, name, st, data)  # a writable file in a directory that is not
        try:
            try:
                if st is not None and os.fstat(out).st_gid != st.st_gid:
                    os.fchown(out, -1, st.st_gid)  # PermissionError: not this user's group to give
                view = memoryview(data)
                while view:
                    view = view[os.write(out, view):]
                if st is not None:
                    os.fchmod(out, _changed_file_mode(st))
            finally:
                os.close(out)
            os.replace(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
        except PermissionError:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=fd)
            if st is None:
                raise
            return _write_in_place(fd, name, st, data)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=fd)
            raise
    finally:
        for fd in fds:
            os.close(fd)


def write_back(plan: Plan, path: str, data: bytes) -> None:
    """Write guest file ``path`` (a host path) to the host, or raise :class:`Refused`/OSError."""
    root = plan.root_of(path)
    if root is None:
        raise Refused("it is outside the working directory and the paths named on the command line")
    if root.is_dir:
        base, parts = root.target, os.path.relpath(path, root.path).split(os.sep)
    else:
        base, parts = _parent(root.target), [os.path.basename(root.target)]
    safe_write(base, parts, data, plan.originals.get(path))


def rescue_dir(cache: Path, prog: str) -> Path:
    return cache / "rescue" / f"{prog}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"


def rescue(folder: Path, path: str, data: bytes) -> Path:
    dest = folder / path.lstrip("/")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    return dest


def without_new_empty(plan: Plan, files: dict[str, bytes]) -> dict[str, bytes]:
    """``files`` less the empty ones the program created: after a failure they are what it
    opened before failing (``tar -czf x.tgz`` whose compressor could not start), not output."""
    return {path: data for path, data in files.items() if data or path in plan.originals or os.path.lexists(path)}


def sync_back(plan: Plan, files: dict[str, bytes], cache: Path, prog: str, err=None) -> list[str]:
    """Write every changed or new file back; rescue the rest and say where. Returns paths written."""
    err = err or sys.stderr
    written, refused = [], []
    for path in sorted(files):
        data = files[path]
        if plan.originals.get(path) == data:
            continue
        try:
            write_back(plan, path, data)
            written.append(path)
        except Refused as exc:
            refused.append((path, str(exc)))
        except OSError as exc:
            refused.append((path, exc.strerror or str(exc)))
    if refused:
        folder = rescue_dir(cache, prog)
        for path, _ in refused:
            rescue(folder, path, files[path])
        print(f"{prog}: {len(refused)} file(s) written in the sandbox were not copied back; "
              f"they are saved under {folder}:", file=err)
        for path, why in refused:
            print(f"  {path}: {why}", file=err)
    return written


def parse_modes(record: bytes) -> dict[str, tuple[int, bool]]:
    """The modes programs asked for, from their record file (``GUEST_MODES``): by host path,
    ``(mode, exact)``; ``exact`` for a chmod, otherwise a creation mode (the umask applies).
    Records are ``"c MODE PATH\\0"`` / ``"m MODE PATH\\0"``, MODE octal; the last one wins."""
    modes: dict[str, tuple[int, bool]] = {}
    for entry in record.split(b"\0")[:-1]:  # the last one, unterminated, is torn (or empty)
        kind, _, rest = entry.partition(b" ")
        text, _, raw = rest.partition(b" ")
        if kind not in (b"c", b"m") or not raw.startswith(b"/"):
            continue
        try:
            mode = int(text, 8) & 0o7777
            path = os.path.normpath(raw.decode("utf-8"))
        except ValueError:
            continue
        if _inside(path, GUEST_ROOT):  # as the sandbox spells it (getcwd() through the link)
            path = path[len(GUEST_ROOT):] or "/"
        modes[path] = (mode, kind == b"m")
    return modes


def seed_modes(plan: Plan) -> bytes:
    """The start of the record file: the umask and the host modes of what was copied in, which
    ``stat()`` in programs built here answers with (the sandbox reports 0), so a mode they
    compute from one (``chmod +x``, a copy keeping its source's) is built on the real one."""
    parts = [f"u {_umask():o} /".encode()]
    for path in sorted(set(plan.originals) | plan.dirs):
        with contextlib.suppress(OSError, UnicodeEncodeError):
            parts.append(f"h {stat.S_IMODE(os.stat(path).st_mode):o} {path}".encode())
    return b"\0".join(parts) + b"\0"


def _umask() -> int:
    """This process's umask, which the program's creation modes are made with, as natively."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii", errors="replace") as fh:
        for line in fh:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def apply_modes(plan: Plan, modes: dict[str, tuple[int, bool]], files: dict[str, bytes], dirs: set[str],
                written: list[str], err=None) -> list[str]:
    """Give host files the modes the program asked for, after write-back: a chmod's mode as
    it is, a creation mode less the umask to what the program made. Files not written back
    (kept or rescued) and files the program removed are left as they are. Returns the paths."""
    err = err or sys.stderr
    mask, done = _umask(), []
    # Deepest first: a directory made 0500 or 0000 does not keep its files from getting theirs.
    for path, (mode, exact) in sorted(modes.items(), reverse=True):
        is_new = path not in plan.originals and path not in plan.dirs
        if not exact and not is_new:
            continue  # created after the program removed the host's file: the host's mode stays
        if path in files:
            if path not in written and files[path] != plan.originals.get(path):
                continue  # not written back: the host's (or the rescued) file is not the program's
        elif path not in dirs:
            continue
        root = plan.root_of(path)
        if root is None:
            continue
        if root.is_dir:
            base, parts = root.target, os.path.relpath(path, root.path).split(os.sep)
        else:
            base, parts = _parent(root.target), [os.path.basename(root.target)]
        if parts == ["."] or any(p in ("", "..") for p in parts):
            continue
        try:
            _chmod_at(base, parts, mode if exact else mode & ~mask)
            done.append(path)
        except (Refused, OSError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            print(f"{path}: the mode the program gave it ({mode:o}) was not applied on the host: {reason}", file=err)
    return done


def _chmod_at(base: str, parts: list[str], mode: int) -> None:
    """chmod ``base/parts…`` without leaving ``base`` or following a symlink."""
    fds = [os.open(base, os.O_RDONLY | os.O_DIRECTORY)]
    try:
        for part in parts[:-1]:
            fds.append(_open_dir(part, fds[-1], create=False))
        st = os.stat(parts[-1], dir_fd=fds[-1], follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            raise Refused("it is a symlink on the host and is not followed")
        os.chmod(parts[-1], mode, dir_fd=fds[-1])
    finally:
        for fd in fds:
            os.close(fd)


def make_dirs_back(plan: Plan, dirs: set[str], err=None) -> list[str]:
    """Create on the host the directories the program made (``git init``'s empty refs/ and
    objects/), inside a mirrored working directory only, through the same no-symlink walk
    as files. Returns those created."""
    err = err or sys.stderr
    made = []
    for path in sorted(dirs):
        root = plan.root_of(path)
        if root is None or not root.is_dir or path == root.path or os.path.isdir(path):
            continue
        parts = os.path.relpath(path, root.path).split(os.sep)
        if any(p in ("", ".", "..") for p in parts):
            continue
        try:
            for fd in _open_chain(root.target, parts):
                os.close(fd)
            made.append(path)
        except (Refused, OSError) as exc:
            print(f"directory {path} made in the sandbox was not created on the host: {exc}", file=err)
    return made


async def read_guest_files(fs, plan: Plan, limit: int = 100_000, dirs: set[str] | None = None) -> dict[str, bytes]:
    """Every regular file the sandbox holds under the linked directories, by host path
    (and, into ``dirs``, every directory)."""
    found: dict[str, bytes] = {}

    async def walk(guest: str, depth: int) -> None:
        if depth > 64 or len(found) > limit:
            return
        try:
            entries = await fs.read_dir(guest)
        except Exception:
            return
        for entry in entries:
            child = guest.rstrip("/") + "/" + entry.name
            if entry.kind == "directory":
                if dirs is not None:
                    dirs.add(child[len(GUEST_ROOT):])
                await walk(child, depth + 1)
                continue
            with contextlib.suppress(Exception):  # e.g. a dangling symlink the program made
                found[child[len(GUEST_ROOT):]] = await fs.read(child)

    for top in plan.links():
        await walk(GUEST_ROOT + top, 0)
    for root in plan.roots:  # a named file directly under "/", which is not linked
        if not root.is_dir and root.path not in found:
            with contextlib.suppress(Exception):
                found[root.path] = await fs.read(GUEST_ROOT + root.path)
    return found
