"""Committed notebooks store results, not TensorFlow's start-up noise or local paths."""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
NOISE = re.compile(
    r"failed call to cuInit|absl::InitializeLog|loop_optimizer\.cc|oneDNN custom operations"
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
