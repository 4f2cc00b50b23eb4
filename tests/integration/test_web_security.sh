#!/usr/bin/env bash
# tisbackup serve under hostile input: anonymous access to every route,
# CSRF, roles, the login rate limit, path traversal in /static/, oversized
# headers and bodies, slow clients, open redirects, cookie flags and the
# security headers. A real server on a free loopback port.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/web.sh"
tb_require curl python3 sqlite3
tb_require_binary
tb_tmp

web_conf_jobs 2
fill_catalog 50
web_config 'auth.login_max_failures = 4' 'auth.providers = local,basic,proxy' \
	'auth.trusted_proxies = 192.0.2.1' 'auth.proxy_header = X-Forwarded-User'
web_user alice admin 'alice-pw-1' || t_bail "tisbackup user add failed"
web_user victor viewer 'victor-pw-1'
web_user mallory admin 'mallory-pw-1'
web_start

code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@"; }

# --- anonymous ------------------------------------------------------------------
for p in /json /all_json /config_number/0 /backups.json /status.json /api/v1/session \
	/api/v1/configs /api/v1/jobs /api/v1/jobs/job000 /api/v1/backups /api/v1/runs \
	/api/v1/runs/x /metrics /api/v1/nosuch; do
	r=$(hcurl "$WEB$p")
	t_eq "401 authentication required" "$(st_of "$r") $(body_of "$r" | jq_py 'd["error"]')" "anonymous GET $p: 401 JSON"
done
for p in / /last_backups /export_backup '/export_backup?start=true&sections=job000'; do
	loc=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$WEB$p")
	t_match "^303 $WEB/login\\?next=/" "$loc" "anonymous GET $p: 303 to the login page"
done
t_eq 401 "$(code -X POST -H 'Content-Type: application/json' -d '{"action":"backup"}' "$WEB/api/v1/runs")" "anonymous POST /api/v1/runs: 401"
t_eq 401 "$(code -X DELETE "$WEB/api/v1/runs/x")" "anonymous DELETE: 401"
t_eq 401 "$(code -X POST -d '{"config_number":0}' "$WEB/api/v1/configs/current")" "anonymous config switch: 401"
# Unknown paths and wrong methods tell an anonymous caller nothing either.
for p in /nope /last_backups/x /static.html /metrics/x; do
	loc=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$WEB$p")
	t_match "^303 $WEB/login\\?next=/" "$loc" "anonymous GET $p (no such page): 303, as for a real page"
done
for m in POST PUT DELETE PATCH; do
	t_eq 303 "$(code -X "$m" "$WEB/last_backups")" "anonymous $m /last_backups (a GET page): 303, not 405"
	t_eq 401 "$(code -X "$m" "$WEB/backups.json")" "anonymous $m /backups.json: 401, not 405"
done
t_eq 401 "$(code "$WEB/api/v1/health/x")" "anonymous GET /api/v1/health/x: 401, not 404"
t_eq 401 "$(code -X POST "$WEB/api/v1/nosuch")" "anonymous POST /api/v1/nosuch: 401"
t_eq 404 "$(code "$WEB/static/nosuch.js")" "a missing static asset is a public 404"
t_eq 200 "$(code "$WEB/login")" "the login page is public"
t_eq 200 "$(code "$WEB/static/app.js")" "static assets are public"
t_eq '{"status": "ok"}' "$(curl -s "$WEB/api/v1/health" | jq_py 'd')" "anonymous health tells nothing more"
t_eq 401 "$(code -H 'X-Forwarded-User: alice' "$WEB/api/v1/jobs")" "a proxy header from an untrusted address is ignored"
# (one failure of the address; the rate limit section counts on it)
t_eq 200 "$(code -u alice:wrong-once "$WEB/login")" "stale Basic credentials still reach the login page"

# --- login, cookie, open redirect, logout -------------------------------------------
hdr=$(curl -s -D - -o /dev/null --data-urlencode username=alice --data-urlencode 'password=alice-pw-1' \
	--data-urlencode 'next=//evil.example/x' "$WEB/login" | tr -d '\r')
t_match '^HTTP/1.1 303' "$hdr" "login: 303"
t_match '^Location: /$' "$hdr" "a next that leaves the site becomes /"
t_match '^Set-Cookie: tb_session=[A-Za-z0-9_-]{43}; Path=/; HttpOnly; SameSite=Strict' "$hdr" "session cookie: HttpOnly, SameSite=Strict, Path=/"
hdr=$(curl -s -D - -o /dev/null --data-urlencode username=alice --data-urlencode 'password=alice-pw-1' \
	--data-urlencode 'next=/#/backups' "$WEB/login" | tr -d '\r')
t_match '^Location: /#/backups' "$hdr" "a same-site next is kept"

JAR=$TMPD/jar
web_login alice alice-pw-1 "$JAR"
t_eq 200 "$(code -b "$JAR" "$WEB/api/v1/jobs")" "the session cookie authenticates"

# --- CSRF -----------------------------------------------------------------------
J=(-H 'Content-Type: application/json' -d '{"action":"cleanup","sections":["job000"]}')
r=$(hcurl -b "$JAR" "${J[@]}" "$WEB/api/v1/runs")
t_eq 403 "$(st_of "$r")" "session POST without the CSRF token: 403"
t_match 'CSRF' "$(body_of "$r")" "the 403 says why"
t_eq 403 "$(code -b "$JAR" -H 'X-CSRF-Token: wrong' "${J[@]}" "$WEB/api/v1/runs")" "wrong CSRF token: 403"
t_eq 202 "$(code -b "$JAR" -H "X-CSRF-Token: $CSRF" "${J[@]}" "$WEB/api/v1/runs")" "right CSRF token: 202"
t_eq 403 "$(code -b "$JAR" -X POST "$WEB/logout")" "logout without the token: 403"
t_eq 403 "$(code -b "$JAR" "$WEB/export_backup?start=true&sections=job000")" "GET export start without csrf_token: 403"
t_eq 403 "$(code -u alice:alice-pw-1 -X POST -d 'action=backup' "$WEB/api/v1/runs")" \
	"Basic POST as a form (no X-Requested-With, no JSON): 403"
t_eq 202 "$(code -u alice:alice-pw-1 "${J[@]}" "$WEB/api/v1/runs")" "Basic POST with a JSON body: 202"
t_eq 303 "$(code -b "$JAR" -X POST -H "X-CSRF-Token: $CSRF" "$WEB/logout")" "logout with the token: 303"
t_eq 401 "$(code -b "$JAR" "$WEB/api/v1/jobs")" "the session is gone after logout"

# --- roles ------------------------------------------------------------------------
VJ=$TMPD/vjar
web_login victor victor-pw-1 "$VJ"
t_eq 200 "$(code -b "$VJ" "$WEB/api/v1/jobs")" "a viewer reads"
r=$(hcurl -b "$VJ" -H "X-CSRF-Token: $CSRF" "${J[@]}" "$WEB/api/v1/runs")
t_eq '403 admin role required' "$(st_of "$r") $(body_of "$r" | jq_py 'd["error"]')" "a viewer cannot POST runs"
t_eq 403 "$(code -b "$VJ" -X DELETE -H "X-CSRF-Token: $CSRF" "$WEB/api/v1/runs/x")" "a viewer cannot cancel"
t_eq 403 "$(code -b "$VJ" "$WEB/export_backup?start=true&sections=job000&csrf_token=$CSRF")" "a viewer cannot start an export"
t_eq 403 "$(code -u victor:victor-pw-1 "${J[@]}" "$WEB/api/v1/runs")" "a Basic viewer cannot POST runs"

# --- static paths ------------------------------------------------------------------------
echo "tb-secret-$TB_ID" >"$TMPD/secret.txt"
for p in '/static/../../../../etc/passwd' '/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd' \
	'/static/..%2f..%2f..%2fetc%2fpasswd' '/static/%2e%2e%2f%2e%2e%2fetc/passwd' \
	"/static/..%2f..%2f..%2f..%2f..${TMPD}/secret.txt" '/static/.%2e/app.js' '/static/app.js%00.html'; do
	r=$(curl -s --path-as-is -w '\n%{http_code}' "$WEB$p")
	t_eq 404 "${r##*$'\n'}" "GET $p: 404"
	t_nomatch 'root:|tb-secret' "$r" "GET $p: nothing leaks"
done
etag=$(curl -s -D - -o /dev/null "$WEB/static/app.js" | tr -d '\r' | sed -n 's/^ETag: //p')
t_match '^"[0-9a-f]{16}"$' "$etag" "static files have an ETag"
t_eq 304 "$(code -H "If-None-Match: $etag" "$WEB/static/app.js")" "If-None-Match: 304"

# --- security headers ---------------------------------------------------------------------------
for p in / /login /static/app.js /api/v1/health /api/v1/jobs /nosuch; do
	h=$(curl -s -D - -o /dev/null "$WEB$p" | tr -d '\r')
	t_match "^Content-Security-Policy: default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'$" "$h" "$p: CSP"
	t_match '^X-Content-Type-Options: nosniff$' "$h" "$p: nosniff"
	t_match '^Referrer-Policy: same-origin$' "$h" "$p: Referrer-Policy"
done

# --- oversized input, slow clients ---------------------------------------------------------
big=$(head -c 100000 /dev/zero | tr '\0' a)
c=$(curl -s -o /dev/null -w '%{http_code}' -u alice:alice-pw-1 -H "X-Big: $big" "$WEB/api/v1/jobs")
case $c in 431 | 413 | 400 | 000) t_pass "a 100 KB header: refused ($c)" ;; *) t_fail "a 100 KB header: refused" "got $c" ;; esac
head -c 200000 /dev/zero | tr '\0' a >"$TMPD/big.json"
r=$(hcurl -u alice:alice-pw-1 -H 'Content-Type: application/json' --data-binary "@$TMPD/big.json" "$WEB/api/v1/runs")
t_eq 413 "$(st_of "$r")" "a 200 KB body: 413"
r=$(hcurl -u alice:alice-pw-1 -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
	--data-binary "@$TMPD/big.json" "$WEB/api/v1/runs")
t_eq 413 "$(st_of "$r")" "a 200 KB chunked body: 413"
t_eq 200 "$(code "$WEB/api/v1/health")" "the server survived"

# 20 clients that send one byte a second; a normal request still answers at once.
python3 - "$WEB_PORT" >"$TMPD/slow.out" 2>&1 <<'PY' &
import socket, sys, time
port = int(sys.argv[1])
socks = []
for i in range(20):
    s = socket.create_connection(("127.0.0.1", port))
    socks.append(s)
req = b"GET /api/v1/jobs HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
for i in range(len(req)):
    for s in socks:
        try:
            s.send(req[i:i + 1])
        except OSError:
            pass
    time.sleep(1)
PY
SLOW=$!
tb_track "$SLOW"
sleep 2
tm=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 5 -u alice:alice-pw-1 "$WEB/api/v1/jobs")
t_eq 200 "${tm%% *}" "with 20 slow clients connected, a normal request answers"
t_ok "... within 1 s (${tm##* } s)" python3 -c "import sys; sys.exit(0 if float('${tm##* }') < 1.0 else 1)"
kill "$SLOW" 2>/dev/null
wait "$SLOW" 2>/dev/null

# --- login rate limit (last: it limits the whole address 127.0.0.1) ------------------------------------------------------------------
for i in 1 2 3; do
	c=$(code --data-urlencode username=mallory --data-urlencode "password=bad$i" "$WEB/login")
	t_eq 401 "$c" "wrong password $i: 401"
done
t_eq 429 "$(code --data-urlencode username=mallory --data-urlencode 'password=bad4' "$WEB/login")" "after the limit: 429"
t_eq 429 "$(code --data-urlencode username=mallory --data-urlencode 'password=mallory-pw-1' "$WEB/login")" \
	"even the right password is refused while limited"
t_eq 429 "$(code -u mallory:mallory-pw-1 "$WEB/api/v1/jobs")" "Basic for a limited user: 429"

web_stop
t_eq 0 "$?" "SIGTERM stops serve cleanly"

# --- TLS ---------------------------------------------------------------------------------
if command -v openssl >/dev/null 2>&1; then
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
		-keyout "$TMPD/tls.key" -out "$TMPD/tls.crt" >/dev/null 2>&1
	sed -i "s|^\[web\]$|[web]\ntls_cert = $TMPD/tls.crt\ntls_key = $TMPD/tls.key|" "$GUI"
	WEB=https://127.0.0.1:$WEB_PORT
	web_up() { curl -sk -o /dev/null "$WEB/api/v1/health"; }
	web_start
	t_eq 200 "$(curl -sk -o /dev/null -w '%{http_code}' "$WEB/api/v1/health")" "TLS: serve answers over https"
	t_eq 000 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$WEB_PORT/api/v1/health")" "TLS: no plain http"
	hdr=$(curl -sk -D - -o /dev/null --data-urlencode username=victor --data-urlencode 'password=victor-pw-1' "$WEB/login" | tr -d '\r')
	t_match '^Set-Cookie: tb_session=.*; Secure$' "$hdr" "TLS: the session cookie is Secure"
	t_match '^Strict-Transport-Security: max-age=' "$hdr" "TLS: HSTS"
	web_stop
else
	t_skip "TLS" "openssl is not installed"
fi
t_done
