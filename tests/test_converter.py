"""Hugging Face BERT checkpoint -> TF-Hub SavedModels, checked against an independent NumPy BERT."""

import json

import numpy as np
import pytest
import tensorflow as tf
from numpy_bert import bert_forward
from safetensors.numpy import save_file

import bertkit
from bertkit import names
from bertkit.presets import converter, local_presets

SENTENCES = [
    "Hello!",
    "The side effects were awful, but the pain went away after two weeks.",
    "I LOVE my new job.",
    "Café naïve résumé",
    "貓追狗",
    "unbelievably antidisestablishmentarianism",
    "What?  Tabs\tand\nnewlines",
    "Emoji 🙂 test",
    "",
    "one two three " * 60,  # longer than the sequence length: truncated
]


def _random_hf_checkpoint(directory, vocab, hidden=16, layers=2, heads=2, inter=24, act="gelu"):
    rng = np.random.default_rng(0)
    config = {
        "model_type": "bert",
        "vocab_size": len(vocab),
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": inter,
        "hidden_act": act,
        "max_position_embeddings": 64,
        "type_vocab_size": 2,
        "layer_norm_eps": 1e-12,
    }
    t = {
        "embeddings.word_embeddings.weight": rng.normal(size=(len(vocab), hidden)),
        "embeddings.position_embeddings.weight": rng.normal(size=(64, hidden)),
        "embeddings.token_type_embeddings.weight": rng.normal(size=(2, hidden)),
        "embeddings.LayerNorm.weight": 1 + 0.1 * rng.normal(size=hidden),
        "embeddings.LayerNorm.bias": 0.1 * rng.normal(size=hidden),
        "pooler.dense.weight": 0.3 * rng.normal(size=(hidden, hidden)),
        "pooler.dense.bias": 0.1 * rng.normal(size=hidden),
    }
    shapes = {
        "attention.self.query": (hidden, hidden),
        "attention.self.key": (hidden, hidden),
        "attention.self.value": (hidden, hidden),
        "attention.output.dense": (hidden, hidden),
        "intermediate.dense": (inter, hidden),
        "output.dense": (hidden, inter),
    }
    for i in range(layers):
        for module, shape in shapes.items():
            t[f"encoder.layer.{i}.{module}.weight"] = 0.3 * rng.normal(size=shape)
            t[f"encoder.layer.{i}.{module}.bias"] = 0.1 * rng.normal(size=shape[0])
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            t[f"encoder.layer.{i}.{ln}.weight"] = 1 + 0.1 * rng.normal(size=hidden)
            t[f"encoder.layer.{i}.{ln}.bias"] = 0.1 * rng.normal(size=hidden)
    t = {k: v.astype(np.float32) for k, v in t.items()}
    t["embeddings.position_ids"] = np.arange(64, dtype=np.int64)[None]
    directory.mkdir(parents=True, exist_ok=True)
    save_file(t, str(directory / "model.safetensors"))
    (directory / "config.json").write_text(json.dumps(config))
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n")
    return config, t


def _max_diffs(preprocessor, encoder, tensors, config, sentences):
    batch = preprocessor(tf.constant(sentences))
    outputs = encoder(batch)
    ids, mask, types = (batch[k].numpy() for k in names.ENCODER_INPUTS)
    seq_ref, pooled_ref = bert_forward(tensors, config, ids, mask, types)
    seq_diff = np.abs(outputs[names.SEQUENCE_OUTPUT].numpy() - seq_ref) * mask[..., None]
    pooled_diff = np.abs(outputs[names.POOLED_OUTPUT].numpy() - pooled_ref)
    return seq_diff.max(), pooled_diff.max(), mask


def test_random_checkpoint_converts_with_parity(tmp_path):
    vocab = local_presets.tiny_vocabulary()
    config, tensors = _random_hf_checkpoint(tmp_path / "hf", vocab)
    out = bertkit.convert(tmp_path / "hf", tmp_path / "tfhub", seq_length=32)
    assert sorted(p.name for p in out.iterdir()) == [
        "bertkit.json",
        "encoder",
        "encoder_mixed_bfloat16",
        "preprocessor",
    ]
    preprocessor, encoder = bertkit.load(out)
    seq_diff, pooled_diff, mask = _max_diffs(preprocessor, encoder, tensors, config, SENTENCES)
    assert mask.sum(axis=1).min() < mask.sum(axis=1).max()  # padding exercised
    assert seq_diff <= 1e-4 and pooled_diff <= 1e-4, (seq_diff, pooled_diff)


def test_tanh_gelu_would_break_parity(tmp_path):
    """Why the converter maps HF 'gelu' to the exact erf form: tanh GELU drifts measurably."""
    vocab = local_presets.tiny_vocabulary()
    config, tensors = _random_hf_checkpoint(tmp_path / "hf", vocab, act="gelu")
    network = converter.build_encoder_network({**config, "hidden_act": "gelu_new"}, dropout=False)
    converter.load_hf_weights(network, tensors)
    ids = np.array([[2, 40, 41, 42, 3]], np.int32)
    inputs = dict(
        zip(names.ENCODER_INPUTS, (ids, np.ones_like(ids), np.zeros_like(ids)), strict=True)
    )
    seq_ref, _ = bert_forward(
        tensors, config, ids, inputs[names.INPUT_MASK], inputs[names.INPUT_TYPE_IDS]
    )
    diff = np.abs(network(inputs)[names.SEQUENCE_OUTPUT].numpy() - seq_ref).max()
    assert diff > 1e-4


def test_converter_rejects_incomplete_or_non_bert_checkpoints(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"missing \['config.json', 'model.safetensors', 'vocab.txt'\]"
    ):
        bertkit.convert(tmp_path, tmp_path / "out")
    vocab = local_presets.tiny_vocabulary()
    _random_hf_checkpoint(tmp_path / "hf", vocab)
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    (tmp_path / "hf" / "config.json").write_text(json.dumps({**config, "model_type": "roberta"}))
    with pytest.raises(ValueError, match="Only BERT checkpoints.*roberta"):
        bertkit.convert(tmp_path / "hf", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_convert_refuses_a_user_directory_before_reading_weights(tmp_path, monkeypatch):
    _random_hf_checkpoint(tmp_path / "hf", local_presets.tiny_vocabulary())
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    monkeypatch.setattr(converter, "read_safetensors", lambda path: pytest.fail("read weights"))
    with pytest.raises(FileExistsError, match="did not write.*holding notes.txt"):
        bertkit.convert(tmp_path / "hf", tmp_path / "out", overwrite=True)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["notes.txt"]


def test_converter_refuses_to_overwrite(tmp_path):
    (tmp_path / "out").mkdir()
    _random_hf_checkpoint(tmp_path / "hf", local_presets.tiny_vocabulary())
    with pytest.raises(FileExistsError, match="already exists.*overwrite=True"):
        bertkit.convert(tmp_path / "hf", tmp_path / "out")


@pytest.mark.slow
def test_default_model_parity_with_numpy_reference(default_dir):
    """all-MiniLM-L6-v2 converted by bertkit == an independent NumPy BERT on the HF weights."""
    src = local_presets.default_model_source()
    tensors = converter.read_safetensors(src / "model.safetensors")
    config = json.loads((src / "config.json").read_text())
    preprocessor, encoder = bertkit.load(bertkit.DEFAULT_PRESET)
    seq_diff, pooled_diff, mask = _max_diffs(preprocessor, encoder, tensors, config, SENTENCES)
    assert len(set(mask.sum(axis=1))) >= 8
    print(f"max |diff| sequence_output={seq_diff:.2e} pooled_output={pooled_diff:.2e}")
    assert seq_diff <= 1e-4 and pooled_diff <= 1e-4


@pytest.mark.slow
def test_default_tokenization_matches_hugging_face(default_dir):
    import tokenizers  # the dev extra: Hugging Face's own tokenizer, as the reference

    tokenizer = tokenizers.Tokenizer.from_file(
        str(local_presets.default_model_source() / "tokenizer.json")
    )
    tokenizer.no_padding()
    tokenizer.enable_truncation(128)
    preprocessor = bertkit.load_preprocessor(bertkit.DEFAULT_PRESET)
    batch = preprocessor(tf.constant(SENTENCES))
    for i, sentence in enumerate(SENTENCES):
        length = int(batch[names.INPUT_MASK][i].numpy().sum())
        assert (
            batch[names.INPUT_WORD_IDS][i, :length].numpy().tolist()
            == tokenizer.encode(sentence).ids
        )


def _random_op_seeds(saved_model_dir):
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((saved_model_dir / "saved_model.pb").read_bytes())
    return [
        (node.attr["seed"].i, node.attr["seed2"].i)
        for function in proto.meta_graphs[0].graph_def.library.function
        for node in function.node_def
        if node.op.startswith("Random")
    ]


def test_saved_dropout_ops_carry_a_seed(tiny_dir):
    """Unseeded random ops in a SavedModel differ per process and fail op determinism."""
    for part in ("encoder", "encoder_mixed_bfloat16"):
        seeds = _random_op_seeds(tiny_dir / part)
        assert seeds, part  # the dropout ops are there
        assert all(seed != (0, 0) for seed in seeds), (part, seeds)


def test_bfloat16_variant_computes_in_bfloat16_close_to_float32(tiny_dir):
    preprocessor = bertkit.load_preprocessor(tiny_dir)
    batch = preprocessor(tf.constant(SENTENCES))
    out32 = bertkit.load_encoder(tiny_dir / "encoder")(batch)
    out16 = bertkit.load_encoder(tiny_dir / "encoder_mixed_bfloat16")(batch)
    assert out16[names.POOLED_OUTPUT].dtype == tf.bfloat16
    a = out32[names.POOLED_OUTPUT].numpy()
    b = tf.cast(out16[names.POOLED_OUTPUT], tf.float32).numpy()
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cosine.min() > 0.999, cosine
    assert 0 < np.abs(a - b).max() < 0.05  # bfloat16 rounding: close, not identical


def test_saving_an_uncompiled_encoder_logs_no_false_metrics_warning(tmp_path):
    import logging

    import tensorflow as tf
    import tf_keras

    from bertkit._env import save_keras_savedmodel

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    inputs = tf_keras.Input(shape=(2,))
    model = tf_keras.Model(inputs, tf_keras.layers.Dense(1)(inputs))
    tf.get_logger().addHandler(handler)
    try:
        model.save(str(tmp_path / "plain"), include_optimizer=False, save_format="tf")
        plain = [r.getMessage() for r in records]
        records.clear()
        save_keras_savedmodel(model, tmp_path / "quiet")
    finally:
        tf.get_logger().removeHandler(handler)
    assert any("compiled metrics have yet to be built" in m for m in plain)  # tf_keras's warning
    assert not any("compiled metrics" in r.getMessage() for r in records)
    assert (tmp_path / "quiet" / "saved_model.pb").is_file()
