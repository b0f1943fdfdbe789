"""Checkpoint converters: Hugging Face folders and the official TF1 checkpoints."""

from electra_keras.convert.huggingface import from_huggingface, to_huggingface
from electra_keras.convert.tables import CheckpointMismatchError

__all__ = ["CheckpointMismatchError", "from_huggingface", "to_huggingface"]
