"""wasm-opt's passes through binaryen's C API, from PyPI's ``icpp-binaryen`` (no wasm-opt binary).

``icpp-binaryen`` ships binaryen's whole C API as one shared library; we open it with cffi
(our own declarations: the package's own cdef lacks the pass calls) and run the same passes a
``wasm-opt`` command line asks for. Only the part of wasm-opt's command line the engine and
the driver use is understood — features, ``--asyncify`` with ``--pass-arg``, ``-O`` levels,
``--strip-*`` and ``-o`` — anything else is refused (status 2), never silently skipped.

Builds call it as a program (:func:`program`: a small script named ``wasm-opt``), so the
driver, the baked wrappers and the engine's size pass run it like the system's ``wasm-opt``.
Chosen when no ``wasm-opt`` is on the build PATH, or with ``WASIXCC_BINARYEN_LOCATION=pypi``.
Kept light on imports: the driver runs it after every link. Always a separate process:
binaryen ends the process on a module it cannot read (its ``Fatal``).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The value of ``WASIXCC_BINARYEN_LOCATION`` that selects this runner.
PYPI = "pypi"
PACKAGE = "icpp-binaryen"

_CDEF = """
typedef struct BinaryenModule *BinaryenModuleRef;
typedef uint32_t BinaryenFeatures;
BinaryenModuleRef BinaryenModuleRead(char *input, size_t inputSize);
void BinaryenModuleDispose(BinaryenModuleRef module);
bool BinaryenModuleValidate(BinaryenModuleRef module);
BinaryenFeatures BinaryenModuleGetFeatures(BinaryenModuleRef module);
void BinaryenModuleSetFeatures(BinaryenModuleRef module, BinaryenFeatures features);
void BinaryenModuleRunPasses(BinaryenModuleRef module, const char **passes, uint32_t numPasses);
void BinaryenModuleOptimize(BinaryenModuleRef module);
void BinaryenSetOptimizeLevel(int level);
void BinaryenSetShrinkLevel(int level);
void BinaryenSetDebugInfo(bool on);
void BinaryenSetPassArgument(const char *name, const char *value);
void BinaryenClearPassArguments(void);
BinaryenFeatures BinaryenFeatureSignExt(void);
BinaryenFeatures BinaryenFeatureMutableGlobals(void);
BinaryenFeatures BinaryenFeatureAtomics(void);
BinaryenFeatures BinaryenFeatureBulkMemory(void);
BinaryenFeatures BinaryenFeatureNontrappingFPToInt(void);
BinaryenFeatures BinaryenFeatureSIMD128(void);
BinaryenFeatures BinaryenFeatureExceptionHandling(void);
BinaryenFeatures BinaryenFeatureTailCall(void);
BinaryenFeatures BinaryenFeatureReferenceTypes(void);
BinaryenFeatures BinaryenFeatureMultivalue(void);
BinaryenFeatures BinaryenFeatureMemory64(void);
BinaryenFeatures BinaryenFeatureExtendedConst(void);
BinaryenFeatures BinaryenFeatureAll(void);
typedef struct { void *binary; size_t binaryBytes; char *sourceMap; } BinaryenModuleAllocateAndWriteResult;
BinaryenModuleAllocateAndWriteResult BinaryenModuleAllocateAndWrite(BinaryenModuleRef module, const char *sourceMapUrl);
void free(void *ptr);
"""

#: ``--enable-NAME`` -> the C API's feature function (wasm-opt's names).
_FEATURES = {
    "sign-ext": "SignExt", "mutable-globals": "MutableGlobals", "threads": "Atomics",
    "bulk-memory": "BulkMemory", "nontrapping-float-to-int": "NontrappingFPToInt", "simd": "SIMD128",
    "exception-handling": "ExceptionHandling", "tail-call": "TailCall", "reference-types": "ReferenceTypes",
    "multivalue": "Multivalue", "memory64": "Memory64", "extended-const": "ExtendedConst",
}  # fmt: skip
#: Passes that take no arguments and that the engine's recipes may name (``--NAME``).
_PASSES = {
    "asyncify",
    "fpcast-emu",
    "strip-debug",
    "strip-dwarf",
    "strip-producers",
    "strip-target-features",
    "strip",
}
#: ``-O`` flag -> (optimize level, shrink level), as wasm-opt sets them.
_LEVELS = {
    "-O": (2, 0),
    "-O1": (1, 0),
    "-O2": (2, 0),
    "-O3": (3, 0),
    "-O4": (4, 0),
    "-Os": (2, 1),
    "-Oz": (2, 2),
}


class UsageError(Exception):
    """A command line this runner does not understand."""


@dataclass
class Job:
    """One wasm-opt command line: features to enable, steps in order, input and output."""

    input: str
    output: str | None
    features: list[str] = field(default_factory=list)
    #: ``("pass", name)`` or ``("optimize", level, shrink)``, in command-line order.
    steps: list[tuple[Any, ...]] = field(default_factory=list)
    pass_args: dict[str, str] = field(default_factory=dict)
    debug_info: bool = False


def parse_args(argv: Sequence[str]) -> Job:
    """The :class:`Job` a wasm-opt command line asks for; :class:`UsageError` for anything
    this runner cannot do exactly as wasm-opt would."""
    inputs: list[str] = []
    output: str | None = None
    job = Job(input="", output=None)
    it = iter(argv)
    for arg in it:
        if arg == "-o":
            output = next(it, None)
            if output is None:
                raise UsageError("-o needs a file name")
        elif arg.startswith("--enable-"):
            name = arg.removeprefix("--enable-")
            if name not in _FEATURES:
                raise UsageError(f"unknown feature {arg}")
            job.features.append(name)
        elif arg.startswith("--pass-arg="):
            key, sep, value = arg.removeprefix("--pass-arg=").partition("@")
            if not key:
                raise UsageError(f"{arg}: expected --pass-arg=KEY@VALUE")
            job.pass_args[key] = value if sep else "1"
        elif arg in _LEVELS:
            job.steps.append(("optimize", *_LEVELS[arg]))
        elif arg == "-O0":
            job.steps.append(("optimize", 0, 0))
        elif arg in ("-g", "--debuginfo"):
            job.debug_info = True
        elif arg.startswith("--") and arg[2:] in _PASSES:
            job.steps.append(("pass", arg[2:]))
        elif arg.startswith("-") and arg != "-":
            raise UsageError(f"unsupported option {arg} (the PyPI binaryen runner knows: -o, -O*, -g, "
                             f"--enable-*, --pass-arg=, --{', --'.join(sorted(_PASSES))})")  # fmt: skip
        else:
            inputs.append(arg)
    if len(inputs) != 1:
        raise UsageError(f"expected one input module, got {len(inputs)}")
    job.input, job.output = inputs[0], output
    return job


@functools.cache
def library() -> Path | None:
    """``libbinaryen`` of the installed ``icpp-binaryen`` (found without importing the
    package, which would open the library a second time)."""
    spec = importlib.util.find_spec("icpp_binaryen")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "lib"
    for name in ("libbinaryen.so", "libbinaryen.dylib"):
        if (folder / name).is_file():
            return folder / name
    return None


@functools.cache
def _lib_digest(path: Path, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def identity() -> str:
    """Binaryen's version, the package's version and the library's sha256 (for store keys)."""
    lib = library()
    if lib is None:
        return f"binaryen-c unavailable ({PACKAGE} not installed)"
    st = lib.stat()
    version = (
        (lib.parent / "version.txt").read_text().strip()
        if (lib.parent / "version.txt").is_file()
        else "?"
    )
    return (f"binaryen {version} C API ({PACKAGE} {importlib.metadata.version(PACKAGE)}; "
            f"{lib.name} sha256 {_lib_digest(lib, st.st_size, st.st_mtime_ns)[:16]})")  # fmt: skip


@functools.cache
def _open() -> tuple[Any, Any]:
    from cffi import FFI  # type: ignore[import-untyped,unused-ignore]

    lib = library()
    if lib is None:
        raise UsageError(f"the {PACKAGE} package is not installed (pip install {PACKAGE})")
    ffi = FFI()
    ffi.cdef(_CDEF)
    return ffi, ffi.dlopen(str(lib))


def run(job: Job) -> bytes:
    """Run ``job`` on its input module; the result's bytes (written to ``job.output`` if set).

    Raises :class:`UsageError` when the input is no valid module or the result does not
    validate (nothing is written then)."""
    ffi, lib = _open()
    data = Path(job.input).read_bytes()
    buf = ffi.new("char[]", data)
    module = lib.BinaryenModuleRead(buf, len(data))
    if module == ffi.NULL:
        raise UsageError(f"{job.input}: binaryen could not read the module")
    try:
        # As wasm-opt: the features the module declares, the default ones and those asked for.
        features = (
            lib.BinaryenModuleGetFeatures(module)
            | lib.BinaryenFeatureSignExt()
            | lib.BinaryenFeatureMutableGlobals()
        )
        for name in job.features:
            features |= getattr(lib, f"BinaryenFeature{_FEATURES[name]}")()
        lib.BinaryenModuleSetFeatures(module, features)
        if not lib.BinaryenModuleValidate(module):
            raise UsageError(
                f"{job.input}: the input module does not validate (binaryen printed why)"
            )
        lib.BinaryenClearPassArguments()
        keep = []  # the C strings must outlive the calls
        for key, value in job.pass_args.items():
            k, v = ffi.new("char[]", key.encode()), ffi.new("char[]", value.encode())
            keep += [k, v]
            lib.BinaryenSetPassArgument(k, v)
        lib.BinaryenSetDebugInfo(job.debug_info)
        # wasm-opt's levels are global: the last -O flag's apply to every pass (asyncify
        # optimises what it adds by them), no -O at all means 0. The C API's default is -Os.
        levels = [s[1:] for s in job.steps if s[0] == "optimize"]
        lib.BinaryenSetOptimizeLevel(levels[-1][0] if levels else 0)
        lib.BinaryenSetShrinkLevel(levels[-1][1] if levels else 0)
        for step in job.steps:
            if step[0] == "pass":
                name = ffi.new("char[]", step[1].encode())
                keep.append(name)
                lib.BinaryenModuleRunPasses(module, ffi.new("const char *[]", [name]), 1)
            elif step[1] > 0:  # as wasm-opt: each -O flag runs the default pipeline where it stands
                lib.BinaryenModuleOptimize(module)
        if not lib.BinaryenModuleValidate(module):
            raise UsageError(
                f"{job.input}: the module does not validate after the passes (binaryen printed why)"
            )
        result = lib.BinaryenModuleAllocateAndWrite(module, ffi.NULL)
        try:
            out = bytes(ffi.buffer(result.binary, result.binaryBytes))
        finally:
            lib.free(result.binary)
            if result.sourceMap != ffi.NULL:
                lib.free(result.sourceMap)
    finally:
        lib.BinaryenModuleDispose(module)
    if job.output:
        _write(Path(job.output), out)
    return out


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)  # never a half-written module under the final name
    finally:
        tmp.unlink(missing_ok=True)


def program() -> Path | None:
    """A ``wasm-opt`` program running this module with this interpreter (``None`` without
    ``icpp-binaryen``). Content-addressed under the cache: one in use is never rewritten."""
    if library() is None:
        return None
    from ..paths import cache_root

    package_root = Path(__file__).resolve().parents[2]
    text = (f'#!/bin/sh\nPYTHONPATH="{package_root}${{PYTHONPATH:+:$PYTHONPATH}}" '
            f'exec "{sys.executable}" -m wasix_backend.toolchain.binaryen "$@"\n')  # fmt: skip
    folder = (
        cache_root() / "toolchain" / "binaryen-c" / hashlib.sha256(text.encode()).hexdigest()[:12]
    )
    path = folder / "wasm-opt"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".wasm-opt.{os.getpid()}"
        tmp.write_text(text)
        tmp.chmod(0o755)
        os.replace(tmp, path)
    return path


def is_program(path: Path) -> bool:
    """Whether ``path`` is a program made by :func:`program` (its identity is :func:`identity`,
    not the script's bytes, which name this machine's interpreter)."""
    return (
        path.name == "wasm-opt"
        and path.parent.parent.name == "binaryen-c"
        and path.parent.parent.parent.name == "toolchain"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``wasm-opt``'s command line (the part builds use)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:
        print(f"wasm-opt (PyPI) {identity()}")
        return 0
    try:
        run(parse_args(args))
    except UsageError as exc:
        print(f"wasm-opt (PyPI binaryen): {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"wasm-opt (PyPI binaryen): {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
