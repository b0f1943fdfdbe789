"""The official google-research/electra TF1 checkpoints -> electra_keras models.

Reads a checkpoint written by the official code's `tf.train.Saver` (a prefix
such as `electra_small/electra_small`, or a folder with a `checkpoint` file)
and returns our model with its weights: an `ElectraPretrainer` for a
pretraining checkpoint (generator + discriminator), an `ElectraDiscriminator`
when only the discriminator and its head are there, and a bare `Encoder` when
there is no head at all (fine-tuning checkpoints keep only `electra/...` and
their own `task_specific/...` heads, which are ours to drop with strict=False).

Names verified against:
  * google-research/electra `model/modeling.py` (BertModel, transformer_model,
    attention_layer): `{scope}/encoder/layer_{i}/attention/self/{query,key,value}`,
    `attention/output/dense`, `attention/output/LayerNorm`,
    `intermediate/dense`, `output/dense`, `output/LayerNorm`; the projection
    `{scope}/embeddings_project` exists only when the embedding width differs
    from the hidden size; the embeddings live under
    `(scope if untied_embeddings else "electra") + "/embeddings"`, so with the
    default tied embeddings the generator REUSES `electra/embeddings/...` and
    has no embedding tables of its own.
  * google-research/electra `run_pretraining.py`: the generator is built with
    name="generator"; `generator_predictions/{dense,LayerNorm,output_bias}`
    (the dense maps to the EMBEDDING width); `discriminator_predictions/dense`
    and the unnamed second dense, which tf.layers names `dense_1`;
    `get_generator_config`: heads = max(1, hidden // 64), FFN = 4 * hidden.
  * google-research/electra `util/training_utils.py` (`get_bert_config`: heads
    = max(1, hidden // 64)) and `model/optimization.py` (AdamWeightDecayOptimizer
    slots `{variable}/adam_m`, `{variable}/adam_v`; `global_step`).
  * huggingface/transformers 4.x `models/electra/modeling_electra.py`
    (`load_tf_weights_in_electra`: for the generator `electra/embeddings/` is
    read as the generator's own embeddings and `generator/` as its encoder;
    `dense_1` -> `dense_prediction`; `generator_predictions/output_bias` ->
    `generator_lm_head/bias`; kernels transposed into torch; `global_step`
    and `temperature` skipped) and
    `models/electra/convert_electra_original_tf_checkpoint_to_pytorch.py`.

TF1 kernels are stored (in, out), as Keras keeps them: nothing is transposed.

Example:
    model = from_official_tf1("electra_small/electra_small")
    print(describe(rows_for_official_tf1(model)))
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping

import numpy as np

from electra_keras.config import ModelConfig
from electra_keras.convert.tables import (
    CheckpointMismatchError,
    Naming,
    Row,
    dense_rows,
    encoder_rows,
    load_rows,
    masked_lm_head_rows,
)
from electra_keras.encoder import Encoder
from electra_keras.models import ElectraDiscriminator, ElectraGenerator
from electra_keras.pretraining import ElectraPretrainer

logger = logging.getLogger(__name__)

# tf.layers.dense kernels are (in_features, out_features), like Keras Dense.
TRANSPOSE_KERNELS = False

DISCRIMINATOR_SCOPE = "electra"
GENERATOR_SCOPE = "generator"

# Tensors that carry no weights: optimizer slots of the official
# AdamWeightDecayOptimizer (model/optimization.py), the step counter, and the
# names transformers' load_tf_weights_in_electra skips as well.
IGNORED_NAMES = frozenset({"global_step", "temperature"})
IGNORED_SUFFIXES = ("/adam_m", "/adam_v")
IGNORED_COMPONENTS = frozenset({"AdamWeightDecayOptimizer", "AdamWeightDecayOptimizer_1"})


def is_ignorable(name: str) -> bool:
    """Known non-weight tensors of official checkpoints (optimizer state, counters)."""
    return (
        name in IGNORED_NAMES
        or name.endswith(IGNORED_SUFFIXES)
        or not IGNORED_COMPONENTS.isdisjoint(name.split("/"))
    )


# --- names -------------------------------------------------------------------


class OfficialNaming(Naming):
    """`{scope}/encoder/layer_{i}/attention/self/query/kernel`, ...

    Args:
        scope: "electra" (discriminator, and fine-tuned models) or "generator".
        embeddings_scope: where the embedding tables live: "electra" in the
            released checkpoints, for the generator too (shared embeddings).
    """

    _ATTENTION = {
        "query": "attention/self/query",
        "key": "attention/self/key",
        "value": "attention/self/value",
        "output": "attention/output/dense",
        "norm": "attention/output/LayerNorm",
    }
    _FEEDFORWARD = {
        "intermediate": "intermediate/dense",
        "output": "output/dense",
        "norm": "output/LayerNorm",
    }
    _EMBEDDINGS = {
        "word": "word_embeddings",
        "position": "position_embeddings",
        "segment": "token_type_embeddings",
        "norm_gamma": "LayerNorm/gamma",
        "norm_beta": "LayerNorm/beta",
    }

    def __init__(self, scope: str, embeddings_scope: str = DISCRIMINATOR_SCOPE):
        self.scope = scope
        self.embeddings_scope = embeddings_scope

    def embedding(self, part):
        return f"{self.embeddings_scope}/embeddings/{self._EMBEDDINGS[part]}"

    def projection(self, part):
        return f"{self.scope}/embeddings_project/{part}"

    def attention(self, index, part):
        # part: "{sublayer}_{kernel|bias|gamma|beta}", the TF1 variable's own name.
        sublayer, _, kind = part.rpartition("_")
        return f"{self.scope}/encoder/layer_{index}/{self._ATTENTION[sublayer]}/{kind}"

    def feedforward(self, index, part):
        sublayer, _, kind = part.rpartition("_")
        return f"{self.scope}/encoder/layer_{index}/{self._FEEDFORWARD[sublayer]}/{kind}"

    def pooler(self, part):
        raise CheckpointMismatchError(
            "The official ELECTRA code has no pooler (it takes [CLS] directly): "
            "use a config with pooler=False"
        )


_GENERATOR_HEAD = {
    "dense_kernel": "generator_predictions/dense/kernel",
    "dense_bias": "generator_predictions/dense/bias",
    "norm_gamma": "generator_predictions/LayerNorm/gamma",
    "norm_beta": "generator_predictions/LayerNorm/beta",
    "output_bias": "generator_predictions/output_bias",
}


def _discriminator_head_rows(model: ElectraDiscriminator) -> list[Row]:
    return dense_rows(
        model.head.dense, lambda p: f"discriminator_predictions/dense/{p}"
    ) + dense_rows(model.head.prediction, lambda p: f"discriminator_predictions/dense_1/{p}")


def rows_for_official_tf1(model, embeddings_scope: str = DISCRIMINATOR_SCOPE) -> list[Row]:
    """The full name table of one of our models in the official TF1 names.

    Args:
        model: an `ElectraPretrainer`, `ElectraDiscriminator`, `ElectraGenerator`
            (generator scope, embeddings under `embeddings_scope`) or `Encoder`
            (discriminator scope).
        embeddings_scope: "electra" (the released checkpoints) or "generator".

    Print it with `electra_keras.convert.tables.describe`.
    """
    if isinstance(model, ElectraPretrainer):
        discriminator, generator = model.discriminator, model.generator
        return (
            encoder_rows(
                discriminator.encoder, OfficialNaming(DISCRIMINATOR_SCOPE, embeddings_scope)
            )
            + _discriminator_head_rows(discriminator)
            # The embedding block is shared: its rows are listed once, above.
            + encoder_rows(
                generator.encoder,
                OfficialNaming(GENERATOR_SCOPE, embeddings_scope),
                include_embeddings=False,
            )
            + masked_lm_head_rows(generator.head, _GENERATOR_HEAD.__getitem__)
        )
    if isinstance(model, ElectraDiscriminator):
        return encoder_rows(
            model.encoder, OfficialNaming(DISCRIMINATOR_SCOPE, embeddings_scope)
        ) + _discriminator_head_rows(model)
    if isinstance(model, ElectraGenerator):
        return encoder_rows(
            model.encoder, OfficialNaming(GENERATOR_SCOPE, embeddings_scope)
        ) + masked_lm_head_rows(model.head, _GENERATOR_HEAD.__getitem__)
    if isinstance(model, Encoder):
        return encoder_rows(model, OfficialNaming(DISCRIMINATOR_SCOPE, embeddings_scope))
    raise TypeError(f"No official ELECTRA layout for {type(model).__name__}")


# --- reading -----------------------------------------------------------------


class _StoredTensor:
    """A checkpoint tensor read only when converted to an array.

    `np.shape` uses `.shape`, so every shape is checked before any tensor
    (let alone the optimizer slots, twice the model's size) is read.
    """

    def __init__(self, reader, name: str, shape: tuple[int, ...]):
        self._reader, self.name, self.shape = reader, name, shape

    def __array__(self, dtype=None, copy=None):
        value = np.asarray(self._reader.get_tensor(self.name))
        return value if dtype is None else value.astype(dtype)


class CheckpointTensors(Mapping):
    """name -> tensor of a TF checkpoint, read lazily; `.shapes` has every shape."""

    def __init__(self, path: str | os.PathLike):
        import tensorflow as tf

        self.path = str(path)
        try:
            self._reader = tf.train.load_checkpoint(self.path)
        except (ValueError, tf.errors.OpError) as error:
            raise FileNotFoundError(
                f"{self.path}: no TF checkpoint there (expected a prefix such as "
                "'electra_small/electra_small' next to its .index and .data files, "
                f"or a folder with a 'checkpoint' file): {error}"
            ) from error
        self.shapes = {
            name: tuple(int(d) for d in shape)
            for name, shape in self._reader.get_variable_to_shape_map().items()
        }

    def __getitem__(self, name):
        if name not in self.shapes:
            raise KeyError(name)
        return _StoredTensor(self._reader, name, self.shapes[name])

    def __iter__(self):
        return iter(sorted(self.shapes))

    def __len__(self):
        return len(self.shapes)

    def read(self, name: str) -> np.ndarray:
        return np.asarray(self._reader.get_tensor(name))


def _layer_indices(shapes: Mapping[str, tuple], scope: str) -> list[int]:
    pattern = re.compile(rf"^{re.escape(scope)}/encoder/layer_(\d+)/")
    return sorted({int(m.group(1)) for name in shapes if (m := pattern.match(name))})


def _num_layers(shapes, scope: str, source: str) -> int:
    indices = _layer_indices(shapes, scope)
    if indices != list(range(len(indices))):
        raise CheckpointMismatchError(
            f"{source}: {scope}/encoder has layers {indices}; expected 0..{len(indices) - 1}"
        )
    return len(indices)


def _shape(shapes, name: str, source: str) -> tuple[int, ...]:
    if name not in shapes:
        raise CheckpointMismatchError(
            f"{source}: no tensor {name}, needed to infer the config "
            "(pass config=... to name the architecture yourself)"
        )
    return shapes[name]


def _scopes_found(shapes) -> str:
    """A short inventory of a checkpoint, for errors."""
    found: dict[str, int] = {}
    for name in shapes:
        if is_ignorable(name):
            continue
        parts = name.split("/")
        key = "/".join(parts[:2]) if len(parts) > 2 else name
        found[key] = found.get(key, 0) + 1
    listed = [f"{key} ({count} tensors)" for key, count in sorted(found.items())]
    return ", ".join(listed) or "nothing"


def _embeddings_scope(tensors: CheckpointTensors) -> tuple[str, set[str]]:
    """Where the shared embedding tables are, and the duplicates known equal.

    The official code keeps them under `electra/embeddings` for both networks
    (modeling.py: `(scope if untied_embeddings else "electra") + "/embeddings"`).
    A checkpoint that also has `generator/embeddings/...` is accepted only if
    every such tensor equals its `electra/embeddings/...` twin: an untied
    generator embedding (untied_generator_embeddings=True) cannot be loaded into
    one shared block without losing it.
    """
    shapes = tensors.shapes
    word = "embeddings/word_embeddings"
    if f"{DISCRIMINATOR_SCOPE}/{word}" not in shapes:
        has_generator_copy = f"{GENERATOR_SCOPE}/{word}" in shapes
        return (GENERATOR_SCOPE if has_generator_copy else DISCRIMINATOR_SCOPE), set()
    duplicates, differing = set(), []
    prefix = f"{GENERATOR_SCOPE}/embeddings/"
    for name in sorted(shapes):
        if not name.startswith(prefix) or is_ignorable(name):
            continue
        twin = f"{DISCRIMINATOR_SCOPE}/embeddings/" + name[len(prefix):]
        if twin not in shapes:
            continue  # left to load_rows, which reports it as unused
        same = shapes[twin] == shapes[name] and np.array_equal(
            tensors.read(twin), tensors.read(name)
        )
        if not same:
            differing.append(f"{name} {shapes[name]} vs {twin} {shapes[twin]}")
        else:
            duplicates.add(name)
    if differing:
        raise CheckpointMismatchError(
            f"{tensors.path}: the generator has its own embeddings, different from the "
            "discriminator's (untied_generator_embeddings=True); ElectraPretrainer "
            "shares one embedding block, so they cannot both be loaded:\n  "
            + "\n  ".join(differing)
        )
    return DISCRIMINATOR_SCOPE, duplicates


def infer_config(
    tensors: CheckpointTensors, embeddings_scope: str = DISCRIMINATOR_SCOPE
) -> ModelConfig:
    """Our ModelConfig from the tensor shapes of an official checkpoint.

    Heads follow the official rule max(1, hidden // 64) (training_utils.py,
    run_pretraining.get_generator_config): they leave no trace in the shapes.
    """
    shapes, source = tensors.shapes, tensors.path
    vocab, embedding = _shape(shapes, f"{embeddings_scope}/embeddings/word_embeddings", source)
    positions = _shape(shapes, f"{embeddings_scope}/embeddings/position_embeddings", source)[0]
    types = _shape(shapes, f"{embeddings_scope}/embeddings/token_type_embeddings", source)[0]

    def encoder(scope):
        layer = f"{scope}/encoder/layer_0"
        hidden = _shape(shapes, f"{layer}/attention/self/query/kernel", source)[1]
        intermediate = _shape(shapes, f"{layer}/intermediate/dense/kernel", source)[1]
        return hidden, intermediate, _num_layers(shapes, scope, source)

    hidden, intermediate, layers = encoder(DISCRIMINATOR_SCOPE)
    values = dict(
        family="electra",
        vocab_size=vocab,
        embedding_size=embedding,
        hidden_size=hidden,
        num_layers=layers,
        num_heads=max(1, hidden // 64),
        intermediate_size=intermediate,
        max_position_embeddings=positions,
        type_vocab_size=types,
    )
    if not _layer_indices(shapes, GENERATOR_SCOPE):
        return ModelConfig(**values)

    gen_hidden, gen_intermediate, gen_layers = encoder(GENERATOR_SCOPE)
    # The official get_generator_config gives FFN = 4 * hidden and heads =
    # max(1, hidden // 64); a checkpoint whose generator FFN differs keeps its
    # own width as an explicit generator_intermediate_size.
    return ModelConfig(
        **values,
        generator_size=gen_hidden / hidden,
        generator_layers=gen_layers / layers,
        generator_intermediate_size=None if gen_intermediate == 4 * gen_hidden else gen_intermediate,
    )


# --- loading -----------------------------------------------------------------


def load_official_tf1(model, path: str | os.PathLike, strict: bool = True):
    """Loads an official checkpoint into an existing model of ours.

    Every tensor is checked (missing, shape, unused) before anything is
    assigned; on any mismatch a `CheckpointMismatchError` names them all and
    the model is left untouched.

    Returns:
        The model.
    """
    tensors = CheckpointTensors(path)
    return _load(model, tensors, *_embeddings_scope(tensors), strict=strict)


def _load(model, tensors: CheckpointTensors, scope: str, duplicates: set[str], strict: bool):
    unused = load_rows(
        rows_for_official_tf1(model, embeddings_scope=scope),
        tensors,
        TRANSPOSE_KERNELS,
        source=tensors.path,
        ignored=lambda name: is_ignorable(name) or name in duplicates,
        strict=strict,
    )
    if unused:
        logger.warning("%s: %d tensors not used: %s", tensors.path, len(unused), ", ".join(unused))
    return model


def from_official_tf1(path: str | os.PathLike, config=None, strict: bool = True, generator_config=None):
    """Builds our model from an official google-research/electra TF1 checkpoint.

    Args:
        path: a checkpoint prefix (`.../model.ckpt-1000000`) or a folder with a
            `checkpoint` file.
        config: None to infer the architecture from the tensor shapes (heads =
            max(1, hidden // 64), the official rule), or a `ModelConfig`, its
            dict or a preset name (e.g. "electra-small++"), which the shapes are
            then checked against.
        strict: tensors that are neither ours nor known optimizer/bookkeeping
            state are an error; with False they are logged and dropped.
        generator_config: with `config`, the generator's `ModelConfig` (or
            dict) when the official rule (`ModelConfig.generator_config`)
            does not give it, e.g. a checkpoint trained with other heads.

    Returns:
        An `ElectraPretrainer` when the checkpoint has the generator and the
        discriminator; an `ElectraDiscriminator` when it has only the
        discriminator and its head; an `Encoder` when it has the encoder
        without any head (fine-tuning checkpoints).

    Example:
        pretrainer = from_official_tf1("electra_small/electra_small")
        discriminator = pretrainer.discriminator
    """
    tensors = CheckpointTensors(path)
    shapes, source = tensors.shapes, tensors.path
    has = {
        "discriminator": bool(_layer_indices(shapes, DISCRIMINATOR_SCOPE)),
        "discriminator head": any(n.startswith("discriminator_predictions/") for n in shapes),
        "generator": bool(_layer_indices(shapes, GENERATOR_SCOPE)),
        "generator head": any(n.startswith("generator_predictions/") for n in shapes),
    }
    if not has["discriminator"]:
        raise CheckpointMismatchError(
            f"{source}: no discriminator encoder ({DISCRIMINATOR_SCOPE}/encoder/layer_*) found; "
            f"electra_keras loads pretraining or discriminator checkpoints. Found: "
            f"{_scopes_found(shapes)}"
        )
    if has["generator head"] and not has["generator"] and strict:
        raise CheckpointMismatchError(
            f"{source}: generator_predictions/ without a generator/encoder: the generator "
            "is the discriminator itself (untied_generator=False), which ElectraPretrainer "
            "cannot express. Pass strict=False to load the discriminator alone."
        )
    scope, duplicates = _embeddings_scope(tensors)
    if config is None:
        config = infer_config(tensors, scope)
    else:
        config = ModelConfig.coerce(config)
        if config.family != "electra":
            raise ValueError(
                f"config: family={config.family!r}; official ELECTRA checkpoints need 'electra'"
            )
    if generator_config is not None:
        config = config.with_generator(generator_config)

    if has["generator"]:
        if config.generator_size is None:
            raise ValueError(
                f"{source} has a generator: the config needs a generator_size "
                "(generator hidden / discriminator hidden)"
            )
        model = ElectraPretrainer(config)
    elif has["discriminator head"]:
        model = ElectraDiscriminator(config)
    else:
        model = Encoder(config)
    return _load(model, tensors, scope, duplicates, strict=strict)


__all__ = [
    "CheckpointTensors",
    "OfficialNaming",
    "from_official_tf1",
    "infer_config",
    "is_ignorable",
    "load_official_tf1",
    "rows_for_official_tf1",
]
