#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) with cargo fuzz (libFuzzer, AddressSanitizer)
# for SECONDS each (default 60), keeping what it finds in target/fuzz-corpus/<target>, seeded
# from fuzz/seeds/<target> (and, for admission, ../shared/fixtures/admission when there).
# A crash fails the run; its input is left in fuzz/artifacts/<target>/ to become a unit test.
#   hack/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(query response render admission)

# libFuzzer and the sanitizers need nightly rustc flags.
toolchain=nightly
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "== installing the nightly toolchain (rustup)" >&2
  rustup toolchain install nightly --profile minimal >/dev/null || {
    echo "hack/fuzz.sh: no nightly toolchain and rustup could not install one: cargo fuzz needs it" >&2
    exit 1
  }
fi
if ! command -v cargo-fuzz >/dev/null; then
  echo "== installing cargo-fuzz (crates.io)" >&2
  cargo install cargo-fuzz --locked --quiet
fi

echo "== building fuzz targets"
cargo "+$toolchain" fuzz build --fuzz-dir fuzz 2>&1 | grep -v '^\s*Compiling' || true
summary=()
for t in "${targets[@]}"; do
  corpus=target/fuzz-corpus/$t
  mkdir -p "$corpus"
  seeds=(fuzz/seeds/"$t")
  [ "$t" = admission ] && [ -d ../shared/fixtures/admission ] && seeds+=(../shared/fixtures/admission)
  max_len=4096
  [ "$t" = admission ] && max_len=16384
  echo "== fuzzing $t for ${secs}s"
  log=target/fuzz-$t.log
  if ! cargo "+$toolchain" fuzz run --fuzz-dir fuzz "$t" "$corpus" "${seeds[@]}" -- \
      -max_total_time="$secs" -max_len="$max_len" -rss_limit_mb=2048 -timeout=10 \
      -print_final_stats=1 >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "hack/fuzz.sh: $t failed; the input is in fuzz/artifacts/$t/" >&2
    exit 1
  fi
  runs=$(grep -o '^stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  summary+=("$(printf '%-10s %10s runs %8s/s  cov %5s  features %6s  corpus %5s' \
    "$t" "$runs" "$((runs / secs))" "$cov" "$ft" "$corp")")
done
echo "== fuzz summary (${secs}s each)"
printf '%s\n' "${summary[@]}"
