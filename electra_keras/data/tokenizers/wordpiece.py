"""In-graph WordPiece tokenization that reproduces Hugging Face's BERT tokenizer.

`WordPieceTokenizer` turns strings into the packed `token_ids`, `segment_ids`
and `padding_mask` that BERT-style encoders (ELECTRA, ALBERT with a WordPiece
vocabulary) take. All of it is TensorFlow graph code, so the same object works
eagerly, inside `tf.function`, inside `tf.data.Dataset.map` and inside an
exported SavedModel.

The reference is `transformers.BertTokenizerFast` (the Rust `tokenizers`
pipeline: BertNormalizer, BertPreTokenizer, WordPiece, TemplateProcessing and
`longest_first` truncation), and the ids are equal to its ids.

The `vocab.txt` file (one token per line, the line number is the id) is read
by `load_vocabulary` and written by `write_vocabulary`. `split_words` is the
pre-tokenizer: vocabulary learning (`electra_keras.data.vocabulary`) learns
its pieces from the same words the tokenizer looks up.

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

import collections
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf
import tensorflow_text as tf_text

from electra_keras.data.tokenizers.base import TextInput, Tokenizer, as_text_tensor

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


def write_vocabulary(tokens: Sequence[str], path: str | os.PathLike) -> Path:
    """Writes a `vocab.txt`: UTF-8, one token per line, the line number is the id.

    Raises:
        ValueError: a token is empty, contains a line break or repeats, or a
            special token is missing (the file would not load back the same
            or would not work with `WordPieceTokenizer`).
    """
    tokens = list(tokens)
    for index, token in enumerate(tokens):
        if not token or "\n" in token or "\r" in token:
            raise ValueError(f"vocabulary token {index} ({token!r}) is empty or has a line break")
    repeated = [token for token, count in collections.Counter(tokens).items() if count > 1]
    if repeated:
        raise ValueError(f"vocabulary tokens appear more than once: {repeated[:10]}")
    missing = [t for t in SPECIAL_TOKENS if t not in tokens]
    if missing:
        raise ValueError(f"vocabulary lacks the special tokens {missing}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
    return path


def vocabulary_sha256(tokens: Sequence[str]) -> str:
    """SHA-256 of the vocabulary as `write_vocabulary` writes it.

    So it equals the SHA-256 of such a `vocab.txt` file, and data prepared
    from a token list and from its file agree.
    """
    return hashlib.sha256("".join(t + "\n" for t in tokens).encode("utf-8")).hexdigest()


def split_words(texts: tf.Tensor) -> tf.RaggedTensor:
    """Cuts normalized text into the words WordPiece looks up (BertPreTokenizer).

    Every punctuation character becomes a word of its own, and whitespace
    separates the others. `WordPieceTokenizer` and WordPiece vocabulary
    learning both cut words with this function, so the vocabulary is learned
    from exactly the words the tokenizer will look up.

    Args:
        texts: [n] tf.string, normalized by `WordPieceTokenizer.normalize`
            (after which every whitespace character is a plain space).

    Returns:
        [n, words] tf.string RaggedTensor.

    Example:
        >>> split_words(tf.constant(["don't stop!"])).to_list()
        [[b'don', b"'", b't', b'stop', b'!']]
    """
    texts = tf.strings.regex_replace(texts, _PUNCTUATION, r" \1 ")
    return tf.strings.split(texts)


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

    special_tokens = SPECIAL_TOKENS

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
        self._set_vocabulary(tokens)
        self._use_table(
            tf.lookup.KeyValueTensorInitializer(
                keys=tf.constant(list(self._token_to_id), dtype=tf.string),
                values=tf.constant(list(self._token_to_id.values()), dtype=tf.int64),
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
        texts = as_text_tensor(texts, "texts")
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

    def _tokenize_text(self, texts: tf.Tensor) -> tf.RaggedTensor:
        # U+FFFD from the sanitizer is deleted by the normalizer, as tokenizers deletes it.
        words = split_words(self._normalize(texts))
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

