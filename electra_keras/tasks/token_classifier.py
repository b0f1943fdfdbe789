"""Token classification (named entities, BIO/IOB2 tags), one label per word."""

from __future__ import annotations

import warnings
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from electra_keras.base import plain_python
from electra_keras.data.pipeline import without_autotune_thread
from electra_keras.layers.embeddings import truncated_normal
from electra_keras.tasks.base import TaskModel

IGNORED = -1  # label of pieces that carry no word label: [CLS], [SEP], padding, non-first pieces


@keras.saving.register_keras_serializable(package="electra_keras")
class TokenClassifier(TaskModel):
    """Tags every word, predicting on the first word piece of each word.

    Words are tokenized one by one (the same ids as tokenizing the sentence:
    the BERT pre-tokenizer splits at the same boundaries), packed as
    `[CLS] pieces [SEP]`, and only each word's first piece is trained and
    read out; the other pieces, the special tokens and the padding have
    label -1 and are ignored by the loss and the accuracy. Words cut off by
    `sequence_length` get no prediction from the model: `predict_tags` tags
    them "O" and warns with their count.

    Args:
        backbone, vocabulary, lowercase, sequence_length, dropout_rate: see
            `TaskModel`.
        tag_names: the tags, index = tag id (e.g. ["O", "B-person", ...]).

    Example:
        tagger = TokenClassifier.from_pretrained("runs/small", tag_names=data.train.tag_names)
        tagger.compile()
        tagger.fit(data.train.words, data.train.tags, epochs=3)
        tagger.predict_tags([["Obama", "visited", "Paris"]])  # [['B-person', 'O', 'B-geo-loc']]
    """

    def __init__(self, backbone, vocabulary, tag_names: list[str], **kwargs):
        super().__init__(backbone, vocabulary, **kwargs)
        # === Config ===
        tag_names = [str(tag) for tag in tag_names]
        if len(tag_names) < 2 or len(set(tag_names)) != len(tag_names):
            raise ValueError(f"tag_names: at least 2 distinct tags expected, got {tag_names}")
        self.tag_names = tag_names
        self.num_tags = len(tag_names)

        # === Layers ===
        self.head = keras.layers.Dense(
            self.num_tags,
            kernel_initializer=truncated_normal(self.config.initializer_range),
            dtype=self.dtype_policy,
            name="tagger",
        )
        self.head.build((None, None, self.config.hidden_size))
        self.built = True

    def call(self, inputs, training=False):
        sequence = self.encode(inputs, training=training)["sequence_output"]
        logits = self.head(self.dropout(sequence, training=training))
        return keras.ops.cast(logits, "float32")

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "tag_names": self.tag_names}

    # -- data ---------------------------------------------------------------------

    def raw_inputs(self, x):
        """Sentences as lists of words (or strings, split at whitespace)."""
        sentences = _sentences(x)
        return tf.ragged.constant(sentences, dtype=tf.string, ragged_rank=1) if sentences else (
            tf.RaggedTensor.from_row_lengths(tf.constant([], tf.string), tf.constant([], tf.int64)))

    def raw_labels(self, y):
        index = {tag: i for i, tag in enumerate(self.tag_names)}
        ids = []
        for row, tags in enumerate(y):
            if isinstance(tags, str):
                raise ValueError(f"y[{row}]: a list of tags per sentence expected, got a string")
            unknown = [tag for tag in tags if isinstance(tag, str) and tag not in index]
            if unknown:
                raise ValueError(f"y[{row}]: unknown tags {unknown[:5]}; known: {self.tag_names}")
            ids.append([index[tag] if isinstance(tag, str) else int(tag) for tag in tags])
        return tf.ragged.constant(ids, dtype=tf.int32, ragged_rank=1) if ids else (
            tf.RaggedTensor.from_row_lengths(tf.constant([], tf.int32), tf.constant([], tf.int64)))

    def as_dataset(self, x, y=None, batch_size=None, shuffle=False, seed=None):
        if y is not None and not isinstance(x, tf.data.Dataset):
            words, tags = _sentences(x), list(y)
            if len(words) != len(tags):
                raise ValueError(f"x has {len(words)} sentences but y has {len(tags)} tag lists")
            for row, (sentence, sentence_tags) in enumerate(zip(words, tags)):
                if len(sentence) != len(sentence_tags):
                    raise ValueError(
                        f"sentence {row}: {len(sentence)} words but {len(sentence_tags)} tags"
                    )
        return super().as_dataset(x, y, batch_size=batch_size, shuffle=shuffle, seed=seed)

    def word_pieces(self, words: tf.RaggedTensor, tokenizer=None):
        """[batch, (words)] strings -> packed inputs and, per position, the word index.

        `tokenizer` replaces the model's own (the exporter passes one that
        reads the vocabulary from a SavedModel asset).

        Returns:
            (features, word_index, first_piece): `features` the token inputs
            `[batch, sequence_length]`; `word_index` the word each position
            belongs to (-1 for special tokens and padding); `first_piece` 1
            where a word's first piece sits.
        """
        length = self.sequence_length
        tokenizer = tokenizer or self.tokenizer
        pieces = tokenizer.tokenize(words.flat_values)  # [words, (pieces)]
        per_word = pieces.row_lengths()
        word_ids = tf.ragged.range(words.row_lengths())  # [batch, (words)]
        flat_word_index = tf.repeat(tf.cast(word_ids.flat_values, tf.int32), per_word)
        first = tf.cast(tf.equal(tf.ragged.range(per_word).flat_values, 0), tf.int32)
        # Pieces per sentence, and where each sentence's pieces start in the flat values.
        row_lengths = tf.math.unsorted_segment_sum(per_word, words.value_rowids(), words.nrows())
        row_starts = tf.cumsum(row_lengths, exclusive=True)
        # Dense position arithmetic rather than ragged slicing and concat (the
        # tokenizer's packing does the same): position 0 holds `start`, 1..kept
        # the sentence's first `kept` values, kept + 1 `end`, the rest `fill`.
        positions = tf.range(length, dtype=row_lengths.dtype)[tf.newaxis, :]
        kept = tf.minimum(row_lengths, length - 2)[:, tf.newaxis]
        inside = (positions >= 1) & (positions <= kept)
        total = tf.reduce_sum(per_word)
        # Outside a sentence's values the index points at an appended fill slot.
        source = tf.where(inside, row_starts[:, tf.newaxis] + positions - 1, total)

        def pack(flat_values, start, end, fill):
            values = tf.gather(tf.concat([tf.cast(flat_values, tf.int32), [fill]], axis=0), source)
            values = tf.where(positions == 0, start, values)
            return tf.where(positions == kept + 1, end, values)

        cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
        token_ids = pack(pieces.flat_values, cls, sep, tokenizer.pad_token_id)
        padding_mask = pack(tf.ones_like(pieces.flat_values, tf.int32), 1, 1, 0)
        features = {
            "token_ids": token_ids,
            "segment_ids": tf.zeros_like(token_ids),
            "padding_mask": padding_mask,
        }
        word_index = pack(flat_word_index, -1, -1, -1)
        first_piece = pack(first, 0, 0, 0)
        return features, word_index, first_piece

    def preprocess(self, inputs, labels=None):
        words = inputs
        if isinstance(words, tf.Tensor):
            # A batch of strings, or one string: words at whitespace.
            words = tf.strings.split(words if words.shape.rank else words[None])
        features, word_index, first_piece = self.word_pieces(words)
        if labels is None:
            return features, None
        if isinstance(labels, tf.Tensor):
            labels = tf.RaggedTensor.from_tensor(labels if labels.shape.rank > 1 else labels[None])
        # Each first piece takes its word's tag; everything else is ignored.
        tags = tf.gather(labels, tf.maximum(word_index, 0), batch_dims=1)
        piece_labels = tf.where(first_piece > 0, tf.cast(tags, tf.int32), IGNORED)
        return features, piece_labels

    def default_loss(self):
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=IGNORED)

    def default_metrics(self):
        return [WordAccuracy(name="accuracy")]

    # -- predictions ----------------------------------------------------------------

    def predict_tags(self, x, batch_size=None) -> list[list[str]]:
        """One tag per word of every sentence (word lists, or strings split by `split_words`)."""
        sentences = _sentences(x)
        if not sentences:
            return []
        words = self.raw_inputs(sentences)
        batch_size = batch_size or 32
        # Repeated and read for its number of batches: Keras opens one iterator, not two.
        dataset = tf.data.Dataset.from_tensor_slices(words).batch(batch_size).map(plain_python(lambda w: self.preprocess(w)[0]))
        logits = self.predict(without_autotune_thread(dataset.repeat()),
                              steps=-(-len(sentences) // batch_size), verbose=0)
        _, word_index, first_piece = self.word_pieces(words)
        predicted = np.argmax(logits, axis=-1)
        word_index, first_piece = word_index.numpy(), first_piece.numpy()
        results, cut = [], 0
        for row, sentence in enumerate(sentences):
            tags = ["O"] * len(sentence)
            seen = set()
            for position in np.flatnonzero(first_piece[row]):
                word = word_index[row, position]
                tags[word] = self.tag_names[predicted[row, position]]
                seen.add(word)
            cut += sum(1 for word, text in enumerate(sentence) if word not in seen and text.strip())
            results.append(tags)
        if cut:
            warnings.warn(
                f"predict_tags: {cut} words beyond sequence_length={self.sequence_length} "
                "(or that tokenize to nothing) were tagged 'O'",
                stacklevel=2,
            )
        return results


@keras.saving.register_keras_serializable(package="electra_keras")
class WordAccuracy(keras.metrics.Mean):
    """Accuracy over the labelled positions (label != -1): the words' first pieces."""

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = tf.cast(y_true, tf.int32)
        labelled = tf.cast(tf.not_equal(y_true, IGNORED), "float32")
        correct = tf.cast(tf.equal(y_true, tf.argmax(y_pred, axis=-1, output_type=tf.int32)), "float32")
        if sample_weight is not None:
            labelled = labelled * tf.cast(sample_weight, "float32")
        return super().update_state(correct, sample_weight=labelled)


def split_words(text: str) -> list[str]:
    """A raw sentence's words as tagged corpora (CoNLL, WNUT) write them:
    split at whitespace, each punctuation mark and CJK ideograph a word of its
    own ("Paris," is "Paris" and ","), the tokenizer's pre-tokenization
    (`question_answering.basic_token_spans`, which the serving graph matches).

    Example:
    >>> split_words("Meet me in Paris, on Monday.")
    ['Meet', 'me', 'in', 'Paris', ',', 'on', 'Monday', '.']
    """
    from electra_keras.tasks.question_answering import basic_token_spans

    return [text[start:end] for start, end in basic_token_spans(text)]


def _sentences(x) -> list[list[str]]:
    if isinstance(x, str):
        raise ValueError("x: a list of sentences expected, got one string; wrap it in a list")
    sentences = []
    for row, sentence in enumerate(x):
        if isinstance(sentence, str):
            sentence = split_words(sentence)
        sentence = [str(word) for word in sentence]
        sentences.append(sentence)
    return sentences
