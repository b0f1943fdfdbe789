import json

import pytest

from electra_keras import PRESETS, ModelConfig


@pytest.mark.parametrize(
    "name, layers, hidden, heads, ffn, embedding",
    [
        ("electra-small", 12, 256, 4, 1024, 128),
        ("electra-base", 12, 768, 12, 3072, 768),
        ("electra-large", 24, 1024, 16, 4096, 1024),
        ("albert-base", 12, 768, 12, 3072, 128),
        ("albert-large", 24, 1024, 16, 4096, 128),
        ("albert-xlarge", 24, 2048, 16, 8192, 128),
        ("albert-xxlarge", 12, 4096, 64, 16384, 128),
    ],
)
def test_presets_have_the_papers_sizes(name, layers, hidden, heads, ffn, embedding):
    config = ModelConfig.from_preset(name)
    assert (config.num_layers, config.hidden_size, config.num_heads) == (layers, hidden, heads)
    assert (config.intermediate_size, config.embedding_size) == (ffn, embedding)
    assert config.layer_norm_epsilon == 1e-12
    if name.startswith("albert"):
        assert config.share == "all" and config.pooler and config.projects_embeddings


@pytest.mark.parametrize(
    "name, hidden, heads, ffn",
    [
        ("electra-small", 64, 1, 256),  # 1/4
        ("electra-base", 256, 4, 1024),  # 1/3
        ("electra-large", 256, 4, 1024),  # 1/4
        ("electra-small++", 256, 4, 1024),  # full-size generator of the release
    ],
)
def test_generator_sizes(name, hidden, heads, ffn):
    discriminator = ModelConfig.from_preset(name)
    generator = discriminator.generator_config()
    assert (generator.hidden_size, generator.num_heads, generator.intermediate_size) == (hidden, heads, ffn)
    assert generator.num_layers == discriminator.num_layers
    assert generator.embedding_size == discriminator.embedding_size
    assert generator.generator_size is None


def test_json_round_trip(tmp_path):
    config = ModelConfig.from_preset("albert-base", share="groups", num_hidden_groups=3, inner_group_num=2)
    assert ModelConfig.from_json(config.to_json()) == config
    path = tmp_path / "config.json"
    config.to_json(path)
    assert ModelConfig.from_json(path) == config
    assert json.loads(path.read_text())["num_hidden_groups"] == 3


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ValueError) as error:
        ModelConfig.from_preset("electra-huge")
    for name in PRESETS:
        assert name in str(error.value)


def test_invalid_values_are_named():
    with pytest.raises(ValueError, match="hidden_size=30 is not divisible by num_heads=4"):
        ModelConfig(hidden_size=30, num_heads=4)
    with pytest.raises(ValueError, match="share='some'"):
        ModelConfig(share="some")
    with pytest.raises(ValueError, match="num_layers=12 is not divisible by num_hidden_groups=5"):
        ModelConfig(share="groups", num_hidden_groups=5)
    with pytest.raises(ValueError, match="hidden_act='swish'"):
        ModelConfig(hidden_act="swish")
    with pytest.raises(ValueError, match=r"Unknown ModelConfig field\(s\) \['hidden'\]"):
        ModelConfig.from_dict({"hidden": 3})
    with pytest.raises(ValueError, match="generator_size is for family='electra' only"):
        ModelConfig(family="albert", generator_size=0.5)
    with pytest.raises(FileNotFoundError, match="No config file"):
        ModelConfig.from_json("missing.json")


def test_projection_rule():
    assert ModelConfig(embedding_size=128, hidden_size=256).projects_embeddings
    assert not ModelConfig(embedding_size=256, hidden_size=256).projects_embeddings
    assert ModelConfig(embedding_size=256, hidden_size=256, embedding_projection=True).projects_embeddings
