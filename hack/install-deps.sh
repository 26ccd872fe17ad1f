#!/usr/bin/env bash
# Installs the Debian packages that database pods run on a local node and that
# the integration tests use: PostgreSQL 15, pgBackRest, PgBouncer and HAProxy.
# Packages already installed are left alone.
set -euo pipefail

packages=(postgresql-15 pgbackrest pgbouncer haproxy)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
if ((${#missing[@]} == 0)); then
	exit 0
fi

sudo=()
if ((EUID != 0)); then
	if ! command -v sudo >/dev/null; then
		echo "install-deps: run as root, or install: ${missing[*]}" >&2
		exit 1
	fi
	sudo=(sudo)
fi

# pgo starts its own PostgreSQL servers; the package must not create and start
# a default one on port 5432.
if [[ ! -e /etc/postgresql-common/createcluster.conf ]] || ! grep -q '^create_main_cluster' /etc/postgresql-common/createcluster.conf; then
	"${sudo[@]}" mkdir -p /etc/postgresql-common
	echo "create_main_cluster = false" | "${sudo[@]}" tee -a /etc/postgresql-common/createcluster.conf >/dev/null
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
