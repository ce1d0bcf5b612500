"""One registry: every encoder has its matching preprocessor and its facts."""

import pytest

import bertkit
from bertkit import presets


def test_all_24_small_berts_with_preprocessors():
    small = [p for p in presets.PRESETS.values() if p.name.startswith("small_bert_")]
    grid = {(p.num_layers, p.hidden_size) for p in small}
    assert grid == {(n, h) for n in (2, 4, 6, 8, 10, 12) for h in (128, 256, 512, 768)}
    for p in small:
        assert p.preprocessor.endswith("/bert_en_uncased_preprocess/3")
        assert f"_L-{p.num_layers}_H-{p.hidden_size}_A-{p.hidden_size // 64}/" in p.encoder
        assert p.num_heads == p.hidden_size // 64


@pytest.mark.parametrize(
    "name, preprocessor, cased, language",
    [
        ("bert_base_en_uncased", "bert_en_uncased_preprocess", False, "en"),
        ("bert_base_en_cased", "bert_en_cased_preprocess", True, "en"),
        ("bert_large_en_uncased", "bert_en_uncased_preprocess", False, "en"),
        ("bert_large_en_cased", "bert_en_cased_preprocess", True, "en"),
        ("bert_base_multi_cased", "bert_multi_cased_preprocess", True, "multi"),
        ("bert_base_zh", "bert_zh_preprocess", True, "zh"),
    ],
)
def test_full_size_berts_pair_encoder_and_preprocessor(name, preprocessor, cased, language):
    p = presets.get_preset(name)
    assert preprocessor in p.preprocessor
    assert p.cased is cased and p.language == language
    assert p.encoder.startswith("https://tfhub.dev/tensorflow/")


def test_parameter_counts_match_published_sizes():
    assert presets.get_preset("bert_base_en_uncased").num_parameters == 109_482_240
    assert round(presets.get_preset("bert_large_en_uncased").num_parameters / 1e6) == 335
    assert round(presets.get_preset("minilm_l6_h384_en_uncased").num_parameters / 1e6, 1) == 22.7


def test_offline_presets_are_the_local_ones():
    assert set(presets.offline_presets()) == {presets.DEFAULT_PRESET, presets.TINY_PRESET}


def test_list_presets_prints_table(capsys):
    bertkit.list_presets()
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:4] == ["name", "L", "H", "A"]
    assert len(out) == 1 + len(presets.PRESETS)
    assert any(line.startswith("minilm_l6_h384_en_uncased") and "yes" in line for line in out)


def test_unknown_preset_suggests_names():
    with pytest.raises(ValueError, match="Unknown preset.*Did you mean") as info:
        presets.get_preset("bert_base")
    assert "list_presets()" in str(info.value)


def test_the_five_named_small_berts_are_registered_and_described():
    small = [p for p in presets.PRESETS.values() if p.name.startswith("small_bert_")]
    named = {
        p.description.rsplit("(", 1)[1].rstrip(")"): (p.num_layers, p.hidden_size)
        for p in small
        if p.description.endswith(")")
    }
    assert named == {name: shape for shape, name in presets.SMALL_BERT_NAMES.items()}
    # Turc et al.'s names grow from Tiny to Base.
    sizes = [
        presets.get_preset(f"small_bert_en_uncased_l{n}_h{h}").num_parameters
        for n, h in presets.SMALL_BERT_NAMES
    ]
    assert sizes == sorted(sizes) and len(set(sizes)) == 5
