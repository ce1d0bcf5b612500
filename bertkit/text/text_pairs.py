"""What a classifier reads: a list of strings, or sentence pairs (`TextPairs`), checked.

A single-text model takes a list of str; a pair model
(`build_classifier(..., text_pairs=True)`) takes a `TextPairs` or a list of
`(text_a, text_b)` tuples. `check_model_texts` returns the texts in the form a
model takes, or a clear error when single texts meet a pair model or the reverse.

Examples:
>>> pairs = as_pairs([("is it raining?", "yes"), ("hot?", "no")])
>>> len(pairs), pairs.texts_b
(2, ['yes', 'no'])
"""

from __future__ import annotations

import dataclasses

import numpy as np


def check_texts(texts, offset: int = 0) -> list:
    """`texts` as a list, or TypeError naming the positions of entries that are not strings.

    `offset` is the position of the first text in the caller's whole input, for
    callers that check it batch by batch.

    Examples:
    >>> check_texts(("a", "b"))
    ['a', 'b']
    >>> check_texts(["a", None], offset=32)
    Traceback (most recent call last):
    ...
    TypeError: Every text must be a string. Received: None of type NoneType at position 33 (counting from 0). Drop or fill in missing texts first, e.g. load them with bertkit.text.data.load(..., on_bad_text="drop").
    """
    if isinstance(texts, str | bytes):
        raise TypeError(
            f"texts must be a list of strings, not one string. Received: {texts!r:.80}. "
            f"Pass a list: [{texts!r:.60}]."
        )
    texts = list(texts)
    bad = [i for i, text in enumerate(texts) if not isinstance(text, str | bytes)]
    if bad:
        first = texts[bad[0]]
        shown = ", ".join(str(offset + i) for i in bad[:10]) + (
            f" and {len(bad) - 10} more" if len(bad) > 10 else ""
        )
        raise TypeError(
            f"Every text must be a string. Received: {first!r:.80} of type {type(first).__name__} "
            f"at position{'s' if len(bad) > 1 else ''} {shown} (counting from 0). Drop or fill in "
            'missing texts first, e.g. load them with bertkit.text.data.load(..., on_bad_text="drop").'
        )
    return texts


@dataclasses.dataclass
class TextPairs:
    """Sentence pairs for a pair classifier (`build_classifier(..., text_pairs=True)`).

    Iterating yields `(a, b)` tuples; `len` is the number of pairs.

    Args:
        texts_a: list of str. First segments (input_type_ids 0).
        texts_b: list of str. Second segments (input_type_ids 1).

    Examples:
    >>> pairs = TextPairs(["is it raining?"], ["yes, take an umbrella"])
    >>> len(pairs), list(pairs)[0][1]
    (1, 'yes, take an umbrella')
    """

    texts_a: list
    texts_b: list

    def __post_init__(self):
        self.texts_a = check_texts(self.texts_a)
        self.texts_b = check_texts(self.texts_b)
        if len(self.texts_a) != len(self.texts_b):
            raise ValueError(
                "texts_a and texts_b must have one entry per pair. Received: "
                f"{len(self.texts_a)} texts_a and {len(self.texts_b)} texts_b. Pass lists of "
                "the same length (pair i is (texts_a[i], texts_b[i]))."
            )

    def __len__(self) -> int:
        return len(self.texts_a)

    def __iter__(self):
        return iter(zip(self.texts_a, self.texts_b, strict=True))

    def take(self, indices) -> TextPairs:
        """Pairs `indices` as a new `TextPairs`."""
        return TextPairs([self.texts_a[i] for i in indices], [self.texts_b[i] for i in indices])


def is_pairs(texts) -> bool:
    """Whether `texts` holds sentence pairs: a `TextPairs`, or a list of `(a, b)` tuples.

    Examples:
    >>> is_pairs([("a", "b")]), is_pairs(["a b"]), is_pairs([["a"]]), is_pairs(TextPairs([], []))
    (True, False, False, True)
    """
    if isinstance(texts, TextPairs):
        return True
    if isinstance(texts, np.ndarray):
        return texts.ndim == 2 and texts.shape[1] == 2
    if hasattr(texts, "iloc"):  # a pandas Series: look at its first row, whatever its index
        return len(texts) > 0 and _is_pair(texts.iloc[0])
    if isinstance(texts, list | tuple):
        return len(texts) > 0 and _is_pair(texts[0])
    return False


def _is_pair(row) -> bool:
    return isinstance(row, tuple | list) and len(row) == 2 and all(isinstance(t, str) for t in row)


def as_pairs(texts) -> TextPairs:
    """`texts` (a `TextPairs` or a list of `(a, b)` tuples) as a `TextPairs`.

    Examples:
    >>> as_pairs([("a", "b"), ("c", "d")]).texts_b
    ['b', 'd']
    """
    if isinstance(texts, TextPairs):
        return texts
    rows = [tuple(row) if isinstance(row, np.ndarray) else row for row in texts]
    bad = [i for i, row in enumerate(rows) if not (isinstance(row, tuple | list) and len(row) == 2)]
    if bad:
        raise ValueError(
            "Every sentence pair must be a (text_a, text_b) tuple. Received: "
            f"{rows[bad[0]]!r:.80} at position {bad[0]} (counting from 0). Pass a list of "
            "2-tuples, or bertkit.text.text_pairs.TextPairs(texts_a, texts_b)."
        )
    return TextPairs([row[0] for row in rows], [row[1] for row in rows])


def check_model_texts(model, texts):
    """`texts` in the form `model` takes: a `TextPairs` for a pair model, else a list of str.

    Raises a clear error when a single-text model gets pairs or a pair model
    gets single texts. `model` is a `TextClassifier`, or a `preflight.PlannedModel`
    before it is built (`encode_for_model` and `preflight.check_examples` check which).
    """
    pair_model = model.text_pairs
    if pair_model and not is_pairs(texts):
        if hasattr(texts, "__len__") and len(texts) == 0:
            return TextPairs([], [])
        shown = texts if isinstance(texts, str | bytes) else list(texts)[:1]
        raise ValueError(
            "This model classifies sentence pairs, but got single texts. Received: "
            f"{shown!r:.80}. Pass a list of (text_a, text_b) tuples or "
            "bertkit.text.text_pairs.TextPairs(texts_a, texts_b)."
        )
    if not pair_model and is_pairs(texts):
        raise ValueError(
            "This model classifies single texts, but got sentence pairs. Received: "
            f"{list(texts)[:1]!r:.80}. Pass a list of strings, or build the model with "
            "build_classifier(..., text_pairs=True)."
        )
    return as_pairs(texts) if pair_model else check_texts(texts)
