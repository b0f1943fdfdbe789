"""Finding the encoder, vocabulary and casing a fine-tuning run starts from.

`load_pretrained(source)` accepts every form a pretrained model takes here:

* a pretraining run folder (`runs/small`, written by `electra-keras pretrain`):
  its discriminator (or the masked-LM / ALBERT encoder), vocabulary and
  casing from `run.json`;
* a `.keras` file of any of our models (`runs/small/discriminator.keras`), or
  its path without the suffix (`runs/small/discriminator`);
* a transformers folder (`config.json` + weights + `vocab.txt`): ELECTRA,
  BERT or ALBERT, any head;
* an official TF1 checkpoint (a folder with a `checkpoint` file, or a prefix
  with an `.index` file), with its `vocab.txt` beside it.

For ELECTRA checkpoints with both networks, the discriminator's encoder is the
one fine-tuned, as in the paper.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from electra_keras.config import ModelConfig

# A tokenizer found beside a model: WordPiece, then SentencePiece (ALBERT's name).
VOCABULARY_FILES = ("vocab.txt", "spiece.model")


@dataclasses.dataclass
class Pretrained:
    """What a task model is built from.

    Args:
        encoder: the loaded `Encoder` (its weights are copied into the task).
        vocabulary: what `make_tokenizer` takes: a vocab.txt or spiece.model
            path, or the token list.
        lowercase: the vocabulary's casing.
        source: where it came from, for messages.
    """

    encoder: object
    vocabulary: str | list[str]
    lowercase: bool
    source: str

    @property
    def config(self) -> ModelConfig:
        return self.encoder.config


def encoder_of(model):
    """The encoder to fine-tune inside any of our models."""
    from electra_keras.encoder import Encoder

    if isinstance(model, Encoder):
        return model
    for attribute in ("backbone", "discriminator", "masked_lm", "encoder"):
        inner = getattr(model, attribute, None)
        if inner is not None:
            return encoder_of(inner)
    raise TypeError(f"{type(model).__name__} holds no encoder to fine-tune")


def load_pretrained(
    source: str | os.PathLike,
    vocabulary: str | list[str] | None = None,
    lowercase: bool | None = None,
) -> Pretrained:
    """Loads the encoder, vocabulary and casing of a pretrained model.

    Args:
        source: a run folder, a `.keras` file (suffix optional), a
            transformers folder, a Hugging Face hub id such as
            "google/electra-small-discriminator" (downloaded into the hub
            cache, see `convert.hub`) or an official TF1 checkpoint.
        vocabulary: overrides the vocab.txt found with the model.
        lowercase: overrides the casing found with the model (transformers'
            `tokenizer_config.json`, a run's `run.json`; else True).

    Raises:
        FileNotFoundError: nothing loadable at `source`, or no vocabulary found;
            the message lists where it looked.

    Example:
        pretrained = load_pretrained("runs/small")
        pretrained.encoder.config.hidden_size
    """
    import keras

    import electra_keras  # noqa: F401  (registers our classes for .keras loading)

    from electra_keras.convert.hub import hub_folder, is_hub_id

    # A hub id ("google/electra-small-discriminator"): its cached transformers folder.
    path = hub_folder(str(source)) if is_hub_id(source) else Path(source)
    searched: list[Path] = []
    run_file = None
    if path.is_dir() and (path / "run.json").is_file():
        run_file = path / "run.json"
        run = json.loads(run_file.read_text())
        from electra_keras.pretraining import FINE_TUNED_PART

        name = FINE_TUNED_PART[run.get("objective", "electra")]
        path = path / f"{name}.keras"
        if not path.is_file():
            raise FileNotFoundError(
                f"{source}: a pretraining run folder without {path.name}; "
                f"has the run finished (it writes the models at its end)?"
            )
    if path.suffix != ".keras" and not path.exists() and path.with_name(path.name + ".keras").is_file():
        path = path.with_name(path.name + ".keras")

    if path.suffix == ".keras":
        if not path.is_file():
            raise FileNotFoundError(f"{source}: no such .keras file")
        model = keras.saving.load_model(path)
        run_file = run_file or _find_run_file(path)
        candidates = [path.parent / "huggingface" / path.stem / name for name in VOCABULARY_FILES]
        candidates += [path.parent / name for name in VOCABULARY_FILES]
    elif path.is_dir() and (path / "config.json").is_file():
        from electra_keras.convert import from_huggingface

        model = from_huggingface(path)
        candidates = [path / name for name in VOCABULARY_FILES]
        if lowercase is None:
            lowercase = _huggingface_lowercase(path)
    elif (path.is_dir() and (path / "checkpoint").is_file()) or Path(f"{path}.index").is_file():
        from electra_keras.convert import from_official_tf1

        model = from_official_tf1(str(path))
        folder = path if path.is_dir() else path.parent
        candidates = [f / name for f in (folder, folder.parent) for name in VOCABULARY_FILES]
    else:
        raise FileNotFoundError(
            f"{source}: not a pretrained model. Expected a pretraining run folder "
            "(with run.json), a .keras file, a transformers folder (with config.json), a hub id (owner/name) "
            "or an official TF1 checkpoint (a folder with a `checkpoint` file, or a "
            "prefix with an .index file)"
        )

    run = json.loads(run_file.read_text()) if run_file else {}
    if vocabulary is None:
        searched += candidates
        found = next((c for c in candidates if c.is_file()), None)
        if found is None and run_file is not None:
            from electra_keras.data import packages

            found = run.get("vocabulary") or packages.bert_uncased_vocab()
        if found is None:
            raise FileNotFoundError(
                f"{source}: no vocab.txt or spiece.model found with the model (looked in "
                f"{', '.join(str(s) for s in searched)}); pass vocabulary=PATH"
            )
        vocabulary = str(found)
    if lowercase is None:
        lowercase = bool(run.get("lowercase", True))
    return Pretrained(encoder_of(model), vocabulary, lowercase, str(source))


def _find_run_file(model_file: Path) -> Path | None:
    candidate = model_file.parent / "run.json"
    return candidate if candidate.is_file() else None


def _huggingface_lowercase(folder: Path) -> bool | None:
    config = folder / "tokenizer_config.json"
    if not config.is_file():
        return None
    value = json.loads(config.read_text()).get("do_lower_case")
    return None if value is None else bool(value)
