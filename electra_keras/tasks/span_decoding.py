"""Answer spans from a QA model's window outputs: the one implementation.

`SpanQuestionAnswerer.answer` (through `decode_answers`, eagerly) and the
exported SavedModel (`electra_keras.export.question_answering`, in the
serving graph) both decode with these TensorFlow functions, so the two
cannot drift apart.

Windows arrive grouped by question, in context order: `windows_per_row[q]`
consecutive windows belong to question q. Window w holds the context
pieces `window_start[w]` .. `window_start[w] + window_length[w] - 1` at
sequence positions from `context_offset[w]`.

The rules (BERT's `run_squad.py`, which ELECTRA's code inherits):

- a piece that several windows share is read as a start only in the window
  where it has the most context: min(pieces to its left, pieces to its
  right) + 0.01 * window length, the first window on ties;
- the BERT head's `n_best` best starts and ends of a window are paired into
  spans inside the context with start <= end and at most
  `max_answer_length` pieces, scored start + end logit; the ELECTRA head's
  beam (each of its best starts with its best ends, as log-probabilities)
  under the same rules, scored start + end log-probability (the official
  `qa_metrics.py`);
- the question's best span over its windows wins (the first on ties);
- SQuAD v2.0: the answerable probability of a question is the highest over
  its windows.
"""

from __future__ import annotations

import tensorflow as tf

NEG_INF = float("-inf")


def first_argmax(values: tf.Tensor) -> tf.Tensor:
    """Index of the first maximum along the last axis (tf.argmax leaves ties unspecified)."""
    best = tf.reduce_max(values, axis=-1, keepdims=True)
    positions = tf.range(tf.shape(values)[-1])
    return tf.reduce_min(tf.where(values == best, positions, tf.shape(values)[-1]), axis=-1)


def max_context(window_start, window_length, windows_per_row, width: int, reach: int) -> tf.Tensor:
    """Bool `[windows, width]`: the window is where its i-th context piece has most context.

    Only the `reach` windows on either side can share a piece with a window
    (consecutive windows start at least a fixed step apart), which keeps
    this linear in the number of windows however long the context.
    """
    window_start = tf.cast(window_start, tf.int64)
    window_length = tf.cast(window_length, tf.int64)
    windows_per_row = tf.cast(windows_per_row, tf.int64)
    num_windows = tf.size(window_start, out_type=tf.int64)
    window_row = tf.repeat(tf.range(tf.size(windows_per_row, out_type=tf.int64)), windows_per_row)
    piece = window_start[:, None] + tf.range(width, dtype=tf.int64)[None, :]
    window_index = tf.range(num_windows)
    row_end = tf.gather(tf.cumsum(windows_per_row), window_row)  # one past the row's last window
    row_begin = row_end - tf.gather(windows_per_row, window_row)
    sibling = window_index[:, None] + tf.range(-reach, reach + 1, dtype=tf.int64)[None, :]
    real_sibling = (sibling >= row_begin[:, None]) & (sibling < row_end[:, None])
    sibling = tf.where(real_sibling, sibling, 0)
    s_first = tf.cast(tf.gather(window_start, sibling), tf.float64)[:, None, :]  # [W, 1, siblings]
    s_length = tf.cast(tf.gather(window_length, sibling), tf.float64)[:, None, :]
    g = tf.cast(piece, tf.float64)[:, :, None]  # [W, width, 1]
    holds = (g >= s_first) & (g < s_first + s_length) & real_sibling[:, None, :]
    score = tf.minimum(g - s_first, s_first + s_length - 1 - g) + 0.01 * s_length
    owner = first_argmax(tf.where(holds, score, NEG_INF))  # among the siblings
    return tf.equal(owner, reach)


def window_reach(sequence_length: int, max_query_length: int, doc_stride: int) -> int:
    """How many windows to either side can share a piece with a window."""
    min_step = sequence_length - 3 - max_query_length - doc_stride
    return -(-(sequence_length - 3) // min_step)


def best_spans(outputs: dict, context_offset, window_start, window_length, windows_per_row, *,
               sequence_length: int, reach: int, n_best: int, max_answer_length: int) -> dict[str, tf.Tensor]:
    """The best span of every question.

    Args:
        outputs: the model's window outputs: `start_logits` and `end_logits`
            `[windows, sequence_length]` (BERT head), or the ELECTRA head's
            `start_top_index`, `start_top_log_probs` `[windows, beam]`,
            `end_top_index`, `end_top_log_probs` `[windows, beam, beam]`;
            with `answerable_logits` `[windows]` for SQuAD v2.0.
        context_offset, window_start, window_length: `[windows]` (module docstring).
        windows_per_row: `[questions]`.
        sequence_length: the window length.
        reach: how many windows to either side can share a piece with a
            window (`window_reach`).
        n_best, max_answer_length: the decoding limits.

    Returns:
        `window` (global index of the best window), `first` and `last` (the
        span's pieces, indices among the question's context pieces) and
        `score` (-inf when the question has no valid span), each
        `[questions]`; with answerable logits, `answerable_probability`.
    """
    context_offset = tf.cast(context_offset, tf.int64)
    window_start = tf.cast(window_start, tf.int64)
    window_length = tf.cast(window_length, tf.int64)
    windows_per_row = tf.cast(windows_per_row, tf.int64)
    width = sequence_length - 3  # the most context pieces a window holds
    own = max_context(window_start, window_length, windows_per_row, width, reach)
    if "start_top_index" in outputs:
        score, first, last = _beam_window_spans(outputs, context_offset, window_length, own, max_answer_length)
    else:
        score, first, last = _pair_window_spans(outputs, context_offset, window_length, own, width,
                                                sequence_length, n_best, max_answer_length)
    # The best window of every question: the first with the highest finite score.
    questions = tf.size(windows_per_row)
    score = tf.cast(score, tf.float64)
    by_row = tf.RaggedTensor.from_row_lengths(score, windows_per_row).to_tensor(NEG_INF)
    by_row = tf.concat([by_row, tf.fill([questions, 1], tf.constant(NEG_INF, tf.float64))], axis=1)
    best = tf.cast(first_argmax(by_row), tf.int64)
    best = tf.minimum(best, tf.maximum(windows_per_row - 1, 0)) + tf.cumsum(windows_per_row, exclusive=True)
    has_windows = windows_per_row > 0
    safe = tf.where(has_windows, best, 0)
    gather = lambda values, default: tf.where(  # noqa: E731
        has_windows, tf.gather(tf.concat([values, tf.reshape(default, [1])], 0), safe), default)
    result = {
        "window": tf.where(has_windows, best, -1),
        "first": gather(window_start + tf.cast(first, tf.int64), tf.constant(0, tf.int64)),
        "last": gather(window_start + tf.cast(last, tf.int64), tf.constant(0, tf.int64)),
        "score": gather(score, tf.constant(NEG_INF, tf.float64)),
    }
    if "answerable_logits" in outputs:
        probability = tf.sigmoid(tf.cast(outputs["answerable_logits"], tf.float64))
        rows = tf.RaggedTensor.from_row_lengths(probability, windows_per_row).to_tensor(0.0)
        result["answerable_probability"] = tf.reduce_max(
            tf.concat([rows, tf.zeros([questions, 1], tf.float64)], axis=1), axis=1)
    return result


def _pair_window_spans(outputs, context_offset, window_length, own, width, sequence_length, n_best,
                       max_answer_length):
    """(score, first, last) of every window for the BERT head (context-relative pieces)."""
    position = tf.range(width, dtype=tf.int64)[None, :]
    inside = position < window_length[:, None]
    take = tf.minimum(context_offset[:, None] + position, sequence_length - 1)
    starts = tf.gather(tf.cast(outputs["start_logits"], tf.float64), take, batch_dims=1)
    ends = tf.gather(tf.cast(outputs["end_logits"], tf.float64), take, batch_dims=1)
    starts = tf.where(inside & own & ~tf.math.is_nan(starts), starts, NEG_INF)
    ends = tf.where(inside & ~tf.math.is_nan(ends), ends, NEG_INF)
    k = min(n_best, width)
    top_start_values, top_starts = tf.math.top_k(starts, k)
    top_end_values, top_ends = tf.math.top_k(ends, k)
    pair_scores = top_start_values[:, :, None] + top_end_values[:, None, :]
    span_length = top_ends[:, None, :] - top_starts[:, :, None] + 1
    valid = (span_length >= 1) & (span_length <= max_answer_length) & tf.math.is_finite(pair_scores)
    flat = tf.reshape(tf.where(valid, pair_scores, NEG_INF), [-1, k * k])
    best = first_argmax(flat)
    return (tf.gather(flat, best, batch_dims=1), tf.gather(top_starts, best // k, batch_dims=1),
            tf.gather(top_ends, best % k, batch_dims=1))


def _beam_window_spans(outputs, context_offset, window_length, own, max_answer_length):
    """(score, first, last) of every window for the ELECTRA head's beam."""
    start = tf.cast(outputs["start_top_index"], tf.int64) - context_offset[:, None]  # [W, K]
    end = tf.cast(outputs["end_top_index"], tf.int64) - context_offset[:, None, None]  # [W, K, K]
    length = window_length[:, None]
    start_ok = (start >= 0) & (start < length)
    start_ok &= tf.gather(own, tf.clip_by_value(start, 0, tf.cast(tf.shape(own)[1] - 1, tf.int64)), batch_dims=1)
    end_ok = (end >= start[:, :, None]) & (end < length[:, :, None])
    end_ok &= end - start[:, :, None] + 1 <= max_answer_length
    scores = (tf.cast(outputs["start_top_log_probs"], tf.float64)[:, :, None]
              + tf.cast(outputs["end_top_log_probs"], tf.float64))
    valid = start_ok[:, :, None] & end_ok & tf.math.is_finite(scores)
    beam = tf.shape(end)[2]
    flat = tf.reshape(tf.where(valid, scores, NEG_INF), [tf.shape(end)[0], -1])
    best = first_argmax(flat)
    return (tf.gather(flat, best, batch_dims=1), tf.gather(start, best // beam, batch_dims=1),
            tf.gather(tf.reshape(end, [tf.shape(end)[0], -1]), best, batch_dims=1))
