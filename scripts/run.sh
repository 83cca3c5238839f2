#!/usr/bin/env bash
# One command: install sharpeyes into .venv and run it on its embedded defaults (configs/demo.yaml:
# SQLite under var/, an in-process MQTT broker on 127.0.0.1:1884, the HTTP API on 127.0.0.1:8080),
# with a local signature-checking "police dispatch" receiver on 127.0.0.1:8099 so webhooks have a target.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${SHARPEYES_VENV:-.venv}"
PY="${PYTHON:-python3}"
CONFIG="${1:-configs/demo.yaml}"

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check -e . 2>&1 | grep -v "^WARNING: Location" || true

export SHARPEYES_ASSETS="${SHARPEYES_ASSETS:-$(cd .. && pwd)/shared/assets}"
# No default credentials: a fresh token and webhook secret unless you bring your own.
export SHARPEYES_ADMIN_TOKEN="${SHARPEYES_ADMIN_TOKEN:-$("$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(24))')}"
export DEMO_WEBHOOK_SECRET="${DEMO_WEBHOOK_SECRET:-whsec_$("$VENV/bin/python" -c 'import base64, secrets; print(base64.b64encode(secrets.token_bytes(24)).decode())')}"

"$VENV/bin/sharpeyes" check-config "$CONFIG"
"$VENV/bin/sharpeyes" receiver --port 8099 &
RECEIVER=$!
trap 'kill $RECEIVER 2>/dev/null || true' EXIT
cat <<MSG
sharpeyes demo
  API:        http://127.0.0.1:8080/api/incidents   (docs: http://127.0.0.1:8080/docs)
  API token:  export SHARPEYES_ADMIN_TOKEN=$SHARPEYES_ADMIN_TOKEN
  press:      $VENV/bin/sharpeyes press B-001
  Ctrl-C stops everything.
MSG
"$VENV/bin/sharpeyes" run -c "$CONFIG"
