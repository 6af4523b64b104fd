"""sd: one WASI gap in a vendored crate, fixed after the crates are vendored.

fastrand 1.8.0 (Debian's, through tempfile) takes ``Instant`` from the ``instant`` crate on
every wasm32 target; Debian dropped that dependency (its ``no-wasm.patch``), so the crate does
not compile for wasm32-wasi, whose standard library has ``std::time::Instant``. As fastrand
1.9 does upstream, ``instant`` is for wasm32 without WASI only. The crate lives in the vendor
directory, not in sd's sources, so the fix is applied there and the crate's checksum file
updated (cargo checks every vendored file against it).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from wasix_backend import hookimpl
from wasix_backend.recipe import load_recipe

HERE = Path(__file__).resolve().parent
OLD = '#[cfg(target_arch = "wasm32")]\nuse instant::Instant;\n#[cfg(not(target_arch = "wasm32"))]\nuse std::time::Instant;\n'
NEW = (
    '#[cfg(all(target_arch = "wasm32", not(target_os = "wasi")))]\nuse instant::Instant;\n'
    '#[cfg(not(all(target_arch = "wasm32", not(target_os = "wasi"))))]\nuse std::time::Instant;\n'
)


@hookimpl
def wasix_recipes():
    return [load_recipe(HERE / "recipe.toml", plugin="sd")]


def patch_vendored_fastrand(vendor: Path) -> Path | None:
    """Give vendor/fastrand-*/src/lib.rs std's Instant on WASI; return the file changed (None
    when no vendored fastrand needs it)."""
    for crate in sorted(vendor.glob("fastrand-*")):
        lib = crate / "src" / "lib.rs"
        text = lib.read_text()
        if NEW in text or "use instant::Instant;" not in text:
            continue
        if OLD not in text:
            raise ValueError(f"{lib}: the wasm32 `instant` import no longer looks as expected; check the WASI fix")
        lib.write_text(text.replace(OLD, NEW, 1))
        checksums = crate / ".cargo-checksum.json"
        data = json.loads(checksums.read_text())
        data["files"]["src/lib.rs"] = hashlib.sha256(lib.read_bytes()).hexdigest()
        checksums.write_text(json.dumps(data))
        return lib
    return None


@hookimpl(wrapper=True)
def wasix_configure(ctx):
    result = yield  # the cargo build system vendors the crates into <build_dir>/vendor
    lib = patch_vendored_fastrand(ctx.build_dir / "vendor")
    if lib is not None:
        ctx.log.info("patched %s for wasm32-wasi", lib)
    return result
