"""Tokenizers: text in, the packed ids an encoder takes out, in TensorFlow graph ops.

    base.py           Tokenizer: special tokens, [CLS] A [SEP] B [SEP] packing, truncation
    wordpiece.py      WordPieceTokenizer (BERT, ELECTRA) and its vocab.txt
    sentencepiece.py  SentencePieceTokenizer (ALBERT) and its .model
    factory.py        make_tokenizer: a vocabulary of either kind -> its tokenizer

Learning a vocabulary from a corpus is electra_keras.data.vocabulary.
"""

from electra_keras.data.tokenizers.base import Tokenizer
from electra_keras.data.tokenizers.factory import make_tokenizer
from electra_keras.data.tokenizers.sentencepiece import SentencePieceTokenizer
from electra_keras.data.tokenizers.wordpiece import WordPieceTokenizer

__all__ = ["SentencePieceTokenizer", "Tokenizer", "WordPieceTokenizer", "make_tokenizer"]
