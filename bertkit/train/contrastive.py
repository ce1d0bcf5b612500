"""Contrastive few-shot training (SetFit): tune the encoder on sentence pairs, then fit a head.

SetFit (Tunstall et al. 2022, arXiv 2209.11055) gets more out of a few labelled
texts per class than fine-tuning the classifier end to end, in two steps. A
classifier built with `strategy="contrastive"` trains this way in `bertkit.fit`:

1. Pairs (`make_pairs`). In each of `TrainConfig.pair_iterations` rounds, every
   training example is paired with `TrainConfig.pairs_per_example` others: half
   of its own class (target 1), half of other classes (target 0), drawn at
   random. SetFit's default: 20 rounds, one pair of each kind per example.
2. Encoder (`train_on_pairs`). The whole encoder trains so that the cosine
   similarity of the two pooled embeddings of a pair matches its target: mean
   squared error, sentence-transformers' `CosineSimilarityLoss`. The config's
   `epochs`, `learning_rate` and `batch_size` apply here (defaults 1, 2e-5, 16).
3. Head. With the tuned encoder frozen, the head trains on its cached features
   as for `strategy="freeze"` (`finetune.fit`'s fast path, with that
   strategy's epochs and learning rate; validation drives its early stopping).

The result is an ordinary `TextClassifier`: `bertkit.save_model` exports the
same raw-string SavedModel as for every strategy, with `"strategy":
"contrastive"` in `bertkit_model.json` (`bertkit train` also writes the pair
settings there, in `config`).

Every round is one epoch of the training loop (`training_loop.run`), and its
pairs and their order depend only on `(seed, round)`: the same seed gives the
same pairs, and a run with a `checkpoint_dir` that was interrupted resumes after
its last completed round (checkpoints in `checkpoint_dir/pairs`).

Examples:
>>> model = bertkit.build_classifier("tiny_random_en_uncased", 2, strategy="contrastive")
>>> config = bertkit.TrainConfig.for_strategy("contrastive", pair_iterations=2)
>>> texts = ["a good film", "great fun", "a bad film", "awful"]
>>> result = bertkit.fit(model, texts, [1, 1, 0, 0], config=config, verbose=0)
>>> model.strategy, model.predict(tf.constant(texts), verbose=0).shape
('contrastive', (4, 2))
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow as tf
import tf_keras

from bertkit import names
from bertkit.text import inputs, long_texts
from bertkit.train import checkpoints, training_loop

PAIRS_DIR = "pairs"  # the pair phase's checkpoints, inside fit's checkpoint_dir


def check_pair_labels(labels, class_names=None) -> None:
    """Raises ValueError unless every pair can be formed: 2+ classes, 2+ examples in each.

    Args:
        labels: array-like of int. Class ids of the training examples.
        class_names: optional list of str. Names of the class ids, for the message.

    Examples:
    >>> check_pair_labels([0, 0, 1, 1])
    >>> check_pair_labels([0, 0, 1], class_names=["neg", "pos"])
    Traceback (most recent call last):
    ...
    ValueError: Contrastive training pairs every example with another of its class, but a class has a single example. Received: 1 example of class 'pos'. Give every class at least 2 training examples (8 or more work well), or drop the class.
    """
    ids, counts = np.unique(np.asarray(labels, dtype=np.int64), return_counts=True)
    shown = [class_names[i] if class_names is not None else int(i) for i in ids]
    if len(ids) < 2:
        raise ValueError(
            "Contrastive training needs examples of at least 2 classes to form pairs of "
            f"different classes. Received: only class {shown[0]!r} in {len(labels)} training "
            "examples. Add examples of the other classes."
        )
    single = [repr(name) for name, count in zip(shown, counts, strict=True) if count < 2]
    if single:
        which = f"class {single[0]}" if len(single) == 1 else f"classes {', '.join(single)}"
        raise ValueError(
            "Contrastive training pairs every example with another of its class, but a class "
            f"has a single example. Received: 1 example of {which}. Give every class at "
            "least 2 training examples (8 or more work well), or drop the class."
        )


def check_pair_settings(pair_iterations, pairs_per_example) -> None:
    """Raises ValueError for pair settings that cannot work (`TrainConfig.validate` calls it).

    Examples:
    >>> check_pair_settings(20, 3)
    Traceback (most recent call last):
    ...
    ValueError: pairs_per_example must be a positive even number: half of each example's pairs share its class, half do not. Received: pairs_per_example=3. Try 2, SetFit's default (--pairs-per-example on the command line).
    """
    if not _is_count(pair_iterations):
        raise ValueError(
            "pair_iterations must be a positive integer. Received: pair_iterations="
            f"{pair_iterations!r}. SetFit uses 20 (--iterations on the command line)."
        )
    if not _is_count(pairs_per_example) or pairs_per_example % 2:
        raise ValueError(
            "pairs_per_example must be a positive even number: half of each example's pairs "
            f"share its class, half do not. Received: pairs_per_example={pairs_per_example!r}. "
            "Try 2, SetFit's default (--pairs-per-example on the command line)."
        )


def check_strategy_settings(strategy: str, pair_settings: dict) -> None:
    """Raises ValueError when pair settings are given for a strategy other than contrastive.

    Args:
        strategy: str. The fine-tuning strategy.
        pair_settings: dict. `pair_iterations` and `pairs_per_example`, None when not given.

    Examples:
    >>> check_strategy_settings("contrastive", {"pair_iterations": 5})
    >>> check_strategy_settings("full", {"pair_iterations": 5, "pairs_per_example": None})
    Traceback (most recent call last):
    ...
    ValueError: Pair settings only apply to strategy='contrastive'. Received: strategy='full', pair_iterations=5. Pass strategy='contrastive' (--strategy contrastive), or drop them.
    """
    given = {k: v for k, v in pair_settings.items() if v is not None}
    if given and strategy != "contrastive":
        shown = ", ".join(f"{k}={v!r}" for k, v in given.items())
        raise ValueError(
            f"Pair settings only apply to strategy='contrastive'. Received: strategy="
            f"{strategy!r}, {shown}. Pass strategy='contrastive' (--strategy contrastive), or "
            "drop them."
        )


def check_config(config, distribute: str = "none") -> None:
    """Raises ValueError for settings the pair phase cannot honour.

    Its batches hold every distinct text of their pairs once (`pair_batches`), so
    they split neither into micro-batches nor across replicas, and their shapes
    vary too much for XLA.

    Args:
        config: bertkit.TrainConfig. The run's settings.
        distribute: str. The `tf.distribute` strategy it runs under (`"none"`: one device).

    Examples:
    >>> check_config(bertkit.TrainConfig.for_strategy("contrastive", micro_batch_size=8))
    Traceback (most recent call last):
    ...
    ValueError: strategy='contrastive' trains on whole batches: a batch of pairs holds each of their texts once, so it does not split into micro-batches. Received: micro_batch_size=8. Drop micro_batch_size; a smaller batch_size also saves memory.
    """
    if config.micro_batch_size is not None:
        raise ValueError(
            "strategy='contrastive' trains on whole batches: a batch of pairs holds each of "
            "their texts once, so it does not split into micro-batches. Received: "
            f"micro_batch_size={config.micro_batch_size}. Drop micro_batch_size; a smaller "
            "batch_size also saves memory."
        )
    if distribute != "none":
        raise ValueError(
            "strategy='contrastive' trains on one device: a batch of pairs holds each of "
            "their texts once, so it does not split across replicas. Received: "
            f"distribute={distribute!r}. Train it without a distribution strategy."
        )
    if config.jit_compile:
        raise ValueError(
            "strategy='contrastive' does not compile with XLA: its batches (the distinct texts "
            "of their pairs) change shape nearly every step, and XLA recompiles for each. "
            "Received: jit_compile=True. Drop jit_compile."
        )


def _is_count(value) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool) and value > 0


def make_pairs(labels, pairs_per_example: int = 2, seed: int = 0, round_index: int = 0):
    """One round of pairs: for every example, same-class and other-class partners at random.

    A function of its arguments only: the same `(seed, round_index)` gives the
    same pairs. Partners are drawn with replacement, never the example itself.

    Args:
        labels: array-like of int. Class ids (`check_pair_labels` must accept them).
        pairs_per_example: int. Even; half the pairs of each example are positive.
        seed: int. With `round_index`, fixes the draw.
        round_index: int. The round (rounds differ in their partners).

    Returns:
        `(first, second, target)`: int32 example indices `[n * pairs_per_example]`
        each and float32 targets (1.0 same class, 0.0 different). Example i's pairs
        are rows `i * pairs_per_example ...`, positives first.

    Examples:
    >>> first, second, target = make_pairs([0, 0, 1, 1], pairs_per_example=2)
    >>> first.tolist(), target.tolist()
    ([0, 0, 1, 1, 2, 2, 3, 3], [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    >>> second.tolist()[::2]  # each positive partner: the other example of the class
    [1, 0, 3, 2]
    """
    labels = np.asarray(labels, dtype=np.int64)
    n, half = len(labels), pairs_per_example // 2
    rng = np.random.default_rng(np.random.SeedSequence([seed, round_index]))
    order = np.argsort(labels, kind="stable")  # the examples, class after class
    classes, starts, counts = np.unique(labels[order], return_index=True, return_counts=True)
    c = np.searchsorted(classes, labels)
    start, count = starts[c], counts[c]
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n) - np.repeat(starts, counts)  # position inside its class
    # A same-class partner: one of the count - 1 others (skip the example itself).
    k = rng.integers(0, count - 1, size=(half, n))
    positive = order[start + k + (k >= rank)]
    # An other-class partner: one of the n - count examples outside the class's block.
    k = rng.integers(0, n - count, size=(half, n))
    negative = order[np.where(k < start, k, k + count)]
    second = np.concatenate([positive, negative]).T.reshape(-1)
    target = np.tile(np.repeat(np.array([1.0, 0.0], np.float32), half), n)
    first = np.repeat(np.arange(n), 2 * half)
    return first.astype(np.int32), second.astype(np.int32), target


class PairCosine(tf_keras.layers.Layer):
    """Cosine similarity of pairs of embedding rows: `[batch, 1]` float32.

    Called on `features` `[texts, dim]` and `positions` `[2 * batch]` int32: pair i
    is `features[positions[i]]` with `features[positions[batch + i]]`.

    Examples:
    >>> features = tf.constant([[1.0, 0.0], [2.0, 2.0], [0.0, 3.0]])
    >>> PairCosine()(features, tf.constant([0, 2, 1, 1])).numpy().round(4)
    array([[0.7071],
           [0.7071]], dtype=float32)
    """

    def call(self, features, positions):
        both = tf.math.l2_normalize(tf.gather(tf.cast(features, tf.float32), positions), axis=-1)
        first, second = tf.split(both, 2)
        return tf.reduce_sum(first * second, axis=-1, keepdims=True)


def build_pair_model(model) -> tf_keras.Model:
    """`(token inputs, positions)` -> cosine similarities of `model.feature_model` embeddings.

    Both texts of a pair go through the classifier's own encoder and pooling (a
    siamese network), so training this model trains the classifier's encoder. Each
    batch holds every distinct text of its pairs once (the three encoder inputs,
    `[texts, length]` int32), encoded in one pass; `positions` (`[2 * pairs]` int32)
    says which rows form the pairs (`PairCosine`, `pair_batches`).
    """
    tokens = {
        key: tf_keras.Input((None,), dtype=tf.int32, name=key) for key in names.ENCODER_INPUTS
    }
    positions = tf_keras.Input((), dtype=tf.int32, name="pair_positions")
    cosine = PairCosine(name="cosine")(model.feature_model(tokens), positions)
    return tf_keras.Model([tokens, positions], cosine, name="pairs")


def pair_batches(encoded, labels, config, first_round: int, last_round: int) -> tf.data.Dataset:
    """Batches `((tokens, positions), target[:, None])` of rounds `[first_round, last_round)`.

    Round r holds the pairs `make_pairs(labels, ..., config.seed, r % pair_iterations)`
    (epochs beyond the first repeat the rounds) in an order fixed by `(seed, r)`, cut
    into `config.batch_size` batches that never span two rounds; with `config.bucket`,
    pairs of similar length are batched together. A batch tokenizes each distinct
    text of its pairs once, padded to the longest (few-shot pairs repeat texts: 16
    pairs of 24 examples hold ~18 distinct texts, not 32), and `positions` points
    pair i to rows `positions[i]` and `positions[batch + i]` (`PairCosine`). So a
    text repeated in a batch shares one dropout mask there, unlike in
    sentence-transformers, which encodes the two sides apart.

    Args:
        encoded: inputs.EncodedTexts. The training texts, tokenized once.
        labels: array-like of int. The class id of every row of `encoded` (a text's
            label repeated for each of its windows: `encoded.by_row`).
        config: bertkit.TrainConfig. Seed, batch size, bucketing and the pair settings.
        first_round: int. First round (after a resume, the first one not trained).
        last_round: int. One past the last round.
    """
    rounds = []
    for r in range(first_round, last_round):
        pairs = make_pairs(
            labels, config.pairs_per_example, config.seed, r % config.pair_iterations
        )
        lengths = np.maximum(encoded.lengths[pairs[0]], encoded.lengths[pairs[1]])
        order = inputs.epoch_order(lengths, config.batch_size, config.seed, r, config.bucket)
        rounds.append(tuple(part[order] for part in pairs))
    stacked = tuple(np.stack(parts) for parts in zip(*rounds, strict=True))
    word_ids, type_ids, lengths = (
        tf.constant(a) for a in (encoded.word_ids, encoded.type_ids, encoded.lengths)
    )

    def to_batch(first, second, target):
        texts, positions = tf.unique(tf.concat([first, second], axis=0))
        tokens = inputs._trim_to_longest(
            tf.gather(word_ids, texts), tf.gather(type_ids, texts), tf.gather(lengths, texts)
        )
        return (tokens, positions), target[:, None]

    ds = tf.data.Dataset.from_tensor_slices(stacked)
    ds = ds.flat_map(lambda *r: tf.data.Dataset.from_tensor_slices(r).batch(config.batch_size))
    return ds.map(to_batch, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def train_on_pairs(
    model,
    encoded: inputs.EncodedTexts,
    labels,
    config,
    checkpoint_dir: str | os.PathLike | None = None,
    data_digest: str = "",
    verbose: int = 0,
    resume: bool = True,
) -> training_loop.FitResult:
    """The pair phase of `strategy="contrastive"`: trains `model`'s encoder on pairs.

    `bertkit.fit` calls it, then trains the head; call it directly only to study
    the pair phase alone (its history has the pair loss per round).

    Args:
        model: classifier.TextClassifier. Built with `strategy="contrastive"`.
        encoded: inputs.EncodedTexts. The training texts, tokenized once.
        labels: array-like of int. One class id per text (`check_pair_labels` is
            applied). A text split into chunks (`chunks > 1`) gives one example per
            window, with its text's label, as in the other strategies' training.
        config: bertkit.TrainConfig. `epochs` passes over `pair_iterations` rounds
            of `pairs_per_example` pairs per example, at `learning_rate`.
        checkpoint_dir: optional path. `fit`'s checkpoint directory: resumable
            checkpoints after every round go into its `pairs/` folder.
        data_digest: str. Identifies the training data in the checkpoints' fingerprint.
        verbose: int. Keras verbosity.
        resume: bool. Continue an interrupted run found in `checkpoint_dir`.

    Returns:
        `training_loop.FitResult`; `history.history["loss"]` has one value per round.

    Examples:
    >>> model = bertkit.build_classifier("tiny_random_en_uncased", 2, "contrastive")
    >>> encoded = bertkit.text.inputs.encode_texts(model, ["good", "fine", "bad", "poor"])
    >>> config = bertkit.TrainConfig.for_strategy("contrastive", pair_iterations=3)
    >>> result = train_on_pairs(model, encoded, [1, 1, 0, 0], config)  # doctest: +SKIP
    >>> len(result.history.history["loss"])  # doctest: +SKIP
    3
    """
    if model.strategy != "contrastive":
        raise ValueError(
            "train_on_pairs trains the encoder of a contrastive classifier. Received: "
            f"strategy={model.strategy!r}. Build it with build_classifier(..., "
            "strategy='contrastive')."
        )
    check_pair_labels(labels)
    if len(labels) != encoded.num_texts:
        raise ValueError(
            "train_on_pairs needs one label per encoded text. Received: "
            f"{len(labels)} labels for {encoded.num_texts} texts. Pass the labels of the "
            "texts given to encode_texts, in the same order."
        )
    row_labels = encoded.by_row(labels)  # the pairs are drawn between rows (windows)
    replicas = model.distribute_strategy.num_replicas_in_sync
    check_config(config, "none" if replicas == 1 else f"{replicas} replicas")
    rounds = config.epochs * config.pair_iterations
    pair_config = dataclasses.replace(config, epochs=rounds, early_stopping_patience=None)
    pair_model = build_pair_model(model)
    run_id = checkpoints.fingerprint(
        phase=PAIRS_DIR,
        data=data_digest,
        config={k: v for k, v in dataclasses.asdict(config).items() if k != "micro_batch_size"},
        model=[model.preset, model.strategy, model.pooling, model.seq_length],
        long_texts=[getattr(model, option) for option in long_texts.OPTIONS],
        trained=[(v.name, v.shape.as_list()) for v in pair_model.trainable_variables],
    )
    return training_loop.run(
        pair_model,
        lambda initial_round: pair_batches(encoded, row_labels, config, initial_round, rounds),
        len(row_labels) * config.pairs_per_example,
        pair_config,
        tf_keras.losses.MeanSquaredError(),
        epochs_in_data=True,
        precision=model.precision,
        verbose=verbose,
        checkpoint_dir=None if checkpoint_dir is None else os.path.join(checkpoint_dir, PAIRS_DIR),
        run_id=run_id,
        resume=resume,
    )
