"""The old home of the WordPiece tokenizer; the code is in `electra_keras.data.tokenizers`.

Kept so that `from electra_keras.data.tokenizer import WordPieceTokenizer` (and
the other names below) goes on working. New code imports from
`electra_keras.data.tokenizers`: `base` (Tokenizer), `wordpiece`
(WordPieceTokenizer, vocab.txt files) and `factory` (make_tokenizer).
"""

from electra_keras.data.tokenizers.base import TextInput, Tokenizer, longest_first_lengths
from electra_keras.data.tokenizers.factory import make_tokenizer
from electra_keras.data.tokenizers.wordpiece import (
    _CJK,
    _PUNCTUATION,
    _WHITESPACE,
    CLS_TOKEN,
    MASK_TOKEN,
    MAX_CHARS_PER_WORD,
    PAD_TOKEN,
    SEP_TOKEN,
    SPECIAL_TOKENS,
    UNK_TOKEN,
    WordPieceTokenizer,
    load_vocabulary,
)

__all__ = [
    "CLS_TOKEN",
    "MASK_TOKEN",
    "MAX_CHARS_PER_WORD",
    "PAD_TOKEN",
    "SEP_TOKEN",
    "SPECIAL_TOKENS",
    "UNK_TOKEN",
    "TextInput",
    "Tokenizer",
    "WordPieceTokenizer",
    "load_vocabulary",
    "longest_first_lengths",
    "make_tokenizer",
    # Private, but electra_keras/export/question_answering.py imports them from here.
    "_CJK",
    "_PUNCTUATION",
    "_WHITESPACE",
]
