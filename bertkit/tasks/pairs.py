"""Next-sentence-prediction (NSP) style pairs: does sentence B follow sentence A?

BERT was pre-trained on two tasks: masked words and next sentence prediction.
`nsp_pairs` rebuilds the second from any collection of documents (e.g. the
drug reviews): for consecutive sentences A, B of one document, half the
examples keep B ("IsNext", label 1) and half replace B by a random sentence
("NotNext", label 0). The result feeds a pair classifier
(`build_classifier(..., text_pairs=True)`).

Sentences are split with a simple regular expression (`split_sentences`): a
sentence ends at `.`, `!` or `?` (optionally followed by one closing quote or
bracket) followed by whitespace, so "2.5 mg" stays whole. It does
not know abbreviations ("Dr. Smith" is cut after "Dr."): good enough for a
demo, not for linguistics.

Examples:
>>> pairs, labels = nsp_pairs(["I slept well. No side effects.", "It hurt. I stopped."], seed=0)
>>> len(pairs), sorted(labels.tolist())
(2, [0, 1])
"""

from __future__ import annotations

import html
import re

import numpy as np

from bertkit.text.text_pairs import TextPairs

IS_NEXT, NOT_NEXT = 1, 0
LABEL_NAMES = ["NotNext", "IsNext"]  # index = label id
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"')\]])\s+")


def split_sentences(text: str, min_chars: int = 2) -> list[str]:
    """Splits `text` into sentences at `.`, `!`, `?` followed by whitespace.

    HTML entities (`&#039;` in the drug reviews) are unescaped, surrounding
    quotes and whitespace stripped; pieces shorter than `min_chars` are dropped.

    Examples:
    >>> split_sentences('"It works! I sleep now. Dose is 2.5 mg."')
    ['It works!', 'I sleep now.', 'Dose is 2.5 mg.']
    """
    if not isinstance(text, str):
        raise TypeError(
            f"text must be a string. Received: {text!r:.80} of type {type(text).__name__}. "
            "Drop or fill in missing texts first."
        )
    text = html.unescape(text).strip().strip('"').strip()
    pieces = (p.strip().strip('"').strip() for p in _SENTENCE_END.split(text))
    return [p for p in pieces if len(p) >= min_chars]


def _as_documents(documents_or_sentences) -> list[list[str]]:
    if isinstance(documents_or_sentences, str | bytes):
        raise TypeError(
            "nsp_pairs needs a list of documents, not one string. Received: "
            f"{documents_or_sentences!r:.60}. Pass a list: [{documents_or_sentences!r:.40}]."
        )
    documents = []
    for i, doc in enumerate(documents_or_sentences):
        if isinstance(doc, str):
            documents.append(split_sentences(doc))
        elif isinstance(doc, list | tuple) and all(isinstance(s, str) for s in doc):
            documents.append([s for s in doc if s.strip()])
        else:
            raise TypeError(
                "Every document must be a string or a list of sentence strings. Received: "
                f"{doc!r:.80} of type {type(doc).__name__} at position {i} (counting from 0). "
                "Drop or fill in missing documents first."
            )
    return documents


def nsp_pairs(documents_or_sentences, seed: int = 0) -> tuple[TextPairs, np.ndarray]:
    """An NSP dataset: consecutive sentences (label 1) vs a random other sentence (label 0).

    Every pair of consecutive sentences (A, B) in a document is a candidate. The
    candidates are shuffled (seeded); the first half keep B (`IS_NEXT` = 1), the
    second half replace B with a random sentence (`NOT_NEXT` = 0) from another
    document when there is one (as BERT did), never a sentence equal to A or to
    the true B. With an odd number of candidates the last one is dropped, so the
    labels are exactly 50/50.

    Args:
        documents_or_sentences: list of str (documents, split with
            `split_sentences`) or list of lists of str (documents already split
            into sentences).
        seed: int. Fixes the shuffle and the random sentences.

    Returns:
        `(pairs, labels)`: a `bertkit.text.text_pairs.TextPairs` and int32 labels, in shuffled order.

    Examples:
    >>> docs = [["a b.", "c d.", "e f."], ["g h.", "i j."]]
    >>> pairs, labels = nsp_pairs(docs, seed=1)
    >>> len(pairs), int(labels.sum())
    (2, 1)
    """
    documents = _as_documents(documents_or_sentences)
    candidates = [(d, i) for d, doc in enumerate(documents) for i in range(len(doc) - 1)]
    all_sentences = [(d, s) for d, doc in enumerate(documents) for s in doc]
    distinct = {s for _, s in all_sentences}
    if len(candidates) < 2 or len(distinct) < 3:
        raise ValueError(
            "Too little text for NSP pairs: need at least 2 pairs of consecutive sentences and "
            f"3 distinct sentences. Received: {len(candidates)} consecutive pairs, "
            f"{len(distinct)} distinct sentences in {len(documents)} documents. Pass more "
            "documents, or documents with several sentences each."
        )
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(candidates))
    order = order[: len(order) // 2 * 2]
    half = len(order) // 2
    texts_a, texts_b, labels = [], [], []
    for rank, index in enumerate(order):
        d, i = candidates[index]
        a, b = documents[d][i], documents[d][i + 1]
        if rank >= half:
            b = _random_sentence(rng, all_sentences, d, exclude={a, b})
        texts_a.append(a)
        texts_b.append(b)
        labels.append(IS_NEXT if rank < half else NOT_NEXT)
    # Positives came first; shuffle once more so the order carries no label information.
    mix = rng.permutation(len(labels))
    pairs = TextPairs([texts_a[i] for i in mix], [texts_b[i] for i in mix])
    return pairs, np.asarray(labels, np.int32)[mix]


def _random_sentence(rng, all_sentences, document, exclude) -> str:
    """A random sentence from another document (any document if there is no other)."""
    for _ in range(64):  # rejection sampling: almost always done in one or two draws
        d, s = all_sentences[int(rng.integers(len(all_sentences)))]
        if d != document and s not in exclude:
            return s
    others = [s for d, s in all_sentences if d != document and s not in exclude]
    if not others:
        others = [s for _, s in all_sentences if s not in exclude]
    return others[int(rng.integers(len(others)))]
