"""Hugging Face checkpoint folders <-> electra_keras models.

Reads a folder with `config.json` and `model.safetensors` (sharded or not) or
`pytorch_model.bin` (needs torch), and writes folders that transformers loads
with `from_pretrained`. Tensor names follow transformers' modeling_electra.py,
modeling_albert.py and modeling_bert.py; the tables below are the whole
mapping.

| architecture          | our model            |
|-----------------------|----------------------|
| ElectraForPreTraining | ElectraDiscriminator |
| ElectraForMaskedLM    | ElectraGenerator     |
| ElectraModel          | Encoder              |
| AlbertForPreTraining  | AlbertPretrainer     |
| AlbertModel           | Encoder              |
| BertModel             | Encoder              |
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from electra_keras.config import ModelConfig
from electra_keras.convert.tables import (
    CheckpointMismatchError,
    Naming,
    Row,
    collect_rows,
    dense_rows,
    encoder_rows,
    load_rows,
    masked_lm_head_rows,
)
from electra_keras.encoder import Encoder
from electra_keras.models import ElectraDiscriminator, ElectraGenerator
from electra_keras.pretraining import AlbertPretrainer, ElectraPretrainer

logger = logging.getLogger(__name__)

# transformers stores kernels as torch Linear weights: (out_features, in_features).
TRANSPOSE_KERNELS = True

_HF_ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_new", "gelu_pytorch_tanh": "gelu_new", "relu": "relu"}

_ARCHITECTURES = {
    "ElectraForPreTraining": ("electra", ElectraDiscriminator),
    "ElectraForMaskedLM": ("electra", ElectraGenerator),
    "ElectraModel": ("electra", Encoder),
    "AlbertForPreTraining": ("albert", AlbertPretrainer),
    "AlbertModel": ("albert", Encoder),
    "BertModel": ("bert", Encoder),
}


class UnsupportedArchitectureError(ValueError):
    """The model has no transformers equivalent (e.g. ELECTRA with shared layers)."""


# --- names -------------------------------------------------------------------


def _linear(base: str, kind: str) -> str:
    """torch's name for our kernel/bias (Linear) or gamma/beta (LayerNorm)."""
    return f"{base}.{'weight' if kind in ('kernel', 'gamma') else 'bias'}"


class BertNaming(Naming):
    """BERT and ELECTRA: `{prefix}encoder.layer.{i}.attention.self.query.weight`, ..."""

    _ATTENTION = {
        "query": "attention.self.query",
        "key": "attention.self.key",
        "value": "attention.self.value",
        "output": "attention.output.dense",
        "norm": "attention.output.LayerNorm",
    }
    _FEEDFORWARD = {
        "intermediate": "intermediate.dense",
        "output": "output.dense",
        "norm": "output.LayerNorm",
    }

    def __init__(self, prefix: str, family: str):
        self.prefix = prefix
        self.family = family

    def embedding(self, part):
        names = {
            "word": "word_embeddings.weight",
            "position": "position_embeddings.weight",
            "segment": "token_type_embeddings.weight",
            "norm_gamma": "LayerNorm.weight",
            "norm_beta": "LayerNorm.bias",
        }
        return f"{self.prefix}embeddings.{names[part]}"

    def projection(self, part):
        if self.family != "electra":
            raise CheckpointMismatchError(
                "BERT checkpoints have no embedding projection: embedding_size "
                "must equal hidden_size"
            )
        return _linear(f"{self.prefix}embeddings_project", part)

    def _layer(self, index):
        return f"{self.prefix}encoder.layer.{index}"

    def attention(self, index, part):
        sublayer, _, kind = part.rpartition("_")
        return _linear(f"{self._layer(index)}.{self._ATTENTION[sublayer]}", kind)

    def feedforward(self, index, part):
        sublayer, _, kind = part.rpartition("_")
        return _linear(f"{self._layer(index)}.{self._FEEDFORWARD[sublayer]}", kind)

    def pooler(self, part):
        return _linear(f"{self.prefix}pooler.dense", part)


class AlbertNaming(BertNaming):
    """ALBERT: `{prefix}encoder.albert_layer_groups.{g}.albert_layers.{k}.attention.query.weight`.

    Our distinct sublayer index b is group g = b // inner_group_num, inner
    layer k = b % inner_group_num (see ModelConfig.layer_schedule).
    """

    _ATTENTION = {
        "query": "attention.query",
        "key": "attention.key",
        "value": "attention.value",
        "output": "attention.dense",
        "norm": "attention.LayerNorm",
    }
    _FEEDFORWARD = {"intermediate": "ffn", "output": "ffn_output", "norm": "full_layer_layer_norm"}

    def __init__(self, prefix: str, inner_group_num: int):
        super().__init__(prefix, "albert")
        self.inner_group_num = inner_group_num

    def _layer(self, index):
        group, inner = divmod(index, self.inner_group_num)
        return f"{self.prefix}encoder.albert_layer_groups.{group}.albert_layers.{inner}"

    def projection(self, part):
        return _linear(f"{self.prefix}encoder.embedding_hidden_mapping_in", part)

    def pooler(self, part):
        return _linear(f"{self.prefix}pooler", part)


def naming_for(config: ModelConfig, prefix: str) -> Naming:
    if config.family == "albert":
        inner = config.inner_group_num if config.share == "groups" else 1
        return AlbertNaming(prefix, inner)
    return BertNaming(prefix, config.family)


def rows_for(model, prefix: str | None = None) -> list[Row]:
    """The full name table of one of our models in transformers' names."""
    if isinstance(model, Encoder):
        return encoder_rows(model, naming_for(model.config, prefix or ""))
    config = model.config
    if isinstance(model, ElectraDiscriminator):
        base = "electra." if prefix is None else prefix
        return encoder_rows(model.encoder, naming_for(config, base)) + dense_rows(
            model.head.dense, lambda p: _linear("discriminator_predictions.dense", p)
        ) + dense_rows(
            model.head.prediction, lambda p: _linear("discriminator_predictions.dense_prediction", p)
        )
    if isinstance(model, ElectraGenerator):
        base = "electra." if prefix is None else prefix
        head_names = {
            "dense_kernel": "generator_predictions.dense.weight",
            "dense_bias": "generator_predictions.dense.bias",
            "norm_gamma": "generator_predictions.LayerNorm.weight",
            "norm_beta": "generator_predictions.LayerNorm.bias",
            "output_bias": "generator_lm_head.bias",
        }
        return encoder_rows(model.encoder, naming_for(config, base)) + masked_lm_head_rows(
            model.head, head_names.__getitem__
        )
    if isinstance(model, AlbertPretrainer):
        base = "albert." if prefix is None else prefix
        head_names = {
            "dense_kernel": "predictions.dense.weight",
            "dense_bias": "predictions.dense.bias",
            "norm_gamma": "predictions.LayerNorm.weight",
            "norm_beta": "predictions.LayerNorm.bias",
            "output_bias": "predictions.bias",
        }
        return (
            encoder_rows(model.encoder, naming_for(config, base))
            + masked_lm_head_rows(model.mlm_head, head_names.__getitem__)
            + dense_rows(model.sop_head.classifier, lambda p: _linear("sop_classifier.classifier", p))
        )
    task_rows = _task_rows(model)
    if task_rows is not None:
        return task_rows
    raise TypeError(f"No Hugging Face layout for {type(model).__name__}")


_FAMILY_PREFIX = {"electra": "electra.", "albert": "albert.", "bert": "bert."}
_TASK_CLASSES = {"TextClassifier": "SequenceClassification", "TokenClassifier": "TokenClassification",
                 "SpanQuestionAnswerer": "QuestionAnswering"}


def _task_kind(model) -> str | None:
    """"SequenceClassification", ... for our task models, else None."""
    return next((kind for cls in type(model).__mro__ for name, kind in _TASK_CLASSES.items()
                 if cls.__name__ == name), None)


def _task_rows(model) -> list[Row] | None:
    """A fine-tuned task model in the names of transformers' {Family}For{Task}."""
    kind = _task_kind(model)
    if kind is None:
        return None
    config = model.config
    architecture = f"{config.family.capitalize()}For{kind}"
    rows = encoder_rows(model.backbone, naming_for(config, _FAMILY_PREFIX[config.family]))
    if kind == "SequenceClassification":
        if config.family == "electra":
            if model.head_dense is None:
                raise UnsupportedArchitectureError(
                    f"Cannot write a transformers {architecture}: its head is two layers (dense, GELU, "
                    "out_proj) and this model has the official one-layer head; fine-tune with "
                    "TextClassifier(..., head='transformers') to export it, or ship the SavedModel/TFLite")
            rows += dense_rows(model.head_dense, lambda p: _linear("classifier.dense", p))
            rows += dense_rows(model.head, lambda p: _linear("classifier.out_proj", p))
        else:
            if not model.uses_pooler or model.head_dense is not None:
                raise UnsupportedArchitectureError(
                    f"Cannot write a transformers {architecture}: it reads the pooler through one linear "
                    "layer; this model has use_pooler=False or head='transformers'")
            rows += dense_rows(model.head, lambda p: _linear("classifier", p))
    elif kind == "TokenClassification":
        rows += dense_rows(model.head, lambda p: _linear("classifier", p))
    else:
        if model.head != "bert" or model.version_2:
            raise UnsupportedArchitectureError(
                f"Cannot write a transformers {architecture}: it has one Dense(2) span layer and no "
                f"answerability head; this model has head={model.head!r}, version_2={model.version_2} "
                "(fine-tune with head='bert', version_2=False to export it)")
        rows += dense_rows(model.span_head, lambda p: _linear("qa_outputs", p))
    return rows


def _task_settings(model) -> dict[str, Any]:
    """config.json entries of a task model: labels, problem type, head dropout."""
    kind = _task_kind(model)
    if kind == "SequenceClassification":
        names = ["score"] if model.regression else (model.label_names or [f"LABEL_{i}" for i in range(model.num_classes)])
        problem = "regression" if model.regression else "single_label_classification"
    elif kind == "TokenClassification":
        names, problem = list(model.tag_names), None
    else:
        return {}
    dropout_key = {"albert": "classifier_dropout_prob"}.get(model.config.family, "classifier_dropout")
    settings = {"id2label": {str(i): name for i, name in enumerate(names)},
                "label2id": {name: i for i, name in enumerate(names)}, dropout_key: model.dropout_rate}
    if problem:
        settings["problem_type"] = problem
    return settings


# Tensors in transformers checkpoints that carry no weights of ours: buffers,
# and output layers tied to the word embeddings (checked for equality).
_BUFFER_SUFFIXES = (".position_ids", ".token_type_ids")
_TIED = {
    "generator_lm_head.weight": "word",
    "predictions.decoder.weight": "word",
    "predictions.decoder.bias": "predictions.bias",
}


# --- configs -----------------------------------------------------------------


def config_from_huggingface(hf: dict[str, Any], source: str = "config.json") -> ModelConfig:
    """Our ModelConfig from a transformers config.json dict."""
    family = hf.get("model_type")
    if family not in ("electra", "albert", "bert"):
        raise ValueError(
            f"{source}: model_type={family!r} is not supported; expected electra, albert or bert"
        )
    position_type = hf.get("position_embedding_type", "absolute")
    if position_type != "absolute":
        raise ValueError(
            f"{source}: position_embedding_type={position_type!r}; only 'absolute' is supported"
        )
    activation = hf.get("hidden_act", "gelu")
    if activation not in _HF_ACTIVATIONS:
        raise ValueError(
            f"{source}: hidden_act={activation!r}; supported: {sorted(_HF_ACTIVATIONS)}"
        )
    values = dict(
        family=family,
        vocab_size=hf["vocab_size"],
        hidden_size=hf["hidden_size"],
        embedding_size=hf.get("embedding_size", hf["hidden_size"]),
        num_layers=hf["num_hidden_layers"],
        num_heads=hf["num_attention_heads"],
        intermediate_size=hf["intermediate_size"],
        hidden_act=_HF_ACTIVATIONS[activation],
        dropout_rate=float(hf.get("hidden_dropout_prob", 0.1)),
        attention_dropout_rate=float(hf.get("attention_probs_dropout_prob", 0.1)),
        max_position_embeddings=hf.get("max_position_embeddings", 512),
        type_vocab_size=hf.get("type_vocab_size", 2),
        layer_norm_epsilon=float(hf.get("layer_norm_eps", 1e-12)),
        initializer_range=float(hf.get("initializer_range", 0.02)),
        pad_token_id=hf.get("pad_token_id") or 0,
    )
    if family == "albert":
        groups, inner = hf.get("num_hidden_groups", 1), hf.get("inner_group_num", 1)
        values.update(
            share="all" if groups == inner == 1 else "groups",
            num_hidden_groups=1 if groups == inner == 1 else groups,
            inner_group_num=1 if groups == inner == 1 else inner,
            embedding_projection=True,
            pooler=True,
            classifier_dropout_rate=float(hf.get("classifier_dropout_prob", 0.1)),
        )
    if family == "bert":
        values.update(pooler=True)
    if family == "electra":
        classifier_dropout = hf.get("classifier_dropout")
        if classifier_dropout is not None:
            values["classifier_dropout_rate"] = float(classifier_dropout)
    return ModelConfig(**values)


def config_to_huggingface(config: ModelConfig, architecture: str) -> dict[str, Any]:
    """A transformers config.json dict for our config; refuses what HF cannot express."""
    problems = []
    hf: dict[str, Any] = {
        "architectures": [architecture],
        "model_type": config.family,
        "vocab_size": config.vocab_size,
        "hidden_size": config.hidden_size,
        "num_hidden_layers": config.num_layers,
        "num_attention_heads": config.num_heads,
        "intermediate_size": config.intermediate_size,
        "hidden_act": config.hidden_act,
        "hidden_dropout_prob": config.dropout_rate,
        "attention_probs_dropout_prob": config.attention_dropout_rate,
        "max_position_embeddings": config.max_position_embeddings,
        "type_vocab_size": config.type_vocab_size,
        "initializer_range": config.initializer_range,
        "layer_norm_eps": config.layer_norm_epsilon,
        "pad_token_id": config.pad_token_id,
        "position_embedding_type": "absolute",
        "tie_word_embeddings": True,
    }
    if config.family == "albert":
        if config.share in ("attention", "ffn"):
            problems.append(f"share={config.share!r} (ALBERT in transformers shares whole layers)")
        if not config.projects_embeddings:
            problems.append("no embedding projection (transformers' ALBERT always has one; "
                            "embedding_projection=True adds it when embedding_size == hidden_size)")
        if config.share == "groups":
            groups, inner = config.num_hidden_groups, config.inner_group_num
        elif config.share == "none":
            groups, inner = config.num_layers, 1
        else:
            groups, inner = 1, 1
        hf.update(
            embedding_size=config.embedding_size,
            num_hidden_groups=groups,
            inner_group_num=inner,
            classifier_dropout_prob=config.classifier_dropout_rate,
        )
    else:
        if config.share != "none":
            problems.append(f"share={config.share!r} ({config.family} layers are never shared)")
        if config.family == "electra":
            hf["embedding_size"] = config.embedding_size
            if config.projects_embeddings != (config.embedding_size != config.hidden_size):
                problems.append(
                    "embedding_projection differs from embedding_size != hidden_size"
                )
        elif config.embedding_size != config.hidden_size:
            problems.append("BERT needs embedding_size == hidden_size")
    if config.family == "bert" and not config.pooler:
        problems.append("BertModel has a pooler: set pooler=True")
    if config.family == "electra" and config.pooler:
        problems.append("ELECTRA models in transformers have no pooler")
    if problems:
        raise UnsupportedArchitectureError(
            f"Cannot write a transformers {architecture}: " + "; ".join(problems)
        )
    return hf


# --- reading -----------------------------------------------------------------


def read_tensors(folder: Path) -> dict[str, np.ndarray]:
    """All tensors of a transformers checkpoint folder as numpy arrays."""
    single = folder / "model.safetensors"
    index = folder / "model.safetensors.index.json"
    torch_file = folder / "pytorch_model.bin"
    from safetensors.numpy import load_file

    if single.is_file():
        return load_file(str(single))
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        tensors: dict[str, np.ndarray] = {}
        for shard in shards:
            tensors.update(load_file(str(folder / shard)))
        return tensors
    if torch_file.is_file():
        try:
            import torch
        except ImportError as error:
            raise ImportError(
                f"{torch_file} is a PyTorch pickle; reading it needs torch "
                "(pip install 'electra_keras[parity]') — or save the model with "
                "safetensors instead."
            ) from error
        state = torch.load(str(torch_file), map_location="cpu", weights_only=True)
        return {name: value.float().numpy() if value.is_floating_point() else value.numpy()
                for name, value in state.items()}
    raise FileNotFoundError(
        f"{folder}: no model.safetensors, model.safetensors.index.json or pytorch_model.bin"
    )


def _detect_prefix(tensors: dict[str, np.ndarray], family: str, bare: bool) -> str:
    """Base models are saved without the `electra.`/`albert.`/`bert.` prefix."""
    candidates = ["", f"{family}."] if bare else [f"{family}.", ""]
    for prefix in candidates:
        if f"{prefix}embeddings.word_embeddings.weight" in tensors:
            return prefix
    raise CheckpointMismatchError(
        "No word embeddings found (looked for "
        + ", ".join(f"{p}embeddings.word_embeddings.weight" for p in candidates)
        + ")"
    )


def from_huggingface(path: str | Path, architecture: str | None = None, strict: bool = True):
    """Builds our model from a transformers checkpoint folder and loads its weights.

    Args:
        path: a folder with config.json and model.safetensors (or shards, or
            pytorch_model.bin).
        architecture: the transformers class to read it as; defaults to
            `architectures[0]` of config.json. Reading a *ForPreTraining
            checkpoint as the bare `ElectraModel`/`AlbertModel` drops its heads:
            that needs `strict=False`.
        strict: unused tensors are an error; with False they are logged.

    Returns:
        An `ElectraDiscriminator`, `ElectraGenerator`, `AlbertPretrainer` or
        `Encoder` with the checkpoint's weights.

    Example:
        model = from_huggingface("checkpoints/electra-small-discriminator")
    """
    folder = Path(path)
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"{folder}: no config.json (is this a transformers checkpoint folder?)")
    hf_config = json.loads(config_file.read_text())
    config = config_from_huggingface(hf_config, source=str(config_file))
    tensors = read_tensors(folder)
    architecture = (
        architecture
        or (hf_config.get("architectures") or [None])[0]
        or _infer_architecture(hf_config.get("model_type"), tensors)
    )
    if architecture not in _ARCHITECTURES:
        raise ValueError(
            f"{config_file}: architecture {architecture!r} is not supported; "
            f"supported: {sorted(_ARCHITECTURES)} (pass architecture=...)"
        )
    family, model_class = _ARCHITECTURES[architecture]
    if config.family != family:
        raise ValueError(f"{config_file}: {architecture} needs model_type {family!r}, got {config.family!r}")
    prefix = _detect_prefix(tensors, family, bare=model_class is Encoder)
    model = model_class(config)
    rows = rows_for(model, prefix)
    _check_tied(tensors, prefix, folder)
    unused = load_rows(
        rows,
        tensors,
        TRANSPOSE_KERNELS,
        source=str(folder),
        ignored=lambda name: name.endswith(_BUFFER_SUFFIXES) or name in _TIED,
        strict=strict,
    )
    if unused:
        logger.warning("%s: %d tensors not used: %s", folder, len(unused), ", ".join(unused))
    return model


def _infer_architecture(model_type: str | None, tensors) -> str | None:
    """For configs without `architectures`: the heads present tell the class."""
    has = lambda prefix: any(name.startswith(prefix) for name in tensors)  # noqa: E731
    if model_type == "electra":
        if has("discriminator_predictions."):
            return "ElectraForPreTraining"
        return "ElectraForMaskedLM" if has("generator_predictions.") else "ElectraModel"
    if model_type == "albert":
        return "AlbertForPreTraining" if has("sop_classifier.") else "AlbertModel"
    return "BertModel" if model_type == "bert" else None


def _check_tied(tensors, prefix: str, folder: Path) -> None:
    """A stored output layer must equal what we tie it to, or it would be lost."""
    for name, target in _TIED.items():
        if name not in tensors:
            continue
        source = f"{prefix}embeddings.word_embeddings.weight" if target == "word" else target
        if source in tensors and not np.array_equal(tensors[name], tensors[source]):
            raise CheckpointMismatchError(
                f"{folder}: {name} differs from {source}; electra_keras ties them, so "
                "an untied output layer cannot be loaded without losing it"
            )


# --- writing -----------------------------------------------------------------


def to_huggingface(model, path: str | Path) -> Path:
    """Writes a folder that transformers loads with `from_pretrained`.

    An `ElectraPretrainer` becomes two folders, `generator/` and
    `discriminator/`, as the released ELECTRA checkpoints are published.

    Returns:
        The folder written.
    """
    from safetensors.numpy import save_file

    folder = Path(path)
    if isinstance(model, ElectraPretrainer):
        to_huggingface(model.generator, folder / "generator")
        to_huggingface(model.discriminator, folder / "discriminator")
        return folder
    architecture = _architecture_of(model)
    tensors = collect_rows(rows_for(model), TRANSPOSE_KERNELS)
    hf_config = {**config_to_huggingface(model.config, architecture), **_task_settings(model)}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(hf_config, indent=2, sort_keys=True) + "\n")
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder


def write_tokenizer_files(vocabulary, folder: str | Path, lowercase: bool = True) -> Path:
    """Writes the tokenizer beside a transformers model, as its tokenizers read it.

    A WordPiece vocabulary becomes `vocab.txt` (BertTokenizer), a SentencePiece
    model `spiece.model` (AlbertTokenizer); `tokenizer_config.json` records
    the casing (`keep_accents` too for SentencePiece, which otherwise strips
    accents even when cased) and the tokenizer class.

    Args:
        vocabulary: anything `make_tokenizer` takes.
        folder: the model's folder.
        lowercase: the tokenizer's casing.
    """
    from electra_keras.data.sentencepiece import SentencePieceTokenizer
    from electra_keras.data.tokenizer import make_tokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = make_tokenizer(vocabulary, lowercase=lowercase)
    tokenizer.write_vocabulary_file(folder)
    # The class too: AutoTokenizer otherwise picks the model family's own
    # (AlbertTokenizer for an ALBERT encoder), whatever the vocabulary is.
    settings = {"do_lower_case": bool(lowercase), "tokenizer_class": "BertTokenizer"}
    if isinstance(tokenizer, SentencePieceTokenizer):
        settings.update(keep_accents=not lowercase, tokenizer_class="AlbertTokenizer")
    (folder / "tokenizer_config.json").write_text(json.dumps(settings, indent=2) + "\n")
    return folder


def _architecture_of(model) -> str:
    if isinstance(model, ElectraDiscriminator):
        return "ElectraForPreTraining"
    if isinstance(model, ElectraGenerator):
        return "ElectraForMaskedLM"
    if isinstance(model, AlbertPretrainer):
        return "AlbertForPreTraining"
    if isinstance(model, Encoder):
        return {"electra": "ElectraModel", "albert": "AlbertModel", "bert": "BertModel"}[
            model.config.family
        ]
    if _task_kind(model) is not None:
        return f"{model.config.family.capitalize()}For{_task_kind(model)}"
    raise TypeError(f"No transformers architecture for {type(model).__name__}")
