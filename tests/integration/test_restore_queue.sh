#!/usr/bin/env bash
# "Restore to host" through the queue (docs/restore.md "From the web UI",
# docs/web-api.md "POST runs"): a real `tisbackup serve` with its embedded
# worker (SQLite queue), a real rsync+ssh backup from the loopback sshd.
#  - POST /api/v1/runs {"action": "restore", "options": {...}}: a folder
#    of the backup to a local DIR and to HOST:DIR over ssh, equal to the
#    source (diff -r); a dry run (to a DIR, in place) changes nothing and
#    its log lists the changes; the RESTORE row names who queued it;
#  - bad options refused with 400 naming the field; in place without
#    "confirm" refused; a viewer gets 403; options for another action 400;
#  - options written straight into the queue (tb_queuectl), outside the
#    allow-list: the worker refuses the run, nothing is run;
#  - the same restore and refusal with [queue] backend = redis;
#  - the users' passwords are in no argv while all this runs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/web.sh"
tb_require curl python3 sqlite3 rsync ssh ssh-keygen diff redis-server redis-cli
tb_require_binary
tb_tmp
sshd_start

QUEUECTL=${TB_QUEUECTL:-$(dirname "$TISBACKUP")/tests/tb_queuectl}
[ -x "$QUEUECTL" ] || t_bail "no tb_queuectl at $QUEUECTL (set TB_QUEUECTL)"

SRC=$TMPD/src
make_tree "$SRC"
cfg_global "$CONF"
cfg_job "$CONF" files "$SRC"
tb_run -c "$CONF" -s files backup
t_rc 0 "the rsync+ssh backup is OK"
AT=$(snapshots "$BASE/files" | tail -n 1)
[ -n "$AT" ] || t_bail "no snapshot in $BASE/files"

# Unique passwords: other tests on this machine may use the usual ones.
PW_A="alice-$TB_ID-pw"
PW_V="victor-$TB_ID-pw"
web_config
web_user alice admin "$PW_A" || t_bail "tisbackup user add failed"
web_user victor viewer "$PW_V"
# Credentials from a file, so the test's own curl has no password in its argv.
printf 'machine 127.0.0.1 login alice password %s\n' "$PW_A" >"$TMPD/netrc.alice"
printf 'machine 127.0.0.1 login victor password %s\n' "$PW_V" >"$TMPD/netrc.victor"
printf '%s' "$PW_A" >"$TMPD/pw.alice"
A=(--netrc-file "$TMPD/netrc.alice")
V=(--netrc-file "$TMPD/netrc.victor")

# Every argv on the machine, sampled until the end (the passwords must be in none).
ARGV_LOG=$TMPD/argv.log
python3 -c '
import os, sys, time
seen = set()
out = open(sys.argv[1], "a")
while True:
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                a = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if a and a not in seen:
            seen.add(a)
            out.write(a + "\n")
            out.flush()
    time.sleep(0.05)
' "$ARGV_LOG" &
SAMPLER=$!
tb_track "$SAMPLER"

web_start

apost() { hcurl "${A[@]}" -X POST -H 'Content-Type: application/json' --data-binary "$1" "$WEB/api/v1/runs"; }
run_json() { curl -s "${A[@]}" "$WEB/api/v1/runs/$1"; }
run_ended() {
	local s
	s=$(run_json "$1" | jq_py 'd["state"]')
	[ "$s" = "done" ] || [ "$s" = failed ] || [ "$s" = cancelled ]
}
# queue_restore JSON-OPTIONS: POST a restore of files, wait for its end; RUN = its id.
queue_restore() {
	local r
	r=$(apost "{\"action\": \"restore\", \"sections\": [\"files\"], \"options\": $1}")
	RUN_ST=$(st_of "$r")
	RUN=$(body_of "$r" | jq_py 'd.get("id", "")')
	[ "$RUN_ST" = 202 ] || return 1
	wait_until 90 run_ended "$RUN"
}
state_of() { run_json "$1" | jq_py 'd["state"]+" "+str(d["exit_code"])'; }

# --- a folder to a local DIR -------------------------------------------------------
queue_restore "{\"at\": \"$AT\", \"paths\": [\"sub\"], \"to\": \"$TMPD/q1\"}"
t_eq 202 "$RUN_ST" "POST a restore of one folder to a DIR: 202"
t_eq "done 0" "$(state_of "$RUN")" "the run ends done, exit code 0"
t_eq "[\"--at=$AT\", \"--to=$TMPD/q1\", \"--path=sub\"]" "$(run_json "$RUN" | jq_py 'd["options"]')" \
	"the run shows its options as restore's command-line words"
t_ok "the restored folder equals the source (diff -r)" diff -r "$SRC/sub" "$TMPD/q1/sub"
t_eq "sub" "$(ls "$TMPD/q1")" "only the asked folder was restored"
t_eq "RESTORE OK" "$(last_row files TYPE) $(last_row files status)" "a RESTORE row, OK"
t_match "by alice \\(queue run $RUN\\)" "$(last_row files log)" \
	"the RESTORE row names who queued it and the run"
t_match "restore OK" "$(run_json "$RUN" | jq_py 'd["log"]')" "the run's log is the restore's output"

# --- a folder to HOST:DIR over ssh ---------------------------------------------------
queue_restore "{\"paths\": [\"dir with space\", \"sub/deeper\"], \"to\": \"127.0.0.1:$TMPD/q2\"}"
t_eq "done 0" "$(state_of "$RUN")" "a restore to HOST:DIR (two paths) ends done"
t_ok "HOST:DIR: the first folder equals the source" diff -r "$SRC/dir with space" "$TMPD/q2/dir with space"
t_ok "HOST:DIR: the second folder equals the source" diff -r "$SRC/sub/deeper" "$TMPD/q2/sub/deeper"

# --- the same request again while it is active is the same run; ended: a new one -----
r1=$(apost "{\"action\": \"restore\", \"sections\": [\"files\"], \"options\": {\"paths\": [\"sub\"], \"to\": \"$TMPD/q1\", \"replace\": true}}")
ID1=$(body_of "$r1" | jq_py 'd["id"]')
wait_until 90 run_ended "$ID1"
t_eq "done 0" "$(state_of "$ID1")" "replace: true passes --replace (done)"
t_ne "$RUN" "$ID1" "a restore with other options is a run of its own"

# --- dry runs change nothing -----------------------------------------------------------
queue_restore "{\"to\": \"$TMPD/q3\", \"dry_run\": true}"
t_eq "done 0" "$(state_of "$RUN")" "a dry run to a DIR ends done"
t_ok "the dry run created nothing" test ! -e "$TMPD/q3"
printf 'changed\n' >"$SRC/plain.txt"
rm "$SRC/sub/a.txt"
before=$(tree_list "$SRC")
nrows=$(csql "select count(*) from stats")
queue_restore '{"in_place": true, "dry_run": true}'
t_eq "done 0" "$(state_of "$RUN")" "an in-place dry run needs no confirmation and ends done"
log=$(run_json "$RUN" | jq_py 'd["log"]')
t_match 'plain\.txt' "$log" "its log lists a changed file"
t_match 'sub/a\.txt' "$log" "its log lists a deleted file"
t_eq "$before" "$(tree_list "$SRC")" "the in-place dry run changed nothing on the host"
t_eq "$nrows" "$(csql "select count(*) from stats")" "a dry run writes no catalog row"

# --- in place needs an explicit confirmation --------------------------------------------
r=$(apost '{"action": "restore", "sections": ["files"], "options": {"in_place": true}}')
t_eq "400 options.confirm" "$(st_of "$r") $(body_of "$r" | jq_py 'd["field"]')" \
	"in place without confirm: 400 naming options.confirm"
queue_restore '{"in_place": true, "confirm": true, "paths": ["sub", "plain.txt"]}'
t_eq "done 0" "$(state_of "$RUN")" "in place with confirm (--yes) ends done"
t_eq "hello" "$(cat "$SRC/plain.txt")" "in place: the changed file is back"
t_eq "a" "$(cat "$SRC/sub/a.txt")" "in place: the deleted file is back"

# --- bad requests: 400 naming the field; nothing queued -----------------------------------
nruns=$(curl -s "${A[@]}" "$WEB/api/v1/runs?limit=1000" | jq_py 'len(d["items"])')
bad() {
	local r
	r=$(apost "$1")
	t_eq "400 $2" "$(st_of "$r") $(body_of "$r" | jq_py 'd["field"]')" "refused, naming $2: $1"
}
R='"action": "restore", "sections": ["files"]'
bad "{$R, \"options\": {\"paths\": [\"../etc\"], \"to\": \"$TMPD/x\"}}" options.paths
bad "{$R, \"options\": {\"paths\": [\"sub/../../etc\"], \"to\": \"$TMPD/x\"}}" options.paths
bad "{$R, \"options\": {\"paths\": [\"a\\u0000b\"], \"to\": \"$TMPD/x\"}}" null
bad "{$R, \"options\": {\"paths\": \"sub\", \"to\": \"$TMPD/x\"}}" options.paths
bad "{$R, \"options\": {\"paths\": [\"a\\nb\"], \"to\": \"$TMPD/x\"}}" options.paths
bad "{$R, \"options\": {\"to\": \"relative/dir\"}}" options.to
bad "{$R, \"options\": {\"to\": \"-oProxyCommand=touch /tmp/x:/tmp/y\"}}" options.to
bad "{$R, \"options\": {\"to\": \"127.0.0.1:$TMPD/../etc\"}}" options.to
bad "{$R, \"options\": {\"to\": \"$TMPD/x\", \"in_place\": true, \"confirm\": true}}" options.to
bad "{$R, \"options\": {\"at\": \"yesterday\", \"to\": \"$TMPD/x\"}}" options.at
bad "{$R, \"options\": {\"db\": \"-x\"}}" options.db
bad "{$R, \"options\": {\"db\": \"x; drop\"}}" options.to_db
bad "{$R, \"options\": {\"db\": \"x\", \"to_db\": \"x; drop\"}}" options.to_db
bad "{$R, \"options\": {\"import_to\": \"-x\"}}" options.import_to
bad "{$R, \"options\": {\"import_to\": \"sr1\", \"to\": \"$TMPD/x\"}}" options.import_to
bad "{$R, \"options\": {\"dry_run\": \"yes\"}}" options.dry_run
bad "{$R, \"options\": {\"rsh\": \"sh\"}}" options.rsh
bad "{$R, \"options\": {\"to\": \"$TMPD/x\", \"confirm\": true}}" options.confirm
bad "{$R, \"options\": [\"--to=/x\"]}" options
bad '{"action": "backup", "sections": ["files"], "options": {"to": "/x"}}' options
bad "{\"action\": \"restore\", \"options\": {\"to\": \"$TMPD/x\"}}" sections
t_eq "$nruns" "$(curl -s "${A[@]}" "$WEB/api/v1/runs?limit=1000" | jq_py 'len(d["items"])')" \
	"no refused request was queued"
t_ok "no refused request wrote anything" test ! -e "$TMPD/x"

# --- a viewer may not restore ---------------------------------------------------------------
r=$(hcurl "${V[@]}" -X POST -H 'Content-Type: application/json' \
	--data-binary "{$R, \"options\": {\"to\": \"$TMPD/v\"}}" "$WEB/api/v1/runs")
t_eq 403 "$(st_of "$r")" "a viewer POSTing a restore: 403"
# A session without its CSRF token is refused like any other POST.
curl -s -o /dev/null -c "$TMPD/jar" --data-urlencode username=alice \
	--data-urlencode "password@$TMPD/pw.alice" --data-urlencode next=/ "$WEB/login"
t_match tb_session "$(cat "$TMPD/jar")" "alice logs in (a session cookie)"
r=$(hcurl -b "$TMPD/jar" -X POST -H 'Content-Type: application/json' \
	--data-binary "{$R, \"options\": {\"to\": \"$TMPD/v\"}}" "$WEB/api/v1/runs")
t_eq 403 "$(st_of "$r")" "a session POST without X-CSRF-Token: 403"
t_ok "neither wrote anything" test ! -e "$TMPD/v"

# --- the worker checks again what was written straight into the queue --------------------------
CATDIR=$BASE/log
direct() {
	local out
	out=$("$QUEUECTL" "$GUI" "$CATDIR" enqueue "$CONF" restore files - "$@") || return 1
	RUN=${out%% *}
	wait_until 90 run_ended "$RUN"
}
direct "--to=$TMPD/d1" "--rsh=touch $TMPD/pwned"
t_eq "failed" "$(run_json "$RUN" | jq_py 'd["state"]')" "an option outside the allow-list: the run fails"
t_match "refused: option '--rsh=touch" "$(run_json "$RUN" | jq_py 'd["error"]')" \
	"the error names the refused option"
direct "--to=$TMPD/d1" "--path=../../etc"
t_match "refused: --path=../../etc" "$(run_json "$RUN" | jq_py 'd["error"]')" \
	"a value outside what the API accepts: refused by the worker too"
direct "--to=$TMPD/d1" "--yes"
YESRUN=$RUN
t_match "refused: --yes confirms an --in-place" "$(run_json "$RUN" | jq_py 'd["error"]')" \
	"--yes without --in-place: refused"
"$QUEUECTL" "$GUI" "$CATDIR" enqueue "$CONF" backup files - "--to=$TMPD/d1" >/dev/null
RUN=$(curl -s "${A[@]}" "$WEB/api/v1/runs?limit=1" | jq_py 'd["items"][0]["id"]')
wait_until 90 run_ended "$RUN"
t_match "refused: only a restore takes options" "$(run_json "$RUN" | jq_py 'd["error"]')" \
	"options on another action: refused"
sqlite3 "$CATDIR/tisbackup-queue.sqlite" \
	"UPDATE queue_runs SET state = 'queued', options = '[\"--to=$TMPD/d1\", 1]', worker = NULL, finished = 0 WHERE id = $YESRUN" ||
	t_bail "could not rewrite the run"
wait_until 90 run_ended "$YESRUN"
t_match "refused: option '\\(unreadable options" "$(run_json "$YESRUN" | jq_py 'd["error"]')" \
	"damaged stored options: refused, never run without them"
t_ok "no refused run wrote anything" test ! -e "$TMPD/d1"
t_ok "no refused run ran a command" test ! -e "$TMPD/pwned"
t_ok "no injected command ran" no_markers

# --- the same through a Redis queue -------------------------------------------------------
web_stop
cp "$TMPD/serve.err" "$TMPD/serve-sqlite.err"
redis_start || t_bail "could not start redis-server"
web_config "queue.backend = redis" "queue.redis_url = $REDIS_URL"
web_start
queue_restore "{\"paths\": [\"sub\"], \"to\": \"127.0.0.1:$TMPD/rr\"}"
t_eq "done 0" "$(state_of "$RUN")" "Redis queue: a restore to HOST:DIR ends done"
t_ok "Redis queue: the restored folder equals the source (diff -r)" diff -r "$SRC/sub" "$TMPD/rr/sub"
t_eq "[\"--to=127.0.0.1:$TMPD/rr\",\"--path=sub\"]" \
	"$(redis-cli -p "$REDIS_PORT" HGET "tb:run:$RUN" options)" "Redis queue: the run hash holds its options"
direct "--to=$TMPD/rd" "--rsh=touch $TMPD/pwned"
t_match "refused: option '--rsh=touch" "$(run_json "$RUN" | jq_py 'd["error"]')" \
	"Redis queue: the worker refuses an option outside the allow-list"
t_ok "Redis queue: the refused run wrote nothing" test ! -e "$TMPD/rd"
web_stop
kill "$SAMPLER" && wait "$SAMPLER" 2>/dev/null
t_eq "" "$(grep -e "$PW_A" -e "$PW_V" "$ARGV_LOG")" \
	"no password in any argv sampled during the test ($(grep -c . "$ARGV_LOG") distinct)"
t_num_ge 1 "$(grep -c -E -e '--to=.* restore ?$' "$ARGV_LOG")" "the sampling saw the worker's restore children"
# Under ASan/UBSan a report from serve (the API, the worker) would go unnoticed otherwise.
t_nomatch 'Sanitizer|runtime error:' "$(cat "$TMPD/serve-sqlite.err" "$TMPD/serve.err")" \
	"no sanitizer report from either serve"
t_done
