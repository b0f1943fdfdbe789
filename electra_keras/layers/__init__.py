"""Reusable building blocks: embeddings, transformer sublayers, heads."""

from electra_keras.layers.activations import get_activation
from electra_keras.layers.embeddings import Embeddings
from electra_keras.layers.heads import DiscriminatorHead, SentenceOrderHead, masked_lm_head
from electra_keras.layers.transformer import AttentionSublayer, FeedForwardSublayer

__all__ = [
    "AttentionSublayer",
    "DiscriminatorHead",
    "Embeddings",
    "FeedForwardSublayer",
    "SentenceOrderHead",
    "get_activation",
    "masked_lm_head",
]
