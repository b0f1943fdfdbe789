"""Input pipelines: tokenization and data sets.

`WordPieceTokenizer` is loaded lazily: importing `electra_keras.data` (for
instance for `electra_keras.data.packages`) should not pay for TensorFlow Text.
"""

from __future__ import annotations

from typing import Any

__all__ = ["WordPieceTokenizer"]


def __getattr__(name: str) -> Any:
    if name == "WordPieceTokenizer":
        from electra_keras.data.tokenizer import WordPieceTokenizer

        return WordPieceTokenizer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
