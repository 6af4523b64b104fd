"""Text output is for people: no Python reprs, help that names the real options."""

from __future__ import annotations

import re

import pytest

from wasix_backend.cli import main

REPR = re.compile(r"\[['{]|\{'|': ")  # ['…', [{…, {'…, 'key': …


def test_show_prints_readable_text(capsys) -> None:
    assert main(["show", "nano"]) == 0
    out = capsys.readouterr().out
    assert not REPR.search(out), out
    assert "  - sha256: 86f3442768bd2873cec693f83cdf80b4b444ad3cc14760b74361474fc87a4526" in out
    assert "build_deps: ncurses>=6.4" in out
    # A list item holding spaces stays one item.
    assert "'NCURSESW_LIBS=-L{dep:ncurses}/lib -lncursesw'" in out


def test_toolchain_status_prints_readable_text(capsys) -> None:
    assert main(["toolchain", "status"]) == 0
    out = capsys.readouterr().out
    assert not REPR.search(out), out
    assert re.search(r"^  candidates:\n    - usable: (yes|no)$", out, re.M)


def test_clean_help_names_store_too(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["clean", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "with --store-too" in out and "with --store," not in out


def test_plugins_are_loaded_for_the_parser_only_when_an_output_command_or_help_needs_them() -> None:
    """Output sub-commands come from the registry; a built-in command (a no-op build) does
    not pay for loading plugins twice."""
    from pathlib import Path

    from wasix_backend.cli.main import _needs_registry

    assert _needs_registry(["build", "nano", "--plugin-dir", "p"]) is None
    assert _needs_registry(["--plugin-dir", "p", "list"]) is None
    assert _needs_registry(["wheel", "nano", "--plugin-dir=p"]) == [Path("p")]
    assert _needs_registry(["--plugin-dir", "q", "toy", "nano"]) == [Path("q")]
    assert _needs_registry(["build", "--help"]) == []
    assert _needs_registry([]) == []
