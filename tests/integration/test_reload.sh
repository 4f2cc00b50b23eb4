#!/usr/bin/env bash
# tisbackup serve reloads its backup configs without a restart: on SIGHUP
# (systemd's ExecReload) and when a config file changes (inotify), each
# config swapped whole only when its new version loads. A broken file keeps
# the previous jobs serving, and its error is in the log and in
# /api/v1/health (the dashboard's banner). Waits on states, never sleeps.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/web.sh"
tb_require curl python3
tb_require_binary
tb_tmp

# $CONF is a symlink into a folder serve does not watch, so editing the
# target changes nothing until SIGHUP; replacing $CONF itself is a change
# of the watched folder.
REAL=$TMPD/real/tisbackup.ini
mkdir -p "$TMPD/real"
cfg_global "$REAL"
cfg_null "$REAL" alpha
ln -s "$REAL" "$TMPD/conf-link.ini"
CONF=$TMPD/conf-link.ini
web_config 'auth.providers = local'
web_user admin admin 'admin-pw-1' || t_bail "tisbackup user add failed"
web_start
JAR=$TMPD/jar
web_login admin 'admin-pw-1' "$JAR"
[ -n "$CSRF" ] || t_bail "login failed: $(tail -n 3 "$TMPD/serve.err")"

jobs() { curl -s --max-time 10 -b "$JAR" "$WEB/api/v1/jobs" | jq_py '" ".join(sorted(j["name"] for j in d["items"]))'; }
jobs_are() { [ "$(jobs)" = "$1" ]; }
errors() { curl -s --max-time 10 -b "$JAR" "$WEB/api/v1/health" | jq_py 'len(d["config_errors"])'; }
errors_are() { [ "$(errors)" = "$1" ]; }

t_eq "alpha" "$(jobs)" "serve starts with the config's job"
t_eq "0" "$(errors)" "/api/v1/health: no config error"

# ---- SIGHUP
cfg_null "$REAL" beta
kill -HUP "$WEB_PID"
t_ok "after SIGHUP the new job is in /api/v1/jobs" wait_until 10 jobs_are "alpha beta"
t_ok "serve is still running after SIGHUP" kill -0 "$WEB_PID"
t_match 'reload \(SIGHUP\): .*: 2 jobs' "$(cat "$TMPD/serve.err")" "the reload is logged"
reloads() { curl -s --max-time 10 -b "$JAR" "$WEB/api/v1/health" | jq_py 'd["config_reloads"]'; }
t_num_ge 1 "$(reloads)" "/api/v1/health counts the reload (config_reloads, the dashboard's notice)"

# ---- a broken file keeps the previous version
cp "$REAL" "$TMPD/good.ini"
printf '[gamma]\ntype = null\nserver_name = gamma\nbogus line without equals\n' >>"$REAL"
kill -HUP "$WEB_PID"
t_ok "a broken config is reported in /api/v1/health" wait_until 10 errors_are 1
health=$(curl -s -b "$JAR" "$WEB/api/v1/health")
t_match 'conf-link\.ini:17: \[gamma\]' "$(jq_py 'd["config_errors"][0]["error"]' <<<"$health")" "the error names file:line"
t_eq "true" "$(jq_py 'd["config_errors"][0]["previous_kept"]' <<<"$health")" "the previous version is kept"
n_reloads=$(reloads)
t_eq "alpha beta" "$(jobs)" "the previous jobs still serve"
t_match 'serve: reload \(SIGHUP\): .* is unusable, its previous version stays in use' \
	"$(cat "$TMPD/serve.err")" "the broken config is logged"
t_eq "ok" "$(curl -s "$WEB/api/v1/health" | jq_py 'd["status"]')" "anonymous health stays ok (no detail)"
t_nomatch 'config_errors' "$(curl -s "$WEB/api/v1/health")" "anonymous health shows no config error"

# ---- a change of the watched file, without a signal
# An editor's way: write a new file and rename it over the config.
cp "$TMPD/good.ini" "$TMPD/new.tmp"
cfg_null "$TMPD/new.tmp" gamma
mv "$TMPD/new.tmp" "$CONF"
t_ok "a file renamed over the config is reloaded (no signal)" wait_until 10 jobs_are "alpha beta gamma"
t_ok "the error is gone once the file loads" wait_until 10 errors_are 0
t_num_ge "$((n_reloads + 1))" "$(reloads)" "... and the fixed file counts as a reload"
# In place: append to it.
cfg_null "$CONF" delta
t_ok "a config written in place is reloaded (no signal)" wait_until 10 jobs_are "alpha beta delta gamma"
printf 'not an ini\n' >"$CONF"
t_ok "a broken write is reported (no signal)" wait_until 10 errors_are 1
t_eq "alpha beta delta gamma" "$(jobs)" "... and the jobs stay"

web_stop
t_eq 0 $? "serve stops cleanly with SIGTERM after reloads"

t_done
