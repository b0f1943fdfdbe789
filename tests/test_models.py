import keras
import numpy as np
import pytest
import tensorflow as tf

import electra_keras as ek
from model_checks import run_model_checks, tiny_inputs

VOCAB = 50


def tiny(**overrides):
    values = dict(vocab_size=VOCAB, max_position_embeddings=32)
    values.update(overrides)
    return ek.ModelConfig.from_preset("tiny", **values)


def tiny_albert(**overrides):
    values = dict(family="albert", generator_size=None, share="all", pooler=True,
                  hidden_act="gelu_new")
    values.update(overrides)
    return tiny(**values)


@pytest.mark.parametrize(
    "make",
    [
        lambda dtype=None: ek.Encoder(tiny(pooler=True), dtype=dtype),
        lambda dtype=None: ek.ElectraDiscriminator(tiny(), dtype=dtype),
        lambda dtype=None: ek.ElectraGenerator(tiny(), dtype=dtype),
        lambda dtype=None: ek.ElectraPretrainer(tiny(), dtype=dtype),
        lambda dtype=None: ek.AlbertPretrainer(
            tiny_albert(share="groups", num_layers=4, num_hidden_groups=2, inner_group_num=2),
            dtype=dtype,
        ),
    ],
    ids=["encoder", "discriminator", "generator", "electra_pretrainer", "albert_pretrainer"],
)
def test_every_model_passes_the_shared_checks(make, tmp_path):
    run_model_checks(make, tmp_path, vocab=VOCAB)


def test_output_shapes():
    inputs = tiny_inputs(batch=3, length=9, vocab=VOCAB)
    out = ek.ElectraPretrainer(tiny())(inputs)
    assert out["generator_logits"].shape == (3, 9, VOCAB)
    assert out["discriminator_logits"].shape == (3, 9)
    generator = ek.ElectraGenerator(tiny())
    positions = np.array([[0, 4], [1, 2], [8, 8]], "int32")
    gathered = generator(inputs, masked_positions=positions)
    full = generator(inputs)
    assert gathered.shape == (3, 2, VOCAB)
    np.testing.assert_allclose(gathered[2, 0], full[2, 8], atol=1e-6)


def test_generator_is_narrower_and_shares_embeddings():
    config = tiny()  # hidden 32, generator_size 0.5
    model = ek.ElectraPretrainer(config)
    generator, discriminator = model.generator, model.discriminator
    assert generator.config.hidden_size == 16 and generator.config.num_heads == 1
    assert generator.config.intermediate_size == 64  # the official rule: 4x the generator's width
    assert generator.config.num_layers == discriminator.config.num_layers
    # Both have their own projection from the shared 16-wide embeddings?
    # The generator is 16 wide = embedding size: no projection; the discriminator projects.
    assert generator.encoder.embedding_projection is None
    assert discriminator.encoder.embedding_projection is not None
    assert generator.encoder.embeddings is discriminator.encoder.embeddings
    # The generator's output layer is the word table itself.
    assert generator.head.word_embeddings is model.embeddings.word_embeddings
    variable_ids = [id(v) for v in model.weights]
    assert len(variable_ids) == len(set(variable_ids))


def test_shared_embeddings_survive_keras_save_and_from_config(tmp_path):
    model = ek.ElectraPretrainer(tiny())
    path = tmp_path / "pretrainer.keras"
    model.save(path)
    for restored in (keras.saving.load_model(path), ek.ElectraPretrainer.from_config(model.get_config())):
        generator_table = restored.generator.encoder.embeddings.word_embeddings.embeddings
        discriminator_table = restored.discriminator.encoder.embeddings.word_embeddings.embeddings
        assert generator_table is discriminator_table
        assert restored.generator.encoder.embeddings is restored.discriminator.encoder.embeddings
        # One set of embedding variables: a change through one is seen by the other.
        discriminator_table.assign(discriminator_table + 1.0)
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(restored.generator.head.word_embeddings.embeddings),
            keras.ops.convert_to_numpy(discriminator_table),
        )
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded.embeddings.word_embeddings.embeddings),
        keras.ops.convert_to_numpy(model.embeddings.word_embeddings.embeddings),
    )
    # Training one step moves the shared table for both.
    trainable_ids = {id(v) for v in loaded.trainable_weights}
    assert id(loaded.generator.encoder.embeddings.word_embeddings.embeddings) in trainable_ids
    assert len(trainable_ids) == len(loaded.trainable_weights)


def count_params(config):
    return ek.Encoder(config).count_params()


@pytest.mark.parametrize(
    "share, attention, feedforward",
    [("none", 4, 4), ("all", 1, 1), ("attention", 1, 4), ("ffn", 4, 1)],
)
def test_sharing_modes_create_the_right_sublayers(share, attention, feedforward):
    config = tiny(share=share, num_layers=4)
    encoder = ek.Encoder(config)
    assert len(encoder.attention_sublayers) == attention
    assert len(encoder.feedforward_sublayers) == feedforward
    assert len(encoder.schedule) == 4


def test_groups_follow_albert_group_rule():
    config = tiny_albert(share="groups", num_layers=6, num_hidden_groups=3, inner_group_num=2)
    # transformers: layer i uses group int(i / (6 / 3)); each group runs 2 inner layers.
    assert config.layer_schedule() == [
        (0, 0), (1, 1), (0, 0), (1, 1), (2, 2), (3, 3), (2, 2), (3, 3), (4, 4), (5, 5), (4, 4), (5, 5)
    ]
    assert len(ek.Encoder(config).attention_sublayers) == 6


def test_sharing_cuts_parameters_by_the_layer_count():
    hidden = dict(num_layers=6, embedding_size=16)
    unshared, shared = count_params(tiny(**hidden)), count_params(tiny(share="all", **hidden))
    attention_only = count_params(tiny(share="attention", **hidden))
    embeddings = VOCAB * 16 + 32 * 16 + 2 * 16 + 2 * 16 + (16 * 32 + 32)
    per_layer = (unshared - embeddings) // 6
    assert unshared - shared == 5 * per_layer
    assert shared < attention_only < unshared


def test_bad_inputs_get_clear_errors():
    encoder = ek.Encoder(tiny())
    good = tiny_inputs(vocab=VOCAB)
    with pytest.raises(TypeError, match="token_ids: expected an integer tensor"):
        encoder({**good, "token_ids": good["token_ids"].astype("float32")})
    with pytest.raises(TypeError, match="segment_ids: expected an integer"):
        encoder({**good, "segment_ids": good["segment_ids"].astype("float32")})
    with pytest.raises(ValueError, match=r"token_ids: expected shape \(batch, sequence_length\)"):
        encoder({"token_ids": good["token_ids"][0]})
    with pytest.raises(ValueError, match="expected a dict with keys"):
        encoder({"input_ids": good["token_ids"]})
    with pytest.raises(ValueError, match="longer than max_position_embeddings=32"):
        encoder({"token_ids": np.ones((1, 33), "int32")})
    with pytest.raises(tf.errors.InvalidArgumentError, match="segment_ids must be < type_vocab_size=2"):
        encoder({**good, "segment_ids": np.full_like(good["segment_ids"], 2)})
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"token_ids must be < vocab_size={VOCAB}"):
        encoder({**good, "token_ids": np.full_like(good["token_ids"], VOCAB)})


def test_length_check_also_runs_inside_a_traced_function():
    encoder = ek.Encoder(tiny())
    run = tf.function(
        lambda ids: encoder({"token_ids": ids})["sequence_output"],
        input_signature=[tf.TensorSpec((None, None), tf.int32)],
    )
    assert run(tf.ones((1, 32), tf.int32)).shape == (1, 32, 32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="longer than max_position_embeddings"):
        run(tf.ones((1, 40), tf.int32))


def test_token_id_tensor_alone_means_one_segment_no_padding():
    encoder = ek.Encoder(tiny())
    ids = tiny_inputs(vocab=VOCAB)["token_ids"]
    explicit = encoder({"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": np.ones_like(ids)})
    np.testing.assert_allclose(encoder(ids)["sequence_output"], explicit["sequence_output"], atol=0)


def test_dropout_is_active_only_in_training():
    model = ek.ElectraDiscriminator(tiny())
    inputs = tiny_inputs(vocab=VOCAB)
    a, b = model(inputs, training=True), model(inputs, training=True)
    assert not np.allclose(a, b)


@pytest.mark.parametrize("attention_dropout, dtype", [(0.1, "float32"), (0.0, "float32"), (0.1, "mixed_float16")])
def test_self_attention_with_plain_matmuls_equals_keras_attention(attention_dropout, dtype):
    """The exports' attention (`plain_matmul_attention`: one 2-D MatMul per
    projection, four transposes) against Keras' MultiHeadAttention call on
    the same weights: outputs in inference and in a training step (dropout
    drawn from the step's keys), and the weights' gradients."""
    from electra_keras.layers import AttentionSublayer
    from electra_keras.layers.random import step_random

    layer = AttentionSublayer(hidden_size=32, num_heads=4, attention_dropout_rate=attention_dropout, dtype=dtype)
    layer.build((None, None, 32))
    attention = layer.attention
    # Heads of the random initializer are too alike to catch a mixed-up head or axis.
    for variable in attention.trainable_variables:
        variable.assign(np.random.default_rng(len(variable.path)).normal(0, 0.3, variable.shape))
    x = tf.constant(np.random.default_rng(0).normal(size=(2, 7, 32)), "float32")
    x = tf.cast(x, layer.compute_dtype)
    padding = tf.constant([[True] * 7, [True] * 4 + [False] * 3])
    mask = tf.logical_and(padding[:, None, :], tf.ones((1, 7, 1), "bool"))

    def both(training):
        outputs, gradients = [], []
        for run in (lambda: attention.self_attention(x, mask, training=training),
                    lambda: attention(x, x, attention_mask=mask, training=training)):
            with tf.GradientTape() as tape, step_random(11, 5):
                output = run()
                loss = tf.reduce_sum(tf.cast(output, "float32") * tf.cast(tf.range(32), "float32"))
            outputs.append(np.asarray(tf.cast(output, "float32")))
            gradients.append([np.asarray(g) for g in tape.gradient(loss, attention.trainable_variables)])
        return outputs, gradients

    for training in (False, True):
        (ours, theirs), (our_gradients, their_gradients) = both(training)
        assert ours.shape == (2, 7, 32) and np.std(ours) > 0.1
        if dtype == "float32" and attention_dropout > 0:
            np.testing.assert_array_equal(ours, theirs)  # the same products in the same order
        else:
            # Keras takes ops.dot_product_attention without attention dropout; float16 rounds.
            tolerance = 1e-6 if dtype == "float32" else 2e-3
            np.testing.assert_allclose(ours, theirs, rtol=tolerance, atol=tolerance * np.abs(theirs).max())
        # The key bias's gradient is 0 up to rounding (softmax ignores a constant per row): an absolute
        # tolerance against the largest gradient.
        scale = max(np.abs(b).max() for b in their_gradients)
        for a, b in zip(our_gradients, their_gradients):
            np.testing.assert_allclose(a, b, rtol=1e-5 if dtype == "float32" else 5e-3,
                                       atol=(1e-6 if dtype == "float32" else 1e-3) * scale)
    if attention_dropout > 0:
        # The training step's dropout really dropped probabilities (the two calls above drew the same masks).
        inference, _ = both(False)
        trained, _ = both(True)
        assert np.abs(inference[0] - trained[0]).max() > 1e-3


@pytest.mark.parametrize("name", ["gelu", "gelu_new"])
@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_gelu_on_half_floats_is_the_float32_gelu_rounded(name, dtype):
    """Under mixed precision GELU computes in float32 and rounds once: within
    half a unit in the last place of the exact (float64) value on [-3, 3].
    Computed in the half float itself, exact GELU was off by up to 5
    (bfloat16) and 9 (float16) units, the tanh form by 146 and 135."""
    from scipy.special import erf

    from electra_keras.layers.activations import get_activation

    x = tf.cast(tf.linspace(-3.0, 3.0, 3001), dtype)
    y = get_activation(name)(x)
    assert y.dtype == x.dtype
    exact = tf.cast(x, "float64").numpy()
    if name == "gelu":
        exact = 0.5 * exact * (1 + erf(exact / np.sqrt(2)))
    else:
        exact = 0.5 * exact * (1 + np.tanh(np.sqrt(2 / np.pi) * (exact + 0.044715 * exact**3)))
    mantissa_bits = {"bfloat16": 8, "float16": 11}[dtype]
    unit = 2.0 ** (np.floor(np.log2(np.maximum(np.abs(exact), 1e-30))) - (mantissa_bits - 1))
    # Float16's subnormals below 2**-14 have a fixed spacing.
    if dtype == "float16":
        unit = np.maximum(unit, 2.0**-24)
    error = np.abs(tf.cast(y, "float64").numpy() - exact) / unit
    # 0.55, not 0.5: float32 itself loses a little in 1 + tanh(...) near -1 and at ties.
    assert error.max() <= 0.55, f"{name} on {dtype}: {error.max():.2f} units off at x={x.numpy()[error.argmax()]}"
