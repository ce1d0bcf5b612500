"""Temp entries left by killed writers are cleaned up on the next save, and only theirs."""

import os
import socket
import subprocess
import sys
import time

import pytest

from bertkit import _atomic


def _dead_pid() -> int:
    """The pid of a process that has exited."""
    code = "import os; print(os.getpid())"
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return int(done.stdout)


def _tagged(name: str, pid: int, host: str | None = None) -> str:
    return f"{_atomic.TEMP_MARKER}{name}.pid{pid}@{host or socket.gethostname()}.abcd1234"


def test_stale_temp_entries_of_killed_writers_are_removed_and_live_ones_kept(tmp_path):
    dead, alive = _dead_pid(), os.getppid()
    (tmp_path / _tagged("model", dead)).mkdir()  # killed writer on this host
    (tmp_path / _tagged("state.json", dead)).write_text("{")  # killed atomic_write_text
    (tmp_path / _tagged("model", alive)).mkdir()  # a writer still running
    (tmp_path / _tagged("model", alive, "otherhost")).mkdir()  # another host, recent
    (tmp_path / f"{_atomic.TEMP_MARKER}old-style").mkdir()  # no pid, recent
    old = tmp_path / f"{_atomic.TEMP_MARKER}older-style"  # no pid, hours old
    old.mkdir()
    hours_ago = time.time() - 3 * _atomic.STALE_AFTER_SECONDS
    os.utime(old, (hours_ago, hours_ago))
    (tmp_path / "mine").mkdir()  # the user's, whatever its age
    os.utime(tmp_path / "mine", (hours_ago, hours_ago))

    with pytest.warns(UserWarning, match="Removed 3 temp entries"):
        with _atomic.atomic_dir(tmp_path / "out") as tmp:
            (tmp / "x").write_text("1")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [
            _tagged("model", alive),
            _tagged("model", alive, "otherhost"),
            f"{_atomic.TEMP_MARKER}old-style",
            "mine",
            "out",
        ]
    )


def test_overwrite_without_a_layout_replaces_only_an_empty_directory(tmp_path):
    (tmp_path / "empty").mkdir()
    with _atomic.atomic_dir(tmp_path / "empty", overwrite=True) as tmp:
        (tmp / "x").write_text("1")
    with pytest.raises(FileExistsError, match="holding x"):
        _atomic.check_output(tmp_path / "empty", overwrite=True)


def test_a_save_killed_between_its_two_renames_gets_the_previous_copy_back(tmp_path):
    # The swap moved the user's model aside, then the writer died before the new one landed.
    aside = tmp_path / _tagged("old-model", _dead_pid())
    (aside / "model").mkdir(parents=True)
    (aside / "model" / "weights.txt").write_text("previous")

    with pytest.warns(UserWarning, match="Restored"):
        with _atomic.atomic_dir(tmp_path / "other") as tmp:
            (tmp / "x.txt").write_text("new")

    assert (tmp_path / "model" / "weights.txt").read_text() == "previous"
    assert not aside.exists()


def test_a_failed_swap_puts_the_previous_copy_back(tmp_path, monkeypatch):
    target = tmp_path / "model"
    target.mkdir()
    (target / "a.txt").write_text("previous")
    layout = _atomic.Layout("toy directory", required=("a.txt",), allowed=("a.txt",))
    real_rename = os.rename

    def rename(src, dst):
        if os.fspath(dst) == os.fspath(target) and "old-" not in os.fspath(src):
            raise OSError("disk full")
        return real_rename(src, dst)

    monkeypatch.setattr(_atomic.os, "rename", rename)
    with pytest.raises(OSError, match="disk full"):
        with _atomic.atomic_dir(target, overwrite=True, layout=layout) as tmp:
            (tmp / "a.txt").write_text("new")

    assert (target / "a.txt").read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
