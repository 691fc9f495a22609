#!/usr/bin/env bash
# Makes a CA and a serving certificate (ECDSA P-256) for the webhook Service, for clusters
# without cert-manager. With --apply it also stores them as the Secret the Deployment mounts
# and patches the CA into the MutatingWebhookConfiguration (needs kubectl and a cluster).
#
#   hack/gen-certs.sh [--out DIR] [--service NAME] [--namespace NS] [--days N]
#                     [--extra-dns NAME]... [--extra-ip IP]... [--apply]
#
# Files written to DIR: ca.crt ca.key tls.crt tls.key (tls.* is what --tls-cert/--tls-key read).
set -euo pipefail

out=./certs
svc=dns-sidecar-webhook
ns=dns-sidecar-system
days=365
apply=""
dns=()
ips=()
while (($#)); do
  case $1 in
    --out) out=$2; shift 2 ;;
    --service) svc=$2; shift 2 ;;
    --namespace) ns=$2; shift 2 ;;
    --days) days=$2; shift 2 ;;
    --extra-dns) dns+=("$2"); shift 2 ;;
    --extra-ip) ips+=("$2"); shift 2 ;;
    --apply) apply=1; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "gen-certs.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
command -v openssl >/dev/null || { echo "gen-certs.sh: openssl is not installed (apt-get install openssl)" >&2; exit 1; }

mkdir -p "$out"
umask 077
san="DNS:$svc,DNS:$svc.$ns,DNS:$svc.$ns.svc,DNS:$svc.$ns.svc.cluster.local"
for d in "${dns[@]}"; do san+=",DNS:$d"; done
for i in "${ips[@]}"; do san+=",IP:$i"; done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
  -keyout "$tmp/ca.key" -out "$tmp/ca.crt" -days 3650 -subj "/CN=$svc-ca" 2>/dev/null
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
  -keyout "$tmp/tls.key" -out "$tmp/tls.csr" -subj "/CN=$svc.$ns.svc" 2>/dev/null
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n' "$san" > "$tmp/ext"
openssl x509 -req -in "$tmp/tls.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" -CAcreateserial \
  -out "$tmp/tls.crt" -days "$days" -extfile "$tmp/ext" 2>/dev/null
# Key first, then certificate, each by rename: a reader never sees a half-written file.
for f in ca.key ca.crt tls.key tls.crt; do
  cp "$tmp/$f" "$out/.$f.new" && mv -f "$out/.$f.new" "$out/$f"
done
echo "wrote $out/{ca.crt,ca.key,tls.crt,tls.key} for $san" >&2

if [ -n "$apply" ]; then
  kubectl -n "$ns" create secret tls "$svc-tls" --cert="$out/tls.crt" --key="$out/tls.key" \
    --dry-run=client -o yaml | kubectl apply -f -
  bundle=$(base64 -w0 < "$out/ca.crt")
  kubectl patch mutatingwebhookconfiguration dns-sidecar --type=json \
    -p "[{\"op\":\"add\",\"path\":\"/webhooks/0/clientConfig/caBundle\",\"value\":\"$bundle\"}]"
fi
