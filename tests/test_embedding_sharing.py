"""ELECTRA's weight tying: the embedding block (the paper's), none, DeBERTaV3's
gradient-disentangled sharing (gdes) and the whole encoder (all), checked by
which weights each loss moves."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import electra_keras as ek
from electra_keras.pretraining.base import global_mean
from electra_keras.pretraining.masking import MaskingConfig


def tiny_config():
    return ek.ModelConfig.from_preset("tiny", vocab_size=50)


def masked_batch(model):
    rng = np.random.default_rng(0)
    token_ids = rng.integers(5, 50, size=(4, 12)).astype("int32")
    token_ids[:, 0], token_ids[:, -1] = 2, 3
    batch = {"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids),
             "padding_mask": np.ones_like(token_ids)}
    return model.mask({k: tf.constant(v) for k, v in batch.items()}, seed=tf.constant([1, 2], tf.int64))


def pretrainer(sharing):
    masking = MaskingConfig.electra(mask_token_id=4, special_token_ids=(0, 1, 2, 3, 4), vocab_size=50)
    return ek.ElectraPretrainer(tiny_config(), masking=masking, weight_tying=sharing)


def loss_gradients(model, variable):
    """(gradient of the MLM loss, of lambda x the RTD loss) with respect to `variable`."""
    batch = masked_batch(model)
    with tf.GradientTape(persistent=True) as tape:
        _, values = model.objective(batch, training=False)
        mlm = global_mean(*values["mlm_loss"])
        rtd = model.rtd_weight * global_mean(*values["rtd_loss"])
    gradients = [tape.gradient(loss, variable) for loss in (mlm, rtd)]
    return [None if g is None else tf.convert_to_tensor(g).numpy() for g in gradients]


def nonzero(gradient):
    return gradient is not None and float(np.abs(gradient).max()) > 0


def test_embeddings_shares_one_table_that_both_losses_move():
    model = pretrainer("embeddings")
    assert model.discriminator.encoder.embeddings is model.generator.encoder.embeddings
    mlm, rtd = loss_gradients(model, model.embeddings.word_embeddings.embeddings)
    assert nonzero(mlm) and nonzero(rtd)


def test_none_gives_each_network_its_own_table():
    model = pretrainer("none")
    generator_table = model.generator.encoder.embeddings.word_embeddings.embeddings
    discriminator_table = model.discriminator.encoder.embeddings.word_embeddings.embeddings
    assert generator_table is not discriminator_table
    assert not np.array_equal(generator_table.numpy(), discriminator_table.numpy())
    mlm, rtd = loss_gradients(model, generator_table)
    assert nonzero(mlm) and not nonzero(rtd)
    mlm, rtd = loss_gradients(model, discriminator_table)
    assert not nonzero(mlm) and nonzero(rtd)


def test_gdes_discriminator_reads_generator_table_plus_delta_and_only_moves_the_delta():
    model = pretrainer("gdes")
    base = model.embeddings.word_embeddings.embeddings
    delta = model.discriminator.encoder.embeddings.word_embeddings.embeddings
    assert base is not delta
    np.testing.assert_array_equal(delta.numpy(), 0.0)  # E_D = sg(E_G) + 0 at the start
    # The base table is the generator's, tracked once (not again under the discriminator).
    assert sum(v is base for v in model.trainable_variables) == 1
    assert not any(v is base for v in model.discriminator.weights)

    # (That its word vectors are base + delta: test_gdes_fine_tunable_discriminator_...)
    # The generator's MLM loss moves the base; the discriminator's loss only the delta.
    mlm, rtd = loss_gradients(model, base)
    assert nonzero(mlm) and not nonzero(rtd)
    mlm, rtd = loss_gradients(model, delta)
    assert not nonzero(mlm) and nonzero(rtd)


def test_gdes_fine_tunable_discriminator_folds_the_delta_in(tmp_path):
    model = pretrainer("gdes")
    delta = model.discriminator.encoder.embeddings.word_embeddings.embeddings
    delta.assign(np.full(delta.shape, 0.05, "float32"))
    inputs = {"token_ids": tf.constant([[2, 7, 9, 11, 3]]), "segment_ids": tf.zeros((1, 5), tf.int32),
              "padding_mask": tf.ones((1, 5), tf.int32)}
    plain = model.fine_tunable_discriminator()
    assert type(plain) is ek.ElectraDiscriminator
    assert plain.encoder.embeddings._word_base is None
    np.testing.assert_allclose(
        plain.encoder.embeddings.word_embeddings.embeddings.numpy(),
        model.embeddings.word_embeddings.embeddings.numpy() + 0.05, atol=1e-7)
    np.testing.assert_allclose(plain(inputs), model.discriminator(inputs), atol=1e-5)
    path = tmp_path / "discriminator.keras"
    plain.save(path)
    np.testing.assert_allclose(keras.saving.load_model(path)(inputs), plain(inputs), atol=1e-6)


@pytest.mark.parametrize("sharing", ["none", "gdes", "all"])
def test_sharing_survives_config_and_keras_round_trips(tmp_path, sharing):
    masking = MaskingConfig.electra(mask_token_id=4, special_token_ids=(0, 1, 2, 3, 4), vocab_size=50)
    config = ek.ModelConfig.from_preset("tiny", vocab_size=50, generator_size=1.0 if sharing == "all" else 0.5)
    model = ek.ElectraPretrainer(config, masking=masking, weight_tying=sharing)
    model.discriminator.encoder.embeddings.word_embeddings.embeddings.assign(
        np.full((50, 16), 0.01, "float32"))
    inputs = {"token_ids": tf.constant([[2, 7, 9, 3]])}
    path = tmp_path / "pretrainer.keras"
    model.save(path)
    for restored in (keras.saving.load_model(path), ek.ElectraPretrainer.from_config(model.get_config())):
        assert restored.weight_tying == sharing
        assert restored.count_params() == model.count_params()
        assert (restored.generator.encoder is restored.discriminator.encoder) == (sharing == "all")
    restored = keras.saving.load_model(path)
    for name in ("discriminator_logits", "generator_logits"):
        np.testing.assert_allclose(restored(inputs)[name], model(inputs)[name], atol=1e-6)


def test_unknown_sharing_is_an_error():
    with pytest.raises(ValueError, match="weight_tying='tied'"):
        pretrainer("tied")
    with pytest.raises(ValueError, match="generator must be as wide: generator_size=1.0"):
        pretrainer("all")


def test_all_ties_the_whole_encoder_that_both_losses_train():
    masking = MaskingConfig.electra(mask_token_id=4, special_token_ids=(0, 1, 2, 3, 4), vocab_size=50)
    config = ek.ModelConfig.from_preset("tiny", vocab_size=50, generator_size=1.0)
    model = ek.ElectraPretrainer(config, masking=masking, weight_tying="all")
    assert model.generator.encoder is model.discriminator.encoder
    untied = ek.ElectraPretrainer(config, masking=masking)
    heads = sum(v.numpy().size for v in model.generator.head.weights if v is not model.embeddings.word_embeddings.embeddings)
    assert model.count_params() == model.discriminator.count_params() + heads
    assert untied.count_params() > model.count_params()
    kernel = model.discriminator.encoder.attention_sublayers[0].attention.query_dense.kernel
    mlm, rtd = loss_gradients(model, kernel)
    assert nonzero(mlm) and nonzero(rtd)
    assert model.fine_tunable_discriminator() is model.discriminator
