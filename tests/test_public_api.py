"""The top-level API: one import gives the whole data flow, every name bertkit cites exists,
and the notebooks, README examples and benchmarks call the top-level names."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import pkgutil
import re
import types
from pathlib import Path

import bertkit

PACKAGE = Path(bertkit.__file__).parent
FILE_SUFFIXES = {"py", "json", "md", "csv", "ipynb", "txt"}  # bertkit.json is a file, not an API


def test_the_training_flow_is_at_the_top_level():
    for name in (
        "build_classifier",
        "fit",
        "TrainConfig",
        "save_model",
        "load_model",
        "LabelEncoder",
        "load",
        "convert",
    ):
        assert name in bertkit.__all__, name
    namespace: dict = {}
    exec("from bertkit import *", namespace)
    assert {name for name in namespace if not name.startswith("__")} == set(bertkit.__all__)


def test_no_top_level_name_hides_a_module():
    # `bertkit.evaluate = evaluate.evaluate` would make `from bertkit import evaluate` the function.
    modules = {info.name for info in pkgutil.iter_modules(bertkit.__path__)}
    assert modules & set(bertkit.__all__) == set()


def _cited_names() -> list[tuple[str, str]]:
    """(file, "bertkit.x.y") for every bertkit name that bertkit's strings cite."""
    cited = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for match in re.finditer(r"\bbertkit(?:\.[A-Za-z_]\w*)+", node.value):
                    cited.append((path.relative_to(PACKAGE).as_posix(), match.group(0)))
    return cited


def _resolves(dotted: str) -> bool:
    obj, path = bertkit, "bertkit"
    for part in dotted.split(".")[1:]:
        path += "." + part
        if hasattr(obj, part):
            obj = getattr(obj, part)
        elif importlib.util.find_spec(path) is not None:
            obj = importlib.import_module(path)
        else:
            return part in FILE_SUFFIXES
    return True


def test_every_bertkit_name_in_messages_and_docstrings_exists():
    cited = _cited_names()
    assert (
        "export/saved_classifier.py",
        "bertkit.save_model",
    ) in cited  # "(bertkit.save_model writes it)"
    assert [(file, name) for file, name in cited if not _resolves(name)] == []


# --- Notebooks, README and benchmarks call the top-level names --------------------------

ROOT = PACKAGE.parent
_MAGIC = re.compile(r"^(\s*)[!%].*$", re.MULTILINE)  # `!pip install ...` is IPython, not Python
_README_PYTHON = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _python(source: str) -> ast.Module:
    """Parses a code cell or example; IPython's `!` and `%` lines become `pass`."""
    return ast.parse(_MAGIC.sub(r"\1pass", source))


def _bertkit_object(dotted: str):
    """The bertkit module or object named `dotted`, importing submodules; None if none."""
    module, _, name = dotted.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (AttributeError, ImportError, ValueError):
        try:
            return importlib.import_module(dotted)
        except ImportError:
            return None


def _is_top_level(module, name: str) -> bool:
    """Whether `module.name` is the very object `bertkit.name` exports."""
    if module is bertkit or name not in bertkit.__all__:
        return False
    return getattr(module, name, None) is getattr(bertkit, name)


class _ModuleCalls(ast.NodeVisitor):
    """Finds `module.name` (and `from bertkit.module import name`) for a top-level name.

    Visits code in source order and keeps which local names are bertkit modules
    (`from bertkit.presets import hub as bk_hub`, `import bertkit.train.finetune as ft`); a later
    non-bertkit import of the same name (`import tensorflow_hub as hub`) unbinds it.
    Bindings carry over from one cell (or README example) to the next.
    """

    def __init__(self):
        self.modules: dict[str, object] = {}
        self.found: list[str] = []
        self.where = ""

    def check(self, tree: ast.AST, where: str) -> None:
        self.where = where
        self.visit(tree)

    def _bind(self, local: str, obj) -> None:
        if isinstance(obj, types.ModuleType) and obj.__name__.startswith("bertkit"):
            self.modules[local] = obj
        else:
            self.modules.pop(local, None)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                obj = _bertkit_object(alias.name) if alias.name.startswith("bertkit") else None
                self._bind(alias.asname, obj)
            else:  # `import bertkit.train.finetune` binds `bertkit`
                root = alias.name.split(".")[0]
                self._bind(root, bertkit if root == "bertkit" else None)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        source = node.module or ""
        for alias in node.names:
            inside = source == "bertkit" or source.startswith("bertkit.")
            obj = _bertkit_object(f"{source}.{alias.name}") if inside else None
            if inside and _is_top_level(importlib.import_module(source), alias.name):
                self.found.append(f"{self.where}:{node.lineno}: from {source} import {alias.name}")
            self._bind(alias.asname or alias.name, obj)

    def _module(self, node: ast.expr):
        if isinstance(node, ast.Name):
            return self.modules.get(node.id)
        if isinstance(node, ast.Attribute):
            parent = self._module(node.value)
            child = getattr(parent, node.attr, None) if parent is not None else None
            return child if isinstance(child, types.ModuleType) else None
        return None

    def visit_Attribute(self, node: ast.Attribute) -> None:
        module = self._module(node.value)
        if module is not None and _is_top_level(module, node.attr):
            self.found.append(
                f"{self.where}:{node.lineno}: {ast.unparse(node)} -> bertkit.{node.attr}"
            )
        self.generic_visit(node)


def _notebook_cells(notebook: Path):
    """Yields (where, source) for each code cell."""
    for index, cell in enumerate(json.loads(notebook.read_text(encoding="utf-8"))["cells"]):
        if cell["cell_type"] == "code":
            yield f"{notebook.name} cell {index}", "".join(cell["source"])


def module_calls_of_top_level_names(paths: list[Path]) -> list[str]:
    """`module.name` uses of top-level names in notebooks, markdown examples and scripts."""
    found = []
    for path in paths:
        if path.suffix == ".ipynb":
            sources = list(_notebook_cells(path))
        elif path.suffix == ".md":
            blocks = _README_PYTHON.findall(path.read_text(encoding="utf-8"))
            sources = [(f"{path.name} python example {i + 1}", b) for i, b in enumerate(blocks)]
        else:
            sources = [(path.name, path.read_text(encoding="utf-8"))]
        checker = _ModuleCalls()
        for where, source in sources:
            checker.check(_python(source), where)
        found += checker.found
    return found


def test_notebooks_readme_and_benchmarks_call_the_top_level_names():
    paths = [
        *sorted((ROOT / "notebooks").glob("*.ipynb")),
        ROOT / "README.md",
        *sorted((ROOT / "benchmarks").glob("*.py")),
    ]
    assert len(paths) > 10
    assert module_calls_of_top_level_names(paths) == []


def test_the_top_level_check_finds_module_calls(tmp_path):
    setup = (
        "if 'google.colab' in sys.modules:\n    !pip install -q bertkit\n"
        "import bertkit\nfrom bertkit.text import data, labels; from bertkit.train import finetune\nfrom bertkit.presets import hub as bk_hub\n"
    )
    uses = (
        "encoder = labels.LabelEncoder.fit(['a', 'b'])\n"  # flagged: bertkit.LabelEncoder
        "train = data.load('train.csv')\n"  # not flagged: data.load is not bertkit.load
        "config = finetune.TrainConfig()\n"  # flagged
        "preds = finetune.predict_logits(model, texts)\n"  # not flagged: not top-level
        "bk_hub.resolve('x')\n"  # flagged, through an alias
        "bertkit.train.finetune.fit(model, texts, y)\n"  # flagged, through the package
        "bertkit.fit(model, texts, y)\n"  # the top-level name: fine
        "import tensorflow_hub as hub\nhub.load('x')\n"  # not bertkit: fine
        "from bertkit.model.classifier import build_classifier\n"  # flagged
        "import bertkit.train.finetune as ft\nft.set_seed(0)\n"  # flagged, through `import ... as`
    )
    cells = [
        {"cell_type": "code", "source": [setup]},
        {"cell_type": "markdown", "source": ["data.load"]},
    ]
    cells.append({"cell_type": "code", "source": uses.splitlines(keepends=True)})
    notebook = tmp_path / "planted.ipynb"
    notebook.write_text(json.dumps({"cells": cells}))
    found = module_calls_of_top_level_names([notebook])
    assert found == [
        "planted.ipynb cell 2:1: labels.LabelEncoder -> bertkit.LabelEncoder",
        "planted.ipynb cell 2:3: finetune.TrainConfig -> bertkit.TrainConfig",
        "planted.ipynb cell 2:5: bk_hub.resolve -> bertkit.resolve",
        "planted.ipynb cell 2:6: bertkit.train.finetune.fit -> bertkit.fit",
        "planted.ipynb cell 2:10: from bertkit.model.classifier import build_classifier",
        "planted.ipynb cell 2:12: ft.set_seed -> bertkit.set_seed",
    ]
    readme = tmp_path / "README.md"
    readme.write_text(f"Text `finetune.fit`.\n\n```python\n{setup}finetune.fit(m, x, y)\n```\n")
    assert module_calls_of_top_level_names([readme]) == [
        "README.md python example 1:6: finetune.fit -> bertkit.fit"
    ]
