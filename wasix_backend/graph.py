"""The dependency graph: order, cycles, missing dependencies, scheduling priority."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from .errors import GraphError
from .recipe import Dependency, Recipe


def closure(
    recipes: Mapping[str, Recipe], targets: Iterable[str], deps_of: Callable[[Recipe], Iterable[Dependency]] | None = None
) -> list[str]:
    """``targets`` and everything they need, dependencies first (a topological order).
    ``deps_of`` picks which dependencies count (default: build and run ones, ``Recipe.deps``).

    Raises :class:`GraphError` for a dependency nobody provides (naming who needs it), a
    version that does not satisfy the specifier, or a cycle (naming the whole cycle).
    """
    order: list[str] = []
    state: dict[str, str] = {}  # name -> "visiting" | "done"
    stack: list[str] = []

    def visit(name: str, needed_by: str | None) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = [*stack[stack.index(name):], name]
            raise GraphError("dependency cycle: " + " -> ".join(cycle))
        if name not in recipes:
            who = f"{needed_by!r} needs {name!r}" if needed_by else f"{name!r} was asked for"
            raise GraphError(f"missing dependency: {who}, but no plugin provides a recipe named {name!r}")
        state[name] = "visiting"
        stack.append(name)
        for dep in (deps_of(recipes[name]) if deps_of else recipes[name].deps):
            if dep.name in recipes and not dep.accepts(recipes[dep.name].version):
                raise GraphError(
                    f"{name!r} needs {dep}, but the recipe provides {dep.name} {recipes[dep.name].version}"
                )
            visit(dep.name, name)
        stack.pop()
        state[name] = "done"
        order.append(name)

    for target in targets:
        visit(target, None)
    return order


def closure_each(recipes: Mapping[str, Recipe], targets: Iterable[str]) -> tuple[list[str], list[GraphError]]:
    """Like :func:`closure`, but a target whose graph is broken (a cycle, a missing
    dependency) is left out instead of failing all: (the order of the rest, the problems)."""
    order: list[str] = []
    problems: dict[str, GraphError] = {}
    for target in targets:
        try:
            sub = closure(recipes, [target])
        except GraphError as exc:
            problems.setdefault(str(exc), exc)
            continue
        order += [n for n in sub if n not in order]
    return order, list(problems.values())


def dependents_count(recipes: Mapping[str, Recipe], names: Iterable[str]) -> dict[str, int]:
    """How many of ``names`` depend on each name, directly or not (scheduling priority)."""
    names = list(names)
    count = dict.fromkeys(names, 0)
    for name in names:
        seen: set[str] = set()
        todo = [d.name for d in recipes[name].deps]
        while todo:
            dep = todo.pop()
            if dep in seen or dep not in count:
                continue
            seen.add(dep)
            count[dep] += 1
            todo.extend(d.name for d in recipes[dep].deps)
    return count


def to_dot(recipes: Mapping[str, Recipe], names: Iterable[str]) -> str:
    """The graph in Graphviz dot (edges point from a package to what it needs)."""
    lines = ["digraph wasix {"]
    for name in names:
        lines.append(f'  "{name}";')
        for dep in recipes[name].deps:
            lines.append(f'  "{name}" -> "{dep.name}";')
    lines.append("}")
    return "\n".join(lines)
