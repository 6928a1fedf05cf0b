"""Airflow (Cloud Composer) DAG: storywire's Dataflow Flex Template, once an hour, over the
files that landed in that hour's prefix.

Copy this file to the environment's dags/ folder and set the Airflow variables
`storywire_project`, `storywire_region`, `storywire_bucket` and `storywire_image` (see
deploy/README.md). Each run reads gs://BUCKET/raw/YYYY/MM/DD/HH/ for its data interval and
adds its articles to gs://BUCKET/out; a rerun of an interval adds nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow import DAG
from airflow.providers.google.cloud.operators.dataflow import (
    DataflowStartFlexTemplateOperator,
)

PROJECT = "{{ var.value.storywire_project }}"
REGION = "{{ var.value.storywire_region }}"
BUCKET = "{{ var.value.storywire_bucket }}"
IMAGE = "{{ var.value.storywire_image }}"

with DAG(
    dag_id="storywire_hourly",
    description="storywire batch run over the last hour's raw articles",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    # One run at a time writes to the output: the next waits for this one.
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["storywire"],
) as dag:
    DataflowStartFlexTemplateOperator(
        task_id="storywire_run",
        project_id=PROJECT,
        location=REGION,
        wait_until_finished=True,
        body={
            "launchParameter": {
                "jobName": "storywire-{{ data_interval_start.strftime('%Y%m%d-%H') }}",
                "containerSpecGcsPath": f"gs://{BUCKET}/templates/storywire.json",
                "parameters": {
                    "input": f"gs://{BUCKET}/raw/"
                             "{{ data_interval_start.strftime('%Y/%m/%d/%H') }}/**",
                    "output": f"gs://{BUCKET}/out",
                },
                "environment": {
                    "serviceAccountEmail": f"storywire-worker@{PROJECT}.iam.gserviceaccount.com",
                    "tempLocation": f"gs://{BUCKET}/tmp",
                    "sdkContainerImage": IMAGE,
                },
            }
        },
    )
