"""Other objectives trained on the same loop: pre-training, distillation, curves, pairs.

Masked-language-model pre-training on domain text: `masking` (which tokens
to mask), `mlm_model` (the MLM head and model), `mlm` (training and saving
the adapted encoder). Distillation: `student` (a smaller student from a
teacher), `distill_loss` (Hinton's loss), `distill` (training). `curves`
trains heads on nested subsets for learning curves; `pairs` builds
next-sentence pairs.

Examples:
>>> from bertkit.tasks import curves
>>> curves.nested_subsets([0, 0, 0, 0, 1, 1, 1, 1], fractions=(0.5, 1.0))[0.5].tolist()
[0, 2, 6, 7]
"""
