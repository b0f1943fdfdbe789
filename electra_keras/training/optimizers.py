"""The optimizer ELECTRA was pretrained with (Clark et al. 2020, Appendix A;
the official `model/optimization.py`).

AdamW with beta1 0.9, beta2 0.999, epsilon 1e-6; decoupled weight decay 0.01
on every weight except LayerNorm scales/shifts and biases; gradients clipped
to a global norm of 1.0; the learning rate warms up linearly and decays
linearly to zero.
"""

from __future__ import annotations

import keras
from keras import ops

# Variables excluded from weight decay, matched against variable names:
# LayerNorm's gamma/beta and every bias, as the official code excludes
# "LayerNorm", "layer_norm" and "bias".
NO_DECAY = ("gamma", "beta", "bias")


@keras.saving.register_keras_serializable(package="electra_keras")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """lr(step) = peak * max(0, 1 - step / total_steps) * min(1, step / warmup_steps).

    The official schedule: a linear (power 1) polynomial decay to zero over
    the whole run, multiplied by a linear warmup factor.

    Example:
    >>> schedule = WarmupLinearDecay(1e-3, total_steps=100, warmup_steps=10)
    >>> [round(float(schedule(s)), 6) for s in (0, 5, 10, 55, 100)]
    [0.0, 0.00045, 0.0009, 0.00045, 0.0]
    """

    def __init__(self, learning_rate: float, total_steps: int, warmup_steps: int):
        if total_steps < 1:
            raise ValueError(f"total_steps={total_steps}: expected a positive number of steps")
        if not 0 <= warmup_steps <= total_steps:
            raise ValueError(f"warmup_steps={warmup_steps}: expected 0..total_steps ({total_steps})")
        self.learning_rate = learning_rate
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps

    def __call__(self, step):
        step = ops.cast(step, "float32")
        # (total - step) / total rather than 1 - step / total: no float32
        # cancellation near the end of the run.
        decay = ops.maximum(0.0, (self.total_steps - step) / self.total_steps)
        warmup = 1.0 if self.warmup_steps == 0 else ops.minimum(1.0, step / self.warmup_steps)
        return self.learning_rate * decay * warmup

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
        }


def electra_adamw(
    learning_rate: float = 5e-4,
    total_steps: int = 1_000_000,
    warmup_steps: int | None = None,
    weight_decay: float = 0.01,
    clipnorm: float | None = 1.0,
    gradient_accumulation_steps: int | None = None,
) -> keras.optimizers.AdamW:
    """AdamW as ELECTRA was pretrained (5e-4 for Small, 2e-4 for Base/Large).

    Args:
        learning_rate: the peak learning rate.
        total_steps: optimizer updates in the whole run (the decay reaches 0 there).
        warmup_steps: defaults to the paper's 10,000, or 10% of a shorter run.
        weight_decay: decoupled decay, not applied to LayerNorm and biases.
        clipnorm: global gradient-norm clipping (None turns it off).
        gradient_accumulation_steps: average the gradients of this many
            batches before each update, for big effective batches on small
            hardware; the schedule then counts updates, not batches.

    Example:
        model.compile(optimizer=electra_adamw(learning_rate=5e-4, total_steps=100_000))
    """
    if warmup_steps is None:
        warmup_steps = min(10_000, total_steps // 10)
    optimizer = keras.optimizers.AdamW(
        learning_rate=WarmupLinearDecay(learning_rate, total_steps, warmup_steps),
        weight_decay=weight_decay,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-6,
        global_clipnorm=clipnorm,
        gradient_accumulation_steps=gradient_accumulation_steps,
    )
    optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY))
    return optimizer
