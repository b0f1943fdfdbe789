import os

# Before anything imports keras.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # as electra_keras sets it (see its __init__)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import keras  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

# Every op runs deterministically (on CPU this mostly pins tf.data's order and
# refuses unseeded random ops), so a test that trains to a threshold gives the
# same figure on every run: `pytest -m threshold` five times in a row shows it.
tf.config.experimental.enable_op_determinism()


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)
