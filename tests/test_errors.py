"""Every bad input gives a message that names the problem, the received value and the fix.

The cases live in `benchmarks/error_catalogue.py`, which also writes
`docs/errors.md` from the same triggers, so the documented messages are the
tested ones. Cases with a known gap (a module another change has to fix) are
strict xfails: fixing the gap makes them fail until the mark is removed.
"""

import importlib.util
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from bertkit.export import saved_classifier

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "error_catalogue.py"
_spec = importlib.util.spec_from_file_location("error_catalogue", _PATH)
catalogue = importlib.util.module_from_spec(_spec)
sys.modules["error_catalogue"] = catalogue  # dataclasses look their module up by name
_spec.loader.exec_module(catalogue)

# The bad inputs issue 6 lists, each with the catalogue cases that cover it.
ISSUE_INPUTS = {
    "missing file": ["missing_file", "missing_predict_input"],
    "empty file": ["empty_file", "header_only"],
    "wrong text or label column name": ["wrong_text_column", "wrong_label_column"],
    "empty strings and None/NaN text": ["empty_texts", "missing_texts", "dropped_texts"],
    "non-string text": ["non_string_texts", "none_text_prediction"],
    "NaN labels": ["missing_labels", "nan_labels"],
    "a label column with a single class": ["single_class"],
    "a label at evaluation time that training never saw": ["unseen_label"],
    "texts far longer than the sequence length": ["long_texts_training", "long_texts_prediction"],
    "invalid UTF-8 bytes": ["invalid_utf8_csv", "invalid_utf8_predict_input"],
    "an encoder and preprocessor that do not match": ["mismatched_preprocessor"],
    "a missing or corrupt SavedModel directory": [
        "missing_encoder_dir",
        "corrupt_encoder",
        "missing_model_dir",
        "corrupt_model_dir",
        "truncated_model_variables",
        "corrupt_labels_file",
    ],
    "a remote handle with no network": ["remote_without_network"],
    "num_classes < 2": ["too_few_classes", "single_class"],
    "unfreeze-top larger than the number of layers": ["unfreeze_top_too_large"],
    "batch size <= 0": ["batch_size_training", "batch_size_prediction", "batch_size_predict_proba"],
}


@pytest.fixture(scope="module")
def workspace(tiny_dir, default_dir, tmp_path_factory):
    return catalogue.Workspace(tmp_path_factory.mktemp("errors"))


def _param(case):
    marks = [pytest.mark.xfail(strict=True, reason=case.gap)] if case.gap else []
    return pytest.param(case, id=case.key, marks=marks)


@pytest.mark.parametrize("case", [_param(case) for case in catalogue.CASES])
def test_message_names_problem_received_value_and_fix(case, workspace):
    message = case.trigger(workspace)
    assert re.search(case.problem, message), f"problem not named in:\n{message}"
    assert re.search(case.received, message), f"received value not named in:\n{message}"
    assert re.search(case.fix, message), f"fix not named in:\n{message}"
    if message.startswith("[exit"):  # the CLI fails with status 2, never a traceback
        expected = "[exit 0]" if case.problem.startswith(r"\[exit 0\]") else "[exit 2]"
        assert message.startswith(expected)
        assert "Traceback" not in message


def test_every_bad_input_of_the_issue_has_a_case():
    keys = [case.key for case in catalogue.CASES]
    assert len(keys) == len(set(keys))
    covered = {key for cases in ISSUE_INPUTS.values() for key in cases}
    assert covered <= set(keys)
    # Each listed bad input has at least one case whose message meets the contract.
    for bad_input, cases in ISSUE_INPUTS.items():
        assert any(catalogue.CASES[keys.index(k)].gap is None for k in cases), bad_input


def test_docs_list_every_case():
    """docs/errors.md was generated from the current cases (regenerate it when they change)."""
    doc = (_PATH.parents[1] / "docs" / "errors.md").read_text(encoding="utf-8")
    assert "benchmarks/error_catalogue.py > docs/errors.md" in doc
    for case in catalogue.CASES:
        assert case.bad_input in doc, case.key


# ------------------------------------------------------- prediction edge cases (export.py)


@pytest.fixture(scope="module")
def saved(workspace):
    return saved_classifier.load_model(workspace.model_dir)


def test_predict_proba_streams_a_generator_and_counts_truncated_texts(saved):
    texts = ["short", catalogue.LONG_TEXT, "", catalogue.LONG_TEXT, "fine"]
    consumed = []

    def lazily():
        for text in texts:
            consumed.append(text)
            yield text

    with pytest.warns(UserWarning, match="2 of 5 texts were longer"):
        from_generator = saved.predict_proba(lazily(), batch_size=2)
    assert consumed == texts and saved.last_num_truncated == 2
    with pytest.warns(UserWarning, match="2 of 5 texts were longer"):
        from_list = saved.predict_proba(texts, batch_size=5)
    np.testing.assert_allclose(from_generator, from_list, atol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no truncation, no warning
        saved.predict_proba(["short", "fine"])
    assert saved.last_num_truncated == 0


def test_predict_proba_reads_no_further_than_the_window_with_the_bad_text(saved):
    def texts(total):  # `total` texts, the 4th one bad; reading one more fails the test
        yield from ["a", "b", "c", None]
        yield from ["d"] * (total - 4)
        raise AssertionError("read past the window with the bad text")

    # Without read-ahead: stops after the bad batch ([a, b], [c, None]).
    with pytest.raises(TypeError, match="at position 3 "):
        saved.predict_proba(texts(4), batch_size=2, sort_window=1)
    # With the default read-ahead: stops after the first window of 16 batches.
    with pytest.raises(TypeError, match="at position 3 "):
        saved.predict_proba(texts(2 * saved_classifier.SORT_WINDOW_BATCHES), batch_size=2)


def test_predict_proba_of_nothing_is_empty(saved):
    assert saved.predict_proba([]).shape == (0, len(catalogue.LABELS))
    assert saved.predict_proba(iter([])).shape == (0, len(catalogue.LABELS))
