"""In-graph SentencePiece tokenization for ALBERT.

`SentencePieceTokenizer` is the ALBERT counterpart of `WordPieceTokenizer`:
the same call (`[CLS] A [SEP] (B [SEP])`, `longest_first` truncation, right
padding, int32 `token_ids`/`segment_ids`/`padding_mask`) over a unigram
SentencePiece model. `train_sentencepiece` (electra_keras.data.vocabulary)
learns such a model from a corpus the way ALBERT's README does (`spm_train --pad_id=0 --unk_id=1 --eos_id=-1
--bos_id=-1 --control_symbols=[CLS],[SEP],[MASK] --character_coverage=0.99995
--model_type=unigram`), so the special ids are those of ALBERT's
`30k-clean.model`: `<pad>`=0, `<unk>`=1, `[CLS]`=2, `[SEP]`=3, `[MASK]`=4.

The reference is `transformers.AlbertTokenizer` (transformers 5, the
`tokenizers` pipeline it builds from a `spiece.model`): special tokens are
split out of the raw text first; each remaining chunk gets ALBERT's
preprocessing (``` `` ``` and `''` become `"`; with `lowercase`, NFKD, marks
removed and lowercasing); then the model's own normalizer (`nmt_nfkc`) and
the unigram segmentation, each chunk starting a new word. The ids are equal
to its ids. The preprocessing is TensorFlow graph code and the segmentation
is TF-Text's `SentencepieceOp`/`SentencepieceTokenizeOp` (not the newer
`FastSentencepieceTokenizer`, whose ops TF Serving lacks), so the same
object works eagerly, in `tf.data`, in `tf.function` and in a SavedModel.

Where this differs from `AlbertTokenizer`. tests/test_sentencepiece_parity.py
pins each case on both sides, with 8,000-piece WikiText-2 models that know
about 1,000 characters: every code point of planes 0-2, alone and between
two letters, and 632 real texts (and their pairs); anything else that
differs fails it.

* Invalid UTF-8 bytes become U+FFFD (as in `WordPieceTokenizer`), which the
  model reads as `<unk>`. `AlbertTokenizer` only takes `str`; decoding bytes
  with `errors="replace"` first gives the same ids.
* With `lowercase`, marks and NFKD come from the Unicode tables of RE2 and
  ICU, which are newer than those of `tokenizers`. Of the 194,928 code
  points swept, 399 get other ids (none with `lowercase=False`; a sweep of
  all 1,112,064 found none above U+1F16C): 355 combining marks that
  `tokenizers` does not know, such as U+07FD and U+0898..U+089F, which this
  class deletes and `tokenizers` reads as `<unk>`; U+1CF2 and U+1CF3,
  letters now and marks in `tokenizers`' older table, which it deletes; 30
  compatibility characters (U+A7F2..U+A7F4, U+1F16C, U+1CCD6..U+1CCEF) that
  ICU decomposes before lowercasing (into `c`, `mr`, `a`...) and
  `tokenizers` only in the model's normalizer, after lowercasing (into
  capitals, which an uncased model lacks); and 12 Hangul code points (next
  item). Common scripts, digits, punctuation, CJK and emoji agree.
* With `lowercase`, NFKD splits Hangul syllables into jamo. SentencePiece's
  own normalizer composes them back, so the ids are the syllables' pieces,
  as with `sentencepiece` itself and the official ALBERT tokenizer
  (google-research/albert, transformers 4's slow `AlbertTokenizer`).
  transformers 5's normalizer leaves the jamo apart: every Hangul syllable
  is `<unk>` there, although the model's pieces are syllables.
* When two segmentations score the same, TF-Text's SentencePiece kernel can
  keep the other one than sentencepiece 0.2 and `tokenizers` do; which one
  depends on the float rounding of the path score, so on the text before.
  Thousands groups are the usual case: with the uncased 8,000-piece model,
  `1,000,000` is `▁1 , 0 00 , 00 0` here and `▁1 , 0 00 , 0 00` there, and
  12 of the 632 real texts (10 cased) differ that way, each on a `,000`; a
  400-piece model with `0` and `00` but no `000` cuts the first `,000` of
  `1,000,000` as `, 00 0` here and `, 0 00` there. WikiText-2's own
  spelling of numbers (`1 @,@ 000`) is rarely hit: 7,748 of its 7,749
  valid sentences get the same ids (the other one has `R100,000`).
* `lowercase=False` means ALBERT's `do_lower_case=False, keep_accents=True`:
  case and accents are kept, as `WordPieceTokenizer(lowercase=False)` keeps
  them. (`AlbertTokenizer(do_lower_case=False)` alone still strips accents.)
* The official ALBERT tokenizer (google-research/albert `tokenization.py`)
  also splits a piece such as `▁9,` into `▁9` `,`; transformers' fast
  tokenizer does not, and neither does this class.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any, Union

import keras
import sentencepiece as spm
import tensorflow as tf
import tensorflow_text as tf_text
from tensorflow_text.python.ops import sentencepiece_tokenizer as tf_text_sentencepiece

from electra_keras.data.tokenizers.base import Tokenizer

PAD_TOKEN = "<pad>"
UNK_TOKEN = "<unk>"
CLS_TOKEN = "[CLS]"
SEP_TOKEN = "[SEP]"
MASK_TOKEN = "[MASK]"
# In id order: ALBERT's spiece.model has exactly these at ids 0..4.
SPECIAL_TOKENS = (PAD_TOKEN, UNK_TOKEN, CLS_TOKEN, SEP_TOKEN, MASK_TOKEN)

# The SentencePiece word-boundary marker (U+2581), as in the `.vocab` file.
WORD_BOUNDARY = "\u2581"

ModelInput = Union[str, os.PathLike, bytes]

# `Tokenizer.source` of a SentencePiece tokenizer: {SOURCE_KEY: base64 ModelProto}.
SOURCE_KEY = "sentencepiece_model"


def preprocess(texts: tf.Tensor, lowercase: bool) -> tf.Tensor:
    """ALBERT's text preprocessing (`do_lower_case`), as TensorFlow graph ops.

    transformers' `AlbertTokenizer` normalizer: ``` `` ``` and `''` become
    `"`; with `lowercase`, NFKD, all marks (category M) removed, then
    lowercasing. The model's own normalizer (`nmt_nfkc`, whitespace) runs
    afterwards inside the SentencePiece op.

    Args:
        texts: tf.string tensor of valid UTF-8, shape [] or [batch].
        lowercase: lowercase and strip accents.

    Example:
        >>> preprocess(tf.constant("``Crème'' BRÛLÉE"), True).numpy().decode()
        '"creme" brulee'
    """
    texts = tf.convert_to_tensor(texts, tf.string)
    if texts.shape.rank == 0:  # one text: the NUL-split below needs a batch
        return preprocess(texts[None], lowercase)[0]
    texts = tf.strings.regex_replace(texts, "``|''", '"')
    if lowercase:
        texts = tf_text.normalize_utf8(texts, "NFKD")
        # tokenizers' StripAccents drops every combining mark (Mn, Mc, Me),
        # not only the non-spacing ones BERT's normalizer drops.
        texts = tf.strings.regex_replace(texts, r"\p{M}", "")
        # As in WordPieceTokenizer: ASCII first with the locale-free byte op
        # (ICU would map I to dotless ı under a tr/az locale), and Σ -> σ by
        # hand because tokenizers lowercases char by char while ICU applies
        # the word-final-sigma rule.
        texts = tf.strings.lower(texts)
        texts = tf.strings.regex_replace(texts, "\u03a3", "\u03c3")
        # The UTF-8 lower op stops reading at a NUL byte (SentencePiece keeps
        # NUL as an unknown character), so lowercase the NUL-free parts.
        # (A NUL `separator` attribute would be cut too: each part gets its
        # NUL from a tensor, and the last one is dropped.)
        parts = tf.strings.split(texts, sep="\x00")
        lowered = tf.strings.lower(parts.flat_values, encoding="utf-8")
        lowered = tf.strings.join([lowered, tf.constant("\x00")])
        texts = tf.strings.reduce_join(parts.with_flat_values(lowered), axis=-1)
        length = tf.strings.length(texts)
        texts = tf.strings.substr(texts, tf.zeros_like(length), length - 1)
    # transformers splits words on every White_Space character after the
    # model's normalizer; nmt_nfkc turns all of them into spaces (or deletes
    # them) except U+0085, which SentencePiece would keep inside a word.
    return tf.strings.regex_replace(texts, r"\x{85}", " ")


def _read_model(model: ModelInput, name: str = "model") -> bytes:
    """The serialized ModelProto of a `.model` path or of the bytes themselves."""
    if isinstance(model, (bytes, bytearray)):
        return bytes(model)
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"{name}: no such file {path!r} (expected a SentencePiece .model file)"
            )
        with open(path, "rb") as f:
            return f.read()
    raise TypeError(
        f"{name} must be the path of a SentencePiece .model file or its serialized "
        f"bytes; got {type(model).__name__}"
    )


def _load_processor(proto: bytes, source: str) -> spm.SentencePieceProcessor:
    processor = spm.SentencePieceProcessor()
    try:
        processor.LoadFromSerializedProto(proto)
    except RuntimeError as err:
        raise ValueError(
            f"{source}: not a SentencePiece model (the ModelProto did not load: {err})"
        ) from None
    return processor


def is_sentencepiece_model(path: str | os.PathLike) -> bool:
    """Whether `path` names a SentencePiece model rather than a WordPiece vocab.

    True for a name ending in `.model` (existing or not, so that a missing
    file is reported by the tokenizer that loads it), or for a file whose
    content loads as a SentencePiece ModelProto.

    Example:
        >>> is_sentencepiece_model("albert/30k-clean.model")
        True
        >>> is_sentencepiece_model("electra/vocab.txt")  # not .model, and no such file to read
        False
    """
    path = os.fspath(path)
    if path.endswith(".model"):
        return True
    if not os.path.isfile(path):
        return False
    with open(path, "rb") as f:
        proto = f.read()
    try:
        _load_processor(proto, path)
    except ValueError:
        return False
    return True

class _SharedModelResource(tf_text_sentencepiece._SentencepieceModelResource):
    """TF-Text's model resource, created under a `shared_name`.

    TF-Text creates the model as a kernel-owned resource: it is deleted when
    the eager kernel cache is cleared, which `tf.random.set_seed` (and so
    `keras.utils.set_random_seed`) does, and every later call then fails with
    "Resource .../_0_SentencepieceOp ... does not exist". A shared name keeps
    the resource in the resource manager instead. It is derived from the
    model bytes, so tokenizers of the same model share one resource (and one
    copy of the model) and different models never collide. The cost: a
    model's resource lives until the process ends.
    """

    def __init__(self, model: bytes) -> None:
        self._shared_name = "electra_keras_sentencepiece_" + hashlib.sha256(model).hexdigest()[:24]
        super().__init__(model, None)

    def _create_resource(self):
        return tf_text_sentencepiece.gen_sentencepiece_tokenizer.sentencepiece_op(
            model=self._model, shared_name=self._shared_name
        )


@keras.saving.register_keras_serializable(package="electra_keras")
class SentencePieceTokenizer(Tokenizer):
    """ALBERT SentencePiece tokenizer and packer, in TensorFlow graph ops.

    Its ids equal `transformers.AlbertTokenizer` built from the same
    `spiece.model` (with `do_lower_case=lowercase`), including
    `longest_first` truncation of pairs; the module docstring lists the
    exceptions (tied segmentations of numbers such as `1,000,000`, Unicode
    tables, Hangul with `lowercase`).

    Calling the layer packs one segment as `[CLS] A [SEP]` or a pair as
    `[CLS] A [SEP] B [SEP]`, truncated and right-padded (with `<pad>`) to
    `sequence_length`, and returns a dict of int32 tensors of shape
    [batch, sequence_length]: `token_ids`, `segment_ids` (0 for
    `[CLS] A [SEP]` and padding, 1 for `B [SEP]`) and `padding_mask` (1 for
    real tokens). A scalar string gives shape [sequence_length] instead.

    Literal special tokens in the text ("[MASK]", "[SEP]", "<pad>", ...)
    become those tokens, as in transformers; pass
    `special_tokens_in_strings=False` to read them as ordinary text.

    The model proto is kept in `get_config()` (base64, about 1 MB for a
    30,000-piece model), so `from_config` needs no file.

    Args:
        model: path of a SentencePiece `.model` file, or its serialized
            ModelProto bytes. It must contain the pieces `<pad>`, `<unk>`,
            `[CLS]`, `[SEP]` and `[MASK]` (see `train_sentencepiece`).
        lowercase: lowercase and strip accents before segmentation, like an
            uncased ALBERT model (`do_lower_case=True`). False keeps case and
            accents.
        sequence_length: length of the packed outputs, at least 3. Every call
            can override it.
        special_tokens_in_strings: recognise the literal special tokens in
            input text.
        **kwargs: standard Keras layer arguments (`name`, ...).

    Example:
        path = train_sentencepiece(None, "/tmp/sp/spiece.model", 8000)
        tok = SentencePieceTokenizer(path, sequence_length=8)
        out = tok(["The fox."], ["Quick!"])
        out["segment_ids"].numpy().tolist()  # [[0, 0, 0, 0, 0, 1, 1, 1]]
        tok.detokenize(out["token_ids"]).numpy().tolist()  # [b'[CLS] the fox. [SEP] quick! [SEP]']
    """

    def __init__(
        self,
        model: ModelInput,
        lowercase: bool = True,
        sequence_length: int = 128,
        special_tokens_in_strings: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(lowercase, sequence_length, special_tokens_in_strings, **kwargs)
        source = os.fspath(model) if isinstance(model, (str, os.PathLike)) else "model"
        self._model_proto = _read_model(model)
        processor = _load_processor(self._model_proto, source)
        pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
        missing = [t for t in SPECIAL_TOKENS if t not in pieces]
        if missing:
            raise ValueError(
                f"{source}: the SentencePiece model lacks the pieces {missing}; an ALBERT "
                f"model needs all of {list(SPECIAL_TOKENS)} (see train_sentencepiece)"
            )
        self._set_vocabulary(pieces)
        # The main path stays on the SentencepieceOp/SentencepieceTokenizeOp
        # kernels: TF Serving has them, not FastSentencepieceTokenizer's.
        self._sentencepiece = tf_text.SentencepieceTokenizer(
            model=self._model_proto, out_type=tf.int32
        )
        self._sentencepiece._model_resource = _SharedModelResource(self._model_proto)

    special_tokens = SPECIAL_TOKENS

    @property
    def source(self) -> dict[str, str]:
        # JSON has no bytes: the ModelProto travels as base64 text.
        return {SOURCE_KEY: base64.b64encode(self._model_proto).decode("ascii")}

    @property
    def resources(self) -> list:
        return [self._sentencepiece._model_resource]

    def write_vocabulary_file(self, folder: str | os.PathLike) -> Path:
        path = Path(folder) / "spiece.model"  # transformers' AlbertTokenizer name
        path.write_bytes(self._model_proto)
        return path

    @property
    def model_proto(self) -> bytes:
        """The serialized SentencePiece ModelProto (what a `.model` file holds)."""
        return self._model_proto

    def _tokenize_text(self, texts: tf.Tensor) -> tf.RaggedTensor:
        # Each chunk between special tokens starts a new word, as
        # transformers' Metaspace(prepend_scheme="always") does.
        return self._sentencepiece.tokenize(preprocess(texts, self.lowercase))

    def _join(self, ids: tf.RaggedTensor) -> tf.Tensor:
        # "▁" becomes a space; special tokens stand apart as words
        # (`[CLS] hello world [SEP]`). The text is the preprocessed one.
        spelled = [
            f"{WORD_BOUNDARY}{piece}{WORD_BOUNDARY}" if piece in SPECIAL_TOKENS else piece
            for piece in self._vocabulary
        ]
        text = tf.strings.reduce_join(tf.gather(tf.constant(spelled), ids), axis=-1)
        text = tf.strings.regex_replace(text, f"{WORD_BOUNDARY}+", " ")
        return tf.strings.strip(text)

    # -- serialization ------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            # JSON has no bytes: the ModelProto travels as base64 text.
            model=base64.b64encode(self._model_proto).decode("ascii"),
            lowercase=self.lowercase,
            sequence_length=self.sequence_length,
            special_tokens_in_strings=self.special_tokens_in_strings,
        )
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SentencePieceTokenizer:
        config = dict(config)
        model = config.pop("model")
        if isinstance(model, str):
            model = base64.b64decode(model)
        return cls(model, **config)
