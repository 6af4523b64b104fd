"""Write what is generated from the recipe model: the field tables of docs/plugins.md from
:mod:`wasix_backend.schema` (and :mod:`wasix_backend.difftest`'s ``cases.toml`` tables), the
plugin API reference from :mod:`wasix_backend.api`, and the JSON schemas of ``recipe.toml``
and ``cases.toml`` (:func:`recipe_json_schema`, shipped as ``wasix_backend/schemas/*.json``
and written by ``wasix-build schema``).

Each table sits between ``<!-- schema:NAME -->`` and ``<!-- /schema -->`` (``NAME`` a key of
:func:`sections`); the reference between ``<!-- api -->`` and ``<!-- /api -->``, written from
the API's docstrings. ``python -m wasix_backend.schema_docs docs/plugins.md`` rewrites them in
place; ``--check`` exits 1 when the file differs from the code (the test suite runs it), and
``--json`` does the same for the shipped JSON schemas.
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import difftest, schema

if TYPE_CHECKING:
    from .registry import Registry

_BLOCK = re.compile(r"(<!-- schema:([a-z-]+) -->\n)(.*?)(<!-- /schema -->)", re.S)
_API_BLOCK = re.compile(r"(<!-- api -->\n)(.*?)(<!-- /api -->)", re.S)
#: reStructuredText roles (``:class:`X```) and literals (````x````) in docstrings.
_ROLE = re.compile(r":(?:class|func|meth|attr|data|mod|exc):`[~.]?([^`]+)`")
_LITERAL = re.compile(r"``(.+?)``")


def sections() -> dict[str, list[schema.Field]]:
    """Table name in the docs -> its fields (each build system's from the registry)."""
    from .context import PLACEHOLDERS
    from .plugins import generic_registry

    out: dict[str, list[schema.Field]] = {
        "top": list(schema.TOP.fields),
        "package": list(schema.PACKAGE.fields),
        "source": list(schema.SOURCE.fields),
        "dependencies": list(schema.DEPENDENCIES.fields),
        "build": [*schema.BUILD_COMMON.fields],
        "outputs": list(schema.OUTPUTS.fields),
    }
    for name, system in generic_registry().build_systems.items():
        out[f"build-{name}"] = list(system.settings.fields)
    for name, section in schema.EXTRA_TABLES.items():
        out[name] = list(section.fields)
    cases = {"defaults": difftest.DefaultsTable, "case": difftest.CaseTable, "step": difftest.StepTable,
             "normalize": difftest.NormalizeTable}
    for name, cls in cases.items():
        out[f"cases-{name}"] = list(schema.section_of(cls).fields)
    out["placeholders"] = [schema.Field(f"{{{k}}}", "", "", v) for k, v in PLACEHOLDERS.items()]
    return out


def render(name: str, fields: list[schema.Field]) -> str:
    if name == "placeholders":
        rows = ["| placeholder | replaced by |", "|---|---|"]
        rows += [f"| `{f.name}` | {f.doc} |" for f in fields]
    elif name == "build":
        rows = ["| field | type | default | meaning |", "|---|---|---|---|"]
        rows += [f"| `{f.name}` | {f.doc_type()} | {f.default} | {f.doc} |" for f in fields]
        from .plugins import generic_registry

        systems = " \\| ".join(f'`"{s}"`' for s in generic_registry().build_systems)
        rows[2] = rows[2].replace("| string |", f"| {systems} |", 1)
        rows.append("| *others* | | | the build system's own: [Build systems](#build-system-settings) |")
    else:
        rows = ["| field | type | default | meaning |", "|---|---|---|---|"]
        rows += [f"| `{f.name}` | {f.doc_type()} | {f.default} | {f.doc} |" for f in fields]
    if not fields and name != "placeholders":
        return "No settings of its own.\n"
    return "\n".join(rows) + "\n"


def _markdown(doc: str) -> str:
    """A docstring as Markdown: roles and double-backquoted literals become code spans."""
    doc = _ROLE.sub(lambda m: f"`{m.group(1)}`", doc)
    return _LITERAL.sub(lambda m: f"`{m.group(1)}`", doc)


def _signature(obj: Any) -> str:
    """``(parameters)`` as a reader calls ``obj``: with annotations for functions; for classes
    the names alone (``=…`` where optional), which is what a plugin needs to make one."""
    sig = inspect.signature(obj)
    if inspect.isclass(obj):
        params = [p.name + ("=…" if p.default is not inspect.Parameter.empty else "") for p in sig.parameters.values()
                  if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name != "self"]  # fmt: skip
        return f"({', '.join(params)})"
    # Annotations are strings here (``from __future__ import annotations``): unquote them.
    return re.sub(r"(: |-> )'([^']*)'", r"\1\2", str(sig)).replace("(self, ", "(").replace("(self)", "()")


def render_api() -> str:
    """The plugin API reference: one heading per group of :data:`api.GROUPS`, one entry per
    name, each its signature and docstring (:data:`api.DOCS` where the object's own is
    another's), and the documented members of classes (:data:`api.MEMBERS`)."""
    from . import api

    out: list[str] = []
    for group, names in api.GROUPS.items():
        out.append(f"### {group}\n")
        for name in names:
            obj = getattr(api, name)
            kind = "exception" if inspect.isclass(obj) and issubclass(obj, BaseException) else \
                "class" if inspect.isclass(obj) else "function" if callable(obj) and name != "hookimpl" else "marker"  # fmt: skip
            sig = _signature(obj) if kind == "function" or name in api.CONSTRUCTED else ""
            out.append(f"#### `{name}{sig}`\n")
            doc = api.DOCS.get(name) or inspect.getdoc(obj) or ""
            out.append(f"*{kind}*. {_markdown(doc)}\n")
            for member in api.MEMBERS.get(name, ()):
                attr = inspect.getattr_static(obj, member)
                func = attr.fget if isinstance(attr, property) else attr
                msig = "" if isinstance(attr, property) else _signature(func)
                mdoc = " ".join(_markdown(inspect.getdoc(func) or "").split("\n\n")[0].split())
                out.append(f"- `{member}{msig}`: {mdoc}")
            if api.MEMBERS.get(name):
                out.append("")
    return "\n".join(out)


def update(text: str) -> str:
    """``text`` with every schema block and the API reference regenerated; unknown block
    names are an error."""
    known = sections()

    def sub(match: re.Match[str]) -> str:
        name = match.group(2)
        if name not in known:
            raise SystemExit(f"schema_docs: unknown block <!-- schema:{name} --> (known: {', '.join(known)})")
        return match.group(1) + render(name, known[name]) + match.group(4)

    text = _BLOCK.sub(sub, text)
    if _API_BLOCK.search(text):
        reference = render_api()
        text = _API_BLOCK.sub(lambda m: m.group(1) + reference + m.group(3), text)
    return text


# --------------------------------------------------------------------------- JSON schema ---
#: Where the JSON schemas ship inside the package, by the file they describe.
SCHEMA_DIR = Path(__file__).with_name("schemas")
JSON_FILES = {"recipe": "recipe.schema.json", "cases": "cases.schema.json"}
_JSON_TYPES = {"string": "string", "bool": "boolean", "integer": "integer", "number": "number"}


def _json_field(f: schema.Field) -> dict[str, Any]:
    """One key's JSON schema: its type, choices, nested tables, meaning and default."""
    entry = _json_table(f.entry) if f.entry is not None else None
    if f.type in _JSON_TYPES:
        out: dict[str, Any] = {"type": _JSON_TYPES[f.type]}
        if f.choices:
            out["enum"] = list(f.choices)
    elif f.type == "list of strings":
        out = {"type": "array", "items": {"type": "string", **({"enum": list(f.choices)} if f.choices else {})}}
    elif f.type == "table of strings":
        out = {"type": "object", "additionalProperties": {"type": "string"}}
    elif f.type == "table":
        out = entry or {"type": "object"}
    elif f.type == "list of tables":
        out = {"type": "array", "items": entry or {"type": "object"}}
    else:  # table of tables
        out = {"type": "object", "additionalProperties": entry or {"type": "object"}}
    out = {**out, "description": f.doc} if f.doc else dict(out)
    default = f.default_value()
    if default not in (schema.REQUIRED, schema.COMPUTED, None) and not hasattr(default, "__dataclass_fields__"):
        out["default"] = default
    return out


def _json_table(*sections: schema.Section) -> dict[str, Any]:
    fields = [f for s in sections for f in s.fields]
    out: dict[str, Any] = {"type": "object", "properties": {f.name: _json_field(f) for f in fields},
                           "additionalProperties": False}
    required = [f.name for f in fields if f.required]
    if required:
        out["required"] = required
    return out


def _json_build(registry: Registry) -> dict[str, Any]:
    """``[build]``: the shared keys and every build system's, each system allowing its own."""
    systems = registry.build_systems
    sections = [schema.BUILD_COMMON, *(s.settings for s in systems.values())]
    out = _json_table(*sections)  # a key of two systems: the first one's description
    common = schema.BUILD_COMMON.names()
    rules = []
    for name, system in systems.items():
        allowed = {"propertyNames": {"enum": [*common, *system.settings.names()]}}
        rules.append({"if": {"properties": {"system": {"const": name}}, "required": ["system"]}, "then": allowed})
        if name == schema.DEFAULT_BUILD_SYSTEM:
            rules.append({"if": {"not": {"required": ["system"]}}, "then": allowed})
    out["allOf"] = rules
    return out


def recipe_json_schema(registry: Registry | None = None) -> dict[str, Any]:
    """The JSON schema of ``recipe.toml`` with the build systems of ``registry`` (default:
    the built-in ones). Tables other than the known ones are a plugin's own (claimed with
    ``load_recipe(path, extra_tables=[NAME])``), so any other table is allowed here."""
    from .plugins import generic_registry

    out = _json_table(schema.TOP)
    out["properties"]["build"] = {**_json_build(registry or generic_registry()),
                                  "description": "the build system and its settings"}
    out["additionalProperties"] = {"type": "object", "description": "a table a plugin claims for itself"}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "wasix-backend recipe.toml", **out}


def cases_json_schema() -> dict[str, Any]:
    """The JSON schema of a plugin's ``cases.toml``."""
    out = _json_table(schema.section_of(difftest.CasesFile))
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "wasix-backend cases.toml", **out}


def json_schema(which: str, registry: Registry | None = None) -> str:
    """``recipe`` or ``cases``: the JSON schema as the shipped file holds it."""
    data = recipe_json_schema(registry) if which == "recipe" else cases_json_schema()
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _update_json(check: bool) -> int:
    stale = [name for which, name in JSON_FILES.items()
             if not (SCHEMA_DIR / name).is_file() or (SCHEMA_DIR / name).read_text(encoding="utf-8") != json_schema(which)]
    if stale and check:
        print(f"{', '.join(stale)} in {SCHEMA_DIR} differ from the code; run "
              "`python -m wasix_backend.schema_docs --json docs/plugins.md`", file=sys.stderr)
        return 1
    for which, name in JSON_FILES.items():
        if name in stale:
            (SCHEMA_DIR / name).write_text(json_schema(which), encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wasix_backend.schema_docs", description=__doc__.splitlines()[0])
    parser.add_argument("doc", type=Path, help="the Markdown file (docs/plugins.md)")
    parser.add_argument("--check", action="store_true", help="only report whether it is up to date")
    parser.add_argument("--json", action="store_true", help="also the JSON schemas shipped in wasix_backend/schemas")
    args = parser.parse_args(argv)
    if args.json and _update_json(args.check):
        return 1
    text = args.doc.read_text(encoding="utf-8")
    new = update(text)
    if new == text:
        return 0
    if args.check:
        print(f"{args.doc}: field tables or the API reference differ from the code; run "
              f"`python -m wasix_backend.schema_docs {args.doc}`", file=sys.stderr)
        return 1
    args.doc.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
