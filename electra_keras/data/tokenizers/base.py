"""What every tokenizer of this package shares, whatever its segmentation.

`Tokenizer` turns strings into the packed `token_ids`, `segment_ids` and
`padding_mask` that the encoders take: it cuts literal special tokens out of
the text, packs `[CLS] A [SEP] (B [SEP])` with `tokenizers`' `longest_first`
truncation, pads on the right and checks its inputs. The segmentation itself
(raw text -> ids) is the subclass's: `WordPieceTokenizer` (wordpiece.py) for
ELECTRA and BERT vocabularies, `SentencePieceTokenizer` (sentencepiece.py)
for ALBERT models. All of it is TensorFlow graph code, so a tokenizer works
eagerly, inside `tf.function`, inside `tf.data.Dataset.map` and inside an
exported SavedModel.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Union

import keras
import numpy as np
import tensorflow as tf

from electra_keras.base import set_untracked

TextInput = Union[str, bytes, Sequence[str], Sequence[bytes], np.ndarray, tf.Tensor]


def as_text_tensor(value: Any, name: str) -> tf.Tensor:
    """Converts `value` to a tf.string tensor of rank 0 or 1, naming `name` on error."""
    if isinstance(value, tf.RaggedTensor):
        raise TypeError(
            f"`{name}` must be a dense string tensor of shape [batch], not a RaggedTensor"
        )
    if isinstance(value, (str, bytes)):
        value = tf.constant(value)
    elif not tf.is_tensor(value):
        try:
            value = tf.convert_to_tensor(value, dtype=tf.string)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"`{name}` must be a string, a list of strings or a tf.string tensor; "
                f"got {type(value).__name__} ({err})"
            ) from None
    if value.dtype != tf.string:
        raise TypeError(f"`{name}` must have dtype tf.string; got {value.dtype.name}")
    if value.shape.rank not in (0, 1):
        raise ValueError(
            f"`{name}` must be one string or a 1-D batch of strings (shape [batch]); "
            f"got shape {value.shape}"
        )
    return value


def _check_sequence_length(sequence_length: Any, name: str = "sequence_length") -> int:
    if isinstance(sequence_length, bool) or not isinstance(sequence_length, (int, np.integer)):
        raise TypeError(f"`{name}` must be an int; got {type(sequence_length).__name__}")
    if sequence_length < 3:
        raise ValueError(
            f"`{name}` must be at least 3 ([CLS] and [SEP] plus one token, or the "
            f"[CLS] [SEP] [SEP] of a pair); got {sequence_length}"
        )
    return int(sequence_length)


def longest_first_lengths(
    len_a: tf.Tensor, len_b: tf.Tensor, budget: int
) -> tuple[tf.Tensor, tf.Tensor]:
    """Per-row lengths that `tokenizers`' `longest_first` truncation keeps.

    The rule was measured on BertTokenizerFast batch calls, for every pair of
    lengths 0..15 and every budget 0..18. Let `n1 <= n2` be the shorter and
    longer lengths. If `n1 + n2 <= budget`, nothing is cut. If
    `n1 <= budget - n1`, the shorter is kept whole and the longer is cut to
    `budget - n1`. Otherwise both are cut: the shorter to `budget // 2` and
    the longer to `budget - budget // 2`. So with an odd budget the longer
    segment gets the extra token, and on a tie the second segment gets it.

    Args:
        len_a: int64 [batch] token counts of the first segments.
        len_b: int64 [batch] token counts of the second segments.
        budget: tokens available to the two segments together.

    Example:
        >>> a, b = longest_first_lengths(tf.constant([9, 2]), tf.constant([9, 9]), 5)
        >>> a.numpy().tolist(), b.numpy().tolist()
        ([2, 2], [3, 3])
    """
    budget = tf.cast(budget, len_a.dtype)
    swap = len_a > len_b
    short = tf.minimum(len_a, len_b)
    long_kept = tf.where(short > budget, short, tf.maximum(short, budget - short))
    both_cut = short + long_kept > budget
    short_kept = tf.where(both_cut, budget // 2, short)
    long_kept = tf.where(both_cut, budget // 2 + budget % 2, long_kept)
    fits = len_a + len_b <= budget
    keep_a = tf.where(fits, len_a, tf.minimum(len_a, tf.where(swap, long_kept, short_kept)))
    keep_b = tf.where(fits, len_b, tf.minimum(len_b, tf.where(swap, short_kept, long_kept)))
    return keep_a, keep_b


class Tokenizer(keras.layers.Layer):
    """What every tokenizer of this package does, whatever its segmentation.

    Subclasses (`WordPieceTokenizer`, `SentencePieceTokenizer`) set
    `special_tokens` (the names of [PAD], [UNK], [CLS], [SEP] and [MASK] in
    their vocabulary), fill the vocabulary with `_set_vocabulary`, and define
    `_tokenize_text` (raw strings -> ids), `_join` (ids -> text), `source`,
    `resources` and `write_vocabulary_file`. This
    class cuts literal special tokens out of the text, packs
    `[CLS] A [SEP] (B [SEP])` with `longest_first` truncation and right
    padding, and checks the inputs.
    """

    special_tokens: tuple[str, str, str, str, str]

    def __init__(
        self,
        lowercase: bool = True,
        sequence_length: int = 128,
        special_tokens_in_strings: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        # Let strings and Python lists reach call() untouched (Keras would try
        # to convert positional arguments to float tensors), as keras_hub does.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.built = True
        self.lowercase = bool(lowercase)
        self.sequence_length = _check_sequence_length(sequence_length)
        self.special_tokens_in_strings = bool(special_tokens_in_strings)
        self._set_vocabulary([])

    def _set_vocabulary(self, tokens: list[str]) -> None:
        """Keeps the tokens and their ids, out of Keras' tracking (`set_untracked`).

        A repeated token keeps its last id, as in tokenizers' vocab reader.
        """
        set_untracked(self, "_vocabulary", list(tokens))
        set_untracked(self, "_token_to_id", {token: i for i, token in enumerate(tokens)})

    @property
    def source(self) -> Any:
        """What `make_tokenizer` rebuilds this tokenizer from (JSON-serializable)."""
        raise NotImplementedError

    @property
    def resources(self) -> list:
        """The TensorFlow resources (lookup tables, models) a SavedModel must track."""
        raise NotImplementedError

    def write_vocabulary_file(self, folder: str | os.PathLike) -> Path:
        """Writes the file `make_tokenizer` reads back (vocab.txt or spiece.model) into `folder`."""
        raise NotImplementedError

    # -- vocabulary ---------------------------------------------------------

    @property
    def vocabulary(self) -> list[str]:
        """The tokens, indexed by id (a copy)."""
        return list(self._vocabulary)

    @property
    def vocabulary_size(self) -> int:
        return len(self._vocabulary)

    def token_to_id(self, token: str) -> int:
        """The id of `token`; KeyError if it is not in the vocabulary."""
        return self._token_to_id[token]

    @property
    def pad_token_id(self) -> int:
        return self._token_to_id[self.special_tokens[0]]

    @property
    def unk_token_id(self) -> int:
        return self._token_to_id[self.special_tokens[1]]

    @property
    def cls_token_id(self) -> int:
        return self._token_to_id[self.special_tokens[2]]

    @property
    def sep_token_id(self) -> int:
        return self._token_to_id[self.special_tokens[3]]

    @property
    def mask_token_id(self) -> int:
        return self._token_to_id[self.special_tokens[4]]

    # -- tokenization -------------------------------------------------------

    @staticmethod
    def _sanitize(texts: tf.Tensor) -> tf.Tensor:
        # Invalid UTF-8 would make the ICU-based ops fail or guess.
        return tf.strings.unicode_transcode(
            texts, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
        )

    def _tokenize_text(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """[n] valid UTF-8 strings without special tokens -> [n, tokens] int32 ids."""
        raise NotImplementedError

    def _tokenize_batch(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """[batch] strings -> [batch, tokens] int32 ids."""
        texts = self._sanitize(texts)
        if not self.special_tokens_in_strings:
            return self._tokenize_text(texts)
        # Cut the text around each special token, as transformers' added
        # tokens are cut before any normalization. 0xFF never occurs in valid
        # UTF-8, so it is a safe separator (tf_text.regex_split would also do,
        # but it stops reading a string at its first NUL).
        special_re = "|".join(re.escape(token) for token in self.special_tokens)
        marked = tf.strings.regex_replace(texts, f"({special_re})", b"\xff\\1\xff")
        chunks = tf.strings.split(marked, sep=b"\xff")
        pieces = chunks.flat_values
        is_special = tf.strings.regex_full_match(pieces, special_re)
        ids = self._tokenize_text(tf.where(is_special, "", pieces))
        # A special chunk's id: the position of its exact match among the names.
        which = tf.argmax(
            tf.cast(tf.equal(tf.expand_dims(pieces, 1), tf.constant(self.special_tokens)), tf.int32),
            axis=1,
        )
        special_ids = tf.gather(
            tf.constant([self._token_to_id[t] for t in self.special_tokens], tf.int32), which
        )
        special = tf.ragged.boolean_mask(tf.expand_dims(special_ids, 1), tf.expand_dims(is_special, 1))
        ids = tf.concat([ids, special], axis=1)
        ids = tf.RaggedTensor.from_row_splits(ids, chunks.row_splits, validate=False)
        return ids.merge_dims(1, 2)

    def tokenize(self, texts: TextInput) -> tf.RaggedTensor | tf.Tensor:
        """WordPiece ids without special tokens or truncation.

        Args:
            texts: a string, a list of strings or a tf.string tensor of shape
                [batch].

        Returns:
            int32 RaggedTensor [batch, None], or a 1-D int32 Tensor for a
            scalar string.

        Example:
            >>> from electra_keras.data.tokenizers.wordpiece import WordPieceTokenizer
            >>> tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hi"])
            >>> tok.tokenize("Hi hello").numpy().tolist()
            [5, 1]
        """
        texts = as_text_tensor(texts, "texts")
        if texts.shape.rank == 0:
            return self._tokenize_batch(tf.expand_dims(texts, 0))[0]
        return self._tokenize_batch(texts)

    def call(
        self,
        texts: TextInput,
        texts_b: TextInput | None = None,
        sequence_length: int | None = None,
    ) -> dict[str, tf.Tensor]:
        """Tokenizes and packs one segment or a pair of segments.

        Args:
            texts: first segments: a string, a list of strings or a tf.string
                tensor of shape [batch].
            texts_b: optional second segments, same shape as `texts`.
            sequence_length: overrides the layer's `sequence_length`.

        Returns:
            dict of int32 tensors `token_ids`, `segment_ids`, `padding_mask`,
            each [batch, sequence_length] ([sequence_length] for scalars).
        """
        length = self.sequence_length
        if sequence_length is not None:
            length = _check_sequence_length(sequence_length)
        texts = as_text_tensor(texts, "texts")
        scalar = texts.shape.rank == 0
        if texts_b is None:
            batch = tf.expand_dims(texts, 0) if scalar else texts
            outputs = self._pack(self._tokenize_batch(batch), None, length)
        else:
            texts_b = as_text_tensor(texts_b, "texts_b")
            if texts_b.shape.rank != texts.shape.rank:
                raise ValueError(
                    "`texts` and `texts_b` must both be single strings or both "
                    f"[batch] tensors; got shapes {texts.shape} and {texts_b.shape}"
                )
            if scalar:
                texts, texts_b = tf.expand_dims(texts, 0), tf.expand_dims(texts_b, 0)
            texts_b = self._check_same_batch(texts, texts_b)
            # One pass over both halves: half as many kernels to launch.
            num_a = tf.shape(texts, out_type=tf.int64)[0]
            ids = self._tokenize_batch(tf.concat([texts, texts_b], axis=0))
            outputs = self._pack(ids[:num_a], ids[num_a:], length)
        if scalar:
            outputs = {key: value[0] for key, value in outputs.items()}
        return outputs

    def detokenize(self, ids: Any, skip_special_tokens: bool = False) -> tf.Tensor:
        """Joins token ids back into text; drops padding.

        Args:
            ids: int ids, shape [tokens] or [batch, tokens] (dense or ragged).
            skip_special_tokens: also drop [CLS], [SEP], [MASK] and the unknown token.

        Returns:
            a tf.string scalar for 1-D ids, else a [batch] tf.string tensor.

        Example:
            >>> from electra_keras.data.tokenizers.wordpiece import WordPieceTokenizer
            >>> tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
            ...                           "qu", "##ick", "fox"])
            >>> tok.detokenize([2, 5, 6, 7, 3, 0]).numpy().decode()
            '[CLS] quick fox [SEP]'
        """
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.convert_to_tensor(ids)
        if not ids.dtype.is_integer:
            raise TypeError(f"`ids` must be integer token ids; got dtype {ids.dtype.name}")
        ids = tf.cast(ids, tf.int32)
        if ids.shape.rank not in (1, 2):
            raise ValueError(f"`ids` must have shape [tokens] or [batch, tokens]; got {ids.shape}")
        single = ids.shape.rank == 1
        if single:
            ids = tf.expand_dims(ids, 0)
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.RaggedTensor.from_tensor(ids)
        dropped = [self.pad_token_id]
        if skip_special_tokens:
            dropped = [self._token_to_id[t] for t in self.special_tokens]
        keep = tf.reduce_all(
            tf.not_equal(tf.expand_dims(ids.flat_values, -1), tf.constant(dropped, tf.int32)),
            axis=-1,
        )
        ids = tf.ragged.boolean_mask(ids, ids.with_flat_values(keep))
        text = self._join(ids)
        return text[0] if single else text

    def _join(self, ids: tf.RaggedTensor) -> tf.Tensor:
        """[batch, tokens] ids (padding dropped) -> [batch] text."""
        raise NotImplementedError

    @staticmethod
    def _check_same_batch(texts: tf.Tensor, texts_b: tf.Tensor) -> tf.Tensor:
        size_a, size_b = texts.shape[0], texts_b.shape[0]
        message = "`texts` and `texts_b` must have the same batch size"
        if size_a is not None and size_b is not None:
            if size_a != size_b:
                raise ValueError(f"{message}; got {size_a} and {size_b}")
            return texts_b
        check = tf.debugging.assert_equal(
            tf.shape(texts)[0], tf.shape(texts_b)[0], message=message
        )
        with tf.control_dependencies([check]):
            return tf.identity(texts_b)

    def _pack(
        self, ids_a: tf.RaggedTensor, ids_b: tf.RaggedTensor | None, length: int
    ) -> dict[str, tf.Tensor]:
        # Built from dense [batch, length] position arithmetic: position p holds
        # [CLS] at 0, A's pieces at 1..ka, [SEP] at ka + 1, then (pairs) B's
        # pieces and the last [SEP], and padding from `end` on. A handful of
        # ops, so a dataset map or an exported graph traces it in milliseconds
        # (ragged concatenation and boolean masks took ~0.3 s per segment).
        positions = tf.range(length)[None, :]

        def pieces(ids: tf.RaggedTensor, start: tf.Tensor) -> tf.Tensor:
            # ids[row, p - start], clipped to a valid column (where selects only valid ones).
            dense = ids.to_tensor(default_value=self.pad_token_id, shape=[None, length])
            index = tf.clip_by_value(positions - start, 0, length - 1)
            return tf.gather(dense, tf.broadcast_to(index, tf.shape(dense)), batch_dims=1)

        cls = tf.constant(self.cls_token_id, tf.int32)
        sep = tf.constant(self.sep_token_id, tf.int32)
        if ids_b is None:
            keep_a = tf.minimum(tf.cast(ids_a.row_lengths(), tf.int32), length - 2)[:, None]
            end = keep_a + 2
            tail = tf.fill(tf.shape(positions), sep)
        else:
            keep_a, keep_b = longest_first_lengths(
                ids_a.row_lengths(), ids_b.row_lengths(), length - 3
            )
            keep_a, keep_b = tf.cast(keep_a, tf.int32)[:, None], tf.cast(keep_b, tf.int32)[:, None]
            end = keep_a + keep_b + 3
            # Past A's [SEP]: B's pieces, then the last [SEP].
            tail = tf.where(positions < end - 1, pieces(ids_b, keep_a + 2), sep)
        token_ids = tf.where(
            positions == 0, cls,
            tf.where(positions <= keep_a, pieces(ids_a, 1), tf.where(positions == keep_a + 1, sep, tail)),
        )
        inside = positions < end
        segment_ids = tf.zeros_like(token_ids)
        if ids_b is not None:
            segment_ids = tf.cast(inside & (positions > keep_a + 1), tf.int32)
        return {
            "token_ids": tf.where(inside, token_ids, self.pad_token_id),
            "segment_ids": segment_ids,
            "padding_mask": tf.cast(inside, tf.int32),
        }

