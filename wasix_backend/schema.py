"""The recipe schema: every table of ``recipe.toml``, its fields, their types and defaults.

One :class:`Section` per table. :func:`check_table` rejects unknown keys (naming the closest
valid one, as ``difflib`` finds it) and values of the wrong type; :mod:`wasix_backend.recipe`
then reads the checked values. The field tables of docs/plugins.md are generated from these
declarations (``python -m wasix_backend.schema_docs``), so the docs and the loader cannot
disagree.

Each build system declares its own ``[build]`` settings when it registers
(:class:`wasix_backend.registry.BuildSystem` ``settings``); a table
outside the known ones is accepted only when a plugin claims it
(``load_recipe(path, extra_tables=["mytool"])``).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import RecipeError

#: Type names used in the docs; each has a check below.
_TYPES = ("string", "list of strings", "bool", "integer", "table of strings", "table", "list of tables",
          "table of tables")


@dataclass(frozen=True)
class Field:
    """One key of a table: its TOML type, default (as the docs show it) and meaning."""

    name: str
    type: str
    default: str
    doc: str
    choices: tuple[str, ...] = ()
    #: For a "table of tables": the keys of each entry (fields whose default is "required"
    #: must be given).
    entry: Section | None = None

    def check(self, plugin: str, where: str, value: Any) -> None:
        ok = {
            "string": isinstance(value, str),
            "list of strings": isinstance(value, list) and all(isinstance(v, str) for v in value),
            "bool": isinstance(value, bool),
            "integer": isinstance(value, int) and not isinstance(value, bool),
            "table of strings": isinstance(value, dict) and all(isinstance(v, str) for v in value.values()),
            "table": isinstance(value, dict),
            "list of tables": isinstance(value, list) and all(isinstance(v, dict) for v in value),
            "table of tables": isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()),
        }[self.type]
        if not ok:
            raise RecipeError(plugin, where, f"expected {self.type}, got {type(value).__name__} {value!r}")
        if self.entry is not None:
            for name, item in value.items():
                check_table(plugin, f"{where}.{name}", item, self.entry)
                for f in self.entry.fields:
                    if f.default == "required" and f.name not in item:
                        raise RecipeError(plugin, f"{where}.{name}.{f.name}", "required")
        if self.choices and value not in self.choices:
            raise RecipeError(plugin, where, f"{value!r} is not one of {', '.join(self.choices)}")

    def doc_type(self) -> str:
        if self.choices:
            return " \\| ".join(f'`"{c}"`' for c in self.choices)
        return self.type


@dataclass(frozen=True)
class Section:
    """A table of ``recipe.toml`` (``name`` as written there, e.g. ``build`` or ``source``)."""

    name: str
    fields: tuple[Field, ...]

    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def get(self, key: str) -> Field | None:
        return next((f for f in self.fields if f.name == key), None)


def unknown_key(plugin: str, where: str, key: str, known: Iterable[str], hint: str = "") -> RecipeError:
    """The error for a key nobody reads: the closest known name, else the list of them."""
    known = sorted(known)
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        text = f"unknown key {key!r}: did you mean {close[0]!r}?"
    else:
        text = f"unknown key {key!r} (known: {', '.join(known) or 'none'})"
    return RecipeError(plugin, f"{where}.{key}" if where else key, text + (f" {hint}" if hint else ""))


def check_table(plugin: str, where: str, table: Mapping[str, Any], *sections: Section, hint: str = "") -> None:
    """Every key of ``table`` is declared by one of ``sections`` and has the declared type."""
    fields = {f.name: f for s in sections for f in s.fields}
    for key, value in table.items():
        field = fields.get(key)
        if field is None:
            raise unknown_key(plugin, where, key, fields, hint)
        field.check(plugin, f"{where}.{key}" if where else key, value)


PACKAGE = Section("package", (
    Field("name", "string", "required", "lower-case letters, digits, `.`, `-`, `_`; the name used on the command line and by dependents"),
    Field("version", "string", "required", "upstream's version string, kept as written (`7.2`, `1.07.1`, `590`); it must read as a PEP 440 version, from which each output derives its own ([Versions](#versions))"),
    Field("kind", "string", '`"program"`', "a program must name at least one binary in `[outputs] bin`", ("program", "library")),
    Field("description", "string", '`""`', "one line; used by Wasmer packages and wheels"),
    Field("license", "string", '`""`', "an SPDX identifier"),
    Field("homepage", "string", '`""`', ""),
    Field("patches", "list of strings", "—", "same as the top-level `patches` (older spelling)"),
))

SOURCE = Section("source", (
    Field("sha256", "string", "required (archives)", "64 hex digits; nothing is used before it matches"),
    Field("url", "string", "—", "where to download it"),
    Field("urls", "list of strings", "`[]`", "more places, tried in order after `url`"),
    Field("file", "string", "last part of the first URL", "the archive's file name (looked up in `$WASIX_MIRROR` and the Debian pool); a plain name, no `/`, `\\` or `..`"),
    Field("debian", "string", '`""`', "a Debian *source* package whose pool holds `file` (needs `file`)"),
    Field("subdir", "string", '`""`', "unpack into this sub-folder of the source tree (several sources)"),
    Field("strip", "integer", "`1`", "leading path components removed when unpacking"),
    Field("git", "string", "—", "a repository URL, instead of an archive (needs `rev`)"),
    Field("rev", "string", "—", "the full commit id (40 or 64 hex digits) a `git` source is pinned to"),
))

DEPENDENCIES = Section("dependencies", (
    Field("build", "list of strings", "`[]`", 'recipes built before this one: `"ncurses"`, `"ncurses>=6.4"`, `"zlib>=1.2,<2"`'),
    Field("run", "list of strings", "`[]`", "recipes whose commands this one's programs run (`tar` runs `gzip`, `gawk`'s `system()` runs `sh`): every output brings them into the same sandbox, by name and as `/bin/NAME` ([Runtime dependencies](#runtime-dependencies)); built along, but not part of the store key (a `bundle` copies them: there they are)"),
))

OUTPUTS = Section("outputs", (
    Field("bin", "list of strings", "`[]`", "programs, installed as `bin/NAME.wasm` (required for a program)"),
    Field("lib", "list of strings", "`[]`", "files that must exist under `lib/` (`libz.a`)"),
    Field("include", "list of strings", "`[]`", "files that must exist under `include/` (`zlib.h`, `ncursesw/curses.h`)"),
    Field("commands", "table of strings", "one per binary", "command name → binary (for Wasmer packages and wheel console scripts)"),
    Field("data", "table of strings", "`{}`", "guest path → path inside the install prefix: files the program reads at a path built into it, which the Wasmer package, the `.webc` and the wheel show it at that guest path ([Data files](#data-files))"),
    Field("sandbox-commands", "table of strings", "`{}`", "command name → binary: commands other packages' programs run inside the sandbox (`sh = \"bash\"`), in the Wasmer package but never console scripts on the host"),
    Field("sandbox-scripts", "table of strings", "`{}`", "command name → a `/bin/sh` script body, installed as `/usr/bin/NAME` inside the sandbox (`echo = 'echo \"$@\"'`: a shell's builtin as a program others exec)"),
    Field("network", "bool", "`false`", "the program is a network client or server: its wheel's commands run with the host's network (wasmer-sdk `network=\"host\"`, `wasmer run --net`); without it the sandbox has no sockets to the outside"),
))

#: The build system of a recipe that names none.
DEFAULT_BUILD_SYSTEM = "autotools"

#: ``[build]`` keys every build system shares (the engine and the finalize step read them).
BUILD_COMMON = Section("build", (
    Field("system", "string", f'`"{DEFAULT_BUILD_SYSTEM}"`', "which registered build system builds it ([Build systems](#build-system-settings))"),
    Field("in-tree", "bool", "`false`", "build in the source tree (`build_dir == source_dir`)"),
    Field("env", "table of strings", "`{}`", "environment variables for every phase (added last, so they win)"),
    Field("wasm-opt", "bool", "`true`", "run the toolchain's `wasm-opt` on binaries when it has one"),
    Field("wasm-opt-flags", "list of strings", '`["-Os", "--strip-debug"]`', "its flags"),
    Field("toolchain", "string", '`"wasixcc"`', "`host-llvm`: built by the host's clang, not through `wasixcc` (the wasix-libc sysroot itself)"),
    Field("providers", "list of strings", "any", "obsolete, accepted and ignored: `wasix` is the only provider since the zig provider was retired"),
    Field("host-tools", "list of strings", "`[]`", "programs of the build machine its build runs besides its build system's own (e.g. `[\"tclsh\"]`); where one is not on `PATH` it is skipped, naming the Debian package that has it"),
))


#: Tables that tools of this project read; any other table must be claimed by a plugin.
EXTRA_TABLES: dict[str, Section] = {
    "test": Section("test", (
        Field("args", "list of strings", "`[]`", "arguments of each binary in a behaviour test of the plugin's own"),
        Field("stdin", "string", '`""`', "its standard input"),
        Field("expect-exit", "integer", "`0`", "its expected exit status"),
        Field("expect-stdout-contains", "string", '`""`', "text its standard output must contain"),
    )),
    "update": Section("update", (
        Field("listing", "string", "required", "a page listing releases (`{version}`, `{major}`, `{minor}` filled in)"),
        Field("regex", "string", "the template's file name", "group 1 of each match is a version"),
        Field("url-template", "string", "required", "the new source URL (`{version}`, `{major}`, `{minor}`)"),
        Field("file-template", "string", "—", "a new `file` for sources that have one"),
        Field("pre-releases", "bool", "`false`", "consider pre-releases"),
        Field("source", "integer", "`0`", "which `[[source]]` to update"),
    )),
    "wasmer": Section("wasmer", (
        Field("namespace", "string", "`wasmer`", "the Wasmer package's namespace (`namespace/name`)"),
        Field("entrypoint", "string", "the first command", "the package's entrypoint command"),
    )),
}

#: The top level: tables and the ``patches`` list.
TOP = Section("top level", (
    Field("package", "table", "required", "[`[package]`](#package)"),
    Field("source", "list of tables", "`[]`", "[`[[source]]`](#source)"),
    Field("dependencies", "table", "`{}`", "[`[dependencies]`](#dependencies)"),
    Field("build", "table", "`{}`", "[`[build]`](#build)"),
    Field("outputs", "table", "`{}`", "[`[outputs]`](#outputs)"),
    Field("patches", "list of strings", "every `patches/*.patch`", "patch files relative to the plugin folder, applied in this order"),
    *(Field(name, "table", "—", f"[`[{name}]`](#{name})") for name in EXTRA_TABLES),
))
