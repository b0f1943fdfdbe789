"""Reading task files: CSV, TSV and JSONL examples, CoNLL tags, SQuAD questions.

    read_text_file  sentence (pair) classification or regression, CSV/TSV/JSONL
    read_conll      NER sentences, one word and its tag per line
    read_squad      SQuAD v1.1 / v2.0 JSON

(`splits.read_splits` reads train/dev/test together, from these files or
from dataset libraries.)

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

Labels: a classification label is named by its string ("1" for 1 and 1.0);
without `label_names`, the names are the file's labels, sorted (numerically
when all are integers). Regression labels must be finite numbers.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from electra_keras.data.tasks.examples import (
    QAExample,
    QAExamples,
    SkipLog,
    TaggedExamples,
    TextExamples,
    skip_summary,
)

# ----------------------------------------------------------------------------
# Formats

FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


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


def read_records(
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


# ----------------------------------------------------------------------------
# Labels

TASKS = ("classification", "regression")


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


def float_label(value: Any, column: str, where: str) -> float:
    """A regression label as a finite float; an error naming `where` and `column` if not."""
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


def sorted_tags(tags: set[str]) -> list[str]:
    # "O" first so that tag id 0 is "outside an entity", as in the CoNLL scripts.
    return sorted(tags, key=lambda tag: (tag != "O", tag))


# ----------------------------------------------------------------------------
# Readers


def read_text_file(
    path: str | os.PathLike,
    text_column: str = "text",
    text_b_column: str | None = None,
    label_column: str = "label",
    label_names: Sequence[str | int] | None = None,
    task: str = "classification",
    format: str | None = None,
    *,
    names_origin: str = "the label_names argument",
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
        names_origin: where `label_names` came from, for the unknown-label
            error (`read_splits` passes the train file).

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
    path = Path(path)
    format = _format_of(path, format)
    required = [text_column] + ([text_b_column] if text_b_column else []) + [label_column]
    records = (
        (f"{path}:{line}", f"{path.name}:{line}", record)
        for line, record in read_records(path, format, required)
    )
    return text_examples(
        records, str(path), text_column, text_b_column, label_column, label_names, task, names_origin
    )


def text_examples(
    records: Iterable[tuple[str, str, dict[str, Any] | None]],
    source: str,
    text_column: str,
    text_b_column: str | None,
    label_column: str,
    label_names: Sequence[str | int] | None,
    task: str,
    names_origin: str,
    class_names: Sequence[str] | None = None,
) -> TextExamples:
    """TextExamples from records, for any reader (files here, dataset libraries in `libraries.py`).

    Args:
        records: (where, note, record) per row: `where` locates the row in
            errors, `note` in skip notes, `record` maps columns to values (None
            for a blank line).
        source: what the records were read from.
        class_names: the label column's class names in id order, when the
            source stores classes as ids (a dataset's ClassLabel): ids are
            read as these names, a negative id (no label) is skipped, and
            they are the default `label_names`.
        The rest: as `read_text_file`.
    """
    if task not in TASKS:
        raise ValueError(f"task={task!r}: expected one of {', '.join(TASKS)}")
    if task == "regression" and label_names is not None:
        raise ValueError("label_names: regression labels are numbers; leave label_names as None")
    if label_names is not None:
        label_names = [_label_key(name, "label_names") for name in label_names]
        if len(set(label_names)) != len(label_names):
            raise ValueError(f"label_names={label_names!r}: names must be unique")
    skips = SkipLog()
    texts: list[str] = []
    texts_b: list[str] = []
    raw_labels: list[str | float] = []
    for where, note, record in records:
        if record is None:
            skips.add("blank line", note)
            continue
        text = _text_field(record, text_column, where)
        text_b = _text_field(record, text_b_column, where) if text_b_column else None
        value = record[label_column]
        if class_names is not None and task == "classification" and isinstance(value, int):
            if value < 0:
                skips.add("no label (class id below 0)", note)
                continue
            if value >= len(class_names):
                raise ValueError(
                    f"{where}: class id {value} in column {label_column!r}; the column has "
                    f"{len(class_names)} classes ({', '.join(class_names)})"
                )
            value = class_names[value]
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
            raw_labels.append(float_label(value, label_column, where))
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
    if not texts:
        raise ValueError(
            f"{source}: no examples" + (skip_summary(skips.counts, skips.notes) or " (no rows)")
        )
    if task == "classification":
        if label_names is None:
            label_names = list(class_names) if class_names is not None else _sorted_names(set(raw_labels))
        index = {name: i for i, name in enumerate(label_names)}
        labels: list = [index[label] for label in raw_labels]
    else:
        labels = raw_labels
    return TextExamples(
        texts=texts,
        texts_b=texts_b if text_b_column else None,
        labels=labels,
        label_names=label_names if task == "classification" else None,
        source=source,
        skipped=skips.counts,
        skip_notes=skips.notes,
    )


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
    skips = SkipLog()
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
        tag_names = sorted_tags({tag for sentence in sentence_tags for tag in sentence})
    return TaggedExamples(
        sentences, sentence_tags, list(tag_names), str(path), skips.counts, skips.notes
    )


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
    skips = SkipLog()
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
                answers = valid_answers(
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
            f"{path}: no questions" + (skip_summary(skips.counts, skips.notes) or "")
        )
    return QAExamples(examples, version, str(path), skips.counts, skips.notes)


def valid_answers(context: str, answers: list, qid: str, skips: SkipLog) -> list[dict]:
    """The answers whose text is `context` at their `answer_start`; the others skipped and counted."""
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
