"""Pretraining models: ELECTRA (generator + discriminator), plain MLM, and ALBERT (MLM + SOP)."""

from electra_keras.pretraining.albert import AlbertPretrainer
from electra_keras.pretraining.electra import ElectraPretrainer
from electra_keras.pretraining.masking import MaskingConfig, mask_batch
from electra_keras.pretraining.mlm import MaskedLMPretrainer

__all__ = ["AlbertPretrainer", "ElectraPretrainer", "MaskedLMPretrainer", "MaskingConfig", "mask_batch"]
