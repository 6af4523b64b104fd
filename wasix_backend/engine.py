"""The engine: keys, cache look-ups, phases in order, and independent builds in parallel."""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from rich.console import Console
from rich.markup import escape

from . import hosttools
from .buildenv import OPTIONAL_PHASES, PHASES, build_environment, run_phase
from .codekey import build_code, relative_module
from .context import BuildContext, log_tail
from .errors import BuildError, GraphError, MissingRequirement, WasixError, os_error
from .graph import closure, dependents_count
from .interrupt import stop_children
from .plugins import LoadedPlugins
from .store import Store, key_inputs, key_of

if TYPE_CHECKING:
    from .recipe import Dependency, Recipe
    from .toolchain import Toolchain

#: The most parallel jobs a build is given: make hands each job a token through a pipe, and
#: far more tokens than a pipe holds hang it for ever.
MAX_JOBS = 1024


@dataclass
class BuildResult:
    name: str
    version: str
    key: str
    path: Path
    cached: bool
    seconds: float = 0.0
    #: Time spent inside toolchain subprocesses (configure, make, compilers).
    subprocess_seconds: float = 0.0
    sizes: dict[str, int] = field(default_factory=dict)
    #: Taken from a binary cache (``--substituter``) instead of being compiled here.
    pulled: bool = False
    #: What the build wants said about its result (``ctx.state["notes"]``, e.g. crates pinned
    #: by commit only); kept in the entry's record, shown in the summary.
    notes: list[str] = field(default_factory=list)


class Substituter(Protocol):
    """Binary caches asked for a key before compiling it (``wasix_backend.substitute``)."""

    def pull(self, recipe: Recipe, key: str, store: Store, say: Callable[[str], None]) -> Path | None:
        """The entry for ``key``, now in ``store``; None (having said why) to build locally."""
        ...


@dataclass
class BuildFailure:
    """A package that was not built: *skipped* when something it needs is missing here (a
    :class:`MissingRequirement`, unless the engine is strict), else *failed*."""

    name: str
    error: WasixError
    skipped: bool = False
    version: str = ""
    seconds: float = 0.0

    @property
    def status(self) -> str:
        return "skipped" if self.skipped else "failed"


@contextmanager
def _stop_on_interrupt(pool: ThreadPoolExecutor) -> Iterator[None]:
    """On Ctrl-C/SIGTERM in the main thread: start nothing more and kill the running
    commands, so the pool's shutdown does not wait for builds to finish on their own."""
    try:
        yield
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        stop_children()
        raise


class Engine:
    def __init__(
        self,
        plugins: LoadedPlugins,
        store: Store,
        toolchain: Toolchain,
        *,
        jobs: int | None = None,
        console: Console | None = None,
        keep_going: bool = False,
        strict: bool = False,
        substituter: Substituter | None = None,
    ) -> None:
        self.plugins = plugins
        self.store = store
        self.toolchain = toolchain
        self.jobs = min(MAX_JOBS, max(1, jobs or os.cpu_count() or 1))
        self.console = console or Console(stderr=True, highlight=False)
        self.keep_going = keep_going
        #: A missing requirement fails the package instead of skipping it.
        self.strict = strict
        self.substituter = substituter
        self._running = 0
        self._lock = threading.Lock()
        #: What each planned key is made of (``wasix-build show --key``; kept in the entry).
        self.key_inputs: dict[str, dict[str, Any]] = {}

    # keys -------------------------------------------------------------------------------
    def plan(self, targets: list[str]) -> tuple[list[str], dict[str, str], dict[str, WasixError]]:
        """Build order and store key of every package needed for ``targets``, and the
        packages that cannot be planned with why (a broken graph, no compiler for them).

        Per package: one that cannot be planned never stops another. A package missing
        from ``keys`` and ``problems`` depends on one in ``problems``.
        """
        recipes = self.plugins.recipes
        for t in targets:
            self.plugins.get(t)
        order: list[str] = []
        problems: dict[str, WasixError] = {}
        for t in targets:
            try:
                needed = closure(recipes, [t])
            except GraphError as exc:
                problems[t] = exc
                continue
            order += [n for n in needed if n not in order]  # each closure is dependencies-first
        keys: dict[str, str] = {}
        for name in order:
            deps = self._all_deps(name)
            if any(d not in keys for d in deps):
                continue  # reported with the dependency that cannot be planned
            r = recipes[name]
            absent = hosttools.missing(str(t) for t in r.build.get("host-tools", []))
            if absent:  # found missing before anything is fetched: skipped, saying what to install
                problems[name] = hosttools.missing_requirement(name, absent, "its build")
                continue
            try:
                inputs = key_inputs(
                    r,
                    toolchain=self._toolchain_identity(r),
                    plugin=self.plugins.fingerprint(name),
                    code=self._build_code(r),
                    deps={d: keys[d] for d in self._key_deps(name)},
                    run_deps_shape_build=self._uses_run_deps(r),
                )
                self.key_inputs[name], keys[name] = inputs, key_of(inputs)
            except WasixError as exc:
                problems[name] = exc
        return order, keys, problems

    def _toolchain_identity(self, recipe: Recipe) -> str:
        if recipe.build.get("toolchain") == "host-llvm":
            # Built with the host's clang, not wasixcc (the wasix-libc sysroot itself).
            from .toolchain.sysroot import host_identity

            return host_identity()
        # The build system may add what else shapes its builds (cargo: the Rust compiler).
        system = self.plugins.registry.get_build_system(recipe.build_system)
        if system is None or system.identity is None:
            return self.toolchain.identity
        return system.identity(recipe, self.toolchain.identity)

    def _build_code(self, recipe: Recipe) -> dict[str, str]:
        """This package's modules that run inside ``recipe``'s build (see :mod:`.codekey`)."""
        system = self.plugins.registry.get_build_system(recipe.build_system)
        hooks = system.hooks if system is not None else None
        module = getattr(hooks, "__name__", None) if isinstance(hooks, ModuleType) else type(hooks).__module__
        own = relative_module(module or "")
        return build_code((own,) if own else ())

    def _all_deps(self, name: str) -> list[str]:
        return [n for n in closure(self.plugins.recipes, [name]) if n != name]

    def _uses_run_deps(self, recipe: Recipe) -> bool:
        system = self.plugins.registry.get_build_system(recipe.build_system)
        return system is not None and system.uses_run_deps

    def _key_deps(self, name: str) -> list[str]:
        """The packages whose files ``name``'s build sees (``ctx.deps``) and whose keys are in
        its key: build dependencies, transitively, and run dependencies only where the build
        system copies them (a bundle). Other run dependencies are built along (``_all_deps``)
        but never rebuild the package: they are brought beside it when it runs."""

        def build_side(r: Recipe) -> tuple[Dependency, ...]:
            return r.deps if self._uses_run_deps(r) else r.build_deps

        return [n for n in closure(self.plugins.recipes, [name], build_side) if n != name]

    # building ---------------------------------------------------------------------------
    def build(self, targets: list[str]) -> tuple[dict[str, BuildResult], list[BuildFailure]]:
        """Build ``targets`` and their dependencies; independent ones run in parallel. The
        store's shared lock is held throughout, so ``gc`` removes nothing the builds use."""
        with self.store.in_use(self._say):
            return self._build(targets)

    def _build(self, targets: list[str]) -> tuple[dict[str, BuildResult], list[BuildFailure]]:
        order, keys, problems = self.plan(targets)
        recipes = self.plugins.recipes
        priority = dependents_count(recipes, order)
        done: dict[str, BuildResult] = {}
        failed: list[BuildFailure] = []
        blocked: set[str] = set()
        pending = [n for n in order if n not in problems]
        running: dict[Future[BuildResult], tuple[str, float]] = {}
        for name, exc in problems.items():
            failed.append(self.failure(name, exc))
            self._block_dependents(failed[-1], pending, blocked, failed)

        with ThreadPoolExecutor(max_workers=self.jobs) as pool, _stop_on_interrupt(pool):
            while pending or running:
                # A skipped package never stops the others; a failed one does, unless --keep-going.
                stop = not self.keep_going and any(not f.skipped for f in failed)
                if not stop:
                    ready = [n for n in pending if all(d.name in done for d in recipes[n].deps)]
                    ready.sort(key=lambda n: (-priority[n], order.index(n)))
                    for name in ready[: self.jobs - len(running)]:
                        pending.remove(name)
                        deps = {d: done[d].path for d in self._key_deps(name)}
                        fut = pool.submit(self._build_one, recipes[name], keys[name], deps, len(ready))
                        running[fut] = (name, time.perf_counter())
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    name, started = running.pop(fut)
                    try:
                        done[name] = fut.result()
                        continue
                    except WasixError as exc:
                        error = exc
                    except OSError as exc:  # the store cannot be written: say where and what to do
                        where = os_error(exc, self.store.root, "to the store", "pass --store DIR or set $WASIX_STORE")
                        error = BuildError(name, "store", str(where))
                    except Exception as exc:  # an engine bug: still report per package
                        error = BuildError(name, "engine", repr(exc))
                    failed.append(self.failure(name, error, time.perf_counter() - started))
                    self._block_dependents(failed[-1], pending, blocked, failed)
        for name in pending:
            if name not in blocked:
                stopped = WasixError(f"{name}: not built: stopped after an earlier failure (--keep-going builds the rest)")
                failed.append(self.failure(name, stopped))
        return done, failed

    def failure(self, name: str, error: WasixError, seconds: float = 0.0) -> BuildFailure:
        """``name`` not built because of ``error``: skipped when something it needs is missing
        here (unless strict), else failed. Executors report their packages with it too."""
        recipe = self.plugins.recipes.get(name)
        skipped = isinstance(error, MissingRequirement) and not self.strict
        return BuildFailure(name, error, skipped, recipe.version if recipe else "", seconds)

    def _block_dependents(self, cause: BuildFailure, pending: list[str], blocked: set[str], failed: list[BuildFailure]) -> None:
        for other in list(pending):
            if cause.name not in self._all_deps(other):
                continue
            pending.remove(other)
            blocked.add(other)
            error: WasixError
            if isinstance(cause.error, MissingRequirement):  # what it needs is missing, too
                what = "was skipped" if cause.skipped else "failed"
                error = MissingRequirement(
                    f"{other}: not built because its dependency {cause.name!r} {what}: {cause.error.reason}",
                    how=cause.error.how,
                    reason=f"needs {cause.name}, which {what}: {cause.error.reason}",
                )
            else:
                error = WasixError(f"{other}: not built because its dependency {cause.name!r} failed")
            failed.append(self.failure(other, error))

    def _say(self, text: str) -> None:
        self.console.print(text)

    def _build_one(self, recipe: Recipe, key: str, deps: dict[str, Path], ready: int) -> BuildResult:
        damaged = lambda text: self._say(f"[yellow]warning:[/] {recipe.name}: {text}")  # noqa: E731
        hit = self.store.lookup(recipe, key, on_damage=damaged)  # re-checks the entry's files
        if hit is not None:
            return self._cached(recipe, key, hit)
        with self.store.locked(key):
            hit = self.store.lookup(recipe, key, on_damage=damaged)  # another process may have finished it
            if hit is not None:
                return self._cached(recipe, key, hit)
            if self.substituter is not None:  # a binary cache has it: no compiling
                start = time.perf_counter()
                pulled = self.substituter.pull(recipe, key, self.store, self._say)
                if pulled is not None:
                    result = self._cached(recipe, key, pulled, quiet=True)
                    result.cached, result.pulled = False, True
                    result.seconds = time.perf_counter() - start
                    return result
            with self._lock:
                self._running += 1
                share = max(1, self.jobs // max(1, min(self.jobs, max(ready, self._running))))
            try:
                return self._run_phases(recipe, key, deps, share)
            finally:
                with self._lock:
                    self._running -= 1

    def _cached(self, recipe: Recipe, key: str, path: Path, quiet: bool = False) -> BuildResult:
        record = self.store.record(path)
        if not quiet:
            self._say(f"[green]✓[/] {recipe.name} {recipe.version} [dim](cached)[/]")
        return BuildResult(recipe.name, recipe.version, key, path, True, 0.0, 0.0, record.get("sizes", {}),
                           notes=[str(n) for n in record.get("notes", [])])

    def _run_phases(self, recipe: Recipe, key: str, deps: dict[str, Path], jobs: int) -> BuildResult:
        start = time.perf_counter()
        work = self.store.staging(recipe, key)
        log_dir = self.store.log_dir(recipe, key)
        if log_dir.exists():
            shutil.rmtree(log_dir)
        log_dir.mkdir(parents=True)
        source_dir = work / "src"
        in_tree = bool(recipe.build.get("in-tree", False))
        env = build_environment(self.toolchain, recipe, deps, work)
        logger = logging.getLogger(f"wasix_backend.build.{recipe.name}.{key[:8]}")
        logger.propagate = False
        logger.setLevel(logging.INFO)
        ctx = BuildContext(
            recipe=recipe,
            source_dir=source_dir,
            build_dir=source_dir if in_tree else work / "build",
            prefix=self.store.entry(recipe, key),
            destdir=work / "dest",
            deps=deps,
            env=env,
            toolchain=self.toolchain,
            jobs=jobs,
            log=logger,
        )
        sizes: dict[str, int] = {}
        system = self.plugins.registry.get_build_system(recipe.build_system)
        optimise = system.optimise if system else True
        for phase in (*PHASES, "finalize"):
            ctx.phase = phase
            ctx.log_file = log_dir / f"{phase}.log"
            handler = logging.FileHandler(ctx.log_file, encoding="utf-8")
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
            logger.addHandler(handler)
            try:
                self._say(f"  {recipe.name} {recipe.version}: {phase}")
                sizes = run_phase(ctx, phase, self._call_phase, optimise) or sizes
            except KeyboardInterrupt:  # stopped (interrupt.py): nothing of this build stays
                shutil.rmtree(work, ignore_errors=True)
                raise
            except MissingRequirement as exc:
                ctx.log.warning("not built here: %s", exc)
                shutil.rmtree(work, ignore_errors=True)  # nothing failed: nothing to inspect
                raise
            except BuildError as exc:
                self._note_failure(exc, work)
                raise
            except WasixError as exc:
                err = BuildError(recipe.name, phase, str(exc), ctx.log_file, log_tail(ctx.log_file))
                self._note_failure(err, work)
                raise err from exc
            finally:
                logger.removeHandler(handler)
                handler.close()
        seconds = time.perf_counter() - start
        raw_notes = ctx.state.get("notes")
        notes = [str(n) for n in raw_notes] if isinstance(raw_notes, list) else []
        for note in notes:
            self._say(f"[yellow]note:[/] {recipe.name}: {note}")
        outside = installed_outside(ctx.destdir, ctx.stage)
        shown = ", ".join(outside[:3]) + (f" and {len(outside) - 3} more" if len(outside) > 3 else "")
        missing = missing_data(recipe.data, ctx.stage)
        if missing:  # every output would lack them: fail now, not when a wheel is written
            hint = (f"; the build installed {shown} outside its prefix: put them under it (an "
                    "`install-args` or a `wasix_package` hook, docs/plugins.md, Data files)") if outside else ""
            err = BuildError(recipe.name, "finalize", f"[outputs] data {', '.join(missing)} not installed under "
                             f"the prefix{hint}", ctx.log_file)
            self._note_failure(err, work)
            raise err
        if outside:  # never in the entry: say so, rather than lose them silently
            self._say(f"[yellow]warning:[/] {recipe.name}: {len(outside)} file(s) installed outside its prefix are "
                      f"not part of the package: {escape(shown)} (DESTDIR/…); install them under the prefix, and "
                      "name those the program reads at another path in \\[outputs] data")
        record = {
            "sizes": sizes,
            "seconds": round(seconds, 3),
            "subprocess_seconds": round(ctx.subprocess_seconds, 3),
            "toolchain": self.toolchain.provider,
            "deps": {n: str(p) for n, p in deps.items()},
            "key_inputs": self.key_inputs.get(recipe.name),
            **({"outside_prefix": outside[:50]} if outside else {}),
            **({"notes": notes} if notes else {}),
        }
        final = self.store.commit(ctx.stage, recipe, key, record)
        shutil.rmtree(work, ignore_errors=True)
        size_note = ", ".join(f"{n}.wasm {s / 1024:.0f} KiB" for n, s in sizes.items())
        self._say(f"[green]✓[/] {recipe.name} {recipe.version} built in {seconds:.1f}s" + (f" ({size_note})" if size_note else ""))
        return BuildResult(recipe.name, recipe.version, key, final, False, seconds, ctx.subprocess_seconds, sizes,
                           notes=notes)

    def _note_failure(self, exc: BuildError, work: Path) -> None:
        if exc.log is not None:
            exc.args = (f"{exc.args[0]}\n  build tree kept for inspection: {work}",)

    def _call_phase(self, ctx: BuildContext, phase: str) -> None:
        hook = self.plugins.hook_for(ctx.recipe.name, phase)
        try:
            result = hook(ctx=ctx)
        except WasixError:
            raise
        except Exception as exc:
            tb = traceback.format_exc()
            ctx.log.error("hook raised:\n%s", tb)
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            raise ctx.fail(
                f"plugin {ctx.recipe.plugin!r} raised {type(exc).__name__}: {exc} "
                f"(at {frame.filename}:{frame.lineno})"
            ) from exc
        if result is None and phase not in OPTIONAL_PHASES:
            raise ctx.fail(
                f"no plugin handled the {phase} phase for build system {ctx.recipe.build_system!r}: "
                f"implement `wasix_{phase}(ctx)` in plugin {ctx.recipe.plugin!r}"
            )


def missing_data(data: dict[str, str], stage: Path) -> list[str]:
    """The ``[outputs] data`` entries (``share/units`` → guest ``/usr/share/units``) whose path
    is not in ``stage``, as ``PATH (guest GUEST)``."""
    return [f"{rel} (guest {guest})" for guest, rel in sorted(data.items())
            if not (stage / rel.strip("/")).exists()]


def installed_outside(destdir: Path, stage: Path) -> list[str]:
    """Files (and links) installed under ``destdir`` but outside ``stage`` (= destdir + prefix),
    as paths the program would have seen (``/usr/share/figlet/standard.flf``): the store takes
    ``stage`` alone, so these are dropped."""
    found: list[str] = []
    if not destdir.is_dir():
        return found
    for top, dirnames, filenames in os.walk(destdir):
        here = Path(top)
        dirnames[:] = sorted(d for d in dirnames if here / d != stage)
        for name in sorted(filenames) + [d for d in dirnames if (here / d).is_symlink()]:
            found.append("/" + (here / name).relative_to(destdir).as_posix())
    return found
