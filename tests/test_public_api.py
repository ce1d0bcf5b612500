"""The top-level API: one import gives the whole data flow, and every name bertkit cites exists."""

from __future__ import annotations

import ast
import importlib.util
import pkgutil
import re
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
    # `bertkit.distill = distill.distill` would make `from bertkit import distill` the function.
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
    assert ("export.py", "bertkit.save_model") in cited  # "(bertkit.save_model writes it)"
    assert [(file, name) for file, name in cited if not _resolves(name)] == []
