"""Hugging Face `datasets` and TFDS datasets as fine-tuning data and pretraining corpora.

A tiny DatasetDict saved with `save_to_disk` and a tiny TFDS builder,
prepared into a temporary data dir and loaded by name, go through the same
paths as files: `finetune --train hf:... --dev tfds:...` and
`pretrain --corpus hf:... tfds:...`. Offline; the libraries' objects too.
"""

import dataclasses
import json
import sys

import pytest

datasets = pytest.importorskip("datasets")
tfds = pytest.importorskip("tensorflow_datasets")

from electra_keras.cli import main  # noqa: E402
from electra_keras.data import tasks  # noqa: E402
from electra_keras.data.corpus import library_corpus, read_documents, resolve_corpus  # noqa: E402
from electra_keras.data.dataset_libraries import open_split, parse_source  # noqa: E402
from electra_keras.training.finetune import FinetuningOptions, load_task_data  # noqa: E402
from electra_keras.training.pretrain import PretrainingOptions, pretrain  # noqa: E402

# Two phrases per class, repeated: a tiny model separates them in a few epochs.
REVIEWS = [("a good film", "pos"), ("a bad film", "neg"), ("great acting", "pos"), ("dull plot", "neg")]
# The Hugging Face copy numbers its classes pos=0, neg=1 (not sorted); the
# TFDS copy neg=0, pos=1. Examples must keep their class names across both.
HF_CLASSES = ["pos", "neg"]
TFDS_CLASSES = ["neg", "pos"]
TFDS_TEXTS = ["great acting", "dull plot", "a good film", "a bad film", "dull plot"]
TFDS_TEST_TEXTS = ["a bad film", "great acting"]
LABEL_OF = dict(REVIEWS)


class TinyReviews(tfds.core.GeneratorBasedBuilder):
    """Registered with TFDS as "tiny_reviews" by being defined."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
            "review": tfds.features.Text(),
            "stars": tfds.features.ClassLabel(names=TFDS_CLASSES),
        }))

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(TFDS_TEXTS), "test": self._generate_examples(TFDS_TEST_TEXTS)}

    def _generate_examples(self, texts):
        for index, text in enumerate(texts):
            yield index, {"review": text, "stars": TFDS_CLASSES.index(LABEL_OF[text])}


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory):
    """A DatasetDict (train 12, validation 4 + one unlabelled row) written by save_to_disk."""
    features = datasets.Features({"review": datasets.Value("string"),
                                  "stars": datasets.ClassLabel(names=HF_CLASSES)})

    def split(rows):
        return datasets.Dataset.from_dict({"review": [text for text, _ in rows],
                                           "stars": [HF_CLASSES.index(label) if label else -1
                                                     for _, label in rows]}, features=features)

    folder = tmp_path_factory.mktemp("hf") / "reviews"
    datasets.DatasetDict(train=split(REVIEWS * 3), validation=split(REVIEWS + [("no label", None)])
                         ).save_to_disk(str(folder))
    return folder


@pytest.fixture
def tfds_dir(tmp_path_factory, monkeypatch):
    data_dir = tmp_path_factory.getbasetemp() / "tfds"
    if not (data_dir / "tiny_reviews").exists():
        TinyReviews(data_dir=str(data_dir)).download_and_prepare()
    monkeypatch.setenv("TFDS_DATA_DIR", str(data_dir))
    return data_dir


@pytest.fixture(scope="module")
def vocabulary(tmp_path_factory):
    """Every word of the tests' texts: a small vocabulary keeps the tiny models fast."""
    words = sorted({word for text in [*LABEL_OF, "no label"] for word in text.split()}
                   | {"first", "sentence", "here", "second", "one", "another", "document", "."})
    path = tmp_path_factory.mktemp("vocabulary") / "vocab.txt"
    path.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _corpus_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ELECTRA_KERAS_CACHE", str(tmp_path / "cache"))


def test_sources_parse_into_name_config_split_and_column():
    source = parse_source("hf:nyu-mll/glue:sst2@validation#sentence")
    assert (source.library, source.name, source.config, source.split, source.column) == (
        "hf", "nyu-mll/glue", "sst2", "validation", "sentence")
    assert str(source) == "hf:nyu-mll/glue:sst2@validation#sentence"
    tfds_source = parse_source("tfds:glue/sst2:2.0.0@train[:10%]")
    assert (tfds_source.name, tfds_source.config, tfds_source.split) == ("glue/sst2:2.0.0", None, "train[:10%]")


def test_hf_folder_and_tfds_name_read_as_task_splits(hf_folder, tfds_dir):
    options = FinetuningOptions(out="-", task="classification", preset="tiny", train=f"hf:{hf_folder}",
                                dev=f"hf:{hf_folder}", test=f"tfds:tiny_reviews",
                                text_column="review", label_column="stars")
    splits = load_task_data(options)
    # The dataset's class order, not sorted names: ids mean what they mean in the dataset.
    assert splits.train.label_names == ["pos", "neg"]
    assert splits.train.texts == [text for text, _ in REVIEWS * 3]
    assert splits.train.labels == [HF_CLASSES.index(label) for _, label in REVIEWS * 3]
    assert splits.train.source == f"hf:{hf_folder}@train"
    # dev: the validation split; its unlabelled row (class id -1) skipped and counted.
    assert splits.dev.texts == [text for text, _ in REVIEWS]
    assert splits.dev.skipped == {"no label (class id below 0)": 1}
    # test: the TFDS test split (in TFDS's stored order), its ids (neg=0, pos=1) read as
    # names, then as the train ids.
    assert splits.test.source == "tfds:tiny_reviews@test"
    names = [splits.train.label_names[label] for label in splits.test.labels]
    assert sorted(zip(splits.test.texts, names)) == sorted((text, LABEL_OF[text]) for text in TFDS_TEST_TEXTS)

    # The objects themselves: a DatasetDict gives the split of each role, a builder its splits.
    reviews = datasets.load_from_disk(str(hf_folder))
    objects = tasks.read_splits(reviews, reviews, tfds.builder("tiny_reviews", data_dir=str(tfds_dir)),
                                text_column="review", label_column="stars")
    assert objects.train.texts == splits.train.texts and objects.dev.labels == splits.dev.labels
    assert objects.test.texts == splits.test.texts  # the builder's test split
    # FinetuningOptions take the objects; options.json records what they were.
    from electra_keras.training.finetune import _recorded

    recorded = _recorded(dataclasses.replace(options, train=reviews, dev=reviews["validation"]))
    assert (recorded.train, recorded.dev) == ("a datasets.DatasetDict object (splits train, validation)",
                                              "a datasets.Dataset object (5 rows)")
    assert load_task_data(dataclasses.replace(options, train=reviews, dev=None, test=None)).train == objects.train
    assert sorted(tasks.read_library_text("tfds:tiny_reviews@train", text_column="review",
                                          label_column="stars").texts) == sorted(TFDS_TEXTS)


def test_tagging_and_squad_columns_from_datasets():
    ner = datasets.Dataset.from_dict(
        {"tokens": [["Ada", "wrote", "it"], ["in", "London"]], "ner_tags": [[1, 0, 0], [0, 2]]},
        features=datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")),
                                    "ner_tags": datasets.Sequence(datasets.ClassLabel(
                                        names=["O", "B-PER", "B-LOC"]))}))
    tagged = tasks.read_splits(ner, kind="conll", text_column="tokens", label_column="ner_tags").train
    assert tagged.words == [["Ada", "wrote", "it"], ["in", "London"]]
    assert tagged.tags == [["B-PER", "O", "O"], ["O", "B-LOC"]]
    assert tagged.tag_names == ["O", "B-PER", "B-LOC"]

    squad = datasets.Dataset.from_dict({
        "id": ["q1", "q2", "q3"], "question": ["Who?", "Where?", "When?"],
        "context": ["Ada wrote it.", "In London.", "Never."],
        "answers": [{"text": ["Ada"], "answer_start": [0]}, {"text": ["Paris"], "answer_start": [3]},
                    {"text": [], "answer_start": []}]})
    questions = tasks.read_splits(squad, kind="squad").train
    assert [(q.qid, q.answers, q.is_impossible) for q in questions] == [
        ("q1", [{"text": "Ada", "answer_start": 0}], False), ("q3", [], True)]
    assert questions.version == "2.0"
    assert questions.skipped == {"answer text does not match the context": 1,
                                 "question without a valid answer": 1}


def test_missing_library_column_and_split_are_named(hf_folder, tfds_dir, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"@train: no column 'label'; its columns are 'review', 'stars'"):
        tasks.read_library_text(f"hf:{hf_folder}", text_column="review")
    with pytest.raises(ValueError, match=r"no split 'dev'; its splits are train, validation"):
        open_split(f"hf:{hf_folder}@dev")
    with pytest.raises(ValueError, match=r"no dev split \(tried validation, dev, valid\); its splits are "
                                         r"train, test; name one as tfds:tiny_reviews@SPLIT"):
        open_split("tfds:tiny_reviews", role="dev")
    with pytest.raises(FileNotFoundError, match="TFDS has no dataset 'no_such_dataset'"):
        open_split("tfds:no_such_dataset")
    # Not a folder: a Hub name, which fails offline (the tests set HF_HUB_OFFLINE).
    with pytest.raises(FileNotFoundError, match=r"hf:nobody/nothing:cfg: no such folder, and "
                                                r"datasets.load_dataset\('nobody/nothing', 'cfg'\) failed"):
        open_split("hf:nobody/nothing:cfg")
    with pytest.raises(ValueError, match="#COLUMN names the text column of a corpus"):
        tasks.read_library_text(f"hf:{hf_folder}#review")
    with pytest.raises(ValueError, match=r"no text column 'text'; its columns are 'review', 'stars'"):
        library_corpus(f"hf:{hf_folder}")
    monkeypatch.setitem(sys.modules, "datasets", None)  # as if not installed
    with pytest.raises(ImportError, match=r"needs the datasets library; install it with `pip install datasets`"):
        open_split("hf:anything")
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)
    assert main(["finetune", "--task", "classification", "--train", "tfds:tiny_reviews", "--preset", "tiny",
                 "--out", str(tmp_path / "run")]) == 2  # a user error: one line, status 2


def test_finetune_on_a_hf_folder_scored_on_a_tfds_split(hf_folder, tfds_dir, vocabulary, tmp_path, monkeypatch):
    from electra_keras.tasks.base import TaskModel
    from electra_keras.training import finetune

    seen = {}
    original_fit, original_score = TaskModel.fit, finetune.score

    def fit(self, x=None, y=None, **kwargs):
        seen.update(x=list(x), y=[int(label) for label in y], label_names=list(self.label_names))
        return original_fit(self, x, y, **kwargs)

    def score(model, kind, examples, **kwargs):
        seen["scored"] = examples
        return original_score(model, kind, examples, **kwargs)

    monkeypatch.setattr(TaskModel, "fit", fit)
    monkeypatch.setattr(finetune, "score", score)
    out = tmp_path / "run"
    assert main(["finetune", "--task", "classification", "--train", f"hf:{hf_folder}",
                 "--test", "tfds:tiny_reviews", "--text-column", "review", "--label-column", "stars",
                 "--preset", "tiny", "--vocabulary", str(vocabulary), "--config", "num_layers=1",
                 "--config", "max_position_embeddings=16", "--sequence-length", "8", "--epochs", "1",
                 "--batch-size", "12", "--out", str(out)]) == 0
    # Fit on the Hugging Face rows, with the dataset's class ids (pos=0, neg=1) ...
    assert seen["label_names"] == ["pos", "neg"]
    assert seen["x"] == [text for text, _ in REVIEWS * 3]
    assert seen["y"] == [HF_CLASSES.index(label) for _, label in REVIEWS * 3]
    # ... and scored on the TFDS test rows, whose ids (neg=0, pos=1) became the same names.
    scored = seen["scored"]
    assert sorted(zip(scored.texts, (seen["label_names"][label] for label in scored.labels))) == sorted(
        (text, LABEL_OF[text]) for text in TFDS_TEST_TEXTS)
    scores = json.loads((out / "scores.json").read_text())
    assert scores["train_examples"] == 12 and scores["total_steps"] == 1 and "accuracy" in scores["test"]
    recorded = json.loads((out / "options.json").read_text())
    assert recorded["train"] == f"hf:{hf_folder}" and recorded["test"] == "tfds:tiny_reviews"


def test_pretrain_on_hf_and_tfds_corpora(hf_folder, tfds_dir, vocabulary, tmp_path):
    texts = datasets.Dataset.from_dict({"text": ["First sentence here. Second one.", "", "Another document."]})
    paths = resolve_corpus([f"hf:{hf_folder}#review", "tfds:tiny_reviews@test#review", texts])
    written = [path.read_text(encoding="utf-8") for path in paths]
    assert written[0] == "".join(f"{text}\n\n" for text, _ in REVIEWS * 3)
    assert sorted(written[1].split("\n\n")) == sorted(TFDS_TEST_TEXTS + [""])  # TFDS's stored order
    assert written[2] == "First sentence here. Second one.\n\nAnother document.\n\n"
    assert resolve_corpus([texts]) == paths[2:]  # converted once, found again by its fingerprint
    train = datasets.load_from_disk(str(hf_folder))["train"]
    assert library_corpus(train, text_column="review").read_text(encoding="utf-8") == written[0]
    assert [len(list(read_documents([path]))) for path in paths] == [12, 2, 2]

    # A few steps on all three (MLM, no export: the corpus is what is tested here).
    options = PretrainingOptions(
        out=str(tmp_path / "run"), corpus=[f"hf:{hf_folder}#review", "tfds:tiny_reviews#review", texts],
        objective="mlm", preset="tiny", vocabulary=str(vocabulary),
        config={"num_layers": 1, "max_position_embeddings": 32}, sequence_length=32,
        batch_size=4, total_steps=2, checkpoint_every=2, log_every=1, export=False)
    assert options.corpus[2] == str(paths[2])  # the object, as its corpus file (run.json names a file)
    assert pretrain(options)["steps"] == 2
    data = tmp_path / "run" / "data"
    metadata = json.loads((data / "metadata.json").read_text())
    # 12 reviews from the DatasetDict's train split, 5 from the TFDS train split and the
    # object's 2 documents (3 sentences).
    assert metadata["corpus"]["documents"] == 12 + 5 + 2 and metadata["corpus"]["sentences"] == 12 + 5 + 3
    assert len(metadata["corpus"]["paths"]) == 3
    # The examples trained on hold exactly the words of those rows.
    import tensorflow as tf

    words = vocabulary.read_text(encoding="utf-8").split("\n")
    found = []
    for record in tf.data.TFRecordDataset(sorted(str(path) for path in data.glob("*.tfrecord"))):
        example = tf.train.Example.FromString(record.numpy())
        found += [words[i] for i in example.features.feature["token_ids"].int64_list.value if i > 4]
    expected = [text for text, _ in REVIEWS * 3] + TFDS_TEXTS + ["first sentence here . second one .",
                                                                 "another document ."]
    assert sorted(found) == sorted(" ".join(expected).split())
