"""bertkit: fine-tune TF-Hub BERT encoders for text classification, offline-first.

Importing bertkit prepares TensorFlow (legacy Keras 2 for TF-Hub layers, the
tensorflow_text ops for preprocessors, matching versions); import it before
TensorFlow. It does so once, here: every `bertkit.*` module is imported after
this file has run, so none of them repeats it.

The package follows the data flow, one folder per stage, the way
tensorflow/models `official/nlp/modeling` names its layers, networks and
models: `presets/` finds an encoder and its matching preprocessor (the
registry, TF-Hub/Kaggle handles, the offline presets, the Hugging Face
converter, the scan of a SavedModel's ops); `text/` turns files into labelled
texts and texts into tokens (formats, loaders, labels, splits, the walkthrough
datasets, tokenizing once, batching); `model/` puts the encoder and a head
together (the classifier, its layers, precision, anatomy); `train/` fits it
(`TrainConfig`, the one training loop, micro-batches, checkpoints, the checks
before training, tf.distribute); `tasks/` trains other objectives on that loop
(MLM, distillation, learning curves, sentence pairs); `evaluate/` scores it
(metrics, reports, plots, baselines); `export/` serves it (the SavedModel,
LiteRT); `apps/` are the programs on top (CLI, jobs, demo, grid search, memory
tables).

The public API is the names in `__all__`, one step of the data flow each:
presets and loading (`list_presets`, `load`, `convert`), labels
(`LabelEncoder`), the model (`build_classifier`), training (`TrainConfig`,
`fit`, `set_seed`, `continue_pretraining`) and serving (`save_model`,
`load_model` for a model directory or a `.tflite`, `export_tflite`). What
shares a name with its module stays in it: reading data (`bertkit.text.data.load`),
metrics and plots (`bertkit.evaluate`), distillation (`bertkit.tasks.distill`).

Examples:
>>> import bertkit
>>> labels = bertkit.LabelEncoder.fit(["pos", "neg", "pos"])
>>> model = bertkit.build_classifier("tiny_random_en_uncased", labels.num_classes, "freeze")
>>> model.output_shape
(None, 2)

Then `bertkit.fit(model, texts, labels.encode(train_labels))`,
`bertkit.save_model(model, "runs/model", labels.classes)` and
`bertkit.load_model("runs/model").predict(texts)` (README, "Fine-tune a classifier").
"""

from bertkit import _env

_env.setup()

# Every import below is cheap once TensorFlow is loaded (measured: under 0.1 s together).
from bertkit.export import save_model  # noqa: E402
from bertkit.export.litert import export_tflite  # noqa: E402
from bertkit.export.litert_serve import load_model  # noqa: E402
from bertkit.model.classifier import build_classifier  # noqa: E402
from bertkit.presets import (  # noqa: E402
    DEFAULT_PRESET,
    PRESETS,
    TINY_PRESET,
    cache_dir,
    get_preset,
    list_presets,
)
from bertkit.presets.converter import convert  # noqa: E402
from bertkit.presets.hub import OfflineError, load, load_encoder, load_preprocessor, resolve  # noqa: E402
from bertkit.tasks.mlm import continue_pretraining  # noqa: E402
from bertkit.text.labels import LabelEncoder  # noqa: E402
from bertkit.train.config import TrainConfig  # noqa: E402
from bertkit.train.finetune import fit, set_seed  # noqa: E402

__version__ = "0.1.0"


__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "TINY_PRESET",
    "LabelEncoder",
    "OfflineError",
    "TrainConfig",
    "build_classifier",
    "cache_dir",
    "continue_pretraining",
    "convert",
    "export_tflite",
    "fit",
    "get_preset",
    "list_presets",
    "load",
    "load_encoder",
    "load_model",
    "load_preprocessor",
    "resolve",
    "save_model",
    "set_seed",
]
