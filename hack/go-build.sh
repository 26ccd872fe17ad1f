#!/usr/bin/env bash
# Runs `go build` and shows its progress on stderr: the modules downloaded,
# then the packages compiled out of the packages the build needs, the time
# elapsed and an estimate of the time left. A build that takes less than a
# few seconds (a warm cache) prints nothing. On a terminal the progress line
# is rewritten in place; without one, or with CI=true, it is a plain line
# every 15 seconds. The compiler's own messages (errors) pass through.
#
# Usage: hack/go-build.sh LABEL MODULE_DIR PACKAGES -- GO_BUILD_FLAGS...
#   e.g. hack/go-build.sh pgo . ./cmd/... -- -trimpath -o bin/
set -euo pipefail

if (($# < 4)) || [[ $4 != -- ]]; then
	echo "usage: $0 LABEL MODULE_DIR PACKAGES -- GO_BUILD_FLAGS..." >&2
	exit 2
fi
label=$1 dir=$2 pkgs=$3
shift 4
cd "$dir"

tty=false
if [[ -t 2 && ${CI:-} != true ]]; then
	tty=true
fi
quiet_for=3000000 # µs before the first progress line
plain_every=15000000
start=${EPOCHREALTIME/./}

# clock formats microseconds as 1m05s.
clock() {
	local s=$(($1 / 1000000))
	if ((s >= 60)); then
		printf '%dm%02ds' $((s / 60)) $((s % 60))
	else
		printf '%ds' "$s"
	fi
}

# follow reads go's stderr. A line that is one word is a package being
# compiled (go build -v); "go: downloading" lines count modules; anything
# else is a message for the user and is passed on.
#   follow TOTAL DONE: TOTAL is 0 while the number of packages is not known;
#   DONE says whether to print a last line.
follow() {
	local total=$1 done=$2 compiled=0 downloaded=0 shown=false last=0 line now text left
	while IFS= read -r line; do
		case $line in
		"go: downloading "*) downloaded=$((downloaded + 1)) ;;
		"" | *" "* | "#"*)
			if $tty && $shown; then printf '\r\033[K' >&2; fi
			printf '%s\n' "$line" >&2
			last=0
			continue
			;;
		*) compiled=$((compiled + 1)) ;;
		esac
		now=${EPOCHREALTIME/./}
		if ((now - start < quiet_for)); then
			continue
		fi
		if $tty && ((now - last < 500000)); then
			continue
		fi
		if ! $tty && ((last != 0 && now - last < plain_every)); then
			continue
		fi
		last=$now
		text="$label: $(clock $((now - start)))"
		if ((compiled == 0)); then
			text+=", $downloaded modules downloaded"
		elif ((total > 0)); then
			text+=", $compiled of at most $total packages compiled"
			left=$(((now - start) * (total - compiled) / compiled))
			if ((compiled * 20 >= total && left >= 1000000)); then
				text+=", about $(clock "$left") left"
			fi
		else
			text+=", $compiled packages compiled"
		fi
		if $tty; then
			printf '\r\033[K%s' "$text" >&2
		else
			printf '%s\n' "$text" >&2
		fi
		shown=true
	done
	if $shown && ! $done && $tty; then printf '\r\033[K' >&2; fi
	if $shown && $done; then
		now=${EPOCHREALTIME/./}
		if $tty; then printf '\r\033[K' >&2; fi
		printf '%s: done in %s\n' "$label" "$(clock $((now - start)))" >&2
	fi
}

# Listing the packages downloads the modules the build needs.
# shellcheck disable=SC2086 # PACKAGES is a list
total=$(go list -deps $pkgs 2> >(follow 0 false) | wc -l)
# shellcheck disable=SC2086
go build -v "$@" $pkgs 2>&1 | follow "$total" true
