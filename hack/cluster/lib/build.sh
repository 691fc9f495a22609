# `cluster.sh build`: the cluster's binaries from the Go module proxy, each in a module of its
# own under hack/cluster/go/ (go.mod and go.sum pin every version; `go install pkg@v` is
# refused for these modules because their go.mod files carry replace directives), into
# $CACHE/<component>-<version>/bin. A component whose binaries are all there is skipped.

# go_build COMPONENT VERSION MODULE-DIR LDFLAGS NAME=PACKAGE...
go_build() {
  local comp=$1 version=$2 dir=$3 ldflags=$4 out pair missing=0; shift 4
  out=$(bin_dir "$comp" "$version")
  for pair in "$@"; do [ -x "$out/${pair%%=*}" ] || missing=1; done
  if ((missing == 0)); then say "$comp $version: built already ($out)"; return 0; fi
  say "building $comp $version"
  mkdir -p "$out.tmp"
  for pair in "$@"; do
    (cd "$CONF/go/$dir" && CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -p 2 -trimpath \
      -tags selinux,notest -ldflags "-s -w $ldflags" -o "$out.tmp/${pair%%=*}" "${pair#*=}") ||
      die "building ${pair#*=} failed (module hack/cluster/go/$dir)"
  done
  rm -rf "$out" && mv "$out.tmp" "$out"
}

# The version strings the release's own build stamps (kubernetes' hack/lib/version.sh).
k8s_ldflags() {
  local minor p f=""
  minor=$(echo "$K8S_VERSION" | cut -d. -f2)
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    f+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    f+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$f"
}

# The pause image's binary: upstream's own build/pause/linux/pause.c, from the module cache.
build_pause() {
  local out src
  out=$(bin_dir kubernetes "$K8S_VERSION")
  [ -x "$out/pause" ] && return 0
  src=$(cd "$CONF/go/kubernetes" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)/build/pause/linux/pause.c
  [ -f "$src" ] || die "pause.c not found in the k8s.io/kubernetes module ($src)"
  gcc -Os -static -Wall -DVERSION="$K8S_VERSION" -o "$out/pause" "$src" || die "building pause failed (needs gcc, libc6-dev)"
  strip "$out/pause"
}

build_all() {
  command -v go >/dev/null || die "go not found: install Go 1.26 (the module proxy must be reachable)"
  local c k8s=()
  for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
    k8s+=("$c=k8s.io/kubernetes/cmd/$c")
  done
  go_build kubernetes "$K8S_VERSION" kubernetes "$(k8s_ldflags)" "${k8s[@]}"
  build_pause
  go_build etcd "$ETCD_VERSION" etcd \
    "-X go.etcd.io/etcd/api/v3/version.GitSHA=${ETCD_VERSION}" etcd=go.etcd.io/etcd/server/v3
  go_build coredns "$COREDNS_VERSION" coredns \
    "-X github.com/coredns/coredns/coremain.GitCommit=${COREDNS_VERSION}" coredns=github.com/coredns/coredns
  go_build crictl "$CRICTL_VERSION" crictl \
    "-X sigs.k8s.io/cri-tools/pkg/version.Version=${CRICTL_VERSION}" crictl=sigs.k8s.io/cri-tools/cmd/crictl
  go_build node-cache "$NODE_CACHE_VERSION" node-cache \
    "-X k8s.io/dns/pkg/version.VERSION=$NODE_CACHE_VERSION" node-cache=k8s.io/dns/cmd/node-cache
  go_build helm "$HELM_VERSION" helm \
    "-X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" helm=helm.sh/helm/v4/cmd/helm
  "$K8S_BIN/kube-apiserver" --version
  "$ETCD_BIN/etcd" --version | sed -n 1p
  "$COREDNS_BIN/coredns" -version | sed -n 1p
  "$CRICTL_BIN/crictl" --version
  "$HELM_BIN/helm" version --short
}
