"""The public plugin API (wasix_backend.api): complete for what plugins use, documented, current."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import wasix_backend
from wasix_backend import api
from wasix_backend.codekey import source_digest
from wasix_backend.schema_docs import render_api

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "plugins.md"

#: Built-in plugins that still import from the API's home modules. Switching an import changes
#: the plugin file's syntax tree, so its store key (and its dependents'): each switches when
#: its key changes anyway. No other plugin may import from outside the API.
NOT_YET_SWITCHED = {"bc", "gettext", "mbedtls", "ripgrep", "sd", "sqlite3", "wasix-libc", "zlib"}


def _imports(tree: ast.AST) -> list[tuple[str, str]]:
    """``(module, name)`` of every ``from wasix_backend… import name`` in ``tree``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "wasix_backend":
            found += [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            assert not any(a.name.startswith("wasix_backend") for a in node.names), "import wasix_backend…: use `from wasix_backend.api import …`"
    return found


def test_every_name_is_grouped_documented_and_the_object_of_its_home_module() -> None:
    grouped = [name for names in api.GROUPS.values() for name in names]
    assert sorted(grouped) == sorted(api.__all__) and len(set(grouped)) == len(grouped)
    assert set(api.MEMBERS) | set(api.CONSTRUCTED) | set(api.DOCS) <= set(api.__all__)
    for name in api.__all__:
        obj = getattr(api, name)
        assert api.DOCS.get(name) or inspect.getdoc(obj), f"{name} has no docstring"
        home = wasix_backend if name == "hookimpl" else importlib.import_module(obj.__module__)
        assert getattr(home, name) is obj, name
        for member in api.MEMBERS.get(name, ()):
            attr = inspect.getattr_static(obj, member)
            assert inspect.getdoc(attr.fget if isinstance(attr, property) else attr), f"{name}.{member} has no docstring"


def test_the_reference_in_the_docs_is_generated_from_the_docstrings() -> None:
    text = DOCS.read_text()
    reference = text[text.index("<!-- api -->"):text.index("<!-- /api -->")]
    assert render_api() in reference  # also checked by test_schema_docs (--check)
    for name in api.__all__:
        assert re.search(rf"^#### `{re.escape(name)}[(`]", reference, re.M), name
    assert "#### `load_recipe(path: Path | str, *, plugin: str | None = None" in reference  # unquoted annotations
    assert "`:class:" not in reference and "``" not in reference  # reST made Markdown


def test_the_built_in_plugins_import_only_what_the_api_offers() -> None:
    """What a built-in plugin imports is in the API (the same object), so switching its import
    is a one-line change; only the listed ones still import from elsewhere."""
    outside = set()
    for path in sorted((ROOT / "plugins").glob("*/*.py")):
        if path.name == "_wasix_build.py":  # the PEP 517 shim: it is the backend, not a plugin
            continue
        for module, name in _imports(ast.parse(path.read_text(), str(path))):
            if module != "wasix_backend.api":
                outside.add(path.parent.name)
                assert name in api.__all__, f"{path}: {module}.{name} is not in wasix_backend.api"
                assert getattr(importlib.import_module(module), name) is getattr(api, name), f"{path}: {module}.{name}"
    assert outside == NOT_YET_SWITCHED


def test_switching_a_plugin_to_the_api_would_change_its_store_key() -> None:
    """Why the plugins above are not switched: a plugin's Python is in its key by syntax tree,
    and the module an import names is part of that tree."""
    before = "from wasix_backend import hookimpl\nfrom wasix_backend.context import BuildContext\n"
    after = "from wasix_backend.api import BuildContext, hookimpl\n"
    assert source_digest(before.encode()) != source_digest(after.encode())


def test_the_docs_examples_import_only_from_the_api() -> None:
    text = DOCS.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    imports = [line for block in blocks for line in block.splitlines() if re.match(r"\s*(>>> )?(from|import) wasix_backend", line)]
    assert imports and all(re.match(r"\s*(>>> )?from wasix_backend\.api import ", line) for line in imports), imports
