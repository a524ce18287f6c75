#!/usr/bin/env bash
# figures.sh measures one silent-restart storm per queen and size, all in
# one run, and prints one table: recovery percentiles against a Foolscap
# 21.7 server (pypeer's server.py under /usr/bin/python3) and against
# `tubscope serve` under the foolscap, probe and attempt-id policies.
# Every cell gets a fresh queen. Nothing is written outside a temporary
# directory, which is removed at the end.
#
#   tubclient/storm/figures.sh [N…]        (default sizes: 200 1000 19000)
#
# Environment: WINDOW (default 300s) is each storm's window; STORM_ARGS are
# extra `tubscope storm` flags (default --kex x25519, the group Foolscap's
# OpenSSL settles on, so every queen does the same handshake work).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/storm-figures.XXXXXX)
queen_pid=""
cleanup() {
	if [ -n "$queen_pid" ]; then kill "$queen_pid" 2>/dev/null || true; fi
	exec 9>&- 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(200 1000 19000)
window=${WINDOW:-300s}
storm_args=${STORM_ARGS---kex x25519}
bin=$work/tubscope
(cd "$root" && go build -o "$bin" .)

# wait_line FILE PATTERN: wait (up to 30s) for a line matching PATTERN.
wait_line() {
	for _ in $(seq 300); do
		if grep -m1 -- "$2" "$1" 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "no line matching $2 in $1:" >&2
	cat "$1" >&2
	return 1
}

# start_queen KIND: starts a fresh queen and sets queen_pid and furl.
start_queen() {
	case $1 in
	foolscap-21.7)
		# The server exits when its stdin ends: hold a fifo open on fd 9.
		mkfifo "$work/queen.in"
		/usr/bin/python3 -E -s -B "$root/tubclient/internal/pypeer/py/server.py" --pem "$work/queen.pem" \
			<"$work/queen.in" >"$work/queen.out" 2>"$work/queen.err" &
		queen_pid=$!
		exec 9>"$work/queen.in"
		furl=$(wait_line "$work/queen.out" '"furl"' | jq -r .furl)
		;;
	serve-*)
		"$bin" serve --listen tcp:127.0.0.1:0 --policy "${1#serve-}" >"$work/queen.out" 2>"$work/queen.err" &
		queen_pid=$!
		furl=$(wait_line "$work/queen.out" '^pb://')
		;;
	esac
}

stop_queen() {
	kill "$queen_pid" 2>/dev/null || true
	wait "$queen_pid" 2>/dev/null || true
	queen_pid=""
	exec 9>&- 2>/dev/null || true
	rm -f "$work/queen.in" "$work/queen.pem" "$work/queen.out" "$work/queen.err"
}

printf '# %s · %s CPUs · %s · open files %s (hard %s) · load %s · %s\n' "$(date -u +%FT%TZ)" "$(nproc)" \
	"$(uname -r)" "$(ulimit -Sn)" "$(ulimit -Hn)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(go version | cut -d' ' -f3)"
printf '# silent-restart, all at once, window %s, %s, each success getReference+echo; one fresh queen per row\n' \
	"$window" "${storm_args:-no extra flags}"
printf '%-16s %6s %6s %7s %6s %8s %10s %10s %10s %9s %9s  %s\n' QUEEN N BACK LOCKED FLAPS REJECTS P50 P99 MAX QUEEN-RSS ELAPSED NOTE
for queen in foolscap-21.7 serve-foolscap serve-probe serve-attempt-id; do
	for n in "${sizes[@]}"; do
		start_queen "$queen"
		note=""
		# shellcheck disable=SC2086
		if ! "$bin" storm --json --n "$n" --fault silent-restart --window "$window" --hold 2s --timeout 30m \
			$storm_args "$furl" >"$work/storm.out" 2>"$work/storm.err"; then
			note="storm failed"
		fi
		rss=$(awk '/VmHWM/ {printf "%.0fMiB", $2/1024}' "/proc/$queen_pid/status" 2>/dev/null || echo "?")
		stop_queen
		sum=$(grep '"storm-summary"' "$work/storm.out" | tail -1)
		if [ -z "$sum" ]; then
			printf '%-16s %6s  no summary: %s\n' "$queen" "$n" "$(tail -1 "$work/storm.err")"
			continue
		fi
		err=$(jq -r '.error // ""' <<<"$sum")
		fails=$(jq -r '[.failures | to_entries[] | "\(.key) ×\(.value)"] | join(", ")' <<<"$sum")
		note=$(printf '%s %s %s' "$note" "${err:+error: $err}" "${fails:+no decision: $fails}")
		jq -r --arg q "$queen" --arg rss "$rss" --arg note "$note" '
			def ms: if . >= 10000 then "\(. / 1000 * 10 | round / 10)s" else "\(. | round)ms" end;
			[$q, .clients, .back, .locked_out, .flaps, .rejects, (.recovery_ms.p50|ms), (.recovery_ms.p99|ms),
			 (.recovery_ms.max|ms), $rss, (.elapsed_ms|ms), $note] | @tsv' <<<"$sum" |
			awk -F'\t' '{printf "%-16s %6s %6s %7s %6s %8s %10s %10s %10s %9s %9s  %s\n", $1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12}'
	done
done
