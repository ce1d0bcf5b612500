"""The data `python -m bertkit.apps.search` and notebook 05 search on: the drug reviews, split.

Examples:
>>> train, validation, labels = drug_reviews_split(train_limit=20)  # doctest: +SKIP
"""

from __future__ import annotations

from bertkit.text import datasets, loaders, splits
from bertkit.text.labels import LabelEncoder


def drug_reviews_split(
    train_limit: int | None = None, validation_fraction: float = 0.2, seed: int = 0
):
    """The drug reviews' training part, split for a search: `(train, validation, labels)`.

    `train_limit` reviews are sampled (seeded) from the 600, then split with
    `splits.stratified_split`; `labels` is the `LabelEncoder`. The test reviews
    are not touched. `python -m bertkit.apps.search` and notebook 05 search on this.
    """

    train_df, _ = datasets.load_drug_reviews()
    if train_limit:
        train_df = train_df.sample(n=min(train_limit, len(train_df)), random_state=seed)
    labelled = loaders.from_dataframe(
        train_df, datasets.DRUG_TEXT_COLUMN, datasets.DRUG_LABEL_COLUMN
    )
    train, validation = splits.stratified_split(labelled, validation_fraction, seed=seed)
    return train, validation, LabelEncoder.fit(labelled.labels)
