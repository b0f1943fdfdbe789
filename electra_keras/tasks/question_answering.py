"""Extractive span question answering: SQuAD v1.1 and v2.0.

    QAExamples -> build_windows (context split into basic tokens with character
    spans -> word pieces -> windows `[CLS] question [SEP] context-window [SEP]`
    with start/end labels) -> model (start/end logits per position, v2.0: an
    answerable logit per window) -> decode_answers (best valid span over all
    windows, mapped back to characters of the original context)

Windows are built in Python/NumPy rather than in tf.data: a long context
becomes a variable number of windows, and decoding needs, per position, the
characters it came from. The word pieces still come from the model's own
in-graph tokenizer (`WordPieceTokenizer.tokenize`), so the ids are those the
model sees everywhere else.

The conventions are BERT's `run_squad.py` (which ELECTRA's fine-tuning code
inherits), except where noted: the question is cut to `max_query_length`
pieces; a window whose context does not hold the whole answer is labelled
start = end = 0 ([CLS]); decoding keeps the `n_best` start and end logits,
pairs them into spans of at most `max_answer_length` pieces inside the
context, and reads a piece that several windows share only in the window
where it has the most context on both sides. `doc_stride` is the number of
context pieces consecutive windows share (as in Hugging Face's run_qa.py;
BERT's flag of the same name is the step between window starts).
"""

from __future__ import annotations

import dataclasses
import functools
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from electra_keras.data.pipeline import without_autotune_thread
from electra_keras.data.tasks import QAExample, QAExamples
from electra_keras.layers.embeddings import truncated_normal
from electra_keras.tasks import metrics
from electra_keras.tasks.base import DEFAULT_BATCH_SIZE, TaskModel

# Outputs of the model; the labels of `fit` use the same keys (Keras matches
# dict losses to dict outputs by key).
START, END, ANSWERABLE = "start_logits", "end_logits", "answerable_logits"
# The ELECTRA head's beam outputs at inference (see `ElectraSpanHead`).
BEAM = ("start_top_log_probs", "start_top_index", "end_top_log_probs", "end_top_index")
HEADS = ("bert", "electra")

# ----------------------------------------------------------------------------
# Basic tokens with character spans.
#
# The same boundaries as the tokenizer's BertPreTokenizer (tokenizer.py):
# whitespace separates tokens, and every punctuation character (ASCII
# punctuation and symbols, Unicode category P*) and every CJK ideograph is a
# token of its own. Characters the tokenizer deletes (controls, zero-width
# marks) stay inside their token, where the tokenizer deletes them again, so
# tokenizing each basic token alone gives the ids of tokenizing the whole text.

_WHITESPACE = "\t\n\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_CJK_RANGES = (
    (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2A6DF),
    (0x2A700, 0x2B81F), (0x2B920, 0x2CEAF), (0x2F800, 0x2FA1F),
)
_ASCII_PUNCTUATION = ((0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E))


def _class_ranges(ranges) -> str:
    return "".join(f"\\U{first:08x}-\\U{last:08x}" for first, last in ranges)


@functools.cache
def _basic_token_pattern() -> re.Pattern:
    # Python's `re` has no \p{P}: the category table is read once from
    # unicodedata (a tenth of a second) and compressed into ranges.
    ranges, first = [], None
    for code_point in range(0x110000):
        if unicodedata.category(chr(code_point)).startswith("P"):
            if first is None:
                first = code_point
        elif first is not None:
            ranges.append((first, code_point - 1))
            first = None
    single = _class_ranges([*_ASCII_PUNCTUATION, *ranges, *_CJK_RANGES])
    return re.compile(f"[{single}]|[^{single}{_WHITESPACE}]+")


def basic_token_spans(text: str) -> list[tuple[int, int]]:
    """Character spans `[start, end)` of the basic tokens of `text`.

    Args:
        text: a context (Python `str`).

    Example:
        >>> basic_token_spans("Crème brûlée, 5$!")
        [(0, 5), (6, 12), (12, 13), (14, 15), (15, 16), (16, 17)]
    """
    return [match.span() for match in _basic_token_pattern().finditer(text)]


# ----------------------------------------------------------------------------
# Windows.


@dataclasses.dataclass(frozen=True)
class QAWindows:
    """Model inputs for a batch of questions, one row per window.

    Window `w` holds, at sequence positions `context_offset[w]` ..
    `context_offset[w] + window_length[w] - 1`, the context pieces
    `window_start[w]` .. `window_start[w] + window_length[w] - 1` of question
    `example_index[w]`; `piece_spans[example_index[w]][p]` is the character
    span `[start, end)` in that question's context of the basic token that
    piece `p` belongs to.

    Args:
        features: `token_ids`, `segment_ids`, `padding_mask`, int32
            `[windows, sequence_length]`.
        labels: None, or the training targets keyed like the model outputs:
            `start_logits`/`end_logits` (int32 positions, 0 = [CLS] when the
            answer is not wholly inside the window) and, for SQuAD v2.0,
            `answerable_logits` (float32 1.0 when it is, else 0.0).
        example_index: int `[windows]`, the question of each window.
        context_offset: int `[windows]`, position of the first context piece.
        window_start: int `[windows]`, its index among the context's pieces.
        window_length: int `[windows]`, context pieces in the window.
        piece_spans: one int `[pieces, 2]` array per question.
    """

    features: dict[str, np.ndarray]
    labels: dict[str, np.ndarray] | None
    example_index: np.ndarray
    context_offset: np.ndarray
    window_start: np.ndarray
    window_length: np.ndarray
    piece_spans: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.example_index)

    @property
    def num_examples(self) -> int:
        return len(self.piece_spans)

    def windows_of(self, example: int) -> np.ndarray:
        """The window indices of question `example`, in context order."""
        return self._windows_by_example[example]

    @functools.cached_property
    def _windows_by_example(self) -> list[np.ndarray]:
        order = np.argsort(self.example_index, kind="stable")
        bounds = np.searchsorted(self.example_index[order], np.arange(self.num_examples + 1))
        return [order[first:last] for first, last in zip(bounds[:-1], bounds[1:])]

    @functools.cached_property
    def reach(self) -> int:
        """How many windows to either side can share a context piece with a window."""
        reach = 1
        for windows in self._windows_by_example:
            for i, window in enumerate(windows):
                end = self.window_start[window] + self.window_length[window]
                later = windows[i + 1:]
                reach = max(reach, int(np.sum(self.window_start[later] < end)))
        return reach

    def max_context(self, window: int) -> np.ndarray:
        """Bool `[window_length]`: this window is where each of its pieces has most context.

        BERT's rule: a piece's context in a window is min(pieces to its left,
        pieces to its right) + 0.01 * window length; among the windows that
        hold it, the first with the highest score owns it
        (`span_decoding.max_context`, which decoding uses).
        """
        return self._max_context[window, : self.window_length[window]]

    @functools.cached_property
    def _max_context(self) -> np.ndarray:
        from electra_keras.tasks.span_decoding import max_context

        width = self.features["token_ids"].shape[1] - 3
        per_question = np.bincount(self.example_index, minlength=self.num_examples)
        return max_context(self.window_start, self.window_length, per_question, width, self.reach).numpy()


def _text_list(values, name: str) -> list[str]:
    if isinstance(values, (str, bytes)):
        raise ValueError(f"{name}: a list of texts expected, got one string; wrap it in a list")
    texts = list(values)
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(f"{name}[{index}]: a text (str) expected, got {type(text).__name__}")
    return texts


def _qa_examples(x, name: str) -> list[QAExample] | None:
    """`x` as a list of QAExample, or None when it is something else."""
    if isinstance(x, QAExamples):
        return list(x.examples)
    if isinstance(x, QAExample):
        raise ValueError(f"{name}: a list of QAExample (or QAExamples) expected, got one QAExample")
    if isinstance(x, (list, tuple)) and x and all(isinstance(item, QAExample) for item in x):
        return list(x)
    return None


# ----------------------------------------------------------------------------
# Decoding.


def decode_answers(
    windows: QAWindows,
    outputs: dict[str, np.ndarray],
    contexts: Sequence[str],
    n_best: int = 20,
    max_answer_length: int = 30,
    answerable_threshold: float | None = None,
) -> list[dict[str, Any]]:
    """The best answer of every question from the model's outputs on its windows.

    In each window, the `n_best` highest start and end logits inside the
    context part (starts only where the window has the piece's max context)
    are paired into spans with start <= end and at most `max_answer_length`
    pieces; the span with the highest start_logit + end_logit over all the
    question's windows wins. Positions outside the context (the question,
    [CLS], [SEP], padding) are never predicted. The ELECTRA head's outputs
    (`BEAM`) are decoded as the official `qa_metrics.py` does: each beam start
    with its beam ends, scored by start + end log-probability, under the same
    rules.

    Args:
        windows: what `SpanQuestionAnswerer.build_windows` returned.
        outputs: `start_logits`, `end_logits` `[windows, length]` (or the
            ELECTRA head's `BEAM` outputs), and for SQuAD v2.0
            `answerable_logits` `[windows]`.
        contexts: the context of every question, as given to build_windows.
        n_best: start and end candidates kept per window.
        max_answer_length: longest answer, in pieces.
        answerable_threshold: v2.0: predict no answer ("") when the highest
            answerable probability (sigmoid) over the question's windows is
            below it. None (v1.1): always answer.

    Returns:
        One dict per question: "text" (`context[start:end]`, "" for no
        answer), "start" and "end" (character offsets, end exclusive; None
        for no answer), "score" (start + end logit of the best span; None
        when the context has no valid span) and, with a threshold,
        "answerable_probability".

    Example:
        answers = decode_answers(windows, model.predict(windows.features), contexts)
    """
    from electra_keras.tasks.span_decoding import best_spans

    beam = all(name in outputs for name in BEAM)
    start_logits = np.asarray(outputs[START])
    shape = windows.features["token_ids"].shape
    if start_logits.shape != shape or (not beam and np.shape(outputs[END]) != shape):
        raise ValueError(
            f"outputs: start/end logits of shape {shape} expected (one per window position), got "
            f"{start_logits.shape} and {None if beam else np.shape(outputs[END])}"
        )
    if len(contexts) != windows.num_examples:
        raise ValueError(f"contexts: {windows.num_examples} expected (one per question), got {len(contexts)}")
    if answerable_threshold is not None and ANSWERABLE not in outputs:
        raise ValueError("answerable_threshold: the outputs have no answerable_logits (a SQuAD v1.1 model)")
    if np.any(np.diff(windows.example_index) < 0):
        raise ValueError("windows: expected each question's windows together, in order (as build_windows makes them)")
    names = BEAM if beam else (START, END)
    given = {name: np.asarray(outputs[name]) for name in names + ((ANSWERABLE,) if ANSWERABLE in outputs else ())}
    found = best_spans(
        given, windows.context_offset, windows.window_start, windows.window_length,
        np.bincount(windows.example_index, minlength=windows.num_examples),
        sequence_length=shape[1], reach=windows.reach, n_best=n_best, max_answer_length=max_answer_length,
    )
    found = {name: value.numpy() for name, value in found.items()}
    answers = []
    for example, context in enumerate(contexts):
        score = found["score"][example]
        if np.isfinite(score):
            spans = windows.piece_spans[example]
            start, end = int(spans[found["first"][example], 0]), int(spans[found["last"][example], 1])
            answer = {"text": context[start:end], "start": start, "end": end, "score": float(score)}
        else:
            answer = {"text": "", "start": None, "end": None, "score": None}
        if answerable_threshold is not None:
            probability = float(found["answerable_probability"][example])
            answer["answerable_probability"] = probability
            if probability < answerable_threshold:
                answer.update(text="", start=None, end=None)
        answers.append(answer)
    return answers


# ----------------------------------------------------------------------------
# The model.


def answer_mask(features) -> tf.Tensor:
    """1.0 where an answer may start or end: the context part of the window
    (segment 1: the context and its closing [SEP]) and [CLS], as the official
    ELECTRA `qa_tasks.py` (input_mask * segment_ids + one_hot(0))."""
    mask = tf.cast(features["padding_mask"], tf.float32) * tf.cast(features["segment_ids"], tf.float32)
    return mask + tf.cast(tf.equal(tf.range(tf.shape(mask)[1]), 0), tf.float32)[None, :]


@keras.saving.register_keras_serializable(package="electra_keras")
class ElectraSpanHead(keras.layers.Layer):
    """ELECTRA's SQuAD head (google-research/electra `finetune/qa/qa_tasks.py`,
    joint_prediction with the answerable classifier on start logits).

    - start logits: Dense(1) over the final hidden states, -1000 outside
      `answer_mask`;
    - end logits conditioned on the start: Dense(1) over a 512-unit GELU layer
      of [start representation ; end representation]. Training conditions on
      the gold start (`start_positions`); inference on each of the
      `beam_size` best starts (log-softmax), and keeps the `beam_size` best
      ends of each, as log-probabilities;
    - v2.0: an answerable logit from a 512-unit GELU layer over [the [CLS]
      vector ; the start-probability-weighted hidden states]. The official
      logit scores "impossible"; ours scores "answerable" (its negation), as
      the BERT head's does.

    Dense layers start as tf.layers.dense does there (Glorot uniform).
    """

    def __init__(self, hidden_size: int, beam_size: int = 20, version_2: bool = False, hidden_units: int = 512,
                 **kwargs):
        super().__init__(**kwargs)
        from electra_keras.layers.activations import gelu

        self.hidden_size, self.beam_size = int(hidden_size), int(beam_size)
        self.version_2, self.hidden_units = bool(version_2), int(hidden_units)
        dense = lambda units, name, activation=None: keras.layers.Dense(  # noqa: E731
            units, activation=activation, dtype=self.dtype_policy, name=name)
        self.start_dense = dense(1, "start")
        self.end_hidden = dense(self.hidden_units, "end_hidden", gelu)
        self.end_dense = dense(1, "end")
        self.answerable_hidden = self.answerable_dense = None
        if self.version_2:
            self.answerable_hidden = dense(self.hidden_units, "answerable_hidden", gelu)
            self.answerable_dense = dense(1, "answerable")

    def build(self, input_shape=None):
        if self.built:
            return
        h = self.hidden_size
        self.start_dense.build((None, None, h))
        self.end_hidden.build((None, None, 2 * h))
        self.end_dense.build((None, None, self.hidden_units))
        if self.version_2:
            self.answerable_hidden.build((None, 2 * h))
            self.answerable_dense.build((None, self.hidden_units))
        self.built = True

    def call(self, sequence, mask, start_positions=None):
        sequence = tf.cast(sequence, self.compute_dtype)
        outside = 1000.0 * (mask - 1.0)
        start_logits = tf.cast(tf.squeeze(self.start_dense(sequence), -1), tf.float32) + outside
        length = tf.shape(sequence)[1]
        if start_positions is not None:
            start = tf.gather(sequence, tf.cast(start_positions, tf.int32), batch_dims=1)  # [B, H]
            pairs = tf.concat([tf.repeat(start[:, None, :], length, axis=1), sequence], -1)
            end_logits = tf.cast(tf.squeeze(self.end_dense(self.end_hidden(pairs)), -1), tf.float32) + outside
            outputs = {START: start_logits, END: end_logits}
        else:
            beam = tf.minimum(self.beam_size, length)
            start_top_log_probs, start_top_index = tf.math.top_k(tf.nn.log_softmax(start_logits), beam)
            start = tf.gather(sequence, start_top_index, batch_dims=1)  # [B, K, H]
            pairs = tf.concat([
                tf.repeat(start[:, :, None, :], length, axis=2),
                tf.repeat(sequence[:, None, :, :], beam, axis=1),
            ], -1)  # [B, K, L, 2H]
            end_logits = tf.cast(tf.squeeze(self.end_dense(self.end_hidden(pairs)), -1), tf.float32)
            end_logits += outside[:, None, :]
            end_top_log_probs, end_top_index = tf.math.top_k(tf.nn.log_softmax(end_logits), beam)
            outputs = {START: start_logits, "start_top_log_probs": start_top_log_probs,
                       "start_top_index": start_top_index, "end_top_log_probs": end_top_log_probs,
                       "end_top_index": end_top_index}
        if self.version_2:
            weights = tf.nn.softmax(start_logits)
            start_feature = tf.reduce_sum(tf.cast(weights, sequence.dtype)[..., None] * sequence, axis=1)
            features = tf.concat([sequence[:, 0], start_feature], -1)
            impossible = tf.squeeze(self.answerable_dense(self.answerable_hidden(features)), -1)
            outputs[ANSWERABLE] = -tf.cast(impossible, tf.float32)
        return outputs

    def get_config(self):
        return {**super().get_config(), "hidden_size": self.hidden_size, "beam_size": self.beam_size,
                "version_2": self.version_2, "hidden_units": self.hidden_units}


@keras.saving.register_keras_serializable(package="electra_keras")
class SpanQuestionAnswerer(TaskModel):
    """Finds the answer to a question as a span of its context (SQuAD v1.1, v2.0).

    A Dense(2) over the final hidden states gives every position a start and
    an end logit; with `version_2`, a Dense(1) on the [CLS] vector gives each
    window an answerable logit. `call` returns a dict of float32 tensors:
    `start_logits`, `end_logits` `[batch, length]` and `answerable_logits`
    `[batch]`. Loss by default: the mean of the start and end sparse
    cross-entropies, plus (v2.0) the sigmoid cross-entropy of answerable.
    Labels are per window: the answer's first and last piece when the window
    holds all of it, else [CLS] (0, 0); answerable is 1 for exactly those
    windows, so a question reads as answerable when any window says so.

    `fit`, `evaluate` and `predict` take `QAExamples` (or a list of
    QAExample) directly; `answer` answers raw questions, `predict_answers`
    and `evaluate_squad` give SQuAD predictions and scores.

    Args:
        backbone, vocabulary, lowercase, dropout_rate: see `TaskModel`.
        sequence_length: tokens per window.
        doc_stride: context pieces that consecutive windows of a long context
            share.
        max_query_length: question pieces kept (the rest is cut).
        max_answer_length: longest predicted answer, in pieces.
        version_2: SQuAD v2.0: some questions have no answer; adds the
            answerable head.
        n_best: start and end candidates kept per window when decoding (the
            ELECTRA head's beam size).
        head: "electra" (`ElectraSpanHead`: the end conditioned on the start,
            beam search, answerable loss weight 0.5; the default for ELECTRA
            encoders) or "bert" (independent start and end Dense(2),
            answerable Dense(1) on [CLS], loss weight 1.0; the default for
            BERT and ALBERT encoders).

    Example:
        qa = SpanQuestionAnswerer.from_pretrained("runs/small", version_2=True)
        qa.compile()
        qa.fit(read_squad("train-v2.0.json"), epochs=2, batch_size=32)
        qa.answer(["Who wrote it?"], ["Ada Lovelace wrote the first program."])
    """

    def __init__(
        self,
        backbone,
        vocabulary,
        sequence_length: int = 384,
        doc_stride: int = 128,
        max_query_length: int = 64,
        max_answer_length: int = 30,
        version_2: bool = False,
        n_best: int = 20,
        head: str | None = None,
        **kwargs,
    ):
        super().__init__(backbone, vocabulary, sequence_length=sequence_length, **kwargs)
        if head is None:
            head = "electra" if self.config.family == "electra" else "bert"
        if head not in HEADS:
            raise ValueError(f"head={head!r}: expected one of {HEADS}")
        # === Config ===
        for name, value in (("max_query_length", max_query_length), ("max_answer_length", max_answer_length),
                            ("n_best", n_best)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name}={value!r}: expected a positive integer")
        context_budget = self.sequence_length - 3 - max_query_length
        if context_budget < 1:
            raise ValueError(
                f"max_query_length={max_query_length}: with sequence_length={self.sequence_length} "
                f"no room is left for the context ([CLS] question [SEP] context [SEP]); expected "
                f"max_query_length <= {self.sequence_length - 4}"
            )
        if isinstance(doc_stride, bool) or not isinstance(doc_stride, (int, np.integer)) or doc_stride < 0:
            raise ValueError(f"doc_stride={doc_stride!r}: expected a number of pieces >= 0")
        if doc_stride >= context_budget:
            raise ValueError(
                f"doc_stride={doc_stride}: windows share doc_stride context pieces, so it must be smaller "
                f"than the context part of a window, sequence_length - max_query_length - 3 = "
                f"{context_budget}; lower doc_stride or max_query_length, or raise sequence_length"
            )
        self.doc_stride = int(doc_stride)
        self.max_query_length = int(max_query_length)
        self.max_answer_length = int(max_answer_length)
        self.version_2 = bool(version_2)
        self.n_best = int(n_best)
        self.head = head

        # === Layers ===
        if head == "electra":
            self.span_head = ElectraSpanHead(self.config.hidden_size, beam_size=self.n_best, version_2=self.version_2,
                                             dtype=self.dtype_policy, name="electra_span_head")
            self.span_head.build()
            self.answerable_head = None
            self.built = True
            return
        self.span_head = keras.layers.Dense(
            2,
            kernel_initializer=truncated_normal(self.config.initializer_range),
            dtype=self.dtype_policy,
            name="span_classifier",
        )
        self.span_head.build((None, None, self.config.hidden_size))
        self.answerable_head = None
        if self.version_2:
            self.answerable_head = keras.layers.Dense(
                1,
                kernel_initializer=truncated_normal(self.config.initializer_range),
                dtype=self.dtype_policy,
                name="answerable_classifier",
            )
            self.answerable_head.build((None, self.config.hidden_size))
        self.built = True

    def call(self, inputs, training=False):
        features = {name: inputs[name] for name in ("token_ids", "segment_ids", "padding_mask")}
        sequence = self.encode(features, training=training)["sequence_output"]
        if self.head == "electra":  # the official head reads the final hidden states, no dropout
            return self.span_head(sequence, answer_mask(features), inputs.get("start_positions"))
        sequence = self.dropout(sequence, training=training)
        # Float32 outputs under mixed precision, for a stable loss.
        span_logits = keras.ops.cast(self.span_head(sequence), "float32")
        outputs = {START: span_logits[..., 0], END: span_logits[..., 1]}
        if self.version_2:
            answerable = self.answerable_head(sequence[:, 0, :])
            outputs[ANSWERABLE] = keras.ops.cast(answerable, "float32")[:, 0]
        return outputs

    @classmethod
    def from_config(cls, config):
        # Models saved before the ELECTRA head existed have BERT's.
        return super().from_config({"head": "bert", **config})

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "doc_stride": self.doc_stride,
            "max_query_length": self.max_query_length,
            "max_answer_length": self.max_answer_length,
            "version_2": self.version_2,
            "n_best": self.n_best,
            "head": self.head,
        }

    # -- loss -----------------------------------------------------------------------

    def compile(self, optimizer="auto", loss="auto", metrics="auto", loss_weights=None, **kwargs):
        """Keras `compile`; by default 0.5 x (start + end cross-entropy) (+ answerable).

        See `TaskModel.compile` for the default optimizer.
        """
        if loss == "auto" and loss_weights is None:
            loss_weights = {START: 0.5, END: 0.5}
            if self.version_2:  # ELECTRA's answerable_weight is 0.5
                loss_weights[ANSWERABLE] = 0.5 if self.head == "electra" else 1.0
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, loss_weights=loss_weights, **kwargs)

    def default_loss(self):
        loss = {
            START: keras.losses.SparseCategoricalCrossentropy(from_logits=True, name="start_loss"),
            END: keras.losses.SparseCategoricalCrossentropy(from_logits=True, name="end_loss"),
        }
        if self.version_2:
            loss[ANSWERABLE] = keras.losses.BinaryCrossentropy(from_logits=True, name="answerable_loss")
        return loss

    def default_metrics(self):
        found = {
            START: [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            END: [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        }
        if self.version_2:
            # The outputs are logits: answerable when > 0.
            found[ANSWERABLE] = [keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)]
        return found

    # -- windows --------------------------------------------------------------------

    def build_windows(self, questions, contexts, answers=None) -> QAWindows:
        """Windows `[CLS] question [SEP] context-window [SEP]` of every question.

        Args:
            questions: question texts.
            contexts: one context per question.
            answers: None (no labels), or per question the answer dict
                {"text", "answer_start"} to label, or None when it has no
                answer (SQuAD v2.0).

        Example:
            windows = qa.build_windows(["Who wrote it?"], ["Ada wrote it."])
            windows.features["token_ids"].shape  # (1, qa.sequence_length)
        """
        questions = _text_list(questions, "questions")
        contexts = _text_list(contexts, "contexts")
        if len(questions) != len(contexts):
            raise ValueError(f"questions and contexts: {len(questions)} questions but {len(contexts)} contexts")
        if answers is not None:
            answers = list(answers)
            if len(answers) != len(questions):
                raise ValueError(f"answers: {len(questions)} expected (one per question), got {len(answers)}")
        question_pieces = self._pieces(questions)
        unique = {}
        for context in contexts:
            unique.setdefault(context, len(unique))
        context_pieces = self._context_pieces(list(unique))

        cls, sep = self.tokenizer.cls_token_id, self.tokenizer.sep_token_id
        rows, piece_spans, labels = [], [], []
        for example, (question, context) in enumerate(zip(question_pieces, contexts)):
            question = question[: self.max_query_length]
            ids, spans = context_pieces[unique[context]]
            piece_spans.append(spans)
            answer = None
            if answers is not None:
                answer = self._answer_pieces(answers[example], context, spans, f"answers[{example}]")
            budget = self.sequence_length - 3 - len(question)
            step = budget - self.doc_stride
            start = 0
            while True:
                length = min(budget, len(ids) - start)
                rows.append((example, question, ids[start:start + length], start))
                if answer is not None and start <= answer[0] and answer[1] < start + length:
                    offset = len(question) + 2
                    labels.append((answer[0] - start + offset, answer[1] - start + offset, 1.0))
                else:
                    labels.append((0, 0, 0.0))
                if start + length >= len(ids):
                    break
                start += step

        count, length = len(rows), self.sequence_length
        token_ids = np.full((count, length), self.tokenizer.pad_token_id, dtype="int32")
        segment_ids = np.zeros((count, length), dtype="int32")
        padding_mask = np.zeros((count, length), dtype="int32")
        for row, (_, question, window, _) in enumerate(rows):
            first = len(question) + 2
            last = first + len(window)  # the closing [SEP]
            token_ids[row, 0] = cls
            token_ids[row, 1:first - 1] = question
            token_ids[row, first - 1] = sep
            token_ids[row, first:last] = window
            token_ids[row, last] = sep
            segment_ids[row, first:last + 1] = 1
            padding_mask[row, :last + 1] = 1
        targets = None
        if answers is not None:
            table = np.asarray(labels, dtype="float64").reshape(-1, 3)
            targets = {START: table[:, 0].astype("int32"), END: table[:, 1].astype("int32")}
            if self.version_2:
                targets[ANSWERABLE] = table[:, 2].astype("float32")
        return QAWindows(
            features={"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask},
            labels=targets,
            example_index=np.asarray([row[0] for row in rows], dtype="int64"),
            context_offset=np.asarray([len(row[1]) + 2 for row in rows], dtype="int64"),
            window_start=np.asarray([row[3] for row in rows], dtype="int64"),
            window_length=np.asarray([len(row[2]) for row in rows], dtype="int64"),
            piece_spans=piece_spans,
        )

    def example_windows(self, examples, labels: bool = True) -> QAWindows:
        """`build_windows` for SQuAD examples, labelled with each question's first answer.

        Args:
            examples: `QAExamples` or a list of `QAExample`.
            labels: build the training targets.
        """
        examples = self._examples(examples, "examples")
        answers = None
        if labels:
            if not self.version_2:
                impossible = [example.qid for example in examples if example.is_impossible]
                if impossible:
                    raise ValueError(
                        f"examples: {len(impossible)} unanswerable questions (SQuAD v2.0, e.g. qid "
                        f"{impossible[0]!r}) but this model has version_2=False"
                    )
            answers = [None if example.is_impossible or not example.answers else example.answers[0]
                       for example in examples]
        return self.build_windows(
            [example.question for example in examples], [example.context for example in examples], answers
        )

    def count_windows(self, examples) -> int:
        """How many windows (training rows) `examples` make: steps = ceil(count / batch size)."""
        return len(self.example_windows(examples, labels=False))

    def _pieces(self, texts: list[str]) -> list[np.ndarray]:
        if not texts:
            return []
        ids = self.tokenizer.tokenize(texts)
        return np.split(ids.flat_values.numpy(), ids.row_splits.numpy()[1:-1])

    def _context_pieces(self, contexts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """(piece ids, piece character spans `[pieces, 2]`) of every context.

        Each basic token is tokenized alone (the pre-tokenizer splits the
        whole text at the same boundaries, so the ids are the same) and its
        pieces take its character span.
        """
        token_spans = [basic_token_spans(context) for context in contexts]
        words = [context[start:end] for context, spans in zip(contexts, token_spans) for start, end in spans]
        ids, pieces_per_word = [], []
        # Bounded chunks keep the ragged intermediate tensors small on SQuAD-sized data.
        for first in range(0, len(words), 50_000):
            tokenized = self.tokenizer.tokenize(words[first:first + 50_000])
            ids.append(tokenized.flat_values.numpy())
            pieces_per_word.append(tokenized.row_lengths().numpy())
        ids = np.concatenate(ids) if ids else np.zeros(0, "int32")
        pieces_per_word = np.concatenate(pieces_per_word) if pieces_per_word else np.zeros(0, "int64")
        piece_ends = np.cumsum(pieces_per_word)
        result, word = [], 0
        for spans in token_spans:
            count = len(spans)
            first_piece = piece_ends[word - 1] if word else 0
            last_piece = piece_ends[word + count - 1] if count else first_piece
            spans = np.asarray(spans, dtype="int64").reshape(-1, 2)
            piece_spans = np.repeat(spans, pieces_per_word[word:word + count], axis=0)
            result.append((ids[first_piece:last_piece], piece_spans))
            word += count
        return result

    @staticmethod
    def _answer_pieces(answer, context: str, spans: np.ndarray, name: str):
        """(first piece, last piece) of an answer dict, or None (no answer, or no pieces)."""
        if answer is None:
            return None
        if not isinstance(answer, dict) or "text" not in answer or "answer_start" not in answer:
            raise ValueError(f"{name}: a dict {{'text', 'answer_start'}} or None expected, got {answer!r}")
        text, start = answer["text"], answer["answer_start"]
        if (not isinstance(start, (int, np.integer)) or start < 0 or not text
                or context[start:start + len(text)] != text):
            raise ValueError(
                f"{name}: the answer {text!r} at answer_start={start} does not match its context, "
                f"which reads {context[start:start + len(text)]!r} there"
            )
        end = start + len(text)
        # The first piece whose token ends after the answer starts, and the
        # last whose token starts before it ends: an answer that begins or
        # ends inside a basic token takes the whole token (BERT does the same).
        first = int(np.searchsorted(spans[:, 1], start, side="right"))
        last = int(np.searchsorted(spans[:, 0], end, side="left")) - 1
        return (first, last) if first <= last else None

    @staticmethod
    def _examples(x, name: str) -> list[QAExample]:
        examples = _qa_examples(x, name)
        if examples is None:
            raise ValueError(
                f"{name}: QAExamples (read_squad) or a list of QAExample expected, got {type(x).__name__}"
            )
        return examples

    # -- fit / evaluate / predict on SQuAD examples -------------------------------------

    def preprocess(self, inputs, labels=None):
        raise NotImplementedError(
            "SpanQuestionAnswerer builds its windows in Python: pass QAExamples (or a list of "
            "QAExample), or the `features` of build_windows"
        )

    def as_dataset(self, x, y=None, batch_size=None, shuffle=False, seed=None) -> tf.data.Dataset:
        """Batches of (window inputs, labels) from `QAExamples` (or a list of QAExample).

        Args:
            x: the examples; their answers are the labels.
            y: must be None.
            batch_size: windows per batch (default 32).
            shuffle: shuffle the windows every epoch.
            seed: for the shuffle.
        """
        if y is not None:
            raise ValueError("y: QA examples carry their answers; pass fit(examples) without y")
        windows = self.example_windows(self._examples(x, "x"))
        features = dict(windows.features)
        if self.head == "electra":  # training conditions the end on the gold start
            features["start_positions"] = windows.labels[START]
        dataset = tf.data.Dataset.from_tensor_slices((features, windows.labels))
        if shuffle:
            dataset = dataset.shuffle(len(windows), seed=seed, reshuffle_each_iteration=True)
        return without_autotune_thread(dataset.batch(batch_size or DEFAULT_BATCH_SIZE).prefetch(tf.data.AUTOTUNE))

    def _prepared_validation(self, validation_data):
        if _qa_examples(validation_data, "validation_data") is not None:
            return self.as_dataset(validation_data), None
        return super()._prepared_validation(validation_data)

    def fit(self, x=None, y=None, batch_size=None, validation_data=None, shuffle=True, **kwargs):
        """Keras `fit`, also on `QAExamples` (and `validation_data=QAExamples`).

        Example:
            qa.fit(train_examples, validation_data=dev_examples, epochs=2, batch_size=32)
        """
        return super().fit(
            x, y, batch_size=batch_size, validation_data=validation_data, shuffle=shuffle, **kwargs
        )

    # -- answers --------------------------------------------------------------------

    def answer(self, questions, contexts, answerable_threshold: float = 0.5, batch_size=None) -> list[dict]:
        """The answer to each question, a span of its context.

        Args:
            questions: question texts.
            contexts: one context per question.
            answerable_threshold: SQuAD v2.0 models answer "" when the
                answerable probability is below it (ignored for v1.1).
            batch_size: windows per forward pass.

        Returns:
            One dict per question: "text" (`context[start:end]`, "" for no
            answer), "start", "end" (character offsets, end exclusive; None
            for no answer), "score" and, for v2.0, "answerable_probability".
            See `decode_answers`.

        Example:
            qa.answer(["Who wrote it?"], ["Ada wrote it."])  # [{'text': 'Ada', 'start': 0, 'end': 3, ...}]
        """
        contexts = _text_list(contexts, "contexts")
        windows = self.build_windows(questions, contexts)
        return self._decode(windows, contexts, answerable_threshold, batch_size)

    def _decode(self, windows: QAWindows, contexts, answerable_threshold, batch_size) -> list[dict]:
        if not len(windows):
            return []
        outputs = self.predict(windows.features, batch_size=batch_size or DEFAULT_BATCH_SIZE, verbose=0)
        return decode_answers(
            windows, outputs, contexts, n_best=self.n_best, max_answer_length=self.max_answer_length,
            answerable_threshold=answerable_threshold if self.version_2 else None,
        )

    def predict_answers(self, examples, answerable_threshold: float = 0.5, batch_size=None) -> dict[str, str]:
        """{question id: predicted answer text} ("" for no answer), as SQuAD scripts take it.

        Example:
            predictions = qa.predict_answers(read_squad("dev-v2.0.json"))
        """
        examples = self._examples(examples, "examples")
        windows = self.example_windows(examples, labels=False)
        contexts = [example.context for example in examples]
        answers = self._decode(windows, contexts, answerable_threshold, batch_size)
        return {example.qid: answer["text"] for example, answer in zip(examples, answers)}

    def evaluate_squad(self, examples, answerable_threshold: float = 0.5, batch_size=None) -> dict[str, Any]:
        """SQuAD exact match and F1 (the official v2.0 script's, see `metrics.squad_scores`).

        Example:
            qa.evaluate_squad(read_squad("dev-v1.1.json"))  # {'exact_match': ..., 'f1': ..., ...}
        """
        examples = self._examples(examples, "examples")
        predictions = self.predict_answers(examples, answerable_threshold, batch_size)
        dataset = [{"paragraphs": [{"context": example.context, "qas": [{
            "id": example.qid, "answers": list(example.answers), "is_impossible": example.is_impossible,
        }]}]} for example in examples]
        return metrics.squad_scores(predictions, dataset)
