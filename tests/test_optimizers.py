import keras
import numpy as np
import pytest

import electra_keras as ek
from electra_keras.training import WarmupLinearDecay, electra_adamw
from electra_keras.training.optimizers import finetune_adamw


def test_schedule_matches_the_official_formula():
    schedule = WarmupLinearDecay(5e-4, total_steps=1000, warmup_steps=100)
    for step in (0, 1, 50, 99, 100, 101, 500, 999, 1000, 1200):
        expected = 5e-4 * max(0.0, 1 - step / 1000) * min(1.0, step / 100)
        np.testing.assert_allclose(float(schedule(step)), expected, rtol=1e-6, atol=1e-12)
    restored = WarmupLinearDecay.from_config(schedule.get_config())
    assert float(restored(300)) == float(schedule(300))
    with pytest.raises(ValueError, match="warmup_steps=2000"):
        WarmupLinearDecay(1e-3, total_steps=1000, warmup_steps=2000)


def test_adamw_hyperparameters_and_default_warmup():
    optimizer = electra_adamw(learning_rate=2e-4, total_steps=500)
    assert (optimizer.beta_1, optimizer.beta_2, optimizer.epsilon) == (0.9, 0.999, 1e-6)
    assert optimizer.weight_decay == 0.01 and optimizer.global_clipnorm == 1.0
    assert optimizer._learning_rate.warmup_steps == 50  # 10% of a run shorter than 100k steps
    assert electra_adamw(total_steps=1_000_000)._learning_rate.warmup_steps == 10_000


def test_weight_decay_spares_layer_norm_and_biases():
    model = ek.ElectraDiscriminator(ek.ModelConfig.from_preset("tiny", vocab_size=50, max_position_embeddings=16))
    optimizer = electra_adamw(learning_rate=1e-2, total_steps=10, warmup_steps=0, clipnorm=None)
    optimizer.build(model.trainable_weights)
    before = [w.numpy().copy() for w in model.trainable_weights]
    # Zero gradients: Adam's update is zero, so only decay can move a weight.
    optimizer.apply([keras.ops.zeros_like(w) for w in model.trainable_weights], model.trainable_weights)
    decayed = []
    for old, weight in zip(before, model.trainable_weights):
        moved = not np.array_equal(old, weight.numpy())
        if np.any(old != 0):
            decayed.append((weight.name, moved))
    names_moved = {name for name, moved in decayed if moved}
    names_kept = {name for name, moved in decayed if not moved}
    assert names_moved == {"kernel", "embeddings"}
    assert names_kept == {"gamma"}  # beta and bias start at zero, so are not observable here
    for weight in model.trainable_weights:
        assert optimizer._use_weight_decay(weight) == (weight.name not in ("gamma", "beta", "bias"))



@pytest.mark.parametrize("accumulation", [None, 2])
def test_adamw_is_keras_adamw_with_each_step_built_once(accumulation):
    """electra_adamw (and LayerwiseAdamW at multiplier 1) take Keras AdamW's steps: bit for bit
    eagerly, and within float32 rounding inside tf.function, where grappler's rewrites already
    move Keras' own graph 2e-7 from its eager result. The step's scalars are built once, not
    per variable: the traced update has under 70% of Keras' ops (about half with many variables)."""
    import tensorflow as tf

    from electra_keras.training.optimizers import NO_DECAY, LayerwiseAdamW

    rng = np.random.default_rng(0)
    names = ["kernel"] * 6 + ["bias"] * 3 + ["gamma"] * 3
    shapes = [(4, 3)] * 6 + [(3,)] * 6
    start = [rng.normal(size=shape).astype("float32") for shape in shapes]
    # Large gradients on some steps, so that clipping acts too.
    gradients = [[(rng.normal(size=shape) * (5.0 if step % 2 else 0.1)).astype("float32") for shape in shapes]
                 for step in range(6)]
    settings = dict(learning_rate=WarmupLinearDecay(1e-2, total_steps=10, warmup_steps=3), weight_decay=0.01,
                    beta_1=0.9, beta_2=0.999, epsilon=1e-6, global_clipnorm=1.0,
                    gradient_accumulation_steps=accumulation)

    def keras_adamw():
        optimizer = keras.optimizers.AdamW(**settings)
        optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY))
        return optimizer

    def train(make, traced):
        variables = [keras.Variable(value, name=name) for value, name in zip(start, names)]
        optimizer = make()
        optimizer.build(variables)
        step = lambda grads: optimizer.apply(grads, variables)  # noqa: E731
        ops = 0
        if traced:
            step = tf.function(step)
            graph = step.get_concrete_function([tf.constant(g) for g in gradients[0]]).graph.as_graph_def()
            ops = len(graph.node) + sum(len(function.node_def) for function in graph.library.function)  # cond branches
        for grads in gradients:
            step([tf.constant(g) for g in grads])
        return [v.numpy() for v in variables], ops

    makers = {"keras": keras_adamw, "ours": lambda: electra_adamw(1e-2, total_steps=10, warmup_steps=3,
                                                                  gradient_accumulation_steps=accumulation),
              "layerwise": lambda: LayerwiseAdamW(**settings)}
    eager = {name: train(make, traced=False)[0] for name, make in makers.items()}
    assert any(np.max(np.abs(a - b)) > 1e-3 for a, b in zip(eager["keras"], start))  # it trained
    for name in ("ours", "layerwise"):
        for expected, actual in zip(eager["keras"], eager[name]):
            np.testing.assert_array_equal(actual, expected)
    traced = {name: train(make, traced=True) for name, make in makers.items()}
    for name in ("ours", "layerwise"):
        for expected, actual in zip(traced["keras"][0], traced[name][0]):
            np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-7)
        assert traced[name][1] < 0.7 * traced["keras"][1], (name, traced[name][1], traced["keras"][1])


def official_steps(params, gradients, learning_rates, lamb=False, weight_decay=0.01, clip_norm=1.0,
                   beta_1=0.9, beta_2=0.999, epsilon=1e-6, exclude=("LayerNorm", "bias")):
    """NumPy transcriptions of the official optimizers after `tf.clip_by_global_norm`:
    google-research/electra model/optimization.py AdamWeightDecayOptimizer (no bias
    correction; the decay term added to the update before the lr) and, with `lamb`,
    google-research/albert lamb_optimizer.py LAMBOptimizer (the same update, scaled by the
    trust ratio |w| / |update| except for the excluded variables)."""
    params = {name: value.astype(np.float64) for name, value in params.items()}
    m = {name: np.zeros_like(value) for name, value in params.items()}
    v = {name: np.zeros_like(value) for name, value in params.items()}
    for grads, lr in zip(gradients, learning_rates):
        norm = np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in grads.values()))
        scale = clip_norm / max(norm, clip_norm)
        for name, param in params.items():
            grad = grads[name] * scale
            m[name] = beta_1 * m[name] + (1.0 - beta_1) * grad
            v[name] = beta_2 * v[name] + (1.0 - beta_2) * np.square(grad)
            update = m[name] / (np.sqrt(v[name]) + epsilon)
            excluded = any(part in name for part in exclude)
            if not excluded:
                update += weight_decay * param
            ratio = 1.0
            if lamb and not excluded:  # exclude_from_layer_adaptation defaults to the decay's exclusions
                w_norm, g_norm = np.linalg.norm(param), np.linalg.norm(update)
                ratio = (w_norm / g_norm if g_norm > 0 else 1.0) if w_norm > 0 else 1.0
            params[name] = param - ratio * lr * update
    return params


def test_official_adamw_is_the_official_update_rule():
    rng = np.random.default_rng(0)
    names = {"dense/kernel": (4, 3), "dense/bias": (3,), "LayerNorm/gamma": (3,)}  # official names
    keras_names = {"dense/kernel": "kernel", "dense/bias": "bias", "LayerNorm/gamma": "gamma"}
    start = {name: rng.normal(size=shape).astype("float32") for name, shape in names.items()}
    steps = 6
    # Large gradients on some steps, so that clipping acts too.
    gradients = [{name: (rng.normal(size=shape) * (5.0 if step % 2 else 0.1)).astype("float32")
                  for name, shape in names.items()} for step in range(steps)]
    schedule = WarmupLinearDecay(1e-2, total_steps=10, warmup_steps=3)
    learning_rates = [float(schedule(step)) for step in range(steps)]
    expected = official_steps(start, gradients, learning_rates)

    results = {}
    for name in ("official_adamw", "adamw"):
        variables = {key: keras.Variable(value, name=keras_names[key]) for key, value in start.items()}
        optimizer = electra_adamw(learning_rate=1e-2, total_steps=10, warmup_steps=3, optimizer=name)
        for grads in gradients:
            optimizer.apply([keras.ops.convert_to_tensor(grads[key]) for key in names],
                            [variables[key] for key in names])
        results[name] = {key: variables[key].numpy() for key in names}
    for key in names:
        np.testing.assert_allclose(results["official_adamw"][key], expected[key], rtol=1e-5, atol=1e-6)
    # Keras' bias-corrected AdamW moves differently: the option is a real difference.
    assert max(np.max(np.abs(results["adamw"][key] - expected[key])) for key in names) > 1e-3


def test_official_adamw_fine_tunes_with_layer_wise_rates():
    model = ek.TextClassifier.from_preset("tiny", [f"w{i}" for i in range(40)] + ["[PAD]", "[UNK]", "[CLS]",
                                          "[SEP]", "[MASK]"], label_names=["a", "b"], sequence_length=8)
    corrected = finetune_adamw(model, learning_rate=1e-3, total_steps=10, layer_decay=0.5)
    official = finetune_adamw(model, learning_rate=1e-3, total_steps=10, layer_decay=0.5,
                                          optimizer="official_adamw")
    assert corrected.bias_correction and not official.bias_correction
    assert official.learning_rate_multipliers == corrected.learning_rate_multipliers
    restored = type(official).from_config(official.get_config())
    assert restored.bias_correction is False
    with pytest.raises(ValueError, match="optimizer='lamb': expected one of"):
        electra_adamw(optimizer="lamb")


def test_unknown_optimizers_are_named():
    from electra_keras.training.finetune import FinetuningOptions
    from electra_keras.training.pretrain import PretrainingOptions

    with pytest.raises(ValueError, match="optimizer='sgd': expected one of"):
        PretrainingOptions(out="x", optimizer="sgd")
    with pytest.raises(ValueError, match="optimizer='sgd': expected one of"):
        FinetuningOptions(out="x", task="sentiment", preset="tiny", optimizer="sgd")


def test_lamb_is_albert_official_update_rule():
    from electra_keras.training.optimizers import AlbertLamb, pretraining_optimizer

    rng = np.random.default_rng(1)
    names = {"dense/kernel": (4, 3), "dense/bias": (3,), "LayerNorm/gamma": (3,)}
    keras_names = {"dense/kernel": "kernel", "dense/bias": "bias", "LayerNorm/gamma": "gamma"}
    start = {name: rng.normal(size=shape).astype("float32") for name, shape in names.items()}
    gradients = [{name: (rng.normal(size=shape) * (5.0 if step % 2 else 0.1)).astype("float32")
                  for name, shape in names.items()} for step in range(6)]
    schedule = WarmupLinearDecay(1e-2, total_steps=10, warmup_steps=1)
    expected = official_steps(start, gradients, [float(schedule(step)) for step in range(6)], lamb=True)
    variables = {key: keras.Variable(value, name=keras_names[key]) for key, value in start.items()}
    optimizer = pretraining_optimizer("lamb", learning_rate=1e-2, total_steps=10, warmup_steps=1)
    assert isinstance(optimizer, AlbertLamb)
    for grads in gradients:
        optimizer.apply([keras.ops.convert_to_tensor(grads[key]) for key in names], [variables[key] for key in names])
    for key in names:
        np.testing.assert_allclose(variables[key].numpy(), expected[key], rtol=1e-5, atol=1e-6)
    assert AlbertLamb.from_config(optimizer.get_config()).decay_rate == 0.01


def test_albert_objectives_default_to_lamb_at_a_batch_scaled_rate():
    from electra_keras.training.optimizers import lamb_learning_rate
    from electra_keras.training.pretrain import PretrainingOptions

    albert = PretrainingOptions(out="x", preset="albert-base", objective="albert", batch_size=1024)
    assert albert.optimizer == "lamb" and albert.learning_rate == pytest.approx(0.00176 / 2)
    assert lamb_learning_rate(4096) == pytest.approx(0.00176)
    assert PretrainingOptions(out="x", objective="albert", optimizer="adamw").learning_rate == 5e-4  # the preset's
    assert PretrainingOptions(out="x", objective="electra").optimizer == "adamw"
    with pytest.raises(ValueError, match="optimizer='lamb': expected one of"):
        _finetuning_options("lamb")


def _finetuning_options(optimizer):
    from electra_keras.training.finetune import FinetuningOptions

    return FinetuningOptions(out="x", task="sentiment", preset="tiny", optimizer=optimizer)
