"""The console scripts ``wasixcc``, ``wasix++``, ``wasixar`` … as a user calls them from ``PATH``.

The Python driver (:mod:`.toolchain.driver`) chooses the provider on every call: it loads
the plugins and plans the wasix-libc sysroot's store key, hundreds of milliseconds for a
compile that takes tens. Builds never pay that (their ``PATH`` holds the resolved wrappers,
see :mod:`.toolchain.wrappers`); a user's ``CC=wasixcc`` did. So the first call in an
environment resolves the wrappers once and remembers their directory, and later calls
``exec`` the remembered wrapper before importing anything but the standard library.

What is remembered is keyed on everything that can change the choice: the interpreter, the
``WASIX*`` variables and ``PATH`` (which clang is installed), and the size and time of
every file of the package, its toolchain data and the wasix-libc recipe (which name the
sysroot's store key). A key that differs, a wrapper or sysroot that is gone, ``-sKEY=VALUE``
arguments, or a wrapper that hands a call back all take the Python driver, which stays the
reference.
"""

from __future__ import annotations

import json
import os
import sys
import zlib

#: Set by this module when it ``exec``s a wrapper: a wrapper that hands the call back to the
#: console script (a setting it was not made for) reaches the Python driver, not itself.
HANDED_OVER = "_WASIX_DRIVER_ENTRY"

_PKG = os.path.dirname(os.path.abspath(__file__))


def _cache_root() -> str:
    # paths.cache_root() without importing platformdirs (a third of the budget): the same
    # answer where it matters; elsewhere, ask it.
    if os.environ.get("WASIX_CACHE"):
        return os.path.abspath(os.environ["WASIX_CACHE"])
    if sys.platform.startswith("linux"):
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        base = xdg if os.path.isabs(xdg) else os.path.join(os.path.expanduser("~"), ".cache")
        return os.path.join(base, "wasix-backend")
    from .paths import cache_root

    return str(cache_root())


def _stat_tree(root: str, out: list[str], *, suffix: str = "") -> None:
    for top, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not (top == _PKG and d == "_data"))
        for name in sorted(files):
            if name.endswith(suffix):
                st = os.stat(os.path.join(top, name))
                out.append(f"{top}/{name} {st.st_size} {st.st_mtime_ns}")


def _data(name: str) -> str:
    # As paths._data_dir: a checkout has the folder beside the package, a wheel inside it.
    for candidate in (os.path.join(os.path.dirname(_PKG), name), os.path.join(_PKG, "_data", name)):
        if os.path.isdir(candidate):
            return candidate
    return ""


def memo_key(environ: dict[str, str] | os._Environ[str]) -> str:
    """Everything the remembered wrappers depend on, as text (kept whole in the memo and
    compared whole: no hash to collide, and hashlib's import alone costs 10 ms)."""
    out = [sys.executable]
    out += [f"{k}={environ[k]}" for k in sorted(environ)
            if (k.startswith("WASIX") and k != HANDED_OVER) or k in ("PATH", "HOME", "XDG_CACHE_HOME")]  # fmt: skip
    _stat_tree(_PKG, out, suffix=".py")
    plugins = _data("plugins")
    for folder in (_data("toolchain"), os.path.join(plugins, "wasix-libc") if plugins else ""):
        if folder:
            _stat_tree(folder, out)
    return "\n".join(out)


def _memo_path(key: str) -> str:
    name = f"{zlib.crc32(key.encode('utf-8', 'surrogateescape')):08x}.json"
    return os.path.join(_cache_root(), "wrappers", "by-env", name)


def _remembered(key: str) -> str | None:
    try:
        with open(_memo_path(key), encoding="utf-8") as f:
            memo = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(memo, dict) or memo.get("key") != key:
        return None
    wrappers, needs = memo.get("wrappers"), memo.get("needs")
    if not isinstance(wrappers, str) or not isinstance(needs, list):
        return None
    if not all(isinstance(p, str) and os.path.exists(p) for p in needs):
        return None  # a sysroot collected by `wasix-build gc`, a removed LLVM
    return wrappers


def _remember(key: str, wrappers: str, needs: list[str]) -> None:
    path = _memo_path(key)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"key": key, "wrappers": wrappers, "needs": [wrappers, *needs]}, f)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache only costs speed


def _resolve() -> tuple[str, list[str]] | None:
    """The wrappers' directory for this environment and the paths it relies on (the Python
    driver's provider choice, made once), or None where nothing can be baked."""
    from .errors import WasixError
    from .toolchain import choose_provider, driver_bin_dir
    from .toolchain.settings import parse_settings
    from .toolchain.wrappers import wrapper_bin_dir

    try:
        settings, _ = parse_settings([], os.environ)
        provider = choose_provider(settings, driver=True)
        provider.require()
        # The provider's resolved parts (sysroot, LLVM) are what the driver works out again
        # in this environment: unset is the same toolchain.
        resolved = provider.env()
        wrappers = wrapper_bin_dir(provider, driver_bin_dir(), {**os.environ, **resolved},
                                   unset_same=frozenset(k for k in resolved if k not in os.environ))
    except WasixError:
        return None  # the driver says what is wrong
    if wrappers is None:
        return None
    return str(wrappers), [v for v in resolved.values() if os.path.isabs(v)]


def main() -> int:
    """Entry point of every ``wasixcc`` console script."""
    argv = sys.argv
    name = os.path.basename(argv[0]).lower().removesuffix(".exe")
    settings_given = any(a.startswith("-s") and "=" in a and a[2:3].isupper() for a in argv[1:])
    if not settings_given and not os.environ.get(HANDED_OVER):
        key = memo_key(os.environ)
        wrappers = _remembered(key)
        if wrappers is None:
            resolved = _resolve()
            if resolved is not None:
                wrappers = resolved[0]
                _remember(key, *resolved)
        script = os.path.join(wrappers, name) if wrappers else ""
        if script and os.path.isfile(script):
            os.environ[HANDED_OVER] = "1"
            sys.stdout.flush()
            os.execv(script, [argv[0], *argv[1:]])
    from .toolchain.driver import main as driver_main

    return driver_main()


if __name__ == "__main__":
    sys.exit(main())
