"""What a training run is set to: `TrainConfig` and the defaults of each strategy.

`TrainConfig.for_strategy` starts from the defaults measured for a strategy
(`STRATEGY_DEFAULTS`) and `validate` refuses values that cannot train, before any
model or data work. `bertkit.train.finetune.fit` and every other trainer read it.

Examples:
>>> config = TrainConfig.for_strategy("freeze", seed=3)
>>> config.epochs, config.learning_rate, config.seed
(40, 0.003, 3)
"""

from __future__ import annotations

import dataclasses

import numpy as np

from bertkit.train import accumulation, contrastive, preflight

# Per-strategy defaults, measured on the bundled drug reviews (README "Results").
STRATEGY_DEFAULTS = {
    "freeze": dict(epochs=40, learning_rate=3e-3, early_stopping_patience=5),
    "partial": dict(epochs=4, learning_rate=2e-4),
    "full": dict(epochs=4, learning_rate=1e-4),
    # The pair phase, as SetFit (arXiv 2209.11055); the head then trains as for "freeze".
    "contrastive": dict(epochs=1, learning_rate=2e-5, early_stopping_patience=5),
}
CONTRASTIVE_HEAD = {k: STRATEGY_DEFAULTS["freeze"][k] for k in ("epochs", "learning_rate")}

# `strategy="auto"` (the CLI's default) trains "contrastive" when the smallest class has
# 2 to FEW_SHOT_MAX_PER_CLASS training texts, else "full". benchmarks/few_shot.py (README,
# "Few labelled examples"): at 8 and 16 texts per class contrastive had the best mean
# macro-F1 of the bertkit strategies on all three sets, full fine-tuning the worst;
# with all 600 drug reviews full (or partial) fine-tuning beat the frozen features.
FEW_SHOT_MAX_PER_CLASS = 16


@dataclasses.dataclass
class TrainConfig:
    """Hyperparameters of `fit`. The defaults are what learned on the bundled drug reviews.

    Args:
        epochs: int. Passes over the training data.
        batch_size: int. Examples per step.
        learning_rate: float. Peak learning rate (after warmup).
        warmup_fraction: float. Share of steps with linearly rising learning rate.
        weight_decay: float. AdamW decay (not applied to LayerNorm and bias).
        class_weight: str or None. `"balanced"` weighs classes by inverse frequency.
        early_stopping_patience: int or None. Epochs without validation improvement
            before stopping (restores the best weights); None disables it.
        bucket: bool. Batch examples of similar length together.
        shuffle: bool. Reshuffle the training data every epoch.
        cache_features: bool. With strategy "freeze", compute the frozen encoder's
            features once and train the head on them (same result, much faster).
        seed: int. Seeds shuffling, dropout and initialisation. Call `set_seed(seed)`
            before `build_classifier` so the head's initial weights are seeded too.
        deterministic: bool. Turn on TensorFlow's op determinism (process-wide), so the
            same seed gives bit-identical training on CPU (see `set_seed`).
        jit_compile: bool. Compile the training step with XLA. Batch lengths are then
            rounded up to multiples of `inputs.XLA_LENGTH_MULTIPLE` to bound recompiles.
        micro_batch_size: int or None. Compute each batch in micro-batches of this
            many examples and sum their gradients before the one optimizer step
            (`bertkit.train.accumulation`): the same update as the whole batch with the
            activation memory of a micro-batch, somewhat slower. The out-of-memory
            remedy that keeps `batch_size` (and so the learning rate) unchanged.
            None trains on whole batches. A memory setting only: checkpoints of a
            run resume under any `micro_batch_size`.
        pair_iterations: int. Strategy "contrastive" only (`bertkit.train.contrastive`):
            rounds of sentence pairs per epoch (SetFit's `num_iterations`).
        pairs_per_example: int. Strategy "contrastive" only: pairs per training
            example and round, half with its own class, half with others (even).
    """

    epochs: int = 4
    batch_size: int = 16
    learning_rate: float = 1e-4
    warmup_fraction: float = 0.1
    weight_decay: float = 0.01
    class_weight: str | None = "balanced"
    early_stopping_patience: int | None = 2
    bucket: bool = True
    shuffle: bool = True
    cache_features: bool = True
    seed: int = 0
    deterministic: bool = False
    jit_compile: bool = False
    micro_batch_size: int | None = None
    pair_iterations: int = 20
    pairs_per_example: int = 2

    @classmethod
    def for_strategy(cls, strategy: str, early_stopping: bool = True, **overrides) -> TrainConfig:
        """The defaults for a fine-tuning strategy, with `overrides` (None values ignored).

        Training only the head (`"freeze"`) on cached features costs next to nothing
        per epoch and tolerates a much larger learning rate, so it gets more epochs.
        Because None means "the default" here, turn early stopping off with
        `early_stopping=False` (it sets `early_stopping_patience=None`).

        Examples:
        >>> TrainConfig.for_strategy("freeze").epochs, TrainConfig.for_strategy("full").epochs
        (40, 4)
        >>> TrainConfig.for_strategy("full", early_stopping=False).early_stopping_patience is None
        True
        """
        if strategy not in STRATEGY_DEFAULTS:
            raise ValueError(
                f"Unknown fine-tuning strategy. Received: strategy={strategy!r}. "
                f"Use one of {sorted(STRATEGY_DEFAULTS)}."
            )
        values = {
            **STRATEGY_DEFAULTS[strategy],
            **{k: v for k, v in overrides.items() if v is not None},
        }
        if not early_stopping:
            if overrides.get("early_stopping_patience") is not None:
                raise ValueError(
                    "early_stopping=False contradicts early_stopping_patience="
                    f"{overrides['early_stopping_patience']!r}. Pass only one of them."
                )
            values["early_stopping_patience"] = None
        return cls(**values)

    def validate(self) -> None:
        """Raises ValueError on values that cannot train (before any model or data work)."""
        for field, hint in (("batch_size", " Try 16 or 32."), ("epochs", " Try 3 or 4.")):
            value = getattr(self, field)
            if not _is_int(value) or value <= 0:
                raise ValueError(
                    f"{field} must be a positive integer. Received: {field}={value!r}.{hint}"
                )
        preflight.check_finite_number(
            self.learning_rate, "learning_rate", "BERT fine-tuning uses 3e-5 to 3e-4."
        )
        preflight.check_finite_number(
            self.weight_decay, "weight_decay", "BERT uses 0.01; 0 turns decay off.", positive=False
        )
        if not (isinstance(self.warmup_fraction, int | float) and 0 <= self.warmup_fraction < 1):
            raise ValueError(
                f"warmup_fraction must be in [0, 1). Received: {self.warmup_fraction!r}. "
                "BERT uses 0.1."
            )
        patience = self.early_stopping_patience
        if patience is not None and (not _is_int(patience) or patience < 0):
            raise ValueError(
                "early_stopping_patience must be an integer >= 0 or None. Received: "
                f"early_stopping_patience={patience!r}. Try 2, or None to turn it off."
            )
        if not _is_int(self.seed):
            raise ValueError(f"seed must be an integer. Received: seed={self.seed!r}. Try 0.")
        accumulation.check_micro_batch_size(self.micro_batch_size, self.batch_size)
        if self.micro_batch_size is not None and self.jit_compile:
            raise ValueError(
                "micro_batch_size does not work with jit_compile=True: XLA cannot compile "
                "the loop over micro-batches of varying size. Received: "
                f"micro_batch_size={self.micro_batch_size}, jit_compile=True. Drop one of them."
            )
        contrastive.check_pair_settings(self.pair_iterations, self.pairs_per_example)
        if self.class_weight not in (None, "balanced"):
            raise ValueError(
                f"class_weight must be 'balanced' or None. Received: {self.class_weight!r}."
            )


def choose_strategy(labels) -> tuple[str, str]:
    """What `strategy="auto"` trains on these training labels, and why (one sentence).

    Contrastive training (`bertkit.train.contrastive`) when the smallest class has 2 to
    `FEW_SHOT_MAX_PER_CLASS` texts, else full fine-tuning (see the constant's comment).

    Examples:
    >>> choose_strategy(["pos"] * 8 + ["neg"] * 30)
    ('contrastive', "auto: the smallest class ('pos') has 8 training texts, at most 16: contrastive")
    >>> choose_strategy([0] * 40 + [1] * 17)[0]
    'full'
    >>> choose_strategy(np.array(["a", "b", "b"], dtype=object))  # e.g. a pandas column
    ('full', "auto: the smallest class ('a') has 1 training text, too few to pair: full")
    """
    names, counts = np.unique(np.asarray(labels), return_counts=True)
    smallest = int(np.argmin(counts))
    count, name = int(counts[smallest]), names.tolist()[smallest]  # Python values, for repr
    few = 2 <= count <= FEW_SHOT_MAX_PER_CLASS
    strategy = "contrastive" if few else "full"
    relation = f"at most {FEW_SHOT_MAX_PER_CLASS}" if few else (
        f"more than {FEW_SHOT_MAX_PER_CLASS}" if count > 1 else "too few to pair"
    )
    texts = "text" if count == 1 else "texts"
    return strategy, (
        f"auto: the smallest class ({name!r}) has {count} training {texts}, {relation}: {strategy}"
    )


def _is_int(value) -> bool:
    """Whether `value` is an integer (numpy integers too), not a bool."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)
