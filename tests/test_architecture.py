"""The package's structure: no import cycles, lazy exports never shadowed, no kind branches outside plug-ins."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import sim

ROOT = Path(sim.__file__).resolve().parent


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in ROOT.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(name: str, path: Path) -> set[str]:
    """Every sim module ``name`` imports at run time: module level and inside functions, excluding
    ``if TYPE_CHECKING:`` blocks; ``_EXPORTS`` tables of lazy packages count as imports."""
    tree = ast.parse(path.read_text())
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    out: set[str] = set()

    def resolve(mod: str) -> str | None:
        while mod and mod not in MODULES:
            mod = mod.rpartition(".")[0]
        return mod or None

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    visit(sub)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.startswith("sim"):
                        r = resolve(alias.name)
                        if r:
                            out.add(r)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - (child.level - 1)]
                    mod = ".".join(base + ([child.module] if child.module else []))
                else:
                    mod = child.module or ""
                if not mod.startswith("sim"):
                    continue
                for alias in child.names:
                    r = resolve(f"{mod}.{alias.name}")
                    if r and r != name:
                        out.add(r)
            elif isinstance(child, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "_EXPORTS"
                                                       for t in child.targets):
                for const in ast.walk(child.value):
                    if isinstance(const, ast.Constant) and isinstance(const.value, str) and const.value in MODULES:
                        out.add(const.value)
            visit(child)

    visit(tree)
    out.discard(name)
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return found


def test_no_import_cycles():
    graph = {name: _imports(name, path) for name, path in MODULES.items()}
    assert graph["sim.api"], "the import walker found nothing: it is broken"
    assert "sim.compute.registry" in graph["sim.config.hardware"]
    assert _cycles(graph) == []


def test_cycle_detector_finds_a_planted_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_lazy_exports_are_not_shadowed_by_submodules():
    for info in pkgutil.walk_packages(sim.__path__, "sim."):
        if not info.name.endswith("__main__"):  # running those would start a command line
            importlib.import_module(info.name)
    for pkg_name in ("sim", "sim.config", "sim.cost", "sim.functional"):
        pkg = importlib.import_module(pkg_name)
        for name in getattr(pkg, "_EXPORTS", {}):
            value = getattr(pkg, name)
            assert not isinstance(value, type(sim)), f"{pkg_name}.{name} is shadowed by a submodule"
        for name in getattr(pkg, "__all__", ()):
            assert hasattr(pkg, name), f"{pkg_name}.__all__ names {name}, which does not exist"


KIND_BRANCH = re.compile(r"""(compute\.kind|\.kind)\s*(==|!=|in)\s*\(?\s*["'](gobo|systolic|tensorcore)["']""")


def test_no_compute_kind_branches_outside_the_plugins():
    offenders = []
    for name, path in MODULES.items():
        if name.startswith("sim.compute"):
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if KIND_BRANCH.search(line):
                offenders.append(f"{name}:{i}: {line.strip()}")
    assert offenders == []


def test_no_citation_of_files_outside_the_repository():
    pattern = re.compile(r"shared/reference|\.\./shared|DESIGN\.md|/work/")
    bad = [f"{n}" for n, p in MODULES.items() if pattern.search(p.read_text())]
    assert bad == []
