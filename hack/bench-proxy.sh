#!/usr/bin/env bash
# Benchmarks the proxy that ships (the static musl binary in the image) side by side with
# dnsdist, unbound and dnsmasq, each set up as a caching forwarder (one thread, room for
# 10,000 names) to the same NSD upstream on loopback, measured in the same run with the same
# dnsperf settings. Every server runs pinned to one core (SERVER_CPU, default 1) and dnsperf
# and NSD to the other (CLIENT_CPU, default 0), so each server's own cost decides. In the same
# rounds hack/udp-limit.c, a one-thread UDP responder that sends every query straight back,
# measures the limit of the kernel path here. Prints a markdown table:
#   cache-hit queries/s (and as a fraction of the limit), mean and p99 latency, CPU seconds
#   per 100,000 cache hits and per 100,000 cache misses (each a new name, answered by NSD),
#   private memory (Anonymous in /proc/PID/smaps_rollup: what each pod adds; the binary's
#   pages are shared through the page cache) and RSS, idle and with 10,000 names cached;
#   then dns-sidecar against the best peer and against the targets of issue 11, and what
#   --debug-names (a row of its own, not a peer) costs it.
# Then, as root, the autopath levels in network namespaces (upstream queries per cold lookup
# and per minute, cold lookup time with replicas 20 ms away; tests/src/bin/autopath_bench.rs).
# Usage: hack/bench-proxy.sh [seconds per throughput run, default 10] [rounds, default 3]
#   MISSES=20000 (new names per miss run)  SERVER_CPU=1 CLIENT_CPU=0  AUTOPATH=0 (skip autopath)
# Each figure is the median over the rounds; lost is the sum.
# Traffic stays on 127.0.0.1; every process started here is ended by its PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
ROUNDS=${2:-3}

source hack/lib.sh
MISSES=${MISSES:-20000}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
ensure_packages dnsperf dnsdist unbound dnsmasq-base nsd bind9-dnsutils bc musl-tools gcc util-linux
# The binary the image ships: static, musl (hack/images.sh builds the same).
rustup target add x86_64-unknown-linux-musl >/dev/null
cargo build --release --quiet --target x86_64-unknown-linux-musl -p dns-sidecar-proxy
BIN=$PWD/target/x86_64-unknown-linux-musl/release/dns-sidecar-proxy
{ ldd "$BIN" 2>&1 || true; } | grep -qE 'not a dynamic|statically linked' || { echo "$BIN is not static" >&2; exit 1; }
# Arrays, not functions: `$!` of a backgrounded function is a subshell, not the server.
ON_SERVER=(taskset -c "$SERVER_CPU")
ON_CLIENT=(taskset -c "$CLIENT_CPU")

W=$(mktemp -d /tmp/dns-sidecar-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${BENCH_KEEP:-}" ] && echo "kept $W" >&2 || rm -rf "$W"
}
trap cleanup EXIT INT TERM PIPE HUP

NAMES=10000
HOT=1000
UP=25353
# The upstream: NSD with 10,000 Service-like names, TTL 1 h so nothing expires mid-run.
{
  echo '$ORIGIN cluster.local.'; echo '$TTL 3600'
  echo '@ IN SOA ns hostmaster 1 3600 600 86400 30'; echo '@ IN NS ns'; echo 'ns IN A 127.0.0.1'
  for ((i = 0; i < NAMES; i++)); do echo "svc$i.default.svc IN A 10.$((i / 65536 % 256)).$((i / 256 % 256)).$((i % 256))"; done
  # Every name under miss. exists: the miss runs ask each once, never cached before.
  echo '*.miss IN A 10.254.0.1'
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
  # NSD limits UDP answers per name to 200/s by default (RRL): every miss below is one
  # wildcard name to it, and CoreDNS has no such limit.
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: cluster.local
  zonefile: cluster.local.zone
EOF
"${ON_CLIENT[@]}" nsd -d -c "$W/nsd.conf" >/dev/null 2>&1 & PIDS+=($!)
for ((i = 0; i < NAMES; i++)); do echo "svc$i.default.svc.cluster.local A"; done > "$W/all.txt"
head -n $HOT "$W/all.txt" > "$W/hot.txt"

wait_answer() { # port
  for _ in $(seq 100); do
    { dig @127.0.0.1 -p "$1" +time=1 +tries=1 +short svc0.default.svc.cluster.local 2>/dev/null || true; } | grep -q . && return 0
    sleep 0.1
  done
  echo "nothing answers on port $1" >&2; return 1
}
wait_answer $UP

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# Private memory: anonymous pages (heap, stacks, the binary's written data), summed over
# every mapping; the binary's text and read-only data are file pages every pod shares.
anon_kib() { awk '/^Anonymous:/ {print $2}' "/proc/$1/smaps_rollup"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

start_server() { # name port -> sets SPID
  local name=$1 port=$2
  case $name in
    dns-sidecar)
      "${ON_SERVER[@]}" "$BIN" --listen 127.0.0.1:$port --upstream 127.0.0.1:$UP --admin 127.0.0.1:$((port + 1000)) \
        --cache-size 10000 --log-level warn & ;;
    dns-sidecar-names)
      # The same with query names kept for /debug/top: what --debug-names costs a query.
      "${ON_SERVER[@]}" "$BIN" --listen 127.0.0.1:$port --upstream 127.0.0.1:$UP --admin 127.0.0.1:$((port + 1000)) \
        --cache-size 10000 --log-level warn --debug-names=true & ;;
    dnsdist)
      cat > "$W/dnsdist.conf" <<EOF
setSecurityPollSuffix("")
setLocal("127.0.0.1:$port")
setACL({"127.0.0.0/8"})
newServer({address="127.0.0.1:$UP", checkName="svc0.default.svc.cluster.local."})
pc = newPacketCache(10000, {maxTTL=86400, minTTL=0})
getPool(""):setCache(pc)
EOF
      "${ON_SERVER[@]}" dnsdist --supervised --disable-syslog -C "$W/dnsdist.conf" >/dev/null 2>&1 & ;;
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
      "${ON_SERVER[@]}" unbound -d -c "$W/unbound.conf" >/dev/null 2>&1 & ;;
    limit)
      cc -O2 -o "$W/udp-limit" hack/udp-limit.c
      "${ON_SERVER[@]}" "$W/udp-limit" "$port" & ;;
    limit-mmsg)
      "${ON_SERVER[@]}" "$W/udp-limit" "$port" mmsg & ;;
    dnsmasq)
      "${ON_SERVER[@]}" dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll --pid-file= --user=root \
        --server=127.0.0.1#$UP --listen-address=127.0.0.1 --bind-interfaces --port=$port \
        --cache-size=10000 --log-facility=- >/dev/null 2>&1 & ;;
  esac
  SPID=$!
  PIDS+=($SPID)
}

# All run side by side on their own ports, so the measurements can interleave: each round
# measures every server once, in a rotated order, and the table gives the median over ROUNDS
# rounds. One server measured first (or during a noisy moment) no longer decides a row.
NAMES_ALL=(dns-sidecar dns-sidecar-names dnsdist unbound dnsmasq)
declare -A PORT PID IDLE FULL AIDLE AFULL
port=25400
for name in "${NAMES_ALL[@]}" limit limit-mmsg; do
  port=$((port + 10))
  PORT[$name]=$port
  start_server "$name" "$port"
  PID[$name]=$SPID
done
for name in "${NAMES_ALL[@]}"; do wait_answer "${PORT[$name]}"; done
sleep 1
for name in "${NAMES_ALL[@]}"; do
  IDLE[$name]=$(rss_kib "${PID[$name]}")
  AIDLE[$name]=$(anon_kib "${PID[$name]}")
done
for name in "${NAMES_ALL[@]}"; do
  # Fill the cache with every name once, then measure memory.
  "${ON_CLIENT[@]}" dnsperf -s 127.0.0.1 -p "${PORT[$name]}" -d "$W/all.txt" -n 1 -c 1 -q 50 >/dev/null 2>&1
  sleep 0.5
  FULL[$name]=$(rss_kib "${PID[$name]}")
  AFULL[$name]=$(anon_kib "${PID[$name]}")
done

# Answers per CPU-second: n answers for t clock ticks of the server's CPU time.
per_cpu_second() { awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v n="$2" 'BEGIN {printf "%.0f", (t > 0) ? n / (t / hz) : 0}'; }

# Cache hits as fast as dnsperf sends them from its one core (two threads: one sends while
# the other receives). Prints "q/s busy capacity lost": busy is the share of its core the
# server used, capacity the answers per CPU-second it spent (what it would serve with its
# core to itself: one core of dnsperf saturates at about the limit responder's rate here).
hits() { # name
  local port=${PORT[$1]} spid=${PID[$1]} c0 c1 t q s n l
  c0=$(cpu_ticks "$spid")
  "${ON_CLIENT[@]}" dnsperf -s 127.0.0.1 -p "$port" -d "$W/hot.txt" -l "$SECS" -c 8 -T 2 -q 500 > "$W/$1.perf" 2>&1
  c1=$(cpu_ticks "$spid")
  t=$((c1 - c0))
  read -r q s n l < <(awk '/Queries completed/ {n = $3} /Queries lost/ {l = $3} /Queries per second/ {q = $4} /Run time/ {s = $4}
    END {print q, s, n, l + 0}' "$W/$1.perf")
  echo "$(printf %.0f "$q") $(awk -v t="$t" -v hz="$(getconf CLK_TCK)" -v s="$s" 'BEGIN {printf "%.3f", t / hz / s}') $(per_cpu_second "$t" "$n") $l"
}

measure_limit() { # appends "q/s busy capacity lost" to $W/limit.rounds and limit-mmsg.rounds
  hits limit >> "$W/limit.rounds"
  hits limit-mmsg >> "$W/limit-mmsg.rounds"
}

measure() { # name round -> appends "qps busy capacity lost mean p99 miss100k" to $W/name.rounds
  local name=$1 round=$2 port=${PORT[$1]} spid=${PID[$1]} c0 c1 hit mean p99 miss100k
  # Make sure the hot names are cached (a miss run may have pushed them out).
  "${ON_CLIENT[@]}" dnsperf -s 127.0.0.1 -p "$port" -d "$W/hot.txt" -n 1 -c 1 -q 50 >/dev/null 2>&1
  hit=$(hits "$name")
  # Latency at a fixed moderate rate (every query logged): mean and p99.
  "${ON_CLIENT[@]}" dnsperf -s 127.0.0.1 -p "$port" -d "$W/hot.txt" -l 3 -Q 10000 -v 2>/dev/null | awk '/^> / {print $NF}' | sort -g > "$W/$name.lat"
  read -r mean p99 < <(awk '{a[NR] = $1; s += $1} END {i = int(NR * 0.99); if (i < 1) i = 1; printf "%.1f %.1f\n", s / NR * 1e6, a[i] * 1e6}' "$W/$name.lat")
  # Cache misses: MISSES names never asked before, each once, 50 outstanding at most.
  for ((i = 0; i < MISSES; i++)); do echo "m$i.r$round.$name.miss.cluster.local A"; done > "$W/miss.txt"
  c0=$(cpu_ticks "$spid")
  "${ON_CLIENT[@]}" dnsperf -s 127.0.0.1 -p "$port" -d "$W/miss.txt" -n 1 -c 4 -q 50 > "$W/$name.miss" 2>&1
  c1=$(cpu_ticks "$spid")
  miss100k=$(awk -v a="$(per_cpu_second $((c1 - c0)) "$(awk '/Queries completed/ {print $3}' "$W/$name.miss")")" 'BEGIN {printf "%.3f", (a > 0) ? 100000 / a : 0}')
  echo "$hit $mean $p99 $miss100k" >> "$W/$name.rounds"
}

for ((r = 0; r < ROUNDS; r++)); do
  measure_limit
  for ((k = 0; k < ${#NAMES_ALL[@]}; k++)); do
    measure "${NAMES_ALL[$(((k + r) % ${#NAMES_ALL[@]}))]}" "$r"
  done
  echo "round $((r + 1))/$ROUNDS done" >&2
done

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
col() { cut -d' ' -f"$2" "$W/$1.rounds" | median; }
LQ=$(col limit 1) LB=$(col limit 2) LC=$(col limit 3)
ROWS=()
for name in "${NAMES_ALL[@]}"; do
  ROWS+=("$name $(col "$name" 1) $(col "$name" 2) $(col "$name" 3) $(col "$name" 5) $(col "$name" 6) $(col "$name" 7) ${AIDLE[$name]} ${AFULL[$name]} ${IDLE[$name]} ${FULL[$name]} $(cut -d' ' -f4 "$W/$name.rounds" | awk '{s += $1} END {print s}')")
done

mib() { awk -v k="$1" 'BEGIN {printf "%.2f", k / 1024}'; }
echo
echo "Servers pinned to CPU $SERVER_CPU, dnsperf and NSD to CPU $CLIENT_CPU; median of $ROUNDS rounds of $SECS s; $MISSES misses per round."
echo "busy: the share of its core the server used while dnsperf sent as fast as it could; capacity: answers per CPU-second (= 100,000 / CPU s per 100k hits)."
echo
echo "| server | cache-hit q/s (pinned) | busy | capacity q/s | capacity of limit | mean µs (at 10k q/s) | p99 µs (at 10k q/s) | CPU s per 100k hits | CPU s per 100k misses | private MiB idle | private MiB 10k names | RSS MiB idle | RSS MiB 10k names | lost |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for r in "${ROWS[@]}"; do
  read -r n q b c m p mc ai af i f l <<< "$r"
  printf "| %s | %.0f | %.0f%% | %.0f | %.2f | %s | %s | %.3f | %s | %s | %s | %s | %s | %s |\n" "$n" "$q" "$(echo "$b * 100" | bc -l)" "$c" "$(echo "$c / $LC" | bc -l)" "$m" "$p" "$(echo "100000 / $c" | bc -l)" "$mc" "$(mib "$ai")" "$(mib "$af")" "$(mib "$i")" "$(mib "$f")" "$l"
done
printf "| udp-limit (hack/udp-limit.c) | %.0f | %.0f%% | %.0f | 1.00 | | | %.3f | | | | | | |\n" "$LQ" "$(echo "$LB * 100" | bc -l)" "$LC" "$(echo "100000 / $LC" | bc -l)"
MQ=$(col limit-mmsg 1) MB=$(col limit-mmsg 2) MC=$(col limit-mmsg 3)
printf "| udp-limit mmsg (32 per call) | %.0f | %.0f%% | %.0f | %.2f | | | %.3f | | | | | | |\n" "$MQ" "$(echo "$MB * 100" | bc -l)" "$MC" "$(echo "$MC / $LC" | bc -l)" "$(echo "100000 / $MC" | bc -l)"
echo
echo "Per round (q/s, busy, capacity, CPU s per 100k misses), to judge the spread:"
for name in "${NAMES_ALL[@]}" limit limit-mmsg; do
  printf '  %-12s %s\n' "$name" "$(awk '{printf "%.0f/%.2f/%.0f/%s  ", $1, $2, $3, $7}' "$W/$name.rounds")"
done
echo
# dns-sidecar against the best peer for each figure (>1 is better for q/s and capacity, <1
# for the rest), and against the targets of issue 11.
printf '%s\n' "${ROWS[@]}" | awk -v lq="$LQ" -v lc="$LC" '
  function verdict(ok) { return ok ? "met" : "NOT met" }
  NR == 1 { q = $2; c = $4; m = $5; p = $6; mc = $7; ai = $8; af = $9; next }
  $1 == "dns-sidecar-names" { nc = $4; nmc = $7; naf = $9; next }
  { if ($2 > bq) bq = $2; if ($4 > bc) bc = $4; if (!bm || $5 < bm) bm = $5; if (!bp || $6 < bp) bp = $6;
    if (!bmc || $7 < bmc) bmc = $7; if (!bai || $8 < bai) bai = $8; if (!baf || $9 < baf) baf = $9 }
  END {
    printf "dns-sidecar vs best peer: q/s x%.2f, capacity x%.2f, CPU/hit x%.2f, CPU/miss x%.2f, mean latency x%.2f, p99 x%.2f, private idle x%.2f, private 10k x%.2f\n",
      q / bq, c / bc, bc / c, mc / bmc, m / bm, p / bp, ai / bai, af / baf
    printf "targets: private idle %.2f MiB <= 0.5: %s; private with 10k names %.2f MiB <= 2.5: %s; CPU/100k hits x%.2f of best peer <= 0.8: %s\n",
      ai / 1024, verdict(ai <= 512), af / 1024, verdict(af <= 2560), bc / c, verdict(bc / c <= 0.8)
    printf "         throughput x%.2f of best peer >= 1.2: %s (pinned q/s x%.2f); x%.2f of the limit responder >= 0.8: %s (pinned q/s x%.2f)\n",
      c / bc, verdict(c >= 1.2 * bc), q / bq, c / lc, verdict(c >= 0.8 * lc), q / lq
    printf "--debug-names: CPU/hit x%.2f, CPU/miss x%.2f, private 10k x%.2f of dns-sidecar without it\n", c / nc, nmc / mc, naf / af
  }'

echo
if [ "${AUTOPATH:-1}" = 0 ]; then
  echo "Autopath figures skipped (AUTOPATH=0)."
elif [ "$(id -u)" -eq 0 ]; then
  ensure_packages iproute2 nftables curl
  cargo build --release --quiet -p dns-sidecar-tests --bin autopath_bench
  DNS_SIDECAR_PROXY_BIN=$BIN target/release/autopath_bench
else
  echo "Autopath figures NOT MEASURED: they need root for network namespaces (run this script as root)."
fi
