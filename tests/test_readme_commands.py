"""The README's commands that no other test runs, each on a tiny model for a
few steps, checked by what they write: `build-vocab` (WordPiece); `prepare-data`;
`pretrain` with `--gradient-accumulation` and `--eval-corpus`; `finetune --init` from a run folder, a transformers folder and an
official TF1 checkpoint, and `--random-init`; the shipped tasks by name;
tagging, regression and SQuAD files; `--max-train-examples` and
`--max-eval-examples`; `evaluate --task --split` and on a SQuAD file;
`predict` on question-context pairs. (The demo: tests/test_demo.py;
`export --mediapipe`: tests/test_mediapipe.py; `pretrain --strategy mirrored`:
tests/test_distributed.py, against one device.)"""

import gzip
import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from electra_keras.cli import main
from electra_keras.data import packages
from test_convert_tf1 import VOCAB, pretraining_checkpoint, reference  # noqa: F401  (fixtures)
from test_pretrain_run import TINY, logged, small_corpus  # noqa: F401  (fixtures)

FINETUNE_TINY = ["--epochs", "1", "--batch-size", "8", "--sequence-length", "16", "--layer-decay", "1.0"]


@pytest.fixture(scope="module")
def eval_corpus(tmp_path_factory):
    """WikiText-2 valid lines 300-400: text the small_corpus run never trains on."""
    lines = gzip.open(packages.wikitext2_file("valid"), "rt", encoding="utf-8").read().splitlines()
    path = tmp_path_factory.mktemp("eval") / "held-out.txt"
    path.write_text("\n".join(lines[300:400]), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def pretrained_run(tmp_path_factory, small_corpus, eval_corpus):
    """`prepare-data`, then `pretrain --data` on it with `--gradient-accumulation 2 --eval-corpus`:
    4 batches, 2 optimizer updates."""
    folder = tmp_path_factory.mktemp("readme")
    data = folder / "data"
    assert main(["prepare-data", "--corpus", str(small_corpus), "--out", str(data), "--sequence-length", "64",
                 "--workers", "1"]) == 0
    run = folder / "run"
    assert main(["pretrain", "--out", str(run), "--data", str(data), "--eval-corpus", str(eval_corpus), *TINY,
                 "--steps", "4", "--gradient-accumulation", "2", "--checkpoint-every", "4", "--log-every", "1",
                 "--eval-batches", "2"]) == 0
    return data, run


def test_prepare_data_writes_the_examples_pretrain_reads(pretrained_run):
    data, _ = pretrained_run
    metadata = json.loads((data / "metadata.json").read_text())
    assert metadata["sequence_length"] == 64
    assert metadata["vocabulary"]["size"] == 30522  # the default, BERT-uncased
    counted = 0
    for shard in metadata["shards"]:
        for record in tf.data.TFRecordDataset(str(data / shard["file"])):
            example = tf.train.Example.FromString(record.numpy())
            ids = example.features.feature["token_ids"].int64_list.value
            assert len(ids) == 64 and ids[0] == 101  # [CLS] of the BERT-uncased vocabulary
            counted += 1
        assert counted and shard["examples"] > 0
    assert counted == sum(shard["examples"] for shard in metadata["shards"]) == metadata["counts"]["examples"] > 8


def test_gradient_accumulation_updates_once_per_n_batches_and_eval_corpus_logs_val_metrics(pretrained_run):
    from electra_keras.training.pretrain import PretrainingOptions, _build_model, restore_checkpoint

    _, run = pretrained_run
    options = PretrainingOptions(**json.loads((run / "run.json").read_text()))
    assert options.gradient_accumulation == 2 and options.total_steps == 4
    model = _build_model(options, options.vocabulary_path())
    restore_checkpoint(model, str(run / "checkpoints" / "ckpt-4"))
    # Keras counts batches in _iterations; `iterations` is the updates applied.
    assert int(model.optimizer._iterations.numpy()) == 4
    assert int(model.optimizer.iterations.numpy()) == 4 // 2

    records = logged(run)
    train = [record for record in records if not record.get("evaluation")]
    evaluations = [record for record in records if record.get("evaluation")]
    assert [record["step"] for record in train] == [1, 2, 3, 4]
    assert evaluations and evaluations[-1]["step"] == 4
    for name in ("val_loss", "val_rtd_auc", "val_rtd_accuracy", "val_mlm_accuracy"):
        assert np.isfinite(evaluations[-1][name]), name
    assert not any(key.startswith("val_") for record in train for key in record)


def test_pretraining_options_take_paths_and_record_them_as_json(tmp_path):
    """The demo passes pathlib.Paths (packages.bert_uncased_vocab()); run.json must still be written."""
    import dataclasses

    from electra_keras.training.pretrain import PretrainingOptions

    options = PretrainingOptions(out=tmp_path / "run", preset="tiny", vocabulary=packages.bert_uncased_vocab(),
                                 corpus=[tmp_path / "a.txt", "b.txt"], eval_corpus=tmp_path / "c.txt")
    recorded = json.loads(json.dumps(dataclasses.asdict(options)))
    assert recorded["out"] == str(tmp_path / "run") and recorded["vocabulary"] == str(packages.bert_uncased_vocab())
    assert recorded["corpus"] == [str(tmp_path / "a.txt"), "b.txt"] and recorded["eval_corpus"] == str(tmp_path / "c.txt")


def _saved_updates(run_dir):
    return int(keras.saving.load_model(run_dir / "model.keras").optimizer.iterations.numpy())


@pytest.mark.slow
def test_shipped_tasks_fine_tune_from_a_run_folder_on_max_train_examples(tmp_path, pretrained_run, capsys):
    """`finetune --task sentiment|question-type|ner --init RUN --max-train-examples 24
    --max-eval-examples 48`: 24 examples trained on (3 updates of 8), the run's weights as the
    start, dev and test validated and scored on 48 seeded examples each (every one of 3,600
    took most of this test's time)."""
    _, run = pretrained_run
    discriminator = keras.saving.load_model(run / "discriminator.keras")
    expected = {"sentiment": ("accuracy", 2), "question-type": ("accuracy", 6), "ner": ("entity_f1", None)}
    for task, (metric, classes) in expected.items():
        out = tmp_path / task
        assert main(["finetune", "--task", task, "--init", str(run), "--out", str(out), *FINETUNE_TINY,
                     "--max-train-examples", "24", "--max-eval-examples", "48"]) == 0
        scores = json.loads((out / "scores.json").read_text())
        assert scores["task"] == task and scores["init"] == str(run)
        assert scores["train_examples"] == 24 and scores["total_steps"] == 3
        assert _saved_updates(out) == 3  # what was actually trained: ceil(24 / 8) batches
        assert scores["dev_examples"] == scores["test_examples"] == 48
        for split in ("dev", "test"):
            assert 0.0 <= scores[split][metric] <= 1.0, (task, split)
        validation = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        assert "val_loss" in validation[-1]
        model = keras.saving.load_model(out / "model.keras")
        if classes:
            assert len(model.label_names) == classes
        else:
            assert len(model.tag_names) == 21
        # Position rows past --sequence-length get no gradient: they are the run's, but for
        # 3 steps of weight decay (1e-4 x 0.01 each).
        np.testing.assert_allclose(_position_rows(model.backbone)[16:],
                                   _position_rows(discriminator.encoder)[16:], rtol=1e-4)
    capsys.readouterr()

    # `evaluate --task question-type --split dev|test` scores the whole split it names.
    from electra_keras.data import tasks

    model = keras.saving.load_model(tmp_path / "question-type" / "model.keras")
    splits = tasks.question_type()
    for split, count in (("dev", 544), ("test", 500)):
        assert main(["evaluate", "--model", str(tmp_path / "question-type"), "--task", "question-type",
                     "--split", split]) == 0
        printed = json.loads(capsys.readouterr().out)
        assert (printed["task"], printed["split"], printed["examples"]) == ("question-type", split, count)
        examples = getattr(splits, split)
        predicted = model.predict_labels(examples.texts, batch_size=64)
        expected = np.mean([examples.label_names[label] == name for label, name in zip(examples.labels, predicted)])
        assert printed["accuracy"] == pytest.approx(expected, abs=1e-9)


def test_finetune_random_init_takes_the_architecture_not_the_weights(tmp_path, pretrained_run):
    """`finetune --init RUN --random-init`: the run's architecture and vocabulary, fresh weights (the baseline)."""
    _, run = pretrained_run
    discriminator = keras.saving.load_model(run / "discriminator.keras")
    out = tmp_path / "baseline"
    assert main(["finetune", "--task", "question-type", "--init", str(run), "--random-init", "--out", str(out),
                 *FINETUNE_TINY, "--max-train-examples", "8", "--max-eval-examples", "8"]) == 0
    scores = json.loads((out / "scores.json").read_text())
    assert scores["init"] == f"random weights, the architecture of {run}"
    model = keras.saving.load_model(out / "model.keras")
    assert model.backbone.config.hidden_size == discriminator.encoder.config.hidden_size
    assert model.backbone.config.vocab_size == discriminator.encoder.config.vocab_size
    # Rows past --sequence-length get no gradient: a loaded table would still be the run's there.
    fresh, pretrained = _position_rows(model.backbone)[16:], _position_rows(discriminator.encoder)[16:]
    assert fresh.shape == pretrained.shape
    assert np.abs(fresh - pretrained).mean() > 0.5 * np.abs(pretrained).mean()


def test_build_vocab_learns_a_wordpiece_vocabulary_that_covers_the_corpus(tmp_path, small_corpus):
    """`build-vocab` (WordPiece, uncased and --cased) on 300 lines of WikiText-2."""
    from electra_keras.data.tokenizers.wordpiece import WordPieceTokenizer

    text = [line for line in small_corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
    for cased in (False, True):
        path = tmp_path / f"vocab-{cased}.txt"
        assert main(["build-vocab", "--corpus", str(small_corpus), "--out", str(path), "--size", "600",
                     *(["--cased"] if cased else [])]) == 0
        tokens = path.read_text(encoding="utf-8").splitlines()
        assert tokens[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        assert 200 < len(tokens) <= 600 and len(set(tokens)) == len(tokens)
        assert "the" in tokens and any(token.startswith("##") for token in tokens)
        assert ("The" in tokens) == cased  # uncased vocabularies hold no capitals
        ids = WordPieceTokenizer(path, lowercase=not cased).tokenize(text).flat_values.numpy()
        assert len(ids) > 10_000 and np.mean(ids == 1) < 0.005  # [UNK]: almost none


def _position_rows(encoder):
    return keras.ops.convert_to_numpy(encoder.embeddings.position_embeddings.position_embeddings)


@pytest.mark.slow
def test_finetune_inits_from_transformers_and_tf1_on_user_task_files(tmp_path, pretraining_checkpoint,  # noqa: F811
                                                                     pretrained_run, capsys):
    """Regression (CSV) from a transformers folder, tagging (CoNLL) from an official TF1
    checkpoint, SQuAD (JSON) from a run folder: each trains, is scored and starts from its init."""
    from electra_keras.convert import to_huggingface
    from electra_keras.convert.official_tf1 import from_official_tf1

    _, run = pretrained_run
    # A transformers folder (what `convert` writes), with the run's vocabulary.
    discriminator = keras.saving.load_model(run / "discriminator.keras")
    hf_folder = to_huggingface(discriminator, tmp_path / "hf")
    (hf_folder / "vocab.txt").write_bytes(packages.bert_uncased_vocab().read_bytes())
    rng = np.random.default_rng(0)
    words = "good bad film plot great dull acting story".split()
    rows = [(" ".join(rng.choice(words, 4)), f"{rng.uniform(0, 5):.2f}") for _ in range(20)]
    for name in ("train", "dev"):
        (tmp_path / f"{name}.csv").write_text("text,label\n" + "".join(f"{t},{s}\n" for t, s in rows))
    out = tmp_path / "regression"
    assert main(["finetune", "--task", "regression", "--train", str(tmp_path / "train.csv"),
                 "--dev", str(tmp_path / "dev.csv"), "--init", str(hf_folder), "--out", str(out),
                 *FINETUNE_TINY]) == 0
    scores = json.loads((out / "scores.json").read_text())
    assert scores["kind"] == "regression" and scores["train_examples"] == 20 and _saved_updates(out) == 3
    assert -1.0 <= scores["dev"]["pearson"] <= 1.0 and -1.0 <= scores["dev"]["spearman"] <= 1.0
    model = keras.saving.load_model(out / "model.keras")
    assert model.regression and model.predict(["good film"], verbose=0).shape == (1,)
    np.testing.assert_allclose(_position_rows(model.backbone)[16:], _position_rows(discriminator.encoder)[16:],
                               rtol=1e-4)

    # An official TF1 checkpoint folder, with its vocab.txt beside it (test_convert_tf1's tiny ELECTRA).
    folder = tmp_path / "electra_tiny"
    folder.mkdir()
    for file in pretraining_checkpoint.iterdir():
        (folder / file.name).write_bytes(file.read_bytes())
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
                                                + [f"w{i}" for i in range(VOCAB - 5)]) + "\n")
    sentences = [[(f"w{i}", "B-PER" if i % 3 == 0 else "O") for i in rng.integers(0, 40, 5)] for _ in range(16)]
    conll = "\n\n".join("\n".join(f"{w} {t}" for w, t in sentence) for sentence in sentences) + "\n"
    (tmp_path / "train.conll").write_text(conll)
    out = tmp_path / "tagging"
    assert main(["finetune", "--task", "tagging", "--train", str(tmp_path / "train.conll"),
                 "--dev", str(tmp_path / "train.conll"), "--init", str(folder), "--out", str(out),
                 *FINETUNE_TINY]) == 0
    scores = json.loads((out / "scores.json").read_text())
    assert scores["kind"] == "tagging" and scores["train_examples"] == 16 and _saved_updates(out) == 2
    assert 0.0 <= scores["dev"]["entity_f1"] <= 1.0
    model = keras.saving.load_model(out / "model.keras")
    assert model.tag_names == ["O", "B-PER"] or sorted(model.tag_names) == ["B-PER", "O"]
    official = from_official_tf1(str(folder))
    official_rows = keras.ops.convert_to_numpy(official.discriminator.encoder.embeddings.position_embeddings.position_embeddings)
    np.testing.assert_allclose(_position_rows(model.backbone)[16:], official_rows[16:], rtol=1e-4)

    # SQuAD v2 JSON from the run folder, at 64 tokens (questions then get at most 32 of them).
    context = "The film was written by Ada Lovelace in London."
    squad = {"version": "v2.0", "data": [{"title": "t", "paragraphs": [{"context": context, "qas": [
        {"id": f"q{i}", "question": question, "is_impossible": answer is None,
         "answers": [] if answer is None else [{"text": answer, "answer_start": context.index(answer)}]}
        for i, (question, answer) in enumerate([("Who wrote the film?", "Ada Lovelace"),
                                                ("Where was it written?", "London"),
                                                ("When was it shown?", None)] * 3)]}]}]}
    (tmp_path / "squad.json").write_text(json.dumps(squad))
    out = tmp_path / "squad"
    assert main(["finetune", "--task", "squad", "--train", str(tmp_path / "squad.json"),
                 "--dev", str(tmp_path / "squad.json"), "--init", str(run), "--out", str(out),
                 "--epochs", "1", "--batch-size", "8", "--sequence-length", "64", "--layer-decay", "1.0"]) == 0
    scores = json.loads((out / "scores.json").read_text())
    assert scores["kind"] == "squad" and scores["train_examples"] == 9
    assert _saved_updates(out) == scores["total_steps"] == 2  # 9 questions, one window each
    assert all(0.0 <= scores["dev"][key] <= 100.0 for key in ("exact_match", "f1"))

    # `predict` on QUESTION CONTEXT pairs: an answer that is a span of its context (or none), and
    # `evaluate --data` on the SQuAD file: the fine-tune's dev scores.
    capsys.readouterr()
    assert main(["predict", "--model", str(out), "--format", "json", "Who wrote the film?", context,
                 "Where was it written?", "It was written in Paris by Ada."]) == 0
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(answers) == 2
    for answer, text in zip(answers, (context, "It was written in Paris by Ada.")):
        assert answer["text"] in text and math.isfinite(answer["score"])
    assert main(["predict", "--model", str(out), "Who wrote the film?"]) == 2
    assert "QUESTION CONTEXT pairs" in capsys.readouterr().err
    assert main(["evaluate", "--model", str(out), "--data", str(tmp_path / "squad.json")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["examples"] == 9
    for key in ("exact_match", "f1"):
        assert printed[key] == pytest.approx(scores["dev"][key], abs=1e-6)
