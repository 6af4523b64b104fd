"""Nested data (what ``--json`` prints) as indented text people read: no Python reprs."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence


def _scalar(value: object) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _item(value: object) -> str:
    """A list item: quoted as a shell would when it holds spaces, so items stay apart."""
    text = _scalar(value)
    return shlex.quote(text) if any(c.isspace() for c in text) else text


def _is_scalar(value: object) -> bool:
    return not isinstance(value, Mapping | list | tuple)


def format_tree(data: object, indent: int = 0) -> list[str]:
    """Lines for ``data``: ``key: value`` for mappings, ``- item`` for lists of mappings,
    a list of plain values on one line (space-separated), empty values as ``-``."""
    pad = " " * indent
    if isinstance(data, Mapping):
        lines: list[str] = []
        for key, value in data.items():
            if _is_scalar(value) or (isinstance(value, Sequence) and all(map(_is_scalar, value))):
                text = " ".join(map(_item, value)) if isinstance(value, list | tuple) else _scalar(value)
                lines.append(f"{pad}{key}: {text or '-'}")
            elif not value:
                lines.append(f"{pad}{key}: -")
            else:
                lines.append(f"{pad}{key}:")
                lines += format_tree(value, indent + 2)
        return lines
    if isinstance(data, list | tuple):
        lines = []
        for item in data:
            sub = format_tree(item, indent + 2)
            if sub:
                lines.append(f"{pad}- {sub[0].lstrip()}")
                lines += sub[1:]
        return lines
    return [pad + _scalar(data)]
