"""Every bertkit module's docstring examples run, from this one test.

Examples build the tiny random preset (`tiny_random_en_uncased`, hidden size
32, 2 layers), so they stay cheap. An example carries `# doctest: +SKIP` when it
needs the network or Colab, or takes longer than the suite can afford (the
modules in ONLY_SKIPPED below; see each module for the rest). Each module runs in a fresh temporary
working directory, so examples that write `runs/...` leave nothing behind.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import bertkit

# Modules without examples: the entry point (`python -m bertkit`), the CLI (its
# commands are run by tests/test_cli.py) and the interface names (constants only).
NO_EXAMPLES = {"bertkit.__main__", "bertkit.apps.cli", "bertkit.names"}
# Modules whose only examples are skipped, and why (their tests run the same calls).
ONLY_SKIPPED = {
    "bertkit.presets.converter": "converts a Hugging Face checkpoint: ~30 s for the 6-layer default",
    "bertkit.apps.demo": "fine-tunes the default preset three ways: minutes",
    "bertkit.export.litert_serve": "needs a .tflite export (tests/test_litert.py makes one)",
    "bertkit.apps.search.drug_reviews": "needs the drug reviews (`make data`; notebook 05 runs it)",
}
# Every module, also those in subpackages (bertkit.evaluate.metrics ...): a package's
# doctest run skips the functions it re-exports from its modules.
MODULES = ["bertkit"] + sorted(
    info.name for info in pkgutil.walk_packages(bertkit.__path__, prefix="bertkit.")
)
OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tiny_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    results = doctest.testmod(module, optionflags=OPTIONS, extraglobs={"bertkit": bertkit})
    assert results.failed == 0, f"{results.failed} failing examples in {name} (see stdout)"
    if name in NO_EXAMPLES or name in ONLY_SKIPPED:
        assert results.attempted == 0, f"{name} runs examples now: drop it from the sets above"
    else:
        assert results.attempted > 0, f"{name} has no docstring example"
