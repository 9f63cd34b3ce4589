#!/bin/bash
# LocalStack "ready" hook: create the coffer table and KMS alias (same script as moto.sh).
set -euo pipefail
AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 \
    python3 /etc/localstack/create_resources.py http://127.0.0.1:4566 "${COFFER_DYNAMODB_TABLE:-coffer}"
