"""Input pipelines: corpus reading, vocabularies, pretraining examples, tokenization.

    corpus -> vocabulary -> prepare_pretraining_data (TFRecord shards) -> pretraining_dataset

    packages.py          where the pinned data packages are installed
    registry.py          every shipped dataset and corpus, as data (DATASETS.md)
    catalog.py           the registry shown and checked (`electra-keras datasets`)
    dataset_libraries.py Hugging Face datasets and TFDS as sources (hf:..., tfds:...)
    corpus.py            reading a text corpus into documents of sentences
    tokenizers/          text -> ids: Tokenizer, WordPiece, SentencePiece, make_tokenizer
    vocabulary.py        learning a WordPiece vocabulary or a SentencePiece model
    pretraining_data.py  corpus -> packed TFRecord shards -> a tf.data pipeline
    pipeline.py          tf.data options every pipeline here gets (autotuning without its thread)
    tasks/               fine-tuning data: example types, user files and datasets, shipped datasets
    tokenizer.py, sentencepiece.py: the old import paths of the tokenizers

Names are loaded lazily: importing `electra_keras.data` (for instance for
`electra_keras.data.packages`) should not pay for TensorFlow Text.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> the module that defines it
_LAZY = {
    "Tokenizer": "electra_keras.data.tokenizers.base",
    "WordPieceTokenizer": "electra_keras.data.tokenizers.wordpiece",
    "make_tokenizer": "electra_keras.data.tokenizers.factory",
    "SentencePieceTokenizer": "electra_keras.data.tokenizers.sentencepiece",
    "train_sentencepiece": "electra_keras.data.vocabulary",
    "CorpusStats": "electra_keras.data.corpus",
    "read_documents": "electra_keras.data.corpus",
    "resolve_corpus": "electra_keras.data.corpus",
    "build_wordpiece_vocabulary": "electra_keras.data.vocabulary",
    "write_vocabulary": "electra_keras.data.tokenizers.wordpiece",
    "PreparationStats": "electra_keras.data.pretraining_data",
    "load_metadata": "electra_keras.data.pretraining_data",
    "prepare_pretraining_data": "electra_keras.data.pretraining_data",
    "pretraining_dataset": "electra_keras.data.pretraining_data",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
