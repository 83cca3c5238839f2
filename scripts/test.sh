#!/usr/bin/env bash
# One command: set up a fresh Debian machine for the tests and run them all (lint, layers, types, pytest).
# Installs the Debian packages the tests use (mosquitto, PostgreSQL, GStreamer RTSP server, Chromium),
# starts PostgreSQL if it is not running, builds .venv with every extra, then runs the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${SHARPEYES_VENV:-.venv}"
PY="${PYTHON:-python3}"

DEBS=(mosquitto postgresql ffmpeg
      nats-server  # JetStream for the distributed runtime's tests (tests/distributed start their own)
      gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 python3-gi gir1.2-gstreamer-1.0 gstreamer1.0-tools
      gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly
      gstreamer1.0-libav
      chromium  # the operator page's browser tests drive /usr/bin/chromium through Playwright
      fonts-noto-cjk)  # Chinese text in the screenshots (docs/screenshots) instead of empty boxes
missing=()
for pkg in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "== installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# PostgreSQL: use the one on 127.0.0.1:5432 (trust auth for the tests); start the cluster if it is down.
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "== starting PostgreSQL"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
export SHARPEYES_TEST_PG="${SHARPEYES_TEST_PG:-postgresql://postgres@127.0.0.1:5432/postgres}"
export SHARPEYES_ASSETS="${SHARPEYES_ASSETS:-$(cd .. && pwd)/shared/assets}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating $VENV"
  "$PY" -m venv "$VENV"
fi
echo "== installing sharpeyes with every extra"
"$VENV/bin/pip" install -q --disable-pip-version-check -e ".[test,ultralytics]" 2>&1 | grep -v "^WARNING: Location" || true
"$VENV/bin/python" -c "import sharpeyes, ultralytics, onnxruntime, playwright, ray, nats" >/dev/null

echo "== ruff"
"$VENV/bin/ruff" check .
echo "== import layers"
"$VENV/bin/lint-imports"
echo "== mypy (pydantic plugin; every source package, see pyproject.toml)"
"$VENV/bin/mypy"
echo "== module size (source packages: at most 400 lines a module)"
"$VENV/bin/python" scripts/check_module_size.py
echo "== dependency audit"
# Needs an online vulnerability database; without one it says NOT AUDITED loudly (never a silent pass).
# SHARPEYES_REQUIRE_AUDIT=1 (set it where the network allows) makes "could not audit" fail the run.
"$VENV/bin/python" scripts/audit.py
echo "== pytest"
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
