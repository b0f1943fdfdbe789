"""A pretraining run: killed with SIGKILL after a checkpoint, resumed by
re-running the same command, equal to an uninterrupted run; a non-finite
loss stops the run with the last good checkpoint intact; the final models
load in Keras and transformers."""

import gzip
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from electra_keras.data import packages
from electra_keras.data.pretraining_data import prepare_pretraining_data
from electra_keras.training.pretrain import NonFiniteLossError, PretrainingOptions, pretrain

TINY = ["--preset", "tiny", "--config", "max_position_embeddings=64", "--sequence-length", "64",
        "--batch-size", "8"]


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    """300 lines of WikiText-2 (documents of many sentences)."""
    folder = tmp_path_factory.mktemp("corpus")
    lines = gzip.open(packages.wikitext2_file("valid"), "rt", encoding="utf-8").read().splitlines()
    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(lines[:300]), encoding="utf-8")
    return corpus


@pytest.fixture(scope="module")
def data_dir(small_corpus):
    out = small_corpus.parent / "data"
    prepare_pretraining_data([str(small_corpus)], packages.bert_uncased_vocab(), out,
                             sequence_length=64, workers=1, verbose=False)
    return out


def command(out, data_dir, steps, every, *extra):
    return ["pretrain", "--out", str(out), "--data", str(data_dir), *TINY,
            "--steps", str(steps), "--checkpoint-every", str(every), "--log-every", "1", *extra]


# The CLI in a child process that SIGKILLs itself right after training step
# KILL_AT (a callback passed through pretrain()'s `callbacks`): a kill at a
# known step, not after a sleep.
KILLED_CHILD = """
import os, signal, sys
import keras
import electra_keras.training.pretrain as runner
from electra_keras.cli import main

class KillAt(keras.callbacks.Callback):
    def __init__(self, step):
        super().__init__()
        self.step, self.seen = step, 0
    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.step:
            os.kill(os.getpid(), signal.SIGKILL)

original = runner.pretrain
runner.pretrain = lambda options, callbacks=None: original(options, callbacks=[KillAt(int(sys.argv[1]))])
sys.exit(main(sys.argv[2:]))
"""


def logged(out):
    """Every metrics line, without the wall-clock speed."""
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in record.items() if k != "sequences_per_second"} for record in records]


def logged_steps(out):
    return [record["step"] for record in logged(out) if not record.get("evaluation")]


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["float32", "mixed_float16"])
def test_killed_run_resumes_exactly_as_an_uninterrupted_run(precision, tmp_path, data_dir, capsys):
    """Killed with SIGKILL 2 steps after its first checkpoint, resumed with the
    same command: every logged metric and every final weight equal those of
    a run that was never interrupted (dropout, masks and generator samples
    are functions of (seed, step), layers/random.py).

    The killed run is the CLI in a child process; the uninterrupted run and
    the resumption run the same command in this process (op determinism is on
    here, TF_DETERMINISTIC_OPS there), so steps 1-4 cross processes through
    the checkpoint, as a user's re-launch does."""
    from electra_keras.cli import main

    steps, every, kill_at = 12, 4, 6
    extra = ("--mixed-precision", precision)
    uninterrupted = tmp_path / "uninterrupted"
    assert main(command(uninterrupted, data_dir, steps, every, *extra)) == 0

    out = tmp_path / "run"
    killed = subprocess.run([sys.executable, "-c", KILLED_CHILD, str(kill_at), *command(out, data_dir, steps, every, *extra)],
                            capture_output=True, text=True, timeout=400, env={**os.environ, "TF_DETERMINISTIC_OPS": "1"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    saved = sorted(int(p.name[5:-6]) for p in (out / "checkpoints").glob("ckpt-*.index"))
    # Killed after step 6's update, before its log line: steps 5-6 are lost and must be replayed.
    assert saved == [every] and logged_steps(out) == list(range(1, kill_at))

    capsys.readouterr()
    assert main(command(out, data_dir, steps, every, *extra)) == 0
    printed = capsys.readouterr().out
    summary = json.loads(printed[printed.index("{\n"):])
    assert summary["resumed_from"] == every and summary["steps"] == steps
    assert f"skipping the {every} batches already trained on" in printed
    assert logged_steps(out) == list(range(1, steps + 1))  # none repeated, none skipped
    assert logged(out) == logged(uninterrupted)  # every metric of every step, exactly
    for part in ("discriminator", "generator"):
        resumed = keras.saving.load_model(out / f"{part}.keras").get_weights()
        reference = keras.saving.load_model(uninterrupted / f"{part}.keras").get_weights()
        assert len(resumed) == len(reference)
        for a, b in zip(resumed, reference):
            np.testing.assert_array_equal(a, b)


class PoisonWeights(keras.callbacks.Callback):
    """Makes the model produce NaN from step `at` on."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == self.at - 1:
            weight = self.model.discriminator.head.prediction.kernel
            weight.assign(tf.fill(weight.shape, float("nan")))


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, data_dir):
    options = PretrainingOptions(
        out=str(tmp_path / "nan"), data=str(data_dir), preset="tiny", sequence_length=64, batch_size=8,
        total_steps=40, checkpoint_every=5, log_every=1, config={"max_position_embeddings": 64},
        export=False,
    )
    with pytest.raises(NonFiniteLossError, match=r"at step 13.*last good checkpoint is intact: .*ckpt-10"):
        pretrain(options, callbacks=[PoisonWeights(at=13)])
    checkpoint = tf.train.load_checkpoint(str(tmp_path / "nan" / "checkpoints"))
    assert tf.train.latest_checkpoint(str(tmp_path / "nan" / "checkpoints")).endswith("ckpt-10")
    for name in checkpoint.get_variable_to_shape_map():
        value = checkpoint.get_tensor(name)
        if np.issubdtype(np.asarray(value).dtype, np.floating):
            assert np.all(np.isfinite(value)), name


@pytest.mark.slow
def test_final_models_load_in_keras_and_transformers(tmp_path, data_dir, capsys):
    import transformers

    options = PretrainingOptions(
        out=str(tmp_path / "final"), data=str(data_dir), preset="tiny", sequence_length=64,
        batch_size=8, total_steps=6, checkpoint_every=3, log_every=2,
        config={"max_position_embeddings": 64},
    )
    summary = pretrain(options)
    assert summary["steps"] == 6
    discriminator = keras.saving.load_model(tmp_path / "final" / "discriminator.keras")
    hf = transformers.ElectraForPreTraining.from_pretrained(tmp_path / "final" / "huggingface" / "discriminator")
    tokenizer = transformers.BertTokenizerFast.from_pretrained(tmp_path / "final" / "huggingface" / "discriminator")
    encoded = tokenizer(["the game was released in japan"], return_tensors="np")
    ours = np.asarray(discriminator({"token_ids": encoded["input_ids"].astype("int32")}))
    import torch

    with torch.no_grad():
        theirs = hf(input_ids=torch.tensor(encoded["input_ids"])).logits.numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    assert set(summary["last_metrics"]) >= {"rtd_auc", "rtd_accuracy", "mlm_loss", "sampled_accuracy"}
    assert (tmp_path / "final" / "logs").is_dir()

    # Re-running a finished run (the same command) trains nothing more.
    logged_before = (tmp_path / "final" / "metrics.jsonl").read_text()
    capsys.readouterr()
    again = pretrain(options)
    assert "already finished its 6 steps" in capsys.readouterr().out
    assert again["steps"] == 6 and (tmp_path / "final" / "metrics.jsonl").read_text() == logged_before
    np.testing.assert_array_equal(
        np.asarray(keras.saving.load_model(tmp_path / "final" / "discriminator.keras")(
            {"token_ids": encoded["input_ids"].astype("int32")})), ours)


def test_prepared_examples_are_reused_only_for_the_same_recipe(tmp_path, capsys):
    from electra_keras.training.pretrain import _prepare_data

    lines = gzip.open(packages.wikitext2_file("valid"), "rt", encoding="utf-8").read().splitlines()
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(lines[:100]), encoding="utf-8")
    bert = packages.bert_uncased_vocab()
    other = tmp_path / "vocab.txt"
    other.write_text(Path(bert).read_text(encoding="utf-8") + "zzzfoo\n", encoding="utf-8")
    options = PretrainingOptions(out=str(tmp_path), sequence_length=64)
    data = tmp_path / "data"

    _prepare_data([str(corpus)], data, options, bert, started=False)
    first = (data / "metadata.json").read_text()
    _prepare_data([str(corpus)], data, options, bert, started=False)
    assert "Reusing the prepared examples" in capsys.readouterr().out
    assert (data / "metadata.json").read_text() == first

    # Another vocabulary before training started: prepared again, saying why.
    _prepare_data([str(corpus)], data, options, str(other), started=False)
    assert "Re-preparing" in (said := capsys.readouterr().out) and "vocabulary sha256" in said
    assert json.loads((data / "metadata.json").read_text())["vocabulary"]["size"] == 30523

    # Once the run has trained on them, other examples would change it silently: an error.
    uncased = PretrainingOptions(out=str(tmp_path), sequence_length=64, lowercase=False)
    with pytest.raises(ValueError, match=r"lowercase: was True, now False.*new --out"):
        _prepare_data([str(corpus)], data, uncased, str(other), started=True)
    assert json.loads((data / "metadata.json").read_text())["lowercase"] is True

    # A given --data folder must match the vocabulary the model is built with.
    with pytest.raises(ValueError, match=r"another vocabulary.*30523 tokens"):
        pretrain(PretrainingOptions(out=str(tmp_path / "run"), data=str(data), vocabulary=bert,
                                    preset="tiny", sequence_length=64, batch_size=8, total_steps=2))


def test_mixed_float16_counts_batches_not_applied_updates(tmp_path, data_dir):
    # Dynamic loss scaling skips the first updates (their scaled gradients
    # overflow), so optimizer.iterations lags; the run's step count must not.
    options = PretrainingOptions(
        out=str(tmp_path / "fp16"), data=str(data_dir), preset="tiny", sequence_length=64,
        batch_size=8, total_steps=6, checkpoint_every=3, log_every=1, precision="mixed_float16",
        config={"max_position_embeddings": 64}, export=False,
    )
    summary = pretrain(options)
    assert keras.mixed_precision.global_policy().name == "float32"
    assert summary["steps"] == 6
    assert logged_steps(tmp_path / "fp16") == [1, 2, 3, 4, 5, 6]
    checkpoint = tf.train.load_checkpoint(str(tmp_path / "fp16" / "checkpoints"))
    applied = checkpoint.get_tensor("optimizer/inner_optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE")
    assert int(applied) < 6  # the loss scaler skipped some updates
    assert int(checkpoint.get_tensor("trained_steps/.ATTRIBUTES/VARIABLE_VALUE")) == 6
    assert tf.train.latest_checkpoint(str(tmp_path / "fp16" / "checkpoints")).endswith("ckpt-6")


@pytest.mark.slow
@pytest.mark.threshold
def test_albert_encoder_electra_pretrains_then_fine_tunes_on_sentiment(tmp_path, small_corpus, record_property):
    """ELECTRA whose generator and discriminator use ALBERT's sharing and
    factorized embeddings (`--share all`): it pretrains, saves, and its
    discriminator fine-tunes. (ALBERT's own run: test_albert_end_to_end.py.)"""
    from electra_keras.cli import main as cli
    from electra_keras.data import tasks
    from electra_keras.tasks.classifier import TextClassifier
    from electra_keras.training.optimizers import finetune_adamw

    out = tmp_path / "run"
    assert cli(["pretrain", "--out", str(out), "--corpus", str(small_corpus), "--share", "all",
                *TINY, "--config", "num_layers=3", "--steps", "8", "--checkpoint-every", "4",
                "--log-every", "2", "--learning-rate", "1e-3"]) == 0
    model = keras.saving.load_model(out / "discriminator.keras")
    config = model.config
    assert config.share == "all" and config.embedding_size < config.hidden_size
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r for r in records if not r.get("evaluation")][-1]["step"] == 8
    # One shared block per network: each encoder is 3 layers deep but holds one layer's weights.
    for network in (model, keras.saving.load_model(out / "generator.keras")):
        encoder = network.encoder
        assert len(encoder.attention_sublayers) == len(encoder.feedforward_sublayers) == 1
        assert encoder.schedule == [(0, 0)] * 3
    assert not (out / "huggingface").exists()  # transformers' ELECTRA cannot share layers

    sentiment = tasks.sentiment()
    labels = np.asarray(sentiment.train.labels)
    rng = np.random.default_rng(0)
    chosen = rng.permutation(np.concatenate([np.flatnonzero(labels == c)[:32] for c in (0, 1)]))
    texts = [sentiment.train.texts[i] for i in chosen]
    classifier = TextClassifier.from_pretrained(out, num_classes=2, sequence_length=48, dropout_rate=0.0)
    np.testing.assert_array_equal(classifier.backbone.get_weights()[0], model.encoder.get_weights()[0])
    # A few pretraining steps leave [CLS] nearly the same for every text; the recipe of
    # test_albert_end_to_end (24 epochs at 1e-3) separated the classes for every seed tried.
    classifier.compile(optimizer=finetune_adamw(classifier, learning_rate=1e-3, total_steps=None, layer_decay=1.0))
    history = classifier.fit(texts, labels[chosen], epochs=24, batch_size=16, verbose=0)
    after = classifier.evaluate(texts, labels[chosen], verbose=0, return_dict=True)
    record_property("figures", {"loss": history.history["loss"][-1], "accuracy": after["accuracy"]})
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert after["accuracy"] >= 0.9


@pytest.mark.parametrize("objective, logged, optimizer", [
    ("electra-15", "rtd_auc", "official_adamw"),  # one run also takes the official optimizer
    ("replace-mlm", "identity_accuracy", "adamw"),
    ("all-tokens-mlm", "copy_probability", "adamw"),
])
def test_every_ablation_objective_runs_from_the_command_line(tmp_path, data_dir, objective, logged, optimizer):
    """`electra-keras pretrain --objective X`: 2 steps, the variant's metrics, the model saved
    (.keras, loaded back with its variant) and the discriminator exported."""
    from electra_keras.cli import main

    out = tmp_path / objective
    assert main(["pretrain", "--out", str(out), "--data", str(data_dir), *TINY, "--objective", objective,
                 "--steps", "2", "--checkpoint-every", "2", "--log-every", "1", "--prior-init",
                 "--optimizer", optimizer]) == 0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [record["step"] for record in records] == [1, 2]
    assert np.isfinite(records[-1][logged]) and records[-1]["flops"] > 0
    assert json.loads((out / "run.json").read_text())["objective"] == objective
    # Fine-tuning finds the run's discriminator (every objective names the part it saves).
    from electra_keras.pretraining import FINE_TUNED_PART
    from electra_keras.tasks.pretrained import load_pretrained
    from electra_keras.training.pretrain import OBJECTIVES

    assert set(FINE_TUNED_PART) == set(OBJECTIVES)
    assert load_pretrained(str(out)).config.hidden_size == 32
    model = keras.saving.load_model(out / "discriminator.keras")
    from electra_keras.training.pretrain import PretrainingOptions, _build_model, restore_checkpoint

    options = PretrainingOptions(**json.loads((out / "run.json").read_text()))
    rebuilt = _build_model(options, options.vocabulary_path())
    restore_checkpoint(rebuilt, str(out / "checkpoints" / "ckpt-2"))
    assert rebuilt.variant == objective
    assert getattr(rebuilt.optimizer, "bias_correction", True) == (optimizer == "adamw")
    np.testing.assert_array_equal(rebuilt.discriminator.encoder.weights[0].numpy(), model.encoder.weights[0].numpy())


@pytest.mark.parametrize("objective, logged", [("albert-nsp", "nsp_accuracy"), ("albert-none", "mlm_accuracy")])
def test_albert_sentence_task_objectives_run_from_the_command_line(tmp_path, small_corpus, objective, logged):
    """`--objective albert-nsp / albert-none`: sentence-pair data prepared, 2 steps, an ALBERT written."""
    from electra_keras.cli import main

    out = tmp_path / objective
    assert main(["pretrain", "--out", str(out), "--corpus", str(small_corpus), *TINY, "--objective", objective,
                 "--config", "family=albert", "--config", "share=all", "--steps", "2", "--checkpoint-every", "2",
                 "--log-every", "1"]) == 0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert np.isfinite(records[-1][logged])
    assert ("nsp_loss" in records[-1]) == (objective == "albert-nsp") and "sop_loss" not in records[-1]
    metadata = json.loads((out / "data" / "metadata.json").read_text())
    assert metadata["sentence_pairs"] is True
    from electra_keras.tasks.pretrained import load_pretrained

    assert load_pretrained(str(out)).config.family == "albert"  # the run folder fine-tunes
