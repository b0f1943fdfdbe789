"""The ELECTRA objective's rules, checked on fixed batches."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import electra_keras as ek
from electra_keras.pretraining.electra import replace_tokens
from electra_keras.pretraining.masking import MaskingConfig, mask_batch

PAD, UNK, CLS, SEP, MASK = 0, 1, 2, 3, 4
SPECIAL = (PAD, UNK, CLS, SEP, MASK)
VOCAB = 60


def fixed_batch(batch=16, length=40, seed=0):
    """[CLS] A [SEP] B [SEP] + padding, rows of different real lengths."""
    rng = np.random.RandomState(seed)
    token_ids = np.zeros((batch, length), "int32")
    segment_ids = np.zeros_like(token_ids)
    for row in range(batch):
        real = rng.randint(10, length + 1)
        split = real // 2
        token_ids[row, :real] = rng.randint(5, VOCAB, size=real)
        token_ids[row, 0], token_ids[row, split], token_ids[row, real - 1] = CLS, SEP, SEP
        segment_ids[row, split + 1 : real] = 1
    padding_mask = (token_ids != PAD).astype("int32")
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}


def masking(**kwargs):
    return MaskingConfig.electra(mask_token_id=MASK, special_token_ids=SPECIAL, vocab_size=VOCAB, **kwargs)


def numpy(batch):
    return {key: np.asarray(value) for key, value in batch.items()}


def test_masking_rules_over_many_draws():
    batch = fixed_batch()
    config = masking()
    slots = config.num_predictions(40)
    assert slots == int((0.15 + 0.005) * 40)  # the official max_predictions_per_seq
    kinds = {"mask": 0, "unchanged": 0, "random": 0}
    real = batch["padding_mask"].sum(1)
    for draw in range(200):
        out = numpy(mask_batch(batch, config, seed=[7, draw]))
        valid = out["masked_weights"] > 0
        # The number of predictions per row: round(15% of real tokens), >= 1, <= slots.
        np.testing.assert_array_equal(valid.sum(1), np.clip(np.round(real * 0.15), 1, slots))
        for row in range(len(real)):
            positions = out["masked_positions"][row][valid[row]]
            assert len(set(positions)) == len(positions)  # without replacement
            originals = batch["token_ids"][row, positions]
            assert not np.isin(originals, SPECIAL).any()  # never [CLS]/[SEP]/padding
            assert (batch["padding_mask"][row, positions] == 1).all()
            np.testing.assert_array_equal(out["masked_ids"][row][valid[row]], originals)
            now = out["masked_token_ids"][row, positions]
            kinds["mask"] += int((now == MASK).sum())
            kinds["unchanged"] += int((now == originals).sum())
            kinds["random"] += int(((now != MASK) & (now != originals)).sum())
            # Nothing outside the chosen positions changes.
            untouched = np.setdiff1d(np.arange(40), positions)
            np.testing.assert_array_equal(out["masked_token_ids"][row, untouched], batch["token_ids"][row, untouched])
    total = sum(kinds.values())
    assert total > 5000
    assert kinds["random"] == 0
    assert abs(kinds["mask"] / total - 0.85) < 0.02
    assert abs(kinds["unchanged"] / total - 0.15) < 0.02


def test_bert_masking_uses_random_tokens_outside_the_specials():
    batch = fixed_batch()
    config = MaskingConfig.bert(mask_token_id=MASK, special_token_ids=SPECIAL, vocab_size=VOCAB)
    kinds = {"mask": 0, "random": 0, "unchanged": 0}
    for draw in range(200):
        out = numpy(mask_batch(batch, config, seed=[3, draw]))
        valid = out["masked_weights"] > 0
        rows, slots = np.nonzero(valid)
        positions = out["masked_positions"][rows, slots]
        now = out["masked_token_ids"][rows, positions]
        original = out["masked_ids"][rows, slots]
        kinds["mask"] += int((now == MASK).sum())
        random = (now != MASK) & (now != original)
        assert not np.isin(now[random], SPECIAL).any()
        kinds["random"] += int(random.sum())
        kinds["unchanged"] += int(((now == original)).sum())
    total = sum(kinds.values())
    # A random draw equal to the original counts as unchanged: 10% * 1/55 of the total.
    assert abs(kinds["mask"] / total - 0.80) < 0.02
    assert abs(kinds["random"] / total - 0.10 * (1 - 1 / 55)) < 0.015
    assert abs(kinds["unchanged"] / total - (0.10 + 0.10 / 55)) < 0.015


def test_stateless_masking_is_reproducible_and_fresh_otherwise():
    batch = fixed_batch()
    a, b = numpy(mask_batch(batch, masking(), seed=[1, 2])), numpy(mask_batch(batch, masking(), seed=[1, 2]))
    np.testing.assert_array_equal(a["masked_positions"], b["masked_positions"])
    c, d = numpy(mask_batch(batch, masking())), numpy(mask_batch(batch, masking()))
    assert not np.array_equal(c["masked_positions"], d["masked_positions"])


def test_a_correct_sample_counts_as_original():
    batch = numpy(mask_batch(fixed_batch(batch=4), masking(), seed=[0, 0]))
    valid = batch["masked_weights"] > 0
    # Sample the original token at even slots and a different one at odd slots.
    slot = np.arange(valid.shape[1])[None, :]
    different = (batch["masked_ids"] - 5 + 1) % (VOCAB - 5) + 5
    sampled = np.where(slot % 2 == 0, batch["masked_ids"], different).astype("int32")
    corrupted, replaced = (np.asarray(t) for t in replace_tokens(batch, sampled))
    for row in range(4):
        for s in np.nonzero(valid[row])[0]:
            position = batch["masked_positions"][row, s]
            assert corrupted[row, position] == sampled[row, s]  # [MASK] and kept positions alike
            assert replaced[row, position] == (1.0 if s % 2 else 0.0)
    # Every position not chosen keeps its token and is labelled original.
    chosen = np.zeros_like(replaced, bool)
    for row in range(4):
        chosen[row, batch["masked_positions"][row][valid[row]]] = True
    assert (replaced[~chosen] == 0).all()
    np.testing.assert_array_equal(corrupted[~chosen], batch["token_ids"][~chosen])


@pytest.fixture(scope="module")
def pretrainer():
    config = ek.ModelConfig.from_preset("tiny", vocab_size=VOCAB, max_position_embeddings=64)
    model = ek.ElectraPretrainer(config, masking=masking())
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    return model


def test_loss_is_mlm_plus_fifty_rtd_over_real_tokens(pretrainer):
    batch = mask_batch(fixed_batch(), pretrainer.masking, seed=[5, 5])
    loss, values = pretrainer.objective(batch, training=False)

    def mean(entry):
        value, weight = (np.asarray(t, "float64") for t in entry)
        return (value * weight).sum() / weight.sum()

    assert pretrainer.rtd_weight == 50.0
    np.testing.assert_allclose(float(loss), mean(values["mlm_loss"]) + 50 * mean(values["rtd_loss"]), rtol=1e-5)
    # The RTD loss is averaged over exactly the real tokens; the MLM loss over the predictions.
    np.testing.assert_array_equal(np.asarray(values["rtd_loss"][1]), batch["padding_mask"])
    np.testing.assert_array_equal(np.asarray(values["mlm_loss"][1]), np.asarray(batch["masked_weights"]))


def test_no_gradient_flows_from_the_discriminator_loss_into_the_generator(pretrainer):
    batch = mask_batch(fixed_batch(), pretrainer.masking, seed=[5, 6])
    generator_only = [
        w for w in pretrainer.generator.trainable_weights
        if all(w is not v for v in pretrainer.embeddings.trainable_weights)
    ]
    shared = pretrainer.embeddings.word_embeddings.embeddings
    with tf.GradientTape(persistent=True) as tape:
        _, values = pretrainer.objective(batch, training=False)
        value, weight = values["rtd_loss"]
        rtd_loss = tf.reduce_sum(value * weight) / tf.reduce_sum(weight)
        value, weight = values["mlm_loss"]
        mlm_loss = tf.reduce_sum(value * weight) / tf.reduce_sum(weight)
    assert all(g is None for g in tape.gradient(rtd_loss, generator_only))
    # The shared embeddings learn from both losses.
    assert tape.gradient(rtd_loss, shared) is not None
    assert tape.gradient(mlm_loss, shared) is not None
    assert all(g is not None for g in tape.gradient(mlm_loss, generator_only))


@pytest.mark.threshold
def test_fit_reports_every_metric_and_learns(pretrainer, record_property):
    data = tf.data.Dataset.from_tensor_slices(fixed_batch(batch=64)).repeat().batch(16)
    model = ek.ElectraPretrainer(pretrainer.config, masking=pretrainer.masking)
    model.compile(optimizer=keras.optimizers.AdamW(3e-3))
    history = model.fit(data, steps_per_epoch=25, epochs=3, verbose=0).history
    expected = {"loss", "mlm_loss", "mlm_accuracy", "sampled_accuracy", "rtd_loss", "rtd_accuracy",
                "rtd_baseline_accuracy", "rtd_auc", "rtd_precision", "rtd_recall"}
    assert set(history) == expected
    record_property("figures", {"loss": history["loss"][-1], "mlm_loss": history["mlm_loss"][-1]})
    assert history["loss"][-1] < history["loss"][0]
    assert history["mlm_loss"][-1] < history["mlm_loss"][0]
    evaluated = model.evaluate(model.masked_dataset(data.take(4), seed=1), return_dict=True, verbose=0)
    assert set(evaluated) == expected
    again = model.evaluate(model.masked_dataset(data.take(4), seed=1), return_dict=True, verbose=0)
    assert evaluated["mlm_loss"] == again["mlm_loss"]  # the same masks every evaluation


@pytest.mark.threshold
def test_plain_mlm_objective_uses_bert_masking_and_learns(record_property):
    from electra_keras.data import packages

    model = ek.MaskedLMPretrainer.from_preset(
        "tiny", vocabulary=packages.bert_uncased_vocab(), max_position_embeddings=64
    )
    assert (model.masking.mask_token_rate, model.masking.random_token_rate) == (0.8, 0.1)
    assert model.masking.mask_token_id == 103 and model.config.vocab_size == 30522
    assert model.encoder.config.hidden_size == model.config.hidden_size  # discriminator-sized
    rng = np.random.RandomState(0)
    ids = rng.randint(1000, 1100, size=(64, 24)).astype("int32")
    ids[:, 0], ids[:, -1] = 101, 102
    data = tf.data.Dataset.from_tensor_slices(
        {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": np.ones_like(ids)}
    ).repeat().batch(16)
    model.compile(optimizer=keras.optimizers.AdamW(3e-3))
    history = model.fit(data, steps_per_epoch=20, epochs=2, verbose=0).history
    assert set(history) == {"loss", "mlm_loss", "mlm_accuracy"}
    record_property("figures", {"mlm_loss": history["mlm_loss"][-1]})
    assert history["mlm_loss"][-1] < history["mlm_loss"][0]


@pytest.mark.parametrize("objective", ["electra", "mlm", "albert"])
def test_prior_init_starts_the_outputs_at_the_data_statistics(tmp_path, objective):
    from electra_keras.data.pretraining_data import prepare_pretraining_data, token_counts
    from electra_keras.pretraining.masking import mask_batch as mask

    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "film", "was", "good", "bad", "."]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n\n".join(["the film was good .", "the film was bad .", "the the the film ."] * 20))
    data = tmp_path / "data"
    prepare_pretraining_data([str(corpus)], vocabulary, data, sequence_length=16, workers=1, verbose=False,
                             sentence_pairs=objective == "albert")
    counts = token_counts(data, len(vocabulary), exclude=(0, 2, 3))
    assert counts[:5].tolist() == [0, 0, 0, 0, 0]  # padding never counted, [CLS]/[SEP] excluded
    assert counts[5] == 20 * 5 and counts[6] == 60 and counts[8] == 20 and counts.sum() == 20 * 15

    model_class = {"electra": ek.ElectraPretrainer, "mlm": ek.MaskedLMPretrainer, "albert": ek.AlbertPretrainer}
    config = {"vocab_size": len(vocabulary)}
    if objective != "electra":
        config["generator_size"] = None
    if objective == "albert":
        config.update(family="albert", pooler=True)
    model = model_class[objective].from_preset("tiny", vocabulary=vocabulary, **config)
    batch = mask({"token_ids": tf.constant([[2, 5, 6, 7, 8, 10, 3]]), "segment_ids": tf.zeros((1, 7), tf.int32),
                  "padding_mask": tf.ones((1, 7), tf.int32)}, model.masking, seed=tf.constant([0, 1], tf.int64))
    head = model.masked_lm_head
    encoder = model.generator.encoder if objective == "electra" else model.encoder
    expected = (counts + 1) / (counts.sum() + counts.size)

    def divergence():  # KL(unigram || predicted), averaged over the positions
        hidden = encoder({"token_ids": batch["masked_token_ids"]}, training=False)["sequence_output"]
        predicted = keras.ops.softmax(head(hidden)).numpy()[0]
        return float(np.mean(np.sum(expected * np.log(expected / predicted), axis=-1)))

    before = divergence()
    model.initialize_output_priors(counts)
    # The bias now dominates the tiny logits of the freshly initialized tied table.
    assert before > 0.4 and divergence() < 0.02
    if objective == "electra":
        # The discriminator starts at the share of tokens a unigram sampler replaces.
        p = counts / counts.sum()
        share = 0.15 * (1 - (p ** 2).sum())  # p: the=1/3, film=1/5, ...: 0.15 * 0.76
        np.testing.assert_allclose(model.discriminator.head.prediction.bias.numpy(),
                                   [np.log(share / (1 - share))], rtol=1e-5)
        logits = model.discriminator({"token_ids": batch["token_ids"]}).numpy()
        np.testing.assert_allclose(1 / (1 + np.exp(-logits)), share, rtol=0.2)
    with pytest.raises(ValueError, match=r"token_counts has shape \(3,\); the output bias has \(11,\)"):
        model.initialize_output_priors([1, 2, 3])
