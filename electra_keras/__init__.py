"""electra_keras: pretrain, fine-tune and ship ELECTRA and ALBERT in Keras 3.

    import electra_keras as ek
    config = ek.ModelConfig.from_preset("electra-small")
    discriminator = ek.ElectraDiscriminator(config)
"""

import os

# Keras reads its backend once, at its first import: set it before that.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
if os.environ["KERAS_BACKEND"] != "tensorflow":
    raise ImportError(
        "electra_keras runs on the TensorFlow backend of Keras 3; "
        f"KERAS_BACKEND is set to {os.environ['KERAS_BACKEND']!r}. "
        "Unset it or set KERAS_BACKEND=tensorflow."
    )

from electra_keras.config import PRESETS, ModelConfig  # noqa: E402
from electra_keras.encoder import Encoder  # noqa: E402
from electra_keras.models import ElectraDiscriminator, ElectraGenerator  # noqa: E402
from electra_keras.pretraining import (  # noqa: E402
    AlbertPretrainer,
    ElectraPretrainer,
    MaskedLMPretrainer,
    MaskingConfig,
)
from electra_keras.tasks import SpanQuestionAnswerer, TextClassifier, TokenClassifier  # noqa: E402
from electra_keras import data, training  # noqa: E402
from electra_keras.training import optimizers  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "AlbertPretrainer",
    "ElectraDiscriminator",
    "ElectraGenerator",
    "ElectraPretrainer",
    "MaskedLMPretrainer",
    "MaskingConfig",
    "Encoder",
    "SpanQuestionAnswerer",
    "TextClassifier",
    "TokenClassifier",
    "ModelConfig",
    "data",
    "optimizers",
    "training",
]
