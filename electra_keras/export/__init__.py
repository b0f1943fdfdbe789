"""Shipping models: SavedModels for TF Serving, TFLite models for LiteRT."""

from electra_keras.export.saved_model import (
    RAW_SIGNATURE,
    TOKEN_IDS_SIGNATURE,
    export_saved_model,
    next_version_dir,
)

__all__ = ["RAW_SIGNATURE", "TOKEN_IDS_SIGNATURE", "export_saved_model", "next_version_dir"]
