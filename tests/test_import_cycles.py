"""mmsim's modules import one another without a cycle, function-level imports included.

The graph is read from the source with `ast`: an edge for every `import` / `from ... import`
anywhere in a module (inside functions too), except under `if TYPE_CHECKING:` (annotations only,
never executed). A package's `__init__` is its own node, so a module that imports `mmsim` itself
depends on everything `mmsim/__init__.py` imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mmsim"


def module_files(package: Path = PACKAGE) -> dict[str, Path]:
    files = {}
    for path in package.rglob("*.py"):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        files[".".join(parts)] = path
    return files


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for statement in node.body:
                inside.update(id(child) for child in ast.walk(statement))
    return inside


def _targets(module: str, is_package: bool, node: ast.AST, known: set[str]) -> list[str]:
    """The modules an import statement loads (`from a import b` loads a.b when b is a module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:  # relative: from the module's package, one level up per extra dot
        base = module.split(".")[: len(module.split(".")) - (0 if is_package else 1)]
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module
    names = [f"{prefix}.{alias.name}" for alias in node.names]
    return [name if name in known else prefix for name in names]


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    files = module_files(package)
    known = set(files)
    graph = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        skip = _type_checking_nodes(tree)
        edges = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in skip:
                is_package = path.name == "__init__.py"
                edges.update(_targets(module, is_package, node, known))
        graph[module] = {target for target in edges if target in known and target != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path a -> ... -> a) per strongly connected component of two or more."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:  # Tarjan
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(_path_within(graph, set(component), node))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _path_within(graph: dict[str, set[str]], component: set[str], start: str) -> list[str]:
    """A shortest way from `start` back to itself inside its component, to name in the failure."""
    frontier, came_from = [start], {start: None}
    while frontier:
        node = frontier.pop(0)
        for target in sorted(graph[node] & component):
            if target == start:
                path = [node]
                while came_from[path[-1]] is not None:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if target not in came_from:
                came_from[target] = node
                frontier.append(target)
    return [start]


def test_the_graph_sees_function_level_and_relative_imports(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from .b import f\n")
    (package / "a.py").write_text("def g():\n    from pkg.sub import b\n")
    (package / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n"
        "def f():\n    from .. import a\n"
    )
    graph = import_graph(package)
    assert graph["pkg.a"] == {"pkg.sub.b"} and graph["pkg.sub"] == {"pkg.sub.b"}
    assert graph["pkg.sub.b"] == {"pkg.a"}
    assert cycles(graph) == [["pkg.a", "pkg.sub.b", "pkg.a"]]


def function_level_imports(package: Path = PACKAGE, under: str = "mmsim") -> list[str]:
    """'module: target' for each mmsim module imported inside a function of a module `under`."""
    files = module_files(package)
    out = []
    for module, path in files.items():
        if not (module == under or module.startswith(under + ".")):
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    is_package = path.name == "__init__.py"
                    for target in _targets(module, is_package, node, set(files)):
                        if target.split(".")[0] == "mmsim":
                            out.append(f"{module}: {target}")
    return sorted(set(out))


def test_the_results_layer_imports_its_dependencies_at_module_level():
    """A Result delegates its metrics, saving and report to modules it imports at the top (the
    dependency direction is the files' own: result -> report -> charts -> metrics), none of
    which imports a Result at run time; altair stays lazy for `import mmsim`."""
    assert function_level_imports(under="mmsim.results") == []
    assert "mmsim.results.report" in import_graph()["mmsim.results.result"]


def test_mmsim_has_no_import_cycle():
    graph = import_graph()
    assert "mmsim.core.engine" in graph and len(graph) > 50
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in found)
