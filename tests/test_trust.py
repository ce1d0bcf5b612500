"""The trust scan refuses file, network and process ops, even where TensorFlow's saver uses them."""

import json

import pytest
import tensorflow as tf

from bertkit.export import saved_classifier
from bertkit.presets import trust


def _saved(directory, serve) -> str:
    """Saves a tf.Module with `serve` as its signature; returns the directory."""
    module = tf.Module()
    module.v = tf.Variable(1.0)  # gives the SavedModel save/restore functions
    module.serve = tf.function(serve, input_signature=[tf.TensorSpec([None], tf.string)])
    tf.saved_model.save(module, str(directory), signatures={"serving_default": module.serve})
    (directory / "labels.json").write_text(json.dumps(["a", "b"]))
    return str(directory)


def test_checkpoint_ops_are_refused_outside_the_saver_functions(tmp_path):
    def serve(text):
        tf.raw_ops.SaveV2(
            prefix=str(tmp_path / "dump"),
            tensor_names=["t"],
            shape_and_slices=[""],
            tensors=[text],
        )
        return {"n": tf.size(text)}

    found = trust.scan(_saved(tmp_path / "m", serve))
    assert [op for op, _ in found] == ["SaveV2"]
    with pytest.raises(trust.UntrustedModelError, match=r"SaveV2 in .*\(function serve\)"):
        saved_classifier.load_model(tmp_path / "m")


def test_file_listing_and_printing_ops_are_refused(tmp_path):
    def serve(text):
        files = tf.io.matching_files(str(tmp_path / "*"))
        tf.print(files, output_stream="file://" + str(tmp_path / "out.txt"))
        return {"n": tf.size(text) + tf.size(files)}

    assert {op for op, _ in trust.scan(_saved(tmp_path / "m", serve))} == {
        "MatchingFiles",
        "PrintV2",
    }


def test_a_plain_model_with_variables_passes(tmp_path):
    assert trust.scan(_saved(tmp_path / "m", lambda text: {"n": tf.size(text)})) == []


def test_every_denylisted_op_is_a_registered_tensorflow_op():
    from tensorflow.python.framework import op_def_registry

    assert [op for op in sorted(trust.DENYLIST) if op_def_registry.get(op) is None] == []
