"""The recipe model: every table of ``recipe.toml``, each key's type, default and meaning, once.

Each table is a frozen dataclass whose fields are declared with :func:`setting`: the Python
type is the TOML type, the default is the value the loader fills in (the code reads it from
the loaded object and never restates it) and the metadata holds the documentation. From that
one declaration come

- validation: :func:`load` checks a TOML table (unknown keys named with the closest valid one,
  as ``difflib`` finds it; wrong types; missing required keys; values outside their choices)
  and returns the dataclass, raising the caller's error type (``RecipeError``, ``CasesError``)
  with the plugin, the key and the problem;
- the field tables of docs/plugins.md (``python -m wasix_backend.schema_docs``);
- the JSON schema of ``recipe.toml`` and ``cases.toml`` (``wasix-build schema``).

Each build system declares its own ``[build]`` settings when it registers
(:class:`wasix_backend.registry.BuildSystem` ``settings``), as a :class:`Section` of
:class:`Field` s written with the TOML type's name and the default as the docs show it (the
build system's module is part of its packages' store keys, so its code reads its defaults
itself); a table outside the known ones is accepted only when a plugin claims it
(``load_recipe(path, extra_tables=["mytool"])``).
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import tomllib
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, Union, cast, get_args, get_origin, get_type_hints

from .errors import RecipeError

#: Makes the error of a bad value: ``error(plugin, "table.key", problem)``.
ErrorType = Callable[[str, str, str], Exception]
T = TypeVar("T")

#: The type names used in the docs, each with its check (only the one asked for runs).
_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "list of strings": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    "bool": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "table of strings": lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
    "table": lambda v: isinstance(v, dict),
    "list of tables": lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v),
    "table of tables": lambda v: isinstance(v, dict) and all(isinstance(x, dict) for x in v.values()),
}


class _Sentinel:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: The default of a key that must be given.
REQUIRED: Any = _Sentinel("REQUIRED")
#: The default of a key whose value the code works out (the docs say how, in words).
COMPUTED: Any = _Sentinel("COMPUTED")


def setting(doc: str, *, default: Any = REQUIRED, shown: str | None = None, key: str | None = None) -> Any:
    """Declare one key of a table: its meaning (Markdown), its default and, where the value the
    loader fills in does not say it all (``None`` standing for "worked out from other keys"),
    how the docs show the default. ``key`` is the TOML name when it is not the attribute's
    with ``-`` for ``_``. A list or table default is copied for each loaded table."""
    meta = {"doc": doc, "shown": shown, "key": key, "value": default}
    if default is REQUIRED:
        return field(metadata=meta)
    if isinstance(default, list | dict):
        return field(default_factory=functools.partial(copy.deepcopy, default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Field:
    """One key of a table: its TOML type, default (as the docs show it) and meaning.

    ``value`` is the typed default (:data:`REQUIRED`, or :data:`COMPUTED` where the code works
    it out); ``attr`` the dataclass attribute it loads into (tables declared with
    :func:`setting`)."""

    name: str
    type: str
    default: str
    doc: str
    choices: tuple[str, ...] = ()
    #: For a "table", "list of tables" or "table of tables": the keys of the table or of each
    #: entry (fields whose default is "required" must be given).
    entry: Section | None = None
    value: Any = COMPUTED
    attr: str = ""

    @property
    def required(self) -> bool:
        return self.value is REQUIRED or self.default == "required"

    def default_value(self) -> Any:
        """The typed default: declared, else read from the docs' text where that is one TOML
        literal in backquotes (``"`[]`"``, ``'`"install"`'``), else :data:`COMPUTED`."""
        if self.value is not COMPUTED or self.required:
            return REQUIRED if self.required else self.value
        text = self.default
        if text.startswith("`") and text.endswith("`") and text.count("`") == 2:
            try:
                return tomllib.loads(f"v = {text[1:-1]}")["v"]
            except tomllib.TOMLDecodeError:
                pass
        return COMPUTED

    def _problem(self, value: Any) -> str | None:
        """What is wrong with the shape of ``value``, or ``None``."""
        return None if _TYPE_CHECKS[self.type](value) else f"expected {self.type}, got {type(value).__name__} {value!r}"

    def check_type(self, plugin: str, where: str, value: Any, error: ErrorType = RecipeError) -> None:
        """``value`` has this key's type (its entries not looked into)."""
        problem = self._problem(value)
        if problem:
            raise error(plugin, where, problem)

    def check(self, plugin: str, where: str, value: Any, error: ErrorType = RecipeError) -> None:
        """``value`` has this key's type, its entries their keys, and is one of the choices."""
        self.check_type(plugin, where, value, error)
        if self.entry is not None:
            entries: Iterable[tuple[str, Any]] = (
                [(where, value)] if self.type == "table"
                else [(f"{where}[{i}]", v) for i, v in enumerate(value)] if self.type == "list of tables"
                else [(f"{where}.{k}", v) for k, v in value.items()]
            )  # fmt: skip
            for path, item in entries:
                check_table(plugin, path, item, self.entry, error=error)
        for item in value if self.type == "list of strings" else [value]:
            if self.choices and item not in self.choices:
                raise error(plugin, where, f"{item!r} is not one of {', '.join(self.choices)}")

    def convert(self, plugin: str, where: str, value: Any, error: ErrorType) -> Any:
        """A checked value as its dataclass attribute holds it: nested tables loaded."""
        cls = self.entry.cls if self.entry is not None else None
        if cls is None:
            return value
        if self.type == "table":
            return load(cls, plugin, where, value, error=error)
        if self.type == "list of tables":
            return [load(cls, plugin, f"{where}[{i}]", v, error=error) for i, v in enumerate(value)]
        return {k: load(cls, plugin, f"{where}.{k}", v, error=error) for k, v in value.items()}

    def doc_type(self) -> str:
        if self.choices and self.type == "string":
            return " \\| ".join(f'`"{c}"`' for c in self.choices)
        return self.type


@dataclass(frozen=True)
class Section:
    """A table of ``recipe.toml`` (``name`` as written there, e.g. ``build`` or ``source``);
    ``cls`` the dataclass it loads into, when it was declared as one."""

    name: str
    fields: tuple[Field, ...]
    cls: type | None = None

    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def get(self, key: str) -> Field | None:
        return next((f for f in self.fields if f.name == key), None)


def _toml_type(hint: Any) -> tuple[str, tuple[str, ...], type | None]:
    """A field's annotation as (TOML type name, choices, dataclass of its table/entries)."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if set(rest) == {int, float}:
            return "number", (), None
        (hint,) = rest
        origin, args = get_origin(hint), get_args(hint)
    if hint is str:
        return "string", (), None
    if hint is bool:
        return "bool", (), None
    if hint is int:
        return "integer", (), None
    if hint is float:
        return "number", (), None
    if origin is Literal:
        return "string", tuple(args), None
    if dataclasses.is_dataclass(hint):
        return "table", (), hint  # type: ignore[return-value]
    if origin is list:
        (item,) = args
        if item is str or get_origin(item) is Literal:
            return "list of strings", tuple(get_args(item)), None
        return "list of tables", (), item if dataclasses.is_dataclass(item) else None  # type: ignore[return-value]
    if origin is dict:
        value = args[1]
        if value is str:
            return "table of strings", (), None
        if dataclasses.is_dataclass(value):
            return "table of tables", (), value  # type: ignore[return-value]
        return "table", (), None
    raise TypeError(f"no TOML type for {hint!r}")


def _shown(value: Any) -> str:
    """A default as the docs show it: a TOML literal in backquotes."""
    if value is None:
        return "—"
    if dataclasses.is_dataclass(value):
        return "`{}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, list):
        return "`[" + ", ".join(f'"{v}"' for v in value) + "]`"
    if isinstance(value, dict) and not value:
        return "`{}`"
    return f"`{value}`"


@functools.cache
def section_of(cls: type, name: str = "") -> Section:
    """The :class:`Section` of a dataclass declared with :func:`setting`."""
    hints = get_type_hints(cls)
    fields: list[Field] = []
    for f in dataclasses.fields(cls):
        meta = f.metadata
        kind, choices, entry = _toml_type(hints[f.name])
        value = meta["value"]
        key = meta["key"] or f.name.replace("_", "-")
        shown = meta["shown"] or ("required" if value is REQUIRED else _shown(value))
        sub = section_of(entry, f"{name}.{key}" if name else key) if entry is not None else None
        fields.append(Field(key, kind, shown, meta["doc"], choices, sub, value, f.name))
    return Section(name or cls.__name__, tuple(fields), cls)


def unknown_key(plugin: str, where: str, key: str, known: Iterable[str], hint: str = "",
                error: ErrorType = RecipeError) -> Exception:
    """The error for a key nobody reads: the closest known name, else the list of them."""
    known = sorted(known)
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        text = f"unknown key {key!r}: did you mean {close[0]!r}?"
    else:
        text = f"unknown key {key!r} (known: {', '.join(known) or 'none'})"
    return error(plugin, f"{where}.{key}" if where else key, text + (f" {hint}" if hint else ""))


def check_keys(plugin: str, where: str, table: Mapping[str, Any], *sections: Section, hint: str = "",
               error: ErrorType = RecipeError) -> None:
    """Every key of ``table`` is declared by one of ``sections``."""
    fields = {f.name for s in sections for f in s.fields}
    for key in table:
        if key not in fields:
            raise unknown_key(plugin, where, key, fields, hint, error)


def check_table(plugin: str, where: str, table: Any, *sections: Section, hint: str = "",
                error: ErrorType = RecipeError) -> None:
    """The one validator: ``table`` is a table, each of its keys is declared by one of
    ``sections`` with the declared type, and every required key is there."""
    if not isinstance(table, dict):
        raise error(plugin, where, f"expected table, got {type(table).__name__} {table!r}")
    check_keys(plugin, where, table, *sections, hint=hint, error=error)
    for section in sections:
        for f in section.fields:
            path = f"{where}.{f.name}" if where else f.name
            if f.name in table:
                f.check(plugin, path, table[f.name], error)
            elif f.required:
                raise error(plugin, path, f"required (expected {f.type})")


def load(cls: type[T], plugin: str, where: str, data: Any, *, error: ErrorType = RecipeError) -> T:
    """Check ``data`` against the dataclass ``cls`` (:func:`check_table`) and return it as one:
    absent keys get their declared defaults, nested tables their dataclasses."""
    section = section_of(cast(type, cls))
    check_table(plugin, where, data, section, error=error)
    values = {f.attr: f.convert(plugin, f"{where}.{f.name}" if where else f.name, data[f.name], error)
              for f in section.fields if f.name in data}  # fmt: skip
    return cls(**values)


def read_settings(cls: type[T], build: Mapping[str, Any]) -> T:
    """A build system's own ``[build]`` settings as ``cls`` (declared with :func:`setting` and
    registered as ``BuildSystem(settings=section_of(cls))``): its keys taken from ``build``
    (a recipe's ``[build]``, checked when the recipe loaded; the shared keys are left out),
    its declared defaults for the others."""
    section = section_of(cast(type, cls))
    return load(cls, "", "build", {k: v for k, v in build.items() if section.get(k) is not None})


# ---------------------------------------------------------------------------- recipe.toml ---
#: The build system of a recipe that names none.
DEFAULT_BUILD_SYSTEM = "autotools"


@dataclass(frozen=True, kw_only=True)
class PackageTable:
    """``[package]``."""

    name: str = setting("lower-case letters, digits, `.`, `-`, `_`; the name used on the command line and by dependents")
    version: str = setting("upstream's version string, kept as written (`7.2`, `1.07.1`, `590`); it must read as a PEP 440 version, from which each output derives its own ([Versions](#versions))")
    kind: Literal["program", "library"] = setting("a program must name at least one binary in `[outputs] bin`", default="program")
    description: str = setting("one line; used by Wasmer packages and wheels", default="")
    license: str = setting("an SPDX identifier", default="")
    homepage: str = setting("", default="")
    patches: list[str] | None = setting("same as the top-level `patches` (older spelling)", default=None)


@dataclass(frozen=True, kw_only=True)
class SourceTable:
    """One ``[[source]]``."""

    sha256: str = setting("64 hex digits; nothing is used before it matches", default="", shown="required (archives)")
    url: str | None = setting("where to download it", default=None)
    urls: list[str] = setting("more places, tried in order after `url`", default=[])
    file: str = setting("the archive's file name (looked up in `$WASIX_MIRROR` and the Debian pool); a plain name, no `/`, `\\` or `..`",
                        default="", shown="last part of the first URL")
    debian: str = setting("a Debian *source* package whose pool holds `file` (needs `file`)", default="")
    subdir: str = setting("unpack into this sub-folder of the source tree (several sources)", default="")
    strip: int = setting("leading path components removed when unpacking", default=1)
    git: str = setting("a repository URL, instead of an archive (needs `rev`)", default="", shown="—")
    rev: str = setting("the full commit id (40 or 64 hex digits) a `git` source is pinned to", default="", shown="—")


@dataclass(frozen=True, kw_only=True)
class DependenciesTable:
    """``[dependencies]``."""

    build: list[str] = setting('recipes built before this one: `"ncurses"`, `"ncurses>=6.4"`, `"zlib>=1.2,<2"`', default=[])
    run: list[str] = setting("recipes whose commands this one's programs run (`tar` runs `gzip`, `gawk`'s `system()` runs `sh`): every output brings them into the same sandbox, by name and as `/bin/NAME` ([Runtime dependencies](#runtime-dependencies)); built along, but not part of the store key (a `bundle` copies them: there they are)", default=[])


@dataclass(frozen=True, kw_only=True)
class OutputsTable:
    """``[outputs]``."""

    bin: list[str] = setting("programs, installed as `bin/NAME.wasm` (required for a program)", default=[])
    lib: list[str] = setting("files that must exist under `lib/` (`libz.a`)", default=[])
    include: list[str] = setting("files that must exist under `include/` (`zlib.h`, `ncursesw/curses.h`)", default=[])
    commands: dict[str, str] = setting("command name → binary (for Wasmer packages and wheel console scripts)", default={}, shown="one per binary")
    data: dict[str, str] = setting("guest path → path inside the install prefix: files the program reads at a path built into it, which the Wasmer package, the `.webc` and the wheel show it at that guest path ([Data files](#data-files))", default={})
    sandbox_commands: dict[str, str] = setting("command name → binary: commands other packages' programs run inside the sandbox (`sh = \"bash\"`), in the Wasmer package but never console scripts on the host", default={})
    sandbox_scripts: dict[str, str] = setting("command name → a `/bin/sh` script body, installed as `/usr/bin/NAME` inside the sandbox (`echo = 'echo \"$@\"'`: a shell's builtin as a program others exec)", default={})
    network: bool = setting("the program is a network client or server: its wheel's commands run with the host's network (wasmer-sdk `network=\"host\"`, `wasmer run --net`); without it the sandbox has no sockets to the outside", default=False)


@dataclass(frozen=True, kw_only=True)
class BuildCommonTable:
    """The ``[build]`` keys every build system shares (the engine and the finalize step read
    them; as build code they restate their defaults, which ``tests/test_schema.py`` compares
    with these)."""

    system: str = setting("which registered build system builds it ([Build systems](#build-system-settings))", default=DEFAULT_BUILD_SYSTEM)
    in_tree: bool = setting("build in the source tree (`build_dir == source_dir`)", default=False)
    env: dict[str, str] = setting("environment variables for every phase (added last, so they win)", default={})
    wasm_opt: bool = setting("run the toolchain's `wasm-opt` on binaries when it has one", default=True)
    wasm_opt_flags: list[str] = setting("its flags", default=["-Os", "--strip-debug"])
    toolchain: str = setting("`host-llvm`: built by the host's clang, not through `wasixcc` (the wasix-libc sysroot itself)", default="wasixcc")
    providers: list[str] | None = setting("obsolete, accepted and ignored: `wasix` is the only provider since the zig provider was retired", default=None, shown="any")
    host_tools: list[str] = setting("programs of the build machine its build runs besides its build system's own (e.g. `[\"tclsh\"]`); where one is not on `PATH` it is skipped, naming the Debian package that has it", default=[])


@dataclass(frozen=True, kw_only=True)
class TestTable:
    """``[test]``."""

    __test__ = False  # not a pytest test class

    args: list[str] = setting("arguments of each binary in a behaviour test of the plugin's own", default=[])
    stdin: str = setting("its standard input", default="")
    expect_exit: int = setting("its expected exit status", default=0)
    expect_stdout_contains: str = setting("text its standard output must contain", default="")


@dataclass(frozen=True, kw_only=True)
class UpdateTable:
    """``[update]``."""

    listing: str = setting("a page listing releases (`{version}`, `{major}`, `{minor}` filled in)")
    regex: str | None = setting("group 1 of each match is a version", default=None, shown="the template's file name")
    url_template: str = setting("the new source URL (`{version}`, `{major}`, `{minor}`)")
    file_template: str | None = setting("a new `file` for sources that have one", default=None)
    pre_releases: bool = setting("consider pre-releases", default=False)
    source: int = setting("which `[[source]]` to update", default=0)


@dataclass(frozen=True, kw_only=True)
class WasmerTable:
    """``[wasmer]``."""

    namespace: str = setting("the Wasmer package's namespace (`namespace/name`)", default="wasmer", shown="`wasmer`")
    entrypoint: str | None = setting("the package's entrypoint command", default=None, shown="the first command")


@dataclass(frozen=True, kw_only=True)
class RecipeFile:
    """A whole ``recipe.toml``: its tables and the ``patches`` list."""

    package: PackageTable = setting("[`[package]`](#package)")
    source: list[SourceTable] = setting("[`[[source]]`](#source)", default=[])
    dependencies: DependenciesTable = setting("[`[dependencies]`](#dependencies)", default=DependenciesTable())
    build: dict[str, Any] = setting("[`[build]`](#build)", default={})
    outputs: OutputsTable = setting("[`[outputs]`](#outputs)", default=OutputsTable())
    patches: list[str] | None = setting("patch files relative to the plugin folder, applied in this order", default=None,
                                        shown="every `patches/*.patch`")
    test: TestTable | None = setting("[`[test]`](#test)", default=None)
    update: UpdateTable | None = setting("[`[update]`](#update)", default=None)
    wasmer: WasmerTable | None = setting("[`[wasmer]`](#wasmer)", default=None)


PACKAGE = section_of(PackageTable, "package")
SOURCE = section_of(SourceTable, "source")
DEPENDENCIES = section_of(DependenciesTable, "dependencies")
OUTPUTS = section_of(OutputsTable, "outputs")
#: ``[build]`` keys every build system shares.
BUILD_COMMON = section_of(BuildCommonTable, "build")
#: Tables that tools of this project read; any other table must be claimed by a plugin.
EXTRA_TABLES: dict[str, Section] = {"test": section_of(TestTable, "test"), "update": section_of(UpdateTable, "update"),
                                    "wasmer": section_of(WasmerTable, "wasmer")}
#: The top level: tables and the ``patches`` list.
TOP = section_of(RecipeFile, "top level")
