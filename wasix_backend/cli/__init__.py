"""``wasix-build``, the command line (console script ``wasix_backend.cli:main``)."""

from __future__ import annotations

from .main import main, make_parser

__all__ = ["main", "make_parser"]
