# Two commands for a new user:
#   make demo   set up .venv, run storywire on seeds/ into output/, print the stories
#   make test   set up .venv with the test and gcp extras (Dataflow and Pub/Sub for the
#               stream tests), run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test install install-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,gcp]"

demo: install
	$(BIN)/storywire run --input seeds/ --output output/
	$(BIN)/storywire stories output/

test: install-test
	$(BIN)/ruff check pipeline transforms schemas tests benchmarks
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) output .pytest_cache
