"""PEP 517 entry point of this plugin folder: wasix-backend's backend, taken from the checkout
around this folder or, inside an sdist, from the copy it carries in ``_backend/``."""

import sys
from pathlib import Path

_here = Path(__file__).resolve().parent
_root = next(p for p in (_here / "_backend", *_here.parents) if (p / "wasix_backend" / "pep517.py").is_file())
sys.path.insert(0, str(_root))

from wasix_backend.pep517 import *  # noqa: E402,F403
