#!/usr/bin/env bash
# Authentication of a real `tisbackup serve` as the users file changes
# under it: first start without users, a user added, re-roled, given a new
# password and deleted while serving (no restart); the trusted-proxy
# provider over IPv4 and IPv6 (addresses normalized), proxy_default_role;
# login timing that does not reveal whether a user exists; Basic's cache.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/web.sh"
tb_require curl python3
tb_require_binary
tb_tmp

code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@"; }
session() { curl -s --max-time 10 "$@" "$WEB/api/v1/session"; }

web_conf_jobs 1
web_config 'auth.login_max_failures = 1000' 'auth.providers = local,basic,proxy' \
	'auth.trusted_proxies = 127.0.0.1'

# --- first start: no users --------------------------------------------------------
web_start
t_match '^no users yet: create one with: tisbackup user add NAME --role admin$' \
	"$(cat "$TMPD/serve.out")" "serve starts without users and says how to create one"
t_match 'data-state="nousers"' "$(curl -s "$WEB/login")" "the login page says there are no users"
t_eq 401 "$(code -u alice:alice-pw-1 "$WEB/api/v1/jobs")" "nobody can log in yet"

# --- a user added while serving -----------------------------------------------------
web_user alice admin 'alice-pw-1' || t_bail "tisbackup user add failed"
t_match 'data-state=""' "$(curl -s "$WEB/login")" "the login page no longer says there are no users"
web_login alice alice-pw-1 "$TMPD/jar"
t_eq '["alice", "admin", 43]' "$(session -b "$TMPD/jar" | jq_py '[d["user"], d["role"], len(d["csrf"])]')" \
	"the new user logs in without a restart"
t_eq 200 "$(code -u alice:alice-pw-1 "$WEB/api/v1/jobs")" "Basic works for her too"

# --- role change, new password, deletion while serving ---------------------------------
printf 'alice-pw-2\n' | "$TISBACKUP" --gui-config "$GUI" user passwd alice --role viewer >/dev/null
t_eq viewer "$(session -b "$TMPD/jar" | jq_py 'd["role"]')" "a role change applies to the live session"
t_eq 401 "$(code -u alice:alice-pw-1 "$WEB/api/v1/jobs")" "Basic with the old password: 401 (nothing cached survives)"
t_eq 200 "$(code -u alice:alice-pw-2 "$WEB/api/v1/jobs")" "Basic with the new password: 200"
"$TISBACKUP" --gui-config "$GUI" user del alice >/dev/null
t_eq 401 "$(code -b "$TMPD/jar" "$WEB/api/v1/jobs")" "a deleted user's session ends"
t_eq 401 "$(code -u alice:alice-pw-2 "$WEB/api/v1/jobs")" "and Basic refuses her"

# --- the proxy provider -------------------------------------------------------------------
web_user bob admin 'bob-pw-123'
t_eq '["bob", "admin", ""]' "$(session -H 'X-Forwarded-User: bob' | jq_py '[d["user"], d["role"], d["csrf"]]')" \
	"trusted proxy: the user's role from the users file, no CSRF token"
t_eq '["pat", "viewer"]' "$(session -H 'X-Forwarded-User: pat' | jq_py '[d["user"], d["role"]]')" \
	"a proxy user not in the file gets proxy_default_role (viewer)"
t_eq 401 "$(code -H 'X-Forwarded-User: bad name' "$WEB/api/v1/jobs")" "an invalid proxy user name: 401"
t_eq 401 "$(code -H 'X-Forwarded-User: ' "$WEB/api/v1/jobs")" "an empty proxy user name: 401"

# --- timing: an unknown user costs as much as a wrong password ---------------------------
# Median of 7 alternating attempts each (argon2 dominates both).
TIMES=$(for i in 1 2 3 4 5 6 7; do
	printf 'known %s\n' "$(curl -s -o /dev/null -w '%{time_total}' --data-urlencode username=bob \
		--data-urlencode password=wrong-pw "$WEB/login")"
	printf 'unknown %s\n' "$(curl -s -o /dev/null -w '%{time_total}' --data-urlencode username=nobody$i \
		--data-urlencode password=wrong-pw "$WEB/login")"
done)
RATIO=$(printf '%s\n' "$TIMES" | python3 -c '
import statistics, sys
t = {"known": [], "unknown": []}
for line in sys.stdin:
    k, v = line.split()
    t[k].append(float(v))
k, u = statistics.median(t["known"]), statistics.median(t["unknown"])
print("%.2f %.3f %.3f" % (u / k, k, u))')
t_diag "login time: unknown/known = ${RATIO%% *} (known ${RATIO#* })"
t_ok "an unknown user's login takes as long as a wrong password (ratio ${RATIO%% *}, 0.5 to 2)" \
	python3 -c "import sys; r=float('${RATIO%% *}'); sys.exit(0 if 0.5 <= r <= 2 else 1)"
# A script's repeated Basic requests do not pay argon2 each time.
code -u bob:bob-pw-123 "$WEB/api/v1/session" >/dev/null
BASIC=$(for i in 1 2 3 4 5; do
	curl -s -o /dev/null -w '%{time_total}\n' -u bob:bob-pw-123 "$WEB/api/v1/session"
done | python3 -c 'import statistics, sys; print("%.3f" % statistics.median(float(l) for l in sys.stdin))')
t_diag "Basic request after the first: median ${BASIC} s"
t_ok "repeated Basic requests are faster than half an argon2 verification (${BASIC} s)" \
	python3 -c "import sys; sys.exit(0 if float('$BASIC') < float('${RATIO##* }') / 2 else 1)"
web_stop

# --- IPv6: listen on ::1, trust it written in full; proxy_default_role = none ------------
PORT6=$(free_port)
sed -i -e "s/^listen = .*/listen = [::1]:$PORT6/" \
	-e 's/^trusted_proxies = .*/trusted_proxies = 0:0:0:0:0:0:0:1\nproxy_default_role = none/' "$GUI"
WEB=http://[::1]:$PORT6
# shellcheck disable=SC2034 # read by web_start
WEB_PORT=$PORT6
web_up() { curl -s -g -o /dev/null "$WEB/api/v1/health"; }
if ! ip -6 addr show lo 2>/dev/null | grep -q '::1'; then
	t_skip "proxy over IPv6" "no ::1 on this host"
else
	web_start
	t_eq '["bob", "admin"]' "$(curl -s -g -H 'X-Forwarded-User: bob' "$WEB/api/v1/session" | jq_py '[d["user"], d["role"]]')" \
		"trusted proxy over IPv6: ::1 matches 0:0:0:0:0:0:0:1"
	t_eq 401 "$(code -g -H 'X-Forwarded-User: pat' "$WEB/api/v1/jobs")" \
		"proxy_default_role = none: a user not in the file is refused"
	web_stop
	t_eq 0 "$?" "serve stops cleanly"
fi

t_done
