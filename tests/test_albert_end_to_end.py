"""ALBERT as a user runs it: a SentencePiece model trained on the corpus,
MLM + SOP pretraining with shared layers, the transformers folder it writes,
fine-tuning on sentiment, and the SavedModel and TFLite exports."""

import gzip
import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from electra_keras.cli import main as cli
from electra_keras.data import packages, tasks
from electra_keras.export import export_saved_model
from electra_keras.export.saved_model import graph_ops, unservable_ops
from electra_keras.export.tflite import LiteRTModel, export_tflite
from electra_keras.tasks.classifier import TextClassifier
from electra_keras.training.optimizers import finetune_adamw

TEXTS = ["A gripping, beautifully shot film.", "two hours I will never get back", "Crème brûlée [MASK] ok",
         "", b"\xff\xfe good \xc3".decode("utf-8", "replace")]
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """`build-vocab --type sentencepiece`, then `pretrain --objective albert` with it."""
    folder = tmp_path_factory.mktemp("albert")
    lines = gzip.open(packages.wikitext2_file("valid"), "rt", encoding="utf-8").read().splitlines()
    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(lines[:600]), encoding="utf-8")
    model_file = folder / "spiece.model"
    assert cli(["build-vocab", "--type", "sentencepiece", "--corpus", str(corpus), "--out", str(model_file),
                "--size", "800"]) == 0
    out = folder / "run"
    assert cli(["pretrain", "--out", str(out), "--objective", "albert", "--corpus", str(corpus),
                "--vocabulary", str(model_file), "--preset", "tiny", "--config", "family=albert",
                "--config", "share=all", "--config", "hidden_act=gelu_new", "--config", "num_layers=3",
                "--config", "max_position_embeddings=64", "--sequence-length", "64", "--batch-size", "8",
                "--steps", "6", "--checkpoint-every", "3", "--log-every", "3", "--learning-rate", "1e-3"]) == 0
    return out


def test_pretraining_writes_an_albert_that_transformers_loads(run):
    import torch
    import transformers

    model = keras.saving.load_model(run / "albert.keras")
    assert model.config.vocab_size == 800 and model.config.share == "all"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {"mlm_loss", "mlm_accuracy", "sop_loss", "sop_accuracy"} <= set(records[-1])
    # Every example of an ALBERT run is a pair, unless its document had one sentence.
    metadata = json.loads((run / "data" / "metadata.json").read_text())
    assert metadata["sentence_pairs"] is True
    assert 0 < metadata["counts"]["single_segment_examples"] <= metadata["corpus"]["documents"]
    folder = run / "huggingface" / "albert"
    tokenizer = transformers.AlbertTokenizer.from_pretrained(folder)
    reference = transformers.AlbertForPreTraining.from_pretrained(folder).eval()
    ours = TextClassifier.from_pretrained(run, num_classes=2, sequence_length=24).tokenizer
    texts, texts_b = ["The game was released in Japan."], ["Its sales were strong, with 12,000 copies!"]
    expected = tokenizer(texts, texts_b, return_tensors="np", padding="max_length", max_length=24,
                         truncation="longest_first", return_token_type_ids=True)
    packed = ours(texts, texts_b, sequence_length=24)
    np.testing.assert_array_equal(packed["token_ids"], expected["input_ids"])
    np.testing.assert_array_equal(packed["segment_ids"], expected["token_type_ids"])
    with torch.no_grad():
        theirs = reference(input_ids=torch.tensor(expected["input_ids"]),
                           token_type_ids=torch.tensor(expected["token_type_ids"]),
                           attention_mask=torch.tensor(expected["attention_mask"]))
    outputs = model(packed)
    np.testing.assert_allclose(outputs["sop_logits"], theirs.sop_logits.numpy(), atol=TOLERANCE)
    np.testing.assert_allclose(outputs["mlm_logits"], theirs.prediction_logits.numpy(), atol=1e-4)


@pytest.fixture(scope="module")
def classifier(run):
    sentiment = tasks.sentiment()
    labels = np.asarray(sentiment.train.labels)
    chosen = np.random.default_rng(0).permutation(
        np.concatenate([np.flatnonzero(labels == c)[:32] for c in (0, 1)]))
    texts = [sentiment.train.texts[i] for i in chosen]
    # A module fixture runs before the per-test seed: seed it here, so it does not
    # depend on which tests ran first.
    keras.utils.set_random_seed(0)
    model = TextClassifier.from_pretrained(run, label_names=["negative", "positive"], sequence_length=64,
                                           dropout_rate=0.0)
    # 6 pretraining steps leave [CLS] nearly the same for every text (std across
    # texts 0.003): 24 epochs at 1e-3 separated the classes for every seed tried
    # (0-3), where 12 at 3e-3 stayed at chance for some.
    model.compile(optimizer=finetune_adamw(model, learning_rate=1e-3, total_steps=None, layer_decay=1.0))
    model.before_ = model.evaluate(texts, labels[chosen], verbose=0, return_dict=True)
    model.fit(texts, labels[chosen], epochs=24, batch_size=16, verbose=0)
    model.after_ = model.evaluate(texts, labels[chosen], verbose=0, return_dict=True)
    return model


@pytest.mark.threshold
def test_fine_tunes_on_sentiment_and_round_trips(classifier, tmp_path, record_property):
    record_property("figures", {"loss": classifier.after_["loss"], "accuracy": classifier.after_["accuracy"]})
    assert classifier.after_["loss"] < 0.5 * classifier.before_["loss"]
    assert classifier.after_["accuracy"] >= 0.9 > classifier.before_["accuracy"] + 0.2
    assert type(classifier.tokenizer).__name__ == "SentencePieceTokenizer"
    classifier.save(tmp_path / "clf.keras")
    loaded = keras.saving.load_model(tmp_path / "clf.keras")
    np.testing.assert_allclose(loaded.predict(TEXTS, verbose=0), classifier.predict(TEXTS, verbose=0), atol=1e-6)


def test_saved_model_tokenizes_with_sentencepiece_in_graph(classifier, tmp_path):
    path = export_saved_model(classifier, tmp_path / "sentiment")
    assert (path / "assets" / "spiece.model").read_bytes() == classifier.tokenizer.model_proto
    ops = graph_ops(path)
    assert {"SentencepieceOp", "SentencepieceTokenizeOp"} <= ops
    assert unservable_ops(path) == set()
    jobs = [{"key": "raw", "model": str(path), "signature": "serving_default", "inputs": {"text": TEXTS}}]
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    client = Path(__file__).with_name("serving_client.py")
    subprocess.run([sys.executable, str(client), str(tmp_path / "jobs.json"), str(tmp_path / "out.npz")],
                   check=True, capture_output=True)
    served = np.load(tmp_path / "out.npz", allow_pickle=True)
    assert "electra_keras" not in set(served["modules"])
    logits = classifier.predict(TEXTS, verbose=0)
    assert float(np.max(np.abs(served["raw/logits"] - logits))) <= TOLERANCE
    assert [s.decode() for s in served["raw/label"]] == classifier.predict_labels(TEXTS)


def test_tflite_takes_token_ids_with_the_sentencepiece_model_beside_it(classifier, tmp_path):
    path = export_tflite(classifier, tmp_path / "tflite" / "model.tflite")
    assert (path.parent / "spiece.model").is_file() and not (path.parent / "vocab.txt").exists()
    lite = LiteRTModel(path)
    assert float(np.max(np.abs(lite.predict(TEXTS)["logits"] - classifier.predict(TEXTS, verbose=0)))) <= 1e-4
    with pytest.raises(ValueError, match="SentencePiece"):
        export_tflite(classifier, tmp_path / "raw" / "model.tflite", raw_text=True)
