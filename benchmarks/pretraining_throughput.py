"""ELECTRA pretraining throughput: ours (Keras 3 on TensorFlow) against the
same step in PyTorch with transformers (and, with --peer tf-models, in
tf-models-official), on this machine, in one run.

Run (from the repository root):

    .venv/bin/python benchmarks/pretraining_throughput.py                # the full benchmark
    .venv/bin/python benchmarks/pretraining_throughput.py --quick        # a smoke test (2-layer models, 2 steps)
    .venv/bin/python benchmarks/pretraining_throughput.py --markdown --json results.json
    .venv/bin/python benchmarks/pretraining_throughput.py --variants float32 --peer tf-models

What one training step is, on both sides: a pre-masked batch of
`--batch-size` sequences of 128 tokens (synthetic random word pieces in the
[CLS] A [SEP] B [SEP] layout, masked beforehand with our `mask_batch`, as the
pretraining runner masks inside tf.data, so masking is not in the step) goes
through the generator (MLM loss at the max_predictions = int(0.155 * 128) = 19
masked slots of every sequence), Gumbel-max sampling with no gradient into the
generator, the discriminator on the corrupted input (RTD loss over every
token), loss = MLM + 50 * RTD, then one AdamW update (`electra_adamw`: weight
decay 0.01 except LayerNorm and biases, global-norm clipping at 1.0, the
warmup + linear decay schedule).

- Ours: `ElectraPretrainer.from_preset(...)` compiled with `electra_adamw`; the
  step is Keras' own compiled `train_function`, called on an iterator over a
  distributed tf.data dataset exactly as `model.fit` calls it (the metric
  updates that fit runs are part of it). Rows: float32; float32 with XLA
  (`compile(jit_compile=True)`); mixed_bfloat16.
- PyTorch: transformers' `ElectraForMaskedLM` (generator config) and
  `ElectraForPreTraining` (discriminator config) built from the same
  `ModelConfig`s, the generator's embedding block replaced by the
  discriminator's and its output layer tied to the shared word table; the
  generator's LM head scores only the masked slots (hidden states gathered
  first, as ours does); the same batches, the same sampling, labels, losses
  and optimizer settings; `torch.set_num_threads(<usable CPUs>)`; float32, and
  bf16 autocast for the mixed_bfloat16 rows. Eager PyTorch is the comparison
  for both the float32 and the XLA row.
- tf-models (`--peer tf-models`, float32 rows only; other rows say why they
  have none): the TF Model Garden's `ElectraPretrainer` in tf-models-official
  2.20, which needs TensorFlow 2.20 and tf-keras (Keras 2) and so runs in a
  virtualenv of its own (benchmarks/peers.py makes it once, in
  ~/.cache/electra_keras/peers/tf-models, with pinned versions) as a child
  process, benchmarks/peer_steps/tf_models_electra.py, driven over a line protocol
  and fed the same pre-masked batches through an .npz file. It is built as
  tf-models' `electra_task.py` builds it: two `BertEncoder`s (embedding width
  E, projected to the hidden size), the generator reusing the discriminator's
  word-embedding layer (tf-models ties only the word table: position and
  segment tables and the embedding LayerNorm are per encoder, unlike ours
  and transformers'), the task's losses (MLM + 50 * RTD) and its 'adamw'
  (`AdamWeightDecay`: decay 0.01 except LayerNorm and biases, global-norm
  clipping 1.0) under a polynomial warmup and decay, in a `tf.function` step
  without XLA. Its steps are timed by the child (until the last loss is
  read), interleaved with ours and PyTorch's run by run. A peer that cannot
  be installed or started leaves a one-line error in its row.

Timing: `--warmup` untimed steps (tracing and compilation), then `--repeats`
timed runs of `--steps` consecutive steps each, ours and PyTorch (and the
peer) interleaved run by run so that all see the same machine load; reported:
the median step time and its spread, (max - min) / median over the runs. The
ratio ours/PyTorch is the ratio of the two medians' throughputs from the same
run. Speed is never asserted anywhere: this script only reports.

Model FLOPs (`electra_keras.pretraining.flops`, the count every budget of
this package uses; analytic, matmuls only: embedding lookups,
softmax, LayerNorm, GELU, dropout and the optimizer are left out, as MFU
conventionally does). For one encoder with embedding size E, hidden size H,
FFN size F, N layers and sequence length L, one sequence's forward pass is

    encoder(H, F)   = [E != H] 2 L E H                            embedding projection
                      + N (8 L H^2                                Q, K, V and output projections
                           + 4 L^2 H                              scores QK^T and context AV
                           + 4 L H F)                             the two FFN matmuls
    generator head  = 2 P Hg E + 2 P E V                          dense, then the tied vocabulary
                                                                  projection at the P = 19 masked slots
    discriminator head = 2 L H^2 + 2 L H                          dense, then one logit per token

    forward = encoder(Hg, Fg) + generator head + encoder(H, F) + discriminator head
    training FLOPs per sequence = 3 * forward

(backward = 2 x forward: every matmul needs the gradient of its input and
of its weight; the input gradient of the first layer is needed too, since
the embedding tables are trained). Hg, Fg: the generator's hidden and FFN
sizes (`ModelConfig.generator_config()`). The formula is cross-checked
against torch's FlopCounterMode on one PyTorch step, printed per model.

MFU = model FLOPs per step / median step time / the matmul peak, where the
peak is measured in the same run: the median FLOP/s of square TensorFlow
matmuls (`--matmul-size`, 2048 on a CPU and 8192 on a GPU) in float32, and
for the mixed_bfloat16 rows the higher of the float32 and bfloat16 peaks: a
mixed step may run its matmuls at either precision (on a CPU without
bfloat16 instructions, TensorFlow emulates bfloat16 matmuls slowly while
XLA computes them in float32, so the bfloat16 peak alone gave MFUs above
100%).

TensorFlow and torch each use the GPU when there is one (the output names
the device), else the CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import sys
import time
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Run as a script, this folder is on sys.path; the helpers live beside it.
from common import (  # noqa: E402
    Timing,
    format_machine,
    machine_description,
    markdown_table,
    native_bfloat16,
    random_pairs,
    record_performance,
    seconds,
    tensorflow_matmul_peak,
    text_table,
    usable_cpus,
)
from peers import PEERS, PeerError, PeerProcess, ensure_peer_venv  # noqa: E402

SEQUENCE_LENGTH = 128
DEFAULT_MODELS = ("electra-small", "electra-base")
# Sized so that one float32 step takes roughly 2-4 s on two CPU cores (less
# on bigger machines); the XLA row is several times slower on a CPU.
DEFAULT_BATCH_SIZES = {
    "cpu": {"electra-small": 16, "electra-base": 4},
    "gpu": {"electra-small": 128, "electra-base": 64},
}
# The paper's peak learning rates; they change no FLOP but keep the step honest.
LEARNING_RATES = {"electra-small": 5e-4, "electra-base": 2e-4}
RTD_WEIGHT = 50.0
# electra_adamw's schedule: linear warmup over 10,000 steps, linear decay to 0 at 1,000,000.
TOTAL_STEPS, WARMUP_STEPS = 1_000_000, 10_000
# Several distinct pre-masked batches, cycled, so no step sees the previous one's input.
DISTINCT_BATCHES = 4


# name -> (Keras dtype policy, XLA, PyTorch autocast dtype or None)
VARIANTS = {
    "float32": ("float32", False, None),
    "xla": ("float32", True, None),
    "mixed_bfloat16": ("mixed_bfloat16", False, "bfloat16"),
    # AMP + XLA, the GPU setting (benchmarks/gpu_throughput.sh); on a CPU XLA's dropout RNG makes it slow.
    "mixed_bfloat16_xla": ("mixed_bfloat16", True, "bfloat16"),
}
DEFAULT_VARIANTS = ("float32", "xla", "mixed_bfloat16")


# --- model FLOPs -------------------------------------------------------------------


def training_flops_per_sequence(config, length: int, num_predictions: int) -> int:
    """Matmul FLOPs of one sequence through one ELECTRA training step (the library's count)."""
    from electra_keras.pretraining.flops import training_flops_per_sequence as count

    return count(config, "electra", length, num_predictions)


# --- data --------------------------------------------------------------------------


def synthetic_batches(tokenizer, masking, batch_size: int, count: int, seed: int = 0) -> list[dict]:
    """`count` pre-masked batches of random word pieces, as numpy arrays.

    Every sequence is full length (pretraining packs examples to the full
    length) and reads [CLS] A [SEP] B [SEP] with a random split point.
    """
    import numpy as np
    import tensorflow as tf

    from electra_keras.pretraining import mask_batch

    rng = np.random.default_rng(seed)
    batches = []
    for index in range(count):
        batch = random_pairs(tokenizer, batch_size, SEQUENCE_LENGTH, rng)
        masked = mask_batch(batch, masking, seed=tf.constant([seed, index], tf.int64))
        batches.append({name: np.asarray(value) for name, value in masked.items()})
    return batches


# --- ours --------------------------------------------------------------------------


class KerasElectraStep:
    """Our pretrainer and its compiled train function, fed the way `fit` feeds it."""

    def __init__(self, preset: str, vocabulary: str, batches: list[dict], variant: str, config_overrides: dict):
        import keras
        import numpy as np
        import tensorflow as tf

        from electra_keras.pretraining import ElectraPretrainer
        from electra_keras.training.optimizers import electra_adamw

        precision, xla, _ = VARIANTS[variant]
        keras.utils.set_random_seed(0)
        # The policy is read when the layers are built; reset in close().
        keras.mixed_precision.set_global_policy(precision)
        try:
            self.model = ElectraPretrainer.from_preset(preset, vocabulary=vocabulary, **config_overrides)
        finally:
            keras.mixed_precision.set_global_policy("float32")
        self.model.compile(
            optimizer=electra_adamw(learning_rate=LEARNING_RATES.get(preset, 2e-4)),
            jit_compile=xla,
        )
        # As the pretraining runner does: optimizer variables before the first step.
        self.model.optimizer.build(self.model.trainable_variables)
        self.model.make_train_function()

        stacked = {name: np.stack([batch[name] for batch in batches]) for name in batches[0]}
        dataset = tf.data.Dataset.from_tensor_slices(stacked).repeat().prefetch(2)
        strategy = self.model.distribute_strategy
        self.iterator = iter(strategy.experimental_distribute_dataset(dataset))
        self.num_parameters = int(sum(np.prod(v.shape) for v in self.model.trainable_variables))

    def run(self, steps: int) -> float:
        for _ in range(steps):
            logs = self.model.train_function(self.iterator)
        # Reading a result waits for the device to finish the steps.
        return float(logs["loss"])

    def close(self):
        import keras

        del self.model, self.iterator
        keras.backend.clear_session()
        gc.collect()


# --- PyTorch -----------------------------------------------------------------------


def torch_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class TorchElectraStep:
    """The same ELECTRA step with transformers' PyTorch models."""

    def __init__(self, config, batches: list[dict], learning_rate: float, autocast_dtype: str | None):
        import torch
        from transformers import ElectraConfig, ElectraForMaskedLM, ElectraForPreTraining

        from electra_keras.convert.huggingface import config_to_huggingface
        from electra_keras.training.optimizers import NO_DECAY

        torch.manual_seed(0)
        self.torch = torch
        self.device = torch_device()
        generator_config = ElectraConfig(**config_to_huggingface(config.generator_config(), "ElectraForMaskedLM"))
        discriminator_config = ElectraConfig(**config_to_huggingface(config, "ElectraForPreTraining"))
        self.generator = ElectraForMaskedLM(generator_config)
        self.discriminator = ElectraForPreTraining(discriminator_config)
        # transformers' choice of attention kernel ("sdpa" where torch has it).
        self.attention = self.discriminator.config._attn_implementation
        # One embedding block for both, as in ELECTRA; the generator's output
        # layer must follow it to the shared word table (transformers ties it
        # only at construction, to the block that was just replaced).
        shared = self.discriminator.electra.embeddings
        self.generator.electra.embeddings = shared
        self.generator.generator_lm_head.weight = shared.word_embeddings.weight
        self.models = torch.nn.ModuleDict({"generator": self.generator, "discriminator": self.discriminator})
        self.models.to(self.device).train()
        assert self.generator.generator_lm_head.weight is self.discriminator.electra.embeddings.word_embeddings.weight

        # electra_adamw's settings: no decay on LayerNorm and biases (ours
        # matches gamma/beta/bias; transformers names them LayerNorm.*, *.bias).
        excluded = ("LayerNorm", "bias") + NO_DECAY
        named = list(self.models.named_parameters())  # shared parameters appear once
        self.parameters = [parameter for _, parameter in named]
        self.num_parameters = sum(parameter.numel() for parameter in self.parameters)
        groups = [
            {"params": [p for n, p in named if not any(x in n for x in excluded)], "weight_decay": 0.01},
            {"params": [p for n, p in named if any(x in n for x in excluded)], "weight_decay": 0.0},
        ]
        self.optimizer = torch.optim.AdamW(groups, lr=learning_rate, betas=(0.9, 0.999), eps=1e-6)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            lambda step: max(0.0, (TOTAL_STEPS - step) / TOTAL_STEPS) * min(1.0, step / WARMUP_STEPS),
        )
        self.autocast_dtype = getattr(torch, autocast_dtype) if autocast_dtype else None
        # Copies: the batches are read-only views of TensorFlow tensors, which torch cannot wrap.
        self.batches = [{name: torch.tensor(value) for name, value in batch.items()} for batch in batches]
        if self.device == "cuda":
            self.batches = [{name: value.pin_memory() for name, value in batch.items()} for batch in self.batches]
        self.next_batch = 0

    def _autocast(self):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return self.torch.autocast(self.device, dtype=self.autocast_dtype)

    def step(self):
        torch = self.torch
        functional = torch.nn.functional
        host_batch = self.batches[self.next_batch % len(self.batches)]
        self.next_batch += 1
        # Copied to the device every step, as fit copies each batch.
        batch = {name: value.to(self.device, non_blocking=True) for name, value in host_batch.items()}
        token_ids = batch["token_ids"].long()
        masked_token_ids = batch["masked_token_ids"].long()
        segment_ids = batch["segment_ids"].long()
        padding_mask = batch["padding_mask"].long()
        positions = batch["masked_positions"].long()
        masked_ids = batch["masked_ids"].long()
        weights = batch["masked_weights"].float()

        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            # The generator scores only the masked slots.
            hidden = self.generator.electra(
                input_ids=masked_token_ids, attention_mask=padding_mask, token_type_ids=segment_ids
            ).last_hidden_state
            hidden = torch.gather(hidden, 1, positions[..., None].expand(-1, -1, hidden.shape[-1]))
            mlm_logits = self.generator.generator_lm_head(self.generator.generator_predictions(hidden)).float()
            cross_entropy = functional.cross_entropy(
                mlm_logits.flatten(0, 1), masked_ids.flatten(), reduction="none"
            ).view_as(weights)
            mlm_loss = (cross_entropy * weights).sum() / weights.sum().clamp_min(1e-6)

            with torch.no_grad():
                # Gumbel-max sampling at temperature 1, no gradient.
                uniform = torch.rand_like(mlm_logits).clamp_min(1e-9)
                sampled = torch.argmax(mlm_logits - torch.log(-torch.log(uniform)), dim=-1)
                valid = weights > 0
                sampled = torch.where(valid, sampled, torch.gather(masked_token_ids, 1, positions))
                corrupted = masked_token_ids.scatter(1, positions, sampled)
                replaced = (corrupted != token_ids).float()

            rtd_logits = self.discriminator(
                input_ids=corrupted, attention_mask=padding_mask, token_type_ids=segment_ids
            ).logits.float()
            token_weights = padding_mask.float()
            rtd = functional.binary_cross_entropy_with_logits(rtd_logits, replaced, reduction="none")
            rtd_loss = (rtd * token_weights).sum() / token_weights.sum().clamp_min(1e-6)
            loss = mlm_loss + RTD_WEIGHT * rtd_loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.parameters, 1.0)
        self.optimizer.step()
        self.scheduler.step()
        return loss

    def run(self, steps: int) -> float:
        for _ in range(steps):
            loss = self.step()
        value = float(loss.detach())  # waits for the device
        if self.device == "cuda":
            self.torch.cuda.synchronize()
        return value

    def counted_flops(self) -> int:
        """Matmul FLOPs of one step as torch's FlopCounterMode counts them."""
        from torch.utils.flop_counter import FlopCounterMode

        with FlopCounterMode(display=False) as counter:
            self.run(1)
        return counter.get_total_flops()

    def close(self):
        del self.generator, self.discriminator, self.models, self.optimizer, self.parameters
        gc.collect()


# --- tf-models (a peer process) ---------------------------------------------------


def tf_models_peer_config(config, batch_size: int, num_predictions: int, learning_rate: float, warmup: int) -> dict:
    """What benchmarks/peer_steps/tf_models_electra.py builds: our config's sizes, our step's settings."""
    generator = config.generator_config()
    return {
        "vocab_size": config.vocab_size,
        "embedding_size": config.embedding_size,
        "hidden_size": config.hidden_size,
        "num_layers": config.num_layers,
        "num_heads": config.num_heads,
        "intermediate_size": config.intermediate_size,
        "generator_hidden_size": generator.hidden_size,
        "generator_num_layers": generator.num_layers,
        "generator_num_heads": generator.num_heads,
        "generator_intermediate_size": generator.intermediate_size,
        "hidden_act": config.hidden_act,
        "dropout_rate": config.dropout_rate,
        "attention_dropout_rate": config.attention_dropout_rate,
        "max_position_embeddings": config.max_position_embeddings,
        "type_vocab_size": config.type_vocab_size,
        "initializer_range": config.initializer_range,
        "sequence_length": SEQUENCE_LENGTH,
        "batch_size": batch_size,
        "num_predictions": num_predictions,
        "learning_rate": learning_rate,
        "warmup_steps": WARMUP_STEPS,
        "total_steps": TOTAL_STEPS,
        "seed": 0,
        "rtd_weight": RTD_WEIGHT,
        "warmup": warmup,
    }


def start_peer(name: str, peer_config: dict, batches: list[dict], log, python=None, script=None) -> PeerProcess:
    """Peer `name` built and warmed up in its own process, fed `batches` through an .npz file.

    Args:
        python: the interpreter (default: the peer's venv, made if needed).
        script: the protocol script (default: the peer's, in benchmarks/peer_steps/).
    """
    import tempfile

    import numpy as np

    python = python or ensure_peer_venv(name, log=log)
    with tempfile.TemporaryDirectory(prefix="electra-peer-") as folder:
        config_path = os.path.join(folder, "config.json")
        batches_path = os.path.join(folder, "batches.npz")
        with open(config_path, "w") as out:
            json.dump(peer_config, out)
        np.savez(batches_path, **{key: np.stack([batch[key] for batch in batches]) for key in batches[0]})
        # The child has read both files once it says it is ready.
        return PeerProcess(python, script or PEERS[name].script, [config_path, batches_path])


def tf_models_fields(timing: Timing, batch_size: int, our_step_s: float) -> dict:
    """A row's tf-models measurements, beside ours (median seconds per step `our_step_s`)."""
    return {
        "tf_models_step": timing.as_dict(),
        "tf_models_sequences_per_s": batch_size / timing.median,
        "ratio_ours_to_tf_models": timing.median / our_step_s,
    }


# --- measuring ---------------------------------------------------------------------


def interleaved_timings(sides: dict, steps: int, repeats: int) -> tuple[dict[str, Timing], dict[str, str]]:
    """Seconds per step of each side, timed run by run in alternation.

    Args:
        sides: name -> run(steps), which returns the seconds those steps took.

    Returns:
        (name -> Timing, name -> error): a peer process that fails (PeerError)
        is left out of the remaining runs and reported by its error instead.
    """
    samples = {name: [] for name in sides}
    errors = {}
    for _ in range(repeats):
        for name, run in sides.items():
            if name in errors:
                continue
            try:
                samples[name].append(run(steps) / steps)
            except PeerError as error:
                errors[name] = short_error(error)
    return {name: Timing(tuple(values)) for name, values in samples.items() if name not in errors}, errors


def short_error(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0][:300] if lines else ''}"


def benchmark_model(preset, args, tokenizer, vocabulary, peaks, batch_size, overrides, log) -> tuple[list, dict]:
    from electra_keras.config import ModelConfig
    from electra_keras.pretraining import MaskingConfig

    config = ModelConfig.from_preset(preset, vocab_size=tokenizer.vocabulary_size, **overrides)
    masking = MaskingConfig.for_tokenizer(tokenizer, "electra")
    num_predictions = masking.num_predictions(SEQUENCE_LENGTH)
    flops_per_step = training_flops_per_sequence(config, SEQUENCE_LENGTH, num_predictions) * batch_size
    batches = synthetic_batches(tokenizer, masking, batch_size, DISTINCT_BATCHES)
    label = preset if not overrides else f"{preset} ({', '.join(f'{k}={v}' for k, v in overrides.items())})"
    log(f"\n== {label}: batch {batch_size}, {num_predictions} masked slots per sequence, "
        f"{flops_per_step / batch_size / 1e9:.2f} GFLOP per sequence per training step (analytic)")

    model_info = {"model": label, "batch_size": batch_size, "analytic_flops_per_step": flops_per_step}
    torch_steps: dict[str | None, TorchElectraStep] = {}
    peer: dict = {}  # the running peer process, or the error that kept it from starting

    def peer_step():
        if not peer:
            try:
                started = time.perf_counter()
                peer_config = tf_models_peer_config(
                    config, batch_size, num_predictions, LEARNING_RATES.get(preset, 2e-4), args.warmup)
                peer["process"] = start_peer(args.peer, peer_config, batches, log)
                ready = peer["process"].ready
                model_info["tf_models_parameters"] = ready.get("parameters")
                model_info["tf_models_trained_parameters"] = ready.get("trained_parameters")
                model_info["tf_models_versions"] = ready.get("versions")
                log(f"   {args.peer}: built, traced and warmed up in {time.perf_counter() - started:.0f} s "
                    f"({', '.join(f'{k} {v}' for k, v in (ready.get('versions') or {}).items())})")
            except (PeerError, OSError) as error:  # reported in the row, not fatal
                peer["error"] = short_error(error)
                log(f"   {args.peer}: FAILED to start: {peer['error']}")
                if args.verbose:
                    traceback.print_exc()
        return peer.get("process"), peer.get("error")

    def torch_step_for(autocast_dtype):
        if args.no_torch:
            return None
        if autocast_dtype not in torch_steps:
            step = TorchElectraStep(config, batches, LEARNING_RATES.get(preset, 2e-4), autocast_dtype)
            if "torch_counted_flops_per_step" not in model_info:
                # The first step doubles as warm-up; the count is the same in any precision.
                counted = step.counted_flops()
                model_info["torch_counted_flops_per_step"] = counted
                model_info["torch_parameters"] = step.num_parameters
                model_info["pytorch_attention"] = step.attention
                log(f"   PyTorch attention implementation: {step.attention}")
                log(f"   FLOPs cross-check: analytic {flops_per_step / 1e9:.1f} GFLOP/step, "
                    f"torch FlopCounterMode {counted / 1e9:.1f} GFLOP/step "
                    f"(analytic / counted = {flops_per_step / counted:.4f})")
            step.run(args.warmup)
            torch_steps[autocast_dtype] = step
        return torch_steps[autocast_dtype]

    rows = []
    for variant in args.variants:
        precision, _, autocast_dtype = VARIANTS[variant]
        row = {"model": label, "variant": variant, "batch_size": batch_size,
               "pytorch": "bf16 autocast" if autocast_dtype else "float32 eager"}
        ours = None
        try:
            started = time.perf_counter()
            ours = KerasElectraStep(preset, vocabulary, batches, variant, overrides)
            model_info.setdefault("our_parameters", ours.num_parameters)
            ours.run(args.warmup)
            log(f"   {variant}: built, traced/compiled and warmed up in {time.perf_counter() - started:.0f} s")
        except Exception as error:  # a variant that cannot run here is reported, not fatal
            row["error"] = short_error(error)
            log(f"   {variant}: FAILED: {row['error']}")
            if args.verbose:
                traceback.print_exc()
            if ours is not None:
                ours.close()
            rows.append(row)
            continue
        theirs = torch_step_for(autocast_dtype)
        sides = {"ours": lambda steps: seconds(lambda: ours.run(steps))}
        if theirs is not None:
            sides["pytorch"] = lambda steps: seconds(lambda: theirs.run(steps))
        if args.peer and variant == "float32":
            process, error = peer_step()
            if process is not None:
                sides["tf_models"] = process.run
            else:
                row["tf_models_error"] = error
        elif args.peer:
            log(f"   {variant}: no {args.peer} timing: the peer runs only tf-models' float32 step "
                "(no XLA, no mixed precision)")
        timings, errors = interleaved_timings(sides, args.steps, args.repeats)
        ours.close()
        ours_timing, their_timing = timings["ours"], timings.get("pytorch")
        if "tf_models" in errors:
            row["tf_models_error"] = errors["tf_models"]
            log(f"   {variant}: {args.peer} FAILED: {errors['tf_models']}")

        step_s = ours_timing.median
        # A mixed step may run its matmuls at either precision (XLA computes bfloat16 dots in
        # float32 on a CPU without bfloat16 instructions): its bound is the faster peak.
        peak = max(peaks["bfloat16"], peaks["float32"]) if precision == "mixed_bfloat16" else peaks["float32"]
        row.update(
            step=ours_timing.as_dict(),
            sequences_per_s=batch_size / step_s,
            tokens_per_s=batch_size * SEQUENCE_LENGTH / step_s,
            model_flops_per_s=flops_per_step / step_s,
            matmul_peak_flops_per_s=peak,
            mfu=flops_per_step / step_s / peak,
        )
        if their_timing is not None:
            row.update(
                pytorch_step=their_timing.as_dict(),
                pytorch_sequences_per_s=batch_size / their_timing.median,
                ratio_ours_to_pytorch=their_timing.median / step_s,
            )
        peer_timing = timings.get("tf_models")
        if peer_timing is not None:
            row.update(tf_models_fields(peer_timing, batch_size, step_s))
        log(f"   {variant}: {row['sequences_per_s']:.2f} seq/s, step {step_s * 1e3:.0f} ms "
            f"(spread {ours_timing.spread:.1%}), MFU {row['mfu']:.1%}"
            + (f"; PyTorch {row['pytorch_sequences_per_s']:.2f} seq/s, ours/PyTorch "
               f"{row['ratio_ours_to_pytorch']:.2f}" if their_timing else "")
            + (f"; tf-models {row['tf_models_sequences_per_s']:.2f} seq/s, ours/tf-models "
               f"{row['ratio_ours_to_tf_models']:.2f}" if peer_timing else ""))
        rows.append(row)
    for step in torch_steps.values():
        step.close()
    if "process" in peer:
        peer["process"].close()
    counts = [("ours", "our_parameters"), ("PyTorch", "torch_parameters"), ("tf-models", "tf_models_parameters")]
    counts = [(who, model_info[key]) for who, key in counts if model_info.get(key) is not None]
    if len(counts) > 1:
        log("   trainable parameters: " + ", ".join(f"{who} {count:,}" for who, count in counts)
            + (f" ({model_info['tf_models_trained_parameters']:,} of tf-models' receive gradients: "
               "the encoders' poolers and the generator's sentence head are outside the loss)"
               if model_info.get("tf_models_trained_parameters") is not None else ""))
    return rows, model_info


HEADERS = ("model", "variant", "batch", "seq/s", "tokens/s", "step ms", "spread",
           "model TFLOP/s", "MFU %", "PyTorch", "PyTorch seq/s", "ours/PyTorch")
PEER_HEADERS = ("tf-models seq/s", "ours/tf-models")


def headers(peer: str | None) -> tuple[str, ...]:
    return HEADERS + (PEER_HEADERS if peer else ())


def peer_cells(row: dict) -> list[str]:
    if "tf_models_error" in row:
        return ["failed", "-"]
    if "tf_models_step" not in row:
        return ["-", "-"]
    return [f"{row['tf_models_sequences_per_s']:.2f}", f"{row['ratio_ours_to_tf_models']:.2f}"]


def table_rows(rows: list[dict], peer: str | None = None) -> list[list[str]]:
    table = []
    for row in rows:
        if "error" in row:
            table.append([row["model"], row["variant"], row["batch_size"], "failed", "", "", "", "", "", "", "", ""]
                         + (["", ""] if peer else []))
            continue
        table.append([
            row["model"], row["variant"], row["batch_size"],
            f"{row['sequences_per_s']:.2f}",
            f"{row['tokens_per_s']:.0f}",
            f"{row['step']['median_s'] * 1e3:.0f}",
            f"{row['step']['spread']:.1%}",
            f"{row['model_flops_per_s'] / 1e12:.3f}",
            f"{row['mfu'] * 100:.1f}",
            row["pytorch"] if "pytorch_step" in row else "-",
            f"{row['pytorch_sequences_per_s']:.2f}" if "pytorch_step" in row else "-",
            f"{row['ratio_ours_to_pytorch']:.2f}" if "pytorch_step" in row else "-",
        ] + (peer_cells(row) if peer else []))
    return table


NO_BFLOAT16 = ("this CPU has no bfloat16 instructions (AVX512_BF16 or AMX): both frameworks would "
               "emulate bfloat16, and the ratio would say nothing about mixed precision")


def performance_ratios(rows: list[dict], device_kind: str, quick: bool, bfloat16_native: bool = True) -> dict:
    """The issue's training keys from a full CPU run of electra-small (none from --quick or a GPU).

    The bfloat16 ratio only where the CPU has bfloat16 hardware: elsewhere both
    frameworks emulate it and the ratio says nothing about mixed precision."""
    if quick or device_kind != "cpu":
        return {}
    by_variant = {row["variant"]: row for row in rows if row["model"] == "electra-small" and "error" not in row}
    summary = {}
    if "ratio_ours_to_pytorch" in by_variant.get("float32", {}):
        summary["train_fp32_vs_pytorch"] = by_variant["float32"]["ratio_ours_to_pytorch"]
        summary["mfu_fp32"] = by_variant["float32"]["mfu"]
    if bfloat16_native and "ratio_ours_to_pytorch" in by_variant.get("mixed_bfloat16", {}):
        summary["train_bf16_vs_pytorch"] = by_variant["mixed_bfloat16"]["ratio_ours_to_pytorch"]
    return summary


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="ELECTRA pretraining throughput and MFU, ours vs transformers' PyTorch models.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS),
                        help="comma-separated ELECTRA presets")
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                        help=f"comma-separated, from {', '.join(VARIANTS)}")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="sequences per step for every model (default: per model and device, "
                             f"CPU {DEFAULT_BATCH_SIZES['cpu']}, GPU {DEFAULT_BATCH_SIZES['gpu']})")
    parser.add_argument("--steps", type=int, default=3, help="steps per timed run")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs; medians are reported")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (tracing, compilation)")
    parser.add_argument("--matmul-size", type=int, default=None,
                        help="n of the n x n matmuls of the peak (default 2048 on CPU, 8192 on GPU)")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    parser.add_argument("--peer", choices=sorted(PEERS), default=None,
                        help="also time this implementation in its own virtualenv (made once, "
                             "in ~/.cache/electra_keras/peers), float32 rows only")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: 2-layer models, batch 4, 2 steps, 2 repeats, 1 warm-up step")
    parser.add_argument("--markdown", action="store_true", help="also print the results as markdown for RESULTS.md")
    parser.add_argument("--json", metavar="OUT", help="write every measurement to this JSON file")
    parser.add_argument("--verbose", action="store_true", help="print tracebacks of failed variants")
    args = parser.parse_args(argv)
    args.models = [name.strip() for name in args.models.split(",") if name.strip()]
    args.variants = [name.strip() for name in args.variants.split(",") if name.strip()]
    unknown = [name for name in args.variants if name not in VARIANTS]
    if unknown:
        parser.error(f"--variants: unknown {unknown}; expected some of {', '.join(VARIANTS)}")
    if args.quick:
        args.batch_size = args.batch_size or 4
        args.steps, args.repeats, args.warmup = 2, 2, 1
        args.matmul_size = args.matmul_size or 512
    for name in ("steps", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')}: expected at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)

    def log(message: str):
        print(message, flush=True)

    import tensorflow as tf

    # TensorFlow takes all of a GPU's memory by default, leaving none to torch.
    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)

    from electra_keras.config import PRESETS
    from electra_keras.data import packages
    from electra_keras.data.tokenizer import WordPieceTokenizer

    for name in args.models:
        if name not in PRESETS or PRESETS[name]["config"].get("generator_size") is None:
            raise SystemExit(f"--models: {name!r} is not an ELECTRA preset with a generator "
                             f"(try {', '.join(DEFAULT_MODELS)})")

    on_gpu = bool(tf.config.list_physical_devices("GPU"))
    device_kind = "gpu" if on_gpu else "cpu"
    device_line = f"TensorFlow on {'GPU' if on_gpu else 'CPU'}"
    if not args.no_torch:
        import torch

        torch.set_num_threads(usable_cpus())
        # TensorFlow runs float32 matmuls in TF32 on GPUs that have it (and so
        # does its measured peak); torch does not by default. Same math on both.
        tf32 = on_gpu and tf.config.experimental.tensor_float_32_execution_enabled()
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        device_line += (f", PyTorch on {torch_device()} ({torch.get_num_threads()} threads)"
                        + (", float32 matmuls in TF32 on both" if tf32 else ""))
        if (torch_device() == "cuda") != on_gpu:
            log(f"WARNING: TensorFlow is on {device_kind} but torch is on {torch_device()}: "
                "the ratio compares different devices")
    machine = machine_description()
    log("Machine:\n" + format_machine(machine))
    log(f"Device: {device_line}")
    if not on_gpu and (machine["load_average_1m"] or 0) > 0.5 * usable_cpus():
        log(f"WARNING: the machine is busy (load average {machine['load_average_1m']} on "
            f"{usable_cpus()} CPUs): timings will be noisy, PyTorch's (OpenMP threads) most of all")

    matmul_size = args.matmul_size or (8192 if on_gpu else 2048)
    peak_repeats = 2 if args.quick else 5
    peaks = {}
    for dtype in ("float32", "bfloat16"):
        if dtype == "bfloat16" and all(VARIANTS[name][0] != "mixed_bfloat16" for name in args.variants):
            continue
        peaks[dtype] = tensorflow_matmul_peak(dtype, matmul_size, repeats=peak_repeats)
        log(f"Matmul peak ({dtype}, {matmul_size}x{matmul_size}, TensorFlow): {peaks[dtype] / 1e12:.3f} TFLOP/s")

    vocabulary = str(packages.bert_uncased_vocab())
    tokenizer = WordPieceTokenizer(vocabulary, lowercase=True)
    overrides = {"num_layers": 2} if args.quick else {}

    rows, models = [], []
    started = time.perf_counter()
    for preset in args.models:
        batch_size = args.batch_size or DEFAULT_BATCH_SIZES[device_kind].get(preset, 8)
        model_rows, model_info = benchmark_model(
            preset, args, tokenizer, vocabulary, peaks, batch_size, overrides, log
        )
        rows += model_rows
        models.append(model_info)
    elapsed = time.perf_counter() - started
    machine["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)

    settings = (f"{device_line}; sequence length {SEQUENCE_LENGTH}; {args.warmup} warm-up steps, then {args.repeats} timed runs "
                f"of {args.steps} steps each, ours and PyTorch interleaved; medians; spread = (max - min) / median; "
                f"MFU against the measured TensorFlow matmul peak "
                + ", ".join(f"{dtype} {value / 1e12:.3f} TFLOP/s" for dtype, value in peaks.items())
                + f" ({matmul_size}x{matmul_size}); PyTorch = transformers eager (bf16 autocast for mixed_bfloat16 rows); "
                "ours/PyTorch = our throughput / PyTorch's (above 1: ours is faster)")
    if args.peer:
        settings += ("; tf-models = tf-models-official's ElectraPretrainer in its own venv "
                     "(TensorFlow 2.20, tf-keras), float32 rows only, interleaved with ours and PyTorch; "
                     "ours/tf-models likewise")
    log(f"\nResults ({elapsed / 60:.1f} min, load average at the end {machine['load_average_1m_at_end']}; "
        f"{settings}):\n")
    log(text_table(headers(args.peer), table_rows(rows, args.peer)))
    for row in rows:
        if "error" in row:
            log(f"{row['model']} {row['variant']} failed: {row['error']}")
        if "tf_models_error" in row:
            log(f"{row['model']} {row['variant']} {args.peer} failed: {row['tf_models_error']}")
    if args.markdown:
        log("\n" + "\n".join([
            f"### Pretraining throughput ({time.strftime('%Y-%m-%d')})",
            "",
            format_machine(machine),
            f"- Settings: {settings}",
            "",
            markdown_table(headers(args.peer), table_rows(rows, args.peer)),
        ] + [f"\n{row['model']} {row['variant']} failed: `{row['error']}`" for row in rows if "error" in row]
          + [f"\n{row['model']} {row['variant']} {args.peer} failed: `{row['tf_models_error']}`"
             for row in rows if "tf_models_error" in row]))
    summary = performance_ratios(rows, device_kind, args.quick, native_bfloat16(machine))
    if summary:
        missing = {} if native_bfloat16(machine) else {"train_bf16_vs_pytorch": NO_BFLOAT16}
        record_performance(summary, "benchmarks/pretraining_throughput.py", machine, not_measured=missing)
        log("Ratios recorded in benchmarks/results/performance.json: "
            + ", ".join(f"{key} {value:.2f}" for key, value in summary.items()))
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"machine": machine, "device": device_kind, "matmul_size": matmul_size,
                       "matmul_peak_flops_per_s": peaks, "sequence_length": SEQUENCE_LENGTH,
                       "steps": args.steps, "repeats": args.repeats, "warmup": args.warmup,
                       "quick": args.quick, "models": models, "rows": rows}, out, indent=2)
        log(f"\nWrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
