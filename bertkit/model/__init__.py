"""Tokens -> encoder -> head: the classifier and what it is built from.

`classifier` builds the `TextClassifier` (raw strings -> preprocessor ->
encoder -> pooling -> dropout -> logits); `layers` holds its Keras layers;
`precision` picks float32 or a mixed-precision encoder; `anatomy` looks
inside an encoder (blocks, embeddings, attention).

Examples:
>>> from bertkit.model import classifier
>>> classifier.transformer_layer_index("transformer/layer_3/intermediate/kernel:0")
3
"""
