"""Published checkpoints by hub id: a local Hugging Face cache filled with a
converted model, then loaded by id in a fresh process with HF_HUB_OFFLINE=1
(huggingface_hub reads that variable when it is imported), through the real
loader: `from_pretrained`, `from_preset(weights=True)` and the errors."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from electra_keras.config import ModelConfig, published_weights
from electra_keras.convert import to_huggingface
from electra_keras.convert.hub import is_hub_id
from electra_keras.convert.huggingface import write_tokenizer_files
from electra_keras.data import packages
from electra_keras.models import ElectraDiscriminator
from electra_keras.tasks.classifier import TextClassifier

TEXT = "a gripping, beautifully shot film"
COMMIT = "0123456789abcdef0123456789abcdef01234567"

CHILD = r"""
import json, sys
import numpy as np
from electra_keras.tasks.classifier import TextClassifier
out = {}
by_id = TextClassifier.from_pretrained("org/tiny-electra", num_classes=2)
out["by_id"] = np.asarray(by_id.backbone(by_id.tokenizer([sys.argv[1]]))["sequence_output"]).tolist()
out["lowercase"] = by_id.lowercase
preset = TextClassifier.from_preset("electra-small", weights=True, num_classes=2)
out["preset_hidden"] = preset.config.hidden_size
for name, call in (("unknown", lambda: TextClassifier.from_pretrained("org/no-such-model", num_classes=2)),
                   ("no_weights", lambda: TextClassifier.from_preset("electra-mini", weights=True, num_classes=2))):
    try:
        call()
        out[name] = "no error"
    except (FileNotFoundError, ValueError) as error:
        out[name] = f"{type(error).__name__}: {error}"
print("RESULT " + json.dumps(out))
"""


def cache_entry(cache, repo_id):
    """The folder huggingface_hub reads for `repo_id` at revision main."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    return snapshot


def test_ids_are_told_apart_from_paths(tmp_path):
    assert is_hub_id("google/electra-small-discriminator") and is_hub_id("albert/albert-base-v2")
    (tmp_path / "org").mkdir()
    (tmp_path / "org" / "model").mkdir()
    os.chdir(tmp_path)
    assert not is_hub_id("org/model")  # an existing folder wins
    assert not is_hub_id("runs/model.keras") and not is_hub_id("/abs/path") and not is_hub_id("three/part/path")
    assert published_weights("electra-small++", "generator") == "google/electra-small-generator"
    assert published_weights("tiny") is None


def test_a_cached_model_loads_by_id_offline(tmp_path):
    vocabulary = packages.bert_uncased_vocab()
    config = ModelConfig.from_preset("tiny", vocab_size=30522, max_position_embeddings=64)
    discriminator = ElectraDiscriminator(config)
    cache = tmp_path / "hub"
    for repo_id in ("org/tiny-electra", "google/electra-small-discriminator"):
        snapshot = cache_entry(cache, repo_id)
        to_huggingface(discriminator, snapshot)
        write_tokenizer_files(vocabulary, snapshot, lowercase=True)

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache), "HF_HOME": str(tmp_path / "home")}
    child = subprocess.run([sys.executable, "-c", CHILD, TEXT], capture_output=True, text=True, env=env,
                           timeout=300)
    assert child.returncode == 0, child.stderr[-3000:]
    out = json.loads(child.stdout.split("RESULT ", 1)[1])

    reference = TextClassifier.from_preset("tiny", vocabulary, num_classes=2, config_overrides={
        "max_position_embeddings": 64})
    expected = discriminator.encoder(reference.tokenizer([TEXT]))["sequence_output"]
    assert np.max(np.abs(np.asarray(out["by_id"]) - np.asarray(expected))) < 1e-5
    assert out["lowercase"] is True
    assert out["preset_hidden"] == config.hidden_size  # the cached "published" weights, not electra-small's 256
    assert out["unknown"].startswith("FileNotFoundError: org/no-such-model: not in the Hugging Face cache")
    assert "HF_HUB_OFFLINE=1" in out["unknown"] and "pass a local transformers folder" in out["unknown"]
    assert out["no_weights"].startswith("ValueError: electra-mini: no published weights")


def test_random_weights_are_said_in_the_log(caplog):
    with caplog.at_level("INFO", logger="electra_keras"):
        TextClassifier.from_preset("tiny", packages.bert_uncased_vocab(), num_classes=2,
                                   config_overrides={"max_position_embeddings": 64})
    assert "tiny: random weights (no published checkpoint)" in caplog.text
    with pytest.raises(ValueError, match="vocabulary: electra-small with random weights needs .* \\(or weights=True\\)"):
        TextClassifier.from_preset("electra-small", num_classes=2)
