"""The old home of the SentencePiece tokenizer and its training.

Kept so that `from electra_keras.data.sentencepiece import
SentencePieceTokenizer, train_sentencepiece` (and the other names below) goes
on working. The tokenizer is in `electra_keras.data.tokenizers.sentencepiece`,
the training beside WordPiece's in `electra_keras.data.vocabulary`.
"""

from electra_keras.data.tokenizers.base import Tokenizer
from electra_keras.data.tokenizers.sentencepiece import (
    CLS_TOKEN,
    MASK_TOKEN,
    PAD_TOKEN,
    SEP_TOKEN,
    SOURCE_KEY,
    SPECIAL_TOKENS,
    UNK_TOKEN,
    WORD_BOUNDARY,
    ModelInput,
    SentencePieceTokenizer,
    is_sentencepiece_model,
    preprocess,
)
from electra_keras.data.vocabulary import train_sentencepiece

__all__ = [
    "CLS_TOKEN",
    "MASK_TOKEN",
    "PAD_TOKEN",
    "SEP_TOKEN",
    "SOURCE_KEY",
    "SPECIAL_TOKENS",
    "UNK_TOKEN",
    "WORD_BOUNDARY",
    "ModelInput",
    "SentencePieceTokenizer",
    "Tokenizer",
    "is_sentencepiece_model",
    "preprocess",
    "train_sentencepiece",
]
