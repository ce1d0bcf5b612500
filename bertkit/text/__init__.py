"""Text -> tokens: read labelled text, encode labels, split, tokenize once and batch.

`formats` recognises data files; `loaders` reads tables, folders and
DataFrames, `tfds_data` TFDS datasets, and `data.load` picks the right one;
`text_dataset` holds `TextDataset` and the one bad-input policy; `labels` the
`LabelEncoder` and the labels file; `splits` the stratified split; `datasets`
fetches and loads the walkthrough datasets; `tfds_local` stores labelled text
as a TFDS dataset; `tokens` shows what the tokenizer does; `inputs` tokenizes
once and batches with dynamic padding for training.

Examples:
>>> from bertkit.text import labels
>>> encoder = labels.LabelEncoder.fit(["pos", "neg", "pos"])
>>> encoder.classes, encoder.encode(["neg", "pos"]).tolist()
(['neg', 'pos'], [0, 1])
"""
