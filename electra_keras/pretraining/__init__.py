"""Pretraining models: ELECTRA (generator + discriminator) and ALBERT (MLM + SOP)."""

from electra_keras.pretraining.albert import AlbertPretrainer
from electra_keras.pretraining.electra import ElectraPretrainer

__all__ = ["AlbertPretrainer", "ElectraPretrainer"]
