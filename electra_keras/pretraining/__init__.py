"""Pretraining models: ELECTRA (generator + discriminator), plain MLM, and ALBERT (MLM + SOP)."""

from electra_keras.pretraining.albert import AlbertPretrainer
from electra_keras.pretraining.electra import ElectraPretrainer
from electra_keras.pretraining.masking import MaskingConfig, mask_batch
from electra_keras.pretraining.mlm import MaskedLMPretrainer

# The model a pretraining run saves as `<name>.keras` for fine-tuning, per objective.
FINE_TUNED_PART = {
    **dict.fromkeys(("electra", "electra-15", "replace-mlm", "all-tokens-mlm"), "discriminator"),
    "mlm": "masked_lm",
    **dict.fromkeys(("albert", "albert-nsp", "albert-none"), "albert"),
}

__all__ = ["AlbertPretrainer", "ElectraPretrainer", "MaskedLMPretrainer", "MaskingConfig", "mask_batch"]
