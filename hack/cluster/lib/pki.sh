# The cluster's certificates (ECDSA P-256, one CA, as kubeadm lays them out) and the
# kubeconfig of each client. Made once per `up` into $PKI; `down` removes them.

# cert NAME SUBJECT EXTENSIONS: a key and a certificate signed by the CA.
cert() {
  local name=$1 subj=$2 ext=$3
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/$name.key" 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  printf '%s\n' "$ext" >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
    -CAcreateserial -days 30 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null ||
    die "signing the $name certificate failed"
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

client_cert() { # NAME CN [O]
  local subj="/CN=$2"
  [ -z "${3:-}" ] || subj="/O=$3$subj"
  cert "$1" "$subj" "$(printf 'keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth')"
}

kubeconfig() { # NAME (its client certificate)
  local ca crt key
  ca=$(base64 -w0 <"$PKI/ca.crt"); crt=$(base64 -w0 <"$PKI/$1.crt"); key=$(base64 -w0 <"$PKI/$1.key")
  cat >"$PKI/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: dns-sidecar
  cluster:
    server: https://$NODE_IP:$API_PORT
    certificate-authority-data: $ca
users:
- name: $1
  user:
    client-certificate-data: $crt
    client-key-data: $key
contexts:
- name: dns-sidecar
  context: {cluster: dns-sidecar, user: $1}
current-context: dns-sidecar
EOF
}

make_pki() {
  command -v openssl >/dev/null || die "openssl not found (apt-get install openssl)"
  mkdir -p "$PKI" && chmod 700 "$PKI"
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=dns-sidecar-cluster-ca" -days 30 \
    -sha256 -out "$PKI/ca.crt" 2>/dev/null
  local d="DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
  cert apiserver "/CN=kube-apiserver" "$(printf '%s\n' 'keyUsage=critical,digitalSignature' \
    'extendedKeyUsage=serverAuth' \
    "subjectAltName=IP:$NODE_IP,IP:$API_SERVICE_IP,$d,$d.$CLUSTER_DOMAIN,DNS:localhost,IP:127.0.0.1")"
  cert kubelet-serving "/O=system:nodes/CN=system:node:$NODE_NAME" "$(printf '%s\n' \
    'keyUsage=critical,digitalSignature' 'extendedKeyUsage=serverAuth' \
    "subjectAltName=IP:$NODE_IP,DNS:$NODE_NAME")"
  client_cert admin kubernetes-admin system:masters
  client_cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
  client_cert controller-manager system:kube-controller-manager
  client_cert scheduler system:kube-scheduler
  client_cert kube-proxy system:kube-proxy
  client_cert kubelet "system:node:$NODE_NAME" system:nodes
  openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/sa.key" 2>/dev/null
  openssl ec -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  local k
  for k in admin controller-manager scheduler kube-proxy kubelet; do kubeconfig "$k"; done
}
