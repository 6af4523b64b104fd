"""An LLVM for the ``wasix`` provider made from PyPI's ``ziglang`` alone.

``ziglang`` carries a plain clang and wasm-ld (``zig clang``, ``zig wasm-ld``) and the source
of compiler-rt, which ``zig build-lib`` compiles for wasm32 in seconds. Arranged as an LLVM
installation — ``bin/clang`` … as small ``exec`` wrappers, ``lib/clang/N/`` as clang's
resource directory with zig's builtin headers and the wasm32 builtins — it builds wasix-libc
and links programs against it, so the upstream libc needs no system compiler. Selected with
``WASIXCC_LLVM_LOCATION=zig``; made once per ziglang version under the toolchain directory.
zig has no ``nm``: ``llvm-nm`` is an LLVM's one from PATH when there is one.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

from ..errors import ToolchainError
from ..fsutil import make_temp_dir, replace_dir

#: The value of ``WASIXCC_LLVM_LOCATION`` that selects this LLVM.
ZIG = "zig"
#: The wasm features every WASIX object is built with (wasm-ld refuses shared memory otherwise).
_CPU = "generic+atomics+bulk_memory+mutable_globals"
#: The arrangement's layout, part of its directory's name: a change to the wrappers makes a new
#: directory instead of leaving an old one in use (2: clang++ was `zig clang++`, not a command).
_LAYOUT = 2


def dir_name(version: str) -> str:
    """The directory, under the toolchain directory, of the LLVM made of ziglang ``version``."""
    return f"zig-llvm-{version}-{_LAYOUT}"


def _zig() -> tuple[Path, str]:
    try:
        import ziglang  # type: ignore[import-untyped]
    except ImportError:
        raise ToolchainError("WASIXCC_LLVM_LOCATION=zig needs the `ziglang` package (pip install ziglang)") from None
    exe = Path(ziglang.__file__).parent / "zig"
    version = subprocess.run([str(exe), "version"], capture_output=True, text=True, check=False).stdout.strip()
    return exe, version or "unknown"


def available() -> bool:
    """Whether ``ziglang`` is installed (without starting zig)."""
    import importlib.util

    return importlib.util.find_spec("ziglang") is not None


def zig_identity(root: Path) -> str | None:
    """For an LLVM made here: the ziglang version and the zig program's sha256 (else ``None``)."""
    if not root.name.startswith("zig-llvm-"):
        return None
    from .versioncache import tool_digest

    zig, version = _zig()
    return f"ziglang {version} zig sha256 {tool_digest(zig)[:16]}"


def host_cc(root: Path | None = None) -> Path:
    """A C compiler for the build machine made of ``zig cc`` (code generators, ``{build_cc}``),
    where the machine has none: a script under the toolchain directory, made on first use.

    Always optimised and without the undefined-behaviour sanitizer that zig adds to unoptimised
    builds: generator programs written for gcc must not trap on what gcc lets pass."""
    from ..paths import toolchain_dir

    zig, version = _zig()
    path = (root or toolchain_dir()) / f"zig-host-cc-{version}" / "cc"
    text = f'#!/bin/sh\nexec {shlex.quote(str(zig))} cc -O1 -fno-sanitize=undefined "$@"\n'
    if not path.is_file() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".cc.{os.getpid()}")
        tmp.write_text(text)
        tmp.chmod(0o755)
        os.replace(tmp, path)
    return path


def zig_llvm(root: Path | None = None) -> Path:
    """The LLVM directory made of ziglang (built on first use; a few seconds)."""
    from ..paths import toolchain_dir

    zig, version = _zig()
    final = (root or toolchain_dir()) / dir_name(version)
    if _execs_a_missing_program(final / "bin" / "clang"):
        # Made by another installation of the same ziglang, deleted since (a removed venv):
        # its wrappers exec a zig that is gone. This one gets a directory of its own.
        final = final.with_name(f"{final.name}-{hashlib.sha256(str(zig).encode()).hexdigest()[:8]}")
    if (final / "bin" / "clang").is_file():
        return final
    out = subprocess.run([str(zig), "clang", "--version"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"clang version (\d+)", out)
    if not match:
        raise ToolchainError(f"{zig} clang --version printed no clang version: {out.strip()[:200]!r}")
    tmp = make_temp_dir(final)
    try:
        resource = tmp / "lib" / "clang" / match.group(1)
        (resource / "lib" / "wasi").mkdir(parents=True)
        shutil.copytree(zig.parent / "lib" / "include", resource / "include")
        _build_builtins(zig, resource / "lib" / "wasi" / "libclang_rt.builtins-wasm32.a", tmp)
        final_resource = final / resource.relative_to(tmp)
        _write_wrappers(tmp / "bin", zig, final_resource)
        replace_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _execs_a_missing_program(wrapper: Path) -> bool:
    """Whether ``wrapper`` (as :func:`_write_wrappers` writes them) ``exec``s a program that
    no longer exists."""
    try:
        text = wrapper.read_text(errors="replace")
    except OSError:
        return False
    match = re.search(r"^exec (.+)$", text, re.MULTILINE)
    if not match:
        return False
    try:
        program = shlex.split(match.group(1))[0]
    except (ValueError, IndexError):
        return False
    return not Path(program).exists()


def _build_builtins(zig: Path, dest: Path, scratch: Path) -> None:
    cmd = [str(zig), "build-lib", "-target", "wasm32-wasi", f"-mcpu={_CPU}", "-O", "ReleaseFast", "-fstrip",
           str(zig.parent / "lib" / "compiler_rt.zig"), f"-femit-bin={dest}"]  # fmt: skip
    env = {**os.environ, "ZIG_GLOBAL_CACHE_DIR": str(scratch / ".zig-cache"), "ZIG_LOCAL_CACHE_DIR": str(scratch / ".zig-cache")}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    shutil.rmtree(scratch / ".zig-cache", ignore_errors=True)
    if done.returncode != 0 or not dest.is_file():
        raise ToolchainError(f"building the wasm32 compiler-rt builtins with zig failed: {(done.stderr or done.stdout).strip()[-500:]}")


def _write_wrappers(bin_dir: Path, zig: Path, resource: Path) -> None:
    bin_dir.mkdir(parents=True)
    z, rd = shlex.quote(str(zig)), shlex.quote(str(resource))
    # --no-wasm-opt on links: clang would run a wasm-opt from PATH after linking; the driver
    # runs it itself, with the passes WASIX needs. (On a compile it is an unused argument,
    # which -Werror builds refuse.)
    link = 'case " $* " in *" -c "*|*" -E "*|*" -S "*|*" -M "*|*" -MM "*) l=;; *) l=--no-wasm-opt;; esac\n'
    scripts = {
        "clang": f'{link}exec {z} clang -resource-dir={rd} -Wno-deprecated $l "$@"',
        # zig has no `clang++` command: clang's own option picks the C++ driver.
        "clang++": f'{link}exec {z} clang --driver-mode=g++ -resource-dir={rd} -Wno-deprecated $l "$@"',
        "wasm-ld": f'exec {z} wasm-ld "$@"',
        "llvm-ar": f'exec {z} ar "$@"',
        "llvm-ranlib": f'exec {z} ranlib "$@"',
        "llvm-nm": _nm_script(),
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)


def _nm_script() -> str:
    names = " ".join(["llvm-nm", *(f"llvm-nm-{v}" for v in range(30, 13, -1))])
    return (f'for n in {names}; do command -v "$n" >/dev/null && exec "$n" "$@"; done\n'
            'echo "llvm-nm: zig has no nm and no LLVM nm is on PATH (apt-get install llvm)" >&2; exit 127')  # fmt: skip
