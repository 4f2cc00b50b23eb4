#!/usr/bin/env bash
#
# The web UI in a real browser: a config with an rsync+ssh job against
# our sshd, a job whose failing preexec writes <script>alert(1)</script>
# into its log, a slow job (its preexec sleeps) and null jobs, with
# history from real backups, a job throttled by bwlimit (live progress),
# a job of an empty folder; `tisbackup serve` on a free port with its
# own users file (an admin and a viewer) and two configs, whose embedded
# worker runs what the UI queues; a second serve with no users. Then
# tests/browser/ui.test.mjs drives /usr/bin/chromium through Playwright
# (login and its messages, dashboard, search, config switcher, job page
# and charts, run a backup, cancel a running one, the log shown as text,
# last backups, export to a folder, runs, phone width, logout, viewer).
# Each browser step is one TAP line here. Screenshots go to
# $TB_BUILD_ROOT/meson-logs (or the temporary directory, printed).
#
# Needs node + npm; installs tests/browser/node_modules with `npm ci`
# when missing (fails, does not skip, when npm cannot install).

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 rsync ssh ssh-keygen curl node npm
tb_tmp

browser_ready || t_bail "cannot run the browser test: $BROWSER_WHY"
t_ok "playwright-core is installed in tests/browser" test -f "$BROWSER_DIR/node_modules/playwright-core/package.json"

# ---------------------------------------------------------------- data
sshd_start
SRC=$TMPD/src
mkdir -p "$SRC/sub"
printf 'index\n' >"$SRC/index.html"
head -c 200000 /dev/urandom >"$SRC/sub/data.bin"
cfg_global "$CONF"
cfg_job "$CONF" web-files "$SRC" "description = the web server's files"
cfg_job "$CONF" xss-job "$SRC" "preexec = echo '<script>alert(1)</script>'; exit 3"
cfg_job "$CONF" slow-job "$SRC" "preexec = sleep 60"
# Good, then four failed runs in a row (its preexec tests for a flag file).
FLAKY_FLAG=$TMPD/flaky.flag
touch "$FLAKY_FLAG"
cfg_job "$CONF" flaky-job "$SRC" "preexec = test -e $FLAKY_FLAG || { echo 'flaky: the flag is missing'; exit 4; }"
# A job whose transfer rsync holds to 256 KiB/s (bwlimit): a 12 MiB file
# takes about 48 s, time to see its live progress; a job of an empty
# folder (every run writes 0 bytes: its chart's axis).
XSRC=$TMPD/xsrc
mkdir -p "$XSRC" "$TMPD/empty"
head -c 12582912 /dev/urandom >"$XSRC/big.bin"
cfg_job "$CONF" xfer-job "$XSRC" "bwlimit = 256"
cfg_job "$CONF" empty-job "$TMPD/empty"
cfg_null "$CONF" null-alpha
cfg_null "$CONF" null-beta
# a second config file, for the config switcher
CONF2=$TMPD/other.ini
cfg_global "$CONF2"
cfg_null "$CONF2" other-null

# a switch job whose two versions (registered, never fetched) differ by one line
job_section "$CONF" sw-core type=switch server_name=sw-core switch_ip=127.0.0.1 \
	switch_type=procurve switch_password=unused
mkdir -p "$BASE/sw-core"
printf 'hostname "old<b>name"\nvlan 1\n' >"$BASE/sw-core/20261201-10h00m00.cfg"
printf 'hostname "core-2524"\nvlan 1\n' >"$BASE/sw-core/20261202-10h00m00.cfg"
tb_run -c "$CONF" -s sw-core register_existing
t_rc 0 "register_existing records the switch job's two versions"

for i in 1 2 3; do
	[ "$i" -gt 1 ] && wait_next_second
	tb_run -c "$CONF" -s web-files,xss-job,null-alpha,null-beta,flaky-job,empty-job backup
	printf 'more %s\n' "$i" >>"$SRC/index.html"
done
# xfer-job's first backup at full speed (the same config without its
# bwlimit): the run started in the UI counts its percent and ETA on it.
sed -e '/^bwlimit = 256$/d' "$CONF" >"$TMPD/fast.ini"
tb_run -c "$TMPD/fast.ini" -s xfer-job backup
t_eq OK "$(last_row xfer-job status)" "xfer-job: a first backup at full speed"
head -c 12582912 /dev/urandom >"$XSRC/big.bin" # new content: the same size moves again
rm "$FLAKY_FLAG"
for i in 1 2 3 4; do
	wait_next_second
	tb_run -c "$CONF" -s flaky-job backup
done
t_eq "OK ERROR ERROR ERROR ERROR" \
	"$(csql "select status from stats where backup_name='flaky-job' order by rowid" | tail -n 5 | xargs)" \
	"flaky-job: a good backup, then four failed runs"
t_eq 3 "$(csql "select count(*) from stats where backup_name='web-files' and status='OK'")" \
	"three real backups of web-files in the catalog"
t_match 'alert\(1\)' "$(csql "select log from stats where backup_name='xss-job' order by rowid desc limit 1")" \
	"xss-job's catalog log holds the <script> line"

# ---------------------------------------------------------------- server
PORT=$(free_port) || t_bail "no free port"
GUI=$TMPD/tisbackup_gui.ini
cat >"$GUI" <<EOF
[general]
config_tisbackup = $CONF, $CONF2

[web]
listen = 127.0.0.1:$PORT

[auth]
users_file = $TMPD/users

[queue]
# heartbeats every 2 s, so a cancel reaches a running run quickly
lease_seconds = 6
EOF
ADMIN_PW="adm-$TB_ID-pw"
VIEWER_PW="view-$TB_ID-pw"
printf '%s\n' "$ADMIN_PW" | "$TISBACKUP" --gui-config "$GUI" user add admin --role admin >"$TMPD/user.log" 2>&1
t_check "tisbackup user add admin --role admin" $? "$(cat "$TMPD/user.log")"
printf '%s\n' "$VIEWER_PW" | "$TISBACKUP" --gui-config "$GUI" user add watcher --role viewer >>"$TMPD/user.log" 2>&1
t_check "tisbackup user add watcher --role viewer" $? "$(cat "$TMPD/user.log")"

# serve_on GUI LOG PORTVAR: start serve; when a test beside this one took
# the port first (free_port reserves nothing), again on another port,
# written into GUI and PORTVAR. Sets SERVE_NEW; 0 once serve holds the port.
serve_on() {
	local gui=$1 log=$2 var=$3 port i
	for i in 1 2 3 4 5; do
		port=${!var}
		"$TISBACKUP" --gui-config "$gui" serve >"$log" 2>&1 </dev/null &
		SERVE_NEW=$!
		tb_track "$SERVE_NEW"
		wait_until 15 eval '! kill -0 "$SERVE_NEW" 2>/dev/null || tb_listens "$SERVE_NEW" "$port"'
		tb_listens "$SERVE_NEW" "$port" && return 0
		kill -0 "$SERVE_NEW" 2>/dev/null && return 1
		grep -q 'cannot listen on' "$log" || return 1
		printf -v "$var" %s "$(free_port)" || return 1
		sed -i "s|^listen = 127.0.0.1:$port\$|listen = 127.0.0.1:${!var}|" "$gui"
	done
	return 1
}
serve_on "$GUI" "$TMPD/serve.log" PORT
SERVE_PID=$SERVE_NEW
health() { curl -fsS "http://127.0.0.1:$PORT/api/v1/health" >/dev/null 2>&1; }
if ! wait_until 15 health; then
	t_diag "$(tail -n 30 "$TMPD/serve.log")"
	t_bail "tisbackup serve did not answer on 127.0.0.1:$PORT"
fi
t_pass "tisbackup serve answers on 127.0.0.1:$PORT"

# A second server with nobody in its users file: the login page tells how
# to create the first user.
PORT2=$(free_port) || t_bail "no free port"
# Its own backup folder, so its embedded worker has a queue of its own.
sed -e "s|^backup_base_dir = .*|backup_base_dir = $TMPD/backups2|" "$CONF2" >"$TMPD/nousers.ini"
sed -e "s|^listen = .*|listen = 127.0.0.1:$PORT2|" -e "s|^users_file = .*|users_file = $TMPD/no-users|" \
	-e "s|^config_tisbackup = .*|config_tisbackup = $TMPD/nousers.ini|" "$GUI" >"$TMPD/gui-nousers.ini"
serve_on "$TMPD/gui-nousers.ini" "$TMPD/serve2.log" PORT2
SERVE2_PID=$SERVE_NEW
health2() { curl -fsS "http://127.0.0.1:$PORT2/api/v1/health" >/dev/null 2>&1; }
wait_until 15 health2 || t_diag "second serve: $(tail -n 5 "$TMPD/serve2.log")"
t_match 'no users yet' "$(cat "$TMPD/serve2.log")" "serve without users says 'no users yet'"

# The restore queued from the browser panel (ui.test.mjs restoreToHostSteps):
# the folder came back equal, and the RESTORE row names the admin.
browser_restore_checks() {
	t_ok "the restore queued in the UI brought web-files' sub/ back (diff -r)" \
		diff -r "$SRC/sub" "$TMPD/restored/sub"
	t_match 'by admin \(queue run [0-9]+\)' \
		"$(csql "select log from stats where backup_name='web-files' and TYPE='RESTORE' order by rowid desc limit 1")" \
		"the RESTORE row of the UI's restore names the admin and the run"
}

# ---------------------------------------------------------------- browser
SHOT_DIR=${TB_BUILD_ROOT:+$TB_BUILD_ROOT/meson-logs}
SHOT_DIR=${SHOT_DIR:-$TMPD}
mkdir -p "$SHOT_DIR" "$TMPD/export"
browser_run ui.test.mjs 480 TB_URL="http://127.0.0.1:$PORT" TB_ADMIN=admin TB_ADMIN_PW="$ADMIN_PW" \
	TB_VIEWER=watcher TB_VIEWER_PW="$VIEWER_PW" \
	TB_RSYNC_JOB=web-files TB_XSS_JOB=xss-job TB_SLOW_JOB=slow-job TB_FLAKY_JOB=flaky-job \
	TB_NULL_JOBS=null-alpha,null-beta TB_OTHER_JOB=other-null \
	TB_NOUSERS_URL="http://127.0.0.1:$PORT2" TB_SWITCH_JOB=sw-core \
	TB_XFER_JOB=xfer-job TB_EMPTY_JOB=empty-job TB_SERVE_PID="$SERVE_PID" TB_RELOAD_CONF="$CONF2" \
	TB_EXPORT_DIR="$TMPD/export" TB_SHOT_DIR="$SHOT_DIR" TB_RESTORE_DIR="$TMPD/restored"
t_num_ge 25 "$BROWSER_STEPS" "the browser script ran its steps ($BROWSER_STEPS, node exit $BROWSER_RC)"
if [ "$BROWSER_RC" -ne 0 ]; then
	t_diag "serve log tail:" "$(tail -n 20 "$TMPD/serve.log")"
fi
t_ok "the export started in the UI copied web-files' newest backup into the folder" \
	cmp "$SRC/index.html" "$TMPD/export/web-files/index.html"
t_eq 4 "$(csql "select count(*) from stats where backup_name='web-files' and TYPE='BACKUP' and status='OK'")" \
	"the backup started in the UI added a fourth OK row"
t_ok "screenshot saved: $SHOT_DIR/browser-dashboard.png" test -s "$SHOT_DIR/browser-dashboard.png"
for shot in browser-progress browser-runs-progress browser-reload-banner browser-mobile browser-mobile-runs browser-wide; do
	t_ok "screenshot saved: $SHOT_DIR/$shot.png" test -s "$SHOT_DIR/$shot.png"
done
t_match 'cancelled|ERROR' "$(last_row xfer-job status)" "the throttled run of xfer-job was cancelled from the UI"
echo "# screenshots: $SHOT_DIR/browser-*.png"
browser_restore_checks
kill "$SERVE_PID" "$SERVE2_PID" 2>/dev/null
wait "$SERVE_PID" "$SERVE2_PID" 2>/dev/null
# Under ASan/UBSan a report from the background processes would go
# unnoticed otherwise.
t_nomatch 'Sanitizer|runtime error:' "$(cat "$TMPD/serve.log" "$TMPD/serve2.log")" \
	"no sanitizer report from either serve"

t_done
