# `make reproduce` and `make test` set everything up themselves (a .venv beside this file).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Every package, transitive ones included, at one version (Linux x86_64, Python 3.11): `make lock`.
LOCK := requirements-lock.txt
NOTEBOOKS ?= $(sort $(wildcard notebooks/*.ipynb))
# `make bench`'s own environment: the course plus the DQN reference's torch and SB3.
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed
BENCH_REQUIREMENTS := benchmarks/requirements-dqn_cartpole.txt
# torch alone comes from here, as the CPU build (see $(BENCH_REQUIREMENTS)).
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: reproduce test test-backends bench-backends lint format normalize bench lock clean-checkpoints \
  system-deps

$(STAMP): requirements.txt requirements-dev.txt $(LOCK) pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt -c $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

## Re-pin requirements-lock.txt after editing requirements*.txt (uv in a throwaway tool venv).
lock:
	test -x .venv-tools/bin/uv || ($(PYTHON) -m venv .venv-tools && \
	  .venv-tools/bin/pip install --quiet uv==0.13.9)
	.venv-tools/bin/uv pip compile --quiet requirements.txt requirements-dev.txt \
	  --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	  --custom-compile-command "make lock" -o $(LOCK)

## Execute every notebook in place, top to bottom, in a fresh kernel (profile: $$DL_PROFILE or auto);
## OUTPUT_DIR=dir writes the executed copies there instead (the smoke profile needs it).
reproduce: $(STAMP)
	$(PY) -m course.notebooks run $(NOTEBOOKS) $(if $(OUTPUT_DIR),--output-dir $(OUTPUT_DIR))

## Lint, then unit tests and smoke-profile notebook runs.
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest --junitxml=build/backends/tensorflow.xml

## The model tests and every notebook (smoke) again on each other Keras backend, each in its own
## environment (.venv-jax, .venv-torch), on the committed samples (DL_DATA_DIR unset: they test
## the code, not the data); BACKENDS="jax" runs one. Then the table of which
## chapters pass where (docs/backend_tests.json; with `make test` first, TensorFlow too).
BACKENDS ?= jax torch
test-backends: $(STAMP) $(foreach backend,$(BACKENDS),.venv-$(backend)/.installed)
	@set -e; for backend in $(BACKENDS); do \
	  echo "== KERAS_BACKEND=$$backend"; \
	  env -u DL_DATA_DIR KERAS_BACKEND=$$backend .venv-$$backend/bin/python -m pytest -m backends \
	    --junitxml=build/backends/$$backend.xml; \
	done
	$(PY) -m course.backend_tests $(wildcard build/backends/tensorflow.xml) \
	  $(foreach backend,$(BACKENDS),build/backends/$(backend).xml)

.venv-jax/.installed: requirements.txt requirements-dev.txt requirements-jax.txt $(LOCK) pyproject.toml
	test -x .venv-jax/bin/python || $(PYTHON) -m venv .venv-jax
	.venv-jax/bin/pip install --quiet --upgrade pip
	.venv-jax/bin/pip install --quiet -r requirements.txt -r requirements-dev.txt \
	  -r requirements-jax.txt -c $(LOCK)
	.venv-jax/bin/pip install --quiet --no-deps -e .
	touch $@

.venv-torch/.installed: requirements.txt requirements-dev.txt requirements-torch.txt $(LOCK) \
  pyproject.toml
	test -x .venv-torch/bin/python || $(PYTHON) -m venv .venv-torch
	.venv-torch/bin/pip install --quiet --upgrade pip
	.venv-torch/bin/pip install --quiet --retries 1 --no-deps --index-url $(TORCH_INDEX) \
	  "$$(grep '^torch==' requirements-torch.txt)"
	.venv-torch/bin/pip install --quiet -r requirements.txt -r requirements-dev.txt \
	  -r requirements-torch.txt -c $(LOCK)
	.venv-torch/bin/pip install --quiet --no-deps -e .
	touch $@

lint: $(STAMP)
	$(VENV)/bin/ruff check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .

## Strip volatile metadata from the notebooks (outputs are kept).
normalize: $(STAMP)
	$(PY) -m course.notebooks normalize $(NOTEBOOKS)

## Benchmarks: one script per chapter, results in benchmarks/results/*.json.
## The DQN reference needs torch and Stable-Baselines3: they go into .venv-bench, never .venv.
bench: $(STAMP) $(BENCH_STAMP)
	$(PY) -m benchmarks.rnn_sentiment
	$(PY) -m benchmarks.rnn_music
	$(PY) -m benchmarks.cnn_digits
	$(PY) -m benchmarks.vae_faces
	$(BENCH_VENV)/bin/python -m benchmarks.dqn_cartpole

## One training step per chapter on each backend (needs the venvs of `make test-backends`).
bench-backends: $(STAMP) $(foreach backend,jax torch,.venv-$(backend)/.installed)
	$(PY) -m benchmarks.backends

$(BENCH_STAMP): requirements.txt $(LOCK) $(BENCH_REQUIREMENTS) pyproject.toml
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/pip install --quiet --retries 1 --no-deps --index-url $(TORCH_INDEX) \
	  "$$(grep '^torch==' $(BENCH_REQUIREMENTS))"
	$(BENCH_VENV)/bin/pip install --quiet -r requirements.txt -r $(BENCH_REQUIREMENTS) -c $(LOCK)
	$(BENCH_VENV)/bin/pip install --quiet --no-deps -e .
	touch $(BENCH_STAMP)

## Chapter 2's music tools (abc2midi, abcm2ps for sheet music, timidity, a 5 MB General MIDI
## soundfont), with apt. Optional: without them the notebook still runs, draws piano rolls and
## says how to install.
SYSTEM_PACKAGES := abcmidi abcm2ps timidity timgm6mb-soundfont
system-deps:
	@if command -v abc2midi >/dev/null && command -v abcm2ps >/dev/null && \
	  command -v timidity >/dev/null; then \
	  echo "abc2midi, abcm2ps and timidity are installed"; \
	elif command -v apt-get >/dev/null; then \
	  SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && \
	  $$SUDO apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES); \
	else \
	  echo "Install abcmidi, abcm2ps and timidity (plus a General MIDI soundfont) for chapter 2."; \
	fi
