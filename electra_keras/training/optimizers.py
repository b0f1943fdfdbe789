"""The optimizer ELECTRA was pretrained with (Clark et al. 2020, Appendix A;
the official `model/optimization.py`).

AdamW with beta1 0.9, beta2 0.999, epsilon 1e-6; decoupled weight decay 0.01
on every weight except LayerNorm scales/shifts and biases; gradients clipped
to a global norm of 1.0; the learning rate warms up linearly and decays
linearly to zero.

One difference is a choice (`optimizer=` of `electra_adamw`/`finetune_adamw`,
`--optimizer` of the CLI): the official `AdamWeightDecayOptimizer` has no
bias correction, Keras' AdamW has it.

- "adamw" (the default): Adam as published and as Keras, PyTorch and
  transformers implement it. Its first updates are lr-sized.
- "official_adamw": the official update, `lr * m / (sqrt(v) + eps)` with
  the raw moving averages. Its first updates are about 3.2x larger
  (m is 0.1 g, sqrt(v) is 0.032 |g|), falling to 1x over a few thousand
  steps, which the 10,000-step warmup of the paper's runs hides and the
  short warmups of small runs do not.

ALBERT was pretrained with LAMB (`AlbertLamb`, "lamb": the official
google-research/albert `lamb_optimizer.py`), the default of the ALBERT
objectives: lr 0.00176 at batch 4,096 with 3,125 warmup steps, here scaled
to the batch by LAMB's square-root rule (`lamb_learning_rate`).
"""

from __future__ import annotations

import weakref

import keras
import tensorflow as tf
from keras import ops

# Variables excluded from weight decay, matched against variable names:
# LayerNorm's gamma/beta and every bias, as the official code excludes
# "LayerNorm", "layer_norm" and "bias".
NO_DECAY = ("gamma", "beta", "bias")
OPTIMIZERS = ("adamw", "official_adamw", "lamb")
ADAMW_VARIANTS = ("adamw", "official_adamw")
# ALBERT's pretraining (Lan et al. 2019, section 4.1): LAMB at 0.00176 for batch 4,096, 3,125 warmup steps.
ALBERT_LAMB = {"learning_rate": 0.00176, "batch_size": 4096, "warmup_steps": 3125}


def lamb_learning_rate(batch_size: int) -> float:
    """ALBERT's LAMB rate scaled to `batch_size` by the square-root rule of
    the LAMB paper (You et al. 2020): 0.00176 * sqrt(batch / 4096).

    Example:
    >>> round(lamb_learning_rate(256), 6)
    0.00044
    """
    return ALBERT_LAMB["learning_rate"] * (batch_size / ALBERT_LAMB["batch_size"]) ** 0.5


@keras.saving.register_keras_serializable(package="electra_keras")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """lr(step) = peak * max(0, 1 - step / total_steps) * min(1, step / warmup_steps).

    The official schedule: a linear (power 1) polynomial decay to zero over
    the whole run, multiplied by a linear warmup factor.

    Example:
    >>> schedule = WarmupLinearDecay(1e-3, total_steps=100, warmup_steps=10)
    >>> [round(float(schedule(s)), 6) for s in (0, 5, 10, 55, 100)]
    [0.0, 0.000475, 0.0009, 0.00045, 0.0]
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
    optimizer: str = "adamw",
) -> keras.optimizers.Optimizer:
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
        optimizer: "adamw" (bias-corrected, the default) or "official_adamw"
            (the official update without bias correction; module docstring).

    Example:
        model.compile(optimizer=electra_adamw(learning_rate=5e-4, total_steps=100_000))
    """
    _check_optimizer(optimizer, ADAMW_VARIANTS)
    if warmup_steps is None:
        warmup_steps = min(10_000, total_steps // 10)
    settings = dict(
        learning_rate=WarmupLinearDecay(learning_rate, total_steps, warmup_steps), weight_decay=weight_decay,
        beta_1=0.9, beta_2=0.999, epsilon=1e-6, global_clipnorm=clipnorm,
        gradient_accumulation_steps=gradient_accumulation_steps,
    )
    if optimizer == "official_adamw":
        return LayerwiseAdamW(bias_correction=False, **settings)
    adamw = AdamW(**settings)
    adamw.exclude_from_weight_decay(var_names=list(NO_DECAY))
    return adamw


class _OncePerStep:
    """Builds a step's scalars once per traced graph and device, not once per variable.

    Keras' Adam recomputes the bias corrections, the learning rate's casts and
    its constants for every variable (about 40 graph ops each, and AdamW
    evaluates the schedule again in its decay); tracing the update of a model
    with 160 variables took 4.2-5.7 s, most of a tiny model's first step. The
    values are the same for every variable of a step, so they are built once
    here and reused. The results are Keras' AdamW's: bit for bit eagerly, and
    within float32 rounding inside tf.function, where grappler rewrites both
    graphs (tests/test_optimizers.py). AMSGrad is not supported.
    """

    def _once(self, key, device, build):
        if tf.executing_eagerly():
            return build()
        graph = tf.compat.v1.get_default_graph()
        graphs = self.__dict__.setdefault("_scalars_per_graph", weakref.WeakKeyDictionary())
        cache = graphs.setdefault(graph, {})
        key = (key, device)
        if key not in cache:
            cache[key] = build()
        return cache[key]

    def _adam_step(self, gradient, variable, learning_rate, multiplier=1.0, decay=0.0, bias_correction=True):
        """Keras' Adam update of `variable`, its learning rate times `multiplier`, after
        the decoupled decay `variable -= variable * decay * lr` when `decay` is set."""
        if self.amsgrad:
            raise ValueError(f"amsgrad: not supported by {type(self).__name__}; use keras.optimizers.AdamW")
        index = self._get_variable_index(variable)
        dtype, device = variable.dtype, getattr(variable, "device", None)
        rate = learning_rate.ref() if hasattr(learning_rate, "ref") else id(learning_rate)

        def corrections():
            step = ops.cast(self.iterations + 1, dtype)
            beta_1_power = ops.power(ops.cast(self.beta_1, dtype), step)
            beta_2_power = ops.power(ops.cast(self.beta_2, dtype), step)
            return ops.sqrt(1 - beta_2_power), 1 - beta_1_power

        def scaled_rate():
            lr = self._once(("lr", rate, dtype), device, lambda: ops.cast(learning_rate, dtype))
            return lr if multiplier == 1.0 else lr * multiplier  # x * 1.0 == x: the same value

        lr = self._once(("lr", rate, dtype, multiplier), device, scaled_rate)
        if decay:
            factor = self._once(("decay", dtype), device, lambda: ops.cast(decay, dtype))
            self.assign_sub(variable, variable * factor * lr)
        root, denominator = self._once(("corrections", dtype), device, corrections)

        def step_size():
            scaled = lr if bias_correction else lr / (root / denominator)
            return scaled * root / denominator

        alpha = self._once(("alpha", rate, dtype, multiplier), device, step_size)
        constants = self._once(("constants", dtype), device, lambda: tuple(
            ops.convert_to_tensor(value, dtype) for value in (1 - self.beta_1, 1 - self.beta_2, self.epsilon)))
        gradient = ops.cast(gradient, dtype)
        m, v = self._momentums[index], self._velocities[index]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), constants[0]))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), constants[1]))
        self.assign_sub(variable, ops.divide(ops.multiply(m, alpha), ops.add(ops.sqrt(v), constants[2])))


@keras.saving.register_keras_serializable(package="electra_keras")
class AdamW(_OncePerStep, keras.optimizers.AdamW):
    """Keras' AdamW with each step's scalars built once (`_OncePerStep`), the same arithmetic.

    The decoupled decay moves into each variable's update (Keras applies it to
    every variable before the first update: the same arithmetic, since a
    variable's decay and update touch only that variable).
    """

    def _apply_weight_decay(self, variables):
        pass  # in update_step

    def update_step(self, gradient, variable, learning_rate):
        decay = self.weight_decay if self.weight_decay and self._use_weight_decay(variable) else 0.0
        self._adam_step(gradient, variable, learning_rate, decay=decay)


def _check_optimizer(name: str, known=OPTIMIZERS) -> None:
    if name not in known:
        raise ValueError(f"optimizer={name!r}: expected one of {known}")


def pretraining_optimizer(
    optimizer: str,
    learning_rate: float,
    total_steps: int,
    warmup_steps: int | None = None,
    gradient_accumulation_steps: int | None = None,
    clipnorm: float | None = 1.0,
) -> keras.optimizers.Optimizer:
    """The optimizer of a pretraining run by name: "adamw" / "official_adamw"
    (`electra_adamw`) or "lamb" (`AlbertLamb` with ALBERT's warmup, at most
    3,125 steps or 10% of the run), all with the warmup + linear decay
    schedule and global-norm clipping at 1.0."""
    _check_optimizer(optimizer)
    if optimizer != "lamb":
        return electra_adamw(learning_rate=learning_rate, total_steps=total_steps, warmup_steps=warmup_steps,
                             clipnorm=clipnorm, gradient_accumulation_steps=gradient_accumulation_steps,
                             optimizer=optimizer)
    if warmup_steps is None:
        warmup_steps = min(ALBERT_LAMB["warmup_steps"], total_steps // 10)
    return AlbertLamb(
        learning_rate=WarmupLinearDecay(learning_rate, total_steps, warmup_steps),
        global_clipnorm=clipnorm,
        gradient_accumulation_steps=gradient_accumulation_steps,
    )


@keras.saving.register_keras_serializable(package="electra_keras")
class AlbertLamb(keras.optimizers.Optimizer):
    """LAMB as ALBERT was pretrained (google-research/albert `lamb_optimizer.py`).

    Per variable: m and v are Adam's moving averages without bias correction;
    update = m / (sqrt(v) + epsilon) + weight_decay * w (not for LayerNorm and
    biases); the step is lr * r * update, where the trust ratio r =
    |w| / |update| (1 when either norm is 0; also 1 for LayerNorm and biases).
    Keras' own `Lamb` differs: it corrects the bias and decays the weights
    outside the trust ratio.

    Args:
        learning_rate: a float or schedule.
        weight_decay: the decay rate inside the update (official 0.01).
        beta_1, beta_2, epsilon: official 0.9, 0.999, 1e-6.
        **kwargs: `keras.optimizers.Optimizer` arguments (global_clipnorm,
            gradient_accumulation_steps, ...).
    """

    def __init__(self, learning_rate=0.00176, weight_decay=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-6, **kwargs):
        kwargs.pop("name", None)
        super().__init__(learning_rate=learning_rate, name="albert_lamb", **kwargs)
        self.decay_rate = float(weight_decay)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._momentums, self._velocities = self.add_optimizer_variables(variables, ["momentum", "velocity"])
        # Official: exclude_from_layer_adaptation defaults to exclude_from_weight_decay.
        self._adapted = [not any(part in variable.name for part in NO_DECAY) for variable in variables]

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        m, v = self._momentums[index], self._velocities[index]
        self.assign(m, self.beta_1 * m + (1.0 - self.beta_1) * gradient)
        self.assign(v, self.beta_2 * v + (1.0 - self.beta_2) * ops.square(gradient))
        update = m / (ops.sqrt(v) + self.epsilon)
        if self._adapted[index]:
            update = update + self.decay_rate * variable
            weight_norm = ops.sqrt(ops.sum(ops.square(variable)))
            update_norm = ops.sqrt(ops.sum(ops.square(update)))
            ratio = ops.where(weight_norm > 0, ops.where(update_norm > 0, weight_norm / update_norm, 1.0), 1.0)
            update = ratio * update
        self.assign_sub(variable, learning_rate * update)

    def get_config(self):
        config = super().get_config()
        config.update(weight_decay=self.decay_rate, beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon)
        return config


@keras.saving.register_keras_serializable(package="electra_keras")
class LayerwiseAdamW(_OncePerStep, keras.optimizers.Adam):
    """AdamW whose learning rate is scaled per variable.

    Each variable's update (the Adam step and the decoupled weight decay) uses
    `learning_rate * learning_rate_multipliers.get(variable.path, 1.0)`.
    Weight decay skips variables whose name contains one of `NO_DECAY`.
    `finetune_adamw` fills the multipliers with ELECTRA's layer-wise decay.

    Args:
        learning_rate_multipliers: {variable path: factor}; paths not listed
            get 1.0.
        weight_decay: decoupled decay rate (decay = lr * multiplier * rate * w).
        bias_correction: False applies the official AdamWeightDecayOptimizer's
            step `lr * m / (sqrt(v) + eps)` with the raw moving averages.
        **kwargs: `keras.optimizers.Adam` arguments (learning_rate, beta_1,
            beta_2, epsilon, global_clipnorm, gradient_accumulation_steps...).
    """

    def __init__(self, learning_rate_multipliers=None, weight_decay=0.01, bias_correction=True, **kwargs):
        # The base class's weight decay uses the unscaled learning rate: ours
        # is applied in update_step instead.
        kwargs.pop("name", None)
        super().__init__(weight_decay=None, name="layerwise_adamw", **kwargs)
        self.learning_rate_multipliers = dict(learning_rate_multipliers or {})
        self.decoupled_weight_decay = float(weight_decay)
        self.bias_correction = bool(bias_correction)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._multipliers = [
            float(self.learning_rate_multipliers.get(variable.path, 1.0)) for variable in variables
        ]
        self._decays = [
            self.decoupled_weight_decay > 0 and not any(part in variable.name for part in NO_DECAY)
            for variable in variables
        ]

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        # Decoupled decay before the Adam step, as keras.optimizers.AdamW orders it. Without
        # bias correction, Adam's step lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)
        # gets that factor divided out: the official lr * m / (sqrt(v) + eps).
        self._adam_step(gradient, variable, learning_rate, multiplier=self._multipliers[index],
                        decay=self.decoupled_weight_decay if self._decays[index] else 0.0,
                        bias_correction=self.bias_correction)

    def get_config(self):
        config = super().get_config()
        config.pop("weight_decay", None)
        config.update(
            learning_rate_multipliers=self.learning_rate_multipliers,
            weight_decay=self.decoupled_weight_decay,
            bias_correction=self.bias_correction,
        )
        return config


def layer_depths(model) -> dict[str, tuple[int, int]]:
    """{variable path: (depth, top depth)} under ELECTRA's layer-wise rule.

    Depth 0 is the embeddings (and the embedding projection), depth i + 1 the
    i-th transformer layer, then the pooler when the model's head reads it,
    and the top depth is the task head. A sublayer shared by several layers
    (ALBERT) takes the depth of the highest layer that uses it: it is as
    close to the head as its closest use.

    The model must have a `backbone` (an `Encoder`) and say through
    `uses_pooler` whether its head reads the pooled output.
    """
    encoder = model.backbone
    num_layers = len(encoder.schedule)
    depths: dict[int, int] = {}

    def assign(layer, depth):
        for variable in layer.trainable_variables:
            depths[id(variable)] = max(depth, depths.get(id(variable), -1))

    assign(encoder.embeddings, 0)
    if encoder.embedding_projection is not None:
        assign(encoder.embedding_projection, 0)
    for index, (attention, feedforward) in enumerate(encoder.schedule):
        assign(encoder.attention_sublayers[attention], index + 1)
        assign(encoder.feedforward_sublayers[feedforward], index + 1)
    top = num_layers + 1
    if encoder.pooler is not None:
        if getattr(model, "uses_pooler", False):
            assign(encoder.pooler, top)
            top += 1
        else:
            # An unused pooler gets no gradient; its rate does not matter.
            assign(encoder.pooler, top)
    result = {}
    for variable in model.trainable_variables:
        if variable.path in result:
            raise ValueError(f"{model.name}: two variables share the path {variable.path!r}; "
                             "name the layers so that learning rates can be assigned")
        result[variable.path] = (depths.get(id(variable), top), top)
    return result


def finetune_adamw(
    model,
    learning_rate: float = 1e-4,
    total_steps: int | None = 1000,
    warmup_steps: int | None = None,
    layer_decay: float = 0.8,
    weight_decay: float = 0.01,
    clipnorm: float | None = 1.0,
    optimizer: str = "adamw",
) -> LayerwiseAdamW:
    """AdamW as ELECTRA was fine-tuned: warmup 10%, linear decay, layer-wise rates.

    The rule: a variable at depth d gets `learning_rate * layer_decay ** (top - d)`,
    where depth 0 is the embeddings (with ALBERT/ELECTRA-Small's embedding
    projection), depth i is transformer layer i (1..N), depth N + 1 the pooler
    when the head reads it, and `top` (N + 1, or N + 2 with a pooler) the task
    head. So the head trains at the full rate, the top transformer layer at
    `learning_rate * layer_decay`, and the embeddings at
    `learning_rate * layer_decay ** (N + 1)` (no pooler).

    The official code gives the task head depth N + 2 with no pooler in
    between, so every transformer layer and the embeddings get one extra
    factor of `layer_decay` (google-research/electra#51, a leftover from when
    ELECTRA had a pooler); this follows the intended rule the author states there.

    Args:
        model: a task model (its `backbone` decides the depths).
        learning_rate: the head's peak learning rate.
        total_steps: optimizer updates of the whole fine-tuning run; None
            keeps the learning rate constant (no warmup, no decay).
        warmup_steps: default 10% of `total_steps`.
        layer_decay: per-layer factor; 1.0 turns layer-wise decay off.
        weight_decay: decoupled decay, not on LayerNorm and biases.
        clipnorm: global gradient-norm clipping (None turns it off).
        optimizer: "adamw" (bias-corrected, the default) or "official_adamw"
            (the official update without bias correction; module docstring).

    Example:
        clf.compile(optimizer=finetune_adamw(clf, learning_rate=1e-4, total_steps=3000))
    """
    _check_optimizer(optimizer, ADAMW_VARIANTS)
    if not 0 < layer_decay <= 1:
        raise ValueError(f"layer_decay={layer_decay}: expected a factor in (0, 1]")
    schedule = learning_rate
    if total_steps is not None:
        if warmup_steps is None:
            warmup_steps = total_steps // 10
        schedule = WarmupLinearDecay(learning_rate, total_steps, warmup_steps)
    multipliers = {
        path: layer_decay ** (top - depth) for path, (depth, top) in layer_depths(model).items()
    }
    return LayerwiseAdamW(
        learning_rate=schedule,
        learning_rate_multipliers=multipliers,
        weight_decay=weight_decay,
        bias_correction=optimizer == "adamw",
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-6,
        global_clipnorm=clipnorm,
    )
