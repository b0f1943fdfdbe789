"""Layer normalization as BERT writes it, with Keras' variables."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="electra_keras")
class LayerNorm(keras.layers.LayerNormalization):
    """`keras.layers.LayerNormalization` over the last axis, computed as
    (x - mean) * rsqrt(mean((x - mean)^2) + epsilon) * gamma + beta.

    Same variables (`gamma`, `beta`) and the same values to float rounding.
    Keras computes the variance with a squared-difference op, which TFLite's
    16x8 quantizer turns int16 although LiteRT has no int16 kernel for it;
    subtract and multiply have one, so this form converts to a model LiteRT
    runs (export_tflite(quantize="int16x8")). Computes in float32 under mixed
    precision, as Keras does.

    Example:
    >>> norm = LayerNorm(epsilon=1e-12)
    >>> [round(float(v), 4) for v in norm(keras.ops.convert_to_tensor([[1.0, 2.0, 3.0]]))[0]]
    [-1.2247, 0.0, 1.2247]
    """

    def call(self, inputs):
        rank = len(inputs.shape)
        axes = [self.axis] if isinstance(self.axis, int) else list(self.axis)
        if self.rms_scaling or [axis % rank for axis in axes] != [rank - 1]:
            return super().call(inputs)  # other axes and RMS scaling: Keras' own
        x = ops.cast(inputs, "float32")
        centered = x - ops.mean(x, axis=-1, keepdims=True)
        variance = ops.mean(centered * centered, axis=-1, keepdims=True)
        outputs = centered * ops.rsqrt(variance + self.epsilon)
        if self.scale:
            outputs = outputs * ops.cast(self.gamma, "float32")
        if self.center:
            outputs = outputs + ops.cast(self.beta, "float32")
        return ops.cast(outputs, self.compute_dtype)
