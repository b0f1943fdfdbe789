"""Pretraining recipes: named, tested sets of pretraining and fine-tuning options.

A recipe is data (`electra_keras/recipes.json`): the `PretrainingOptions` of
a run (model preset, corpus, vocabulary size, steps, learning rate, ...) and
the fine-tuning settings its encoder is measured with, per task. Flags given
on the command line (or keyword arguments here) override the recipe's values.

    electra-keras pretrain --recipe electra-cpu --out runs/cpu
    options, finetuning = recipe("electra-cpu", out="runs/cpu")
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

from electra_keras.training.pretrain import PretrainingOptions


def _load() -> dict[str, dict[str, Any]]:
    return json.loads(resources.files("electra_keras").joinpath("recipes.json").read_text())


RECIPES: dict[str, dict[str, Any]] = _load()


def recipe(name: str, **overrides: Any) -> tuple[PretrainingOptions, dict[str, dict[str, Any]]]:
    """The pretraining options and the per-task fine-tuning settings of a recipe.

    Args:
        name: a recipe name (see `RECIPES`).
        **overrides: `PretrainingOptions` fields that replace the recipe's
            (`out` is required, by the recipe or here).

    Returns:
        (options, {task: FinetuningOptions fields}).

    Example:
    >>> options, finetuning = recipe("tiny-quick", out="runs/quick")
    >>> options.preset, options.vocabulary_size, finetuning["sentiment"]["epochs"]
    ('tiny', 300, 1)
    """
    if name not in RECIPES:
        raise ValueError(f"Unknown recipe {name!r}; known recipes: {', '.join(sorted(RECIPES))}")
    entry = copy.deepcopy(RECIPES[name])
    values = {**entry["pretraining"], **overrides}
    if "config" in overrides and "config" in entry["pretraining"]:
        values["config"] = {**entry["pretraining"]["config"], **overrides["config"]}
    return PretrainingOptions(**values), entry["finetuning"]


def describe_recipes() -> str:
    width = max(map(len, RECIPES))
    return "\n".join(f"{name:{width}s} {RECIPES[name]['description']}" for name in sorted(RECIPES))
