"""The ELECTRA paper's efficiency ablations (Table 5): each variant's loss
recomputed in NumPy from the rule the paper states, on a fixed batch.

The generator samples at a temperature of 1e-6, so its samples are its argmax
and the test can rebuild the corrupted input exactly."""

import numpy as np
import pytest
import tensorflow as tf
from test_objective import MASK, VOCAB, fixed_batch, masking

import electra_keras as ek
from electra_keras.pretraining.electra import copy_mechanism_loss, masked_token_indicator
from electra_keras.pretraining.masking import mask_batch


def build(variant, **kwargs):
    config = ek.ModelConfig.from_preset("tiny", vocab_size=VOCAB, max_position_embeddings=64)
    return ek.ElectraPretrainer(config, masking=masking(), variant=variant, temperature=1e-6, **kwargs)


def log_softmax(logits):
    logits = np.asarray(logits, "float64")
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, "float64")))


def generator_step(model, batch):
    """Generator log-probabilities at the masked positions, its argmax samples,
    and the corrupted input (samples written at every masked position)."""
    logits = model.generator(
        {"token_ids": batch["masked_token_ids"], "segment_ids": batch["segment_ids"],
         "padding_mask": batch["padding_mask"]},
        masked_positions=batch["masked_positions"],
    )
    log_probabilities = log_softmax(logits)
    samples = log_probabilities.argmax(-1)
    corrupted = np.array(batch["masked_token_ids"])
    valid = np.asarray(batch["masked_weights"]) > 0
    for row, column in zip(*np.nonzero(valid), strict=True):
        corrupted[row, batch["masked_positions"][row, column]] = samples[row, column]
    labels = np.asarray(batch["masked_ids"])
    mlm = -np.take_along_axis(log_probabilities, labels[..., None], -1)[..., 0]
    mlm_loss = (mlm * valid).sum() / valid.sum()
    return corrupted, mlm_loss, valid


def hidden(model, batch, corrupted):
    return model.discriminator.encoder(
        {"token_ids": tf.constant(corrupted), "segment_ids": batch["segment_ids"],
         "padding_mask": batch["padding_mask"]}
    )["sequence_output"]


@pytest.fixture
def batch():
    return {key: np.asarray(value) for key, value in mask_batch(fixed_batch(), masking(), seed=[3, 1]).items()}


def test_electra_15_scores_replaced_token_detection_on_the_masked_positions_only(batch):
    model = build("electra-15")
    loss, values = model.objective(batch, training=False)
    corrupted, mlm_loss, valid = generator_step(model, batch)
    masked = np.zeros_like(batch["token_ids"], bool)
    for row, column in zip(*np.nonzero(valid), strict=True):
        masked[row, batch["masked_positions"][row, column]] = True
    np.testing.assert_array_equal(np.asarray(masked_token_indicator(batch, masked.shape)), masked)

    logits = np.asarray(model.discriminator(
        {"token_ids": tf.constant(corrupted), "segment_ids": batch["segment_ids"],
         "padding_mask": batch["padding_mask"]}), "float64")
    replaced = (corrupted != batch["token_ids"]).astype("float64")
    probability = sigmoid(logits)
    cross_entropy = -(replaced * np.log(probability) + (1 - replaced) * np.log(1 - probability))
    rtd_loss = cross_entropy[masked].mean()
    np.testing.assert_allclose(float(loss), mlm_loss + 50 * rtd_loss, rtol=1e-5)
    # Not the full-sequence loss: unmasked tokens, never replaced, are easy and would lower it.
    assert abs(cross_entropy[batch["padding_mask"] > 0].mean() - rtd_loss) > 1e-4


def test_replace_mlm_predicts_the_originals_from_generator_samples_at_the_masked_positions(batch):
    model = build("replace-mlm")
    loss, values = model.objective(batch, training=False)
    corrupted, mlm_loss, valid = generator_step(model, batch)
    # The main network never sees [MASK] where the generator sampled something else.
    positions = np.take_along_axis(corrupted, batch["masked_positions"], 1)[valid]
    assert (positions != MASK).mean() > 0.9

    states = np.asarray(hidden(model, batch, corrupted))
    at_masks = np.take_along_axis(states, batch["masked_positions"][..., None], 1)
    logits = model.identity_head(tf.constant(at_masks, tf.float32))
    log_probabilities = log_softmax(logits)
    identity = -np.take_along_axis(log_probabilities, batch["masked_ids"][..., None], -1)[..., 0]
    expected = mlm_loss + (identity * valid).sum() / valid.sum()
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)
    assert "rtd_loss" not in values and "identity_loss" in values


def test_all_tokens_mlm_predicts_every_token_through_the_copy_mechanism(batch):
    model = build("all-tokens-mlm")
    # A gate away from 1/2, so copying and generating weigh differently.
    model.copy_gate.bias.assign([1.5])
    loss, values = model.objective(batch, training=False)
    corrupted, mlm_loss, _ = generator_step(model, batch)
    states = hidden(model, batch, corrupted)
    probabilities = np.exp(log_softmax(model.identity_head(states)))
    copy = sigmoid(np.asarray(model.copy_gate(states))[..., 0])
    originals = batch["token_ids"]
    # The paper: D on the input token, 1 - D times the softmax.
    p_original = copy * (corrupted == originals) + (1 - copy) * np.take_along_axis(
        probabilities, originals[..., None], -1)[..., 0]
    real = batch["padding_mask"] > 0
    expected = mlm_loss + (-np.log(p_original))[real].mean()
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)
    np.testing.assert_allclose(
        np.asarray(values["copy_probability"][0])[real], copy[real], rtol=1e-5)


def test_copy_mechanism_loss_is_stable_at_saturated_gates():
    logits = tf.constant([[[0.0, 30.0, -30.0], [0.0, 30.0, -30.0]]])
    gate = tf.constant([[60.0, -60.0]])
    inputs, originals = tf.constant([[2, 2]]), tf.constant([[2, 2]])
    loss = np.asarray(copy_mechanism_loss(logits, gate, inputs, originals))
    assert np.isfinite(loss).all()
    # Copying a correct input with D ~ 1 costs ~ 0. With D = sigmoid(-60) ~ e^-60 and a softmax
    # giving the token e^-60 too, p = D + (1 - D) e^-60 ~ 2 e^-60: the loss is 60 - log 2.
    np.testing.assert_allclose(loss[0, 0], 0.0, atol=1e-6)
    np.testing.assert_allclose(loss[0, 1], 60.0 - np.log(2.0), rtol=1e-5)


def test_variant_and_tying_are_checked():
    with pytest.raises(ValueError, match="variant='fast'"):
        build("fast")
    with pytest.raises(ValueError, match="weight_tying='gdes'"):
        build("replace-mlm", weight_tying="gdes")
    # The MLM variants do not train the replaced-token head: frozen, so no optimizer touches it.
    model = build("all-tokens-mlm")
    assert not model.discriminator.head.trainable and model.identity_head.trainable
    restored = ek.ElectraPretrainer.from_config(model.get_config())
    assert restored.variant == "all-tokens-mlm" and restored.copy_gate is not None
