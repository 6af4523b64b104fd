"""Write the field tables of docs/plugins.md from :mod:`wasix_backend.schema`.

Each table sits between ``<!-- schema:NAME -->`` and ``<!-- /schema -->`` (``NAME`` a key of
:func:`sections`). ``python -m wasix_backend.schema_docs docs/plugins.md`` rewrites them in
place; ``--check`` exits 1 when the file differs from the model (the test suite runs it).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from . import schema

_BLOCK = re.compile(r"(<!-- schema:([a-z-]+) -->\n)(.*?)(<!-- /schema -->)", re.S)


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


def update(text: str) -> str:
    """``text`` with every schema block regenerated; unknown block names are an error."""
    known = sections()

    def sub(match: re.Match[str]) -> str:
        name = match.group(2)
        if name not in known:
            raise SystemExit(f"schema_docs: unknown block <!-- schema:{name} --> (known: {', '.join(known)})")
        return match.group(1) + render(name, known[name]) + match.group(4)

    return _BLOCK.sub(sub, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wasix_backend.schema_docs", description=__doc__.splitlines()[0])
    parser.add_argument("doc", type=Path, help="the Markdown file (docs/plugins.md)")
    parser.add_argument("--check", action="store_true", help="only report whether it is up to date")
    args = parser.parse_args(argv)
    text = args.doc.read_text(encoding="utf-8")
    new = update(text)
    if new == text:
        return 0
    if args.check:
        print(f"{args.doc}: field tables differ from wasix_backend/schema.py; run "
              f"`python -m wasix_backend.schema_docs {args.doc}`", file=sys.stderr)
        return 1
    args.doc.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
