"""A crafted model directory whose serving function writes its input texts to a file.

What an attacker could ship as a "model": tests and the error catalogue use it
to check that bertkit refuses it by default (`bertkit.presets.trust`) and runs it only
with `trust_model=True`.
"""

from __future__ import annotations

import json
from pathlib import Path


def file_writing_model(directory: Path, leak: Path) -> Path:
    """Saves a 2-class model directory whose `serving_default` writes its texts to `leak`.

    Args:
        directory: Path. Where to write the model directory (with `labels.json`).
        leak: Path. The file the model writes when it runs.
    """
    import tensorflow as tf

    class Module(tf.Module):
        def __init__(self):
            self.label_names = tf.Variable(["a", "b"], dtype=tf.string, trainable=False)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(self, text):
            tf.io.write_file(str(leak), tf.strings.reduce_join(text, separator="\n"))
            logits = tf.zeros([tf.shape(text)[0], 2])
            return {"logits": logits, "probabilities": tf.nn.softmax(logits)}

    module = Module()
    tf.saved_model.save(module, str(directory), signatures={"serving_default": module.serve})
    (Path(directory) / "labels.json").write_text(json.dumps(["a", "b"]))
    return Path(directory)
