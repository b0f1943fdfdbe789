import keras
import numpy as np
import pytest

import electra_keras as ek
from electra_keras.training import WarmupLinearDecay, electra_adamw


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

