#!/usr/bin/env bash
# The no-Docker local AWS: moto's server on 127.0.0.1 (requests applied one at a time, see
# moto_server.py), then the coffer table and a KMS key created exactly as docker-compose.yml's
# init script does. Needs `scripts/setup` (it installs moto into .venv).
#
#   localstack/moto.sh [PORT]        # default 5000; stop it with: kill "$(cat target/moto.pid)"
#   export AWS_ENDPOINT_URL=http://127.0.0.1:PORT AWS_REGION=us-east-1 \
#          AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
port="${1:-5000}"
endpoint="http://127.0.0.1:${port}"
table="${COFFER_DYNAMODB_TABLE:-coffer}"
py="$repo/.venv/bin/python"
state="$repo/target"
mkdir -p "$state"
[ -x "$py" ] || { echo "run scripts/setup first (.venv with moto)" >&2; exit 1; }

"$py" "$repo/localstack/moto_server.py" -H 127.0.0.1 -p "$port" >"$state/moto.log" 2>&1 &
echo $! >"$state/moto.pid"
for _ in $(seq 1 100); do
    curl -fsS "$endpoint/moto-api/" >/dev/null 2>&1 && break
    sleep 0.1
done

AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 \
    "$py" "$repo/localstack/create_resources.py" "$endpoint" "$table"
echo "moto on $endpoint (pid $(cat "$state/moto.pid")), table $table"
