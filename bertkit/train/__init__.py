"""Training: the configuration, the one loop and what it relies on.

`config` holds `TrainConfig` and the defaults of each strategy; `finetune`
holds `fit`; `contrastive` tunes the encoder on sentence pairs before the head;
`training_loop.run` is the one loop every trainer goes through (optimizer and
warmup schedule, loss scaling, callbacks); `accumulation` computes a step in micro-batches; `checkpoints`
makes runs resumable; `preflight` checks the inputs before training and stops
a diverging run; `distribute` runs the loop under a `tf.distribute` strategy.

Examples:
>>> from bertkit.train import finetune
>>> finetune.balanced_class_weights([0, 0, 1], num_classes=2)
{0: 0.75, 1: 1.5}
"""
