#!/usr/bin/env bash
# Build storywire's Dataflow Flex Template and launch it once.
#
#   deploy/dataflow/build_and_run.sh PROJECT REGION BUCKET [INPUT] [SERVICE_ACCOUNT]
#
# INPUT defaults to gs://BUCKET/raw/*.jsonl; the output is gs://BUCKET/out. Needs gcloud
# (logged in), docker, and the setup in deploy/README.md (bucket, Artifact Registry
# repository, service account). Run from anywhere; it works from the repository root.
set -euo pipefail

if [[ $# -lt 3 ]]; then
  sed -n '2,9p' "$0" >&2
  exit 2
fi
PROJECT=$1
REGION=$2
BUCKET=$3
INPUT=${4:-gs://$BUCKET/raw/*.jsonl}
SERVICE_ACCOUNT=${5:-storywire-worker@$PROJECT.iam.gserviceaccount.com}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TAG=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || date +%Y%m%d%H%M%S)
IMAGE=$REGION-docker.pkg.dev/$PROJECT/storywire/storywire:$TAG
TEMPLATE=gs://$BUCKET/templates/storywire.json

echo "building $IMAGE" >&2
gcloud auth configure-docker "$REGION-docker.pkg.dev" --quiet
docker build -f "$ROOT/deploy/dataflow/Dockerfile" -t "$IMAGE" "$ROOT"
docker push "$IMAGE"

echo "writing the template spec to $TEMPLATE" >&2
gcloud dataflow flex-template build "$TEMPLATE" \
  --project "$PROJECT" \
  --image "$IMAGE" \
  --sdk-language PYTHON \
  --metadata-file "$ROOT/deploy/dataflow/metadata.json"

echo "launching it on $INPUT" >&2
gcloud dataflow flex-template run "storywire-$(date -u +%Y%m%d-%H%M%S)" \
  --project "$PROJECT" \
  --region "$REGION" \
  --template-file-gcs-location "$TEMPLATE" \
  --service-account-email "$SERVICE_ACCOUNT" \
  --temp-location "gs://$BUCKET/tmp" \
  --additional-pipeline-options "sdk_container_image=$IMAGE" \
  --parameters "input=$INPUT,output=gs://$BUCKET/out"
