"""TF Serving's model config: one server, every exported model.

`write_models_config("saved_models")` lists each folder of `saved_models/`
that holds numeric SavedModel versions, as TF Serving's text-format
`ModelServerConfig`, with base paths as the server sees them (`/models/NAME`
when `saved_models/` is mounted at `/models`):

    docker run -p 8500:8500 -p 8501:8501 -v $PWD/saved_models:/models \\
        tensorflow/serving --model_config_file=/models/models.config
"""

from __future__ import annotations

import os
import re
from pathlib import Path


def served_models(saved_models: str | os.PathLike) -> list[str]:
    """Names of the folders under `saved_models` with at least one SavedModel version."""
    root = Path(saved_models)
    names = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        versions = [v for v in folder.iterdir() if re.fullmatch(r"\d+", v.name) and (v / "saved_model.pb").is_file()]
        if versions:
            names.append(folder.name)
    return names


def models_config(names: list[str], serving_root: str = "/models") -> str:
    """The text of a `models.config` serving `names` from `serving_root/NAME`."""
    for name in names:
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", name):
            raise ValueError(f"model name {name!r}: use letters, digits, '_', '-' and '.' only")
    entries = "".join(
        f'  config {{\n    name: "{name}"\n    base_path: "{serving_root.rstrip("/")}/{name}"\n'
        f'    model_platform: "tensorflow"\n  }}\n'
        for name in names
    )
    return f"model_config_list {{\n{entries}}}\n"


def write_models_config(saved_models: str | os.PathLike, serving_root: str = "/models") -> Path:
    """Writes `saved_models/models.config` for every model exported there."""
    path = Path(saved_models) / "models.config"
    path.write_text(models_config(served_models(saved_models), serving_root))
    return path
