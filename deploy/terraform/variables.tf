variable "project" {
  description = "Google Cloud project that runs the jobs."
  type        = string
}

variable "region" {
  description = "Region of the Dataflow jobs and the scheduler."
  type        = string
  default     = "us-central1"
}

variable "bucket" {
  description = "Bucket (without gs://) holding raw/, out/, tmp/ and templates/."
  type        = string
}

variable "input" {
  description = "What each scheduled run reads. Articles already in the output are skipped, so a fixed prefix is safe; a prefix per period keeps each run small."
  type        = string
  default     = ""
}

variable "schedule" {
  description = "Cron schedule of the runs (Cloud Scheduler syntax): hourly by default."
  type        = string
  default     = "0 * * * *"
}

variable "time_zone" {
  type    = string
  default = "Etc/UTC"
}

variable "image" {
  description = "The storywire image built by deploy/dataflow/build_and_run.sh (launcher and workers)."
  type        = string
}
