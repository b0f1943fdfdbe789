"""Published checkpoints by their Hugging Face hub id.

`load_pretrained("google/electra-small-discriminator")` (and so every
`from_pretrained` and the CLI's `--init`) downloads the transformers folder
through `huggingface_hub` into its usual cache (`HF_HUB_CACHE`, default
~/.cache/huggingface/hub), then converts it like a local folder. Only the
files a conversion reads are fetched: the config, the weights (safetensors
when the repository has them, else `pytorch_model.bin`) and the tokenizer
files. With `HF_HUB_OFFLINE=1`, or without a network, the cached copy is used.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

# What a conversion reads; the weights in a second pass only if no safetensors came.
METADATA_FILES = ["config.json", "vocab.txt", "spiece.model", "tokenizer_config.json"]
SAFETENSORS_FILES = ["model.safetensors", "model.safetensors.index.json", "model-*.safetensors"]
PYTORCH_FILES = ["pytorch_model.bin"]

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def is_hub_id(source) -> bool:
    """"owner/name" that is not a path on this machine.

    >>> is_hub_id("google/electra-small-discriminator"), is_hub_id("runs/small/model.keras")
    (True, False)
    """
    text = os.fspath(source)
    return bool(_HUB_ID.match(text)) and not Path(text).exists() and not text.endswith(".keras")


def hub_folder(repo_id: str, revision: str | None = None) -> Path:
    """The local folder of `repo_id`'s transformers files, downloaded if needed.

    Raises:
        ImportError: huggingface_hub is not installed.
        FileNotFoundError: unknown id, or offline without a cached copy; the
            message names the id and how to pass a local folder instead.
    """
    try:
        import huggingface_hub
        from huggingface_hub import snapshot_download
    except ImportError as error:
        raise ImportError(
            f"{repo_id}: loading a hub id needs huggingface_hub (pip install 'electra_keras[hub]'), "
            "or download the model elsewhere and pass its folder"
        ) from error
    errors = huggingface_hub.errors
    local = _local_hint(repo_id)
    try:
        folder = Path(snapshot_download(repo_id, revision=revision, allow_patterns=METADATA_FILES + SAFETENSORS_FILES))
        if not any(folder.glob("*.safetensors")) and not (folder / "model.safetensors.index.json").is_file():
            folder = Path(snapshot_download(repo_id, revision=revision, allow_patterns=PYTORCH_FILES))
    except (errors.RepositoryNotFoundError, errors.RevisionNotFoundError) as error:
        raise FileNotFoundError(f"{repo_id}: no such model on the Hugging Face hub ({type(error).__name__}). {local}") from error
    except (errors.LocalEntryNotFoundError, errors.OfflineModeIsEnabled, OSError) as error:
        offline = os.environ.get("HF_HUB_OFFLINE", "")
        raise FileNotFoundError(
            f"{repo_id}: not in the Hugging Face cache ({huggingface_hub.constants.HF_HUB_CACHE}) and the hub "
            f"could not be reached{' (HF_HUB_OFFLINE=' + offline + ')' if offline else ''}. {local}"
        ) from error
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{repo_id}: the hub copy has no config.json; not a transformers model. {local}")
    return folder


def _local_hint(repo_id: str) -> str:
    return (f"Where there is internet, `huggingface-cli download {repo_id}` fetches it; or pass a local "
            "transformers folder (config.json + weights + vocab.txt/spiece.model) instead of the id.")
