"""Peak-memory measurements of fine-tuning configurations (each in its own process)."""

import pytest

from bertkit import presets
from bertkit.apps import memory


def test_memory_grows_with_batch_and_length_and_fewer_trained_layers_need_less():
    small, big = memory.memory_table(presets.TINY_PRESET, (2, 256), (16, 128), steps=1)[::3]
    assert (small["batch_size"], small["seq_length"]) == (2, 16)
    assert (big["batch_size"], big["seq_length"]) == (256, 128)
    assert small["status"] == big["status"] == memory.STATUS_OK
    # 256 x 128 tokens keep ~1000x more activations than 2 x 16 for the backward pass.
    assert (
        big["peak_rss_gb"] - big["baseline_rss_gb"]
        > small["peak_rss_gb"] - small["baseline_rss_gb"] + 0.05
    )
    frozen = memory.measure_training_memory(
        presets.TINY_PRESET, 256, 128, strategy="freeze", steps=1
    )
    assert frozen["trainable_params"] < big["trainable_params"]
    assert (
        frozen["peak_rss_gb"] - frozen["baseline_rss_gb"]
        < big["peak_rss_gb"] - big["baseline_rss_gb"]
    )


def test_a_failing_configuration_is_reported_not_raised():
    row = memory.measure_training_memory("no_such_preset_anywhere", 2, 16, steps=1)
    assert row["status"] == memory.STATUS_FAILED
    assert "no_such_preset_anywhere" in row["error"]


def test_bad_sizes_are_rejected_before_starting_a_process():
    with pytest.raises(ValueError, match="batch_size must be a positive integer.*batch_size=0"):
        memory.measure_training_memory(presets.TINY_PRESET, 0, 16)


def test_markdown_table_shows_numbers_or_the_failure():
    ok = {
        "batch_size": 8,
        "seq_length": 64,
        "strategy": "full",
        "precision": "float32",
        "status": "ok",
        "baseline_rss_gb": 1.234,
        "peak_rss_gb": 2.5,
        "seconds_per_step": 0.5,
    }
    oom = dict(ok, batch_size=64, seq_length=512, status=memory.STATUS_OOM)
    table = memory.markdown([ok, oom]).splitlines()
    assert table[2] == "| 8 | 8 | 64 | full | float32 | ok | 1.23 | 2.50 | 0.50 |"
    assert table[3] == "| 64 | 64 | 512 | full | float32 | out of memory |  |  |  |"
    micro = dict(ok, batch_size=32, micro_batch_size=8)
    assert memory.markdown([micro]).splitlines()[2].startswith("| 32 | 8 | 64 |")


def test_micro_batches_are_measured_and_checked_before_starting_a_process():
    with pytest.raises(ValueError, match="micro_batch_size must be.*micro_batch_size=9"):
        memory.measure_training_memory(presets.TINY_PRESET, 8, 16, micro_batch_size=9)
    row = memory.measure_training_memory(presets.TINY_PRESET, 8, 16, steps=1, micro_batch_size=3)
    assert row["status"] == memory.STATUS_OK, row.get("error")
    assert row["micro_batch_size"] == 3 and row["peak_rss_gb"] > row["baseline_rss_gb"]
