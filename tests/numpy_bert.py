"""An independent NumPy BERT forward pass over Hugging Face tensors (test reference only).

Written from the BERT paper / HF BertModel semantics, sharing no code with
bertkit or tf-models: post-LayerNorm blocks, exact erf GELU, additive -inf-like
attention mask, tanh pooler on the [CLS] vector.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf


def _layer_norm(x, gamma, beta, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def _linear(x, tensors, prefix):
    return x @ tensors[prefix + ".weight"].T.astype(np.float64) + tensors[prefix + ".bias"]


def _gelu(x):
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def bert_forward(tensors: dict, config: dict, word_ids, mask, type_ids):
    """Returns (sequence_output [B,T,H], pooled_output [B,H]) in float64."""
    t = {k: v.astype(np.float64) for k, v in tensors.items() if v.dtype != np.int64}
    eps = config.get("layer_norm_eps", 1e-12)
    heads = config["num_attention_heads"]
    batch, length = word_ids.shape
    x = (
        t["embeddings.word_embeddings.weight"][word_ids]
        + t["embeddings.position_embeddings.weight"][np.arange(length)][None]
        + t["embeddings.token_type_embeddings.weight"][type_ids]
    )
    x = _layer_norm(x, t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"], eps)
    hidden = x.shape[-1]
    head_dim = hidden // heads
    additive = (1.0 - mask[:, None, None, :].astype(np.float64)) * -1e9
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}."

        def split(y):
            return y.reshape(batch, length, heads, head_dim).transpose(0, 2, 1, 3)

        q = split(_linear(x, t, p + "attention.self.query"))
        k = split(_linear(x, t, p + "attention.self.key"))
        v = split(_linear(x, t, p + "attention.self.value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(head_dim) + additive
        scores = scores - scores.max(-1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(-1, keepdims=True)
        context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, length, hidden)
        attn = _linear(context, t, p + "attention.output.dense")
        x = _layer_norm(
            attn + x,
            t[p + "attention.output.LayerNorm.weight"],
            t[p + "attention.output.LayerNorm.bias"],
            eps,
        )
        inter = _gelu(_linear(x, t, p + "intermediate.dense"))
        out = _linear(inter, t, p + "output.dense")
        x = _layer_norm(
            out + x, t[p + "output.LayerNorm.weight"], t[p + "output.LayerNorm.bias"], eps
        )
    pooled = np.tanh(_linear(x[:, 0], t, "pooler.dense"))
    return x, pooled
