# shellcheck shell=bash
#
# Helpers for the tests of `tisbackup serve`, sourced after lib.sh:
#   web_config [gui-key=value...]  writes $GUI (tisbackup_gui.ini) for $CONF
#   web_user NAME ROLE PASSWORD    adds a user with `tisbackup user add`
#   web_start / web_stop           the server on a free loopback port ($WEB)
#   web_login NAME PASSWORD JAR    logs in, cookie in JAR; sets CSRF
#   hcurl ARGS...                  curl printing "STATUS\n" then the body
#   jq_py EXPR                     evaluates a python expression on stdin's JSON (as `d`)
#   fill_catalog N                 inserts N BACKUP rows with sqlite3 (100 jobs)
#   web_conf_jobs N                writes $CONF: nulljob + job000..job(N-1) (rsync+ssh)

WEB_PID=
WEB=
GUI=

# web_config [EXTRA_LINE...]: [general]/[web]/[auth] for $CONF; extra lines
# are "section.key = value".
web_config() {
	tb_tmp
	WEB_PORT=$(free_port)
	WEB=http://127.0.0.1:$WEB_PORT
	GUI=$TMPD/tisbackup_gui.ini
	local web=() auth=() queue=() kv
	for kv in "$@"; do
		case $kv in
		web.*) web+=("${kv#web.}") ;;
		auth.*) auth+=("${kv#auth.}") ;;
		queue.*) queue+=("${kv#queue.}") ;;
		esac
	done
	{
		echo "[general]"
		echo "config_tisbackup = $CONF"
		echo "base_config_dir = $TMPD"
		echo
		echo "[web]"
		echo "listen = 127.0.0.1:$WEB_PORT"
		printf '%s\n' "${web[@]}"
		echo
		echo "[auth]"
		echo "users_file = $TMPD/users"
		printf '%s\n' "${auth[@]}"
		echo
		echo "[queue]"
		printf '%s\n' "${queue[@]}"
		echo
		echo "[scheduler]"
		echo "enabled = no"
	} >"$GUI"
}

web_user() {
	printf '%s\n' "$3" | "$TISBACKUP" --gui-config "$GUI" user add "$1" --role "$2" >/dev/null 2>&1
}

web_up() {
	curl -s -o /dev/null "$WEB/api/v1/health"
}

# web_start: serve on $WEB_PORT; when serve could not listen there (a test
# beside this one took the port: free_port reserves nothing), on another
# free port, written into $GUI, $WEB_PORT and $WEB.
web_start() {
	local i port
	for i in 1 2 3 4 5; do
		"$TISBACKUP" --gui-config "$GUI" serve >"$TMPD/serve.out" 2>"$TMPD/serve.err" &
		WEB_PID=$!
		tb_track "$WEB_PID"
		# Up when serve itself holds the port (port_open or a health
		# answer may come from another test's server on the same port).
		wait_until 10 eval '! kill -0 "$WEB_PID" 2>/dev/null || { tb_listens "$WEB_PID" "$WEB_PORT" && web_up; }'
		if kill -0 "$WEB_PID" 2>/dev/null; then
			tb_listens "$WEB_PID" "$WEB_PORT" && web_up && return 0
			break
		fi
		wait "$WEB_PID" 2>/dev/null
		grep -q 'cannot listen on' "$TMPD/serve.err" || break
		port=$(free_port) || break
		sed -i "s|^listen = \(.*\):$WEB_PORT\$|listen = \\1:$port|" "$GUI"
		WEB=${WEB/:$WEB_PORT/:$port}
		WEB_PORT=$port
	done
	cat "$TMPD/serve.err" >&2
	t_bail "serve did not start"
}

# Stop with SIGTERM; returns serve's exit code.
web_stop() {
	[ -n "$WEB_PID" ] || return 0
	kill -TERM "$WEB_PID" 2>/dev/null
	local st=0
	wait "$WEB_PID" || st=$?
	WEB_PID=
	return $st
}

# hcurl ARGS...: prints the status code on the first line, then the body.
# The 60 s limit only catches a hung server: a first Basic login verifies
# an Argon2 hash, which under ASan beside a CPU hog took over 10 s.
hcurl() {
	local out
	out=$(curl -s -w '\n%{http_code}' --max-time 60 "$@")
	printf '%s\n' "${out##*$'\n'}"
	printf '%s' "${out%$'\n'*}"
}

# stale_answers N URL EXPR WANT: N requests for URL at once (cookie jar
# $JAR); prints how many answered a body whose EXPR (jq_py) is not WANT.
stale_answers() {
	local n=$1 url=$2 expr=$3 want=$4 j bad=0 pids=()
	for ((j = 1; j <= n; j++)); do
		hcurl -b "$JAR" "$url" >"$TMPD/par.$j" &
		pids+=($!)
	done
	wait "${pids[@]}"
	for ((j = 1; j <= n; j++)); do
		[ "$(tail -n +2 "$TMPD/par.$j" | jq_py "$expr" 2>/dev/null)" = "$want" ] ||
			bad=$((bad + 1))
	done
	echo "$bad"
}

# status of hcurl output / body of hcurl output
st_of() { printf '%s\n' "$1" | head -n 1; }
body_of() { printf '%s\n' "$1" | tail -n +2; }

# backups_walk QFUNC QUERY OUT [HOOK]: every page of /api/v1/backups?QUERY
# through QFUNC (a function that GETs its argument's query string),
# following each answer's next cursor (after=) until it is null: one line
# "backup_name backup_start status" per item into OUT. HOOK, when given,
# runs once after the first page (rows added while walking).
backups_walk() {
	local qf=$1 qs=$2 out=$3 hook=${4:-} after='' page
	: >"$out"
	while :; do
		page=$("$qf" "$qs${after:+&after=$after}")
		printf '%s\n' "$page" | jq_py '"\n".join(i["backup_name"]+" "+str(i["backup_start"])+" "+i["status"] for i in d["items"])' |
			sed '/^$/d' >>"$out"
		after=$(printf '%s\n' "$page" | jq_py 'd["next"] or ""')
		[ -n "$after" ] || break
		[ -z "$hook" ] || { "$hook"; hook=; }
	done
}

# jq_py EXPR: print the python expression EXPR over the JSON on stdin (d).
jq_py() {
	python3 -c 'import json,sys
d=json.load(sys.stdin)
r=eval(sys.argv[1])
print(json.dumps(r) if not isinstance(r,str) else r)' "$1"
}

# web_login NAME PASSWORD JAR: session cookie into JAR, CSRF token into $CSRF.
web_login() {
	rm -f "$3"
	curl -s -o /dev/null -c "$3" --data-urlencode "username=$1" --data-urlencode "password=$2" \
		--data-urlencode "next=/" "$WEB/login"
	CSRF=$(curl -s -b "$3" "$WEB/api/v1/session" | jq_py 'd["csrf"]')
}

# fill_catalog N: N BACKUP rows over 100 jobs job000..job099 (every tenth
# ERROR), one a minute back from now, in one sqlite3 transaction. $CONF
# must have a null job called nulljob.
fill_catalog() {
	local n=$1
	mkdir -p "$BASE/log"
	# A backup of the null job creates the catalog as tisbackup does.
	[ -f "$CATALOG" ] || "$TISBACKUP" -c "$CONF" backup -s nulljob >/dev/null 2>&1
	sqlite3 "$CATALOG" >/dev/null <<SQL
PRAGMA journal_mode=WAL;
BEGIN;
WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < $n - 1)
INSERT INTO stats (backup_name, server_name, description, backup_start, backup_end,
  backup_duration, total_files_count, written_files_count, total_bytes, written_bytes,
  status, log, backup_location, TYPE)
SELECT printf('job%03d', i % 100), printf('srv%03d', i % 100), '',
  strftime('%Y-%m-%dT%H:%M:%f000', 'now', 'localtime', printf('-%d seconds', (i * 60))),
  strftime('%Y-%m-%dT%H:%M:%f000', 'now', 'localtime', printf('-%d seconds', (i * 60) - 30)),
  30.0 / 3600, 1000 + i, 10 + (i % 7), 1000000 + i, 5000 + i,
  CASE WHEN i % 10 = 9 THEN 'ERROR' ELSE 'OK' END,
  'rsync: ' || i || ' files', '/nonexistent/' || i, 'BACKUP'
FROM seq;
COMMIT;
SQL
}

# web_conf_jobs N: $CONF with a null job and N rsync+ssh jobs job000...
web_conf_jobs() {
	tb_tmp
	local i
	: >"$TMPD/id_none"
	cfg_global "$CONF"
	{
		printf '[nulljob]\ntype = null\nserver_name = localhost\n\n'
		for ((i = 0; i < $1; i++)); do
			printf '[job%03d]\ntype = rsync+ssh\nserver_name = srv%03d\n' "$i" "$i"
			printf 'remote_dir = /srv/data%d\nprivate_key = %s\n\n' "$i" "$TMPD/id_none"
		done
	} >>"$CONF"
}

# cache_counts JAR KIND: serve's response-cache counters for answers of
# KIND (/metrics, tisbackup_web_cache_*_total{kind="KIND"}) as
# "BUILDS SHARED HITS".
cache_counts() {
	curl -s --max-time 10 -b "$1" "$WEB/metrics" | awk -v k="{kind=\"$2\"}" '
		$1 == "tisbackup_web_cache_builds_total" k { b = $2 }
		$1 == "tisbackup_web_cache_shared_total" k { s = $2 }
		$1 == "tisbackup_web_cache_hits_total" k { h = $2 }
		END { print b + 0, s + 0, h + 0 }'
}
