"""Explaining a store key: what it is made of, and what changed since a stored build.

``wasix-build show --key NAME`` prints the parts of a package's key (see
:func:`.store.key_inputs`) and, when the package will rebuild, which of them differ from the
newest store entry of that package — like ``nix-diff`` for two derivations.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .store import RECORD, Store, key_of


def newest_entry(store: Store, name: str, key: str | None = None) -> tuple[Path, dict[str, Any]] | None:
    """The entry of package ``name`` with ``key`` if there is one, else the most recently
    built entry that recorded its key inputs (a store shared by several checkouts holds
    entries of other keys, some newer)."""
    found: list[tuple[bool, float, Path, dict[str, Any]]] = []
    for path in store.root.glob(f"*-{name}-*"):
        try:
            record = json.loads((path / RECORD).read_text())
        except (OSError, ValueError):
            continue
        if record.get("name") == name and isinstance(record.get("key_inputs"), dict):
            found.append((key is not None and record.get("key") == key, (path / RECORD).stat().st_mtime, path, record))
    if not found:
        return None
    _, _, path, record = max(found, key=lambda item: item[:2])
    return path, record


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= 100 else text[:97] + "…"


def _map_changes(part: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    lines = []
    for item in sorted(set(old) | set(new)):
        if item not in old:
            lines.append(f"{part}: {item} added")
        elif item not in new:
            lines.append(f"{part}: {item} removed")
        elif old[item] != new[item]:
            lines.append(f"{part}: {item} changed ({_short(old[item])} -> {_short(new[item])})")
    return lines


def changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """One line per input that differs between two :func:`.store.key_inputs` documents."""
    lines: list[str] = []
    for part in sorted(set(old) | set(new)):
        a, b = old.get(part), new.get(part)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            lines += _map_changes(part, a, b)
        elif part == "patches" and isinstance(a, list) and isinstance(b, list):
            lines += _map_changes(part, dict(map(tuple, a)), dict(map(tuple, b)))
        else:
            lines.append(f"{part}: {_short(a)} -> {_short(b)}")
    return lines


def explain(name: str, inputs: Mapping[str, Any], store: Store) -> dict[str, Any]:
    """The parts of ``name``'s key and, against the newest stored build, what changed."""
    key = key_of(inputs)
    report: dict[str, Any] = {"name": name, "key": key, "inputs": dict(inputs)}
    newest = newest_entry(store, name, key)
    if newest is None:
        report["status"] = "not in the store: builds"
        return report
    path, record = newest
    report["compared_with"] = str(path)
    if record.get("key") == key:
        report["status"] = "up to date"
    else:
        report["status"] = "rebuilds"
        report["changed"] = changes(record["key_inputs"], inputs)
    return report


def format_report(report: Mapping[str, Any]) -> list[str]:
    """:func:`explain`'s report as lines for a terminal."""
    inputs = report["inputs"]
    lines = [f"{report['name']}: key {report['key']}"]
    recipe = inputs.get("recipe", {})
    lines.append(f"  recipe: {recipe.get('name')} {recipe.get('version')}, build system {recipe.get('build_system')}, "
                 f"{len(recipe.get('sources', []))} source(s), {len(inputs.get('patches', []))} patch(es)")  # fmt: skip
    lines.append(f"  toolchain: {inputs.get('toolchain')}")
    lines.append(f"  plugin files: {', '.join(inputs.get('plugin', {})) or 'none'}")
    lines.append(f"  engine code: {', '.join(inputs.get('code', {})) or 'none'}")
    deps = inputs.get("deps", {})
    lines.append("  dependencies: " + (", ".join(f"{d} {k[:12]}" for d, k in deps.items()) or "none"))
    status = report["status"]
    where = f" (compared with {report['compared_with']})" if "compared_with" in report else ""
    lines.append(f"  store: {status}{where}")
    lines += [f"    {change}" for change in report.get("changed", [])]
    return lines
