#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and
# etcd from the Go module proxy into ${PGO_CACHE:-~/.cache/pgo}/k8s/<version>,
# outside the checkout so that every clone on the machine shares them. A build
# is reused while hack/kube and hack/etcd are unchanged.
#
# Usage: hack/build-kube.sh   (prints the directory of the binaries)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${PGO_CACHE:-$HOME/.cache/pgo}
version=$(awk '$1 == "k8s.io/kubernetes" { print $2 } $1 == "require" && $2 == "k8s.io/kubernetes" { print $3 }' "$root/hack/kube/go.mod")
if [[ -z $version ]]; then
	echo "build-kube: no k8s.io/kubernetes requirement in hack/kube/go.mod" >&2
	exit 1
fi
dir=$cache/k8s/$version
mkdir -p "$dir"

# What the binaries are built from: when it changes, they are rebuilt.
stamp=$(cat "$root"/hack/kube/{go.mod,go.sum,main.go} "$root"/hack/etcd/{go.mod,go.sum,main.go} "$0" | sha256sum | cut -d' ' -f1)

exec 9>"$dir/.lock"
flock 9
if [[ -f $dir/.stamp && $(cat "$dir/.stamp") == "$stamp" ]]; then
	echo "$dir"
	exit 0
fi

echo "build-kube: building Kubernetes $version and etcd into $dir (about 15 minutes the first time on 2 cores)" >&2
rm -f "$dir/.stamp"
tmp=$(mktemp -d "$dir/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

pkg=k8s.io/component-base/version
cgo=k8s.io/client-go/pkg/version
minor=$(echo "$version" | cut -d. -f2)
ldflags="-s -w"
for p in $pkg $cgo; do
	ldflags+=" -X $p.gitVersion=$version -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
done

"$root/hack/go-build.sh" "Kubernetes $version" "$root/hack/kube" . -- -trimpath -ldflags "$ldflags" -o "$tmp/kube"
"$root/hack/go-build.sh" "etcd" "$root/hack/etcd" . -- -trimpath -ldflags "-s -w" -o "$tmp/etcd"

for name in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
	ln -f "$tmp/kube" "$tmp/$name"
done
rm "$tmp/kube"
for name in kube-apiserver kube-controller-manager kube-scheduler kubectl etcd; do
	mv -f "$tmp/$name" "$dir/$name"
done
echo "$stamp" > "$dir/.stamp"
echo "$dir"
