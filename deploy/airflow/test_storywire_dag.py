"""Airflow finds the DAG without import errors (run in an environment with Airflow and its
Google provider: `make test-airflow`)."""

from pathlib import Path

import pytest

airflow = pytest.importorskip("airflow")


def test_dag_imports_without_errors():
    from airflow.models import DagBag

    bag = DagBag(dag_folder=str(Path(__file__).parent), include_examples=False)
    assert bag.import_errors == {}
    dag = bag.dags["storywire_hourly"]  # as parsed (get_dag would ask the database)
    assert [t.task_id for t in dag.tasks] == ["storywire_run"]
    assert dag.max_active_runs == 1
