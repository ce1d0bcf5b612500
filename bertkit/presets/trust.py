"""Models are programs: read a SavedModel's ops before running it, and refuse the risky ones.

A SavedModel directory is a TensorFlow program, not data: loading it runs its
initializers, and predicting runs its functions, with the rights of your
process. bertkit reads `saved_model.pb` with protobuf alone (nothing is
loaded or run), walks the op types of every graph node and of every function
in `graph_def.library` (the serving signature, the functions it calls, loops,
branches, table initializers), and refuses a model using any op of `DENYLIST`
unless the caller passes `trust_model=True` (`--trust-model` on the CLI).

`DENYLIST` starts from TensorFlow's own (`saved_model_cli scan`, `_OP_DENYLIST`
in tensorflow/python/tools/saved_model_cli.py: `ReadFile`, `WriteFile`,
`PrintV2`) and adds every registered op a text classifier has no business
running that touches the world outside the tensors:

- files: read, write, list or memory-map (`MatchingFiles`, `ImmutableConst`),
  checkpoint save/restore, file readers and file datasets, dataset
  save/load/snapshot/cache, summary writers, debug dumps, proto ops that read a
  descriptor file, checkpoint remapping;
- the process's output: `Print`, `PrintV2` (which can also write to a file);
- the network: tf.data service, RPC ops;
- the Python process: `PyFunc`, `PyFuncStateless`, `EagerPyFunc`.

Two uses of such ops are part of every SavedModel and allowed:

- `SaveV2`, `RestoreV2`, `MergeV2Checkpoints` in the saver functions that
  `saver_def` names (`_traced_save`/`_traced_restore`, which TensorFlow writes
  to save and restore the model's own variables), as long as those functions
  are reached only from the saver; anywhere else they are refused.
- `InitializeTableFromTextFile(V2)`, which reads a tokenizer's vocabulary into
  a lookup table, when the file name is an argument of its function (TensorFlow
  binds it to an asset of the model), and every asset path stays inside the
  model's `assets/` directory (no absolute path, no `..`).

What this cannot catch: a model that computes wrong or hostile outputs from
allowed ops; resource exhaustion (a huge loop or allocation); bugs in
TensorFlow's own kernels that a crafted graph might exploit (see TensorFlow's
SECURITY.md: run untrusted models in a sandbox); custom ops some library
registered in your process under a name not listed here. Encoders loaded as
presets (TF-Hub handles, preset directories) are not scanned: pick them as you
would pick code to run.

Examples:
>>> sorted(TENSORFLOW_DENYLIST)
['PrintV2', 'ReadFile', 'WriteFile']
>>> TENSORFLOW_DENYLIST <= DENYLIST
True
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

TENSORFLOW_DENYLIST = frozenset({"ReadFile", "WriteFile", "PrintV2"})
_FILE_OPS = {
    "MatchingFiles", "ImmutableConst", "LoadAndRemapMatrix", "GenerateVocabRemapping",
    "DecodeProtoV2", "EncodeProto",
    "Save", "SaveSlices", "SaveV2", "Restore", "RestoreSlice", "RestoreV2", "MergeV2Checkpoints",
    "WholeFileReader", "WholeFileReaderV2", "TextLineReader", "TextLineReaderV2",
    "FixedLengthRecordReader", "FixedLengthRecordReaderV2", "TFRecordReader", "TFRecordReaderV2",
    "LMDBReader",
    "TextLineDataset", "TFRecordDataset", "TFRecordDatasetV2", "FixedLengthRecordDataset",
    "FixedLengthRecordDatasetV2", "CSVDataset", "CSVDatasetV2", "ExperimentalCSVDataset",
    "LMDBDataset", "ExperimentalLMDBDataset", "SqlDataset", "ExperimentalSqlDataset",
    "MatchingFilesDataset", "ExperimentalMatchingFilesDataset", "SaveDataset", "SaveDatasetV2",
    "LoadDataset", "SnapshotDataset", "SnapshotDatasetV2", "SnapshotDatasetReader",
    "CacheDataset", "CacheDatasetV2", "DatasetToTFRecord", "ExperimentalDatasetToTFRecord",
    "DistributedSave",
    "CreateSummaryFileWriter", "CreateSummaryDbWriter", "WriteSummary", "WriteScalarSummary",
    "WriteHistogramSummary", "WriteImageSummary", "WriteAudioSummary", "WriteGraphSummary",
    "WriteRawProtoSummary", "ImportEvent", "FlushSummaryWriter", "CloseSummaryWriter",
    "DebugIdentity", "DebugIdentityV2", "DebugIdentityV3", "DebugNumericSummary",
    "DebugNumericSummaryV2", "DebugNanCount",
}  # fmt: skip
_OUTPUT_OPS = {"Print", "PrintV2"}
_NETWORK_OPS = {
    "DataServiceDataset", "DataServiceDatasetV2", "DataServiceDatasetV3", "DataServiceDatasetV4",
    "RegisterDataset", "RegisterDatasetV2", "RpcCall", "RpcServer", "RpcClient",
    "RpcServerStart", "RpcServerRegister", "RpcCheckStatus", "RpcGetValue",
}  # fmt: skip
_PROCESS_OPS = {"PyFunc", "PyFuncStateless", "EagerPyFunc"}
DENYLIST = frozenset(TENSORFLOW_DENYLIST | _FILE_OPS | _OUTPUT_OPS | _NETWORK_OPS | _PROCESS_OPS)
# Allowed only inside the saver functions named by saver_def.
CHECKPOINT_OPS = frozenset({"SaveV2", "RestoreV2", "MergeV2Checkpoints"})
# Allowed when their file name is an argument of the function (bound to a model asset).
VOCABULARY_OPS = frozenset({"InitializeTableFromTextFile", "InitializeTableFromTextFileV2"})
_SHOWN = 5


class UntrustedModelError(ValueError):
    """A model directory uses ops that touch files, the network or the process."""


def _callees(nodes) -> set[str]:
    """Names of the functions that `nodes` (NodeDefs) call through their attributes."""
    called = set()
    for node in nodes:
        for value in node.attr.values():
            if value.HasField("func"):
                called.add(value.func.name)
            called.update(f.name for f in value.list.func)
    return called


def _reach(start: Iterable[str], calls: dict[str, set[str]]) -> set[str]:
    seen, todo = set(), list(start)
    while todo:
        name = todo.pop()
        if name not in seen and name in calls:
            seen.add(name)
            todo.extend(calls[name])
    return seen


def _unsafe_asset(filename: str) -> bool:
    path = PurePosixPath(filename.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts or ":" in filename


def scan_meta_graph(meta_graph) -> list[tuple[str, str]]:
    """The refused `(op, where)` pairs of one MetaGraphDef (see the module docstring)."""
    graph = meta_graph.graph_def
    functions = {f.signature.name: f for f in graph.library.function}
    calls = {name: _callees(f.node_def) for name, f in functions.items()}
    saver = meta_graph.saver_def
    saver_nodes = {saver.save_tensor_name.split(":")[0], saver.restore_op_name.split(":")[0]}
    saver_nodes.discard("")
    saver_reach = _reach(_callees(n for n in graph.node if n.name in saver_nodes), calls)
    other_roots = _callees(n for n in graph.node if n.name not in saver_nodes)
    saver_only = saver_reach - _reach(other_roots | (set(functions) - saver_reach), calls)
    found = [(n.op, "the graph") for n in graph.node if n.op in DENYLIST]
    for name, function in functions.items():
        args = {a.name for a in function.signature.input_arg}
        for node in function.node_def:
            if node.op in CHECKPOINT_OPS and name in saver_only:
                continue
            if node.op in DENYLIST:
                found.append((node.op, f"function {name}"))
            elif node.op in VOCABULARY_OPS and (
                len(node.input) < 2 or node.input[1].split(":")[0] not in args
            ):
                found.append((f"{node.op} (file name not a model asset)", f"function {name}"))
    for asset in meta_graph.asset_file_def:
        if _unsafe_asset(asset.filename):
            found.append((f"asset {asset.filename!r} outside assets/", "asset_file_def"))
    return found


def scan(directory: str | os.PathLike) -> list[tuple[str, str]]:
    """The refused `(op, where)` pairs of the SavedModel in `directory`, read without running it.

    Args:
        directory: path. A SavedModel directory (with `saved_model.pb`).

    Raises:
        google.protobuf.message.DecodeError: `saved_model.pb` is not a SavedModel proto.
    """
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((Path(directory) / "saved_model.pb").read_bytes())
    return [found for meta_graph in proto.meta_graphs for found in scan_meta_graph(meta_graph)]


def check(directory: str | os.PathLike, trust_model: bool = False) -> None:
    """Raises `UntrustedModelError` if the SavedModel in `directory` uses a refused op.

    Args:
        directory: path. A SavedModel directory.
        trust_model: bool. Skip the check (the caller trusts where the model came from).
    """
    if trust_model:
        return
    found = scan(directory)
    if not found:
        return
    ops = sorted({op for op, _ in found})
    # "function __inference_serve_21" -> "function serve" (the name in the Python source).
    places = sorted({re.sub(r"__inference_(.+)_\d+$", r"\1", where) for _, where in found})
    more = f" and {len(places) - _SHOWN} more" if len(places) > _SHOWN else ""
    raise UntrustedModelError(
        "The model uses TensorFlow ops that can read or write files, use the network or run "
        "code in this process, so bertkit does not run it: a model directory is a program. "
        f"Received: {', '.join(ops)} in {str(directory)!r} ({', '.join(places[:_SHOWN])}{more}). "
        "Only if you trust where this model came from, pass trust_model=True (--trust-model "
        "on the command line)."
    )
