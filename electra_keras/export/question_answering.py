"""Extractive QA inside the serving graph: question + context in, answer span out.

`SpanQuestionAnswerer.answer` builds its windows in Python; TF Serving runs
only the graph, so this module builds them in TensorFlow ops, rule for rule
(tests/test_export.py compares the two). Both decode with the same
functions, `electra_keras.tasks.span_decoding`:

1. the context is split into basic tokens with their character and byte
   spans (whitespace separates, punctuation and CJK ideographs stand alone,
   as `basic_token_spans`), and each token into word pieces;
2. windows `[CLS] question [SEP] context-window [SEP]`, `doc_stride` pieces
   shared by neighbours, the question cut to `max_query_length` pieces;
3. the model's outputs on every window (start/end logits, or the ELECTRA
   head's beam), decoded by `span_decoding.best_spans`;
4. its pieces map back to the context: the answer is the exact text there.
   SQuAD v2.0 models answer "" when the highest answerable probability over
   the windows is below 0.5 (the probability is an output too).

Only core TensorFlow ops are added to the tokenizer's.
"""

from __future__ import annotations

import tensorflow as tf

from electra_keras.data.tokenizer import _CJK, _PUNCTUATION, _WHITESPACE
from electra_keras.tasks.span_decoding import best_spans, window_reach

NEG_INF = float("-inf")


def _sanitize(texts: tf.Tensor) -> tf.Tensor:
    return tf.strings.unicode_transcode(texts, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD)


def basic_tokens(contexts: tf.Tensor):
    """[batch] strings -> per basic token: its text and char/byte spans (ragged [batch, (tokens)])."""
    chars = tf.strings.unicode_split(contexts, "UTF-8")  # [batch, (chars)]
    _, byte_starts = tf.strings.unicode_decode_with_offsets(contexts, "UTF-8")
    flat = chars.flat_values
    char_index = tf.ragged.range(chars.row_lengths()).flat_values
    is_space = tf.strings.regex_full_match(flat, _WHITESPACE)
    is_single = tf.strings.regex_full_match(flat, _PUNCTUATION) | tf.strings.regex_full_match(flat, _CJK)
    # A token starts at a non-space character that stands alone, or follows a
    # space or a stand-alone character, or opens the text.
    breaks = is_space | is_single
    after_break = tf.concat([[True], breaks[:-1]], axis=0) | tf.equal(char_index, 0)
    starts = chars.with_flat_values(~is_space & (is_single | after_break))
    batch = chars.nrows()
    flat_starts = starts.flat_values
    byte_lengths = tf.strings.length(flat)
    # Token number of every non-space char (its row's running count of starts).
    token_of_char = chars.with_flat_values(tf.cast(flat_starts, tf.int64))
    token_of_char = tf.cumsum(token_of_char.to_tensor(), axis=1)  # [batch, max chars]
    mask = tf.sequence_mask(chars.row_lengths(), tf.shape(token_of_char, out_type=tf.int64)[1])
    token_of_char = tf.boolean_mask(token_of_char, mask) - 1  # flat, per char
    tokens_per_row = tf.math.reduce_sum(tf.cast(starts, tf.int64), axis=1)
    row_first_token = tf.cumsum(tokens_per_row, exclusive=True)
    char_row = chars.value_rowids()
    keep = ~is_space
    global_token = tf.boolean_mask(tf.gather(row_first_token, char_row) + token_of_char, keep)
    count = tf.reduce_sum(tokens_per_row)
    char_start = tf.math.unsorted_segment_min(tf.boolean_mask(char_index, keep), global_token, count)
    char_end = tf.math.unsorted_segment_max(tf.boolean_mask(char_index, keep), global_token, count) + 1
    byte_start_of_char = byte_starts.flat_values
    byte_end_of_char = byte_start_of_char + tf.cast(byte_lengths, tf.int64)
    byte_start = tf.math.unsorted_segment_min(tf.boolean_mask(byte_start_of_char, keep), global_token, count)
    byte_end = tf.math.unsorted_segment_max(tf.boolean_mask(byte_end_of_char, keep), global_token, count)
    token_row = tf.repeat(tf.range(batch, dtype=tf.int64), tokens_per_row)
    text = tf.strings.substr(tf.gather(contexts, token_row), byte_start, byte_end - byte_start)
    ragged = lambda values: tf.RaggedTensor.from_row_lengths(values, tokens_per_row)  # noqa: E731
    return ragged(text), ragged(char_start), ragged(char_end), ragged(byte_start), ragged(byte_end)


def _gather_or(values: tf.Tensor, index: tf.Tensor, found: tf.Tensor, default) -> tf.Tensor:
    """values[index] where `found`, else `default` (also when `values` is empty)."""
    padded = tf.concat([values, tf.constant([default], values.dtype)], axis=0)
    return tf.gather(padded, tf.where(found, index, tf.size(values, out_type=index.dtype)))


def answer_spans(model, tokenizer, questions: tf.Tensor, contexts: tf.Tensor) -> dict[str, tf.Tensor]:
    """The serving outputs of a `SpanQuestionAnswerer` for [batch] questions and contexts."""
    length = model.sequence_length
    questions, contexts = _sanitize(questions), _sanitize(contexts)
    batch = tf.shape(contexts, out_type=tf.int64)[0]

    # 1. Context pieces, each with the spans of its basic token.
    token_text, char_start, char_end, byte_start, byte_end = basic_tokens(contexts)
    token_pieces = tokenizer.tokenize(token_text.flat_values)  # [tokens, (pieces)]
    pieces_per_token = token_pieces.row_lengths()
    piece_token = tf.repeat(tf.range(tf.size(pieces_per_token, out_type=tf.int64)), pieces_per_token)
    pieces_per_row = tf.math.unsorted_segment_sum(pieces_per_token, token_text.value_rowids(), batch)
    context_ids = tf.RaggedTensor.from_row_lengths(token_pieces.flat_values, pieces_per_row)
    row_first_piece = context_ids.row_starts()

    # 2. Windows.
    question_ids = tokenizer.tokenize(questions)[:, : model.max_query_length]
    question_length = question_ids.row_lengths()
    budget = length - 3 - question_length
    step = budget - model.doc_stride
    extra = tf.maximum(pieces_per_row - budget, 0)
    windows_per_row = 1 + (extra + step - 1) // step
    window_row = tf.repeat(tf.range(batch), windows_per_row)
    window_start = tf.ragged.range(windows_per_row).flat_values * tf.gather(step, window_row)
    window_length = tf.minimum(tf.gather(budget, window_row), tf.gather(pieces_per_row, window_row) - window_start)
    first_global = tf.gather(row_first_piece, window_row) + window_start
    window_pieces = tf.gather(context_ids.flat_values,
                              tf.ragged.range(first_global, first_global + window_length))
    window_question = tf.gather(question_ids, window_row)
    num_windows = tf.size(window_row, out_type=tf.int64)
    column = lambda token_id: tf.RaggedTensor.from_tensor(  # noqa: E731
        tf.fill([num_windows, 1], tf.constant(token_id, tf.int32)))
    cls, sep = column(tokenizer.cls_token_id), column(tokenizer.sep_token_id)
    first_part = tf.concat([cls, window_question, sep], axis=1)
    second_part = tf.concat([window_pieces, sep], axis=1)
    token_ids = tf.concat([first_part, second_part], axis=1)
    segment_ids = tf.concat([tf.zeros_like(first_part), tf.ones_like(second_part)], axis=1)
    shape = [None, length]
    features = {
        "token_ids": token_ids.to_tensor(default_value=tokenizer.pad_token_id, shape=shape),
        "segment_ids": segment_ids.to_tensor(default_value=0, shape=shape),
        "padding_mask": tf.ones_like(token_ids).to_tensor(default_value=0, shape=shape),
    }

    # 3. The model's outputs, then the best span of every question
    # (span_decoding, the decoder the Python API uses too).
    outputs = model(features, training=False)
    context_offset = tf.gather(question_length, window_row) + 2
    names = [name for name in ("start_logits", "end_logits", "start_top_index", "start_top_log_probs",
                               "end_top_index", "end_top_log_probs", "answerable_logits") if name in outputs]
    best = best_spans(
        {name: outputs[name] for name in names}, context_offset, window_start, window_length, windows_per_row,
        sequence_length=length, reach=window_reach(length, model.max_query_length, model.doc_stride),
        n_best=model.n_best, max_answer_length=model.max_answer_length,
    )
    score = best["score"]
    found = tf.math.is_finite(score)
    first_token = _gather_or(piece_token, row_first_piece + best["first"], found, 0)
    last_token = _gather_or(piece_token, row_first_piece + best["last"], found, 0)

    # 4. Back to the context.
    if model.version_2:
        answerable = tf.cast(best["answerable_probability"], tf.float32)
        found = found & (answerable >= 0.5)
    start = _gather_or(char_start.flat_values, first_token, found, -1)
    end = _gather_or(char_end.flat_values, last_token, found, -1)
    byte_first = _gather_or(byte_start.flat_values, first_token, found, 0)
    byte_last = _gather_or(byte_end.flat_values, last_token, found, 0)
    text = tf.where(found, tf.strings.substr(contexts, byte_first, byte_last - byte_first), "")
    result = {
        "answer": text,
        "start": tf.cast(start, tf.int32),
        "end": tf.cast(end, tf.int32),
        "score": tf.cast(tf.where(tf.math.is_finite(score), score, 0.0), tf.float32),
        "num_windows": tf.cast(windows_per_row, tf.int32),
    }
    if model.version_2:
        result["answerable_probability"] = answerable
    return result
