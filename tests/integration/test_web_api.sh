#!/usr/bin/env bash
# tisbackup serve: every compatible endpoint's JSON shape, the REST API's
# filters, paging, totals and input errors, /metrics, escaping of catalog
# text in HTML, and a backup run through POST /api/v1/runs. A real server
# on a free loopback port, a catalog with rows inserted by sqlite3 and
# written by real backups.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/web.sh"
tb_require curl python3 sqlite3 rsync ssh ssh-keygen
tb_require_binary
tb_tmp
sshd_start

web_conf_jobs 5
# One job that really backs up, from our sshd.
SRC=$TMPD/src
mkdir -p "$SRC/sub"
echo one >"$SRC/a.txt"
echo two >"$SRC/sub/b.txt"
cfg_job "$CONF" live "$SRC"
# Holds serve's only worker ([queue] workers = 1) while the queue tests run:
# its preexec waits (at most 120 s) for the gate file the test creates when
# it is done with them, so a loaded machine cannot end it early.
GATE=$TMPD/slow.gate
cfg_job "$CONF" slow "$SRC" "preexec = timeout 120 sh -c 'until [ -e $GATE ]; do sleep 0.1; done'"
fill_catalog 1000
# A log with markup, in the newest row of job001.
sqlite3 "$CATALOG" "UPDATE stats SET log = '<script>alert(1)</script> & done',
  backup_start = strftime('%Y-%m-%dT%H:%M:%f000', 'now', 'localtime', '+1 seconds')
  WHERE rowid = (SELECT max(rowid) FROM stats WHERE backup_name = 'job001')"
sqlite3 "$CATALOG" "UPDATE stats SET status = 'ERROR'
  WHERE rowid = (SELECT rowid FROM stats WHERE backup_name = 'job004' ORDER BY backup_start DESC LIMIT 1)"
# Two export rows and one old BACKUP row at a fixed date.
sqlite3 "$CATALOG" "INSERT INTO stats (backup_name, server_name, backup_start, backup_end,
  backup_duration, status, log, TYPE) VALUES
  ('job002', 'srv002', '2020-01-15T10:00:00.000000', '2020-01-15T10:01:00.000000', 0.01, 'OK', 'x', 'EXPORT'),
  ('job002', 'srv002', '2020-01-16T10:00:00.000000', '2020-01-16T10:01:00.000000', 0.01, 'OK', 'x', 'EXPORT'),
  ('job003', 'srv003', '2020-01-15T12:00:00.000000', '2020-01-15T12:30:00.000000', 0.5, 'OK', 'old', 'BACKUP')"

# A second config for /config_number and /all_json.
CONF2=$TMPD/second.ini
cfg_global "$CONF2"
printf '[other]\ntype = null\nserver_name = elsewhere\n' >>"$CONF2"
# A bearer token for Prometheus scrapers (0640: not world-readable).
TOKEN=scrape-token-0123456789abcdef
printf '%s\n' "$TOKEN" >"$TMPD/metrics.token"
chmod 0640 "$TMPD/metrics.token"
web_config 'queue.workers = 1' "web.metrics_token_file = $TMPD/metrics.token"
sed -i "s|^config_tisbackup = .*|config_tisbackup = $CONF,$CONF2|" "$GUI"

web_user alice admin 'alice-pw-1' || t_bail "tisbackup user add failed"
web_user victor viewer 'victor-pw-1'
web_start
A=(-u alice:alice-pw-1)
# Only the alert senders use libcurl, in the processes that finish jobs.
t_not "serve does not map libcurl (loaded on first use)" grep -q libcurl "/proc/$WEB_PID/maps"

# --- health and session --------------------------------------------------
r=$(hcurl "$WEB/api/v1/health")
t_eq 200 "$(st_of "$r")" "anonymous health answers"
t_eq '{"status": "ok"}' "$(body_of "$r" | jq_py 'd')" "anonymous health says only ok"
r=$(hcurl "${A[@]}" "$WEB/api/v1/health")
t_eq '0.1.0 ok' "$(body_of "$r" | jq_py 'd["version"]+" "+d["queue"]')" "authenticated health has version and queue"
t_eq 0 "$(body_of "$r" | jq_py 'd["config_reloads"]')" "authenticated health counts the config reloads (none yet)"
JAR=$TMPD/jar
web_login alice alice-pw-1 "$JAR"
r=$(hcurl -b "$JAR" "$WEB/api/v1/session")
t_eq 'alice admin 43' "$(body_of "$r" | jq_py 'd["user"]+" "+d["role"]+" "+str(len(d["csrf"]))')" "session: user, role and a CSRF token"

# --- compatible endpoints --------------------------------------------------
r=$(hcurl "${A[@]}" "$WEB/json")
t_eq 200 "$(st_of "$r")" "/json answers"
t_eq '[["srv000", "job000", "rsync+ssh", "/srv/data0"], ["srv001", "job001", "rsync+ssh", "/srv/data1"]]' \
	"$(body_of "$r" | jq_py 'd[:2]')" "/json: [server, name, type, dir], rsync+ssh jobs in config order"
t_eq '["localhost", "nulljob", "null", ""]' "$(body_of "$r" | jq_py 'd[-1]')" \
	"/json: null jobs after rsync+ssh ones, as the original groups them"
t_eq 8 "$(body_of "$r" | jq_py 'len(d)')" "/json lists every job"
r=$(hcurl "${A[@]}" "$WEB/all_json")
t_eq 9 "$(body_of "$r" | jq_py 'len(d)')" "/all_json covers both config files of base_config_dir"
t_match '"other"' "$(body_of "$r")" "/all_json has the second config's job"
# A third config as editors leave them: a byte order mark, trailing spaces
# and CRLF on its [global] line; jobs the original groups, or leaves out.
CONF3=$TMPD/third.ini
{
	printf '\xef\xbb\xbf[global]  \r\nbackup_base_dir = %s\r\nbackup_retention_time = 30\r\n' "$BASE"
	printf 'maximum_backup_age = 30\r\n\r\n'
	printf '[dc1]\r\ntype = samba4\r\nserver_name = dc1\r\nprivate_key = %s\r\n\r\n' "$TMPD/id_none"
	printf '[my1]\r\ntype = mysql+ssh\r\nserver_name = db1\r\ndb_user = root\r\ndb_passwd = x\r\n'
	printf 'private_key = %s\r\n\r\n' "$TMPD/id_none"
	printf '[pg1]\r\ntype = pgsql+ssh\r\nserver_name = db2\r\ndb_name = app\r\nprivate_key = %s\r\n\r\n' "$TMPD/id_none"
	printf '[files3]\r\ntype = rsync+ssh\r\nserver_name = fs3\r\nremote_dir = /home\r\n'
	printf 'private_key = %s\r\n' "$TMPD/id_none"
} >"$CONF3"
t_ok "the third config is valid" "$TISBACKUP" -c "$CONF3" -s pg1 -d backup
r=$(hcurl "${A[@]}" "$WEB/all_json")
t_eq '12 files3 pg1 my1 * other' "$(body_of "$r" | jq_py '" ".join([str(len(d)), d[0][1], d[8][1], d[9][1], d[9][3], d[10][1]])')" \
	"/all_json: a [global] line with a BOM and trailing spaces counts; rsync+ssh, pgsql, mysql (no db_name: *), null; samba4 left out"
rm -f "$CONF3"

r=$(hcurl "${A[@]}" "$WEB/backups.json")
t_eq 200 "$(st_of "$r")" "/backups.json answers"
t_eq 1001 "$(body_of "$r" | jq_py 'len(d)')" "/backups.json: every BACKUP row (EXPORT rows excluded)"
t_eq '["TYPE", "backup_duration", "backup_end", "backup_location", "backup_name", "backup_start", "description", "log", "server_name", "status", "total_bytes", "total_files_count", "written_bytes", "written_files_count"]' \
	"$(body_of "$r" | jq_py 'sorted(d[0].keys())')" "/backups.json rows are keyed by the catalog columns"
t_eq true "$(body_of "$r" | jq_py 'all(d[i]["backup_start"] >= d[i+1]["backup_start"] for i in range(len(d)-1))')" \
	"/backups.json is newest first"
t_eq 'job001' "$(body_of "$r" | jq_py 'd[0]["backup_name"]')" "newest row first"
t_match '^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:.]+$' "$(body_of "$r" | jq_py 'd[0]["backup_start"]')" \
	"/backups.json keeps the catalog's times as stored (no offset: SPEC §11)"

plain=$(curl -s "${A[@]}" "$WEB/backups.json" | md5sum)
enc=$(curl -s -D - -o "$TMPD/gz" "${A[@]}" -H 'Accept-Encoding: gzip' "$WEB/backups.json" | tr -d '\r')
t_match '^Content-Encoding: gzip$' "$enc" "a cached /backups.json is sent gzipped to clients that accept it"
t_eq "$plain" "$(gzip -dc "$TMPD/gz" | md5sum)" "the gzipped body is the same JSON"

r=$(hcurl "${A[@]}" "$WEB/last_backups")
t_eq 200 "$(st_of "$r")" "/last_backups answers"
t_eq 20 "$(body_of "$r" | grep -c '^<tr><td>')" "/last_backups: the last 20 BACKUP rows"
t_match '&lt;script&gt;alert\(1\)&lt;/script&gt; &amp; done' "$(body_of "$r")" "a log with <script> is escaped"
t_nomatch '<script>alert' "$(body_of "$r")" "no raw <script> from the catalog"
t_match 'id="totals">Total duration: 10 min 00 s \(0.1667 h\), written: [0-9]+ bytes' "$(body_of "$r")" "/last_backups totals duration (readable, and in hours) and written bytes"
t_match '<td title="0\.[0-9]{4} h">[0-9]+ (s|min [0-9]{2} s)</td>' "$(body_of "$r")" "/last_backups: durations readable, the hours in the title"

r=$(hcurl "${A[@]}" "$WEB/status.json")
t_eq 200 "$(st_of "$r")" "/status.json answers"
t_eq '[[], true, ""]' "$(body_of "$r" | jq_py '[d["data"], d["finish"], d["error"]]')" \
	"/status.json with no export: no data, finished, no error"
r=$(hcurl "${A[@]}" "$WEB/export_backup")
t_eq 200 "$(st_of "$r")" "/export_backup page answers"
t_match 'value="job004"' "$(body_of "$r")" "/export_backup lists the sections"

r=$(hcurl -b "$JAR" "$WEB/config_number/1")
t_eq '{"configs": ["'"$CONF"'", "'"$CONF2"'"], "config_number": 1}' "$(body_of "$r" | jq_py 'd')" \
	"/config_number/1 returns configs and the number"
t_eq '[["elsewhere", "other", "null", ""]]' "$(curl -s -b "$JAR" "$WEB/json" | jq_py 'd')" \
	"/json follows the session's config"
t_eq 8 "$(curl -s "${A[@]}" "$WEB/json" | jq_py 'len(d)')" "another client still sees config 0"
t_eq '{"configs": ["'"$CONF"'", "'"$CONF2"'"], "config_number": 1}' \
	"$(curl -s -b "$JAR" "$WEB/config_number/" | jq_py 'd')" "/config_number/ (no number, as the original's page calls it): the current config"
r=$(hcurl -b "$JAR" "$WEB/config_number/7")
t_eq '400 config_number' "$(st_of "$r") $(body_of "$r" | jq_py 'd["field"]')" "/config_number out of range: 400"
r=$(hcurl -b "$JAR" -H "X-CSRF-Token: $CSRF" -H 'Content-Type: application/json' \
	-d '{"config_number": 0}' "$WEB/api/v1/configs/current")
t_eq '200 0' "$(st_of "$r") $(body_of "$r" | jq_py 'd["current"]')" "POST /api/v1/configs/current switches back"
t_eq 2 "$(curl -s -b "$JAR" "$WEB/api/v1/configs" | jq_py 'len(d["configs"])')" "/api/v1/configs lists both"

# --- jobs ------------------------------------------------------------------
r=$(hcurl "${A[@]}" "$WEB/api/v1/jobs")
t_eq 200 "$(st_of "$r")" "/api/v1/jobs answers"
t_eq '["age_hours", "cleanup_schedule", "db_dump", "health", "health_message", "last_attempt_failed", "last_duration_s", "last_end", "last_error", "last_ok_end", "last_start", "last_status", "last_total_bytes", "last_verify", "last_written_bytes", "maximum_backup_age", "name", "next_cleanup", "next_run", "no_data", "progress", "schedule", "server_name", "single_file", "target", "type"]' \
	"$(body_of "$r" | jq_py 'sorted(d["items"][0].keys())')" "job objects have api.md's fields"
t_eq 'job001 OK 30 30' "$(body_of "$r" | jq_py '" ".join(str(x) for x in [d["items"][2]["name"], d["items"][2]["last_status"], d["items"][2]["last_duration_s"], d["items"][2]["maximum_backup_age"]])')" \
	"job001: last status, duration in seconds, max age"
t_eq 'ERROR critical' "$(body_of "$r" | jq_py '" ".join([[j["last_status"], j["health"]] for j in d["items"] if j["name"]=="job004"][0])')" \
	"a job whose last row failed: ERROR, and critical (its backups are gone from disk)"
ISO_TZ='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?[+-][0-9]{2}:[0-9]{2}$'
t_match "$ISO_TZ" "$(body_of "$r" | jq_py 'd["items"][2]["last_start"]')" "API times carry their UTC offset: last_start"
t_match "$ISO_TZ" "$(body_of "$r" | jq_py 'd["items"][2]["last_ok_end"]')" "... and last_ok_end"
t_eq nulljob "$(body_of "$r" | jq_py '" ".join(j["name"] for j in d["items"] if j["no_data"])')" \
	"no_data: true for the null job only (nothing to back up)"
r=$(hcurl "${A[@]}" "$WEB/api/v1/jobs/job001")
t_eq 200 "$(st_of "$r")" "/api/v1/jobs/NAME answers"
t_eq '10 True' "$(body_of "$r" | jq_py 'str(len(d["history"]))+" "+str(d["history"][0]["start"] < d["history"][-1]["start"])')" \
	"history: the job's rows, oldest first"
t_eq '<script>alert(1)</script> & done' "$(body_of "$r" | jq_py 'd["last_log"]')" "last_log is the newest row's log"
r=$(hcurl "${A[@]}" "$WEB/api/v1/jobs/nope")
t_eq 404 "$(st_of "$r")" "unknown job: 404"

# --- backups: filters, paging, totals, errors -------------------------------
q() { curl -s "${A[@]}" "$WEB/api/v1/backups?$1"; }
t_match "$ISO_TZ" "$(q 'limit=1' | jq_py 'd["items"][0]["backup_start"]')" "/api/v1/backups: times with their UTC offset"
t_eq '100 1001 100 0' "$(q '' | jq_py '" ".join(str(x) for x in [len(d["items"]), d["total"], d["limit"], d["offset"]])')" \
	"default: 100 newest BACKUP rows, total of all"
t_eq '10 10' "$(q 'job=job005' | jq_py 'str(d["total"])+" "+str(len(d["items"]))')" "job filter"
t_eq '101 ERROR' "$(q 'status=ERROR&limit=1000' | jq_py 'str(d["total"])+" "+",".join(set(i["status"] for i in d["items"]))')" \
	"status filter"
t_eq '2 EXPORT' "$(q 'type=EXPORT' | jq_py 'str(d["total"])+" "+d["items"][0]["TYPE"]')" "type filter"
t_eq '1 old' "$(q 'since=2020-01-15&until=2020-01-15' | jq_py 'str(d["total"])+" "+d["items"][0]["log"]')" \
	"since/until dates (until inclusive of the day)"
t_eq 0 "$(q 'since=2020-01-15%2012:00:01&until=2020-01-16' | jq_py 'd["total"]')" "since with a time"
t_eq "$(q '' | jq_py 'd["total"]')" "$(q 'since=0026-01-01&until=9999-12-31' | jq_py 'd["total"]')" \
	"since=0026-01-01 and until=9999-12-31 (years outside 1000-9999) filter nothing out"
p1=$(q 'limit=5&offset=0' | jq_py '[i["backup_start"] for i in d["items"]]')
p2=$(q 'limit=5&offset=5' | jq_py '[i["backup_start"] for i in d["items"]]')
p12=$(q 'limit=10' | jq_py '[i["backup_start"] for i in d["items"]]')
t_eq "$p12" "$(python3 -c "import json,sys; print(json.dumps(json.loads(sys.argv[1])+json.loads(sys.argv[2])))" "$p1" "$p2")" \
	"paging: two pages of 5 are the first 10"
t_eq '0 1001' "$(q 'offset=5000' | jq_py 'str(len(d["items"]))+" "+str(d["total"])')" "offset past the end: no items, same total"
for bad in 'limit=0:limit' 'limit=1001:limit' 'limit=abc:limit' 'offset=-1:offset' \
	'since=2020-13-01:since' 'until=2020-02-30:until' 'since=yesterday:since' \
	'type=FOO:type' "job=a'b:job"; do
	r=$(hcurl "${A[@]}" "$WEB/api/v1/backups?${bad%%:*}")
	t_eq "400 ${bad##*:}" "$(st_of "$r") $(body_of "$r" | jq_py 'd["field"]')" "bad ${bad%%:*}: 400 naming the field"
done

# --- backups: keyset paging (next / after=) -----------------------------------
# The whole list by offset, then walked by cursor, 37 rows a page, while
# a newer row is added after the first page: every row once, in order,
# and the new one not (it sorts before the cursor).
{ q 'limit=1000' | jq_py '"\n".join(i["backup_name"]+" "+str(i["backup_start"])+" "+i["status"] for i in d["items"])'
  q 'limit=1000&offset=1000' | jq_py '"\n".join(i["backup_name"]+" "+str(i["backup_start"])+" "+i["status"] for i in d["items"])'; } |
	sed '/^$/d' >"$TMPD/by_offset"
t_eq 1001 "$(wc -l <"$TMPD/by_offset")" "the list by offset: every BACKUP row"
add_newer() {
	sqlite3 "$CATALOG" "INSERT INTO stats (backup_name, server_name, backup_start, status, TYPE)
	  VALUES ('job000', 'srv000', strftime('%Y-%m-%dT%H:%M:%f000', 'now', 'localtime', '+1 hours'), 'OK', 'BACKUP')"
}
backups_walk q 'limit=37' "$TMPD/walked" add_newer
t_eq "" "$(diff "$TMPD/by_offset" "$TMPD/walked")" \
	"walking next cursors (a row added meanwhile): every row exactly once, in order"
t_eq 1002 "$(q 'limit=1' | jq_py 'd["total"]')" "... and the added row is there for a new walk"
t_eq null "$(q 'limit=1000&offset=1000' | jq_py 'd["next"]')" "the last page: next is null"
# Rows without a backup_start come last; a cursor walks into and through them.
sqlite3 "$CATALOG" "INSERT INTO stats (backup_name, server_name, backup_start, status, TYPE) VALUES
  ('job001', 'srv001', NULL, 'WALK', 'BACKUP'), ('job002', 'srv002', NULL, 'WALK', 'BACKUP'),
  ('job003', 'srv003', '2021-01-01T00:00:00.000000', 'WALK', 'BACKUP'),
  ('job004', 'srv004', '2021-01-01T00:00:00.000000', 'WALK', 'BACKUP')"
backups_walk q 'status=WALK&limit=1' "$TMPD/walked"
t_eq "$(q 'status=WALK' | jq_py '"\n".join(i["backup_name"]+" "+str(i["backup_start"])+" "+i["status"] for i in d["items"])')" \
	"$(cat "$TMPD/walked")" "one row a page through equal starts and NULL starts: the same rows, in order"
t_eq 'job004 job003 job002 job001' "$(cut -d' ' -f1 "$TMPD/walked" | xargs)" \
	"equal starts newest rowid first, NULL starts last"
sqlite3 "$CATALOG" "DELETE FROM stats WHERE status = 'WALK' OR backup_start > strftime('%Y-%m-%dT%H:%M:%f000', 'now', 'localtime', '+30 minutes')"
n1=$(q 'job=job005&limit=4' | jq_py 'd["next"]')
t_eq '4 job005' "$(q "job=job005&limit=4&after=$n1" | jq_py 'str(len(d["items"]))+" "+",".join(set(i["backup_name"] for i in d["items"]))')" \
	"after= with a filter: the filter's next rows"
for bad in 'after=abc' 'after=0' 'after=-3' 'after=12.4' 'after=12.zz' 'after=12.00' 'after=12x'; do
	r=$(hcurl "${A[@]}" "$WEB/api/v1/backups?$bad")
	t_eq "400 after" "$(st_of "$r") $(body_of "$r" | jq_py 'd["field"]')" "bad $bad: 400 naming after"
done
r=$(hcurl "${A[@]}" "$WEB/api/v1/backups?after=$n1&offset=5")
t_eq "400 offset" "$(st_of "$r") $(body_of "$r" | jq_py 'd["field"]')" "after with offset: 400 naming offset"

# --- runs: input errors ------------------------------------------------------
post() { hcurl "${A[@]}" -H 'Content-Type: application/json' -d "$1" "$WEB/api/v1/runs"; }
r=$(post '{"action": "backup", "sections": [')
t_eq '400 null' "$(st_of "$r") $(body_of "$r" | jq_py 'd["field"]')" "malformed JSON: 400"
t_match 'malformed JSON' "$(body_of "$r")" "the error says the JSON is malformed"
r=$(post '{"action": "backup", "sections": ["job000", "nosuch"]}')
t_eq '400 sections' "$(st_of "$r") $(body_of "$r" | jq_py 'd["field"]')" "unknown section: 400 field sections"
t_match 'nosuch' "$(body_of "$r")" "the error names the unknown section"
r=$(post '{"action": "destroy", "sections": ["job000"]}')
t_eq '400 action' "$(st_of "$r") $(body_of "$r" | jq_py 'd["field"]')" "unknown action: 400 field action"
r=$(post '{"action": "backup", "sections": ["job000"], "exportdir": "/tmp"}')
t_eq '400 exportdir' "$(st_of "$r") $(body_of "$r" | jq_py 'd["field"]')" "exportdir outside an export: 400"
r=$(post '{"action": "backup", "sectoins": ["job000"]}')
t_eq '400 sectoins' "$(st_of "$r") $(body_of "$r" | jq_py 'd["field"]')" "unknown field: 400 naming it"

# --- runs: queued, then cancelled --------------------------------------------
# The worker is busy with the slow job: the next runs stay queued.
r=$(post '{"action": "backup", "sections": ["slow"]}')
SLOW=$(body_of "$r" | jq_py 'd["id"]')
slow_running() { [ "$(curl -s "${A[@]}" "$WEB/api/v1/runs/$SLOW" | jq_py 'd["state"]')" = running ]; }
wait_until 30 slow_running
t_ok "the slow run is running" slow_running
r=$(post '{"action": "cleanup", "sections": ["job000"]}')
t_eq 202 "$(st_of "$r")" "POST /api/v1/runs: 202"
ID=$(body_of "$r" | jq_py 'd["id"]')
t_eq false "$(body_of "$r" | jq_py 'd["existing"]')" "a new run"
r=$(post '{"action": "cleanup", "sections": ["job000"]}')
t_eq "True $ID" "$(body_of "$r" | jq_py 'str(d["existing"])+" "+d["id"]')" "the same request returns the active run"
r=$(hcurl "${A[@]}" "$WEB/api/v1/runs/$ID")
t_eq "queued cleanup alice" "$(body_of "$r" | jq_py 'd["state"]+" "+d["action"]+" "+d["requested_by"]')" "GET /api/v1/runs/ID"
t_match "$ISO_TZ" "$(body_of "$r" | jq_py 'd["created"]')" "a run's times carry their UTC offset"
t_eq 2 "$(curl -s "${A[@]}" "$WEB/api/v1/runs?active=1" | jq_py 'len(d["items"])')" "active runs listed (slow, cleanup)"
r=$(hcurl "${A[@]}" -X DELETE -H 'X-Requested-With: tisbackup' "$WEB/api/v1/runs/$ID")
t_eq '202 cancelled' "$(st_of "$r") $(body_of "$r" | jq_py 'd["state"]')" "DELETE cancels a queued run"
t_eq "alice|cancelled by alice before it started" "$(body_of "$r" | jq_py 'd["cancelled_by"]+"|"+d["error"]')" \
	"the cancel names who asked (cancelled_by, error)"
t_eq "None" "$(curl -s "${A[@]}" "$WEB/api/v1/runs/$SLOW" | jq_py 'str(d["cancelled_by"])')" \
	"a run nobody cancelled: cancelled_by null"
r=$(hcurl "${A[@]}" "$WEB/api/v1/runs/nosuchid")
t_eq 404 "$(st_of "$r")" "unknown run: 404"
r=$(post '{"action": "export", "sections": ["job000"], "exportdir": "'"$TMPD"'/exp1"}')
t_eq 202 "$(st_of "$r")" "an export is queued"
r=$(post '{"action": "export", "sections": ["job001"], "exportdir": "'"$TMPD"'/exp2"}')
t_eq '409 sections' "$(st_of "$r") $(body_of "$r" | jq_py 'd["field"]')" "another export of other sections: 409"
EXP=$(curl -s "${A[@]}" "$WEB/api/v1/runs?active=1" | jq_py '[i["id"] for i in d["items"] if i["action"] == "export"][0]')
curl -s -o /dev/null "${A[@]}" -X DELETE -H 'X-Requested-With: tisbackup' "$WEB/api/v1/runs/$EXP"
: >"$GATE"
slow_done() { [ "$(curl -s "${A[@]}" "$WEB/api/v1/runs/$SLOW" | jq_py 'd["state"]')" = done ]; }
wait_until 60 slow_done
t_ok "the slow run ends done" slow_done

# --- /metrics ------------------------------------------------------------------
r=$(hcurl "${A[@]}" "$WEB/metrics")
t_eq 200 "$(st_of "$r")" "/metrics answers"
m=$(body_of "$r")
t_match '^tisbackup_job_last_success_timestamp_seconds\{backup_job="job001",server="srv001",type="rsync\+ssh",pool="default"\} [0-9]+\.[0-9]+$' "$m" "last success timestamp per job (label backup_job, not Prometheus' own job)"
t_match '^tisbackup_job_last_duration_seconds\{backup_job="job001",server="srv001",type="rsync\+ssh",pool="default"\} 30\.000$' "$m" "last duration in seconds"
t_match '^tisbackup_job_last_written_bytes\{backup_job="job001",.*\} [0-9]+$' "$m" "last written bytes"
t_match '^tisbackup_job_last_total_bytes\{backup_job="job001",.*\} [0-9]+$' "$m" "last total bytes"
t_match '^tisbackup_job_state\{backup_job="job001",server="srv001",type="rsync\+ssh",pool="default",state="ok"\} 1$' "$m" "job state ok = 1"
t_match '^tisbackup_job_state\{backup_job="nulljob",.*state="never"\} 1$' "$m" "a job without rows: never"
t_match '^tisbackup_runs_in_progress 0$' "$m" "runs in progress"
t_match '^tisbackup_runs_queued 0$' "$m" "runs queued"
t_match '^tisbackup_build_info\{version="0\.1\.0"\} 1$' "$m" "build info with the version"
want_ok=$(sqlite3 "$CATALOG" "select count(*) from stats where backup_name='job004' and status='OK' and TYPE in ('BACKUP','CLEAN')")
want_err=$(sqlite3 "$CATALOG" "select count(*) from stats where backup_name='job004' and status='ERROR' and TYPE in ('BACKUP','CLEAN')")
t_match "^tisbackup_job_runs_total\\{backup_job=\"job004\",.*,result=\"ok\"\\} $want_ok\$" "$m" "runs counter, ok ($want_ok)"
t_match "^tisbackup_job_runs_total\\{backup_job=\"job004\",.*,result=\"error\"\\} $want_err\$" "$m" "runs counter, error ($want_err)"
# After a commit the counters move (serve remembers every job's counts
# until the next commit): a CLEAN row counts as a run, a Running row, a
# VERIFY row and the rows of a job no config names do not; and
# /api/v1/jobs' last_verify is the newest finished VERIFY row, not a
# running one.
sqlite3 "$CATALOG" "INSERT INTO stats (backup_name, server_name, backup_start, backup_end,
  backup_duration, status, log, TYPE) VALUES
  ('job004', 'srv004', '2021-03-01T10:00:00.000000', '2021-03-01T10:01:00.000000', 0.01, 'OK', 'x', 'CLEAN'),
  ('job004', 'srv004', '2021-03-02T10:00:00.000000', '2021-03-02T10:01:00.000000', 0.01, 'ERROR', 'x', 'CLEAN'),
  ('job004', 'srv004', '2021-03-03T10:00:00.000000', '2021-03-03T10:00:00.000000', 0.0, 'Running', '', 'BACKUP'),
  ('job004', 'srv004', '2021-03-04T10:00:00.000000', '2021-03-04T10:05:00.000000', 0.1, 'OK', 'WARNING: shrank', 'VERIFY'),
  ('job004', 'srv004', '2021-03-05T10:00:00.000000', '2021-03-05T10:00:00.000000', 0.0, 'Running', '', 'VERIFY'),
  ('ghost', 'srv', '2021-03-01T10:00:00.000000', '2021-03-01T10:01:00.000000', 0.01, 'OK', 'x', 'BACKUP')"
m2=$(curl -s "${A[@]}" "$WEB/metrics")
t_match "^tisbackup_job_runs_total\\{backup_job=\"job004\",.*,result=\"ok\"\\} $((want_ok + 1))\$" "$m2" \
	"runs counter after a commit: a CLEAN row counts, a VERIFY one not ($((want_ok + 1)))"
t_match "^tisbackup_job_runs_total\\{backup_job=\"job004\",.*,result=\"error\"\\} $((want_err + 1))\$" "$m2" \
	"... and a failed CLEAN row too, a Running one not ($((want_err + 1)))"
t_eq "$(printf '%s\n' "$m" | grep -c '^tisbackup_job_runs_total')" "$(printf '%s\n' "$m2" | grep -c '^tisbackup_job_runs_total')" \
	"no runs counter for a job that only the catalog knows"
t_eq "$(printf '%s\n' "$m" | grep '^tisbackup_job_runs_total{backup_job="job003"')" \
	"$(printf '%s\n' "$m2" | grep '^tisbackup_job_runs_total{backup_job="job003"')" "the other jobs' counters unchanged"
r=$(hcurl "${A[@]}" "$WEB/api/v1/jobs")
t_eq '2021-03-04T10:05:00.000000 warning' \
	"$(body_of "$r" | jq_py '[" ".join([j["last_verify"]["end"], j["last_verify"]["result"]]) for j in d["items"] if j["name"] == "job004"][0]')" \
	"last_verify: the newest finished VERIFY row (a running one after it aside)"
t_eq null "$(body_of "$r" | jq_py '[j["last_verify"] for j in d["items"] if j["name"] == "job003"][0]')" \
	"last_verify: null for a job without a VERIFY row"
r=$(hcurl "${A[@]}" "$WEB/api/v1/jobs/job004")
t_eq '2021-03-04T10:05:00.000000 warning' "$(body_of "$r" | jq_py '" ".join([d["last_verify"]["end"], d["last_verify"]["result"]])')" \
	"GET /api/v1/jobs/NAME: the same last_verify"
# Five verifies still running after it (more than the job page's first read).
sqlite3 "$CATALOG" "INSERT INTO stats (backup_name, server_name, backup_start, backup_end, status, log, TYPE)
  SELECT 'job004', 'srv004', '2021-03-0' || d || 'T10:00:00.000000', '2021-03-0' || d || 'T10:00:00.000000',
  'Running', '', 'VERIFY' FROM (SELECT 6 AS d UNION SELECT 7 UNION SELECT 8 UNION SELECT 9)"
t_eq '2021-03-04T10:05:00.000000 2021-03-04T10:05:00.000000' \
	"$(curl -s "${A[@]}" "$WEB/api/v1/jobs" | jq_py '[j["last_verify"]["end"] for j in d["items"] if j["name"] == "job004"][0]') $(curl -s "${A[@]}" "$WEB/api/v1/jobs/job004" | jq_py 'd["last_verify"]["end"]')" \
	"last_verify behind 5 running verifies: the same on /api/v1/jobs and the job's page"
# An independent parser of the text format (Debian's python3-prometheus-client).
t_eq "ok" "$(printf '%s' "$m" | /usr/bin/python3 -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(sys.stdin.read())}
assert fams["tisbackup_job_runs"].type == "counter", fams["tisbackup_job_runs"].type
assert all("job" not in s.labels for f in fams.values() for s in f.samples)
assert len(fams["tisbackup_job_state"].samples) == 4 * 8
print("ok")' 2>&1)" "/metrics parses as Prometheus text format, counters typed, no job label"
t_eq 401 "$(curl -s -o /dev/null -w '%{http_code}' "$WEB/metrics")" "/metrics needs auth by default"
t_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$WEB/metrics")" \
	"/metrics with the scrape token (Authorization: Bearer)"
t_eq 401 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${TOKEN}x" "$WEB/metrics")" \
	"/metrics with a wrong token: 401"
t_eq 401 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$WEB/api/v1/jobs")" \
	"the scrape token opens /metrics only"

# --- the response cache's single flight ------------------------------------------
# 8 requests for /backups.json at once after each of 8 commits (another
# process's, like a worker finishing a backup): every answer has the commit,
# and one request per round built it from the catalog, the 7 others waited
# for that build or found it cached (the counters of /metrics, which each
# commit makes build anew).
herd_commit() {
	sqlite3 "$CATALOG" "INSERT INTO stats (backup_name, server_name, backup_start, backup_end,
	  backup_duration, status, log, TYPE) VALUES ('job003', 'srv003',
	  '2020-02-01T00:00:00.000000', '2020-02-01T00:01:00.000000', 0.01, 'OK', 'herd', 'BACKUP')"
}
herd_commit
read -r b0 s0 h0 < <(cache_counts "$JAR" backups.json)
stale=0 herd=0
for ((i = 1; i <= 8; i++)); do
	herd_commit
	want=$(sqlite3 "$CATALOG" "SELECT count(*) FROM stats WHERE TYPE = 'BACKUP'")
	stale=$((stale + $(stale_answers 8 "$WEB/backups.json" 'len(d)' "$want")))
	read -r b1 s1 h1 < <(cache_counts "$JAR" backups.json)
	if [ "$((b1 - b0))" != 1 ] || [ "$((s1 - s0 + h1 - h0))" != 7 ]; then
		herd=$((herd + 1))
		t_diag "round $i: $((b1 - b0)) builds, $((s1 - s0)) shared, $((h1 - h0)) hits"
	fi
	b0=$b1 s0=$s1 h0=$h1
done
t_eq 0 "$stale" "64 requests for /backups.json, 8 at once after each of 8 commits: all have the commit"
t_eq 0 "$herd" "each round of 8 built the answer once (1 build, the 7 others shared it or hit the cache)"
t_match '^tisbackup_web_cache_shared_total\{kind="backups\.json"\} [0-9]+$' \
	"$(curl -s -b "$JAR" "$WEB/metrics")" "/metrics counts the answers shared with a build, per kind"

# /backups.json is cached from here; the backup's row must show in it (the cache
# is keyed on the catalog's version, which another process's commit moves).
NBACKUPS=$(curl -s "${A[@]}" "$WEB/backups.json" | jq_py 'len(d)')
r=$(post '{"action": "backup", "sections": ["live"]}')
t_eq 202 "$(st_of "$r")" "POST a backup of the live job: 202"
ID=$(body_of "$r" | jq_py 'd["id"]')
run_state() { curl -s "${A[@]}" "$WEB/api/v1/runs/$ID" | jq_py 'd["state"]'; }
first=$(run_state)
t_match '^(queued|running|done)$' "$first" "the run is first queued or running ($first)"
states=$first
run_ended() {
	local s
	s=$(run_state)
	[ "$s" != "${states##* }" ] && states="$states $s"
	[ "$s" = done ] || [ "$s" = failed ] || [ "$s" = cancelled ]
}
wait_until 90 run_ended
t_eq done "${states##* }" "the run ends done (states seen: $states)"
r=$(curl -s "${A[@]}" "$WEB/api/v1/runs/$ID")
t_eq '0 backup live' "$(printf '%s' "$r" | jq_py '" ".join([str(d["exit_code"]), d["action"], d["sections"][0]])')" \
	"the run: exit code 0, its action and section"
t_ne '' "$(printf '%s' "$r" | jq_py 'd["log"]')" "the run has its output as log"
t_eq '1 OK' "$(q 'job=live' | jq_py 'str(d["total"])+" "+d["items"][0]["status"]')" "its catalog row appears, OK"
t_eq "$((NBACKUPS + 1))" "$(curl -s "${A[@]}" "$WEB/backups.json" | jq_py 'len(d)')" \
	"the cached /backups.json has the new row"
t_eq 'OK ok' "$(curl -s "${A[@]}" "$WEB/api/v1/jobs/live" | jq_py 'd["last_status"]+" "+d["health"]')" \
	"the job reads OK and healthy"
t_num_ge 3 "$(curl -s "${A[@]}" "$WEB/api/v1/jobs/live" | jq_py 'd["history"][0]["total_files"]')" "its history counts the files"

# --- the compatible export page starts a queued export; /status.json follows it ---------
web_login alice alice-pw-1 "$JAR"
r=$(hcurl -b "$JAR" "$WEB/export_backup?start=true&sections=job000&csrf_token=$CSRF")
t_eq 202 "$(st_of "$r")" "/export_backup?start=true (admin, CSRF token): 202"
t_match 'id="export_started">Export queued: run <code>[^<]+</code>' "$(body_of "$r")" "the page names the run"
export_finished() { [ "$(curl -s -b "$JAR" "$WEB/status.json" | jq_py 'd["finish"]')" = true ]; }
wait_until 60 export_finished
r=$(curl -s -b "$JAR" "$WEB/status.json")
t_eq 'true' "$(printf '%s' "$r" | jq_py 'd["finish"]')" "/status.json: the export finished"
t_ne '' "$(printf '%s' "$r" | jq_py 'd["error"]')" "/status.json: without a USB disk it reports an error"
t_eq '[]' "$(printf '%s' "$r" | jq_py 'd["data"]')" "/status.json: no EXPORT row was written"
r=$(hcurl -X PUT "${A[@]}" -H 'X-Requested-With: tisbackup' "$WEB/api/v1/jobs")
t_eq '405 method PUT not allowed on /api/v1/jobs' "$(st_of "$r") $(body_of "$r" | jq_py 'd["error"]')" "PUT on a GET route: 405"
web_stop
t_eq 0 "$?" "SIGTERM stops serve with exit 0"

# --- the queue unreachable: read-only pages work, runs answer 503 -------------------
DEAD=$(free_port)
sed -i "s|^\[queue\]$|[queue]\nbackend = redis\nredis_url = redis://127.0.0.1:$DEAD/0|" "$GUI"
web_start
t_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' "${A[@]}" "$WEB/api/v1/jobs")" "queue down: /api/v1/jobs still answers"
t_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' "${A[@]}" "$WEB/backups.json")" "queue down: /backups.json still answers"
r=$(post '{"action": "backup", "sections": ["live"]}')
t_eq 503 "$(st_of "$r")" "queue down: POST /api/v1/runs answers 503"
t_match "redis://127.0.0.1:$DEAD/0" "$(body_of "$r" | jq_py 'd["error"]')" "the 503 names the queue address"
t_match "^unavailable: redis://127.0.0.1:$DEAD/0" "$(curl -s "${A[@]}" "$WEB/api/v1/health" | jq_py 'd["queue"]')" \
	"health says the queue is unavailable"
# The queue comes back: runs are accepted and the embedded worker starts.
if command -v redis-server >/dev/null 2>&1; then
	REDIS_PORT=$DEAD
	redis_start --appendonly no || t_fail "redis-server on port $DEAD"
	r=$(post '{"action": "backup", "sections": ["live"]}')
	t_eq 202 "$(st_of "$r")" "queue back: POST /api/v1/runs is accepted"
	ID=$(body_of "$r" | jq_py 'd["id"]')
	states=queued
	wait_until 60 run_ended
	t_eq done "${states##* }" "queue back: the embedded worker starts and runs it (states: $states)"
else
	t_skip "queue back" "redis-server is not installed"
fi
web_stop
[ -n "$REDIS_PID" ] && redis_stop nosave

# --- first start: no users yet ----------------------------------------------------------
sed -i "s|^users_file = .*|users_file = $TMPD/nobody|" "$GUI"
web_start
t_match '^no users yet: create one with: tisbackup user add NAME --role admin$' "$(cat "$TMPD/serve.out")" \
	"first start: serve says how to create a user"
t_match 'data-state="nousers"' "$(curl -s "$WEB/login")" "first start: the login page says so"
t_eq 401 "$(curl -s -o /dev/null -w '%{http_code}' "$WEB/api/v1/jobs")" "first start: still nothing without a user"
web_stop
t_done
