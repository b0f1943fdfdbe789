"""MediaPipe Tasks' TextClassifier runs the exported TFLite file on raw text.

What Android, iOS and web apps run: MediaPipe reads the vocabulary, the
label names and the input roles from the metadata inside the `.tflite` file,
tokenizes, and reports the model's probabilities as category scores. A tiny
classifier, fine-tuned until its labels differ across sentences, must give
MediaPipe the labels and probabilities Keras gives.
"""

import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
from mediapipe.tasks.python.text import TextClassifier as MediaPipeTextClassifier

from electra_keras.cli import main
from electra_keras.data import packages
from electra_keras.export.tflite import LiteRTModel, export_tflite
from electra_keras.tasks.classifier import TextClassifier
from electra_keras.training.optimizers import finetune_adamw

NAMES = ["negative", "neutral", "positive"]
LENGTH = 16
TRAIN = {
    "negative": ["a dull, boring film", "awful acting and a bad plot", "bad", "I hated every boring minute"],
    "neutral": ["the film is on tonight", "it runs two hours", "a film about a town", "the cast is mostly new"],
    "positive": ["a great, moving film", "wonderful acting and a great plot", "great", "I loved every minute"],
}
# ASCII (MediaPipe's tokenizer lowercases ASCII only and strips no accents),
# with capitals, punctuation, an empty text and one past the sequence length.
TEXTS = ["A GREAT film, truly wonderful!", "What a dull and boring plot.", "The film runs on Tuesday.",
         "", "great " * 20, "I loved it; the cast is great", "Bad, bad, BAD."]


@pytest.fixture(scope="module")
def classifier():
    keras.utils.set_random_seed(0)  # module-scoped: set up before conftest's per-test seed
    clf = TextClassifier.from_preset("tiny", packages.bert_uncased_vocab(), label_names=NAMES,
                                     config_overrides={"max_position_embeddings": 64}, sequence_length=LENGTH,
                                     dropout_rate=0.0)
    clf.compile(optimizer=finetune_adamw(clf, learning_rate=2e-3, total_steps=None, layer_decay=1.0))
    texts = [text for name in NAMES for text in TRAIN[name]]
    labels = [name for name in NAMES for _ in TRAIN[name]]
    clf.fit(texts * 4, labels * 4, epochs=8, batch_size=8, verbose=0)
    return clf


@pytest.fixture(scope="module")
def exported(classifier, tmp_path_factory):
    """The README's command: `electra-keras export --format tflite --mediapipe` on the saved classifier."""
    folder = tmp_path_factory.mktemp("mediapipe")
    classifier.save(folder / "clf.keras")
    assert main(["export", "--model", str(folder / "clf.keras"), "--out", str(folder / "model.tflite"),
                 "--format", "tflite", "--mediapipe"]) == 0
    return folder / "model.tflite"


def mediapipe_scores(path: Path, texts) -> tuple[list[str], np.ndarray]:
    """MediaPipe's top label and its score of every class (by index), per text."""
    labels, scores = [], np.zeros((len(texts), len(NAMES)))
    with MediaPipeTextClassifier.create_from_model_path(str(path)) as mediapipe:
        for row, text in enumerate(texts):
            (head,) = mediapipe.classify(text).classifications
            labels.append(head.categories[0].category_name)  # sorted by score
            for category in head.categories:
                scores[row, category.index] = category.score
                assert category.category_name == NAMES[category.index]
    return labels, scores


@pytest.mark.slow
def test_mediapipe_text_classifier_gives_the_keras_labels_and_probabilities(classifier, exported):
    expected = classifier.predict_labels(TEXTS)
    assert len(set(expected)) >= 2, expected  # a model that says one thing would prove nothing
    labels, scores = mediapipe_scores(exported, TEXTS)
    assert labels == expected
    np.testing.assert_allclose(scores, classifier.predict_probabilities(TEXTS), atol=1e-5)

    # The metadata carries what MediaPipe reads: the vocabulary and the label names.
    with zipfile.ZipFile(exported) as files:
        assert sorted(files.namelist()) == ["labels.txt", "vocab.txt"]
        assert files.read("labels.txt").decode().split("\n") == NAMES
        assert files.read("vocab.txt") == (exported.parent / "vocab.txt").read_bytes()

    # The same file still runs in LiteRT, batched, with the side files.
    litert = LiteRTModel(exported)
    outputs = litert.predict(TEXTS)
    assert set(outputs) == {"probabilities", "label"} and outputs["label"] == expected
    np.testing.assert_allclose(outputs["probabilities"], scores, atol=1e-5)
    assert litert.info["mediapipe"] and litert.predict([])["label"] == []


def test_mediapipe_export_refuses_what_mediapipe_would_tokenize_otherwise(classifier, tmp_path, capsys):
    vocabulary = packages.bert_uncased_vocab()
    pair = TextClassifier.from_preset("tiny", vocabulary, num_classes=2, pair=True, sequence_length=LENGTH)
    with pytest.raises(ValueError, match="classifies one text"):
        export_tflite(pair, tmp_path / "pair.tflite", mediapipe=True)
    cased = TextClassifier.from_preset("tiny", vocabulary, num_classes=2, lowercase=False, sequence_length=LENGTH)
    with pytest.raises(ValueError, match="cased"):
        export_tflite(cased, tmp_path / "cased.tflite", mediapipe=True)
    with pytest.raises(ValueError, match="drop raw_text"):
        export_tflite(classifier, tmp_path / "raw.tflite", mediapipe=True, raw_text=True)

    classifier.save(tmp_path / "clf.keras")
    assert main(["export", "--model", str(tmp_path / "clf.keras"), "--out", str(tmp_path / "served"),
                 "--mediapipe"]) == 2
    assert "--mediapipe applies to --format tflite" in capsys.readouterr().err
