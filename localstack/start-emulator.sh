#!/usr/bin/env bash
# Starts a local AWS with the coffer table and the seal key (alias/coffer-seal) and prints the
# environment that points coffer at it:
# - with Docker: LocalStack (DynamoDB, KMS) from docker-compose.yml, whose init hook creates
#   the resources;
# - without Docker (CI, this project's machines): moto's server on 127.0.0.1 (moto.sh), with
#   the same resources made by the same script (create_resources.py).
#
#   eval "$(localstack/start-emulator.sh)"          # auto: LocalStack if Docker runs, else moto
#   COFFER_EMULATOR=moto eval "$(localstack/start-emulator.sh 5001)"   # moto on port 5001
#   kill "$(cat target/moto.pid)"                    # stop moto
#   docker compose -f localstack/docker-compose.yml down   # stop LocalStack
#
# Progress goes to stderr and the exports to stdout, so `eval` sets them in your shell:
# AWS_ENDPOINT_URL, AWS_REGION and static test credentials, COFFER_DYNAMODB_TABLE,
# COFFER_AWSKMS_KEY_ID and AWS_KMS_ENDPOINT (which the awskms seal reads).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
table="${COFFER_DYNAMODB_TABLE:-coffer}"
emulator="${COFFER_EMULATOR:-auto}"
if [ "$emulator" = auto ]; then
    if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
        emulator=localstack
    else
        emulator=moto
    fi
fi

case "$emulator" in
    moto)
        port="${1:-5000}"
        endpoint="http://127.0.0.1:${port}"
        COFFER_DYNAMODB_TABLE="$table" "$here/moto.sh" "$port" >&2
        ;;
    localstack)
        endpoint="http://127.0.0.1:4566"
        COFFER_DYNAMODB_TABLE="$table" docker compose -f "$here/docker-compose.yml" up -d --wait >&2
        # The init hook runs once LocalStack is ready; wait for its last step, the alias.
        for _ in $(seq 1 120); do
            docker compose -f "$here/docker-compose.yml" exec -T localstack \
                awslocal kms list-aliases 2>/dev/null | grep -q alias/coffer-seal && break
            sleep 1
        done
        echo "LocalStack on $endpoint, table $table" >&2
        ;;
    *)
        echo "COFFER_EMULATOR must be auto, moto or localstack, not $emulator" >&2
        exit 2
        ;;
esac

cat <<EXPORTS
export AWS_ENDPOINT_URL=$endpoint AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true
export COFFER_DYNAMODB_TABLE=$table COFFER_AWSKMS_KEY_ID=alias/coffer-seal AWS_KMS_ENDPOINT=$endpoint
EXPORTS
