"""docs/plugins.md's field tables are the recipe model's: generated from it, checked against it."""

from __future__ import annotations

from pathlib import Path

from wasix_backend import schema
from wasix_backend.context import PLACEHOLDERS
from wasix_backend.plugins import generic_registry
from wasix_backend.schema_docs import main, update

DOCS = Path(__file__).parents[1] / "docs" / "plugins.md"


def test_the_docs_field_tables_match_the_model() -> None:
    assert main(["--check", str(DOCS)]) == 0, "run `python -m wasix_backend.schema_docs docs/plugins.md`"


def test_every_declared_key_and_placeholder_is_documented() -> None:
    text = DOCS.read_text()
    sections = [schema.TOP, schema.PACKAGE, schema.SOURCE, schema.DEPENDENCIES, schema.BUILD_COMMON, schema.OUTPUTS,
                *(s.settings for s in generic_registry().build_systems.values()), *schema.EXTRA_TABLES.values()]
    for section in sections:
        for f in section.fields:
            assert f"| `{f.name}` |" in text, (section.name, f.name)
    for name in PLACEHOLDERS:
        assert f"| `{{{name}}}` |" in text, name


def test_a_stale_table_is_detected_and_rewritten(tmp_path: Path) -> None:
    stale = DOCS.read_text().replace("| `licence`", "").replace("| `strip` | integer |", "| `strip` | string |")
    assert update(stale) != stale and update(stale) == DOCS.read_text()
    doc = tmp_path / "plugins.md"
    doc.write_text(stale)
    assert main(["--check", str(doc)]) == 1
    assert main([str(doc)]) == 0 and doc.read_text() == DOCS.read_text()
