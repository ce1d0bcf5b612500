"""Safe directory writes: check the output first, build in a temp sibling, then rename into place.

A reader either sees the old complete directory or the new complete one,
never a half-written one, even if the writer is killed.

Nothing the user owns is replaced. `overwrite=True` replaces only an empty
directory or one that holds exactly what the writer writes: each writer
declares a `Layout` (the names it always writes and every top-level name it
may write), and `check_output` refuses any other directory, naming the files
that replacing it would delete. A regular file at the output path is refused
too, and so is a location where nothing can be created (checked with a probe
directory before any expensive work starts).

Temp entries are named `.partial-NAME.pidPID@HOST.XXXXXXXX`. A writer killed
while saving leaves one behind; the next save into the same parent removes
those whose writer is gone: the writer process no longer runs (same host), or,
for entries written on another host or by an older bertkit (no pid in the
name), the entry is older than `STALE_AFTER_SECONDS`. A live writer's entries
are never touched. The save warns with how many it removed. A previous copy
that a writer killed between its two renames had moved aside is put back first.

Examples:
>>> import tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "model"
>>> with atomic_dir(target) as tmp:
...     _ = (tmp / "weights.txt").write_text("1 2 3")
>>> sorted(p.name for p in target.iterdir())
['weights.txt']
>>> Layout("toy directory", required=("a.txt",), allowed=("a.txt", "b-*")).foreign(["a.txt", "b-1", "c"])
['c']
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import os
import re
import shutil
import socket
import tempfile
import time
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

TEMP_MARKER = ".partial-"
# Temp entries of dead writers from another host (or without a pid) are removed after this.
STALE_AFTER_SECONDS = 3600
_TAGGED = re.compile(r"\.pid(\d+)@(.*)\.[a-z0-9_]{8}$")
_SHOWN_FILES = 5


@dataclasses.dataclass(frozen=True)
class Layout:
    """What one bertkit writer puts in its output directory (so `overwrite` can tell it apart).

    Args:
        name: str. What such a directory is, for messages ("bertkit model directory").
        required: tuple of str. Names every such directory holds.
        allowed: tuple of str. `fnmatch` patterns of every top-level name the writer may write.
    """

    name: str
    required: tuple[str, ...]
    allowed: tuple[str, ...]

    def foreign(self, entries: Iterable[str]) -> list[str]:
        """The names in `entries` that this writer never writes."""
        return [e for e in entries if not any(fnmatch.fnmatchcase(e, p) for p in self.allowed)]

    def matches(self, entries: Iterable[str]) -> bool:
        """Whether a directory holding `entries` is one this writer wrote."""
        entries = list(entries)
        return set(self.required) <= set(entries) and not self.foreign(entries)


def _shown(names: list[str]) -> str:
    more = len(names) - _SHOWN_FILES
    return ", ".join(names[:_SHOWN_FILES]) + (f" and {more} more" if more > 0 else "")


def _temp_prefix(name: str) -> str:
    """Prefix of a temp entry that records its writer (see the module docstring)."""
    return f"{TEMP_MARKER}{name}.pid{os.getpid()}@{socket.gethostname()}."


def _check_creatable(path: Path) -> None:
    """Raises unless a directory can be created at `path` (probes its nearest existing parent)."""
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise NotADirectoryError(
            f"The output directory cannot be created: {str(parent)!r} is a file, not a "
            f"directory. Received: {str(path)!r}. Choose an output path inside a directory."
        )
    try:
        os.rmdir(tempfile.mkdtemp(prefix=_temp_prefix("probe"), dir=parent))
    except OSError as err:
        raise PermissionError(
            f"The output directory cannot be written: creating a directory in {str(parent)!r} "
            f"failed ({err.strerror or err}). Received: {str(path)!r}. Choose a writable "
            "location (e.g. under your home directory) or fix its permissions."
        ) from None


def check_output(
    target: str | os.PathLike, overwrite: bool = False, layout: Layout | None = None
) -> Path:
    """Checks that `target` can be written (see the module docstring); returns it made absolute.

    Args:
        target: path. The output directory.
        overwrite: bool. Whether an existing directory may be replaced.
        layout: optional Layout. What the writer writes; without one, `overwrite`
            replaces only an empty directory.

    Raises:
        FileExistsError: `target` is a file, exists without `overwrite`, or holds
            files its writer did not write.
        NotADirectoryError, PermissionError: nothing can be created there.
    """
    text = os.fspath(target)
    path = Path(os.path.abspath(os.path.expanduser(text))) if str(text).strip() else None
    if path is None or not path.name:
        raise ValueError(
            "The output path must name a directory to write. Received: "
            f"{str(text)!r}. Pass a new directory path such as runs/model."
        )
    if path.exists() and not path.is_dir():
        raise FileExistsError(
            f"The output path is a file, not a directory. Received: {str(path)!r}. "
            "Choose a directory path (e.g. runs/model); bertkit never replaces a file."
        )
    if path.exists():
        entries = sorted(os.listdir(path))
        ours = not entries or (layout is not None and layout.matches(entries))
        what = f"an empty directory or a {layout.name}" if layout else "an empty directory"
        if not ours:
            others = (layout.foreign(entries) if layout else []) or entries
            raise FileExistsError(
                "The output directory already exists and holds files bertkit did not write, "
                f"which overwriting it would delete (overwrite replaces only {what}). Received: "
                f"{str(path)!r} holding {_shown(others)}. Choose a new output path, or move "
                "those files out first."
            )
        if not overwrite:
            raise FileExistsError(
                f"Output directory already exists. Received: {str(path)!r}. Choose a new "
                "path, delete it, or pass overwrite=True (--overwrite on the CLI)."
            )
    _check_creatable(path)
    return path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. no permission to signal it: it exists
        return True
    return True


def _is_stale(path: Path, now: float) -> bool:
    tagged = _TAGGED.search(path.name)
    if tagged and tagged.group(2) == socket.gethostname():
        return int(tagged.group(1)) != os.getpid() and not _pid_alive(int(tagged.group(1)))
    try:
        return now - path.lstat().st_mtime > STALE_AFTER_SECONDS
    except OSError:
        return False


def _restore_moved_aside(path: Path) -> None:
    """Puts back a previous copy that a writer killed mid-swap left in `.partial-old-NAME.../NAME`.

    `atomic_dir` replaces a directory in two renames: the old copy into a temp
    entry, then the new one into place. A kill between them leaves no `NAME` at
    all; the old copy is then the user's only one, so it goes back, not away.
    """
    if not path.is_dir() or path.is_symlink():
        return
    inner = [p for p in path.iterdir()]
    if len(inner) != 1 or not path.name.startswith(f"{TEMP_MARKER}old-{inner[0].name}."):
        return
    target = path.parent / inner[0].name
    if not os.path.lexists(target):
        os.rename(inner[0], target)
        warnings.warn(
            f"Restored {str(target)!r}: an interrupted save had moved it aside.",
            UserWarning,
            stacklevel=4,
        )


def remove_stale_partials(parent: str | os.PathLike) -> int:
    """Deletes the temp entries of killed writers in `parent` (module docstring); returns how many."""
    parent, now, removed = Path(parent), time.time(), 0
    if not parent.is_dir():
        return 0
    for path in parent.iterdir():
        if not path.name.startswith(TEMP_MARKER) or not _is_stale(path, now):
            continue
        _restore_moved_aside(path)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                path.unlink()
        removed += not path.exists()
    return removed


@contextlib.contextmanager
def atomic_dir(
    target: str | os.PathLike, overwrite: bool = False, layout: Layout | None = None
) -> Iterator[Path]:
    """Yields a temp directory that becomes `target` when the block succeeds.

    Args:
        target: path. Final directory.
        overwrite: bool. Replace an existing `target` (only if empty or `layout` matches it).
        layout: optional Layout. What this writer writes (see `check_output`).

    The temp directory lives beside `target` (same file system, so the rename
    is atomic) and is removed if the block raises.
    """
    target = check_output(target, overwrite, layout)
    target.parent.mkdir(parents=True, exist_ok=True)
    removed = remove_stale_partials(target.parent)
    if removed:
        warnings.warn(
            f"Removed {removed} temp entr{'y' if removed == 1 else 'ies'} ({TEMP_MARKER}*) "
            f"left in {str(target.parent)!r} by interrupted saves.",
            UserWarning,
            stacklevel=3,
        )
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(target.name), dir=target.parent))
    try:
        yield tmp
        if target.exists():
            old = Path(
                tempfile.mkdtemp(prefix=_temp_prefix(f"old-{target.name}"), dir=target.parent)
            )
            os.rename(target, old / target.name)
            try:
                os.rename(tmp, target)
            except BaseException:
                os.rename(old / target.name, target)  # the previous copy goes back
                os.rmdir(old)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Writes `text` (UTF-8) to `path` via a temp file in the same directory and a rename."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Writes `data` to `path` via a temp file in the same directory and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path.name), dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
