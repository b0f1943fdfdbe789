"""Training FLOPs of a pretraining step: the one count every budget, curve and
MFU figure of this package uses.

The count is analytic: the multiply-adds of the matrix products (2 FLOPs
each), forward pass x 3 for training (the backward pass costs about twice
the forward, as in the ELECTRA paper's appendix and Kaplan et al. 2020).
Embedding lookups, LayerNorm, softmax, GELU and the optimizer are left out;
they are a few percent at these sizes.

One encoder layer on a sequence of length L, hidden H, FFN F:

- Q, K, V and output projections: 4 x 2 L H^2 = 8 L H^2;
- attention scores Q K^T and the weighted sum of V: 2 x 2 L^2 H = 4 L^2 H;
- the FFN's two matrices: 2 x 2 L H F = 4 L H F;

plus 2 L E H for the projection when the embeddings (E) are narrower than
the hidden size. A layer shared across depth (ALBERT) costs as much as an
unshared one: sharing saves parameters, not compute.

Heads, per sequence with P masked positions and vocabulary V:

- masked LM (ELECTRA's generator, BERT, ALBERT): a dense layer from the
  hidden size to E on the P positions, and the output layer tied to the
  word table: 2 P H E + 2 P E V;
- ELECTRA's discriminator: a dense H -> H and a H -> 1 on every token:
  2 L H^2 + 2 L H; Replace MLM's identity head is a masked-LM head on the
  P positions, All-Tokens MLM's one on all L tokens plus the copy gate
  (2 L H);
- ALBERT's sentence-order (and NSP) head: the pooler H -> H and H -> 2 on
  [CLS]: 2 H^2 + 4 H.

ELECTRA counts both networks, so its budget includes the generator (the
paper's convention): with every weight tied the generator is the
discriminator's encoder, run a second time on the masked input.
"""

from __future__ import annotations

# Objectives whose step is one encoder with a masked-LM head.
MASKED_LM_OBJECTIVES = ("mlm", "albert", "albert-nsp", "albert-none")
# A generator and a main network (ElectraPretrainer's variants).
ELECTRA_OBJECTIVES = ("electra", "electra-15", "replace-mlm", "all-tokens-mlm")


def encoder_forward_flops(config, length: int) -> int:
    """Matmul FLOPs of one sequence of `length` tokens through one encoder (forward)."""
    e, h, f = config.embedding_size, config.hidden_size, config.intermediate_size
    projection = 2 * length * e * h if config.projects_embeddings else 0
    per_layer = 8 * length * h * h + 4 * length * length * h + 4 * length * h * f
    return projection + len(config.layer_schedule()) * per_layer


def masked_lm_head_flops(config, num_predictions: int) -> int:
    """Forward FLOPs of a masked-LM head on `num_predictions` positions."""
    e, h, v = config.embedding_size, config.hidden_size, config.vocab_size
    return 2 * num_predictions * h * e + 2 * num_predictions * e * v


def training_flops_per_sequence(config, objective: str, length: int, num_predictions: int, generator=None) -> int:
    """Training FLOPs of one sequence through one step of `objective`.

    Args:
        config: the `ModelConfig` of the encoder that is fine-tuned (for
            ELECTRA the discriminator's, whose `generator_config()` gives
            the generator).
        objective: "electra" and its variants ("electra-15", "replace-mlm",
            "all-tokens-mlm"), "mlm", or "albert" (masked LM + sentence order)
            and its "albert-nsp" and "albert-none".
        length: the sequence length.
        num_predictions: masked positions per sequence (the masking config's
            `num_predictions(length)`).
        generator: ELECTRA's generator config when it is not
            `config.generator_config()` (all weights tied: the discriminator's).

    Example:
    >>> from electra_keras.config import ModelConfig
    >>> config = ModelConfig.from_preset("electra-small")
    >>> round(training_flops_per_sequence(config, "electra", 128, 19) / 1e9, 2)
    8.98
    """
    h = config.hidden_size
    if objective in ELECTRA_OBJECTIVES:
        generator = generator or config.generator_config()
        forward = (
            encoder_forward_flops(generator, length)
            + masked_lm_head_flops(generator, num_predictions)
            + encoder_forward_flops(config, length)
        )
        if objective == "replace-mlm":
            forward += masked_lm_head_flops(config, num_predictions)
        elif objective == "all-tokens-mlm":
            forward += masked_lm_head_flops(config, length) + 2 * length * h  # + the copy gate
        else:  # the replaced-token head, on every token (electra-15 too: the loss is masked, not the head)
            forward += 2 * length * h * h + 2 * length * h
    elif objective in MASKED_LM_OBJECTIVES:
        forward = encoder_forward_flops(config, length) + masked_lm_head_flops(config, num_predictions)
        if objective.startswith("albert"):  # the pooler and the 2-way sentence head (computed for "none" too)
            forward += 2 * h * h + 4 * h
    else:
        raise ValueError(f"objective={objective!r}: expected one of {ELECTRA_OBJECTIVES + MASKED_LM_OBJECTIVES}")
    return 3 * forward
