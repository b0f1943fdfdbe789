"""Checkpoint converters: Hugging Face folders (both ways) and the official TF1 checkpoints."""

from electra_keras.convert.huggingface import from_huggingface, to_huggingface
from electra_keras.convert.official_tf1 import from_official_tf1
from electra_keras.convert.tables import CheckpointMismatchError

__all__ = ["CheckpointMismatchError", "from_huggingface", "from_official_tf1", "to_huggingface"]
