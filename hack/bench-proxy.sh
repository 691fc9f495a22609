#!/usr/bin/env bash
# Benchmarks dns-sidecar-proxy side by side with dnsdist, unbound and dnsmasq, each set up as a
# caching forwarder (one thread, room for 10,000 names) to the same NSD upstream on loopback,
# measured in the same run with the same dnsperf settings. Prints a markdown table:
#   cache-hit queries/s, mean and p99 latency, CPU seconds per 100,000 cached answers,
#   RSS idle and with 10,000 names cached; then each figure as a ratio to the best peer.
# Then, as root, the autopath levels in network namespaces (upstream queries per cold lookup
# and per minute, cold lookup time with replicas 20 ms away; tests/src/bin/autopath_bench.rs).
# Usage: hack/bench-proxy.sh [seconds per throughput run, default 10] [rounds, default 3]
# Each figure is the median over the rounds; lost is the sum.
# Traffic stays on 127.0.0.1; every process started here is ended by its PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
ROUNDS=${2:-3}

source hack/lib.sh
ensure_packages dnsperf dnsdist unbound dnsmasq-base nsd bind9-dnsutils bc
cargo build --release --quiet -p dns-sidecar-proxy
BIN=$PWD/target/release/dns-sidecar-proxy

W=$(mktemp -d /tmp/dns-sidecar-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT INT TERM

NAMES=10000
HOT=1000
UP=25353
# The upstream: NSD with 10,000 Service-like names, TTL 1 h so nothing expires mid-run.
{
  echo '$ORIGIN cluster.local.'; echo '$TTL 3600'
  echo '@ IN SOA ns hostmaster 1 3600 600 86400 30'; echo '@ IN NS ns'; echo 'ns IN A 127.0.0.1'
  for ((i = 0; i < NAMES; i++)); do echo "svc$i.default.svc IN A 10.$((i / 65536 % 256)).$((i / 256 % 256)).$((i % 256))"; done
} > "$W/cluster.local.zone"
cat > "$W/nsd.conf" <<EOF
server:
  ip-address: 127.0.0.1@$UP
  port: $UP
  username: ""
  chroot: ""
  zonesdir: "$W"
  database: ""
  pidfile: "$W/nsd.pid"
  xfrdfile: "$W/xfrd.state"
  zonelistfile: "$W/zone.list"
  logfile: "$W/nsd.log"
  server-count: 1
remote-control:
  control-enable: no
zone:
  name: cluster.local
  zonefile: cluster.local.zone
EOF
nsd -d -c "$W/nsd.conf" >/dev/null 2>&1 & PIDS+=($!)
for ((i = 0; i < NAMES; i++)); do echo "svc$i.default.svc.cluster.local A"; done > "$W/all.txt"
head -n $HOT "$W/all.txt" > "$W/hot.txt"

wait_answer() { # port
  for _ in $(seq 100); do
    dig @127.0.0.1 -p "$1" +time=1 +tries=1 +short svc0.default.svc.cluster.local 2>/dev/null | grep -q . && return 0
    sleep 0.1
  done
  echo "nothing answers on port $1" >&2; return 1
}
wait_answer $UP

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

start_server() { # name port -> sets SPID
  local name=$1 port=$2
  case $name in
    dns-sidecar)
      "$BIN" --listen 127.0.0.1:$port --upstream 127.0.0.1:$UP --admin 127.0.0.1:$((port + 1000)) \
        --cache-size 10000 --log-level warn & ;;
    dnsdist)
      cat > "$W/dnsdist.conf" <<EOF
setSecurityPollSuffix("")
setLocal("127.0.0.1:$port")
setACL({"127.0.0.0/8"})
newServer({address="127.0.0.1:$UP", checkName="svc0.default.svc.cluster.local."})
pc = newPacketCache(10000, {maxTTL=86400, minTTL=0})
getPool(""):setCache(pc)
EOF
      dnsdist --supervised --disable-syslog -C "$W/dnsdist.conf" >/dev/null 2>&1 & ;;
    unbound)
      cat > "$W/unbound.conf" <<EOF
server:
  interface: 127.0.0.1
  port: $port
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "$W"
  pidfile: "$W/unbound.pid"
  use-syslog: no
  verbosity: 0
  num-threads: 1
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  do-not-query-localhost: no
  local-zone: "local." nodefault
remote-control:
  control-enable: no
forward-zone:
  name: "."
  forward-addr: 127.0.0.1@$UP
EOF
      unbound -d -c "$W/unbound.conf" >/dev/null 2>&1 & ;;
    dnsmasq)
      dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll --pid-file= --user=root \
        --server=127.0.0.1#$UP --listen-address=127.0.0.1 --bind-interfaces --port=$port \
        --cache-size=10000 --log-facility=- >/dev/null 2>&1 & ;;
  esac
  SPID=$!
  PIDS+=($SPID)
}

# All four run side by side on their own ports, so the measurements can interleave: each
# round measures every server once, in a rotated order, and the table gives the median over
# ROUNDS rounds. One server measured first (or during a noisy moment) no longer decides a row.
NAMES_ALL=(dns-sidecar dnsdist unbound dnsmasq)
declare -A PORT PID IDLE FULL
port=25400
for name in "${NAMES_ALL[@]}"; do
  port=$((port + 10))
  PORT[$name]=$port
  start_server "$name" "$port"
  PID[$name]=$SPID
  wait_answer "$port"
done
sleep 1
for name in "${NAMES_ALL[@]}"; do IDLE[$name]=$(rss_kib "${PID[$name]}"); done
for name in "${NAMES_ALL[@]}"; do
  # Fill the cache with every name once, then measure RSS.
  dnsperf -s 127.0.0.1 -p "${PORT[$name]}" -d "$W/all.txt" -n 1 -c 1 -q 50 >/dev/null 2>&1
  sleep 0.5
  FULL[$name]=$(rss_kib "${PID[$name]}")
  dnsperf -s 127.0.0.1 -p "${PORT[$name]}" -d "$W/hot.txt" -l 2 -c 4 -q 200 >/dev/null 2>&1   # warm
done

measure() { # name round -> appends "qps mean p99 cpu100k lost" to $W/name.rounds
  local name=$1 port=${PORT[$1]} spid=${PID[$1]} c0 c1 qps done_q lost cpu100k mean p99
  # Throughput of cache hits: the hot names, already cached, as fast as the server answers.
  c0=$(cpu_ticks "$spid")
  dnsperf -s 127.0.0.1 -p "$port" -d "$W/hot.txt" -l "$SECS" -c 4 -q 200 > "$W/$name.perf" 2>&1
  c1=$(cpu_ticks "$spid")
  qps=$(awk '/Queries per second/ {print $4}' "$W/$name.perf")
  done_q=$(awk '/Queries completed/ {print $3}' "$W/$name.perf")
  lost=$(awk '/Queries lost/ {print $3}' "$W/$name.perf")
  cpu100k=$(awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v n="$done_q" 'BEGIN {printf "%.3f", t / hz / n * 100000}')
  # Latency at a fixed moderate rate (every query logged): mean and p99.
  dnsperf -s 127.0.0.1 -p "$port" -d "$W/hot.txt" -l 3 -Q 10000 -v 2>/dev/null | awk '/^> / {print $NF}' | sort -g > "$W/$name.lat"
  read -r mean p99 < <(awk '{a[NR] = $1; s += $1} END {i = int(NR * 0.99); if (i < 1) i = 1; printf "%.1f %.1f\n", s / NR * 1e6, a[i] * 1e6}' "$W/$name.lat")
  echo "$qps $mean $p99 $cpu100k $lost" >> "$W/$name.rounds"
}

for ((r = 0; r < ROUNDS; r++)); do
  for ((k = 0; k < ${#NAMES_ALL[@]}; k++)); do
    measure "${NAMES_ALL[$(((k + r) % ${#NAMES_ALL[@]}))]}"
  done
  echo "round $((r + 1))/$ROUNDS done" >&2
done

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
ROWS=()
for name in "${NAMES_ALL[@]}"; do
  f="$W/$name.rounds"
  ROWS+=("$name $(cut -d' ' -f1 "$f" | median) $(cut -d' ' -f2 "$f" | median) $(cut -d' ' -f3 "$f" | median) $(cut -d' ' -f4 "$f" | median) ${IDLE[$name]} ${FULL[$name]} $(cut -d' ' -f5 "$f" | awk '{s += $1} END {print s}')")
done

echo
echo "| server (median of $ROUNDS rounds) | cache-hit q/s | mean µs (at 10k q/s) | p99 µs (at 10k q/s) | CPU s per 100k hits | RSS idle MiB | RSS 10k names MiB | lost |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for r in "${ROWS[@]}"; do
  read -r n q m p c i f l <<< "$r"
  printf "| %s | %.0f | %s | %s | %s | %.1f | %.1f | %s |\n" "$n" "$q" "$m" "$p" "$c" "$(echo "$i / 1024" | bc -l)" "$(echo "$f / 1024" | bc -l)" "$l"
done
echo
echo "Per round (q/s, mean µs), to judge the spread:"
for name in "${NAMES_ALL[@]}"; do
  printf '  %-12s %s\n' "$name" "$(awk '{printf "%.0f/%s  ", $1, $2}' "$W/$name.rounds")"
done
echo
# Ratios: dns-sidecar against the best peer for each figure (>1 is better for q/s, <1 for the rest).
printf '%s\n' "${ROWS[@]}" | awk '
  NR == 1 { q = $2; m = $3; p = $4; c = $5; i = $6; f = $7; next }
  { if ($2 > bq) bq = $2; if (!bm || $3 < bm) bm = $3; if (!bp || $4 < bp) bp = $4;
    if (!bc || $5 < bc) bc = $5; if (!bi || $6 < bi) bi = $6; if (!bf || $7 < bf) bf = $7 }
  END {
    printf "dns-sidecar vs best peer: q/s x%.2f, mean latency x%.2f, p99 x%.2f, CPU/answer x%.2f, RSS idle x%.2f, RSS 10k x%.2f\n",
      q / bq, m / bm, p / bp, c / bc, i / bi, f / bf
    printf "dns-sidecar RSS: idle %.1f MiB (target <= 4), 10k names %.1f MiB (target <= 12)\n", i / 1024, f / 1024
  }'

echo
if [ "$(id -u)" -eq 0 ]; then
  ensure_packages iproute2 nftables curl
  cargo build --release --quiet -p dns-sidecar-tests --bin autopath_bench
  DNS_SIDECAR_PROXY_BIN=$BIN target/release/autopath_bench
else
  echo "Autopath figures NOT MEASURED: they need root for network namespaces (run this script as root)."
fi
