# Two commands for a new user:
#   make demo   set up .venv, run storywire on seeds/ into output/, print the stories
#   make test   set up .venv with the test and gcp extras (Dataflow and Pub/Sub for the
#               stream tests), run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test test-airflow install install-test clean

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
	$(BIN)/ruff check pipeline transforms schemas tests benchmarks deploy
	$(BIN)/python -m pytest -q

# The Airflow DAG in deploy/airflow, imported by Airflow with its Google provider: heavy,
# so in an environment of its own and not part of `make test`.
AIRFLOW_VENV ?= .venv-airflow
test-airflow:
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet "apache-airflow>=2.11,<2.12" \
		"apache-airflow-providers-google>=22.8,<23" \
		"apache-airflow-providers-apache-beam>=6.3,<7" "pytest>=8,<10"
	AIRFLOW_HOME=$$(mktemp -d) $(AIRFLOW_VENV)/bin/python -m pytest -q -p no:cacheprovider \
		deploy/airflow

clean:
	rm -rf $(VENV) $(AIRFLOW_VENV) output .pytest_cache
