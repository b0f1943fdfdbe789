"""Activations by the names transformers' configs use."""

import keras
from keras import ops

# Floats that mixed precision computes in; GELU runs in float32 on them.
_HALF_FLOATS = ("bfloat16", "float16")


def _in_float32(function, x):
    """`function(x)` computed in float32 when `x` is a half-precision float.

    Mixed precision keeps its matmuls in bfloat16/float16 and, as our layer
    normalization does (layers/normalization.py), GELU's erf (or tanh) in
    float32: TensorFlow's CPU kernels for Erfc and Exp on bfloat16 are slow,
    79 ms of a 650 ms electra-small bfloat16 train step on an AVX512_BF16
    CPU, against 9 ms in float32 (benchmarks/RESULTS.md, "2026-12-03,
    night: an AMD EPYC with AVX512_BF16"). The result is also the float32
    GELU rounded once, where bfloat16 rounded every intermediate.
    """
    dtype = keras.backend.standardize_dtype(x.dtype)
    if dtype in _HALF_FLOATS:
        return ops.cast(function(ops.cast(x, "float32")), dtype)
    return function(x)


@keras.saving.register_keras_serializable(package="electra_keras")
def gelu(x):
    """Exact GELU, x * Phi(x) with the erf: BERT/ELECTRA in transformers."""
    return _in_float32(lambda value: keras.activations.gelu(value, approximate=False), x)


@keras.saving.register_keras_serializable(package="electra_keras")
def gelu_new(x):
    """Tanh-approximated GELU: the released ALBERT configs' "gelu_new"."""
    return _in_float32(lambda value: keras.activations.gelu(value, approximate=True), x)


_ACTIVATIONS = {"gelu": gelu, "gelu_new": gelu_new, "relu": keras.activations.relu}


def get_activation(name: str):
    if name not in _ACTIVATIONS:
        raise ValueError(
            f"Unknown activation {name!r}; expected one of {sorted(_ACTIVATIONS)}"
        )
    return _ACTIVATIONS[name]
