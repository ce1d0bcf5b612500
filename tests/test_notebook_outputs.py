"""Committed notebooks store results, not TensorFlow's start-up noise or local paths."""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
NOISE = re.compile(
    r"failed call to cuInit|absl::InitializeLog|loop_optimizer\.cc|oneDNN custom operations|DT_INT64"
    r"|^WARNING:tensorflow:|^INFO:tensorflow:|pkg_resources is deprecated",
    re.MULTILINE,
)
LOCAL_PATH = re.compile(r"/work/|/root/|/home/\w")


def _output_texts(notebook: Path):
    """Yields (cell index, output kind, text) for every stored text output."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    for index, cell in enumerate(cells):
        for output in cell.get("outputs", []):
            if output["output_type"] == "stream":
                yield index, output["name"], "".join(output["text"])
            for mime, value in output.get("data", {}).items():
                if mime.startswith("text/"):
                    yield index, mime, "".join(value)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_notebook_stores_no_tensorflow_noise_or_local_paths(notebook):
    problems = [
        f"cell {index} ({kind}): {line.strip()[:120]}"
        for index, kind, text in _output_texts(notebook)
        for line in text.splitlines()
        if NOISE.search(line) or LOCAL_PATH.search(line)
    ]
    assert not problems, "\n".join(problems)


def test_noise_check_catches_a_stored_cuinit_line(tmp_path):
    notebook = tmp_path / "noisy.ipynb"
    line = "E cuda_platform.cc:51] failed call to cuInit: UNKNOWN ERROR (303)\n"
    stream = {"output_type": "stream", "name": "stderr", "text": [line]}
    notebook.write_text(json.dumps({"cells": [{"cell_type": "code", "outputs": [stream]}]}))
    texts = [text for _, _, text in _output_texts(notebook)]
    assert any(NOISE.search(text) for text in texts)


# --- Prose numbers come from the cells -------------------------------------------------

# Numbers the prose may quote without a cell printing them: facts from papers and model
# cards that no offline cell can compute. Each carries its reason.
PROSE_CONSTANTS = {
    "15%": "BERT's MLM masking rate (Devlin et al. 2018), set by the recipe, not measured",
    "30522": "size of the English uncased WordPiece vocabulary",
    "512": "BERT's maximum sequence length (its position table has 512 rows)",
    "384": "hidden size of the default model, all-MiniLM-L6-v2",
    "768": "hidden size of BERT-Base",
}
_CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)
_LINK_TARGET = re.compile(r"\]\([^)]*\)|https?://\S+|<[^>]*>")
_LIST_OR_HEADING_NUMBER = re.compile(r"^\s*(?:#+\s*)?\d+[.)]\s", re.MULTILINE)
_CITATION_YEAR = re.compile(r"et al\.,? (?:\(?\d{4}\)?)")
_NOTEBOOK_NAME = re.compile(r"\b(?:notebooks?\s+(?:\d\d\w?(?:,\s*|\s+and\s+|\s+or\s+)?)+|\d\d\w?_\w+)", re.I)
# A number: not part of a name such as L-12 or h384 or v2.0, optional thousands commas,
# decimals, an exponent, a multiplier suffix or a percent sign.
_PROSE_NUMBER = re.compile(
    r"(?<![\w./#])(?<![A-Za-z]-)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(e-?\d+)?"
    r"[ ]?(%|[kKMB]\b|million\b|billion\b)?(?![\w.]\w|\w)"
)
_OUTPUT_NUMBER = re.compile(r"(?<![\w.])(\d+(?:,\d{3})*(\.\d+)?(?:e[-+]?\d+)?)( ?%)?", re.IGNORECASE)
_SUFFIX = {"k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9, "million": 1e6, "billion": 1e9}


def _prose_numbers(markdown: str):
    """Yields the numbers of a markdown cell a reader takes as results.

    Code spans, code blocks, link targets, HTML tags, issue numbers (#2267), list and
    heading numbering, citation years (Hinton et al. 2015) and notebook names
    (`notebook 04`, `04_fine_tuning`) are not results; small integers
    (below 10, without % or decimals) are counted words ("two layers"), also skipped.

    >>> list(_prose_numbers("Accuracy 0.84 (`x = 3.5`), 84%, 3 layers, notebook 10, L-12."))
    ['0.84', '84%']
    """
    text = _CODE.sub(" ", markdown)
    text = _LINK_TARGET.sub(" ", text)
    text = _LIST_OR_HEADING_NUMBER.sub(" ", text)
    text = _NOTEBOOK_NAME.sub(" ", text)
    text = _CITATION_YEAR.sub(" ", text)
    for match in _PROSE_NUMBER.finditer(text):
        integer, decimals, exponent, suffix = match.groups()
        if not (decimals or exponent or suffix == "%") and int(integer.replace(",", "")) < 10:
            continue
        yield match.group(0).replace(" ", "")


def _output_values(notebook: Path) -> dict:
    """The numbers printed in a notebook's stored outputs, by how prose may quote them.

    "plain" holds every number; "percent" holds what a prose percentage may match: every
    number times 100, and the numbers printed with a % sign or with decimals (a plain
    integer such as 12 heads is no percentage).
    """
    plain, percent = set(), set()
    for _, _, text in _output_texts(notebook):
        for number, decimals, percent_sign in _OUTPUT_NUMBER.findall(text):
            value = float(number.replace(",", ""))
            plain.update((value, value * 100, value / 100))
            percent.add(value * 100)
            if decimals or percent_sign:
                percent.add(value)
    return {"plain": sorted(plain), "percent": sorted(percent)}


def _matches(prose: str, outputs: dict) -> bool:
    """Whether a prose number is one of the outputs, as written or rounded, as a share or %.

    A prose "0.52" matches an output 0.5234 or 52.34, "52%" matches 0.5234 or 52.3%, and
    "22.7M" matches 22713216; the sign is ignored ("-12%" means a drop of 12%).

    >>> outputs = {"plain": [0.5234, 52.34, 5234.0], "percent": [52.34]}
    >>> _matches("52%", outputs), _matches("0.52", outputs), _matches("0.53", outputs)
    (True, True, False)
    """
    integer, decimals, exponent, suffix = _PROSE_NUMBER.fullmatch(prose.lstrip("-")).groups()
    mantissa = float(integer.replace(",", "") + (decimals or ""))
    digits = len(decimals) - 1 if decimals else 0
    if exponent:
        mantissa, digits = mantissa * 10 ** int(exponent[1:]), digits - int(exponent[1:])
    tolerance = 0.5 * 10.0**-digits * (1 + 1e-9)
    targets = [(mantissa, tolerance)]
    if suffix and suffix != "%":
        targets.append((mantissa * _SUFFIX[suffix], tolerance * _SUFFIX[suffix]))
    values = outputs["percent" if suffix == "%" else "plain"]
    return any(abs(value - target) <= tol for value in values for target, tol in targets)


def _unbacked_prose_numbers(notebook: Path) -> list:
    """Lists 'cell N: number' for every prose number found in no stored output."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    outputs = _output_values(notebook)
    return [
        f"cell {index}: {number}"
        for index, cell in enumerate(cells)
        if cell["cell_type"] == "markdown"
        for number in _prose_numbers("".join(cell["source"]))
        if number.replace(",", "") not in PROSE_CONSTANTS and not _matches(number, outputs)
    ]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_prose_numbers_appear_in_the_stored_outputs(notebook):
    unbacked = _unbacked_prose_numbers(notebook)
    assert not unbacked, (
        f"{notebook.name}: numbers in markdown that no stored output prints:\n"
        + "\n".join(unbacked)
        + "\nPrint them from a cell, correct them, or reword the prose."
    )


def test_prose_number_check_catches_a_planted_wrong_number(tmp_path):
    notebook = tmp_path / "planted.ipynb"
    prose = (
        "Accuracy 0.52 (52.3%), 22.7 million weights, loss `1.234` (code), 15% masked,"
        " notebook 10, BERT-L-24; macro-F1 0.61.\n"
    )
    printed = "accuracy 0.5234, 22,713,217 weights, macro-F1 0.604\n"
    cells = [
        {"cell_type": "markdown", "source": [prose]},
        {"cell_type": "code", "outputs": [{"output_type": "stream", "name": "stdout", "text": [printed]}]},
    ]
    notebook.write_text(json.dumps({"cells": cells}))
    assert _unbacked_prose_numbers(notebook) == ["cell 0: 0.61"]


# --- nbval checks results, not only shapes ---------------------------------------------

_IGNORED = re.compile(r"#\s*NBVAL_(?:IGNORE_OUTPUT|SKIP)\b")
_ASSERT = re.compile(r"^\s*assert\b", re.MULTILINE)


def checked_cells(notebook: Path) -> tuple:
    """Counts (checked, total) code cells with stored outputs.

    A cell is checked when nbval compares its output (no `# NBVAL_IGNORE_OUTPUT` or
    `# NBVAL_SKIP` marker, no nbval-ignore-output / nbval-skip tag) or when it asserts
    its results itself.
    """
    checked = total = 0
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code" or not cell.get("outputs"):
            continue
        source = "".join(cell["source"])
        tags = set(cell.get("metadata", {}).get("tags", []))
        ignored = _IGNORED.search(source) or tags & {"nbval-ignore-output", "nbval-skip"}
        total += 1
        checked += bool(not ignored or _ASSERT.search(source))
    return checked, total


def test_most_cells_with_outputs_are_compared_or_assert_their_results():
    counts = {notebook.stem: checked_cells(notebook) for notebook in NOTEBOOKS}
    checked = sum(c for c, _ in counts.values())
    total = sum(t for _, t in counts.values())
    assert total and checked / total >= 0.60, f"{checked} of {total} checked: {counts}"


def test_checked_cells_counts_ignored_cells_without_asserts_as_unchecked(tmp_path):
    def cell(source, tags=()):
        output = {"output_type": "stream", "name": "stdout", "text": ["0.5\n"]}
        return {"cell_type": "code", "source": [source], "metadata": {"tags": list(tags)}, "outputs": [output]}

    cells = [
        cell("print(1)"),  # compared
        cell("# NBVAL_IGNORE_OUTPUT\nprint(f1)\nassert 0 <= f1 <= 1"),  # asserts
        cell("# NBVAL_IGNORE_OUTPUT\nprint(f1)"),  # neither
        cell("print(f1)", tags=["nbval-ignore-output"]),  # neither
        {"cell_type": "code", "source": ["x = 1"], "metadata": {}, "outputs": []},  # no output
    ]
    notebook = tmp_path / "cells.ipynb"
    notebook.write_text(json.dumps({"cells": cells}))
    assert checked_cells(notebook) == (2, 4)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_notebook_ends_with_two_or_three_exercises(notebook):
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    last = "".join(next(c for c in reversed(cells) if c["cell_type"] == "markdown")["source"])
    assert "## Exercises" in last, f"{notebook.name}: the last markdown cell has no ## Exercises"
    exercises = last.split("## Exercises", 1)[1]
    numbered = re.findall(r"^\d+\. ", exercises, flags=re.MULTILINE)
    assert 2 <= len(numbered) <= 3, f"{notebook.name}: {len(numbered)} exercises"
