"""What the task readers return: examples, their splits, and what was skipped.

    TextExamples    sentences or sentence pairs with a class id or a float
    TaggedExamples  word sequences with one BIO tag per word (NER)
    QAExamples      SQuAD questions with their context and answer spans
    Splits          train / dev / test of one of the above

Plain Python, no TensorFlow: the task models turn these into tensors.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Generic, TypeVar

# Enough skipped rows per reason to find the problem in the file; the counts
# in `skipped` stay complete.
NOTES_PER_REASON = 5


def skip_summary(skipped: dict[str, int], notes: Sequence[str]) -> str:
    """"; skipped N (reason count, ...); e.g. note; ..." for a summary, or "" if none."""
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
            + skip_summary(self.skipped, self.skip_notes)
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
            + skip_summary(self.skipped, self.skip_notes)
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
            f"from {self.source}" + skip_summary(self.skipped, self.skip_notes)
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


class SkipLog:
    """Counts skipped items by reason and keeps the first few locations.

    Example:
        >>> skips = SkipLog()
        >>> skips.add("empty text", "train.csv:3")
        >>> skips.counts, skips.notes
        ({'empty text': 1}, ['train.csv:3: empty text'])
    """

    def __init__(self):
        self.counts: dict[str, int] = {}
        self.notes: list[str] = []

    def add(self, reason: str, where: str) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        if self.counts[reason] <= NOTES_PER_REASON:
            self.notes.append(f"{where}: {reason}")

