"""One build session: the plugins, store, toolchain, binary caches and engine of one command,
assembled from typed options.

Every front end builds through a :class:`Session`: the command line (one per command), the
PEP 517 backend (one per hook) and each Dask task (one per package on a worker). Each part is
made when first asked for and then kept, so a command that only lists recipes never selects a
toolchain, and one that builds selects it once. The session also holds the store's shared lock
(:meth:`Session.hold_store`) until it is closed, so ``gc`` removes nothing it uses.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from .engine import Engine
from .paths import store_dir
from .plugins import LoadedPlugins, load_plugins
from .store import Store

if TYPE_CHECKING:
    from types import TracebackType

    from .substitute import BinaryCaches
    from .toolchain import Toolchain


@dataclass(frozen=True)
class SessionOptions:
    """What a session is made from: the command line's build options, PEP 517's
    ``config_settings`` or a Dask task's spec, in one typed form."""

    #: ``--plugin-dir`` folders, after the built-in plugins and entry points.
    plugin_dirs: tuple[Path, ...] = ()
    #: Load the plugins of installed distributions (group ``wasix_backend.plugins``).
    entry_points: bool = True
    #: The store directory; None: ``$WASIX_STORE``, else the user cache.
    store: Path | None = None
    #: The toolchain provider (``wasix``); None: ``$WASIX_PROVIDER``, else the default.
    provider: str | None = None
    #: Parallel builds; None: one per core.
    jobs: int | None = None
    #: Build what can be built after a failure.
    keep_going: bool = False
    #: A package that cannot be built here fails instead of being skipped.
    strict: bool = False
    #: Binary caches asked before compiling, in order; the first is the one a Dask cluster
    #: shares. Complete as given: :func:`substituters_from_env` adds ``$WASIX_SUBSTITUTERS``.
    substituters: tuple[str, ...] = ()
    #: Public keys (``NAME:BASE64``) trusted besides the user's own (a Dask worker gets the
    #: client's).
    trusted_keys: tuple[str, ...] = ()
    #: Show the caches' download progress (off for ``--json`` and on workers).
    progress: bool = True


def substituters_from_env(urls: tuple[str, ...] | list[str] = ()) -> tuple[str, ...]:
    """``urls`` (``--substituter``) first, then ``$WASIX_SUBSTITUTERS`` (space-separated),
    each once."""
    found = [*urls, *os.environ.get("WASIX_SUBSTITUTERS", "").split()]
    return tuple(dict.fromkeys(u for u in found if u))


class Session:
    """The parts of one command, made on first use from :class:`SessionOptions`.

    ``plugins``: already loaded ones to use (the command line loads them before parsing when
    output formats are sub-commands). ``warn`` is told each plugin that failed to load, once.
    Use it as a context manager (or call :meth:`close`) to let go of the store's lock.
    """

    def __init__(
        self,
        options: SessionOptions | None = None,
        *,
        console: Console | None = None,
        plugins: LoadedPlugins | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.options = options or SessionOptions()
        self.console = console or Console(stderr=True, highlight=False)
        self._plugins = plugins
        self._warn = warn
        self._reported = False
        self._held: int | None = None  # the store lock's descriptor while held
        self._engines: dict[bool, Engine] = {}

    # the parts ------------------------------------------------------------------------------
    @property
    def plugins(self) -> LoadedPlugins:
        """The plugins, loaded once; their load problems reported (to ``warn``) once."""
        if self._plugins is None:
            self._plugins = load_plugins(self.options.plugin_dirs, entry_points=self.options.entry_points)
        if not self._reported:
            self._reported = True
            for problem in self._plugins.errors:
                if self._warn is not None:
                    self._warn(str(problem))
        return self._plugins

    @functools.cached_property
    def store(self) -> Store:
        """The store; a directory that is not one (``--store /``) is refused here, before
        anything is written into it or deleted from it."""
        store = Store(self.options.store if self.options.store is not None else store_dir())
        store.check()
        return store

    @functools.cached_property
    def toolchain(self) -> Toolchain:
        """The C toolchain of the options' provider (its sysroot built on first use)."""
        # Imported here: commands that never compile (list, show, push) do not load the toolchain.
        from .toolchain import get_toolchain

        return get_toolchain(self.options.provider, store=self.store, console=self.console)

    @functools.cached_property
    def substituter(self) -> BinaryCaches | None:
        """The binary caches of the options, asked in order; None when there are none."""
        if not self.options.substituters:
            return None
        # Imported here: the HTTP and S3 clients are loaded only when there are caches.
        from .substitute import BinaryCaches, trusted_keys

        trusted = trusted_keys(list(self.options.trusted_keys))
        return BinaryCaches(list(self.options.substituters), trusted, progress=self.options.progress)

    def engine(self, *, substitute: bool = True) -> Engine:
        """The engine (one per session and ``substitute``). ``substitute=False``: without the
        binary caches, for commands that only plan keys or look entries up (``show --key``,
        ``push``), which never pull."""
        if substitute not in self._engines:
            o = self.options
            self._engines[substitute] = Engine(
                self.plugins, self.store, self.toolchain, jobs=o.jobs, console=self.console,
                keep_going=o.keep_going, strict=o.strict,
                substituter=self.substituter if substitute else None,
            )  # fmt: skip
        return self._engines[substitute]

    # the store's lock -----------------------------------------------------------------------
    def hold_store(self) -> None:
        """Hold the store's shared lock until the session is closed: ``gc`` removes nothing
        this session uses (the sysroot it chooses, the entries it builds or copies from)."""
        if self._held is None:
            self._held = self.store.hold(self.console.print)

    def close(self) -> None:
        """Let go of the store (``gc`` may collect again)."""
        if self._held is not None:
            os.close(self._held)
            self._held = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
