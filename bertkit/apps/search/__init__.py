"""Grid search over batch size, learning rate and epochs, driven by KerasTuner.

The grid is the one the BERT authors fine-tuned their compact models with
(google-research/bert README: batch sizes 8-128, learning rates 3e-4 to 3e-5;
epochs 2, 3, 4 as in the BERT paper, appendix A.3). Every cell builds a fresh
`build_classifier` model (pretrained weights, same head initialisation) and
trains it with `bertkit.train.finetune.fit`, so tokenization, the warmup + decay
schedule and the class weights are exactly those of every other bertkit run.
Cells are scored on a validation split, never on a test set.

One module per concept; use them through this package
(`from bertkit.apps import search; search.grid_search(...)`):

- `grid`: `BERT_README_GRID`, `validate_grid`, `grid_cells`, the `METRICS` a
  search selects by, `best_index` and `format_results` (a Markdown table);
- `tuner`: `grid_search`, with KerasTuner's grid oracle and a `FitTuner`
  whose trials train through `bertkit.train.finetune.fit`, `validation_scores`
  and the `SearchResult`;
- `heatmap`: `plot_grid_heatmap`, a metric over two grid dimensions;
- `drug_reviews`: `drug_reviews_split`, the data `python -m bertkit.apps.search`
  (`__main__`) and notebook 05 search on.

Examples:
>>> from bertkit.apps import search
>>> search.grid_cells({"batch_size": [8, 16], "learning_rate": [1e-4], "epochs": [2]})[1]
{'batch_size': 16, 'learning_rate': 0.0001, 'epochs': 2}
"""

from bertkit.apps.search.drug_reviews import drug_reviews_split
from bertkit.apps.search.grid import (
    BERT_README_GRID,
    GRID_KEYS,
    METRICS,
    RESULT_COLUMNS,
    best_index,
    format_learning_rate,
    format_results,
    grid_cells,
    validate_grid,
)
from bertkit.apps.search.heatmap import plot_grid_heatmap
from bertkit.apps.search.tuner import FitTuner, SearchResult, grid_search, validation_scores

__all__ = [
    "BERT_README_GRID",
    "GRID_KEYS",
    "METRICS",
    "RESULT_COLUMNS",
    "FitTuner",
    "SearchResult",
    "best_index",
    "drug_reviews_split",
    "format_learning_rate",
    "format_results",
    "grid_cells",
    "grid_search",
    "plot_grid_heatmap",
    "validate_grid",
    "validation_scores",
]
