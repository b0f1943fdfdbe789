"""The modules of electra_keras.data import each other downward only.

The import graph is read from the sources with `ast`, lazy imports inside
functions included: an import moved into a function hides a cycle from the
interpreter, not from this test.
"""

import ast
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "electra_keras" / "data"
PACKAGE = "electra_keras.data"


def _module_name(path: Path) -> str:
    parts = path.relative_to(DATA.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the electra_keras.data modules its source imports."""
    files = {_module_name(path): path for path in DATA.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name.split(".")
                    anchor = anchor[: len(anchor) - node.level + is_package]
                    base = ".".join(anchor + ([base] if base else []))
                # `from a.b import c` imports the module a.b.c when there is one.
                imported |= {
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base
                    for alias in node.names
                }
        # Importing a.b.c runs a/b/__init__.py first, but a package's own
        # __init__ importing its modules is not a cycle: only named imports count.
        graph[name] = {module for module in imported if module in files and module != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None when the graph is acyclic."""
    state: dict[str, str] = {}  # "open" while on the DFS path, "done" after

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target, path + [target])):
                return cycle
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module, [module])):
            return cycle
    return None


def test_the_graph_is_read():
    graph = import_graph()
    assert "electra_keras.data.corpus" in graph["electra_keras.data.pretraining_data"]
    assert "electra_keras.data.packages" in graph["electra_keras.data.corpus"]


def test_find_cycle_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_data_modules_import_without_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle among the data modules: " + " -> ".join(cycle)
