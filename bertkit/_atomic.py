"""Atomic directory writes: build in a temp sibling, then rename into place.

A reader either sees the old complete directory or the new complete one,
never a half-written one, even if the writer is killed.

Examples:
>>> import tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "model"
>>> with atomic_dir(target) as tmp:
...     _ = (tmp / "weights.txt").write_text("1 2 3")
>>> sorted(p.name for p in target.iterdir())
['weights.txt']
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

TEMP_MARKER = ".partial-"


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yields a temp directory that becomes `target` when the block succeeds.

    Args:
        target: path. Final directory.
        overwrite: bool. Replace an existing `target`; otherwise raise.

    The temp directory lives beside `target` (same file system, so the rename
    is atomic) and is removed if the block raises.
    """
    target = Path(target).expanduser().absolute()
    if target.exists() and not overwrite:
        raise FileExistsError(
            f"Output directory already exists. Received: {str(target)!r}. "
            "Choose a new path, delete it, or pass overwrite=True (--overwrite on the CLI)."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{TEMP_MARKER}{target.name}-", dir=target.parent))
    try:
        yield tmp
        if target.exists():
            old = Path(
                tempfile.mkdtemp(prefix=f"{TEMP_MARKER}old-{target.name}-", dir=target.parent)
            )
            os.rename(target, old / target.name)
            os.rename(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def remove_stale_partials(parent: str | os.PathLike) -> int:
    """Deletes temp directories left by killed writers in `parent`; returns how many."""
    parent = Path(parent)
    if not parent.is_dir():
        return 0
    stale = [p for p in parent.iterdir() if p.name.startswith(TEMP_MARKER) and p.is_dir()]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return len(stale)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Writes `text` to `path` via a temp file in the same directory and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_MARKER}{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
