"""Save a fine-tuned classifier as a SavedModel that serves raw strings.

`bertkit.export.saved_classifier.load_model` loads it back for prediction.

The model directory (written atomically: temp dir, then rename):

    MODEL_DIR/
      saved_model.pb, variables/, assets/   the SavedModel
      labels.json                            class names, index = class id
      bertkit_model.json                     how it was built and trained (preset, strategy, metrics)

The SavedModel has one signature, `serving_default`:

- input `text`: string `[batch]`;
- outputs `logits` float32 `[batch, num_classes]`, `probabilities` float32
  `[batch, num_classes]`, `label_id` int64 `[batch]`, `label` string `[batch]`.

Each batch is padded only to its longest row (not to `seq_length`). Texts
longer than a row are truncated, or split into chunks whose features are
averaged, in-graph as the model's `truncation` and `chunks` say
(`bertkit.text.long_texts`), so serving gives the logits of in-process prediction.
The module also saves the function `serve_with_truncation` (not a
signature): the same outputs plus `truncated` bool `[batch]`, true for texts
of which wordpieces were dropped (with chunks: more than the chunks hold),
which `SavedClassifier.predict_proba` counts. It reloads with TensorFlow and
tensorflow_text alone, no bertkit needed:

    import tensorflow as tf, tensorflow_text  # noqa: F401  (registers the tokenizer ops)
    serve = tf.saved_model.load(MODEL_DIR).signatures["serving_default"]
    serve(text=tf.constant(["great drug, no side effects"]))["label"]

A sentence-pair model (`build_classifier(..., text_pairs=True)`) is saved the
same way, but its signature takes two string inputs, `text_a` and `text_b`
(`[batch]` each), packed as `[CLS] A [SEP] B [SEP]`; `truncated` is true for
pairs with more than `seq_length - 3` wordpieces. `SavedClassifier.predict_proba`
then takes a list of `(text_a, text_b)` tuples or a `bertkit.text.text_pairs.TextPairs`.

`bertkit_model.json` records `preset`, `strategy`, `pooling`, `seq_length`,
`truncation`, `head_tokens`, `chunks` and `chunk_overlap` (what the LiteRT export
rebuilds the model from), `text_pairs` for a pair model, and `info`.

Examples:
>>> model = bertkit.build_classifier("tiny_random_en_uncased", 2, "freeze", chunks=2)
>>> directory = save_model(model, "runs/model", ["negative", "positive"])
>>> json.loads((directory / INFO_FILE).read_text())["chunks"]
2
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from bertkit import names
from bertkit._atomic import Layout, atomic_dir
from bertkit.model import classifier
from bertkit.text import long_texts
from bertkit.text.labels import LABELS_FILE, LabelEncoder

INFO_FILE = "bertkit_model.json"
SIGNATURE = "serving_default"
MODEL_LAYOUT = Layout(
    "bertkit model directory",
    required=("saved_model.pb", LABELS_FILE, INFO_FILE),
    allowed=("saved_model.pb", "fingerprint.pb", "variables", "assets", LABELS_FILE, INFO_FILE),
)


class _ServingModule(tf.Module):
    """What `save_model` writes: `serve` (the signature) and `serve_with_truncation`."""

    def __init__(self, model, label_names: list[str]):
        super().__init__()
        self.model = model
        self.label_names = tf.Variable(
            label_names, dtype=tf.string, trainable=False, name="label_names"
        )
        inputs = ("text_a", "text_b") if model.text_pairs else ("text",)
        specs = [tf.TensorSpec([None], tf.string, name=n) for n in inputs]
        self.serve = tf.function(self._serve, input_signature=specs)
        self.serve_with_truncation = tf.function(self._serve_with_truncation, input_signature=specs)

    def _serve(self, *texts):
        return self._outputs(*texts)[0]

    def _serve_with_truncation(self, *texts):
        outputs, truncated = self._outputs(*texts)
        return {**outputs, "truncated": truncated}

    def _outputs(self, *texts):
        """Serving outputs per text (chunks pooled) and which texts were truncated."""
        inputs, text_index, truncated = self.model.text_to_inputs.encode(
            list(texts) if len(texts) == 2 else texts[0]
        )
        # Rows cut to the longest real row: dynamic padding, as in training.
        lengths = tf.reduce_sum(inputs[names.INPUT_MASK], axis=1)
        longest = tf.maximum(tf.reduce_max(tf.concat([lengths, [1]], 0)), 1)
        trimmed = {k: v[:, :longest] for k, v in inputs.items()}
        logits = long_texts.logits_by_text(self.model, trimmed, text_index, tf.shape(texts[0])[0])
        label_id = tf.argmax(logits, axis=-1)
        outputs = {
            "logits": logits,
            "probabilities": tf.nn.softmax(logits, axis=-1),
            "label_id": label_id,
            "label": tf.gather(self.label_names, label_id),
        }
        return outputs, truncated


def save_model(
    model,
    directory: str | os.PathLike,
    label_names: list[str],
    info: dict | None = None,
    overwrite: bool = False,
) -> Path:
    """Saves `model` (from `build_classifier`) with a raw-string serving signature.

    Args:
        model: classifier.TextClassifier. From `build_classifier`.
        directory: path. Model directory (written atomically).
        label_names: list of str. Class names in id order.
        info: optional dict. Extra facts stored in `bertkit_model.json`.
        overwrite: bool. Replace an existing directory: only an empty one or a bertkit
            model directory (`saved_model.pb`, `labels.json`, `bertkit_model.json` and
            nothing else of the user's); anything else is refused.
    """
    classifier.check_classifier(model)
    label_names = [str(x) for x in label_names]
    repeated = sorted({n for n in label_names if label_names.count(n) > 1})
    if repeated:
        raise ValueError(
            "label_names must be distinct: two classes with one name cannot be told apart in "
            f"predictions. Received: {repeated} repeated in {label_names}. Give every class "
            "its own name (bertkit.LabelEncoder.fit(labels).classes has one per class)."
        )
    if len(label_names) != int(model.output_shape[-1]):
        raise ValueError(
            f"label_names must have one name per class. Received: {len(label_names)} names for a "
            f"model with {model.output_shape[-1]} outputs."
        )
    labels = LabelEncoder(label_names)  # the names training used: "3.0" is "3", " pos" is "pos"
    broken = [
        w.name for w in model.weights if w.dtype.is_floating and not np.isfinite(w.numpy()).all()
    ]
    if broken:
        raise ValueError(
            "The model has NaN or infinite weights (training diverged), so every prediction "
            f"would be NaN. Received: {len(broken)} non-finite variables, e.g. {broken[0]!r}. "
            "Nothing was saved: train again with a lower learning rate."
        )
    module = _ServingModule(model, labels.classes)
    with atomic_dir(directory, overwrite=overwrite, layout=MODEL_LAYOUT) as tmp:
        tf.saved_model.save(module, str(tmp), signatures={SIGNATURE: module.serve})
        labels.save(tmp / LABELS_FILE)
        import tensorflow_text

        import bertkit

        facts = {
            "versions": {
                "bertkit": bertkit.__version__,
                "tensorflow": tf.__version__,
                "tensorflow_text": tensorflow_text.__version__,
            },
            "preset": model.preset,
            "strategy": model.strategy,
            "pooling": model.pooling,
            "seq_length": model.seq_length,
            **{option: getattr(model, option) for option in long_texts.OPTIONS},
            **({"text_pairs": True} if model.text_pairs else {}),
            **(info or {}),
        }
        (tmp / INFO_FILE).write_text(json.dumps(facts, indent=2, default=str))
    return Path(directory)
