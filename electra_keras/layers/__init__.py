"""Reusable building blocks: embeddings, transformer sublayers, heads."""

from electra_keras.layers.activations import get_activation
from electra_keras.layers.embeddings import Embeddings
from electra_keras.layers.heads import DiscriminatorHead, MaskedLMHead, SentenceOrderHead
from electra_keras.layers.normalization import LayerNorm
from electra_keras.layers.transformer import AttentionSublayer, FeedForwardSublayer

__all__ = [
    "AttentionSublayer",
    "DiscriminatorHead",
    "Embeddings",
    "FeedForwardSublayer",
    "LayerNorm",
    "MaskedLMHead",
    "SentenceOrderHead",
    "get_activation",
]
