#!/usr/bin/env bash
# The restore forms of the web UI: "Restore to host…" of a database dump
# job and xen-xva's "Import into SR…" (docs/restore.md
# "From the web UI"), in a real headless Chromium and with curl:
#  - a mysql+ssh backup whose database names are not safe file names
#    ("a/b", "my db%x": percent-encoded files, manifest.tsv), registered
#    with register_existing;
#  - GET /api/v1/jobs/NAME/databases lists them decoded, as restore --db
#    takes them (the form once sent the file's name, "a%2Fb");
#  - tests/browser/restore_forms.test.mjs: an admin opens the form from the
#    dump "a%2Fb.sql.gz", the database "a/b" is preselected; without a
#    name to load it as (not a plain name) and with a bad to_server the
#    page shows the errors naming options.to_db, options.to_server; with
#    them it queues it; a viewer (viewers_download = yes) browses but
#    gets no form;
#  - the queued request (serve without its embedded worker: it stays
#    queued) has exactly the words --db=a/b, --to-db, --to-server.
#  - xen-xva: import_to through the REST API (queued words, refusals,
#    viewer 403); in Chromium an admin queues "Import into SR…" (a bad SR
#    shows the error naming options.import_to), a viewer has no button.
# Screenshots go to $TB_BUILD_ROOT/meson-logs (or the temporary directory).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/web.sh"
tb_require curl python3 sqlite3 gzip ssh-keygen node
tb_require_binary
tb_tmp

browser_ready || t_bail "cannot run the browser test: $BROWSER_WHY"

# ---------------------------------------------------------------- data
ssh-keygen -q -t ed25519 -N '' -f "$TMPD/key" || t_bail "ssh-keygen failed"
cfg_global "$CONF"
job_section "$CONF" shopdb "type = mysql+ssh" "server_name = 127.0.0.1" "private_key = $TMPD/key" \
	"db_name =" "db_user = tb" "db_passwd = unused-$TB_ID"
cfg_job "$CONF" files "$TMPD"
AT=20261201-03h00m00
mkdir -p "$BASE/files/$AT"
SNAP=$BASE/shopdb/$AT
mkdir -p "$SNAP"
for f in 'a%2Fb' 'my db%25x' plain; do
	printf 'CREATE TABLE t (i int);\n' | gzip >"$SNAP/$f.sql.gz"
done
printf 'a%%2Fb.sql.gz\ta/b\nmy db%%25x.sql.gz\tmy db%%x\nplain.sql.gz\tplain\n' >"$SNAP/manifest.tsv"
tb_run -c "$CONF" -s shopdb register_existing
t_rc 0 "register_existing records the mysql+ssh backup"
# A xen-xva job with one backup on disk (the XAPI pool is never reached:
# the import stays queued).
printf 'root\nunused-%s\n' "$TB_ID" >"$TMPD/xapi.pw"
chmod 600 "$TMPD/xapi.pw"
job_section "$CONF" vm1 type=xen-xva server_name=vm1 xcphost=127.0.0.1:9 "password_file=$TMPD/xapi.pw"
mkdir -p "$BASE/vm1"
head -c 4096 /dev/urandom >"$BASE/vm1/vm1-$AT.xva"
tb_run -c "$CONF" -s vm1 register_existing
t_rc 0 "register_existing records the xen-xva backup"

PW_A="alice-$TB_ID-pw"
PW_V="victor-$TB_ID-pw"
web_config queue.embedded_worker=no web.viewers_download=yes
web_user alice admin "$PW_A" || t_bail "tisbackup user add failed"
web_user victor viewer "$PW_V"
printf 'machine 127.0.0.1 login alice password %s\n' "$PW_A" >"$TMPD/netrc.alice"
printf 'machine 127.0.0.1 login victor password %s\n' "$PW_V" >"$TMPD/netrc.victor"
A=(--netrc-file "$TMPD/netrc.alice")
V=(--netrc-file "$TMPD/netrc.victor")
web_start

# ---------------------------------------------------------------- API
out=$(hcurl "${A[@]}" "$WEB/api/v1/jobs/shopdb/databases?at=$AT")
t_eq 200 "$(st_of "$out")" "GET databases: 200"
t_eq '["a/b", "my db%x", "plain"]' "$(body_of "$out" | jq_py '[x["name"] for x in d["databases"]]')" \
	"the databases are listed decoded from the manifest, as restore --db takes them"
t_eq '["a%2Fb.sql.gz", "my db%25x.sql.gz", "plain.sql.gz"]' \
	"$(body_of "$out" | jq_py '[x["file"] for x in d["databases"]]')" "each with its file"
out=$(hcurl "${V[@]}" "$WEB/api/v1/jobs/shopdb/databases?at=$AT")
t_eq 200 "$(st_of "$out")" "GET databases as a viewer with viewers_download = yes: 200"
out=$(hcurl "${A[@]}" "$WEB/api/v1/jobs/shopdb/databases?at=20261201-03h00m01")
t_eq 404 "$(st_of "$out")" "GET databases of a backup that does not exist: 404"
out=$(hcurl "${A[@]}" "$WEB/api/v1/jobs/files/databases?at=$AT")
t_eq 400 "$(st_of "$out")" "GET databases of an rsync+ssh job: 400"

# import_to through the REST API: queued with its words; refused alone-only and bad SRs.
apost() { hcurl "${A[@]}" -X POST -H 'Content-Type: application/json' --data-binary "$1" "$WEB/api/v1/runs"; }
out=$(apost "{\"action\": \"restore\", \"sections\": [\"vm1\"], \"options\": {\"at\": \"$AT\", \"import_to\": \"Local storage\"}}")
t_eq 202 "$(st_of "$out")" "POST a restore with import_to: 202"
IRUN=$(body_of "$out" | jq_py 'd["id"]')
t_eq "[\"--at=$AT\", \"--import-to=Local storage\"]" \
	"$(curl -s "${A[@]}" "$WEB/api/v1/runs/$IRUN" | jq_py 'd["options"]')" "the queued import's words"
out=$(apost '{"action": "restore", "sections": ["vm1"], "options": {"import_to": "-x"}}')
t_eq "400 options.import_to" "$(st_of "$out") $(body_of "$out" | jq_py 'd["field"]')" \
	"import_to starting with '-': 400 naming options.import_to"
out=$(apost '{"action": "restore", "sections": ["vm1"], "options": {"import_to": "sr", "db": "x"}}')
t_eq "400 options.import_to" "$(st_of "$out") $(body_of "$out" | jq_py 'd["field"]')" \
	"import_to with db: 400 naming options.import_to"
out=$(hcurl "${V[@]}" -X POST -H 'Content-Type: application/json' \
	--data-binary '{"action": "restore", "sections": ["vm1"], "options": {"import_to": "sr"}}' "$WEB/api/v1/runs")
t_eq 403 "$(st_of "$out")" "a viewer's import: 403"

# ---------------------------------------------------------------- browser
SHOT_DIR=${TB_BUILD_ROOT:+$TB_BUILD_ROOT/meson-logs}
SHOT_DIR=${SHOT_DIR:-$TMPD}
mkdir -p "$SHOT_DIR"
browser_run restore_forms.test.mjs 300 TB_URL="$WEB" TB_ADMIN=alice TB_ADMIN_PW="$PW_A" \
	TB_VIEWER=victor TB_VIEWER_PW="$PW_V" TB_JOB=shopdb TB_XVA_JOB=vm1 TB_AT="$AT" TB_SHOT_DIR="$SHOT_DIR"
RUN=$(sed -n 's/^# run //p' "$BROWSER_TAP" | tail -n 1)
XRUN=$(sed -n 's/^# import run //p' "$BROWSER_TAP" | tail -n 1)
t_num_ge 12 "$BROWSER_STEPS" "the browser script ran its steps ($BROWSER_STEPS, node exit $BROWSER_RC)"
for shot in browser-restore-db browser-xva-import; do
	t_ok "screenshot saved: $SHOT_DIR/$shot.png" test -s "$SHOT_DIR/$shot.png"
done

# The request the form queued, through the API: still queued (no worker), its words exact.
t_match '^[0-9]+$' "$RUN" "the browser queued run $RUN"
out=$(curl -s "${A[@]}" "$WEB/api/v1/runs/$RUN")
t_eq queued "$(printf '%s' "$out" | jq_py 'd["state"]')" "run $RUN is queued"
t_eq '["shopdb"]' "$(printf '%s' "$out" | jq_py 'd["sections"]')" "run $RUN restores shopdb"
t_eq "[\"--at=$AT\", \"--db=a/b\", \"--to-db=b_copy\", \"--to-server=127.0.0.2\", \"--dry-run\"]" \
	"$(printf '%s' "$out" | jq_py 'd["options"]')" \
	"run $RUN: --db is the database's own name a/b (not the file's a%2Fb), with the target picked"
t_match '^[0-9]+$' "$XRUN" "the browser queued the import, run $XRUN"
out=$(curl -s "${A[@]}" "$WEB/api/v1/runs/$XRUN")
t_eq '["vm1"] queued' "$(printf '%s' "$out" | jq_py 'json.dumps(d["sections"]) + " " + d["state"]')" \
	"run $XRUN: vm1, queued"
t_eq "[\"--at=$AT\", \"--import-to=pool SR 2\", \"--dry-run\"]" "$(printf '%s' "$out" | jq_py 'd["options"]')" \
	"run $XRUN: the backup and the SR picked in the form, a dry run"
web_stop
t_nomatch 'Sanitizer|runtime error:' "$(cat "$TMPD/serve.err")" "no sanitizer report from serve"
t_done
