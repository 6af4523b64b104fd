"""What a WebAssembly module imports and exports, and whether it is WASIX or WASI.

Wasmer tells a WASIX module from a plain WASI one by its imports: a WASIX module imports
from ``wasix_32v1`` (or ``wasix_64v1``). The module is read with PyPI's ``wasmtime``
(threads and shared memory enabled, as WASIX modules use them), not a hand-written parser.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import WasixError

WASIX_MODULES = ("wasix_32v1", "wasix_64v1")
WASI_P1_MODULES = ("wasi_snapshot_preview1", "wasi_unstable")
_MAGIC = b"\0asm"
#: Modules past 4 GiB cannot be loaded by wasm32 engines; anything larger is refused unread.
MAX_MODULE_SIZE = 4 << 30


@dataclass
class ModuleInfo:
    #: Import module -> imported names, in the module's order.
    imports: dict[str, list[str]]
    #: ``(name, kind)`` of each export; kind is func, global, memory or table.
    exports: list[tuple[str, str]]
    #: Each memory: min/max (64 KiB pages; max None if unbounded), shared, imported, 64-bit,
    #: and where it comes from (``module``/``name`` if imported, ``export`` if exported).
    memories: list[dict]
    #: "WASIX", "WASI preview 1" or "neither".
    verdict: str
    #: ``(module, name, kind)`` of each import (the kinds behind :attr:`imports`).
    import_kinds: list[tuple[str, str, str]] = field(default_factory=list)
    path: str = ""
    size: int = 0


def _kind(extern_type: object) -> str:
    import wasmtime

    for cls, kind in (
        (wasmtime.FuncType, "func"),
        (wasmtime.MemoryType, "memory"),
        (wasmtime.GlobalType, "global"),
        (wasmtime.TableType, "table"),
    ):
        if isinstance(extern_type, cls):
            return kind
    return type(extern_type).__name__.removesuffix("Type").lower() or "unknown"


def _memory(memory_type: object, **where: object) -> dict:
    limits = memory_type.limits  # type: ignore[attr-defined]
    return {
        "min": limits.min,
        "max": limits.max,
        "shared": bool(memory_type.is_shared),  # type: ignore[attr-defined]
        "memory64": bool(memory_type.is_64),  # type: ignore[attr-defined]
        **where,
    }


def _engine() -> object:
    import wasmtime

    config = wasmtime.Config()
    config.wasm_threads = True  # WASIX modules import a shared memory
    config.shared_memory = True
    for proposal in (
        "wasm_bulk_memory",
        "wasm_exceptions",
        "wasm_simd",
        "wasm_tail_call",
        "wasm_multi_memory",
        "wasm_memory64",
        "wasm_reference_types",
    ):
        if hasattr(config, proposal):
            setattr(config, proposal, True)
    config.cranelift_opt_level = "none"  # we only read the module's interface: compile fast
    return wasmtime.Engine(config)


def verdict_for(import_modules: list[str] | set[str]) -> str:
    """The verdict for a set of import modules: WASIX, WASI preview 1 or neither."""
    names = set(import_modules)
    if names & set(WASIX_MODULES):
        return "WASIX"
    if names & set(WASI_P1_MODULES):
        return "WASI preview 1"
    return "neither"


def _read_module_file(path: Path) -> bytes:
    """The bytes of a regular file, read only if it starts like a module and is not larger
    than a module can be. Devices (``/dev/zero``), FIFOs and directories are refused
    without reading: opened non-blocking, so a FIFO without a writer cannot hang us."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise WasixError(f"inspect: cannot read {path}: {exc.strerror or exc}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise WasixError(f"inspect: {path} is not a regular file; give the path of a .wasm file")
    with os.fdopen(fd, "rb") as fh:
        if st.st_size > MAX_MODULE_SIZE:
            raise WasixError(
                f"inspect: {path} is {st.st_size:,} bytes, larger than any module a 32-bit "
                f"engine loads ({MAX_MODULE_SIZE:,}); not a module"
            )
        head = fh.read(8)
        if not head.startswith(_MAGIC):
            return head  # the caller names what it starts with
        return head + fh.read(st.st_size - len(head))


def inspect_module(path: Path) -> ModuleInfo:
    """Read ``path`` and list its imports, exports and memories, with a WASIX/WASI verdict.

    Raises :class:`WasixError` (with the path and the reason) for a missing file or input
    that is not a valid WebAssembly module.
    """
    import wasmtime

    path = Path(path)
    data = _read_module_file(path)
    if not data.startswith(_MAGIC):
        head = data[:8].hex(" ") if data else "an empty file"
        raise WasixError(
            f"inspect: {path} is not a WebAssembly module (it does not start with \\0asm; starts with {head})"
        )
    if data[4:8] != b"\x01\0\0\0":
        raise WasixError(
            f"inspect: {path} is a WebAssembly component or an unknown binary version "
            f"({data[4:8].hex(' ')}); only core modules (version 1) are supported"
        )
    try:
        module = wasmtime.Module(_engine(), data)  # type: ignore[arg-type]
    except wasmtime.WasmtimeError as exc:
        reason = " ".join(str(exc).split())
        raise WasixError(f"inspect: {path} is not a valid WebAssembly module: {reason}") from None

    imports: dict[str, list[str]] = {}
    kinds: list[tuple[str, str, str]] = []
    memories: list[dict] = []
    for imp in module.imports:
        name = imp.name or ""
        kind = _kind(imp.type)
        imports.setdefault(imp.module, []).append(name)
        kinds.append((imp.module, name, kind))
        if kind == "memory":
            memories.append(_memory(imp.type, imported=True, module=imp.module, name=name))
    exports: list[tuple[str, str]] = []
    for exp in module.exports:
        kind = _kind(exp.type)
        exports.append((exp.name, kind))
        if kind == "memory":
            memories.append(_memory(exp.type, imported=False, export=exp.name))
    return ModuleInfo(
        imports=imports,
        exports=exports,
        memories=memories,
        verdict=verdict_for(list(imports)),
        import_kinds=kinds,
        path=str(path),
        size=len(data),
    )


def format_module_info(info: ModuleInfo) -> str:
    """Human-readable summary for ``wasix-build inspect``."""
    lines = []
    if info.path:
        lines.append(f"{info.path} ({info.size:,} bytes)")
    lines.append(f"verdict: {info.verdict}")
    kind_of = {(m, n): k for m, n, k in info.import_kinds}
    total = sum(len(v) for v in info.imports.values())
    lines.append(f"imports ({total}):")
    for module, names in info.imports.items():
        lines.append(f"  {module} ({len(names)}):")
        for name in names:
            kind = kind_of.get((module, name), "")
            lines.append(f"    {name}" + (f" ({kind})" if kind and kind != "func" else ""))
    other = [m for m in info.imports if m not in WASIX_MODULES + WASI_P1_MODULES]
    if other and info.verdict != "neither":
        lines.append(f"  note: also imports from {', '.join(other)} (the host must provide these)")
    lines.append(f"exports ({len(info.exports)}):")
    for name, kind in info.exports:
        lines.append(f"  {name} ({kind})")
    lines.append(f"memories ({len(info.memories)}):")
    for mem in info.memories:
        where = (
            f"imported {mem['module']}.{mem['name']}"
            if mem.get("imported")
            else f"exported as {mem.get('export')}"
        )
        limit = "unbounded" if mem["max"] is None else f"{mem['max']}"
        flags = ", shared" if mem["shared"] else ""
        flags += ", 64-bit" if mem.get("memory64") else ""
        lines.append(f"  {where}: {mem['min']}..{limit} pages of 64 KiB{flags}")
    return "\n".join(lines)
