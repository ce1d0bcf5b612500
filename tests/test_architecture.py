"""The package's shape, read from its source: no import cycles, no dead names."""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

import bertkit

PACKAGE = Path(bertkit.__file__).parent
ROOT = PACKAGE.parent


def module_name(path: Path) -> str:
    """`bertkit/evaluate/report.py` -> `bertkit.evaluate.report`; a package is its `__init__`."""
    inside = path.relative_to(PACKAGE) if path.is_relative_to(PACKAGE) else Path(path.name)
    parts = ("bertkit", *inside.with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> list[Path]:
    """Every module of the package, subpackages included."""
    return sorted(PACKAGE.rglob("*.py"))


def is_module(name: str) -> bool:
    """Whether `bertkit.<name>` (dotted: `text.data`) is a module or a subpackage, not a name."""
    path = PACKAGE.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported_modules(path: Path) -> set[str]:
    """The bertkit modules `path` imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("bertkit.")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bertkit"):
            inside = node.module.removeprefix("bertkit").removeprefix(".")
            prefix = f"{inside}." if inside else ""
            # from bertkit.text import data, inputs -> the modules; from bertkit.text.data import load
            submodules = {a.name for a in node.names if is_module(prefix + a.name)}
            found |= {f"bertkit.{prefix}{name}" for name in submodules}
            if inside and len(submodules) < len(node.names):
                found.add(node.module)
    # Every module may read the package (`bertkit.__version__`); the package imports modules.
    return found - {"bertkit", module_name(path)}


def import_graph() -> dict[str, set[str]]:
    return {module_name(path): imported_modules(path) for path in modules()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as `[a, b, ..., a]`, or None (depth-first search)."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == "open":
                return stack[stack.index(dep) :] + [dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_finds_a_cycle_hidden_in_a_function_import(tmp_path):
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None
    module = tmp_path / "loader.py"
    module.write_text(
        "from bertkit import names\n\ndef f():\n    from bertkit.presets.hub import load\n"
    )
    assert imported_modules(module) == {"bertkit.names", "bertkit.presets.hub"}


def test_no_import_cycle_among_bertkit_modules():
    graph = import_graph()
    assert len(graph) > 30 and "bertkit.presets.local_presets" in graph["bertkit.presets.hub"]
    assert find_cycle(graph) is None


def test_the_loader_does_not_import_training_code():
    assert (
        not {"bertkit.train.distribute", "bertkit.train.finetune"}
        & import_graph()["bertkit.presets.hub"]
    )


def _defined_names(path: Path) -> list[str]:
    """Module-level private names and UPPER_CASE constants of a module."""
    found = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            found.append(node.name)
        elif isinstance(node, ast.Assign):
            found += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found.append(node.target.id)
    return [n for n in found if not n.startswith("__") and (n.startswith("_") or n.isupper())]


def test_every_private_name_and_constant_is_used_somewhere():
    sources = [*modules(), *(ROOT / "tests").glob("*.py")]
    sources += [*(ROOT / "benchmarks").glob("*.py"), *(ROOT / "notebooks").glob("*.ipynb")]
    words = Counter(re.findall(r"\w+", "\n".join(path.read_text() for path in sources)))
    unused = [
        f"{path.stem}.{name}"
        for path in modules()
        for name in _defined_names(path)
        if words[name] < 2  # the definition alone
    ]
    assert unused == []
