"""Task examples from Hugging Face `datasets` and TensorFlow Datasets.

    read_library_text   classification or regression: a text column (and a
                        second one for pairs) and a label column
    read_library_tags   NER: a column of word lists and a column of tag lists
    read_library_squad  SQuAD's columns: id, question, context, answers
                        {text: [...], answer_start: [...]} (is_impossible, if there)

Each takes a source (`hf:...`, `tfds:...` or a dataset object; see
`electra_keras.data.dataset_libraries`) and the role ("train", "dev" or
"test") whose default split it reads. The rows go through the same checks
as a file's (`files.text_examples`, `files.valid_answers`): skips are
counted with their row number, malformed rows are errors naming it.

A class-label column (a ClassLabel, or a sequence of them for tags) is read
as its names, which are also the label (tag) names, in the dataset's id
order, so a model's class ids are the dataset's.
"""

from __future__ import annotations

from typing import Any

from electra_keras.data.dataset_libraries import Table, open_split, parse_source
from electra_keras.data.tasks.examples import (
    QAExample,
    QAExamples,
    SkipLog,
    TaggedExamples,
    TextExamples,
    skip_summary,
)
from electra_keras.data.tasks.files import sorted_tags, text_examples, valid_answers

SQUAD_COLUMNS = ("id", "question", "context", "answers")


def _table(source: Any, role: str) -> Table:
    if isinstance(source, str) and parse_source(source).column:
        raise ValueError(
            f"{source}: #COLUMN names the text column of a corpus; a task's columns are "
            "text_column and label_column (--text-column, --label-column)"
        )
    return open_split(source, role)


def read_library_text(
    source: Any,
    role: str = "train",
    text_column: str = "text",
    text_b_column: str | None = None,
    label_column: str = "label",
    label_names: list[str] | None = None,
    task: str = "classification",
    names_origin: str = "the label_names argument",
) -> TextExamples:
    """Sentence (pair) classification or regression examples from a dataset split.

    Args:
        source: `hf:...`, `tfds:...`, or a dataset object.
        role: "train", "dev" or "test": the default split (train, validation, test).
        text_column, text_b_column, label_column, label_names, task: as
            `read_text_file`; a ClassLabel label column gives the default
            `label_names`, and its id -1 (no label, as in GLUE's test
            splits) is skipped and counted.
        names_origin: where `label_names` came from, for the unknown-label error.

    Raises:
        ValueError: a missing column or split (the message lists those there
            are), or a malformed row (named by its row number).
    """
    table = _table(source, role)
    columns = [text_column] + ([text_b_column] if text_b_column else []) + [label_column]
    table.require(columns)
    records = (
        (f"{table.source} row {row}", f"row {row}", dict(zip(columns, values)))
        for row, values in enumerate(table.rows(*columns))
    )
    return text_examples(
        records, table.source, text_column, text_b_column, label_column, label_names, task, names_origin,
        class_names=table.class_names.get(label_column),
    )


def _names(values: Any, names: list[str] | None, where: str, column: str) -> list[str]:
    """Tags as strings: ClassLabel ids read as their names."""
    if names is None:
        return [str(value) for value in values]
    bad = [value for value in values if not isinstance(value, int) or not 0 <= value < len(names)]
    if bad:
        raise ValueError(f"{where}: tag id {bad[0]!r} in column {column!r}; it has {len(names)} tags")
    return [names[value] for value in values]


def read_library_tags(
    source: Any,
    role: str = "train",
    text_column: str = "text",
    label_column: str = "label",
    tag_names: list[str] | None = None,
) -> TaggedExamples:
    """NER sentences from a dataset split: a column of word lists, one of tag lists.

    Args:
        source: `hf:...`, `tfds:...`, or a dataset object.
        role: "train", "dev" or "test": the default split.
        text_column: the column of the words of each sentence (Hugging
            Face's NER datasets call it "tokens").
        label_column: the column of their tags, strings or ClassLabel ids
            (Hugging Face's NER datasets: "ner_tags").
        tag_names: the allowed tags (those of the train split); default: the
            column's ClassLabel names, else the tags found, sorted, "O" first.
    """
    table = _table(source, role)
    table.require([text_column, label_column])
    class_names = table.class_names.get(label_column)
    allowed = None if tag_names is None else set(tag_names)
    skips = SkipLog()
    sentences: list[list[str]] = []
    sentence_tags: list[list[str]] = []
    for row, (words, tags) in enumerate(table.rows(text_column, label_column)):
        where = f"{table.source} row {row}"
        if not isinstance(words, list) or not isinstance(tags, list):
            raise ValueError(
                f"{where}: expected a list of words in {text_column!r} and of tags in "
                f"{label_column!r}; found {type(words).__name__} and {type(tags).__name__}"
            )
        if len(words) != len(tags):
            raise ValueError(f"{where}: {len(words)} words but {len(tags)} tags")
        if not words:
            skips.add("empty sentence", f"row {row}")
            continue
        tags = _names(tags, class_names, where, label_column)
        unknown = [tag for tag in tags if allowed is not None and tag not in allowed]
        if unknown:
            raise ValueError(f"{where}: unknown tag {unknown[0]!r}; the known tags are {', '.join(tag_names)}")
        sentences.append([str(word) for word in words])
        sentence_tags.append(tags)
    if not sentences:
        raise ValueError(f"{table.source}: no sentences" + skip_summary(skips.counts, skips.notes))
    if tag_names is None:
        tag_names = class_names or sorted_tags({tag for tags in sentence_tags for tag in tags})
    return TaggedExamples(sentences, sentence_tags, list(tag_names), table.source, skips.counts, skips.notes)


def _answer_list(answers: Any, where: str) -> list:
    """SQuAD answers as [{"text", "answer_start"}]: datasets store {"text": [...], "answer_start": [...]}."""
    if isinstance(answers, dict):
        if set(answers) < {"text", "answer_start"}:
            raise ValueError(f"{where}: answers has keys {sorted(answers)}; expected text and answer_start")
        return [{"text": text, "answer_start": start}
                for text, start in zip(answers["text"], answers["answer_start"])]
    if isinstance(answers, list):
        return answers
    raise ValueError(f"{where}: answers is {type(answers).__name__}; expected {{text: [...], answer_start: [...]}}")


def read_library_squad(source: Any, role: str = "train") -> QAExamples:
    """SQuAD v1.1 / v2.0 questions from a dataset split with SQuAD's columns.

    A question is unanswerable when its `is_impossible` column says so or,
    without that column, when it has no answer (Hugging Face's squad_v2);
    v2.0 when any is. Answers are checked against the context as in
    `read_squad`.
    """
    table = _table(source, role)
    table.require(SQUAD_COLUMNS)
    columns = SQUAD_COLUMNS + (("is_impossible",) if "is_impossible" in table.columns else ())
    skips = SkipLog()
    examples: list[QAExample] = []
    seen: dict[str, int] = {}
    for row, values in enumerate(table.rows(*columns)):
        where = f"{table.source} row {row}"
        qid, question, context, answers = (str(values[0]), *values[1:4])
        if qid in seen:
            raise ValueError(f"{where}: question id {qid!r} already used in row {seen[qid]}; ids must be unique")
        seen[qid] = row
        answers = _answer_list(answers, where)
        impossible = bool(values[4]) if len(values) > 4 else not answers
        if not question or not question.strip():
            skips.add("empty question", f"qid {qid}")
            continue
        if not context or not context.strip():
            skips.add("empty context", f"qid {qid}")
            continue
        if impossible:
            examples.append(QAExample(qid, question, context, [], True))
            continue
        valid = valid_answers(context, answers, qid, skips)
        if not valid:
            skips.add("question without a valid answer", f"qid {qid}")
            continue
        examples.append(QAExample(qid, question, context, valid, False))
    if not examples:
        raise ValueError(f"{table.source}: no questions" + skip_summary(skips.counts, skips.notes))
    version = "2.0" if len(columns) > 4 or any(example.is_impossible for example in examples) else "1.1"
    return QAExamples(examples, version, table.source, skips.counts, skips.notes)
