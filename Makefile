# `make reproduce` and `make test` set everything up themselves (a .venv beside this file).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NOTEBOOKS ?= $(sort $(wildcard notebooks/*.ipynb))

.PHONY: reproduce test lint format normalize bench clean-checkpoints system-deps

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

## Execute every notebook in place, top to bottom, in a fresh kernel (profile: $$DL_PROFILE or auto).
reproduce: $(STAMP)
	$(PY) -m course.notebooks run $(NOTEBOOKS)

## Lint, then unit tests and smoke-profile notebook runs.
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .

## Strip volatile metadata from the notebooks (outputs are kept).
normalize: $(STAMP)
	$(PY) -m course.notebooks normalize $(NOTEBOOKS)

## Benchmarks: one script per chapter, results in benchmarks/results/*.json.
bench: $(STAMP)
	$(PY) -m benchmarks.rnn_sentiment
	$(PY) -m benchmarks.rnn_music
	$(PY) -m benchmarks.cnn_digits
	$(PY) -m benchmarks.vae_faces
	$(PY) -m pip install --quiet -r benchmarks/requirements-dqn_cartpole.txt
	$(PY) -m benchmarks.dqn_cartpole

## Chapter 2's audio tools (abc2midi, timidity, a 5 MB General MIDI soundfont), with apt.
## Optional: without them the notebook still runs, draws piano rolls and says how to install.
SYSTEM_PACKAGES := abcmidi timidity timgm6mb-soundfont
system-deps:
	@if command -v abc2midi >/dev/null && command -v timidity >/dev/null; then \
	  echo "abc2midi and timidity are installed"; \
	elif command -v apt-get >/dev/null; then \
	  SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && \
	  $$SUDO apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES); \
	else \
	  echo "Install abcmidi and timidity (plus a General MIDI soundfont) to hear chapter 2."; \
	fi
