"""bc's libmath.h without ``ed``: plugins/bc turns fbc's listing into the C initializer that
bc's own ``fix-libmath_h`` makes with ``ed`` (the build then needs nothing a minimal Debian
lacks). The collection tier proves the whole module (bc's ``math-library`` case); here the
edit itself, on a listing shaped like fbc's."""

from __future__ import annotations

from pathlib import Path

import pytest

from wasix_backend.plugins import _import_folder_module
from wasix_backend.recipe import load_recipe

BC = Path(__file__).resolve().parents[1] / "plugins" / "bc"


def test_the_listing_becomes_fix_libmath_hs_initializer() -> None:
    c_initializer = _import_folder_module(BC).c_initializer
    listing = "@iK20:s2:p@r\n@iF1,5.6[l0:KA:\n0R]@r\n@i\n"
    # ed's script: 1s/^/{"/  1,$s/$/",/  2,$s/^/"/  $d  $s/,$/,0}/
    assert c_initializer(listing) == '{"@iK20:s2:p@r",\n"@iF1,5.6[l0:KA:",\n"0R]@r",0}\n'


@pytest.mark.parametrize("listing", ["", "@i\n"])
def test_a_listing_without_code_is_refused(listing: str) -> None:
    with pytest.raises(ValueError, match="line"):
        _import_folder_module(BC).c_initializer(listing)


def test_bc_needs_no_ed() -> None:
    assert "ed" not in load_recipe(BC / "recipe.toml", plugin="bc").build.get("host-tools", [])
