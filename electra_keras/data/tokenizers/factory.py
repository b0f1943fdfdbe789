"""`make_tokenizer`: the one entry point from "a vocabulary" to a tokenizer.

It tells a SentencePiece model (a `.model` path, its bytes, or the `source`
of a `SentencePieceTokenizer`) from a WordPiece vocabulary (a `vocab.txt`
path or a token list) and builds the matching tokenizer.
"""

from __future__ import annotations

import base64
import os
from typing import Any

from electra_keras.data.tokenizers.base import Tokenizer
from electra_keras.data.tokenizers.sentencepiece import (
    SOURCE_KEY,
    SentencePieceTokenizer,
    is_sentencepiece_model,
)
from electra_keras.data.tokenizers.wordpiece import WordPieceTokenizer


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
    if isinstance(vocabulary, dict) and SOURCE_KEY in vocabulary:
        vocabulary = base64.b64decode(vocabulary[SOURCE_KEY])
    if isinstance(vocabulary, (bytes, bytearray)) or (
        isinstance(vocabulary, (str, os.PathLike)) and is_sentencepiece_model(vocabulary)
    ):
        return SentencePieceTokenizer(
            vocabulary, lowercase=lowercase, sequence_length=sequence_length, **kwargs
        )
    return WordPieceTokenizer(vocabulary, lowercase=lowercase, sequence_length=sequence_length, **kwargs)
