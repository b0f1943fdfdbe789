"""In-graph WordPiece tokenization that reproduces Hugging Face's BERT tokenizer.

`WordPieceTokenizer` turns strings into the packed `token_ids`, `segment_ids`
and `padding_mask` that BERT-style encoders (ELECTRA, ALBERT with a WordPiece
vocabulary) take. All of it is TensorFlow graph code, so the same object works
eagerly, inside `tf.function`, inside `tf.data.Dataset.map` and inside an
exported SavedModel.

The reference is `transformers.BertTokenizerFast` (the Rust `tokenizers`
pipeline: BertNormalizer, BertPreTokenizer, WordPiece, TemplateProcessing and
`longest_first` truncation), and the ids are equal to its ids.

Only long-standing ops are used, because TF Serving lacks the newer TF-Text
kernels: core `tf.strings`/ragged ops plus TF-Text's `NormalizeUTF8` and
`WordpieceTokenizeWithOffsets`.
The newer `FastBertNormalize`, `FastWordpieceTokenizeWithOffsets` and
`RoundRobinTrim` ops are deliberately avoided (so no `tf_text.FastBertTokenizer`,
`tf_text.RoundRobinTrimmer` or keras_hub's packers).

Where this differs from `BertTokenizerFast`:

* Invalid UTF-8 bytes are replaced by U+FFFD, which the BERT normalizer then
  deletes, so the bytes simply vanish. `BertTokenizerFast` only accepts Python
  `str`; decoding bytes with `errors="replace"` before calling it gives the
  same ids.
* Character classes come from two Unicode versions. The deleted characters,
  whitespace and CJK ranges are spelled out below exactly as `tokenizers`
  (0.23) applies them. "Punctuation", "non-spacing mark", lowercasing and NFD
  come from the Unicode tables of TensorFlow's RE2 and ICU, which are newer
  than those of `tokenizers`. Of all 1,112,064 code points, each put between
  two letters, 548 get different ids when lowercasing (129 when cased); all
  were added to Unicode or re-categorised after Unicode 3.2. Examples are the
  punctuation U+2E43..U+2E4F and U+1144B (Newa), and the newer Mn marks such
  as U+07FD and U+0898. Emoji, and the common scripts checked by the tests,
  are not affected.
* transformers' single-string call `tok("a", "")` drops an empty second
  segment and encodes one segment. Batched calls (`tok(["a"], [""])`) keep it
  as `[CLS] a [SEP] [SEP]`, and so does this class for any input.
"""

from __future__ import annotations

import os
import re

# Keras picks its backend at first import; this module is TensorFlow-only.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Union  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_text as tf_text  # noqa: E402

TextInput = Union[str, bytes, Sequence[str], Sequence[bytes], np.ndarray, tf.Tensor]

PAD_TOKEN = "[PAD]"
UNK_TOKEN = "[UNK]"
CLS_TOKEN = "[CLS]"
SEP_TOKEN = "[SEP]"
MASK_TOKEN = "[MASK]"
SPECIAL_TOKENS = (PAD_TOKEN, UNK_TOKEN, CLS_TOKEN, SEP_TOKEN, MASK_TOKEN)

# Same default as tokenizers' WordPiece: a longer word becomes one [UNK]. It
# counts code points after normalization, not bytes (TF-Text's limit is bytes).
MAX_CHARS_PER_WORD = 100

# Characters that BertNormalizer(clean_text=True) deletes: U+0000, U+FFFD and
# its "control" set (Cc except \t\n\r, Cf, Co), as measured on every code
# point. They are written out, not taken from RE2's \p{Cf}, because
# tokenizers' (older) Cf table differs from RE2's. Unassigned code points are
# kept, as tokenizers keeps them.
_DELETED = (
    r"[\x{0}-\x{8}\x{B}\x{C}\x{E}-\x{1F}\x{7F}-\x{9F}"
    r"\x{AD}\x{600}-\x{605}\x{61C}\x{6DD}\x{70F}\x{180E}\x{200B}-\x{200F}"
    r"\x{202A}-\x{202E}\x{2060}-\x{2064}\x{2066}-\x{206F}\x{FEFF}"
    r"\x{FFF9}-\x{FFFB}\x{FFFD}\x{110BD}\x{1BCA0}-\x{1BCA3}\x{1D173}-\x{1D17A}"
    r"\x{E0001}\x{E0020}-\x{E007F}"
    r"\x{E000}-\x{F8FF}\x{F0000}-\x{FFFFD}\x{100000}-\x{10FFFD}]"
)
# Rust's char::is_whitespace (the White_Space property) minus the Cc members
# that the deletion above already removed (\v \f U+0085 U+001C..U+001F).
_WHITESPACE = (
    r"[\t\n\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}"
    r"\x{205F}\x{3000}]"
)
# BertNormalizer's "Chinese character" ranges: each such character becomes a
# word of its own.
_CJK = (
    r"([\x{3400}-\x{4DBF}\x{4E00}-\x{9FFF}\x{F900}-\x{FAFF}\x{20000}-\x{2A6DF}"
    r"\x{2A700}-\x{2B81F}\x{2B920}-\x{2CEAF}\x{2F800}-\x{2FA1F}])"
)
# BertPreTokenizer isolates every punctuation character: all ASCII punctuation
# (which includes symbols such as $ + < = > ^ ` | ~) and Unicode category P.
_PUNCTUATION = r"([!-/:-@\[-`{-~]|\p{P})"
# The special tokens are matched in the raw text before normalization, like
# tokenizers' added tokens (normalized=False): "[MASK]" is the mask token,
# "[mask]" is three ordinary words.


def load_vocabulary(vocabulary: str | os.PathLike | Sequence[str]) -> list[str]:
    """Returns the tokens of a WordPiece vocabulary, one per id.

    Args:
        vocabulary: the path of a `vocab.txt` file (UTF-8, one token per line,
            the line number is the id) or a sequence of token strings.

    Example:
        >>> load_vocabulary(["[PAD]", "[UNK]", "hello"])
        ['[PAD]', '[UNK]', 'hello']
    """
    if isinstance(vocabulary, (str, os.PathLike)):
        path = os.fspath(vocabulary)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"vocabulary: no such file {path!r} (expected a WordPiece "
                "vocab.txt with one token per line)"
            )
        with open(path, encoding="utf-8") as f:
            return [line.rstrip("\r\n") for line in f]
    if isinstance(vocabulary, (bytes, tf.Tensor)) or not isinstance(vocabulary, Sequence):
        raise TypeError(
            "vocabulary must be the path of a vocab.txt file or a list of token "
            f"strings; got {type(vocabulary).__name__}"
        )
    tokens = list(vocabulary)
    bad = [t for t in tokens if not isinstance(t, str)]
    if bad:
        raise TypeError(
            f"vocabulary must contain only str tokens; got {type(bad[0]).__name__} {bad[0]!r}"
        )
    return tokens


def _as_text_tensor(value: Any, name: str) -> tf.Tensor:
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


def _keep_prefix(ids: tf.RaggedTensor, lengths: tf.Tensor) -> tf.RaggedTensor:
    positions = tf.ragged.range(ids.row_lengths())
    return tf.ragged.boolean_mask(ids, positions < tf.expand_dims(lengths, 1))


class Tokenizer(keras.layers.Layer):
    """What every tokenizer of this package does, whatever its segmentation.

    Subclasses (`WordPieceTokenizer`, `SentencePieceTokenizer`) set
    `special_tokens` (the names of [PAD], [UNK], [CLS], [SEP] and [MASK] in
    their vocabulary), fill `_vocabulary` and `_token_to_id`, and define
    `_tokenize_text` (raw strings -> ids), `_join` (ids -> text), `source`,
    `resources` and `write_vocabulary_file`. This
    class cuts literal special tokens out of the text, packs
    `[CLS] A [SEP] (B [SEP])` with `longest_first` truncation and right
    padding, and checks the inputs.
    """

    special_tokens: tuple[str, str, str, str, str] = SPECIAL_TOKENS

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
        self._vocabulary: list[str] = []
        self._token_to_id: dict[str, int] = {}

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
            >>> tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hi"])
            >>> tok.tokenize("Hi hello").numpy().tolist()
            [5, 1]
        """
        texts = _as_text_tensor(texts, "texts")
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
        texts = _as_text_tensor(texts, "texts")
        scalar = texts.shape.rank == 0
        if texts_b is None:
            batch = tf.expand_dims(texts, 0) if scalar else texts
            outputs = self._pack(self._tokenize_batch(batch), None, length)
        else:
            texts_b = _as_text_tensor(texts_b, "texts_b")
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
        batch = ids_a.nrows()

        def constant(token_id: int) -> tf.RaggedTensor:
            column = tf.fill([batch, 1], tf.constant(token_id, tf.int32))
            return tf.RaggedTensor.from_tensor(column)

        cls, sep = constant(self.cls_token_id), constant(self.sep_token_id)
        if ids_b is None:
            keep_a = tf.minimum(ids_a.row_lengths(), length - 2)
            pieces = [cls, _keep_prefix(ids_a, keep_a), sep]
            segments = [0, 0, 0]
        else:
            keep_a, keep_b = longest_first_lengths(
                ids_a.row_lengths(), ids_b.row_lengths(), length - 3
            )
            pieces = [cls, _keep_prefix(ids_a, keep_a), sep, _keep_prefix(ids_b, keep_b), sep]
            segments = [0, 0, 0, 1, 1]
        token_ids = tf.concat(pieces, axis=1)
        segment_ids = tf.concat(
            [tf.ones_like(p) * s for p, s in zip(pieces, segments)], axis=1
        )
        shape = [None, length]
        return {
            "token_ids": token_ids.to_tensor(default_value=self.pad_token_id, shape=shape),
            "segment_ids": segment_ids.to_tensor(default_value=0, shape=shape),
            "padding_mask": tf.ones_like(token_ids).to_tensor(default_value=0, shape=shape),
        }


@keras.saving.register_keras_serializable(package="electra_keras")
class WordPieceTokenizer(Tokenizer):
    """BERT WordPiece tokenizer and packer, in TensorFlow graph ops.

    Its ids equal `transformers.BertTokenizerFast` with the same vocabulary
    and `do_lower_case=lowercase`, including `longest_first` truncation of
    pairs; the module docstring lists the few rare exceptions.

    Calling the layer packs one segment as `[CLS] A [SEP]` or a pair as
    `[CLS] A [SEP] B [SEP]`, truncated and right-padded to `sequence_length`,
    and returns a dict of int32 tensors of shape [batch, sequence_length]:
    `token_ids`, `segment_ids` (0 for `[CLS] A [SEP]` and padding, 1 for
    `B [SEP]`) and `padding_mask` (1 for real tokens). A scalar string gives
    shape [sequence_length] instead, which suits `Dataset.map` before
    `batch`.

    Literal special tokens in the text ("[MASK]", "[SEP]", ...) become those
    tokens, as in transformers; pass `special_tokens_in_strings=False` to read
    them as ordinary text.

    Args:
        vocabulary: path of a `vocab.txt` file or a list of tokens (the index
            is the id). It must contain [PAD], [UNK], [CLS], [SEP] and [MASK].
        lowercase: lowercase and strip accents (NFD, drop Mn marks), like an
            uncased BERT vocabulary. False keeps case and accents.
        sequence_length: length of the packed outputs, at least 3. Every call
            can override it.
        special_tokens_in_strings: recognise the literal special tokens in
            input text.
        **kwargs: standard Keras layer arguments (`name`, ...).

    Example:
        >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
        ...          "the", "qu", "##ick", "fox", "."]
        >>> tok = WordPieceTokenizer(vocab, sequence_length=10)
        >>> tok.tokenize(["The quick fox."]).to_list()
        [[5, 6, 7, 8, 9]]
        >>> out = tok(["The fox."], ["Quick!"])
        >>> out["token_ids"].numpy().tolist()
        [[2, 5, 8, 9, 3, 6, 7, 1, 3, 0]]
        >>> out["segment_ids"].numpy().tolist()
        [[0, 0, 0, 0, 0, 1, 1, 1, 1, 0]]
        >>> out["padding_mask"].numpy().tolist()
        [[1, 1, 1, 1, 1, 1, 1, 1, 1, 0]]
    """

    def __init__(
        self,
        vocabulary: str | os.PathLike | Sequence[str],
        lowercase: bool = True,
        sequence_length: int = 128,
        special_tokens_in_strings: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(lowercase, sequence_length, special_tokens_in_strings, **kwargs)
        tokens = load_vocabulary(vocabulary)
        if not tokens:
            raise ValueError("vocabulary is empty")
        missing = [t for t in SPECIAL_TOKENS if t not in tokens]
        if missing:
            raise ValueError(
                f"vocabulary is missing the special tokens {missing}; a BERT WordPiece "
                f"vocabulary must contain all of {list(SPECIAL_TOKENS)}"
            )
        self._vocabulary = tokens

        # A repeated token keeps its last id, as in tokenizers' vocab reader.
        token_to_id = {token: i for i, token in enumerate(tokens)}
        self._token_to_id = token_to_id
        self._use_table(
            tf.lookup.KeyValueTensorInitializer(
                keys=tf.constant(list(token_to_id), dtype=tf.string),
                values=tf.constant(list(token_to_id.values()), dtype=tf.int64),
            )
        )

    def _use_table(self, initializer) -> None:
        # The WordPiece kernel looks words up in the table's own resource and
        # treats -1 as "not in the vocabulary".
        self._table = tf.lookup.StaticHashTable(initializer, default_value=-1)
        # Words longer than MAX_CHARS_PER_WORD code points are replaced by
        # [UNK] before this runs, so 4 bytes per code point always fits.
        self._wordpiece = tf_text.WordpieceTokenizer(
            self._table,
            suffix_indicator="##",
            max_bytes_per_word=4 * MAX_CHARS_PER_WORD,
            token_out_type=tf.int64,
            unknown_token=UNK_TOKEN,
            split_unknown_characters=False,
        )

    def read_vocabulary_from(self, vocabulary_file: str | os.PathLike) -> None:
        """Looks tokens up in `vocabulary_file` at run time instead of in constants.

        A SavedModel then carries the file as an asset (the vocabulary travels
        as `assets/vocab.txt`, readable by anyone serving the model) rather than
        as a constant buried in the graph. The file must hold this tokenizer's
        vocabulary, one token per line, without repeated tokens (a text-file
        table cannot give a repeated token its last id).
        """
        path = os.fspath(vocabulary_file)
        if load_vocabulary(path) != self._vocabulary:
            raise ValueError(f"{path}: not this tokenizer's vocabulary")
        if len(self._token_to_id) != len(self._vocabulary):
            seen, repeated = set(), []
            for token in self._vocabulary:
                if token in seen:
                    repeated.append(token)
                seen.add(token)
            raise ValueError(
                f"{path}: repeated tokens {repeated[:5]}; a vocabulary read from a file "
                "at run time needs every token once"
            )
        self._use_table(
            tf.lookup.TextFileInitializer(
                path,
                key_dtype=tf.string,
                key_index=tf.lookup.TextFileIndex.WHOLE_LINE,
                value_dtype=tf.int64,
                value_index=tf.lookup.TextFileIndex.LINE_NUMBER,
            )
        )

    @property
    def source(self) -> list[str]:
        return list(self._vocabulary)

    @property
    def resources(self) -> list:
        return [self._table]

    def write_vocabulary_file(self, folder: str | os.PathLike) -> Path:
        from electra_keras.data.vocabulary import write_vocabulary

        return write_vocabulary(self._vocabulary, Path(folder) / "vocab.txt")

    # -- tokenization -------------------------------------------------------

    def normalize(self, texts: TextInput) -> tf.Tensor:
        """BertNormalizer on UTF-8-sanitised text, without special-token handling.

        Args:
            texts: a string or a [batch] of strings.

        Example:
            >>> tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
            >>> tok.normalize("Crème\\u200b Brûlée").numpy().decode()
            'creme brulee'
        """
        texts = _as_text_tensor(texts, "texts")
        return self._normalize(self._sanitize(texts))

    def _normalize(self, texts: tf.Tensor) -> tf.Tensor:
        texts = tf.strings.regex_replace(texts, _DELETED, "")
        texts = tf.strings.regex_replace(texts, _WHITESPACE, " ")
        texts = tf.strings.regex_replace(texts, _CJK, r" \1 ")
        if self.lowercase:
            # tokenizers strips accents (NFD, drop Mn) before lowercasing.
            texts = tf_text.normalize_utf8(texts, "NFD")
            texts = tf.strings.regex_replace(texts, r"\p{Mn}", "")
            # ASCII first with the locale-free byte op: ICU's lowercasing
            # follows the process locale, which maps I to dotless ı under tr/az.
            texts = tf.strings.lower(texts)
            # tokenizers lowercases char by char (Σ -> σ always); ICU would
            # apply the word-final-sigma rule (ς), so take Σ out of its hands.
            texts = tf.strings.regex_replace(texts, "\u03a3", "\u03c3")
            texts = tf.strings.lower(texts, encoding="utf-8")
        return texts

    def _words(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """[n] normalized strings -> [n, words] (BertPreTokenizer)."""
        texts = tf.strings.regex_replace(texts, _PUNCTUATION, r" \1 ")
        # After normalization every whitespace character is a plain space.
        return tf.strings.split(texts)

    def _tokenize_text(self, texts: tf.Tensor) -> tf.RaggedTensor:
        # U+FFFD from the sanitizer is deleted by the normalizer, as tokenizers deletes it.
        words = self._words(self._normalize(texts))
        too_long = tf.strings.length(words.flat_values, unit="UTF8_CHAR") > MAX_CHARS_PER_WORD
        words = words.with_flat_values(tf.where(too_long, UNK_TOKEN, words.flat_values))
        return tf.cast(self._wordpiece.tokenize(words).merge_dims(1, 2), tf.int32)

    def _join(self, ids: tf.RaggedTensor) -> tf.Tensor:
        """Merges "##" pieces into their words."""
        words = tf.gather(tf.constant(self._vocabulary, dtype=tf.string), ids)
        text = tf.strings.reduce_join(words, axis=-1, separator=" ")
        return tf.strings.regex_replace(text, " ##", "")

    # -- serialization ------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            vocabulary=list(self._vocabulary),
            lowercase=self.lowercase,
            sequence_length=self.sequence_length,
            special_tokens_in_strings=self.special_tokens_in_strings,
        )
        return config


def make_tokenizer(
    vocabulary: Any, lowercase: bool = True, sequence_length: int = 128, **kwargs: Any
) -> Tokenizer:
    """The one entry point from "a vocabulary" to a tokenizer.

    Args:
        vocabulary: a WordPiece `vocab.txt` path or token list, or a
            SentencePiece `.model` path, its ModelProto bytes, or the
            `source` of a `SentencePieceTokenizer` ({"sentencepiece_model":
            base64}); a `Tokenizer` is returned as it is.
        lowercase, sequence_length, **kwargs: the tokenizer's arguments.

    Example:
        >>> make_tokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]).__class__.__name__
        'WordPieceTokenizer'
    """
    if isinstance(vocabulary, Tokenizer):
        return vocabulary
    from electra_keras.data import sentencepiece

    if isinstance(vocabulary, dict) and sentencepiece.SOURCE_KEY in vocabulary:
        import base64

        vocabulary = base64.b64decode(vocabulary[sentencepiece.SOURCE_KEY])
    if isinstance(vocabulary, (bytes, bytearray)) or (
        isinstance(vocabulary, (str, os.PathLike)) and sentencepiece.is_sentencepiece_model(vocabulary)
    ):
        return sentencepiece.SentencePieceTokenizer(
            vocabulary, lowercase=lowercase, sequence_length=sequence_length, **kwargs
        )
    return WordPieceTokenizer(vocabulary, lowercase=lowercase, sequence_length=sequence_length, **kwargs)
