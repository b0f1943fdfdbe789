"""TF Serving's model config: one server, every exported model.

`write_models_config("saved_models")` lists each folder of `saved_models/`
that holds numeric SavedModel versions, as TF Serving's text-format
`ModelServerConfig`, with base paths as the server sees them (`/models/NAME`
when `saved_models/` is mounted at `/models`). An existing `models.config`
is never rewritten: entries for models it lacks are added at the end of its
`model_config_list`, and everything else in it (other models, version
policies, labels, comments) stays byte for byte.

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
    """Writes `saved_models/models.config` for every model exported there, or
    adds the missing ones to an existing file (the module docstring).

    Raises:
        ValueError: an existing file without a `model_config_list { ... }`
            (naming the file and what was expected).
    """
    path = Path(saved_models) / "models.config"
    names = served_models(saved_models)
    if not path.is_file():
        path.write_text(models_config(names, serving_root))
        return path
    text = path.read_text()
    listed = configured_names(text, path)
    missing = [name for name in names if name not in listed]
    if missing:
        entries = models_config(missing, serving_root)
        entries = entries[entries.index("{") + 2: entries.rindex("}")]  # the config { } blocks alone
        close = _list_block(text, path)[1]
        text = text[:close] + entries + text[close:]
        path.write_text(text)
    return path


def configured_names(text: str, source="models.config") -> list[str]:
    """The model names of a text-format `ModelServerConfig`'s `model_config_list`."""
    begin, end = _list_block(text, source)
    return re.findall(r'(?<![\w])name\s*:\s*"([^"]*)"', _without_comments(text[begin:end]))


def _without_comments(text: str) -> str:
    """`text` with `# ...` comments outside quoted strings blanked (lengths kept)."""
    out, quoted = [], False
    index = 0
    while index < len(text):
        char = text[index]
        if char == '"' and (index == 0 or text[index - 1] != "\\"):
            quoted = not quoted
        elif char == "#" and not quoted:
            end = text.find("\n", index)
            end = len(text) if end < 0 else end
            out.append(" " * (end - index))
            index = end
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _list_block(text: str, source) -> tuple[int, int]:
    """(just after the opening brace, the closing brace) of `model_config_list { ... }`."""
    clean = _without_comments(text)
    match = re.search(r"\bmodel_config_list\s*\{", clean)
    if match is None:
        raise ValueError(f"{source}: no `model_config_list {{ ... }}` found; expected TF Serving's text-format "
                         "ModelServerConfig (move the file away to have a new one written)")
    depth, quoted = 1, False
    for index in range(match.end(), len(clean)):
        char = clean[index]
        if char == '"' and clean[index - 1] != "\\":
            quoted = not quoted
        elif not quoted and char == "{":
            depth += 1
        elif not quoted and char == "}":
            depth -= 1
            if depth == 0:
                return match.end(), index
    line = text.count("\n", 0, match.start()) + 1
    raise ValueError(f"{source}:{line}: `model_config_list {{` is never closed")
