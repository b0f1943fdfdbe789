"""Other implementations of the ELECTRA step, run in virtualenvs of their own.

A peer is a framework that cannot share our environment: tf-models-official
(the TF Model Garden) needs TensorFlow 2.20 and tf-keras (Keras 2), we run
TensorFlow 2.21 and Keras 3. So each peer gets

- a virtualenv under ~/.cache/electra_keras/peers/<name>, made once by
  `ensure_peer_venv` with pinned versions and reused afterwards (a marker
  file written after a successful install says it is complete; a venv
  without it, or with other pins, is made again);
- a script in benchmarks/peer_steps/ that runs inside that venv, imports nothing
  from electra_keras, and speaks a line protocol on stdin/stdout, driven
  here by `PeerProcess`:

      child:  {"ready": true, "parameters": n, ...}   once, after building and warming up
      parent: run N                                    run N steps
      child:  {"seconds": s, ...}                      once they are finished
      parent: quit
      child:  {"error": "..."}                          instead of any answer, then exits

Usage (`pretraining_throughput.py --peer tf-models` does this):

    python = ensure_peer_venv("tf-models")
    with PeerProcess(python, PEERS["tf-models"].script, [config_json, batches_npz]) as peer:
        print(peer.ready["parameters"], peer.run(3))
"""

from __future__ import annotations

import dataclasses
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PEER_SCRIPTS = Path(__file__).resolve().parent / "peer_steps"
DEFAULT_ROOT = Path.home() / ".cache" / "electra_keras" / "peers"
MARKER = "electra_keras_peer.json"


@dataclasses.dataclass(frozen=True)
class Peer:
    """What one peer's virtualenv holds and which script runs in it.

    Attributes:
        requirements: pip requirements installed with their dependencies.
        no_deps: installed after them with `--no-deps`: a package whose
            declared dependencies are far more than the code we run imports.
        import_check: Python code that must run in the finished venv.
        script: the peer's protocol script, in benchmarks/peer_steps/.
    """

    requirements: tuple[str, ...]
    no_deps: tuple[str, ...]
    import_check: str
    script: Path

    def pins(self) -> dict:
        return {"requirements": list(self.requirements), "no_deps": list(self.no_deps)}


PEERS = {
    # tf-models-official 2.20.0 requires tensorflow~=2.20.0; it also declares
    # opencv, pycocotools, kaggle, tensorflow-datasets, tensorflow-text and a
    # dozen more for vision and data pipelines. `official.nlp.modeling` and
    # `official.modeling.optimization` import only tf-keras, gin (layers are
    # gin-configurable), scipy (the Fourier mixing layer, imported by
    # layers/__init__) and PyYAML (the optimization configs), found by
    # importing in a bare venv.
    "tf-models": Peer(
        requirements=("tensorflow==2.20.0", "tf-keras==2.20.1", "gin-config==0.5.0", "scipy==1.17.1",
                      "PyYAML==6.0.4"),
        no_deps=("tf-models-official==2.20.0",),
        import_check="from official.nlp.modeling import models, networks; "
                     "from official.modeling.optimization import legacy_adamw, lr_schedule",
        script=PEER_SCRIPTS / "tf_models_electra.py",
    ),
}


class PeerError(RuntimeError):
    """A peer that could not be installed, started or run."""


# --- the virtualenv --------------------------------------------------------------


def _run_logged(command: list, log_file: Path, what: str) -> None:
    with open(log_file, "a") as out:
        out.write(f"\n$ {' '.join(map(str, command))}\n")
        out.flush()
        finished = subprocess.run([str(part) for part in command], stdout=out, stderr=subprocess.STDOUT)
    if finished.returncode != 0:
        raise PeerError(f"{what} failed (exit {finished.returncode}): {_last_line(log_file)}; full log: {log_file}")


def install_with_pip(directory: Path, peer: Peer, log: Callable[[str], None]) -> None:
    """`python -m venv directory`, then pip installs `peer`'s pins and runs its import check.

    The commands' output goes to directory/install.log (beside the folder,
    as <name>-install.log, when an install fails).
    """
    log_file = directory.parent / f"{directory.name}-install.log"
    log_file.write_text("")
    python = directory / "bin" / "python"
    steps = [
        ("creating the virtualenv", [sys.executable, "-m", "venv", directory]),
        (f"pip install {' '.join(peer.requirements)}",
         [python, "-m", "pip", "install", "--disable-pip-version-check", *peer.requirements]),
        (f"pip install --no-deps {' '.join(peer.no_deps)}",
         [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-deps", *peer.no_deps]),
        ("import check", [python, "-c", peer.import_check]),
    ]
    for what, command in steps:
        started = time.perf_counter()
        log(f"   peer venv: {what} ...")
        _run_logged(command, log_file, what)
        log(f"   peer venv: {what}: done in {time.perf_counter() - started:.0f} s")
    shutil.move(str(log_file), str(directory / "install.log"))


def ensure_peer_venv(
    name: str = "tf-models",
    root: str | Path = DEFAULT_ROOT,
    installer: Callable[[Path, Peer, Callable[[str], None]], None] = install_with_pip,
    log: Callable[[str], None] = print,
    peers: dict[str, Peer] = PEERS,
) -> Path:
    """The python executable of peer `name`'s virtualenv, made first if needed.

    The venv is root/name. It counts as made when its marker file holds
    the peer's current pins; otherwise (never made, an install that broke
    half way, pins changed since) the folder is removed and `installer`
    makes it again, and the marker is written only once that succeeded.

    Args:
        installer: installer(directory, peer, log) creates the venv in
            `directory` (which does not exist yet); the default uses venv
            and pip. Tests pass a fake.

    Raises:
        PeerError: an unknown name or a failed install.
    """
    if name not in peers:
        raise PeerError(f"unknown peer {name!r}; expected one of {', '.join(peers)}")
    peer = peers[name]
    directory = Path(root).expanduser() / name
    python = directory / "bin" / "python"
    marker = directory / MARKER
    try:
        if json.loads(marker.read_text()) == peer.pins() and python.exists():
            return python
    except (OSError, ValueError):
        pass
    if directory.exists():
        log(f"   peer {name}: {directory} is incomplete or has other pins; making it again")
        shutil.rmtree(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    log(f"   peer {name}: making its virtualenv in {directory} (once; reused afterwards)")
    started = time.perf_counter()
    installer(directory, peer, log)
    if not python.exists():
        raise PeerError(f"peer {name}: the installer left no {python}")
    marker.write_text(json.dumps(peer.pins()))
    log(f"   peer {name}: virtualenv ready in {time.perf_counter() - started:.0f} s")
    return python


# --- the protocol ------------------------------------------------------------------


def _last_line(path: Path) -> str:
    try:
        lines = [line.strip() for line in Path(path).read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


class PeerProcess:
    """A peer script running in its own python, driven over stdin/stdout.

    The child's stderr (framework logs) goes to a temporary file whose last
    line is quoted when the child fails.

    Args:
        python: the interpreter (from `ensure_peer_venv`).
        script: the peer's protocol script.
        arguments: its command-line arguments.
        ready_timeout: seconds to wait for the ready line (build + warm-up).
    """

    def __init__(self, python, script, arguments=(), ready_timeout: float = 1800.0, env: dict | None = None):
        self._closed = False
        self._stderr = tempfile.NamedTemporaryFile("w+", prefix="peer-", suffix=".log", delete=False)
        child_env = dict(os.environ if env is None else env)
        # The child is another project's environment: nothing of ours on its path.
        child_env.pop("PYTHONPATH", None)
        child_env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        self.process = subprocess.Popen(
            [str(python), str(script), *map(str, arguments)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            text=True, bufsize=1, env=child_env,
        )
        try:
            self.ready = self._receive(ready_timeout)
            if not self.ready.get("ready"):
                raise PeerError(f"{Path(script).name}: expected a ready line first, got {self.ready}")
        except BaseException:
            self.close()
            raise

    def _receive(self, timeout: float | None) -> dict:
        stdout = self.process.stdout
        # One request, one answer: nothing is left in the reader's buffer
        # between answers, so waiting on the pipe itself is safe.
        if timeout is not None and not select.select([stdout], [], [], timeout)[0]:
            raise PeerError(f"the peer sent nothing within {timeout:.0f} s; its log ends: {self.log_tail()}")
        line = stdout.readline()
        if not line:
            code = self.process.wait(timeout=30)
            raise PeerError(f"the peer exited (code {code}); its log ends: {self.log_tail()}")
        try:
            message = json.loads(line)
        except ValueError:
            raise PeerError(f"the peer sent a line that is not JSON: {line.strip()[:200]!r}") from None
        if "error" in message:
            raise PeerError(f"the peer failed: {message['error']}")
        return message

    def log_tail(self) -> str:
        self._stderr.flush()
        return _last_line(self._stderr.name)

    def request(self, line: str, timeout: float | None = None) -> dict:
        if self.process.poll() is not None:
            raise PeerError(f"the peer has exited (code {self.process.returncode}); its log ends: {self.log_tail()}")
        try:
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()
        except OSError as error:  # the child went away in between
            raise PeerError(f"the peer stopped reading ({error}); its log ends: {self.log_tail()}") from None
        return self._receive(timeout)

    def run(self, steps: int) -> float:
        """Seconds the peer took for `steps` steps, as the peer timed them (finished on its device)."""
        return float(self.request(f"run {steps}")["seconds"])

    def close(self):
        if self._closed:
            return
        self._closed = True
        if self.process.poll() is None:
            try:
                self.process.stdin.write("quit\n")
                self.process.stdin.flush()
                self.process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream:
                stream.close()
        self._stderr.close()
        os.unlink(self._stderr.name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
