"""Configure results computed once per toolchain: a shared autoconf cache, as Gentoo's confcache.

Most of what ``./configure`` checks — does ``<termios.h>`` exist, is ``tcgetattr`` there, how
big is a ``long`` — depends only on the compiler and its C library, yet every package (and
every rebuild) asks again, one compile and link each. Here those answers are kept per
toolchain and handed to the next configure through autoconf's own ``--cache-file``.

Only answers that depend on the toolchain alone are shared:

* variables matching :data:`SHARED` (headers, functions, sizes, types, compiler features);
  ``ac_cv_lib_*``, ``ac_cv_search_*``, declarations, struct members, program paths and
  everything a package names itself are never shared;
* never a header or function the package's dependencies provide (their ``include/`` trees
  and the symbols their static libraries define): those are found through the dependency's
  ``-I``/``-L`` flags, not the toolchain — dropped when merging and when loading;
* never a value naming the build's own directories;
* a variable two configures answered differently is taken out and never shared again;
* nothing from a configure whose compiler vanished, changed or stopped working while it ran
  (every check after that says "no"): :func:`compiler_snapshot` before, :func:`compiler_trouble`
  after.
* nothing from, and nothing to, a configure that is handed answers instead of finding them (a
  recipe's ``ac_cv_type_getgroups=gid_t``, a cache variable in its environment, a site script):
  :func:`given_answers`, :func:`site_scripts`. Not only those variables: any later check may
  follow from them (with ``ac_cv_header_sys_stat_h=no``, ``struct stat`` is not a type either),
  and the cache file cannot tell which did.

The cache file is keyed by the toolchain (its identity and the commands its ``wasixcc``
runs) and by the compiler flags the package passes beyond its dependencies' paths, so
nothing crosses toolchains. Results are merged after each successful configure, under a lock.
A configure that fails with cached answers is run once more without them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING

from ..paths import cache_root

if TYPE_CHECKING:
    from ..context import BuildContext

#: 3: caches of format 2 may hold answers recipes preset (see :func:`given_answers`).
FORMAT = 3
#: Autoconf cache variables whose answer depends on the toolchain alone.
SHARED = (
    "ac_cv_header_*", "ac_cv_func_*", "ac_cv_sizeof_*", "ac_cv_alignof_*", "ac_cv_type_*",
    "ac_cv_c_*", "ac_cv_prog_cc_*", "ac_cv_prog_cxx_*", "ac_cv_cxx_compiler_gnu", "ac_cv_objext",
    "ac_cv_exeext", "ac_cv_sys_largefile_*", "ac_cv_sys_file_offset_bits", "ac_cv_sys_large_files",
)  # fmt: skip
#: Compiler-flag variables whose package-given part goes into the cache's key.
FLAG_VARS = ("CC", "CPP", "CFLAGS", "CPPFLAGS", "LDFLAGS", "LIBS")
#: The two line forms of autoconf's cache file (2.5x-2.7x); the value is shell-quoted.
_LINE = re.compile(r"^(?:(ac_cv_\w+)=\$\{\1=(.*)\}|test \"\$\{(ac_cv_\w+)\+set\}\" = set \|\| \3=(.*))$")
#: How config.log records a command that could not be started at all (127: not found, 126:
#: not executable); a compiler check that fails to compile exits 1.
_NOT_STARTED = re.compile(r"^configure:\d+: \$\? = 12[67]$", re.M)
#: What hands configure an answer through an argument or its environment: a cache variable
#: (autoconf's ``ac_cv_*``, the ``*_cv_*`` of other macro sets: gnulib's ``gl_cv_``, ncurses'
#: ``cf_cv_``), or ``CONFIG_SITE`` (a site script may set any).
_GIVEN = re.compile(r"^(?:[A-Za-z_]\w*_cv_\w+|CONFIG_SITE)$")
#: A cache file of the recipe's own (``--cache-file`` as configure abbreviates it, ``-C``):
#: ours, given after it, would replace it and the answers it holds.
_OWN_CACHE = re.compile(r"^(?:--?c(?:a(?:c(?:h(?:e(?:-(?:f(?:i(?:le?)?)?)?)?)?)?)?)?(?:=|$)|-C$|--config-cache$)")
#: How config.log records a site script configure sourced (``$CONFIG_SITE``, or
#: ``$prefix/share/config.site`` when there is one): it may set any cache variable.
_SITE_SCRIPT = re.compile(r"loading site script (.+)$", re.M)
#: Absolute paths a wrapper script names (the programs it execs).
_ABS_PATH = re.compile(r"""(?<![\w.$/])(/[^\s'"`;|&<>()]+)""")


def enabled() -> bool:
    """``$WASIX_CONFIGURE_CACHE`` set to ``off`` (or ``0``, ``no``) turns sharing off."""
    return os.environ.get("WASIX_CONFIGURE_CACHE", "").lower() not in {"off", "0", "no", "false"}


def cache_dir() -> Path:
    """``$WASIX_CONFIGURE_CACHE`` (a directory), else ``<cache>/configure``."""
    value = os.environ.get("WASIX_CONFIGURE_CACHE")
    return Path(value).absolute() if value and enabled() else cache_root() / "configure"


def is_shared(var: str) -> bool:
    return any(fnmatchcase(var, pattern) for pattern in SHARED)


def mangle(name: str) -> str:
    """A header's name as autoconf puts it into a variable (``sys/ioctl.h`` -> ``sys_ioctl_h``)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def parse_cache_file(path: Path) -> dict[str, str]:
    """``{variable: line}`` of an autoconf cache file (the line kept as autoconf wrote it)."""
    entries: dict[str, str] = {}
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return entries
    for line in text.splitlines():
        match = _LINE.match(line)
        if match:
            entries[match.group(1) or match.group(3)] = line
    return entries


def value_of(line: str) -> list[str] | str:
    """The value a cache line assigns, quoting undone (``'yes'`` and ``yes`` are one answer:
    autoconf 2.52 quotes every value, 2.7x only those that need it)."""
    match = _LINE.match(line)
    raw = (match.group(2) if match.group(1) else match.group(4)) if match else line
    try:
        return shlex.split(raw)
    except ValueError:
        return raw


@dataclass
class Provided:
    """Headers and symbols a package's dependencies provide (not the toolchain's to answer)."""

    headers: set[str] = field(default_factory=set)
    symbols: set[str] = field(default_factory=set)
    paths: list[str] = field(default_factory=list)

    def owns(self, var: str) -> bool:
        if var.startswith("ac_cv_header_"):
            return var.removeprefix("ac_cv_header_") in self.headers
        if var.startswith("ac_cv_func_"):
            return var.removeprefix("ac_cv_func_") in self.symbols
        return False


def provided_by(deps: Mapping[str, Path], nm: str, env: Mapping[str, str]) -> Provided:
    """What ``deps`` (name -> install prefix) provide: every header under ``include/`` under
    each of its trailing path forms, and the symbols their ``lib/*.a`` define."""
    out = Provided(paths=[str(p) for p in deps.values()])
    archives: list[str] = []
    for prefix in deps.values():
        include = prefix / "include"
        if include.is_dir():
            for header in include.rglob("*"):
                parts = header.relative_to(include).parts
                out.headers.update(mangle("/".join(parts[i:])) for i in range(len(parts)))
        archives += [str(a) for a in sorted((prefix / "lib").glob("*.a"))]
    if archives:
        proc = subprocess.run([nm, "--defined-only", "-g", "-j", *archives], capture_output=True,
                              text=True, errors="replace", env=dict(env), stdin=subprocess.DEVNULL)  # fmt: skip
        out.symbols.update(line.strip() for line in proc.stdout.splitlines() if line.strip() and not line.endswith(":"))
    return out


class ConfigureCache:
    """The shared answers of one toolchain and one set of package flags."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, object]:
        try:
            doc = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {"format": FORMAT, "entries": {}, "unstable": []}
        if doc.get("format") != FORMAT:
            return {"format": FORMAT, "entries": {}, "unstable": []}
        return doc

    def entries(self) -> dict[str, str]:
        return dict(self._read().get("entries", {}))  # type: ignore[call-overload]

    def seed(self, target: Path, provided: Provided) -> int:
        """Write the answers ``provided`` does not own into autoconf cache file ``target``."""
        lines = [line for var, line in sorted(self.entries().items()) if not provided.owns(var)]
        target.write_text("# Shared configure answers of this toolchain (wasix_backend.buildsystems.confcache)\n"
                          + "".join(f"{line}\n" for line in lines))  # fmt: skip
        return len(lines)

    def merge(self, found: Mapping[str, str], provided: Provided, private: Iterable[str]) -> int:
        """Add the shareable answers of one successful configure; returns how many are new."""
        private = [p for p in private if p]
        fresh = {
            var: line
            for var, line in found.items()
            if is_shared(var) and not provided.owns(var) and not any(p in line for p in private)
        }
        from filelock import FileLock  # only configures merge: a no-op never imports it

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.path.with_suffix(".lock"))):
            doc = self._read()
            entries: dict[str, str] = doc["entries"]  # type: ignore[assignment]
            unstable = set(doc["unstable"])  # type: ignore[call-overload]
            added = 0
            for var, line in fresh.items():
                if var in unstable:
                    continue
                if var in entries and value_of(entries[var]) != value_of(line):
                    # Two configures disagree: not the toolchain's answer alone.
                    unstable.add(var)
                    del entries[var]
                elif var not in entries:
                    entries[var] = line
                    added += 1
            doc["unstable"] = sorted(unstable)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
            os.replace(tmp, self.path)
        return added


def given_answers(env: Mapping[str, str], args: Iterable[str]) -> list[str]:
    """What a configure is handed instead of finding out (empty: nothing), each named with
    where it comes from: cache variables among its ``VAR=value`` arguments and in its
    environment, ``CONFIG_SITE`` (a site script may set any), and a cache file of its own
    (``--cache-file``, ``-C``). Such a configure neither
    takes shared answers nor gives any: what it finds may follow from what it was given, and
    seeded, its config.h would depend on what other packages were built before."""
    args = list(args)
    given = [f"{name} (argument)" for name, eq, _ in (a.partition("=") for a in args) if eq and _GIVEN.match(name)]
    given += [f"a cache file of its own ({a})" for a in args if _OWN_CACHE.match(a)]
    return given + [f"{name} (environment)" for name in sorted(env) if _GIVEN.match(name)]


def site_scripts(config_log: Path) -> list[str]:
    """The site scripts config.log says configure loaded (which :func:`given_answers` could not
    see coming, e.g. a ``config.site`` under ``--prefix``)."""
    try:
        log = config_log.read_text(errors="replace")
    except OSError:
        return []
    return list(dict.fromkeys(m.strip() for m in _SITE_SCRIPT.findall(log)))


def compiler_command(env: Mapping[str, str], args: Iterable[str]) -> list[str]:
    """``$CC`` as configure sees it: a ``CC=`` argument wins over the environment."""
    value = env.get("CC", "")
    for arg in args:
        name, eq, rest = arg.partition("=")
        if eq and name == "CC":
            value = rest
    try:
        return shlex.split(value)
    except ValueError:
        return value.split()


def compiler_files(env: Mapping[str, str], args: Iterable[str], depth: int = 3) -> list[Path]:
    """The programs ``$CC`` runs: its own file and, through small ``#!`` scripts (the resolved
    wrappers, the driver's shims), the executables they name, ``depth`` levels down."""
    words = compiler_command(env, args)
    if not words:
        return []
    found = shutil.which(words[0], path=env.get("PATH"))
    queue, seen = [Path(found or words[0])], []
    for _ in range(depth):
        named: list[Path] = []
        for path in queue:
            if path in seen:
                continue
            seen.append(path)
            try:
                with path.open("rb") as fh:
                    head = fh.read(65536)
            except OSError:
                continue
            if head.startswith(b"#!"):
                text = head.decode(errors="replace")
                named += [Path(m) for m in _ABS_PATH.findall(text) if os.path.isfile(m) and os.access(m, os.X_OK)]
        queue = named
    return seen + [p for p in queue if p not in seen]


def compiler_snapshot(files: Iterable[Path]) -> dict[str, str | None]:
    """Each file's identity (``None``: missing): the content's hash for scripts and other
    small files (a reinstall that writes the same bytes is no change), the inode, size and
    mtime for big binaries (whose upgrade writes a new file)."""
    out: dict[str, str | None] = {}
    for path in files:
        try:
            st = path.stat()
            if st.st_size <= 1 << 20:
                out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                out[str(path)] = f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            out[str(path)] = None
    return out


def compiler_trouble(before: Mapping[str, str | None], config_log: Path) -> str | None:
    """Why the answers of a configure that just finished cannot be trusted, or ``None``: a
    program of its compiler vanished or was replaced while it ran (``before`` is
    :func:`compiler_snapshot` from its start), or config.log shows one of those programs could
    not be started at all — each check made then answered "no" for a reason that is not the
    toolchain's."""
    after = compiler_snapshot(Path(p) for p in before)
    for path, was in before.items():
        if was is not None and after[path] is None:
            return f"{path} vanished while configure ran"
        if was is not None and after[path] != was:
            return f"{path} was replaced while configure ran"
    try:
        log = config_log.read_text(errors="replace")
    except OSError:
        return None
    # Only the compiler's own programs count: configure also starts programs it expects to be
    # missing (ncurses' runs a conftest.sh that is not on PATH).
    for match in _NOT_STARTED.finditer(log):
        said = [ln for ln in log[: match.start()].splitlines() if ln.strip()][-3:]
        culprit = next((p for p in before if any(p in ln for ln in said)), None)
        if culprit:
            return f"its compiler {culprit} could not be started while configure ran ({config_log.name}: {said[-1].strip()})"
    return None


def flag_key(env: Mapping[str, str], args: Iterable[str], deps: Mapping[str, Path]) -> dict[str, str]:
    """The compiler flags a configure gets, beyond its dependencies' ``-I``/``-L`` paths."""
    dep_paths = [str(p) for p in deps.values()]
    values = {var: env.get(var, "") for var in FLAG_VARS}
    for arg in args:  # `./configure CFLAGS=...` wins over the environment
        name, eq, value = arg.partition("=")
        if eq and name in FLAG_VARS:
            values[name] = value
    return {var: " ".join(w for w in value.split() if not any(p in w for p in dep_paths)) for var, value in values.items()}


def for_build(ctx: BuildContext, args: Iterable[str]) -> ConfigureCache:
    """The cache this configure shares: per toolchain fingerprint and package flags."""
    material = {
        "toolchain": ctx.toolchain.identity,
        "commands": commands_fingerprint(ctx.toolchain.bin_dir, ctx.env),
        "flags": flag_key(ctx.env, args, ctx.deps),
    }
    digest = hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:24]
    return ConfigureCache(cache_dir() / f"{digest}.json")


def commands_fingerprint(bin_dir: Path, env: Mapping[str, str]) -> str:
    """A hash of what the compilers run: the resolved wrappers' text (less the line naming
    the Python driver), or for the Python driver its code and its ``WASIXCC_*`` settings."""
    h = hashlib.sha256()
    for name in ("wasixcc", "wasix++"):
        try:
            text = (bin_dir / name).read_text(errors="replace")
        except (OSError, UnicodeDecodeError):
            continue
        h.update("\n".join(ln for ln in text.splitlines() if not ln.startswith("fb=")).encode())
        if "toolchain.wrappers" not in text:  # the Python driver: its flags are in its code
            toolchain = Path(__file__).resolve().parent.parent / "toolchain"
            for source in sorted(toolchain.glob("*.py")):
                h.update(source.read_bytes())
    for key, value in sorted(env.items()):
        if key.startswith("WASIXCC_") and key != "WASIXCC_RUN_WASM_OPT":
            h.update(f"{key}={value}\0".encode())
    return h.hexdigest()
