"""Conversion to and from transformers, checked against transformers on PyTorch."""

import json

import numpy as np
import pytest
import torch
import transformers
from safetensors.numpy import load_file, save_file

import electra_keras as ek
from electra_keras.convert import CheckpointMismatchError, from_huggingface, to_huggingface
from electra_keras.convert import parity
from electra_keras.convert.huggingface import rows_for


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("hf")


def assert_within(diffs, tolerance=parity.TOLERANCE):
    assert diffs, "no comparison was made"
    for name, value in diffs.items():
        assert value <= tolerance, f"{name}: max |diff| {value:.3e} > {tolerance}"


def test_electra_discriminator_generator_and_model_match_transformers(workdir):
    diffs = parity.electra_parity(workdir)
    assert len(diffs) == 3
    assert_within(diffs)


def test_albert_with_groups_matches_transformers(workdir):
    diffs = parity.albert_parity(workdir)
    assert len(diffs) == 4
    assert_within(diffs)


def test_albert_objective_matches_transformers_loss_with_our_sop_labels(workdir):
    assert_within(parity.albert_loss_parity(workdir))


def test_bert_matches_transformers(workdir):
    assert_within(parity.bert_parity(workdir))


def test_parity_outputs_are_not_trivially_small(workdir):
    # The comparison above means something only if outputs are O(1).
    expected, logits, _ = parity._reference(
        transformers.ElectraForPreTraining, parity._electra_config(transformers), workdir
    )
    assert np.std(expected.logits.numpy()) > 0.1
    # A single perturbed weight is caught by the same check.
    ours = logits
    folder = workdir / "ElectraForPreTraining"
    tensors = load_file(str(folder / "model.safetensors"))
    # Random, not constant: a constant added to a key kernel is invisible
    # after a LayerNorm (its inputs sum to zero).
    name = "electra.encoder.layer.1.attention.self.key.weight"
    tensors[name] = tensors[name] + np.random.RandomState(0).normal(0, 0.01, tensors[name].shape).astype("float32")
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    perturbed = from_huggingface(folder)(parity.sample_inputs())
    assert parity.max_diff(perturbed, ours) > 10 * parity.TOLERANCE


@pytest.mark.parametrize("kind", ["discriminator", "generator", "albert", "bert", "albert_unshared"])
def test_round_trip_is_bit_exact_and_transformers_loads_what_we_write(kind, workdir):
    init = parity.INIT_RANGE
    if kind == "discriminator":
        model = ek.ElectraDiscriminator(ek.ModelConfig.from_preset("tiny", initializer_range=init))
    elif kind == "generator":
        model = ek.ElectraGenerator(ek.ModelConfig.from_preset("tiny", initializer_range=init))
    elif kind == "bert":
        model = ek.Encoder(ek.ModelConfig.from_preset(
            "tiny", family="bert", generator_size=None, embedding_size=32, pooler=True,
            initializer_range=init))
    else:
        sharing = (dict(share="groups", num_hidden_groups=2, inner_group_num=2)
                   if kind == "albert" else dict(share="none"))
        model = ek.AlbertPretrainer(ek.ModelConfig.from_preset(
            "tiny", family="albert", generator_size=None, num_layers=4, pooler=True,
            embedding_projection=True, hidden_act="gelu_new", initializer_range=init, **sharing))
    # Trained models have non-zero biases and LayerNorm shifts: make sure
    # every tensor is distinct so a swapped mapping cannot pass.
    rng = np.random.RandomState(0)
    for weight in model.weights:
        weight.assign(rng.normal(0, init, weight.shape).astype("float32") + weight.numpy())
    diffs = parity.round_trip(model, workdir / kind)
    round_trip = [v for k, v in diffs.items() if "round trip" in k]
    assert round_trip == [0.0]
    assert_within({k: v for k, v in diffs.items() if "round trip" not in k})


def test_pretrainer_writes_generator_and_discriminator_folders(workdir):
    model = ek.ElectraPretrainer(ek.ModelConfig.from_preset("tiny"))
    folder = to_huggingface(model, workdir / "pair")
    generator = transformers.ElectraForMaskedLM.from_pretrained(folder / "generator")
    discriminator = transformers.ElectraForPreTraining.from_pretrained(folder / "discriminator")
    assert generator.config.hidden_size == 16 and discriminator.config.hidden_size == 32
    np.testing.assert_array_equal(
        generator.electra.embeddings.word_embeddings.weight.detach().numpy(),
        discriminator.electra.embeddings.word_embeddings.weight.detach().numpy(),
    )


def test_real_minilm_matches_transformers_bert_on_real_sentences():
    diffs = parity.minilm_parity(count=16)
    assert_within(diffs, parity.REAL_TOLERANCE)


def _write(folder, config, tensors):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})


def test_mismatched_checkpoint_names_every_bad_weight_and_loads_nothing(workdir):
    model = transformers.ElectraForPreTraining(parity._electra_config(transformers))
    source = workdir / "good"
    model.save_pretrained(source)
    tensors = load_file(str(source / "model.safetensors"))
    config = json.loads((source / "config.json").read_text())
    config["intermediate_size"] = 40  # every FFN kernel now disagrees with the config
    tensors["extra.weight"] = np.zeros(3, "float32")
    del tensors["discriminator_predictions.dense.bias"]
    bad = workdir / "bad"
    _write(bad, config, tensors)
    with pytest.raises(CheckpointMismatchError) as error:
        from_huggingface(bad)
    message = str(error.value)
    for layer in (0, 1):
        assert f"shape mismatch for electra.encoder.layer.{layer}.intermediate.dense.weight" in message
        assert f"shape mismatch for electra.encoder.layer.{layer}.output.dense.weight" in message
    assert "missing discriminator_predictions.dense.bias" in message
    assert "unused tensor extra.weight" in message
    assert "nothing was loaded" in message


def test_nothing_is_assigned_when_a_check_fails(workdir):
    from electra_keras.convert.tables import load_rows

    model = ek.ElectraDiscriminator(ek.ModelConfig.from_preset("tiny"))
    rows = rows_for(model)
    before = [np.array(w.numpy()) for w in model.weights]
    tensors = {row.name: row.to_stored(True) + 1.0 for row in rows}
    tensors[rows[-1].name] = np.zeros((5, 5), "float32")
    with pytest.raises(CheckpointMismatchError):
        load_rows(rows, tensors, True, source="test")
    for old, weight in zip(before, model.weights):
        np.testing.assert_array_equal(old, weight.numpy())


def test_heads_dropped_only_when_asked(workdir):
    model = transformers.ElectraForPreTraining(parity._electra_config(transformers))
    folder = workdir / "with_heads"
    model.save_pretrained(folder)
    with pytest.raises(CheckpointMismatchError, match="unused tensor discriminator_predictions"):
        from_huggingface(folder, architecture="ElectraModel")
    encoder = from_huggingface(folder, architecture="ElectraModel", strict=False)
    assert isinstance(encoder, ek.Encoder)


def test_untied_output_layer_is_refused(workdir):
    model = transformers.ElectraForMaskedLM(parity._electra_config(transformers))
    folder = workdir / "untied"
    model.save_pretrained(folder)
    tensors = load_file(str(folder / "model.safetensors"))
    tensors["generator_lm_head.weight"] = tensors["electra.embeddings.word_embeddings.weight"] + 1
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(CheckpointMismatchError, match="generator_lm_head.weight differs"):
        from_huggingface(folder)


def test_pytorch_bin_checkpoints_load(workdir):
    model = transformers.BertModel(parity._bert_config(transformers)).eval()
    folder = workdir / "bin"
    # transformers 5 writes only safetensors; older checkpoints are pickles.
    folder.mkdir()
    model.config.to_json_file(folder / "config.json")  # without "architectures"
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    ours = from_huggingface(folder)
    inputs = parity.sample_inputs()
    with torch.no_grad():
        expected = model(**parity._torch_inputs(inputs)).last_hidden_state
    assert parity.max_diff(ours(inputs)["sequence_output"], expected) <= parity.TOLERANCE


def test_unsupported_inputs_get_clear_errors(workdir):
    folder = workdir / "gpt"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "gpt2", "architectures": ["GPT2Model"]}))
    with pytest.raises(ValueError, match="model_type='gpt2' is not supported"):
        from_huggingface(folder)
    with pytest.raises(FileNotFoundError, match="no config.json"):
        from_huggingface(workdir / "nowhere")
    attention_only = ek.AlbertPretrainer(ek.ModelConfig.from_preset(
        "tiny", family="albert", generator_size=None, share="attention", pooler=True))
    with pytest.raises(ValueError, match="share='attention'"):
        to_huggingface(attention_only, workdir / "attention_only")
