"""One set of checks every model of the package passes (keras-hub's habit):
deterministic inference, variable batch and sequence lengths, padding
invariance, tf.data input, get_config/from_config and .keras round trips,
and mixed precision."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


def tiny_inputs(batch=2, length=7, vocab=50, seed=0):
    rng = np.random.RandomState(seed)
    token_ids = rng.randint(1, vocab, size=(batch, length)).astype("int32")
    padding_mask = np.ones_like(token_ids)
    padding_mask[-1, length - 2 :] = 0
    segment_ids = np.zeros_like(token_ids)
    segment_ids[:, length // 2 :] = 1
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}


def flatten(outputs):
    if isinstance(outputs, dict):
        return {key: np.asarray(value) for key, value in sorted(outputs.items())}
    return {"output": np.asarray(outputs)}


def assert_outputs_close(a, b, atol=1e-6):
    a, b = flatten(a), flatten(b)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key], b[key], atol=atol, err_msg=key)


def run_model_checks(make_model, tmp_path, vocab=50):
    """make_model(dtype=None) -> a fresh model of the class under test."""
    model = make_model()
    inputs = tiny_inputs(vocab=vocab)
    expected = model(inputs)

    # Inference is deterministic (dropout off).
    assert_outputs_close(model(inputs), expected, atol=0)

    # Any batch size and sequence length.
    for batch, length in ((1, 3), (4, 11)):
        out = flatten(model(tiny_inputs(batch, length, vocab)))
        for value in out.values():
            assert value.shape[0] == batch

    # Padding is invisible to real positions: extra pad tokens change nothing.
    padded = {k: np.pad(v, ((0, 0), (0, 3))) for k, v in inputs.items()}
    padded_out, plain_out = flatten(model(padded)), flatten(model(inputs))
    real = inputs["padding_mask"].astype(bool)
    for key in plain_out:
        if plain_out[key].ndim >= 2 and plain_out[key].shape[1] == real.shape[1]:
            np.testing.assert_allclose(
                padded_out[key][:, : real.shape[1]][real], plain_out[key][real], atol=1e-5
            )

    # tf.data in, predict out.
    dataset = tf.data.Dataset.from_tensor_slices(inputs).batch(2)
    predicted = model.predict(dataset, verbose=0)
    assert_outputs_close(predicted, expected, atol=1e-5)

    # get_config -> from_config rebuilds the same architecture.
    clone = type(model).from_config(model.get_config())
    assert [tuple(w.shape) for w in clone.weights] == [tuple(w.shape) for w in model.weights]
    clone.set_weights(model.get_weights())
    assert_outputs_close(clone(inputs), expected, atol=1e-6)

    # .keras save and load: same class, same outputs.
    path = tmp_path / f"{type(model).__name__}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model)
    assert_outputs_close(loaded(inputs), expected, atol=0)

    # Mixed precision builds and runs, with float32 variables.
    mixed = make_model(dtype="mixed_bfloat16")
    assert all(w.dtype == "float32" for w in mixed.weights)
    for value in flatten(mixed(inputs)).values():
        assert np.all(np.isfinite(value.astype("float32")))
    return loaded
