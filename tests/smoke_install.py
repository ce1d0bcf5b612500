"""Smoke test of an installed bertkit under another Python (Colab runs 3.12+).

`make test-python312` installs bertkit (not editable) with the pinned stack into
`.venv-py312` and runs this file with that interpreter. It checks that the
package imported is the installed one, then builds the tiny preset, trains it
for one epoch through the CLI, predicts and evaluates, and checks the outputs.
Not collected by pytest (the name does not start with `test_`): it runs in a
different interpreter from the suite.

    .venv-py312/bin/python tests/smoke_install.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOPICS = REPO / "data" / "topics.csv"
TINY = "tiny_random_en_uncased"


def bertkit_cli(*args: str, cwd: Path, env: dict, stdin: str | None = None) -> str:
    """Runs `python -m bertkit ARGS` in `cwd` (outside the checkout); returns its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "bertkit", *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise SystemExit(f"bertkit {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def main() -> None:
    """Installs nothing; checks the installed package end to end."""
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        env = dict(os.environ, BERTKIT_CACHE_DIR=str(scratch / "cache"), TF_CPP_MIN_LOG_LEVEL="2")
        where = subprocess.run(
            [sys.executable, "-c", "import bertkit; print(bertkit.__file__)"],
            cwd=scratch,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        site = sysconfig.get_paths()["purelib"]
        assert where.startswith(site), f"imported {where}, not the installed copy in {site}"

        bertkit_cli("build", TINY, cwd=scratch, env=env)
        model = scratch / "model"
        summary = json.loads(
            bertkit_cli(
                "train", "--train", str(TOPICS), "--preset", TINY, "--strategy", "full",
                "--epochs", "1", "--output", str(model), cwd=scratch, env=env,
            ).strip().splitlines()[-1]
        )  # fmt: skip
        assert summary["classes"] == ["education", "job", "love"], summary["classes"]
        assert summary["epochs_run"] == 1, summary

        lines = bertkit_cli(
            "predict", "--model", str(model), cwd=scratch, env=env,
            stdin="I love my teacher\nThe office closed early\n",
        ).splitlines()  # fmt: skip
        rows = [json.loads(line) for line in lines]
        assert [row["text"] for row in rows] == ["I love my teacher", "The office closed early"]
        for row in rows:
            assert row["label"] in summary["classes"], row
            assert abs(sum(row["probabilities"].values()) - 1.0) < 1e-4, row

        metrics = json.loads(
            bertkit_cli(
                "evaluate", "--model", str(model), "--data", str(TOPICS), cwd=scratch, env=env
            )
        )
        assert 0.0 <= metrics["accuracy"] <= 1.0, metrics
    print(
        f"smoke test passed on Python {sys.version.split()[0]}: installed bertkit builds, "
        "trains, predicts and evaluates"
    )


if __name__ == "__main__":
    main()
