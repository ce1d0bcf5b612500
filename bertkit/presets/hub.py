"""Resolve encoder/preprocessor handles, load them as Keras layers, check they match.

A handle is one of:

- a preset name from `bertkit.presets` (e.g. `"minilm_l6_h384_en_uncased"`);
- an https URL of TF Hub (`https://tfhub.dev/...`) or Kaggle Models
  (`https://www.kaggle.com/models/...`), fetched by `tensorflow_hub` into its
  cache (`$TFHUB_CACHE_DIR`, default `~/.cache/bertkit/tfhub_modules`);
- a local directory holding a SavedModel (or a bertkit preset directory with
  `encoder/` and `preprocessor/` inside).

Examples:
>>> preprocessor, encoder = load("tiny_random_en_uncased")
>>> outputs = encoder(preprocessor(tf.constant(["hello world"])))
>>> outputs["pooled_output"].shape
TensorShape([1, 32])
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import tensorflow as tf
import tensorflow_hub as hub

from bertkit import _env, names, presets
from bertkit.presets import cache_dir

TFHUB_CACHE_ENV = "TFHUB_CACHE_DIR"
NETWORK_TIMEOUT_SECONDS = 3.0


class OfflineError(OSError):
    """A remote handle was requested but its host cannot be reached."""


def tfhub_cache_dir() -> Path:
    """Returns where remote handles are cached: `$TFHUB_CACHE_DIR` if set.

    Otherwise `cache_dir() / "tfhub_modules"` (tensorflow_hub's own default is
    a temp dir that is lost on reboot, so bertkit sets `TFHUB_CACHE_DIR` to this
    before it asks `tensorflow_hub` to download anything).
    """
    explicit = os.environ.get(TFHUB_CACHE_ENV)
    return Path(explicit).expanduser() if explicit else cache_dir() / "tfhub_modules"


def is_remote(handle: str) -> bool:
    """Whether `handle` is an http(s) URL.

    Examples:
    >>> is_remote("https://tfhub.dev/tensorflow/bert_en_uncased_preprocess/3")
    True
    """
    return urllib.parse.urlparse(handle).scheme in ("http", "https")


def module_cache_path(handle: str) -> Path:
    """Where `tensorflow_hub` keeps the download of a remote `handle`.

    tensorflow_hub names a cached module by the SHA-1 of its handle.

    Examples:
    >>> module_cache_path("https://tfhub.dev/x/1").name
    '72fa5c886a9c6569ce2f0cbeb0ccac8dddca3594'
    """
    return tfhub_cache_dir() / hashlib.sha1(handle.encode("utf8")).hexdigest()


def _is_saved_model_dir(path: Path) -> bool:
    return (path / "saved_model.pb").is_file() and (path / "variables").is_dir()


def _host_reachable(host: str, timeout: float = NETWORK_TIMEOUT_SECONDS) -> bool:
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _offline_message(handle: str, host: str) -> str:
    return (
        f"Cannot download a remote model: {host} is not reachable (no network?). "
        f"Received: {handle!r}. Use a preset that works offline "
        f"({', '.join(presets.offline_presets())}), a local SavedModel directory, or "
        f"pre-fill the cache: put the module in {module_cache_path(handle)} "
        f"(${TFHUB_CACHE_ENV} sets the cache directory)."
    )


def resolve_remote(handle: str) -> Path:
    """Returns a local directory for a remote handle, downloading it if needed.

    A handle already in the TF-Hub cache loads without any network access.
    Otherwise the host is probed first, so no network fails within seconds
    with `OfflineError` instead of hanging in a download.
    """
    cached = module_cache_path(handle)
    if _is_saved_model_dir(cached):
        return cached
    host = urllib.parse.urlparse(handle).hostname or ""
    if not _host_reachable(host):
        raise OfflineError(_offline_message(handle, host))
    os.environ.setdefault(TFHUB_CACHE_ENV, str(tfhub_cache_dir()))
    return Path(hub.resolve(handle))


def resolve_preset(name: str) -> tuple[Path | str, Path | str]:
    """Returns `(encoder, preprocessor)` locations for a preset name.

    Local presets are built into the cache on first use; remote ones give URLs.
    """
    preset = presets.get_preset(name)
    if preset.is_local:
        from bertkit.presets import local_presets

        root = local_presets.ensure_built(name)
        return root / names.ENCODER_DIR, root / names.PREPROCESSOR_DIR
    return preset.encoder, preset.preprocessor


def _resolve_dir(handle: str, part: str) -> Path:
    path = Path(handle).expanduser()
    if _is_saved_model_dir(path / part):
        path = path / part
    if not _is_saved_model_dir(path):
        missing = "does not exist" if not path.exists() else "has no saved_model.pb + variables/"
        raise FileNotFoundError(
            f"Not a SavedModel directory: the path {missing}. Received: {str(path)!r}. "
            "Pass a directory written by tf.saved_model.save (or a bertkit preset directory "
            "with encoder/ and preprocessor/), a preset name, or an https TF-Hub URL."
        )
    return path


def resolve(name_or_handle: str | os.PathLike, part: str = names.ENCODER_DIR) -> Path:
    """Returns the local SavedModel directory for a preset name, URL or directory.

    Args:
        name_or_handle: str or path. Preset name, https TF-Hub/Kaggle URL, or directory.
        part: str. `"encoder"` or `"preprocessor"`: which half of a preset to return.
    """
    if part not in (names.ENCODER_DIR, names.PREPROCESSOR_DIR):
        raise ValueError(f"part must be 'encoder' or 'preprocessor'. Received: part={part!r}.")
    handle = os.fspath(name_or_handle)
    if handle in presets.PRESETS:
        encoder, preprocessor = resolve_preset(handle)
        handle = os.fspath(encoder if part == names.ENCODER_DIR else preprocessor)
    if is_remote(handle):
        return resolve_remote(handle)
    if Path(handle).expanduser().exists() or os.sep in handle or handle.startswith("."):
        return _resolve_dir(handle, part)
    presets.get_preset(handle)  # raises the unknown-preset error with suggestions
    raise AssertionError("unreachable")


@contextlib.contextmanager
def _clear_load_errors(path: Path) -> Iterator[None]:
    """Turns TensorFlow's errors on unreadable SavedModel files into one clear error."""
    try:
        yield
    except Exception as err:  # protobuf parse errors, truncated variables, missing shards...
        if isinstance(err, TypeError | OfflineError):  # wrong arguments, not corrupt files
            raise
        raise ValueError(
            "Cannot load the SavedModel: its files look corrupt or incomplete (an interrupted "
            f"download, copy or build?). Received: {str(path)!r} ({type(err).__name__}: "
            f"{str(err).strip()[:200]}). Delete the directory and build, convert or download it "
            "again (`python -m bertkit build PRESET` rebuilds a local preset)."
        ) from err


def load_encoder(
    name_or_handle: str | os.PathLike, trainable: bool = False, **kwargs
) -> hub.KerasLayer:
    """Loads a TF-Hub-format BERT encoder as a Keras layer.

    Args:
        name_or_handle: str. Preset name, URL or SavedModel directory.
        trainable: bool. Whether the encoder's weights train (all of them; for
            training only the top layers see `bertkit.build_classifier`).
        **kwargs: passed to `hub.KerasLayer` (e.g. `name`).

    Examples:
    >>> encoder = load_encoder("tiny_random_en_uncased")
    >>> encoder.trainable
    False
    """
    kwargs.setdefault("name", "encoder")
    path = resolve(name_or_handle, names.ENCODER_DIR)
    with _clear_load_errors(path):
        return hub.KerasLayer(str(path), trainable=trainable, **kwargs)


def load_preprocessor(name_or_handle: str | os.PathLike, **kwargs) -> hub.KerasLayer:
    """Loads a TF-Hub-format BERT preprocessor (raw strings -> encoder inputs) as a Keras layer.

    Examples:
    >>> preprocessor = load_preprocessor("tiny_random_en_uncased")
    >>> sorted(preprocessor(tf.constant(["hi"])).keys())
    ['input_mask', 'input_type_ids', 'input_word_ids']
    """
    kwargs.setdefault("name", "preprocessor")
    path = resolve(name_or_handle, names.PREPROCESSOR_DIR)
    with _clear_load_errors(path):
        layer = hub.KerasLayer(str(path), **kwargs)
    _env.drop_onednn_int64_noise()
    return layer


def hub_load_options(strategy: tf.distribute.Strategy | None = None):
    """`tf.saved_model.LoadOptions` for loading an encoder under `strategy` (None: current).

    A TPU worker cannot read the local disk, so under a TPU strategy the SavedModel's
    files are read on the host (`experimental_io_device="/job:localhost"`), as TF Hub
    documents for TPUs. Other strategies need no options (returns None).

    Examples:
    >>> hub_load_options(tf.distribute.get_strategy()) is None
    True
    """
    strategy = strategy or tf.distribute.get_strategy()
    if any(cls.__name__.startswith("TPUStrategy") for cls in type(strategy).__mro__):
        return tf.saved_model.LoadOptions(experimental_io_device="/job:localhost")
    return None


def load_saved_model(path: str | os.PathLike):
    """`hub.load(path)` for a resolved SavedModel directory, with a clear error if it is corrupt.

    Examples:
    >>> encoder = load_saved_model(resolve("tiny_random_en_uncased"))
    >>> encoder_vocab_size(encoder)
    512
    """
    with _clear_load_errors(Path(path)):
        # Under a TPU strategy the files are read on the host (TPU workers have no disk).
        loaded = hub.load(str(path), options=hub_load_options())
    _env.drop_onednn_int64_noise()
    return loaded


def _loaded(obj):
    """The restored SavedModel object behind a `hub.KerasLayer` (or the object itself)."""
    return getattr(obj, "resolved_object", obj)


def encoder_vocab_size(encoder) -> int:
    """Rows of the encoder's word-embedding table (`encoder`: KerasLayer or loaded SavedModel)."""
    candidates = [
        v for v in _loaded(encoder).variables if "word_embeddings" in v.name and len(v.shape) == 2
    ]
    if not candidates:
        raise ValueError(
            "Cannot find the word-embedding table in the encoder. Received: variables "
            f"{[v.name for v in _loaded(encoder).variables[:5]]}... "
            "Check that the handle is a BERT encoder."
        )
    return int(candidates[0].shape[0])


def preprocessor_special_tokens(preprocessor) -> dict[str, int]:
    """Returns the preprocessor's special token ids and `vocab_size`.

    Examples:
    >>> preprocessor_special_tokens(load_preprocessor("tiny_random_en_uncased"))["vocab_size"]
    512
    """
    tokenize = getattr(_loaded(preprocessor), names.TOKENIZE)
    return {k: int(v) for k, v in tokenize.get_special_tokens_dict().items()}


def _lower_case_flag(obj) -> bool | None:
    """do_lower_case stored in a SavedModel, when the exporter recorded it."""
    for candidate in (obj, getattr(obj, names.TOKENIZE, None)):
        flag = getattr(candidate, "do_lower_case", None) if candidate is not None else None
        if flag is not None:
            return bool(flag.numpy()) if hasattr(flag, "numpy") else bool(flag)
    return None


def check_match(preprocessor, encoder) -> None:
    """Raises if the preprocessor's vocabulary or casing does not fit the encoder.

    Both may be `hub.KerasLayer`s or SavedModels loaded with `hub.load`.
    """
    vocab = preprocessor_special_tokens(preprocessor)["vocab_size"]
    rows = encoder_vocab_size(encoder)
    if vocab != rows:
        raise ValueError(
            "The preprocessor does not match the encoder: its vocabulary has "
            f"{vocab} tokens but the encoder's word embeddings have {rows} rows. "
            f"Received: preprocessor vocab_size={vocab}, encoder embedding rows={rows}. "
            "Use the preprocessor listed with the encoder's preset (bertkit.list_presets())."
        )
    enc_lower = _lower_case_flag(_loaded(encoder))
    pre_lower = _lower_case_flag(_loaded(preprocessor))
    if enc_lower is not None and pre_lower is not None and enc_lower != pre_lower:
        raise ValueError(
            "The preprocessor does not match the encoder: one lower-cases text and the "
            f"other does not. Received: encoder do_lower_case={enc_lower}, preprocessor "
            f"do_lower_case={pre_lower}. Use the cased preprocessor with a cased encoder "
            "and the uncased one with an uncased encoder."
        )


def load(
    name: str | os.PathLike,
    preprocessor: str | os.PathLike | None = None,
    trainable: bool = False,
) -> tuple[hub.KerasLayer, hub.KerasLayer]:
    """Loads a preset's preprocessor and encoder and checks that they match.

    Args:
        name: str. Preset name, or an encoder URL/directory.
        preprocessor: optional str. Preprocessor handle; defaults to the
            preset's own (or `name` itself for a bertkit preset directory).
        trainable: bool. Passed to `load_encoder`.

    Returns:
        `(preprocessor_layer, encoder_layer)`.
    """
    pre = load_preprocessor(preprocessor if preprocessor is not None else name)
    enc = load_encoder(name, trainable=trainable)
    check_match(pre, enc)
    return pre, enc
