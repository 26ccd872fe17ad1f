#!/usr/bin/env bash
# Regenerates what controller-gen derives from the code: deepcopy functions
# (objects) or the CRDs and RBAC (manifests), into the checkout or, for the
# staleness test, into another directory with the same layout.
#
# Usage: hack/generate.sh objects|manifests [output-root]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${2:-$root}
cd "$root"

case ${1:-} in
objects)
	go tool controller-gen object paths=./api/... output:object:dir="$out/api/v1"
	;;
manifests)
	go tool controller-gen crd paths=./api/... output:crd:artifacts:config="$out/config/crd/bases"
	# The controller and the apiserver run as different ServiceAccounts,
	# each with the rights its own markers ask for.
	go tool controller-gen rbac:roleName=pgo-operator paths=./internal/controller/... output:rbac:artifacts:config="$out/config/rbac"
	go tool controller-gen rbac:roleName=pgo-apiserver paths=./internal/apiserver/... output:rbac:artifacts:config="$out/config/apiserver"
	;;
*)
	echo "usage: $0 objects|manifests [output-root]" >&2
	exit 2
	;;
esac
