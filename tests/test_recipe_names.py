"""Recipe names with dots (Debian's `lua5.4`) are found however the command line spells them."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import package_recipe, write_plugin

from wasix_backend.cli import main


def test_dotted_name_is_found_by_its_normalised_spellings(tmp_path: Path, store: Path, capsys) -> None:
    plugins = write_plugin(tmp_path / "plugins", "dot5.4", package_recipe("dot5.4", "https://example.invalid/d.tar.gz", "0" * 64))
    for spelling in ("dot5.4", "dot5-4", "wasix-dot5-4", "Dot5_4"):
        assert main(["show", spelling, "--json", "--plugin-dir", str(plugins)]) == 0
        assert json.loads(capsys.readouterr().out)["name"] == "dot5.4"
        assert main(["graph", spelling, "--json", "--plugin-dir", str(plugins)]) == 0
        assert json.loads(capsys.readouterr().out) == {"dot5.4": []}
    assert main(["show", "dot6-4", "--plugin-dir", str(plugins)]) != 0
    assert "no recipe named 'dot6-4'" in capsys.readouterr().err
