#!/usr/bin/env bash
# Builds `kubectl dns-sidecar` (the binary kubectl-dns_sidecar, release) and puts it in DIR
# (default ~/.local/bin), where kubectl finds it on PATH: `kubectl plugin list` shows it.
# Usage: hack/install-plugin.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-$HOME/.local/bin}
command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
cargo build --quiet --release -p dns-sidecar-kubectl
mkdir -p "$dir"
install -m 0755 target/release/kubectl-dns_sidecar "$dir/kubectl-dns_sidecar"
echo "installed $dir/kubectl-dns_sidecar"
case ":$PATH:" in
  *":$dir:"*) ;;
  *) echo "note: $dir is not on PATH; add it for kubectl to find the plugin" >&2 ;;
esac
