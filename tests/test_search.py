"""Tests for bertkit.apps.search (grid, tuner, heatmap): the KerasTuner grid search,
its table, best cell and heat map."""

from __future__ import annotations

import itertools
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from toy_sentiment import LABELS, TEXTS, VALIDATION

import bertkit
from bertkit import presets
from bertkit.apps import search

GRID = {"batch_size": [4, 8], "learning_rate": [1e-2, 1e-4], "epochs": [1]}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def searched(tmp_path_factory, tiny_dir):
    """One 2x2x1 search on the tiny preset, shared by the tests that read its result."""
    directory = tmp_path_factory.mktemp("search")
    result = search.grid_search(
        presets.TINY_PRESET, TEXTS, LABELS, VALIDATION, 2, directory=directory, grid=GRID
    )
    return result, directory


def test_every_cell_runs_once_in_grid_order(searched):
    result, directory = searched
    table = result.results
    assert list(table.columns) == list(search.RESULT_COLUMNS)
    expected = list(itertools.product(GRID["batch_size"], GRID["learning_rate"], GRID["epochs"]))
    assert list(table[list(search.GRID_KEYS)].itertuples(index=False, name=None)) == expected
    assert table["batch_size"].dtype.kind == "i" and table["epochs"].dtype.kind == "i"
    for column in ("val_accuracy", "val_macro_f1"):
        assert table[column].between(0, 1).all()
    assert (table["val_loss"] > 0).all() and (table["seconds"] > 0).all()
    # One Keras history per cell, one entry per epoch.
    assert [len(h["loss"]) for h in result.histories] == [1, 1, 1, 1]
    # KerasTuner recorded four trials in the caller's directory, nowhere else.
    assert result.directory == directory / "grid_search"
    assert sorted(p.name for p in result.directory.glob("trial_*")) == [
        f"trial_{i}" for i in range(4)
    ]
    assert sorted(p.name for p in directory.iterdir()) == ["grid_search"]


def test_scores_are_the_final_models_validation_scores(searched):
    # Early stopping is off by default, so Keras' last val_loss is the final model's loss.
    result, _ = searched
    keras_val_loss = [h["val_loss"][-1] for h in result.histories]
    keras_val_accuracy = [h["val_accuracy"][-1] for h in result.histories]
    np.testing.assert_allclose(result.results["val_loss"], keras_val_loss, rtol=1e-4)
    np.testing.assert_allclose(result.results["val_accuracy"], keras_val_accuracy, atol=1e-6)


def test_best_is_the_argmax_of_the_metric(searched):
    result, _ = searched
    table = result.results
    assert result.metric == "val_macro_f1"
    best = table.loc[table["val_macro_f1"].idxmax()]
    assert result.best == {
        "batch_size": int(best["batch_size"]),
        "learning_rate": float(best["learning_rate"]),
        "epochs": int(best["epochs"]),
    }
    assert result.best_row["val_macro_f1"] == table["val_macro_f1"].max()
    # The tuner's oracle, which optimised the same objective, agrees on the score.
    best_trial = result.tuner.oracle.get_best_trials(1)[0]
    assert best_trial.score == table["val_macro_f1"].max()


def test_best_index_ties_nan_and_direction():
    frame = pd.DataFrame(
        {
            "val_macro_f1": [0.2, 0.6, 0.6, float("nan")],
            "val_accuracy": [0.9, 0.1, 0.2, 0.3],
            "val_loss": [float("nan"), 0.9, 0.4, 0.4],
        }
    )
    assert search.best_index(frame, "val_macro_f1") == 1  # first of the tied cells
    assert search.best_index(frame, "val_accuracy") == 0
    assert search.best_index(frame, "val_loss") == 2  # lower is better; NaN never wins
    with pytest.raises(ValueError, match="Unknown metric"):
        search.best_index(frame, "accuracy")
    with pytest.raises(ValueError, match="all NaN"):
        search.best_index(frame.assign(val_loss=float("nan")), "val_loss")


def test_every_cell_starts_from_the_same_weights(searched):
    tuner = searched[0].tuner
    model = tuner._model
    trained = [w.numpy().copy() for w in model.weights]
    assert any(
        not np.array_equal(a, b) for a, b in zip(trained, tuner._initial_weights, strict=True)
    )
    assert tuner.fresh_model() is model
    for weight, initial in zip(model.weights, tuner._initial_weights, strict=True):
        np.testing.assert_array_equal(weight.numpy(), initial)


def test_bert_readme_grid():
    assert search.BERT_README_GRID == {
        "batch_size": (8, 16, 32, 64, 128),
        "learning_rate": (3e-4, 1e-4, 5e-5, 3e-5),
        "epochs": (2, 3, 4),
    }
    cells = search.grid_cells(search.BERT_README_GRID)
    assert len(cells) == 60
    assert cells[0] == {"batch_size": 8, "learning_rate": 3e-4, "epochs": 2}
    assert cells[-1] == {"batch_size": 128, "learning_rate": 3e-5, "epochs": 4}


def test_validate_grid_normalises_types():
    grid = search.validate_grid(
        {"epochs": np.array([2]), "batch_size": [np.int64(16)], "learning_rate": (1,)}
    )
    assert grid == {"batch_size": (16,), "learning_rate": (1.0,), "epochs": (2,)}
    assert list(grid) == list(search.GRID_KEYS)
    assert type(grid["batch_size"][0]) is int and type(grid["learning_rate"][0]) is float


BAD_GRIDS = [
    ({}, "grid is empty"),
    (None, "grid is empty"),
    ({"batch_size": [8], "learning_rate": [1e-4]}, r"missing: \['epochs'\]"),
    ({**GRID, "warmup": [0.1]}, r"unknown: \['warmup'\]"),
    ({**GRID, "batch_size": []}, r"grid\['batch_size'\] is empty"),
    ({**GRID, "batch_size": 8}, "must be a list"),
    ({**GRID, "learning_rate": "1e-4"}, "must be a list"),
    ({**GRID, "batch_size": [0, 8]}, "positive"),
    ({**GRID, "batch_size": [-8]}, "positive"),
    ({**GRID, "batch_size": [8.0]}, "integers"),
    ({**GRID, "batch_size": [True]}, "integers"),
    ({**GRID, "epochs": [0]}, "positive"),
    ({**GRID, "learning_rate": [0.0]}, "positive"),
    ({**GRID, "learning_rate": [-1e-4]}, "positive"),
    ({**GRID, "learning_rate": [math.nan]}, "positive"),
    ({**GRID, "learning_rate": [math.inf]}, "positive"),
    ({**GRID, "learning_rate": ["fast"]}, "numbers"),
    ({**GRID, "learning_rate": [1e-4, 1e-4]}, "repeats"),
]


@pytest.mark.parametrize("grid, message", BAD_GRIDS)
def test_bad_grids_are_rejected(grid, message):
    with pytest.raises(ValueError, match=message):
        search.validate_grid(grid)


@pytest.mark.parametrize("grid, message", BAD_GRIDS[:3] + BAD_GRIDS[7:9])
def test_grid_search_rejects_bad_input_before_training(tmp_path, grid, message):
    with pytest.raises(ValueError, match=message):
        search.grid_search(
            presets.TINY_PRESET, TEXTS, LABELS, VALIDATION, 2, directory=tmp_path, grid=grid
        )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(metric="accuracy"), "Unknown metric"),
        (dict(directory=None), "directory must be set"),
        (dict(validation=(["a"], [0, 1])), "Validation texts and labels differ in length"),
        (dict(validation=([], [])), "No validation examples"),
        (dict(validation=["a", "b", "c"]), r"validation must be a tuple \(texts, labels\)"),
        (dict(validation=(["a", "b"], [0, 2])), r"must be in \[0, 2\)"),
        (dict(validation=(["a", "b"], [0.5, 1])), "Validation labels must be whole class ids"),
        (dict(train_labels=["pos"] * 12), "Training labels must be integer class ids, not str"),
        (dict(train_texts="one text"), "texts must be a list of strings, not one string"),
        # A config the grid would make invalid fails before any cell trains.
        (dict(config=bertkit.TrainConfig(warmup_fraction=1.5)), "warmup_fraction"),
    ],
)
def test_grid_search_rejects_bad_arguments(tmp_path, kwargs, message):
    arguments = dict(
        train_texts=TEXTS, train_labels=LABELS, validation=VALIDATION, directory=tmp_path, grid=GRID
    )
    with pytest.raises((ValueError, TypeError), match=message):
        search.grid_search(presets.TINY_PRESET, num_classes=2, **(arguments | kwargs))
    assert list(tmp_path.iterdir()) == []


def test_heatmap_of_a_search_result(searched):
    fig = search.plot_grid_heatmap(searched[0].results)
    assert isinstance(fig, plt.Figure)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["4", "8"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1e-2", "1e-4"]
    expected = [f"{v:.3f}" for v in searched[0].results["val_macro_f1"]]
    assert [t.get_text() for t in ax.texts] == expected
    assert ax.get_xlabel() == "learning rate" and ax.get_ylabel() == "batch size"


def test_heatmap_reduces_epochs_and_leaves_unsearched_cells_blank():
    frame = pd.DataFrame(
        {
            "batch_size": [8, 8, 8, 8, 16],
            "learning_rate": [1e-4, 1e-4, 3e-5, 3e-5, 1e-4],
            "epochs": [2, 3, 2, 3, 2],
            "val_macro_f1": [0.4, 0.5, 0.3, 0.1, 0.6],
            "val_loss": [0.9, 0.7, 1.1, 1.3, 0.6],
        }
    )
    fig = search.plot_grid_heatmap(frame)
    assert [t.get_text() for t in fig.axes[0].texts] == ["0.500", "0.300", "0.600"]
    assert "best over epochs" in fig.axes[0].get_title()
    fig = search.plot_grid_heatmap(frame, aggregate="mean")
    assert [t.get_text() for t in fig.axes[0].texts] == ["0.450", "0.200", "0.600"]
    fig = search.plot_grid_heatmap(frame, metric="val_loss")  # lower is better
    assert [t.get_text() for t in fig.axes[0].texts] == ["0.700", "1.100", "0.600"]
    _, ax = plt.subplots()
    fig = search.plot_grid_heatmap(frame, rows="epochs", columns="batch_size", ax=ax, title="t")
    assert fig is ax.figure and ax.get_title() == "t"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["2", "3"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(metric="f1"), "Unknown metric"),
        (dict(rows="learning_rate"), "must differ"),
        (dict(columns="seconds"), "grid keys"),
        (dict(aggregate="median"), "Unknown aggregate"),
    ],
)
def test_heatmap_errors(kwargs, message):
    frame = pd.DataFrame(
        {"batch_size": [8], "learning_rate": [1e-4], "epochs": [2], "val_macro_f1": [0.5]}
    )
    with pytest.raises(ValueError, match=message):
        search.plot_grid_heatmap(frame, **kwargs)
    with pytest.raises(ValueError, match="lacks columns or rows"):
        search.plot_grid_heatmap(frame.drop(columns="val_macro_f1"))
