#!/usr/bin/env bash
# The Dockerfile's install steps without Docker: build the wheel, install it with the s3 extra into a fresh venv
# (as the image's runtime stage does), then start `imagegate serve` from it and ask /health. Run by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

python3 -m pip wheel -q --no-cache-dir --no-deps --wheel-dir "$work/wheels" .      # stage 1: RUN pip wheel ...
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --no-cache-dir "$(ls "$work"/wheels/imagegate-*.whl)[s3]"  # stage 2: RUN pip install
port="$("$work/venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
(cd "$work" && exec env -u IMAGEGATE_CONFIG IMAGEGATE_DATA_DIR="$work/data" IMAGEGATE_RUNTIME_TUNING=off \
  "$work/venv/bin/imagegate" serve --port "$port" >"$work/serve.log" 2>&1) &
pid=$!
for _ in $(seq 1 100); do
  if "$work/venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/health', timeout=1)" 2>/dev/null; then
    echo "image install steps: the wheel installs with [s3] and serves /health"
    exit 0
  fi
  sleep 0.2
done
cat "$work/serve.log"
echo "image install steps: the installed wheel did not serve /health" >&2
exit 1
