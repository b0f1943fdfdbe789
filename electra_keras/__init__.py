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
# TensorFlow turns its oneDNN kernels on by itself only on CPUs with
# AVX512_VNNI/BF16 or AMX; elsewhere (AVX2 CPUs such as many AMD EPYCs) it
# keeps Eigen's, which ran matmuls 1.4x and the ELECTRA train step 1.4-1.5x
# slower in benchmarks/RESULTS.md. Read once, when TensorFlow loads: this
# only helps when electra_keras is imported first; TF_ENABLE_ONEDNN_OPTS=0
# keeps Eigen.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

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
