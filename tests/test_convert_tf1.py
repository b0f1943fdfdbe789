"""Official TF1 ELECTRA checkpoints -> our models, checked against transformers.

The reference is transformers on PyTorch. Random tiny `ElectraForPreTraining`
and `ElectraForMaskedLM` are written as a real TF1 checkpoint (graph-mode
`tf.compat.v1.train.Saver`) under the official variable names, derived here
from transformers 4.x `load_tf_weights_in_electra` (not from the module under
test); the converted models must reproduce the torch logits.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from types import SimpleNamespace

import numpy as np
import pytest

import torch  # noqa: E402  (the parity extra, which `make test` installs)
import transformers  # noqa: E402

import tensorflow as tf  # noqa: E402

from electra_keras import ElectraDiscriminator, ElectraPretrainer, Encoder, ModelConfig  # noqa: E402
from electra_keras.convert.official_tf1 import (  # noqa: E402
    from_official_tf1,
    load_official_tf1,
    rows_for_official_tf1,
)
from electra_keras.convert.tables import CheckpointMismatchError  # noqa: E402

TOLERANCE = 1e-5
VOCAB, EMBEDDING, HIDDEN, GEN_HIDDEN, LAYERS, POSITIONS = 99, 32, 128, 64, 2, 40


# --- the reference and its TF1 names ------------------------------------------


def tf1_name(hf_name: str, network: str) -> str:
    """The official TF1 name of a transformers parameter.

    The inverse of transformers 4.x `load_tf_weights_in_electra`: TF1 scopes
    are torch modules with "/" for "."; `layer_{i}` is `layer.{i}`; kernel and
    gamma are `weight`, bias, beta and output_bias are `bias`; tables named
    `*_embeddings` get `.weight`; `dense_1` is `dense_prediction`;
    `generator_predictions/output_bias` is `generator_lm_head.bias`. With
    discriminator_or_generator="generator", the TF1 `generator/` scope is read
    into the torch `electra.` module, and `electra/embeddings/` too (shared).
    """
    if hf_name == "generator_lm_head.bias":
        return "generator_predictions/output_bias"
    *path, leaf = hf_name.split(".")
    if path[-1].endswith("_embeddings"):
        assert leaf == "weight", hf_name
        suffix = []
    elif path[-1] == "LayerNorm":
        suffix = ["gamma" if leaf == "weight" else "beta"]
    else:
        suffix = ["kernel" if leaf == "weight" else "bias"]
    scopes = []
    for part in path:
        if part.isdigit():
            scopes[-1] = f"{scopes[-1]}_{part}"
        else:
            scopes.append("dense_1" if part == "dense_prediction" else part)
    if network == "generator" and scopes[0] == "electra" and scopes[1] != "embeddings":
        scopes[0] = "generator"
    return "/".join(scopes + suffix)


def _randomize(model, generator):
    """Every parameter random and O(1)-preserving, biases and norms included."""
    with torch.no_grad():
        for name, param in model.named_parameters():
            shape = param.shape
            if name.endswith("LayerNorm.weight"):
                value = 1.0 + 0.2 * torch.randn(shape, generator=generator)
            elif name.endswith("_embeddings.weight"):
                value = 0.3 * torch.randn(shape, generator=generator)
            elif name.endswith(".weight"):
                value = 1.5 * torch.randn(shape, generator=generator) / shape[1] ** 0.5
            else:
                value = 0.2 * torch.randn(shape, generator=generator)
            param.copy_(value)


def _hf_config(hidden: int, heads: int, ffn: int | None = None, layers: int = LAYERS) -> transformers.ElectraConfig:
    return transformers.ElectraConfig(
        vocab_size=VOCAB,
        embedding_size=EMBEDDING,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=ffn or 4 * hidden,
        hidden_act="gelu",
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        max_position_embeddings=POSITIONS,
        type_vocab_size=2,
        layer_norm_eps=1e-12,
        attn_implementation="eager",
    )


def _tf1_tensors(model, network: str) -> dict[str, np.ndarray]:
    tensors = {}
    for name, param in model.named_parameters():
        value = param.detach().numpy().copy()
        tf_name = tf1_name(name, network)
        if tf_name.endswith("/kernel"):
            value = value.T  # torch Linear (out, in) -> TF1 (in, out)
        tensors[tf_name] = np.ascontiguousarray(value)
    return tensors


@pytest.fixture(scope="module")
def reference():
    return build_reference()


def build_reference(disc_ffn: int = 4 * HIDDEN, gen_ffn: int = 4 * GEN_HIDDEN, gen_layers: int = LAYERS):
    generator = torch.Generator().manual_seed(0)
    # Official heads rule: max(1, hidden // 64): 2 for the discriminator, 1 for the generator.
    disc = transformers.ElectraForPreTraining(_hf_config(HIDDEN, 2, disc_ffn))
    gen = transformers.ElectraForMaskedLM(_hf_config(GEN_HIDDEN, 1, gen_ffn, gen_layers))
    _randomize(disc, generator)
    _randomize(gen, generator)
    with torch.no_grad():  # the two networks share their embeddings
        gen.electra.embeddings.load_state_dict(disc.electra.embeddings.state_dict())
    assert torch.equal(gen.generator_lm_head.weight, disc.electra.embeddings.word_embeddings.weight)
    disc.eval()
    gen.eval()

    tensors = _tf1_tensors(disc, "discriminator")
    for name, value in _tf1_tensors(gen, "generator").items():
        if name in tensors:  # the shared embeddings
            np.testing.assert_array_equal(tensors[name], value)
        tensors[name] = value

    token_ids = np.array(
        [[2, 17, 45, 98, 3, 61, 7, 33, 5], [2, 88, 12, 40, 9, 71, 0, 0, 0]], dtype="int32"
    )
    segment_ids = np.array(
        [[0, 0, 0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1, 0, 0, 0]], dtype="int32"
    )
    padding_mask = (np.arange(9)[None, :] < np.array([[9], [6]])).astype("int32")
    with torch.no_grad():
        torch_inputs = dict(
            input_ids=torch.from_numpy(token_ids).long(),
            token_type_ids=torch.from_numpy(segment_ids).long(),
            attention_mask=torch.from_numpy(padding_mask).long(),
        )
        disc_logits = disc(**torch_inputs).logits.numpy()
        disc_hidden = disc.electra(**torch_inputs).last_hidden_state.numpy()
        gen_logits = gen(**torch_inputs).logits.numpy()
    return SimpleNamespace(
        tensors=tensors,
        inputs={"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask},
        disc_logits=disc_logits,
        disc_hidden=disc_hidden,
        gen_logits=gen_logits,
    )


def write_checkpoint(prefix, tensors: dict[str, np.ndarray]) -> str:
    """A real TF1 checkpoint: graph-mode variables saved by tf.compat.v1.train.Saver."""
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        for name, value in tensors.items():
            v1.get_variable(name, initializer=tf.constant(value), use_resource=False)
        saver = v1.train.Saver()
        with v1.Session(graph=graph) as session:
            session.run(v1.global_variables_initializer())
            return saver.save(session, str(prefix))


def with_bookkeeping(tensors):
    tensors = dict(tensors)
    word = tensors["electra/embeddings/word_embeddings"]
    tensors["electra/embeddings/word_embeddings/adam_m"] = np.full_like(word, 0.5)
    tensors["electra/embeddings/word_embeddings/adam_v"] = np.full_like(word, 0.25)
    tensors["global_step"] = np.array(1000, dtype=np.int64)
    return tensors


def discriminator_only(tensors):
    prefixes = ("electra/", "discriminator_predictions/")
    return {name: value for name, value in tensors.items() if name.startswith(prefixes)}


@pytest.fixture(scope="module")
def pretraining_checkpoint(tmp_path_factory, reference):
    folder = tmp_path_factory.mktemp("pretraining")
    write_checkpoint(folder / "model.ckpt-1000", with_bookkeeping(reference.tensors))
    return folder


@pytest.fixture(scope="module")
def pretrainer(pretraining_checkpoint):
    return from_official_tf1(pretraining_checkpoint)  # a folder with a `checkpoint` file


def max_diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


# --- tests --------------------------------------------------------------------


def test_checkpoint_is_tf1_with_official_names(pretraining_checkpoint):
    names = {name for name, _ in tf.train.list_variables(str(pretraining_checkpoint))}
    assert "electra/encoder/layer_1/attention/output/LayerNorm/gamma" in names
    assert "generator/embeddings_project/kernel" in names
    assert "discriminator_predictions/dense_1/kernel" in names
    assert not any(name.startswith("generator/embeddings/") for name in names)


def test_pretrainer_matches_transformers(pretrainer, reference):
    assert isinstance(pretrainer, ElectraPretrainer)
    assert pretrainer.generator.encoder.embeddings is pretrainer.discriminator.encoder.embeddings
    disc_diff = max_diff(pretrainer.discriminator(reference.inputs), reference.disc_logits)
    gen_diff = max_diff(pretrainer.generator(reference.inputs), reference.gen_logits)
    print(f"max |diff|: discriminator logits {disc_diff:.2e}, generator logits {gen_diff:.2e}")
    # O(1) outputs, so that a wrong weight cannot hide in a small difference.
    assert reference.disc_logits.std() > 0.3 and reference.gen_logits.std() > 1.0
    assert disc_diff <= TOLERANCE
    assert gen_diff <= TOLERANCE


def test_config_inferred_from_shapes(pretrainer):
    config = pretrainer.config
    assert (config.vocab_size, config.embedding_size) == (VOCAB, EMBEDDING)
    assert (config.hidden_size, config.num_heads) == (HIDDEN, 2)  # heads = max(1, 128 // 64)
    assert (config.num_layers, config.intermediate_size) == (LAYERS, 4 * HIDDEN)
    assert (config.max_position_embeddings, config.type_vocab_size) == (POSITIONS, 2)
    assert config.generator_size == GEN_HIDDEN / HIDDEN
    generator = config.generator_config()
    assert (generator.hidden_size, generator.num_heads, generator.intermediate_size) == (
        GEN_HIDDEN,
        1,
        4 * GEN_HIDDEN,
    )


@pytest.mark.parametrize(
    "disc_ffn, gen_ffn, gen_layers",
    [
        (3 * HIDDEN, 4 * GEN_HIDDEN, 1),  # the official rule: FFN 4x the generator's width, half the depth
        (4 * HIDDEN, 2 * GEN_HIDDEN, LAYERS),  # a generator outside the rule: its FFN is kept explicitly
    ],
)
def test_generators_of_any_official_shape_load(tmp_path, disc_ffn, gen_ffn, gen_layers):
    reference = build_reference(disc_ffn, gen_ffn, gen_layers)
    prefix = write_checkpoint(tmp_path / "model.ckpt-1", reference.tensors)
    inferred = from_official_tf1(prefix)
    config = inferred.config
    assert (config.intermediate_size, config.generator_layers) == (disc_ffn, gen_layers / LAYERS)
    assert config.generator_intermediate_size == (None if gen_ffn == 4 * GEN_HIDDEN else gen_ffn)
    # The same checkpoint with both configs given explicitly, as a user would for their own run.
    discriminator = ModelConfig(family="electra", vocab_size=VOCAB, embedding_size=EMBEDDING, hidden_size=HIDDEN,
                                num_layers=LAYERS, num_heads=2, intermediate_size=disc_ffn, hidden_act="gelu",
                                max_position_embeddings=POSITIONS)
    generator = dataclasses.replace(discriminator, hidden_size=GEN_HIDDEN, num_heads=1, intermediate_size=gen_ffn,
                                    num_layers=gen_layers)
    explicit = from_official_tf1(prefix, config=discriminator, generator_config=generator)
    for model in (inferred, explicit):
        assert model.generator.config.num_layers == gen_layers
        # Relative to the logits' scale (up to ~10 here): float32 rounding, where a wrong weight gives O(1).
        for ours, theirs in ((model.discriminator, reference.disc_logits), (model.generator, reference.gen_logits)):
            assert max_diff(ours(reference.inputs), theirs) <= TOLERANCE * np.abs(theirs).max()


def test_name_table_is_the_checkpoint(pretrainer, reference):
    ours = {row.name for row in rows_for_official_tf1(pretrainer)}
    assert ours == set(reference.tensors)


def test_discriminator_only_checkpoint(tmp_path, reference):
    prefix = write_checkpoint(tmp_path / "disc", discriminator_only(reference.tensors))
    model = from_official_tf1(prefix)  # a checkpoint prefix
    assert isinstance(model, ElectraDiscriminator)
    assert model.config.generator_size is None
    assert max_diff(model(reference.inputs), reference.disc_logits) <= TOLERANCE


def test_wrong_shape_is_named_and_nothing_is_assigned(tmp_path, reference, pretrainer):
    bad_name = "electra/encoder/layer_1/intermediate/dense/kernel"
    tensors = dict(reference.tensors)
    tensors[bad_name] = tensors[bad_name][:, :-1]
    prefix = write_checkpoint(tmp_path / "bad", tensors)
    with pytest.raises(CheckpointMismatchError, match=re.escape(bad_name)):
        from_official_tf1(prefix)

    model = ElectraPretrainer(pretrainer.config)
    word = model.discriminator.encoder.embeddings.word_embeddings.embeddings
    gen_norm = model.generator.encoder.attention_sublayers[0].norm.gamma
    before = [np.array(word), np.array(gen_norm)]
    with pytest.raises(CheckpointMismatchError, match="nothing was loaded") as error:
        load_official_tf1(model, prefix)
    assert bad_name in str(error.value) and "(128, 511)" in str(error.value)
    np.testing.assert_array_equal(np.array(word), before[0])
    np.testing.assert_array_equal(np.array(gen_norm), before[1])


def test_unknown_tensor_strict_and_lenient(tmp_path, reference, caplog):
    extra = "electra/encoder/layer_0/attention/self/relative_bias"
    tensors = discriminator_only(reference.tensors)
    tensors[extra] = np.ones(3, "float32")
    prefix = write_checkpoint(tmp_path / "extra", tensors)
    with pytest.raises(CheckpointMismatchError, match=f"unused tensor {extra}"):
        from_official_tf1(prefix)
    with caplog.at_level(logging.WARNING):
        model = from_official_tf1(prefix, strict=False)
    assert isinstance(model, ElectraDiscriminator)
    assert "relative_bias" in caplog.text


def test_given_config_is_checked(pretraining_checkpoint):
    expected = "shape mismatch for electra/embeddings/word_embeddings"
    with pytest.raises(CheckpointMismatchError, match=expected):
        from_official_tf1(pretraining_checkpoint, config="electra-small++")


def test_generator_embeddings_copy(tmp_path, reference):
    tensors = discriminator_only(reference.tensors)
    for part in ("word_embeddings", "position_embeddings", "token_type_embeddings"):
        tensors[f"generator/embeddings/{part}"] = tensors[f"electra/embeddings/{part}"]
    same = write_checkpoint(tmp_path / "same", tensors)
    assert isinstance(from_official_tf1(same), ElectraDiscriminator)  # equal copies: accepted

    word = tensors["electra/embeddings/word_embeddings"]
    tensors["generator/embeddings/word_embeddings"] = word + 1
    differ = write_checkpoint(tmp_path / "differ", tensors)
    with pytest.raises(CheckpointMismatchError, match="generator/embeddings/word_embeddings"):
        from_official_tf1(differ)


def test_finetuning_checkpoint_gives_encoder(tmp_path, reference):
    tensors = {n: v for n, v in reference.tensors.items() if n.startswith("electra/")}
    tensors["task_specific/mnli/dense/kernel"] = np.ones((HIDDEN, 3), "float32")
    prefix = write_checkpoint(tmp_path / "finetuned", tensors)
    with pytest.raises(CheckpointMismatchError, match="task_specific/mnli/dense/kernel"):
        from_official_tf1(prefix)
    assert isinstance(from_official_tf1(prefix, strict=False), Encoder)


def test_no_discriminator_lists_what_was_found(tmp_path, reference):
    tensors = {n: v for n, v in reference.tensors.items() if n.startswith("generator")}
    prefix = write_checkpoint(tmp_path / "generator", tensors)
    with pytest.raises(CheckpointMismatchError, match=r"generator/encoder \(\d+ tensors\)"):
        from_official_tf1(prefix)


def test_cli_converts_tf1_to_transformers_folders(tmp_path, pretraining_checkpoint, reference):
    from electra_keras.cli import main

    out = tmp_path / "hf"
    assert main(["convert", str(pretraining_checkpoint), str(out)]) == 0
    inputs = reference.inputs
    torch_inputs = dict(
        input_ids=torch.from_numpy(inputs["token_ids"]).long(),
        token_type_ids=torch.from_numpy(inputs["segment_ids"]).long(),
        attention_mask=torch.from_numpy(inputs["padding_mask"]).long(),
    )
    discriminator = transformers.ElectraForPreTraining.from_pretrained(out / "discriminator").eval()
    generator = transformers.ElectraForMaskedLM.from_pretrained(out / "generator").eval()
    with torch.no_grad():
        assert max_diff(discriminator(**torch_inputs).logits, reference.disc_logits) <= TOLERANCE
        assert max_diff(generator(**torch_inputs).logits, reference.gen_logits) <= TOLERANCE


def test_text_classifier_starts_from_a_tf1_checkpoint(tmp_path, pretraining_checkpoint, reference):
    """Fine-tuning from an official checkpoint: the discriminator's encoder,
    with the vocab.txt beside the checkpoint, reproduces transformers' hidden
    states inside the task model."""
    from electra_keras.tasks.classifier import TextClassifier

    folder = tmp_path / "electra_tiny"
    folder.mkdir()
    for file in pretraining_checkpoint.iterdir():
        (folder / file.name).write_bytes(file.read_bytes())
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(VOCAB - 5)]
    (folder / "vocab.txt").write_text("\n".join(tokens) + "\n")

    clf = TextClassifier.from_pretrained(folder, num_classes=2, sequence_length=16)
    assert clf.vocabulary[:3] == ["[PAD]", "[UNK]", "[CLS]"] and len(clf.vocabulary) == VOCAB
    hidden = clf.backbone(reference.inputs)["sequence_output"]
    real = reference.inputs["padding_mask"].astype(bool)  # transformers leaves padded rows unmasked
    assert max_diff(np.asarray(hidden)[real], reference.disc_hidden[real]) <= TOLERANCE
    assert clf.predict(["w1 w2 w3"], verbose=0).shape == (1, 2)
