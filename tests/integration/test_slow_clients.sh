#!/usr/bin/env bash
# tisbackup serve under a slow-client attack: a request head that arrives
# a line at a time is cut at its deadline (libmicrohttpd's own timeout is
# an idle one, reset by every byte), and 600 such connections from six
# loopback addresses (more than the server's 512 slots), then from 600
# addresses (one each: every newcomer evicts, the evicted reconnect at
# once), do not keep a normal client out: its requests (health, and the
# jobs of a logged-in user) are all answered, while the server closes
# attacker connections. Timings are printed, not asserted (see
# bench/bench_slowclients.sh).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/web.sh"
tb_require curl python3 sqlite3
tb_require_binary
tb_tmp

web_conf_jobs 2
web_config
web_user alice admin 'alice-pw-1' || t_bail "tisbackup user add failed"
ulimit -n 4096 2>/dev/null
web_start

# One client dribbling header lines, a line a second: the server closes
# it once the head deadline passes, before the 60 lines it would send.
r=$(python3 - "$WEB_PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")
for i in range(60):
    try:
        s.sendall(b"X-Slow-%d: x\r\n" % i)
    except OSError:
        print("closed after", i, "lines"); break
    s.settimeout(1)
    try:
        if s.recv(1) == b"":
            print("closed after", i + 1, "lines"); break
    except socket.timeout:
        pass
    except OSError:
        print("closed after", i + 1, "lines"); break
else:
    print("never closed")
PY
)
t_match '^closed after [0-9]+ lines$' "$r" "a head sent a line a second is cut at its deadline ($r)"

out=$(python3 "$TB_SOURCE_ROOT/tests/integration/slowclients.py" "$WEB_PORT" 600 6 8 alice:alice-pw-1)
t_diag "attack: $out"
t_eq 8 "$(printf '%s' "$out" | jq_py 'd["ok"]')" "600 slow connections from 6 addresses: the 8 normal requests are answered"
out=$(python3 "$TB_SOURCE_ROOT/tests/integration/slowclients.py" "$WEB_PORT" 600 600 20 alice:alice-pw-1)
t_diag "attack: $out"
t_eq 20 "$(printf '%s' "$out" | jq_py 'd["ok"]')" \
	"600 slow connections from 600 addresses: the 20 normal requests are answered"
t_ok "... while the server closes attacker connections" \
	test "$(printf '%s' "$out" | jq_py 'd["attack_closed"]')" -gt 0
t_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$WEB/api/v1/health")" "the server is still up"
web_stop
t_match 'refused \(their address held too many\)|evicted for newcomers' "$(cat "$TMPD/serve.err")" \
	"serve logs what it refused or evicted"
t_done
