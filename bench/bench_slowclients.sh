#!/usr/bin/env bash
#
# A normal client beside a slow-client attack on `tisbackup serve`:
# SOCKETS connections from ADDRESSES loopback addresses each send a header
# line every 2 s and never finish (reconnecting when closed), while one
# client makes REQUESTS requests in a row (health, and the jobs of a
# logged-in user). Prints the client's success rate and latency for this
# build and, with BASELINE=path/to/another/tisbackup, for that one side
# by side. Goals: 100 % answered, p99 <= 100 ms. Prints figures; not a test.
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
REQUESTS=${3:-50}
tb_require_binary
tb_require python3 sqlite3
tb_tmp
ulimit -n 8192 2>/dev/null

web_conf_jobs 2
web_config
web_user alice admin 'alice-pw-1' || t_bail "tisbackup user add failed"

run() { # LABEL BINARY
	TISBACKUP=$2
	web_config
	web_start
	printf '%-10s %s\n' "$1" "$(python3 "$here/../tests/integration/slowclients.py" \
		"$WEB_PORT" "$SOCKETS" "$ADDRESSES" "$REQUESTS" alice:alice-pw-1)"
	kill -9 "$WEB_PID" 2>/dev/null
	wait "$WEB_PID" 2>/dev/null
	WEB_PID=
}

echo "# $SOCKETS slow connections from $ADDRESSES addresses, $REQUESTS requests"
run this "$TISBACKUP"
if [ -n "${BASELINE:-}" ]; then
	run baseline "$BASELINE"
fi
