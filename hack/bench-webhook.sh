#!/usr/bin/env bash
# Benchmarks the webhook: admission latency (p50, p99) of 50 concurrent HTTPS clients
# POSTing a real AdmissionReview (../shared/fixtures/admission/plain.json, a pod that gets
# injected), with wrk, and the webhook's RSS idle and after the load.
# Usage: hack/bench-webhook.sh [seconds, default 10]
# Traffic stays on 127.0.0.1; the webhook started here is ended by its PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
FIXTURE=${FIXTURE:-../shared/fixtures/admission/plain.json}
[ -f "$FIXTURE" ] || { echo "no fixture at $FIXTURE (shared/ must sit beside the repository)" >&2; exit 1; }
source hack/lib.sh
ensure_packages wrk openssl curl bc
cargo build --release --quiet -p dns-sidecar-webhook
W=$(mktemp -d /tmp/dns-sidecar-bench-webhook.XXXXXX)
PID=""
trap '[ -z "$PID" ] || kill "$PID" 2>/dev/null; rm -rf "$W"' EXIT INT TERM
hack/gen-certs.sh --out "$W" --extra-ip 127.0.0.1 2>/dev/null
PORT=28443
target/release/dns-sidecar-webhook --listen 127.0.0.1:$PORT --tls-cert "$W/tls.crt" --tls-key "$W/tls.key" \
  --upstreams 10.96.0.11,10.96.0.12 --log-level error & PID=$!
for _ in $(seq 100); do curl -sk "https://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
sleep 0.5
idle=$(awk '/^VmRSS/ {print $2}' /proc/$PID/status)
cat > "$W/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$FIXTURE", "rb"); wrk.body = f:read("*a"); f:close()
LUA
wrk -t2 -c50 -d"${SECS}s" --latency -s "$W/post.lua" "https://127.0.0.1:$PORT/mutate?timeout=10s" > "$W/wrk.txt"
loaded=$(awk '/^VmRSS/ {print $2}' /proc/$PID/status)
injected=$(curl -sk "https://127.0.0.1:$PORT/metrics" | awk -F' ' '/admissions_total\{outcome="injected"/ {print $2}')
p50=$(awk '$1 == "50%" {print $2}' "$W/wrk.txt")
p99=$(awk '$1 == "99%" {print $2}' "$W/wrk.txt")
rps=$(awk '/Requests\/sec/ {print $2}' "$W/wrk.txt")
non2xx=$(awk '/Non-2xx/ {print $NF}' "$W/wrk.txt")
echo
echo "| clients | admissions/s | p50 | p99 | injected | non-2xx | RSS idle MiB | RSS after load MiB |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
printf "| 50 | %s | %s | %s | %s | %s | %.1f | %.1f |\n" "$rps" "$p50" "$p99" "$injected" "${non2xx:-0}" \
  "$(echo "$idle / 1024" | bc -l)" "$(echo "$loaded / 1024" | bc -l)"
echo "targets: p99 <= 5 ms, RSS <= 30 MiB"
