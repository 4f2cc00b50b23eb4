#!/usr/bin/env bash
#
# A normal client beside a slow-client attack on `tisbackup serve`:
# SOCKETS connections from ADDRESSES loopback addresses each send a header
# line every 2 s and never finish (reconnecting when closed), while one
# client makes REQUESTS requests in a row (health, and the jobs of a
# logged-in user: Basic auth, its password already verified once). The
# same client without the attack runs first, against the same server
# build, as the baseline: printed side by side with the ratio of the p99
# latencies. With BASELINE=path/to/another/tisbackup, that build is
# measured under the attack too. Goals: 100 % answered, p99 <= 100 ms.
# cold_ms is the first request of each kind (the argon2id verification
# of the password, by design about half a second), outside the figures.
# Prints figures; not a test.
#
# Usage: bench/bench_slowclients.sh [SOCKETS [ADDRESSES [REQUESTS]]]
#        (TISBACKUP=path, default build/tisbackup; BASELINE=path)

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tests/integration/lib.sh
. "$here/../tests/integration/lib.sh"
# shellcheck source=../tests/integration/web.sh
. "$here/../tests/integration/web.sh"

SOCKETS=${1:-1000}
ADDRESSES=${2:-8}
REQUESTS=${3:-200}
tb_require_binary
tb_require python3 sqlite3
tb_tmp
ulimit -n 8192 2>/dev/null

web_conf_jobs 2
web_config
web_user alice admin 'alice-pw-1' || t_bail "tisbackup user add failed"

run() { # BINARY SOCKETS ADDRESSES: the client's JSON line
	local out
	TISBACKUP=$1
	web_config
	web_start
	out=$(python3 "$here/../tests/integration/slowclients.py" \
		"$WEB_PORT" "$2" "$3" "$REQUESTS" alice:alice-pw-1)
	kill -9 "$WEB_PID" 2>/dev/null
	wait "$WEB_PID" 2>/dev/null
	WEB_PID=
	printf '%s\n' "$out"
}
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

echo "# $SOCKETS slow connections from $ADDRESSES addresses, $REQUESTS requests"
idle=$(run "$TISBACKUP" 0 1)
attack=$(run "$TISBACKUP" "$SOCKETS" "$ADDRESSES")
printf '%-10s %s\n' idle "$idle" attack "$attack"
i=$(field "$idle" p99_ms) a=$(field "$attack" p99_ms)
printf 'under attack: %s of %s answered; p99 %s ms vs %s ms idle: ratio %s\n' \
	"$(field "$attack" ok)" "$REQUESTS" "$a" "$i" \
	"$(python3 -c 'import sys; print(round(float(sys.argv[1]) / max(float(sys.argv[2]), 0.1), 2))' "$a" "$i")"
if [ -n "${BASELINE:-}" ]; then
	printf '%-10s %s\n' baseline "$(run "$BASELINE" "$SOCKETS" "$ADDRESSES")"
fi
