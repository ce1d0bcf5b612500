"""Look inside tokenization: WordPiece pieces, special tokens, masks and segment ids.

Thin views over a TF-Hub preprocessor (`.tokenize`, `.bert_pack_inputs`) for
teaching and debugging; training uses the same calls through `bertkit.text.inputs`.

Examples:
>>> pre = bertkit.load_preprocessor("tiny_random_en_uncased")
>>> wordpieces(pre, ["Hello world"])
[[['hello'], ['world']]]
>>> table(pre, "job", seq_length=5)["token"].tolist()
['[CLS]', 'job', '[SEP]', '[PAD]', '[PAD]']
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pandas as pd
import tensorflow as tf

from bertkit import names
from bertkit.presets import hub as bk_hub


def _preprocessor_dir(preprocessor) -> Path:
    if isinstance(preprocessor, (str, os.PathLike)):
        return bk_hub.resolve(preprocessor, names.PREPROCESSOR_DIR)
    handle = getattr(preprocessor, "_handle", None) or getattr(preprocessor, "handle", None)
    if isinstance(handle, (str, os.PathLike)):
        return Path(handle)
    raise ValueError(
        "Cannot find the preprocessor's files. Received: "
        f"{type(preprocessor).__name__}. Pass a preset name, a directory, or a layer from "
        "bertkit.load_preprocessor()."
    )


@functools.lru_cache(maxsize=8)
def _vocabulary_from_dir(directory: str) -> tuple[str, ...]:
    candidates = sorted(Path(directory, "assets").glob("*.txt"))
    if not candidates:
        raise FileNotFoundError(
            f"The preprocessor has no WordPiece vocabulary file. Received: {directory!r}. "
            "Only WordPiece (BERT) preprocessors can be inspected."
        )
    return tuple(candidates[0].read_text(encoding="utf-8").splitlines())


def vocabulary(preprocessor) -> list[str]:
    """The WordPiece vocabulary (index = token id) of a preprocessor, preset name or directory.

    Examples:
    >>> vocabulary("tiny_random_en_uncased")[:3]
    ['[PAD]', '[UNK]', '[CLS]']
    """
    return list(_vocabulary_from_dir(str(_preprocessor_dir(preprocessor))))


def _loaded(preprocessor):
    if isinstance(preprocessor, (str, os.PathLike)):
        return bk_hub.load_preprocessor(preprocessor).resolved_object
    return getattr(preprocessor, "resolved_object", preprocessor)


def wordpieces(preprocessor, texts: list[str]) -> list[list[list[str]]]:
    """Per text, per word, its WordPiece pieces (continuations start with `##`)."""
    vocab = vocabulary(preprocessor)
    tokens = getattr(_loaded(preprocessor), names.TOKENIZE)(tf.constant(texts))
    return [[[vocab[i] for i in word] for word in text] for text in tokens.to_list()]


def pack(
    preprocessor, first: list[str], second: list[str] | None = None, seq_length: int = 128
) -> dict:
    """Encoder inputs for single texts or text pairs (`[CLS] A [SEP] B [SEP]`), as NumPy arrays."""
    loaded = _loaded(preprocessor)
    tokenize = getattr(loaded, names.TOKENIZE)
    segments = [tokenize(tf.constant(first))]
    if second is not None:
        if len(second) != len(first):
            raise ValueError(
                "Sentence pairs need as many second texts as first texts. Received: "
                f"{len(first)} and {len(second)}."
            )
        segments.append(tokenize(tf.constant(second)))
    packed = getattr(loaded, names.BERT_PACK_INPUTS)(segments, seq_length=tf.constant(seq_length))
    return {k: v.numpy() for k, v in packed.items()}


def table(preprocessor, text: str, second: str | None = None, seq_length: int = 16) -> pd.DataFrame:
    """One row per position: token, `input_word_ids`, `input_mask`, `input_type_ids`.

    Args:
        preprocessor: preset name, directory or `bertkit.load_preprocessor` layer.
        text: str. The (first) text.
        second: optional str. A second segment, for sentence pairs.
        seq_length: int. Positions to show (padding / truncation included).
    """
    packed = pack(preprocessor, [text], None if second is None else [second], seq_length)
    vocab = vocabulary(preprocessor)
    ids = packed[names.INPUT_WORD_IDS][0]
    return pd.DataFrame(
        {
            "token": [vocab[i] for i in ids],
            names.INPUT_WORD_IDS: ids,
            names.INPUT_MASK: packed[names.INPUT_MASK][0],
            names.INPUT_TYPE_IDS: packed[names.INPUT_TYPE_IDS][0],
        }
    )
