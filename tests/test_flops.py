"""The one FLOP count (`pretraining.flops`) against the matrix products that
our models really run: every MatMul, BatchMatMul and Einsum in the traced
graph of a forward pass, sized from its static shapes."""

import re

import numpy as np
import pytest
import tensorflow as tf

import electra_keras as ek
from electra_keras.pretraining.flops import encoder_forward_flops, training_flops_per_sequence
from electra_keras.pretraining.masking import MaskingConfig

BATCH, LENGTH, VOCAB = 2, 16, 50


def matmul_flops(graph) -> int:
    """2 x multiply-adds of every matrix product in a graph (static shapes)."""
    total = 0
    for op in graph.get_operations():
        if op.type == "MatMul":
            a = op.inputs[0].shape
            inner = a[0] if op.get_attr("transpose_a") else a[1]
            total += 2 * int(np.prod(op.outputs[0].shape)) * inner
        elif op.type.startswith("BatchMatMul"):
            a = op.inputs[0].shape
            inner = a[-2] if op.get_attr("adj_x") else a[-1]
            total += 2 * int(np.prod(op.outputs[0].shape)) * inner
        elif op.type == "Einsum":
            inputs, _ = op.get_attr("equation").decode().split("->")
            sizes = {}
            for letters, tensor in zip(inputs.split(","), op.inputs, strict=True):
                assert "." not in letters, f"{op.name}: an ellipsis einsum is not counted here"
                sizes.update(zip(letters, tensor.shape))
            total += 2 * int(np.prod(list(sizes.values())))
        elif re.search("Conv|MatMul|Einsum", op.type):
            pytest.fail(f"{op.name}: uncounted matrix op {op.type}")
    return total


def masked_batch(model):
    rng = np.random.default_rng(0)
    token_ids = rng.integers(5, VOCAB, size=(BATCH, LENGTH)).astype("int32")
    token_ids[:, 0], token_ids[:, LENGTH // 2], token_ids[:, -1] = 2, 3, 3
    segment_ids = np.zeros_like(token_ids)
    segment_ids[:, LENGTH // 2 + 1 :] = 1
    batch = {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": np.ones_like(token_ids)}
    if hasattr(model, "mask"):
        batch = model.mask(batch, seed=[0, 0])
    if "sentence_order" not in batch:
        batch["sentence_order"] = np.zeros((BATCH,), "int32")
    return {key: tf.convert_to_tensor(value) for key, value in batch.items()}


def traced_forward_flops(model, batch) -> int:
    @tf.function
    def forward(batch):
        return model.objective(batch, training=False)[0]

    return matmul_flops(forward.get_concrete_function(batch).graph)


def masking(mlm=False):
    build = MaskingConfig.bert if mlm else MaskingConfig.electra
    return build(mask_token_id=4, special_token_ids=(0, 1, 2, 3, 4), vocab_size=VOCAB)


@pytest.mark.parametrize(
    "objective, overrides",
    [
        ("electra", {"generator_size": 0.5}),
        ("electra", {"generator_size": 1.0, "embedding_size": 16}),  # a projection into the hidden size
        ("electra-15", {"generator_size": 0.5}),
        ("replace-mlm", {"generator_size": 0.5}),
        ("all-tokens-mlm", {"generator_size": 0.5, "embedding_size": 16}),
        ("mlm", {"generator_size": None}),
        ("albert", {"family": "albert", "share": "all", "embedding_size": 16, "generator_size": None,
                    "pooler": True}),
        ("albert-none", {"family": "albert", "share": "all", "embedding_size": 16, "generator_size": None,
                         "pooler": True}),
    ],
)
def test_training_flops_are_three_times_the_traced_forward_matmuls(objective, overrides):
    config = ek.ModelConfig.from_preset("tiny", vocab_size=VOCAB, **overrides)
    if objective != "mlm" and not objective.startswith("albert"):
        model = ek.ElectraPretrainer(config, masking=masking(), variant=objective)
    elif objective == "mlm":
        model = ek.MaskedLMPretrainer(config, masking=masking(mlm=True))
    else:
        sentence_task = "none" if objective == "albert-none" else "sop"
        model = ek.AlbertPretrainer(config, masking=masking(mlm=True), sentence_task=sentence_task)
    batch = masked_batch(model)
    predictions = batch["masked_positions"].shape[1]
    expected = BATCH * training_flops_per_sequence(model.config, objective, LENGTH, predictions)
    assert 3 * traced_forward_flops(model, batch) == expected


def test_encoder_formula_by_hand():
    """electra-small's encoder at length 128, written out: the count is the paper's arithmetic."""
    config = ek.ModelConfig.from_preset("electra-small")
    h, f, length, layers = 256, 1024, 128, 12
    per_layer = 4 * (2 * length * h * h) + 2 * (2 * length * length * h) + 2 * (2 * length * h * f)
    projection = 2 * length * 128 * h  # embeddings of 128 into hidden 256
    assert encoder_forward_flops(config, length) == projection + layers * per_layer
    with pytest.raises(ValueError, match="objective='nsp-only'"):
        training_flops_per_sequence(config, "nsp-only", 128, 19)
