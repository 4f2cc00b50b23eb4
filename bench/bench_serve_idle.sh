#!/usr/bin/env bash
#
# Idle cost of a whole `tisbackup serve`: 200 null jobs with daily backup
# and cleanup schedules (none due), the scheduler on, the embedded worker
# waiting on the SQLite queue, no requests. After a 3 s warm-up, the
# process's CPU time (utime + stime of every thread, /proc/PID/stat) over
# SECONDS, as a share of one core, its context switches per second and
# its VmRSS. Goals: < 0.1 % of a core (no busy polling), VmRSS <= 10 MiB.
# Prints figures; not a test.
#
# Usage: bench/bench_serve_idle.sh [SECONDS]   (TISBACKUP=path, default build/tisbackup)

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tests/integration/lib.sh
. "$here/../tests/integration/lib.sh"
SECS=${1:-60}
tb_require_binary
tb_tmp
trap _tb_cleanup EXIT

CONF=$TMPD/tisbackup.ini
cfg_global "$CONF" "schedule = daily 03:00" "cleanup_schedule = daily 12:30"
for i in $(seq 1 200); do cfg_null "$CONF" "job$i"; done
PORT=$(free_port)
GUI=$TMPD/gui.ini
printf '[general]\nconfig_tisbackup = %s\n[web]\nlisten = 127.0.0.1:%s\n[auth]\nusers_file = %s/users\n' \
	"$CONF" "$PORT" "$TMPD" >"$GUI"
"$TISBACKUP" --gui-config "$GUI" serve >"$TMPD/serve.log" 2>&1 &
PID=$!
tb_track "$PID"
sleep 3
kill -0 "$PID" 2>/dev/null || {
	cat "$TMPD/serve.log" >&2
	exit 1
}
hz=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
ctx() {
	local t s=0
	for t in /proc/"$PID"/task/*/status; do
		s=$((s + $(awk '/^(non)?voluntary_ctxt_switches/ {n += $2} END {print n}' "$t")))
	done
	echo "$s"
}
c0=$(cpu)
x0=$(ctx)
sleep "$SECS"
c1=$(cpu)
x1=$(ctx)
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$PID/status")
threads=$(ls "/proc/$PID/task" | wc -l)
awk -v c0="$c0" -v c1="$c1" -v hz="$hz" -v s="$SECS" -v x0="$x0" -v x1="$x1" \
	-v rss="$rss" -v th="$threads" 'BEGIN {
	printf "idle serve, 200 scheduled jobs, %d s: CPU %.3f s = %.4f %% of a core (goal < 0.1 %%)\n",
		s, (c1 - c0) / hz, 100 * (c1 - c0) / hz / s
	printf "context switches: %.1f per second over %d threads\n", (x1 - x0) / s, th
	printf "VmRSS: %.1f MiB (goal <= 10 MiB)\n", rss / 1024
}'
kill -TERM "$PID"
wait "$PID" 2>/dev/null
