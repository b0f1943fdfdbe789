"""Activations by the names transformers' configs use."""

import keras


@keras.saving.register_keras_serializable(package="electra_keras")
def gelu(x):
    """Exact GELU, x * Phi(x) with the erf: BERT/ELECTRA in transformers."""
    return keras.activations.gelu(x, approximate=False)


@keras.saving.register_keras_serializable(package="electra_keras")
def gelu_new(x):
    """Tanh-approximated GELU: the released ALBERT configs' "gelu_new"."""
    return keras.activations.gelu(x, approximate=True)


_ACTIVATIONS = {"gelu": gelu, "gelu_new": gelu_new, "relu": keras.activations.relu}


def get_activation(name: str):
    if name not in _ACTIVATIONS:
        raise ValueError(
            f"Unknown activation {name!r}; expected one of {sorted(_ACTIVATIONS)}"
        )
    return _ACTIVATIONS[name]
