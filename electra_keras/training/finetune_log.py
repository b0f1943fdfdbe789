"""What a fine-tuning run leaves in its folder, as a pretraining run does.

- `metrics.jsonl`: one line per epoch (every training and dev metric, the
  seconds so far), and a progress line with the ETA after each epoch;
- `logs/`: TensorBoard;
- the best dev epoch (lowest `val_loss`) restored at the end, and recorded;
  with `patience`, training stops after that many epochs without a better one;
- `curves.png`: training and dev curves (when matplotlib is installed).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import keras

MONITOR = "val_loss"


class EpochLog(keras.callbacks.Callback):
    """Writes `metrics.jsonl` (one line per epoch) and prints the ETA."""

    def __init__(self, path: str | Path, epochs: int):
        super().__init__()
        self.path, self.epochs = Path(path), epochs
        self.records: list[dict] = []

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()
        self.path.write_text("")

    def on_epoch_end(self, epoch, logs=None):
        elapsed = time.perf_counter() - self.start
        record = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}, "seconds": round(elapsed, 1)}
        self.records.append(record)
        with open(self.path, "a") as out:
            out.write(json.dumps(record) + "\n")
        left = self.epochs - epoch - 1
        if left:
            eta = elapsed / (epoch + 1) * left
            print(f"epoch {epoch + 1}/{self.epochs} done in {_duration(elapsed)}; ETA {_duration(eta)}", flush=True)


class BestEpoch(keras.callbacks.Callback):
    """Keeps the weights of the epoch with the lowest `monitor` and restores them at the end.

    Args:
        monitor: a dev metric to minimize (`val_loss`); without it (no dev
            data) the last epoch's weights stay.
        patience: stop after this many epochs without a better one; None
            trains every epoch.
    """

    def __init__(self, monitor: str = MONITOR, patience: int | None = None):
        super().__init__()
        if patience is not None and patience < 1:
            raise ValueError(f"patience={patience}: expected at least 1 epoch (or None)")
        self.monitor, self.patience = monitor, patience
        self.best, self.best_epoch, self.best_weights, self.waited, self.stopped_epoch = math.inf, None, None, 0, None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        if value < self.best:
            self.best, self.best_epoch, self.waited = float(value), epoch + 1, 0
            self.best_weights = self.model.get_weights()
            return
        self.waited += 1
        if self.patience is not None and self.waited >= self.patience:
            self.model.stop_training = True
            self.stopped_epoch = epoch + 1

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)
            self.best_weights = None  # the memory

    def summary(self, epochs_run: int) -> dict:
        return {"selected_by": self.monitor, "best_epoch": self.best_epoch or epochs_run,
                "best_value": None if self.best_epoch is None else self.best, "epochs_run": epochs_run,
                "stopped_early": self.stopped_epoch is not None}


def plot_curves(records: list[dict], path: str | Path) -> Path | None:
    """Training and dev curves per epoch (loss, and every metric with a val_ twin); None without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        print("curves.png: not written (pip install matplotlib)")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [name for name in records[0] if name not in ("epoch", "seconds") and not name.startswith("val_")]
    figure, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.4), squeeze=False)
    epochs = [record["epoch"] for record in records]
    for axis, name in zip(axes[0], names):
        axis.plot(epochs, [record[name] for record in records], "o-", label="train")
        if f"val_{name}" in records[0]:
            axis.plot(epochs, [record[f"val_{name}"] for record in records], "o-", label="dev")
        axis.set_xlabel("epoch")
        axis.set_title(name)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return Path(path)


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"
