"""A student encoder for distillation, built from the teacher's lower layers.

`make_student` builds a smaller encoder from the teacher's lower `k` layers
(not DistilBERT's initialisation, which took one layer in two from its
12-layer teacher): a tf-models `BertEncoderV2` with `num_layers=k` whose
embeddings, first `k` transformer blocks and pooler are copied, by
variable name, from the teacher encoder. It is saved as a preset directory
that `build_classifier` and `bertkit.load` accept (written atomically):

    STUDENT_DIR/
      encoder/        TF-Hub encoder SavedModel (same API as the teacher's, k layers)
      encoder_*/      the same for each mixed-precision variant the teacher's preset has
      preprocessor/   copy of the teacher's preprocessor SavedModel
      bertkit.json    teacher, k, and the student's Hugging Face-style config

`bertkit.tasks.distill` then trains a classifier on it with the teacher's logits.
`variable_key`, `encoder_config` and `copy_lower_layers` read and copy a TF-Hub
BERT encoder's variables by name (`bertkit.model.anatomy` uses them too).

Examples:
>>> student_dir = make_student("tiny_random_en_uncased", num_layers=1, out_dir="runs/student")
>>> bertkit.build_classifier(student_dir, 2).num_layers
1
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import tensorflow as tf
import tf_keras

from bertkit import names
from bertkit._atomic import atomic_dir, check_output
from bertkit.model import classifier
from bertkit.presets import converter
from bertkit.presets import hub as bk_hub


def variable_key(name: str) -> str:
    """A variable name without the network's scope and the `:0` suffix.

    Examples:
    >>> variable_key("bert_encoder_v2_1/transformer/layer_0/output/bias:0")
    'transformer/layer_0/output/bias'
    """
    name = name.split(":")[0]
    return name.split("/", 1)[1] if "/" in name else name


def by_key(variables) -> dict:
    return {variable_key(v.name): v for v in variables if "/" in v.name}


def encoder_config(variables, hidden_act: str = "gelu") -> dict:
    """The Hugging Face-style config of a TF-Hub BERT encoder, read from its variable shapes.

    Args:
        variables: list of tf.Variable. An encoder's variables (`tf.saved_model.load(dir).variables`).
        hidden_act: str. Activation name (not visible in the shapes; see `converter.ACTIVATIONS`).

    Examples:
    >>> import tensorflow as tf
    >>> enc = tf.saved_model.load(str(bk_hub.resolve("tiny_random_en_uncased")))
    >>> config = encoder_config(enc.variables)
    >>> config["num_hidden_layers"], config["hidden_size"], config["num_attention_heads"]
    (2, 32, 2)
    """
    found = by_key(variables)

    def shape(key):
        if key not in found:
            raise ValueError(
                f"The encoder has no variable {key!r}, so it is not a tf-models BERT encoder. "
                f"Received: variables {sorted(found)[:4]}... Use a TF-Hub BERT encoder "
                "(a bertkit preset or a directory written by bertkit.presets.converter)."
            )
        return tuple(int(d) for d in found[key].shape)

    vocab_size, hidden = shape("word_embeddings/embeddings")
    _, heads, _ = shape("transformer/layer_0/self_attention/query/kernel")
    return {
        "vocab_size": vocab_size,
        "hidden_size": hidden,
        "num_hidden_layers": classifier.count_transformer_layers(list(variables)),
        "num_attention_heads": heads,
        "intermediate_size": shape("transformer/layer_0/intermediate/kernel")[1],
        "hidden_act": hidden_act,
        "max_position_embeddings": shape("position_embedding/embeddings")[0],
        "type_vocab_size": shape("type_embeddings/embeddings")[0],
    }


def copy_lower_layers(source_variables, student_network) -> list[str]:
    """Assigns every student variable the teacher variable of the same name; returns the names.

    The student has fewer transformer layers, so its `transformer/layer_{i}`
    (i < k) are the teacher's lower layers; embeddings and pooler are copied too.

    Raises:
        ValueError: when a student variable has no teacher variable of the same name and shape.
    """
    source = by_key(source_variables)
    copied = []
    for var in student_network.weights:
        key = variable_key(var.name)
        match = source.get(key)
        if match is None or tuple(match.shape) != tuple(var.shape):
            received = "missing" if match is None else f"shape {tuple(match.shape)}"
            raise ValueError(
                f"Cannot copy the student variable {key!r} {tuple(var.shape)} from the teacher. "
                f"Received: teacher variable {received}. The student must have the teacher's "
                "hidden size, heads and vocabulary; only num_layers may be smaller."
            )
        var.assign(match)
        copied.append(key)
    return copied


def _teacher_sources(teacher) -> tuple[object, Path, Path]:
    """(loaded encoder SavedModel, encoder dir, preprocessor dir) of a teacher model or handle.

    For a `build_classifier` model the loaded encoder is the one inside the model,
    so its variables hold the model's current (e.g. fine-tuned) weights.
    """
    if isinstance(teacher, tf_keras.Model):
        classifier.check_classifier(teacher, "teacher")
        encoder_layer = teacher.feature_model.get_layer("encoder")
        loaded = bk_hub._loaded(encoder_layer)
        encoder_dir = bk_hub.resolve(teacher.preset, names.ENCODER_DIR)
        return loaded, encoder_dir, Path(teacher.text_to_inputs.preprocessor_dir)
    encoder_dir = bk_hub.resolve(teacher, names.ENCODER_DIR)
    preprocessor_dir = bk_hub.resolve(teacher, names.PREPROCESSOR_DIR)
    return tf.saved_model.load(str(encoder_dir)), encoder_dir, preprocessor_dir


def recorded_metadata(encoder_dir: Path) -> dict:
    """The `bertkit.json` of the preset holding `encoder_dir`, else `{}`.

    It records what the variable shapes cannot show: activation and dropout rates
    (`hf_config`) and the mixed-precision encoder variants saved beside `encoder/`.
    """
    metadata = Path(encoder_dir).parent / converter.METADATA_FILE
    return json.loads(metadata.read_text()) if metadata.is_file() else {}


def make_student(
    teacher,
    num_layers: int,
    out_dir: str | os.PathLike,
    overwrite: bool = False,
) -> Path:
    """Builds a student encoder from the teacher's embeddings, lower `num_layers` blocks and pooler.

    Args:
        teacher: a `build_classifier` model (its current, e.g. fine-tuned, encoder
            weights are copied), or a preset name / preset directory / encoder handle
            (the pretrained weights are copied).
        num_layers: int. Transformer layers of the student, `1 <= num_layers <= L`.
        out_dir: path. The student preset directory (`encoder/`, `preprocessor/`,
            `bertkit.json`), written atomically.
        overwrite: bool. Replace an existing `out_dir`.

    Returns:
        `out_dir`, usable as `build_classifier(out_dir, ...)` and `bertkit.load(out_dir)`.

    Examples: the module's (it builds a student from the tiny preset).
    """
    check_output(out_dir, overwrite, converter.PRESET_LAYOUT)  # before loading the teacher
    loaded, encoder_dir, preprocessor_dir = _teacher_sources(teacher)
    variables = list(loaded.variables)
    recorded = recorded_metadata(encoder_dir)
    hf_config = recorded.get("hf_config", {})
    config = {**hf_config, **encoder_config(variables, hf_config.get("hidden_act", "gelu"))}
    variants = tuple(recorded.get("variants", ()))
    teacher_layers = config["num_hidden_layers"]
    if not isinstance(num_layers, int) or not 1 <= num_layers <= teacher_layers:
        raise ValueError(
            f"num_layers must be an integer in [1, {teacher_layers}] (the teacher has "
            f"{teacher_layers} layers). Received: num_layers={num_layers!r}. A student with "
            f"about half the layers (e.g. {max(teacher_layers // 2, 1)}) is the usual choice."
        )
    vocab_file = Path(loaded.vocab_file.asset_path.numpy().decode("utf-8"))
    do_lower_case = bool(loaded.do_lower_case.numpy())
    student_config = {**config, "num_hidden_layers": num_layers}
    network = converter.build_encoder_network(student_config)
    copy_lower_layers(variables, network)
    with atomic_dir(out_dir, overwrite=overwrite, layout=converter.PRESET_LAYOUT) as tmp:
        # encoder/ plus the teacher's mixed-precision variants, so both compute alike.
        converter.save_encoders(network, student_config, tmp, vocab_file, do_lower_case, variants)
        shutil.copytree(preprocessor_dir, tmp / names.PREPROCESSOR_DIR)
        metadata = {
            "format": "tfhub-bert",
            "source": "distill.make_student",
            # A classifier (checked by _teacher_sources) or a preset name / directory.
            "teacher": str(teacher.preset if isinstance(teacher, tf_keras.Model) else teacher),
            "teacher_layers": teacher_layers,
            "student_layers": num_layers,
            "do_lower_case": do_lower_case,
            "variants": list(variants),
            "hf_config": student_config,
        }
        (tmp / converter.METADATA_FILE).write_text(json.dumps(metadata, indent=2))
    return Path(out_dir)
