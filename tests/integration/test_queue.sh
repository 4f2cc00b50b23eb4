#!/usr/bin/env bash
# The run queue with real workers, against each backend (SQLite, and
# Redis on a redis-server this test starts on loopback with appendonly):
# two `tisbackup worker` processes share 30 rsync+ssh runs and each runs
# exactly once (one OK catalog row per job); kill -9 of the worker holding
# a slow run (preexec sleep on the sshd "host") -> the run is claimed again
# after its lease expires and completes elsewhere; SIGTERM to a worker
# hands its run back; a Redis restart mid-way loses no queued run; bad
# [queue] settings fail clearly; a run of another worker pool is never
# taken by these workers (pool default). Also runs the queue unit suite against
# this Redis (TB_REDIS_URL). Waits end on states, not on fixed times: each
# gives up only after STALL seconds without any change in the queue (a
# loaded machine makes the runs slower, never the test fail).
. "$(dirname "$0")/lib.sh"
tb_require_binary
tb_require sqlite3 redis-server redis-cli
QCTL=$(dirname "$TISBACKUP")/tests/tb_queuectl
UNIT=$(dirname "$TISBACKUP")/tests/test_queue
[ -x "$QCTL" ] || t_bail "$QCTL missing (build first)"
sshd_start

NJOBS=30
CONF=$TMPD/queue.ini
cfg_global "$CONF" "max_parallel = 2"
for i in $(seq 0 $((NJOBS - 1))); do
	mkdir -p "$TMPD/src/j$i"
	echo "job $i" >"$TMPD/src/j$i/file"
	cfg_job "$CONF" "j$i" "$TMPD/src/j$i" "max_per_server = 8"
done
mkdir -p "$TMPD/src/slow"
echo slow >"$TMPD/src/slow/file"
cfg_job "$CONF" slow "$TMPD/src/slow" "preexec = sleep 4" "max_per_server = 8"

# ---------------------------------------------------------------- redis
redis_start || t_bail "could not start redis-server"

# ---------------------------------------------------------------- helpers
WPIDS=()
# gui_ini FILE BACKEND: a tisbackup_gui.ini for the test.
gui_ini() {
	{
		echo "[general]"
		echo "config_tisbackup = $CONF"
		echo "[queue]"
		echo "backend = $2"
		echo "redis_url = $REDIS_URL"
		# 12 s, not the minimum 5: a worker renews every lease/3, and on a machine
		# loaded tenfold a 5 s lease lapsed under a live run (counted a second attempt).
		echo "lease_seconds = 12"
		echo "max_attempts = 3"
		echo "workers = 2"
		echo "stop_grace = 1"
	} >"$1"
}
# worker_start NAME: a `tisbackup worker` in the background; sets WPID.
worker_start() {
	"$TISBACKUP" --gui-config "$GUI" worker >"$TMPD/$1.log" 2>&1 </dev/null &
	WPID=$!
	tb_track "$WPID"
}
q() { "$QCTL" "$GUI" "$BASE/log" "$@"; }
# state ID: "STATE ATTEMPTS WORKER"
state() { q get "$1" | head -n1 | awk '{print $2, $3, $5}'; }
is_state() { [ "$(state "$1" | cut -d' ' -f1)" = "$2" ]; }
no_active() { [ -z "$(q list active)" ]; }
enqueue() { q enqueue "$CONF" backup "$1" | cut -d' ' -f1; }
# The slow run is in its preexec: running, with a Running catalog row.
slow_running() {
	is_state "$slow" running &&
		[ "$(sql "$BASE/log/tisbackup.sqlite" "select count(*) from stats where backup_name='slow' and status='Running'" 2>/dev/null)" = 1 ]
}
# holder_pid ID: the pid of the worker process running ID (from its id HOST:PID/N).
holder_pid() { state "$1" | awk '{print $3}' | sed 's/.*:\([0-9]*\)\/.*/\1/'; }
# Seconds without any change in the queue before a wait gives up: more
# than a lease (12 s) plus the slow run's preexec (4 s) and a run on a busy
# machine.
STALL=60
# settled CMD...: wait for CMD until it holds, or the queue stops moving.
settled() { wait_progress "$STALL" 'q list' "$@"; }

suite() {
	local b=$1 ids=() i id w1 w2 out bad rows slow pid other rc other_pool
	BASE=$TMPD/base_$b
	GUI=$TMPD/gui_$b.ini
	sed -i "s|^backup_base_dir = .*|backup_base_dir = $BASE|" "$CONF"
	mkdir -p "$BASE/log"
	gui_ini "$GUI" "$b"

	# 30 runs, queued before the two workers start (so what follows does
	# not depend on how fast the workers drain the queue).
	for i in $(seq 0 $((NJOBS - 1))); do ids+=("$(enqueue "j$i")"); done
	t_eq "$NJOBS" "$(q list | wc -l)" "$b: $NJOBS runs queued"
	if [ "$b" = redis ]; then
		# Restart redis with every run queued: nothing may be lost.
		t_eq "$NJOBS" "$(q list active | wc -l)" "$b: runs still queued when redis goes down"
		redis_stop
		redis_start || t_bail "redis did not come back"
		t_eq "$NJOBS" "$(q list active | wc -l)" "$b: redis restarted with every run still queued"
	fi
	worker_start "${b}_w1"
	w1=$WPID
	worker_start "${b}_w2"
	w2=$WPID
	settled no_active || t_diag "still active: $(q list active | head -n3)"
	out=$(q list)
	t_eq "$NJOBS" "$(echo "$out" | grep -c ' done 1 ')" "$b: every run done, in one attempt"
	rows=$(sql "$BASE/log/tisbackup.sqlite" \
		"select count(*), count(distinct backup_name) from stats where status='OK' and TYPE='BACKUP'")
	t_eq "$NJOBS|$NJOBS" "$rows" "$b: exactly one OK catalog row per job"
	t_eq 2 "$(echo "$out" | awk '{print $5}' | sed 's|/.*||' | sort -u | wc -l)" \
		"$b: both worker processes took runs"
	bad=0
	for id in "${ids[@]}"; do [ "$(q get "$id" | head -n1 | cut -d' ' -f2)" = done ] || bad=1; done
	t_eq 0 "$bad" "$b: each enqueued id ended done"

	# A run of another worker pool: these workers (pool default) never take it.
	other_pool=$(TB_QUEUE_POOL=elsewhere q enqueue "$CONF" backup j1 | cut -d' ' -f1)

	# Dedupe: the same request while active returns the active run.
	slow=$(enqueue slow)
	t_eq "$slow existed" "$(q enqueue "$CONF" backup slow)" "$b: same section again -> the active run"

	# kill -9 the worker running the slow run (in its preexec): retried by the other one.
	settled slow_running || t_fail "$b: slow run started" "$(state "$slow")"
	pid=$(holder_pid "$slow")
	if [ "$pid" = "$w1" ]; then other=$w2; else other=$w1; fi
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	settled is_state "$slow" done
	out=$(state "$slow")
	t_match "^done 2 [^ ]*:$other/" "$out" "$b: killed mid-run -> claimed again after the lease, done by the other worker"
	t_eq 1 "$(sql "$BASE/log/tisbackup.sqlite" "select count(*) from stats where backup_name='slow' and status='OK'")" \
		"$b: the retried run recorded its backup"
	worker_start "${b}_w3"
	if [ "$pid" = "$w1" ]; then w1=$WPID; else w2=$WPID; fi

	# SIGTERM hands the current run back (stop_grace = 1 s).
	slow=$(enqueue slow)
	settled slow_running || t_fail "$b: slow run started again" "$(state "$slow")"
	pid=$(holder_pid "$slow")
	if [ "$pid" = "$w1" ]; then other=$w2; else other=$w1; fi
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	t_eq 0 "$rc" "$b: SIGTERM: the worker exits 0"
	t_match "handed back" "$(cat "$TMPD"/${b}_w*.log)" "$b: SIGTERM: the run is handed back"
	settled is_state "$slow" done
	t_match "^done 1 [^ ]*:$other/" "$(state "$slow")" "$b: the handed-back run is done by the other worker (attempt not counted)"

	# A config the gui ini does not list is refused.
	id=$(q enqueue "$TMPD/other.ini" backup j0 | cut -d' ' -f1)
	settled is_state "$id" failed
	t_match "^$id failed 1 .* its config file is not listed in tisbackup_gui.ini" "$(q get "$id" | head -n1)" \
		"$b: a run naming an unlisted config fails without running"

	# The run's output is in its log.
	t_match "\[slow\] Processing" "$(q get "$slow")" "$b: the run's log holds the child's output"

	# Cancel a running run: its worker ends the child and records it.
	slow=$(enqueue slow)
	settled slow_running || t_fail "$b: slow run started for cancel" "$(state "$slow")"
	t_eq running "$(q cancel "$slow")" "$b: cancel of a running run: still running, cancel requested"
	settled is_state "$slow" cancelled
	t_match "^cancelled 1 " "$(state "$slow")" "$b: the worker ended the cancelled run"
	settled bash -c "[ \"\$(sqlite3 '$BASE/log/tisbackup.sqlite' \"select status from stats where backup_name='slow' order by rowid desc limit 1\")\" = ERROR ]"
	t_eq ERROR "$(sql "$BASE/log/tisbackup.sqlite" "select status from stats where backup_name='slow' order by rowid desc limit 1")" \
		"$b: the cancelled run's job was interrupted (ERROR row)"

	t_match "^queued 0 " "$(state "$other_pool")" \
		"$b: a run of pool elsewhere stayed queued while the default pool's workers ran the rest"
	t_eq cancelled "$(q cancel "$other_pool")" "$b: ... and is cancelled"

	kill -TERM "$other"
	rc=0
	wait "$other" || rc=$?
	t_eq 0 "$rc" "$b: an idle worker stops on SIGTERM with exit 0"
}

for b in ${TB_QUEUE_BACKENDS:-sqlite redis}; do suite "$b"; done

# ---------------------------------------------------------------- unit suite on redis
if [ -x "$UNIT" ] && [[ " ${TB_QUEUE_BACKENDS:-redis} " == *" redis "* ]]; then
	out=$(TB_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/3 CMOCKA_MESSAGE_OUTPUT=stdout "$UNIT" redis 2>&1)
	rc=$?
	t_eq 0 "$rc" "queue unit suite passes against redis"
	[ "$rc" = 0 ] || t_diag "$(echo "$out" | tail -n 20)"
fi

# ---------------------------------------------------------------- redis ACL user
# redis://USER:PASSWORD@HOST authenticates as USER (AUTH USER PASSWORD), not
# as the default user (whose password here is another one); '@', '/' and
# ':' in the password work raw or percent-encoded, as with redis-cli -u.
if [[ " ${TB_QUEUE_BACKENDS:-redis} " == *" redis "* ]]; then
	APW='p@ss/w:rd'
	rcli() { redis-cli -p "$REDIS_PORT" --no-auth-warning "$@"; }
	rcli ACL SETUSER alice on ">$APW" '~*' '&*' '+@all' >/dev/null
	rcli ACL SETUSER default resetpass '>not-alices-pw' >/dev/null
	BASE=$TMPD/base_acl
	mkdir -p "$BASE/log"
	sed -i "s|^backup_base_dir = .*|backup_base_dir = $BASE|" "$CONF"
	GUI=$TMPD/gui_acl.ini
	for REDIS_URL in "redis://alice:p%40ss%2Fw%3Ard@127.0.0.1:$REDIS_PORT/5" \
		"redis://alice:$APW@127.0.0.1:$REDIS_PORT/5"; do
		how=encoded
		[[ $REDIS_URL == *%40* ]] || how=raw
		gui_ini "$GUI" redis
		id=$(enqueue j0)
		t_match '^[0-9]+$' "$id" "ACL user alice, password $how: a run is queued"
		worker_start "acl_$how"
		settled is_state "$id" done
		t_match "^done 1 " "$(state "$id")" "ACL user alice, password $how: a worker runs it"
		t_match "cmd=blmove user=alice" "$(rcli --user alice --pass "$APW" CLIENT LIST)" \
			"ACL user alice, password $how: the idle worker waits as alice"
		kill -TERM "$WPID"
		wait "$WPID" 2>/dev/null
	done
	REDIS_URL="redis://alice:wrong-$APW@127.0.0.1:$REDIS_PORT/5"
	gui_ini "$GUI" redis
	tb_run --gui-config "$GUI" worker
	t_rc 4 "ACL user with a wrong password: exit 4"
	t_match "redis://alice:\*\*\*@127.0.0.1:$REDIS_PORT/5: AUTH: WRONGPASS" "$T_ERR" \
		"a wrong password: the server's refusal, the address with the password masked"
	t_nomatch "wrong-|ss/w" "$T_ERR" "a wrong password never reaches the output"
	REDIS_URL="redis://alice:$APW@127.0.0.1:x/5"
	gui_ini "$GUI" redis
	tb_run --gui-config "$GUI" worker
	t_rc 3 "redis_url with a bad port: exit 3 (configuration)"
	t_match "gui_acl.ini:[0-9]+: \[queue\] redis_url: bad port 'x'" "$T_ERR" \
		"a bad port names file:line, section and key"
	t_nomatch "ss/w" "$T_ERR" "the password is not in the configuration error"
	rcli --user alice --pass "$APW" ACL SETUSER default nopass >/dev/null
fi

# ---------------------------------------------------------------- bad input
GUI=$TMPD/bad.ini
printf '[general]\nconfig_tisbackup = %s\n[queue]\nbackend = mongodb\n' "$CONF" >"$GUI"
tb_run --gui-config "$GUI" worker
t_rc 3 "unknown backend: exit 3"
t_match "bad.ini:4: \[queue\] backend: unknown queue backend" "$T_ERR" "unknown backend: names file:line, section and key"
port=$(free_port)
printf '[general]\nconfig_tisbackup = %s\n[queue]\nbackend = redis\nredis_url = redis://127.0.0.1:%s/0\n' "$CONF" "$port" >"$GUI"
tb_run --gui-config "$GUI" worker
t_rc 4 "unreachable redis: exit 4"
t_match "redis://127.0.0.1:$port/0: .*[Cc]onnection refused" "$T_ERR" "unreachable redis: names the address and the cause"
printf '[general]\nconfig_tisbackup = %s\n[queue]\nbackend = redis\nredis_url = redis://:s3cretpw@127.0.0.1:%s/0\n' "$CONF" "$port" >"$GUI"
tb_run --gui-config "$GUI" worker
t_rc 4 "unreachable redis with a password: exit 4"
t_match "redis://:\*\*\*@127.0.0.1:$port/0: " "$T_ERR" "the address is shown with the password masked"
t_nomatch "s3cretpw" "$T_ERR" "the password never reaches the output"

redis_stop nosave
t_done
