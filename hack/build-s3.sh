#!/usr/bin/env bash
# Builds versitygw, the S3-compatible server that tests and the local
# environment use, from the Go module proxy into
# ${PGO_CACHE:-~/.cache/pgo}/s3/<version>, outside the checkout. The version
# is pinned in hack/s3/go.mod; a build is reused while it is unchanged.
#
# Usage: hack/build-s3.sh   (prints the directory of the binary)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${PGO_CACHE:-$HOME/.cache/pgo}
version=$(awk '$1 == "github.com/versity/versitygw" { print $2 } $1 == "require" && $2 == "github.com/versity/versitygw" { print $3 }' "$root/hack/s3/go.mod")
if [[ -z $version ]]; then
	echo "build-s3: no github.com/versity/versitygw requirement in hack/s3/go.mod" >&2
	exit 1
fi
dir=$cache/s3/$version
mkdir -p "$dir"
stamp=$(cat "$root"/hack/s3/{go.mod,go.sum} "$0" | sha256sum | cut -d' ' -f1)

exec 9>"$dir/.lock"
flock 9
if [[ -f $dir/.stamp && $(cat "$dir/.stamp") == "$stamp" && -x $dir/versitygw ]]; then
	echo "$dir"
	exit 0
fi

echo "build-s3: building versitygw $version into $dir (a minute or two the first time)" >&2
rm -f "$dir/.stamp"
(cd "$root/hack/s3" && go build -trimpath -ldflags "-s -w" -o "$dir/versitygw.new" github.com/versity/versitygw/cmd/versitygw)
mv "$dir/versitygw.new" "$dir/versitygw"
echo "$stamp" >"$dir/.stamp"
echo "$dir"
