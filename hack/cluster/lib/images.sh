# The images the cluster runs, built offline with podman FROM scratch (pause, CoreDNS,
# NodeLocal DNSCache, the test clients; the project's two by hack/images.sh) and imported
# into the node's containerd as `kind load image-archive` does.

PODMAN=(podman --runtime runc --cgroup-manager cgroupfs)
IMAGES=$STATE/images
COREDNS_IMAGE=localhost/coredns:$COREDNS_VERSION
NODE_CACHE_IMAGE=localhost/node-cache:${NODE_CACHE_VERSION##*-}
CLIENTS_IMAGE=localhost/dns-sidecar-clients:test

# libs_of ROOTFS FILE: copies every library FILE links into ROOTFS, at the same path.
libs_of() {
  local lib
  for lib in $(ldd "$2" 2>/dev/null | grep -o '/[^ ]*'); do
    mkdir -p "$1$(dirname "$lib")"
    cp -L "$lib" "$1$lib"
  done
}

# with_libs ROOTFS BINARY [NAME]: copies BINARY into ROOTFS with every library it links.
with_libs() {
  local root=$1 bin=$2 name=${3:-$(basename "$2")}
  mkdir -p "$(dirname "$root/$name")"
  cp -L "$bin" "$root/$name"
  libs_of "$root" "$bin"
}

# image TAG CONTAINERFILE CONTEXT: builds it with podman and saves it for containerd.
image() {
  local tag=$1 file=$2 ctx=$3 archive
  archive=$IMAGES/$(echo "${tag#localhost/}" | tr '/:' '__').tar
  "${PODMAN[@]}" build --quiet -f "$file" -t "$tag" "$ctx" >/dev/null || die "podman build $tag failed"
  rm -f "$archive"
  "${PODMAN[@]}" save --quiet --format docker-archive -o "$archive" "$tag" || die "podman save $tag failed"
  echo "$archive"
}

clients_rootfs() { # ROOT
  local root=$1 src=$REPO/tests/clients
  gcc -O2 -o "$root/../gai-glibc" "$src/gai.c" || die "building the glibc client failed (gcc)"
  with_libs "$root" "$root/../gai-glibc" gai-glibc
  command -v musl-gcc >/dev/null || die "musl-gcc not found (apt-get install musl-tools)"
  musl-gcc -static -O2 -o "$root/gai-musl" "$src/gai.c" || die "building the musl client failed"
  (cd "$src" && CGO_ENABLED=0 GOTOOLCHAIN=local go build -trimpath -o "$root/gai-go" gai.go) ||
    die "building the Go client failed"
  mkdir -p "$root/etc"
  printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
}

node_cache_rootfs() { # ROOT
  local root=$1 xt
  command -v xtables-nft-multi >/dev/null || die "iptables not found (apt-get install iptables)"
  with_libs "$root" "$NODE_CACHE_BIN/node-cache"
  with_libs "$root" "$(command -v xtables-nft-multi)" usr/sbin/xtables-nft-multi
  for xt in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
    ln -sf xtables-nft-multi "$root/usr/sbin/$xt"
  done
  mkdir -p "$root/usr/lib/x86_64-linux-gnu"
  cp -r /usr/lib/x86_64-linux-gnu/xtables "$root/usr/lib/x86_64-linux-gnu/"
  for xt in /usr/lib/x86_64-linux-gnu/xtables/*.so; do libs_of "$root" "$xt"; done
}

# build_images: every image the cluster needs, as archives in $IMAGES.
build_images() {
  command -v podman >/dev/null || die "podman not found (apt-get install podman runc)"
  mkdir -p "$IMAGES"
  local ctx
  ctx=$(mktemp -d /tmp/dns-sidecar-cluster-images.XXXXXX)
  mkdir -p "$ctx"/{pause,coredns,clients/rootfs,node-cache/rootfs}
  cp "$K8S_BIN/pause" "$ctx/pause/" && cp "$COREDNS_BIN/coredns" "$ctx/coredns/"
  clients_rootfs "$ctx/clients/rootfs"
  node_cache_rootfs "$ctx/node-cache/rootfs"
  image "localhost/pause:$K8S_VERSION" "$CONF/images/pause.Containerfile" "$ctx/pause" >/dev/null
  image "$COREDNS_IMAGE" "$CONF/images/coredns.Containerfile" "$ctx/coredns" >/dev/null
  image "$CLIENTS_IMAGE" "$CONF/images/clients.Containerfile" "$ctx/clients" >/dev/null
  image "$NODE_CACHE_IMAGE" "$CONF/images/node-cache.Containerfile" "$ctx/node-cache" >/dev/null
  rm -rf "$ctx"
  bash "$REPO/hack/images.sh" >&2 || die "hack/images.sh failed"
  local v
  v=$(sed -n '0,/^version = "\(.*\)"/s//\1/p' "$REPO/Cargo.toml")
  for b in proxy webhook; do
    rm -f "$IMAGES/dns-sidecar-$b.tar"
    "${PODMAN[@]}" save --quiet --format docker-archive -o "$IMAGES/dns-sidecar-$b.tar" \
      "localhost/dns-sidecar-$b:$v" || die "podman save dns-sidecar-$b failed"
  done
}

# load_archive ARCHIVE: imports an image archive (docker-archive or oci-archive, as `podman
# save` writes either) into the node's containerd. Podman names an image without a
# registry localhost/NAME; the same image is also tagged docker.io/library/NAME, the name
# the kubelet asks for when a manifest says NAME, as on a kind node.
load_archive() {
  local archive=$1 out name
  [ -f "$archive" ] || die "load: no such archive: $archive"
  [ -S "$CONTAINERD_SOCK" ] || die "load: the cluster's containerd is not running (cluster.sh up)"
  out=$(ctr_ images import --all-platforms --digests --snapshotter=overlayfs "$archive" 2>&1) ||
    die "load: ctr import of $archive failed: $out"
  # --digests adds an import-DATE@sha256 name per image; only the real names are reported.
  for name in $(echo "$out" | sed -n 's/^unpacking \([^ ]*\) .*/\1/p' | grep -v '^import-'); do
    case $name in
      localhost/*) ctr_ images tag --force "$name" "docker.io/library/${name#localhost/}" >/dev/null ;;
    esac
    say "loaded $name"
  done
}

load_images() {
  local a
  for a in "$IMAGES"/*.tar; do load_archive "$a"; done
}
