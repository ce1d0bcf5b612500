"""Numeric precision of the encoder: float32, or mixed bfloat16 / float16 compute variants.

A TF-Hub SavedModel's computation is fixed when it is saved: loading a float32
encoder under a Keras mixed-precision policy still computes in float32. So
bertkit's converter saves, next to the canonical float32 `encoder/`, a
variant traced under a mixed policy (`encoder_mixed_bfloat16/`): the same
float32 variables (so training updates float32 master weights), but matmuls
and activations in bfloat16. On CPUs with AVX512-BF16 or AMX that roughly
doubles matmul throughput.

`precision="auto"` (the default of `build_classifier`) picks:

- `"mixed_bfloat16"` when the CPU supports bfloat16 natively and the encoder
  has that variant (bertkit-built presets and converted checkpoints do);
- `"float32"` otherwise (encoders downloaded from TF Hub have no variant).

`"mixed_float16"` is for GPUs (needs loss scaling, which every bertkit trainer
gets from `bertkit.train.training_loop`);
build its variant with `bertkit convert --variants mixed_float16`.
The classifier head and its logits always stay float32.

Examples:
>>> variant_dir_name("mixed_bfloat16")
'encoder_mixed_bfloat16'
>>> resolve_precision("float32")
'float32'
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from bertkit import names

FLOAT32 = "float32"
MIXED_BFLOAT16 = "mixed_bfloat16"
MIXED_FLOAT16 = "mixed_float16"
AUTO = "auto"
PRECISIONS = (AUTO, FLOAT32, MIXED_BFLOAT16, MIXED_FLOAT16)
MIXED_PRECISIONS = (MIXED_BFLOAT16, MIXED_FLOAT16)
# Variants the converter writes by default (cheap: same weights, another trace).
DEFAULT_VARIANTS = (MIXED_BFLOAT16,)
PRECISION_ENV = "BERTKIT_PRECISION"

_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def validate(precision: str) -> None:
    """Raises ValueError unless `precision` is one of `PRECISIONS`."""
    if precision not in PRECISIONS:
        raise ValueError(
            f"Unknown precision. Received: precision={precision!r}. Use one of {list(PRECISIONS)}."
        )


def variant_dir_name(precision: str) -> str:
    """Directory name of an encoder variant, next to `encoder/` in a preset directory."""
    validate(precision)
    if precision not in MIXED_PRECISIONS:
        return names.ENCODER_DIR
    return f"{names.ENCODER_DIR}_{precision}"


@functools.lru_cache(maxsize=1)
def cpu_supports_bf16() -> bool:
    """Whether this CPU has native bfloat16 matmuls (AVX512-BF16 or AMX), per /proc/cpuinfo."""
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="ignore").split()
    except OSError:
        return False
    return any(flag in flags for flag in _BF16_CPU_FLAGS)


def resolve_precision(precision: str = AUTO) -> str:
    """The concrete precision for `precision` (`"auto"` looks at the hardware and $BERTKIT_PRECISION).

    Examples:
    >>> resolve_precision("mixed_bfloat16")
    'mixed_bfloat16'
    """
    validate(precision)
    if precision != AUTO:
        return precision
    forced = os.environ.get(PRECISION_ENV)
    if forced and forced != AUTO:
        validate(forced)
        return forced
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return MIXED_FLOAT16
    return MIXED_BFLOAT16 if cpu_supports_bf16() else FLOAT32


def select_encoder(encoder_dir: str | os.PathLike, precision: str = AUTO) -> tuple[Path, str]:
    """Returns `(encoder directory, precision)` to load for a float32 `encoder_dir`.

    With `"auto"`, falls back to the float32 encoder when the variant is missing.
    An explicitly requested variant that is missing raises FileNotFoundError.
    """
    encoder_dir = Path(encoder_dir)
    wanted = resolve_precision(precision)
    if wanted == FLOAT32:
        return encoder_dir, FLOAT32
    variant = encoder_dir.parent / variant_dir_name(wanted)
    if encoder_dir.name == names.ENCODER_DIR and (variant / "saved_model.pb").is_file():
        return variant, wanted
    if precision == AUTO:
        return encoder_dir, FLOAT32
    raise FileNotFoundError(
        f"This encoder has no {wanted} variant. Received: encoder={str(encoder_dir)!r}, "
        f"precision={precision!r}. Use precision='float32' or 'auto', or re-convert the "
        f"checkpoint with `bertkit convert SRC OUT --variants {wanted}`."
    )
