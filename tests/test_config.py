import dataclasses
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


def official_generator_config(bert_config: dict, generator_hidden_size: float, generator_layers: float) -> dict:
    """A transcription of google-research/electra run_pretraining.get_generator_config."""
    gen_config = dict(bert_config)
    gen_config["hidden_size"] = int(round(bert_config["hidden_size"] * generator_hidden_size))
    gen_config["num_hidden_layers"] = int(round(bert_config["num_hidden_layers"] * generator_layers))
    gen_config["intermediate_size"] = 4 * gen_config["hidden_size"]
    gen_config["num_attention_heads"] = max(1, gen_config["hidden_size"] // 64)
    return gen_config


@pytest.mark.parametrize(
    "preset, overrides",
    [
        ("electra-small", {}),
        ("electra-base", {}),
        ("electra-large", {"generator_layers": 0.5}),
        ("electra-small", {"intermediate_size": 768}),  # a discriminator FFN that is not 4 x hidden
        ("tiny", {}),  # FFN 2 x hidden, 16 wide: one head
        ("electra-base", {"generator_size": 1.0, "generator_layers": 0.25}),
    ],
)
def test_generator_follows_the_official_rule(preset, overrides):
    config = ModelConfig.from_preset(preset, **overrides)
    bert = {"hidden_size": config.hidden_size, "num_hidden_layers": config.num_layers,
            "intermediate_size": config.intermediate_size, "num_attention_heads": config.num_heads}
    official = official_generator_config(bert, config.generator_size, config.generator_layers)
    generator = config.generator_config()
    assert (generator.hidden_size, generator.num_layers, generator.intermediate_size, generator.num_heads) == (
        official["hidden_size"], official["num_hidden_layers"], official["intermediate_size"],
        official["num_attention_heads"])


def test_explicit_generator_round_trips_and_is_checked():
    config = ModelConfig.from_preset("electra-small")
    generator = dataclasses.replace(config.generator_config(), num_heads=2, intermediate_size=100, num_layers=6)
    combined = config.with_generator(generator)
    assert combined.generator_config() == generator
    assert (combined.generator_num_heads, combined.generator_intermediate_size, combined.generator_layers) == (
        2, 100, 0.5)
    assert ModelConfig.from_json(combined.to_json()) == combined
    # The official rule's own generator needs no explicit field.
    plain = config.with_generator(config.generator_config())
    assert plain == config
    with pytest.raises(ValueError, match=r"embedding_size \(64 vs 128\)"):
        config.with_generator(dataclasses.replace(generator, embedding_size=64))
    with pytest.raises(ValueError, match="larger than the discriminator"):
        config.with_generator(dataclasses.replace(generator, hidden_size=512, num_heads=8))
    with pytest.raises(ValueError, match="not divisible by its 3 heads"):
        ModelConfig.from_preset("electra-small", generator_num_heads=3).generator_config()
    with pytest.raises(ValueError, match="generator_layers describe a generator: they need a generator_size"):
        ModelConfig(generator_layers=0.5)


# The ELECTRA paper, Table 6 (pretraining) and Table 7 (fine-tuning), and the
# official configure_pretraining.py (mask_prob 0.25 for Large).
PAPER_PRETRAINING = {
    "electra-small": {"learning_rate": 5e-4, "batch_size": 128, "sequence_length": 128, "masking_rate": 0.15},
    "electra-base": {"learning_rate": 2e-4, "batch_size": 256, "sequence_length": 512, "masking_rate": 0.15},
    "electra-large": {"learning_rate": 2e-4, "batch_size": 2048, "sequence_length": 512, "masking_rate": 0.25},
}
PAPER_FINETUNING = {
    "electra-small": {"learning_rate": 3e-4, "layer_decay": 0.8},
    "electra-base": {"learning_rate": 1e-4, "layer_decay": 0.8},
    "electra-large": {"learning_rate": 5e-5, "layer_decay": 0.9},
}


@pytest.mark.parametrize("preset", sorted(PAPER_PRETRAINING))
def test_electra_presets_carry_the_papers_training_settings(preset):
    from electra_keras.config import finetuning_defaults, pretraining_defaults, preset_of

    assert pretraining_defaults(preset) == PAPER_PRETRAINING[preset]
    assert finetuning_defaults(preset) == PAPER_FINETUNING[preset]
    # A loaded checkpoint of that size (other vocabulary, no dropout) is recognized by its shape.
    loaded = ModelConfig.from_preset(preset, vocab_size=1234, dropout_rate=0.0, generator_size=None)
    assert finetuning_defaults(preset_of(loaded)) == PAPER_FINETUNING[preset]
    assert preset_of(ModelConfig.from_preset("tiny", num_layers=3)) is None
    assert finetuning_defaults(None) == {"learning_rate": 1e-4, "layer_decay": 0.8}


def test_pretraining_options_take_the_presets_settings_unless_given():
    from electra_keras.training.pretrain import PretrainingOptions

    large = PretrainingOptions(out="x", preset="electra-large")
    assert (large.learning_rate, large.batch_size, large.sequence_length, large.masking_rate) == (
        2e-4, 2048, 512, 0.25)
    given = PretrainingOptions(out="x", preset="electra-large", batch_size=8, masking_rate=0.15)
    assert (given.batch_size, given.masking_rate, given.sequence_length) == (8, 0.15, 512)
    mini = PretrainingOptions(out="x", preset="electra-mini")
    assert (mini.learning_rate, mini.batch_size, mini.sequence_length, mini.masking_rate) == (2e-4, 128, 128, 0.15)


def test_fine_tuning_takes_the_models_presets_settings_unless_given(capsys):
    from types import SimpleNamespace

    from electra_keras.training.finetune import FinetuningOptions, with_model_defaults

    large = SimpleNamespace(backbone=SimpleNamespace(config=ModelConfig.from_preset("electra-large", vocab_size=99)))
    options = with_model_defaults(FinetuningOptions(out="x", task="sentiment", init="y"), large)
    assert (options.learning_rate, options.layer_decay) == (5e-5, 0.9)
    assert "the electra-large preset" in capsys.readouterr().out
    given = with_model_defaults(FinetuningOptions(out="x", task="sentiment", init="y", learning_rate=1e-3), large)
    assert (given.learning_rate, given.layer_decay) == (1e-3, 0.9)
