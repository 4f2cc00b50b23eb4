#!/usr/bin/env bash
#
# Worker pools on real components (docs/scale-out.md): a PostgreSQL
# catalog and a Redis queue on loopback, `tisbackup serve` without a
# worker of its own, and two `tisbackup worker` processes, one per pool
# (site-a, site-b), each with its own backup root (-b). 40 rsync+ssh jobs,
# half in each pool, queued through the web API: every job runs exactly
# once, by the worker of its pool, into that worker's root; the catalog
# has every row; checknagios and /api/v1/jobs see all 40; /api/v1/pools
# and /metrics count workers and runs per pool. A worker killed with
# SIGKILL mid-run: its run goes back to its own pool only (the other
# pool's idle worker never takes it) and a new worker of that pool
# finishes it. Redis restarted while runs are in flight: nothing lost,
# nothing run twice. Waits end on states, never on fixed times.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=web.sh
. "$(dirname "${BASH_SOURCE[0]}")/web.sh"

tb_require_binary
tb_require curl python3 rsync ssh redis-server redis-cli
tb_tmp
sshd_start
pg_start || t_bail "PostgreSQL did not start"
redis_start || t_bail "could not start redis-server"

cq() { psql_su -d tbpools -c "$1"; }
psql_su -d postgres -c "CREATE ROLE root LOGIN" || t_bail "cannot create the role"
psql_su -d postgres -c "CREATE DATABASE tbpools OWNER root" || t_bail "cannot create the db"

NJOBS=40
ROOTA=$TMPD/root-a
ROOTB=$TMPD/root-b
BASE=$TMPD/serve-root # serve's copy of the configuration: no backup written there
mkdir -p "$ROOTA" "$ROOTB" "$BASE"
CONF=$TMPD/pools.ini
cfg_global "$CONF" "max_parallel = 4"
{
	echo "[catalog]"
	echo "url = postgresql://root@/tbpools?host=$PG/sock&port=$PGPORT"
	echo
} >>"$CONF"
pool_of() { if [ $(($1 % 2)) -eq 0 ]; then echo site-a; else echo site-b; fi; }
for i in $(seq -w 0 $((NJOBS - 1))); do
	mkdir -p "$TMPD/src/j$i"
	echo "job $i" >"$TMPD/src/j$i/file"
	cfg_job "$CONF" "j$i" "$TMPD/src/j$i" "max_per_server = 8" "pool = $(pool_of $((10#$i)))"
done
mkdir -p "$TMPD/src/slow"
echo slow >"$TMPD/src/slow/file"
# slow's preexec (run over the loopback ssh) holds while $TMPD/hold exists:
# the first attempt is still running when its worker is killed, however
# loaded the machine; the retried attempt runs once the hold is removed.
cfg_job "$CONF" slow "$TMPD/src/slow" "preexec = while [ -e $TMPD/hold ]; do sleep 0.2; done" \
	"max_per_server = 8" "pool = site-a"

web_config queue.backend=redis "queue.redis_url = $REDIS_URL" "queue.lease_seconds = 5" \
	"queue.embedded_worker = no" "queue.workers = 2" "queue.stop_grace = 1" \
	"web.metrics_public = yes"
web_user alice admin 'alice-pw-1' || t_bail "tisbackup user add failed"
web_start
JAR=$TMPD/jar
web_login alice alice-pw-1 "$JAR"
get() { curl -s -b "$JAR" "$WEB$1"; }
post_run() {
	curl -s -b "$JAR" -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json' \
		-d "{\"action\":\"backup\",\"sections\":[$1]}" "$WEB/api/v1/runs"
}
run_id() { sed -n 's/.*"id": *"\([0-9]*\)".*/\1/p'; }
run_of() { get "/api/v1/runs/$1"; }
field() { run_of "$1" | jq_py "str(d.get('$2'))"; }
pool_stat() { get /api/v1/pools | jq_py "[str(p['workers'])+' '+str(p['queued'])+' '+str(p['running'])+' '+str(p['jobs']) for p in d['items'] if p['pool']=='$1'][0]"; }

# ---------------------------------------------------------------- bad input
out=$("$TISBACKUP" --gui-config "$GUI" worker --pool 'a b' 2>&1)
t_eq 2 "$?" "worker --pool with a bad name: usage error"
t_match "invalid pool name" "$out" "  ... saying why"
printf '[x]\ntype = null\nserver_name = h\npool = no/slash\n' >>"$TMPD/bad.ini"
cfg_global "$TMPD/badpool.ini"
cat "$TMPD/bad.ini" >>"$TMPD/badpool.ini"
tb_run -c "$TMPD/badpool.ini" -d backup
t_match "badpool.ini:[0-9]+: \[x\] pool: 'no/slash' is not a pool name" "$T_ERR$T_OUT" \
	"a bad pool key names file:line, section and key"
r=$(hcurl -b "$JAR" -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json' \
	-d '{"action":"backup","sections":["j00","j01"]}' "$WEB/api/v1/runs")
t_eq 400 "$(st_of "$r")" "a run of sections of two pools is refused (400)"
t_match 'several worker pools' "$(body_of "$r")" "  ... saying so"

# ---------------------------------------------------------------- no worker yet
ids=()
for i in $(seq -w 0 $((NJOBS - 1))); do ids+=("$(post_run "\"j$i\"" | run_id)"); done
t_eq "$NJOBS" "$(printf '%s\n' "${ids[@]}" | grep -c '^[0-9][0-9]*$')" "$NJOBS runs queued through the API"
t_eq "0 20 0 21" "$(pool_stat site-a)" "/api/v1/pools: site-a has 20 queued runs and no worker"
t_eq "0 20 0 20" "$(pool_stat site-b)" "/api/v1/pools: site-b too"
t_eq site-b "$(field "${ids[1]}" pool)" "a run carries its job's pool"
m=$(get /metrics)
t_match '^tisbackup_pool_workers\{pool="site-a"\} 0$' "$m" "/metrics: site-a has no live worker"
t_match '^tisbackup_pool_runs_queued\{pool="site-b"\} 20$' "$m" "/metrics: queued runs per pool"
t_match '^tisbackup_job_state\{backup_job="j01",server="127.0.0.1",type="rsync\+ssh",pool="site-b",state="never"\} 1$' \
	"$m" "/metrics: job series carry the pool label"

# ---------------------------------------------------------------- two workers
# worker_start NAME POOL ROOT: a `tisbackup worker` in the background; sets WPID.
worker_start() {
	"$TISBACKUP" --gui-config "$GUI" -b "$3" worker --pool "$2" >"$TMPD/$1.log" 2>&1 </dev/null &
	WPID=$!
	tb_track "$WPID"
}
rq() { redis-cli -p "$REDIS_PORT" "$@"; }
active() { get '/api/v1/runs?active=1' | jq_py 'len(d["items"])'; }
no_active() { [ "$(active)" = 0 ]; }
STALL=60
settled() { wait_progress "$STALL" 'get /api/v1/runs?limit=1000 | md5sum' "$@"; }
done_count() { get '/api/v1/runs?limit=1000' | jq_py "len([r for r in d['items'] if r['state']=='done'])"; }
at_least_done() { [ "$(done_count)" -ge "$1" ]; }

worker_start wa site-a "$ROOTA"
WA=$WPID
worker_start wb site-b "$ROOTB"
WB=$WPID
# Redis restarted while runs are in flight: nothing lost, nothing run twice.
settled at_least_done 6 || t_diag "done so far: $(done_count)"
redis_stop
redis_start || t_bail "redis did not come back"
t_ok "redis restarted mid-way" true
settled no_active || t_diag "still active: $(active)"

bad=0
wrong=0
for n in $(seq 0 $((NJOBS - 1))); do
	id=${ids[$n]}
	run=$(run_of "$id")
	st=$(jq_py 'd["state"]+" "+str(d["attempts"])+" "+(d.get("worker") or "")' <<<"$run")
	if [ "$(pool_of "$n")" = site-a ]; then want=$WA; else want=$WB; fi
	[[ $st == "done 1 "*":$want/"* ]] || {
		bad=1
		t_diag "run $id (j$n): $st, expected done 1 by $want"
	}
	j=j$(printf '%02d' "$n")
	if [ "$(pool_of "$n")" = site-a ]; then
		[ -d "$ROOTA/$j" ] && [ ! -e "$ROOTB/$j" ] || wrong=1
	else
		[ -d "$ROOTB/$j" ] && [ ! -e "$ROOTA/$j" ] || wrong=1
	fi
done
t_eq 0 "$bad" "every run done once, by the worker of its pool"
t_eq 0 "$wrong" "every job's backup is in its pool's worker root (-b), none in the other"
t_eq "$NJOBS|$NJOBS" "$(cq "SELECT count(*), count(DISTINCT backup_name) FROM stats WHERE status = 'OK' AND type = 'BACKUP'")" \
	"PostgreSQL catalog: exactly one OK row per job"
t_eq 0 "$(cq "SELECT count(*) FROM stats WHERE status <> 'OK'")" "no other row"
t_eq 20 "$(cq "SELECT count(*) FROM stats WHERE backup_location LIKE '$ROOTA/%'")" \
	"catalog: 20 backups located in root-a"
tb_run -c "$CONF" -s "$(seq -w 0 $((NJOBS - 1)) | sed 's/^/j/' | paste -sd,)" checknagios
t_rc 0 "checknagios over the 40 jobs"
t_match '^ALL backups OK' "$T_OUT" "checknagios: all OK"
t_eq "$NJOBS" "$(get /api/v1/jobs | jq_py "len([j for j in d['items'] if j['name'].startswith('j') and j['health']=='ok'])")" \
	"/api/v1/jobs: all 40 jobs, each healthy"
# The fleet view: every job the catalog knows, with the worker of its last run.
fleet=$(get /api/v1/fleet)
t_eq "$NJOBS" "$(jq_py "len([j for j in d['items'] if j['last_status']=='OK' and j['in_config']])" <<<"$fleet")" \
	"/api/v1/fleet: the 40 jobs, each with its last OK backup"
t_match ":$WB/" "$(jq_py "[j['worker'] for j in d['items'] if j['name']=='j01'][0]" <<<"$fleet")" \
	"/api/v1/fleet: j01's last run was on site-b's worker"
t_eq "site-a site-a" "$(jq_py "[j['pool']+' '+j['worker_pool'] for j in d['items'] if j['name']=='j00'][0]" <<<"$fleet")" \
	"/api/v1/fleet: j00's pool in the config and of its run"
t_eq "$(hostname) site-b" "$(jq_py "[str(j['host'])+' '+str(j['worker_pool']) for j in d['items'] if j['name']=='j01'][0]" <<<"$fleet")" \
	"/api/v1/fleet: j01's host and pool as its queued run recorded them (run_host)"
cq "INSERT INTO stats (backup_name, server_name, backup_start, backup_end, status, type) VALUES ('other-host-job', 'srv9', '2026-01-01 00:00:00', '2026-01-01 00:01:00', 'OK', 'BACKUP')" >/dev/null
fleet_other() { get /api/v1/fleet | jq_py "[str(j['in_config'])+' '+str(j['worker']) for j in d['items'] if j['name']=='other-host-job']" | grep -q "False None"; }
t_ok "/api/v1/fleet: a job of another configuration, no worker known" wait_until 10 fleet_other
workers_are() { [ "$(pool_stat "$1" | cut -d' ' -f1)" = "$2" ]; }
wait_until 30 workers_are site-a 1
t_eq "1 0 0 21" "$(pool_stat site-a)" "/api/v1/pools: site-a has its worker, nothing queued"

# ---------------------------------------------------------------- SIGKILL
touch "$TMPD/hold"
slow=$(post_run '"slow"' | run_id)
slow_running() { [ "$(field "$slow" state)" = running ] &&
	[ "$(cq "SELECT count(*) FROM stats WHERE backup_name = 'slow' AND status = 'Running'")" = 1 ]; }
settled slow_running || t_fail "the slow run started" "$(run_of "$slow")"
t_match ":$WA/" "$(field "$slow" worker)" "the slow run (site-a) runs on site-a's worker"
kill -9 "$WA"
wait "$WA" 2>/dev/null
# Its lease expires; site-b's worker sweeps it back to site-a's list, never takes it.
is_queued() { [ "$(field "$slow" state)" = queued ]; }
settled is_queued || t_fail "the killed worker's run is queued again" "$(run_of "$slow")"
t_eq 1 "$(rq LLEN tb:queued:site-a)" "  ... in site-a's pending list"
t_eq 0 "$(rq LLEN tb:queued:site-b)" "  ... not in site-b's"
t_eq "queued" "$(field "$slow" state)" "site-b's idle worker did not take it"
rm -f "$TMPD/hold"
worker_start wa2 site-a "$ROOTA"
WA2=$WPID
is_done() { [ "$(field "$slow" state)" = "done" ]; }
settled is_done
t_match "^done 2 .*:$WA2/" "$(run_of "$slow" | jq_py 'd["state"]+" "+str(d["attempts"])+" "+d["worker"]')" \
	"a new site-a worker finished it (second attempt)"
t_eq 1 "$(cq "SELECT count(*) FROM stats WHERE backup_name = 'slow' AND status = 'OK'")" \
	"the retried run recorded one OK row"
t_ok "site-a's backup in root-a" test -d "$ROOTA/slow"

# A worker stopping says so: its pool shows no live worker at once.
kill -TERM "$WB"
wait "$WB" 2>/dev/null
t_eq "0 0 0 20" "$(pool_stat site-b)" "SIGTERM'd site-b worker: no live worker in site-b"
metrics_has() { get /metrics | grep -Eq "$1"; }
t_ok "/metrics too" wait_until 10 metrics_has '^tisbackup_pool_workers\{pool="site-b"\} 0$' 
kill -TERM "$WA2"
wait "$WA2" 2>/dev/null
web_stop
t_done
