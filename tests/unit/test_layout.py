"""The package's modules import each other without circles (issue 10's layout rule).

Every relative import counts, at the top of a module or inside a function (a lazy import
that closes a circle is still a circle); only imports under ``if TYPE_CHECKING:`` are left
out, since they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import omics_waiter

PACKAGE = Path(omics_waiter.__file__).parent


def _runtime_imports(tree: ast.AST, module: str) -> set[str]:
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(module)
    return found


def import_graph() -> dict[str, set[str]]:
    graph = {}
    for path in PACKAGE.glob("*.py"):
        graph[path.stem] = _runtime_imports(ast.parse(path.read_text()), path.stem)
    return {name: {d for d in deps if d in graph} for name, deps in graph.items()}


def test_no_module_of_the_package_imports_itself_through_others() -> None:
    graph = import_graph()
    assert "_cli" in graph and "_cli_common" in graph["_cli"]  # the graph is read
    circles = []
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def walk(name: str, path: list[str]) -> None:
        state[name] = 1
        for dep in sorted(graph[name]):
            if state.get(dep) == 1:
                circles.append([*path[path.index(dep) :], dep])
            elif dep not in state:
                walk(dep, [*path, dep])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            walk(name, [name])
    assert circles == []
