# A Cloud Scheduler job that launches storywire's Dataflow Flex Template on a schedule,
# with the service accounts and permissions it needs. The template spec
# (gs://BUCKET/templates/storywire.json) and image come from deploy/dataflow/build_and_run.sh.

terraform {
  required_version = ">= 1.5"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 5.0, < 7.0"
    }
  }
}

provider "google" {
  project = var.project
  region  = var.region
}

locals {
  input = var.input != "" ? var.input : "gs://${var.bucket}/raw/**"
}

resource "google_project_service" "apis" {
  for_each           = toset(["dataflow.googleapis.com", "cloudscheduler.googleapis.com", "artifactregistry.googleapis.com"])
  service            = each.value
  disable_on_destroy = false
}

# The Dataflow workers (and the template launcher) run as this account.
resource "google_service_account" "worker" {
  account_id   = "storywire-worker"
  display_name = "storywire Dataflow workers"
}

resource "google_project_iam_member" "worker_roles" {
  for_each = toset(["roles/dataflow.worker", "roles/artifactregistry.reader"])
  project  = var.project
  role     = each.value
  member   = "serviceAccount:${google_service_account.worker.email}"
}

resource "google_storage_bucket_iam_member" "worker_bucket" {
  bucket = var.bucket
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${google_service_account.worker.email}"
}

# Cloud Scheduler calls the Dataflow API as this account.
resource "google_service_account" "scheduler" {
  account_id   = "storywire-scheduler"
  display_name = "storywire scheduled launches"
}

resource "google_project_iam_member" "scheduler_launches" {
  project = var.project
  role    = "roles/dataflow.developer"
  member  = "serviceAccount:${google_service_account.scheduler.email}"
}

resource "google_service_account_iam_member" "scheduler_acts_as_worker" {
  service_account_id = google_service_account.worker.name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.scheduler.email}"
}

resource "google_storage_bucket_iam_member" "scheduler_reads_template" {
  bucket = var.bucket
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.scheduler.email}"
}

resource "google_cloud_scheduler_job" "storywire" {
  name      = "storywire-batch"
  schedule  = var.schedule
  time_zone = var.time_zone
  region    = var.region

  http_target {
    http_method = "POST"
    uri         = "https://dataflow.googleapis.com/v1b3/projects/${var.project}/locations/${var.region}/flexTemplates:launch"
    headers     = { "Content-Type" = "application/json" }
    body = base64encode(jsonencode({
      launchParameter = {
        jobName              = "storywire-scheduled"
        containerSpecGcsPath = "gs://${var.bucket}/templates/storywire.json"
        parameters = {
          input  = local.input
          output = "gs://${var.bucket}/out"
        }
        environment = {
          serviceAccountEmail = google_service_account.worker.email
          tempLocation        = "gs://${var.bucket}/tmp"
          sdkContainerImage   = var.image
        }
      }
    }))
    oauth_token {
      service_account_email = google_service_account.scheduler.email
    }
  }

  depends_on = [google_project_service.apis]
}
