"""A twelve-review toy sentiment set shared by the tests that train on the tiny preset."""

TEXTS = [
    "good movie", "bad film", "great fun", "awful plot", "nice acting", "terrible",
    "lovely day", "boring", "superb cast", "dull story", "fine work", "weak ending",
]  # fmt: skip
LABELS = [1, 0] * 6
VALIDATION = (["good fun", "awful film", "nice plot", "boring cast"], [1, 0, 1, 0])
