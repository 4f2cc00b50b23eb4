#!/usr/bin/env bash
#
# Transfer progress (issue 20 part 3), with rsync held to 256 KiB/s by the
# job's bwlimit over the loopback sshd:
#  - `tisbackup backup` on a terminal (a pty from script(1)) draws one
#    line rewritten in place ("\r\e[K[job] bytes, files, %, rate, ETA"),
#    wiped at the end, and logs a "progress:" line per progress_interval;
#  - the same backup queued through the API, run by serve's worker (no
#    terminal): the running job's progress in GET /api/v1/jobs and in its
#    run (GET /api/v1/runs/ID), its ETA counted on the previous run's
#    size, "progress:" lines in the run's log, no terminal codes there;
#  - when the run ends: no progress in the API, no state file left.
# Every wait is on a state (the API, a file), never a sleep.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=web.sh
. "$(dirname "${BASH_SOURCE[0]}")/web.sh"

tb_require_binary
tb_require rsync ssh ssh-keygen script python3 curl sqlite3
tb_tmp
sshd_start

SRC=$TMPD/src
SIZE=1572864 # 1.5 MiB: about 6 s at 256 KiB/s
mkdir -p "$SRC"
head -c "$SIZE" /dev/urandom >"$SRC/big"
echo small >"$SRC/small"
cfg_global "$CONF"
cfg_job "$CONF" slow "$SRC" "bwlimit = 256" "progress_interval = 1"

# ================================================================ on a terminal
TS=$TMPD/typescript
timeout -k 5 120 script -qefc "$(printf '%q ' "$TISBACKUP" -c "$CONF" backup)" "$TS" </dev/null >/dev/null 2>&1
t_eq 0 "$?" "backup on a pty: exit 0"
t_eq OK "$(last_row slow status)" "the catalog row is OK"
t_eq "$SIZE" "$(last_row slow written_bytes | awk '{ print $1 - 6 }')" "it moved the big file (and 6 bytes of small)"
live=$(python3 - "$TS" <<'EOF'
import re, sys
data = open(sys.argv[1], 'rb').read().decode('utf-8', 'replace')
lines = re.findall(r'\r\x1b\[K\[slow\] ([^\r\n]*)\r', data)
print(len(lines))
for l in lines:
    print(l)
EOF
)
n=$(printf '%s\n' "$live" | head -n 1)
t_num_ge 2 "$n" "the pty got the live line at least twice ($n times)"
t_match '^[0-9.]+[bKM], [0-9]+ files?, [0-9]+%, [0-9.]+[bKM]/s, ETA [0-9]+:[0-9]{2}:[0-9]{2}$' \
	"$(printf '%s\n' "$live" | sed -n '3,$p' | grep 'ETA' | tail -n 1)" \
	"a live line says bytes, files, percent, rate and ETA"
wiped=$(python3 - "$TS" <<'EOF'
import re, sys
data = open(sys.argv[1], 'rb').read().decode('utf-8', 'replace')
last_live = max(m.start() for m in re.finditer(r'\r\x1b\[K\[slow\] ', data))
wipe = data.find('\r\x1b[K', last_live + 1)
ok = data.find('backup OK', last_live)
print('yes' if last_live < wipe < ok and not data.startswith('\r\x1b[K[', wipe) else 'no')
EOF
)
t_eq yes "$wiped" "the live line is wiped before the verdict is logged"
t_match '\[slow\] progress: [0-9.]+[bKM], ' "$(cat "$TS")" "a progress log line on the terminal too"
runlog=$(printf '%s\n' "$BASE"/log/tisbackup_*.log | sort | tail -n 1)
t_match 'INFO \[slow\] progress: [0-9.]+[bKM], [0-9]+ files?, [0-9]+%, [0-9.]+[bKM]/s' "$(cat "$runlog")" \
	"the run log has the progress lines"
t_nomatch $'\e' "$(cat "$runlog")" "... and no terminal codes"
t_nomatch 'to-chk=' "$(cat "$runlog")" "rsync's own progress lines stay out of the INFO log"
t_ok "no state file left in the job folder" test ! -e "$BASE/slow/progress"

# ================================================================ queued, in the API
head -c "$SIZE" /dev/urandom >"$SRC/big" # new content: the same size moves again
web_config
web_user alice admin 'alice-pw-1' || t_bail "tisbackup user add failed"
web_start
AU=(-u alice:alice-pw-1)
r=$(hcurl "${AU[@]}" -H 'Content-Type: application/json' -d '{"action": "backup", "sections": ["slow"]}' \
	"$WEB/api/v1/runs")
t_eq 202 "$(st_of "$r")" "POST /api/v1/runs: 202"
ID=$(body_of "$r" | jq_py 'd["id"]')
job_progress() { curl -s "${AU[@]}" "$WEB/api/v1/jobs/slow" | jq_py 'd["progress"]'; }
run_progress() { curl -s "${AU[@]}" "$WEB/api/v1/runs/$ID" | jq_py 'd["progress"]'; }
# The job, its run and the active runs, read together while bytes move
# (the assertions come after: parsing is slower than the transfer).
moving() {
	JOBJ=$(curl -s "${AU[@]}" "$WEB/api/v1/jobs/slow")
	RUNJ=$(curl -s "${AU[@]}" "$WEB/api/v1/runs/$ID")
	LISTJ=$(curl -s "${AU[@]}" "$WEB/api/v1/runs?active=1")
	[ "$(printf '%s' "$JOBJ" | jq_py 'bool(d["progress"]) and d["progress"]["bytes"] > 0 and d["progress"]["rate_bps"] is not None')" = true ]
}
wait_until 60 moving
P=$(printf '%s' "$JOBJ" | jq_py 'd["progress"]')
t_ne null "$P" "the running job's progress in GET /api/v1/jobs/slow"
t_eq "$SIZE" "$(printf '%s' "$P" | jq_py 'd["expected_bytes"] - 6')" \
	"expected_bytes: what the previous good run moved"
t_match '^[0-9]+$' "$(printf '%s' "$P" | jq_py 'd["percent"]')" "a percent"
t_match '^[0-9]+$' "$(printf '%s' "$P" | jq_py 'd["eta_s"]')" "an ETA in seconds"
t_match '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}[+-][0-9]{2}:[0-9]{2}$' \
	"$(printf '%s' "$P" | jq_py 'd["updated"]')" "updated: ISO with the UTC offset"
t_eq running "$(printf '%s' "$JOBJ" | jq_py 'd["health"]')" "the job's health is running"
t_match '"bytes": [0-9]+' "$(printf '%s' "$RUNJ" | jq_py 'd["progress"]["slow"]')" \
	"the run shows its job's progress (GET /api/v1/runs/ID)"
t_match '"bytes": [0-9]+' "$(printf '%s' "$LISTJ" | jq_py "[x for x in d['items'] if x['id'] == '$ID'][0]['progress']['slow']")" \
	"... and so does the list of active runs"
run_ended() { case $(curl -s "${AU[@]}" "$WEB/api/v1/runs/$ID" | jq_py 'd["state"]') in done | failed | cancelled) return 0 ;; esac; return 1; }
wait_until 60 run_ended
t_eq "done" "$(curl -s "${AU[@]}" "$WEB/api/v1/runs/$ID" | jq_py 'd["state"]')" "the run ends done"
runlog=$(curl -s "${AU[@]}" "$WEB/api/v1/runs/$ID" | jq_py 'd["log"]')
t_match '\[slow\] progress: [0-9.]+[bKM], [0-9]+ files?, [0-9]+%, [0-9.]+[bKM]/s, ETA ' "$runlog" \
	"the queued run's log has progress lines"
t_nomatch $'\e|\r' "$runlog" "... and no live line (no terminal)"
t_eq null "$(job_progress)" "no progress once the job is done"
t_eq null "$(run_progress)" "... nor in the ended run"
t_ok "no state file left" test ! -e "$BASE/slow/progress"
web_stop

t_done
