# Shared by the bench/ scripts (sourced after tests/integration/lib.sh):
# wall and CPU time of a command, CPU counted for the whole process tree
# and for the servers it talks to, medians, and the real original when a
# checkout of it is given.
#
# CPU time: the benchmark puts itself in a cgroup of its own (cgroup v2,
# or v1's cpuacct) before it starts its servers, so sshd's and rsyncd's
# children are counted with the client's processes; where no cgroup can be
# made it falls back to the client's process tree (bash's `times` of the
# waited-for children) and says so.
#
# The original: TISBACKUP_PY_SRC=DIR names a checkout of the original
# TISBackup (DIR/tisbackup.py); the benchmarks never ship or download it.
# Without it they print "original: not measured".

BENCH_CG=
BENCH_CG_KIND=
BENCH_CORES=$(nproc)

# bench_cg_setup: move this shell (and so every process it starts from now
# on) into a new cgroup. Prints which CPU clock is used.
bench_cg_setup() {
	local name=tisbackup-bench-$$
	if [ -f /sys/fs/cgroup/cgroup.controllers ] && mkdir "/sys/fs/cgroup/$name" 2>/dev/null; then
		BENCH_CG=/sys/fs/cgroup/$name
		BENCH_CG_KIND=v2
	elif [ -d /sys/fs/cgroup/cpuacct ] && mkdir "/sys/fs/cgroup/cpuacct/$name" 2>/dev/null; then
		BENCH_CG=/sys/fs/cgroup/cpuacct/$name
		BENCH_CG_KIND=v1
	fi
	if [ -n "$BENCH_CG" ] && echo $$ >"$BENCH_CG/cgroup.procs" 2>/dev/null; then
		echo "CPU time: cgroup $BENCH_CG_KIND ($BENCH_CG), clients and servers together"
		trap bench_cg_teardown EXIT
	else
		[ -n "$BENCH_CG" ] && rmdir "$BENCH_CG" 2>/dev/null
		BENCH_CG= BENCH_CG_KIND=
		echo "CPU time: no cgroup could be made; the client's process tree only"
	fi
}

# Leave the cgroup (every process of ours goes back to the parent) and
# remove it; run at exit after the test-library cleanup stopped servers.
bench_cg_teardown() {
	local p parent
	[ -n "$BENCH_CG" ] || return 0
	_tb_cleanup 2>/dev/null
	parent=$(dirname "$BENCH_CG")
	while read -r p; do echo "$p" >"$parent/cgroup.procs" 2>/dev/null; done <"$BENCH_CG/cgroup.procs"
	rmdir "$BENCH_CG" 2>/dev/null
	BENCH_CG=
}

# CPU seconds used so far by the cgroup (or by this shell's waited-for
# children when there is none), with microsecond precision.
bench_cpu_now() {
	if [ "$BENCH_CG_KIND" = v2 ]; then
		awk '$1 == "usage_usec" { printf "%.6f\n", $2 / 1e6 }' "$BENCH_CG/cpu.stat"
	elif [ "$BENCH_CG_KIND" = v1 ]; then
		awk '{ printf "%.6f\n", $1 / 1e9 }' "$BENCH_CG/cpuacct.usage"
	else
		# `times` line 2: children's user and system time, e.g. "0m1.250s 0m0.310s"
		times | awk 'NR == 2 {
			n = split($1 " " $2, f, " "); s = 0
			for (i = 1; i <= n; i++) { split(f[i], m, "m"); sub("s", "", m[2]); s += m[1] * 60 + m[2] }
			printf "%.6f\n", s }'
	fi
}

# Sets BENCH_CPU_US to the cgroup's CPU microseconds so far, reading it
# with shell builtins: no process is started, so none is counted.
_bench_cpu_us() {
	local k v
	BENCH_CPU_US=
	if [ "$BENCH_CG_KIND" = v2 ]; then
		while read -r k v; do
			[ "$k" = usage_usec ] && BENCH_CPU_US=$v && break
		done <"$BENCH_CG/cpu.stat"
	elif [ "$BENCH_CG_KIND" = v1 ]; then
		read -r v <"$BENCH_CG/cpuacct.usage" && BENCH_CPU_US=$((v / 1000))
	fi
}

# bench_measure CMD...: run CMD (stdout and stderr into $TMPD/bench-last.log,
# see bench_show_failure); sets BM_WALL and BM_CPU (seconds) and BM_RC.
# With a cgroup, nothing but CMD runs between the two readings (bash's
# EPOCHREALTIME and builtins; a `date` or `awk` there would add a few ms
# of CPU to a short command such as checknagios).
bench_measure() {
	local t0 t1 c0 c1
	if [ -n "$BENCH_CG_KIND" ] && [ -n "${EPOCHREALTIME:-}" ]; then
		_bench_cpu_us
		c0=$BENCH_CPU_US
		t0=$EPOCHREALTIME
		"$@" >"${TMPD:-/tmp}/bench-last.log" 2>&1
		BM_RC=$?
		t1=$EPOCHREALTIME
		_bench_cpu_us
		c1=$BENCH_CPU_US
		BM_WALL=$(awk -v a="${t0/,/.}" -v b="${t1/,/.}" 'BEGIN { printf "%.4f", b - a }')
		BM_CPU=$(awk -v u="$((c1 - c0))" 'BEGIN { printf "%.4f", u / 1e6 }')
		return 0
	fi
	c0=$(bench_cpu_now)
	t0=$(date +%s.%N)
	"$@" >"${TMPD:-/tmp}/bench-last.log" 2>&1
	BM_RC=$?
	t1=$(date +%s.%N)
	c1=$(bench_cpu_now)
	BM_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
	BM_CPU=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.4f", b - a }')
}

# bench_show_failure LABEL: after a bench_measure that failed, say so with
# the last lines the command printed.
bench_show_failure() {
	echo "warning: a $1 run exited $BM_RC; its last lines:" >&2
	tail -n 5 "${TMPD:-/tmp}/bench-last.log" | sed 's/^/    /' >&2
}

# Median of the numbers on stdin.
bench_median() {
	sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# bench_original: 0 and ORIG_CMD=(python3 DIR/tisbackup.py) when
# TISBACKUP_PY_SRC names a checkout of the original; else 1 and a line
# saying the original was not measured.
bench_original() {
	local src=${TISBACKUP_PY_SRC:-}
	ORIG_CMD=()
	if [ -z "$src" ]; then
		echo "original: not measured (set TISBACKUP_PY_SRC=DIR, a checkout of the original TISBackup)"
		return 1
	fi
	if [ ! -f "$src/tisbackup.py" ]; then
		echo "original: not measured ($src/tisbackup.py does not exist)"
		return 1
	fi
	ORIG_CMD=(/usr/bin/python3 "$src/tisbackup.py")
	if ! "${ORIG_CMD[@]}" --help >/dev/null 2>&1; then
		echo "original: not measured ('${ORIG_CMD[*]} --help' fails: its Python modules are missing?)"
		ORIG_CMD=()
		return 1
	fi
	echo "original: $src/tisbackup.py under $(/usr/bin/python3 --version 2>&1)"
	return 0
}

# bench_row LABEL WALL CPU [REF_WALL]: one aligned result line, with the
# ratio to REF_WALL when given.
bench_row() {
	awk -v l="$1" -v w="$2" -v c="$3" -v r="${4:-}" 'BEGIN {
		printf "  %-46s wall %8.3f s   cpu %8.3f s", l, w, c
		if (r != "" && r > 0) printf "   %.3fx", w / r
		printf "\n" }'
}

# bench_pg_copy SQLITE_CATALOG: a PostgreSQL server of lib.sh's (pg_start,
# on a socket in $TMPD), a role for this user and a database tbbench, the
# catalog copied into it by `catalog migrate` (its output in
# $TMPD/migrate.out). Sets BENCH_PGURL; 1 with the reason printed.
bench_pg_copy() {
	tb_require runuser
	pg_start || { echo "PostgreSQL did not start"; return 1; }
	runuser -u postgres -- psql -X -q -h "$PG/sock" -p "$PGPORT" -d postgres -v ON_ERROR_STOP=1 \
		-c "CREATE ROLE \"$(id -un)\" LOGIN" -c "CREATE DATABASE tbbench OWNER \"$(id -un)\"" >/dev/null ||
		{ echo "cannot create the bench database"; return 1; }
	BENCH_PGURL="postgresql://$(id -un)@/tbbench?host=$PG/sock&port=$PGPORT"
	"$TISBACKUP" catalog migrate --from "sqlite:$1" --to "$BENCH_PGURL" >"$TMPD/migrate.out" 2>&1 ||
		{ cat "$TMPD/migrate.out"; return 1; }
}
