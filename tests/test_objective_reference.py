"""ELECTRA's objective against the reference implementation, and its sampler and metrics
against statistics and sklearn.

- The generator's MLM loss and the discriminator's RTD loss of `ElectraPretrainer.objective`
  equal transformers' `ElectraForMaskedLM(labels=...)` and `ElectraForPreTraining(labels=...)`
  losses, on the converted weights and the same corrupted inputs.
- `gumbel_max_sample` draws from softmax(logits / T) (chi-square goodness of fit).
- `rtd_auc`, `rtd_precision` and `rtd_recall` equal sklearn's on a fixed batch.
"""

import numpy as np
import pytest
import tensorflow as tf
import torch
import transformers
from scipy import stats
from sklearn import metrics as sk_metrics

import electra_keras as ek
from electra_keras.convert import to_huggingface
from electra_keras.pretraining import electra as electra_module
from electra_keras.pretraining.masking import mask_batch

VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(59)]


def batch_of(rng, rows=6, length=24):
    token_ids = rng.integers(5, len(VOCABULARY), (rows, length)).astype("int32")
    token_ids[:, 0] = 2
    lengths = rng.integers(10, length + 1, rows)
    padding = (np.arange(length)[None, :] < lengths[:, None]).astype("int32")
    token_ids[np.arange(rows), lengths - 1] = 3
    token_ids = np.where(padding > 0, token_ids, 0).astype("int32")
    return {"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids), "padding_mask": padding}


@pytest.fixture(scope="module")
def pretrainer():
    model = ek.ElectraPretrainer.from_preset("tiny", vocabulary=VOCABULARY, dropout_rate=0.0,
                                             attention_dropout_rate=0.0)
    rng = np.random.default_rng(0)
    for variable in model.weights:  # O(1) logits, so that the losses are far from trivial
        variable.assign((variable.numpy() + rng.normal(scale=0.15, size=variable.shape)).astype("float32"))
    return model


def test_losses_equal_transformers_on_the_same_corrupted_inputs(pretrainer, tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    batch = {k: tf.constant(v) for k, v in batch_of(rng).items()}
    batch = mask_batch(batch, pretrainer.masking, seed=tf.constant([3, 4], tf.int64))
    sampled = []
    real_sampler = electra_module.gumbel_max_sample

    def recording_sampler(logits, temperature=1.0):
        sampled.append(real_sampler(logits, temperature))
        return sampled[-1]

    monkeypatch.setattr(electra_module, "gumbel_max_sample", recording_sampler)
    loss, values = pretrainer.objective(batch, training=False)
    ours_mlm = float(np.sum(values["mlm_loss"][0] * values["mlm_loss"][1]) / np.sum(values["mlm_loss"][1]))
    ours_rtd = float(np.sum(values["rtd_loss"][0] * values["rtd_loss"][1]) / np.sum(values["rtd_loss"][1]))
    np.testing.assert_allclose(float(loss), ours_mlm + 50.0 * ours_rtd, rtol=1e-6)

    folder = to_huggingface(pretrainer, tmp_path / "hf")
    generator = transformers.ElectraForMaskedLM.from_pretrained(folder / "generator").eval()
    discriminator = transformers.ElectraForPreTraining.from_pretrained(folder / "discriminator").eval()
    numpy = {k: np.array(v) for k, v in batch.items()}  # writable copies, as torch.from_numpy wants
    # transformers' MLM labels: the original token at masked positions, -100 elsewhere.
    labels = np.full(numpy["token_ids"].shape, -100)
    rows = np.repeat(np.arange(labels.shape[0])[:, None], numpy["masked_positions"].shape[1], 1)
    valid = numpy["masked_weights"] > 0
    labels[rows[valid], numpy["masked_positions"][valid]] = numpy["masked_ids"][valid]
    # The corrupted input: the recorded samples written at the masked positions.
    corrupted = numpy["masked_token_ids"].copy()
    corrupted[rows[valid], numpy["masked_positions"][valid]] = np.asarray(sampled[0])[valid]
    replaced = (corrupted != numpy["token_ids"]).astype("int64")
    attention = torch.from_numpy(numpy["padding_mask"]).long()
    with torch.no_grad():
        theirs_mlm = generator(input_ids=torch.from_numpy(numpy["masked_token_ids"]).long(), attention_mask=attention,
                               labels=torch.from_numpy(labels)).loss.item()
        theirs_rtd = discriminator(input_ids=torch.from_numpy(corrupted).long(), attention_mask=attention,
                                   labels=torch.from_numpy(replaced)).loss.item()
    print(f"MLM loss ours {ours_mlm:.6f} transformers {theirs_mlm:.6f}; RTD {ours_rtd:.6f} vs {theirs_rtd:.6f}")
    assert ours_mlm > 1.0 and 0.05 < ours_rtd  # not trivially small
    assert ours_mlm == pytest.approx(theirs_mlm, rel=1e-5)
    assert ours_rtd == pytest.approx(theirs_rtd, rel=1e-5)
    assert 0 < replaced[numpy["padding_mask"] > 0].mean() < 0.5


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_gumbel_max_draws_from_the_tempered_softmax(temperature):
    tf.random.set_seed(7)
    logits = tf.constant([[2.0, 1.0, 0.0, -1.0, 0.5, 1.5]], tf.float32)
    draws = 6000
    samples = electra_module.gumbel_max_sample(tf.repeat(logits, draws, axis=0), temperature).numpy()
    observed = np.bincount(samples, minlength=6)

    def softmax(values):
        exp = np.exp(values - values.max())
        return exp / exp.sum()

    scores = logits.numpy()[0].astype("float64")
    expected = softmax(scores / temperature) * draws
    statistic, p_value = stats.chisquare(observed, expected)
    assert p_value > 0.001, (observed, expected)
    # The test can fail: the untempered distribution is rejected at T = 0.5.
    if temperature != 1.0:
        wrong = softmax(scores) * draws
        assert stats.chisquare(observed, wrong).pvalue < 1e-6


def test_rtd_metrics_equal_sklearn(pretrainer):
    rng = np.random.default_rng(5)
    labels = (rng.random((8, 24)) < 0.2).astype("float32")
    logits = (rng.normal(size=(8, 24)) + 1.5 * labels).astype("float32")
    weights = (rng.random((8, 24)) < 0.8).astype("float32")
    metrics = {name: pretrainer.trackers[name] for name in ("rtd_auc", "rtd_precision", "rtd_recall")}
    for metric in metrics.values():
        metric.reset_state()
    metrics["rtd_auc"].update_state(labels, logits, sample_weight=weights)
    probabilities = tf.sigmoid(logits)
    metrics["rtd_precision"].update_state(labels, probabilities, sample_weight=weights)
    metrics["rtd_recall"].update_state(labels, probabilities, sample_weight=weights)
    keep = weights.reshape(-1) > 0
    y, score = labels.reshape(-1)[keep], logits.reshape(-1)[keep]
    assert float(metrics["rtd_auc"].result()) == pytest.approx(sk_metrics.roc_auc_score(y, score), abs=2e-3)
    predicted = (score > 0).astype(int)
    assert float(metrics["rtd_precision"].result()) == pytest.approx(sk_metrics.precision_score(y, predicted), abs=1e-6)
    assert float(metrics["rtd_recall"].result()) == pytest.approx(sk_metrics.recall_score(y, predicted), abs=1e-6)
