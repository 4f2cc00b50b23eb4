#!/usr/bin/env bash
#
# Logs: cleanup prunes the run logs after [global] log_retention_days (a
# dry run only lists them), --log-format=json writes one JSON object a
# line, and under systemd ($JOURNAL_STREAM naming stderr) the lines carry
# a <N> priority and no timestamp of our own.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require python3
tb_tmp

# ---- pruning
cfg_global "$CONF" "log_retention_days = 10"
cfg_null "$CONF" nothing
mkdir -p "$BASE/log"
L=$BASE/log
touch -d '20 days ago' "$L/tisbackup_20261114-0359.log" "$L/other.log" "$L/tisbackup_keep.txt"
touch -d '5 days ago' "$L/tisbackup_20261129-0359.log"
touch -d '20 days ago' "$TMPD/outside.log"
ln -s "$TMPD/outside.log" "$L/tisbackup_link.log"
tb_run -c "$CONF" -d cleanup
t_rc 0 "cleanup -d exits 0"
t_match 'would remove run log .*/tisbackup_20261114-0359\.log \(20 days old\)' "$T_ERR" "-d names the old run log"
t_nomatch 'tisbackup_20261129-0359' "$T_ERR" "-d does not name the recent run log"
t_ok "-d removed nothing" test -f "$L/tisbackup_20261114-0359.log"
tb_run -c "$CONF" cleanup
t_rc 0 "cleanup exits 0"
t_not "the 20-day-old run log is gone" test -e "$L/tisbackup_20261114-0359.log"
t_ok "the 5-day-old run log is kept" test -f "$L/tisbackup_20261129-0359.log"
t_ok "other files of log/ are kept" test -f "$L/other.log" -a -f "$L/tisbackup_keep.txt"
t_ok "a symlink is not followed nor removed" test -L "$L/tisbackup_link.log" -a -f "$TMPD/outside.log"
t_match 'removed 1 run log older than 10 days' "$T_ERR" "cleanup says how many it removed"
t_ok "the catalog is kept" test -f "$L/tisbackup.sqlite"

touch -d '400 days ago' "$L/tisbackup_20251101-0359.log"
cfg_global "$CONF" "log_retention_days = 0"
cfg_null "$CONF" nothing
tb_run -c "$CONF" cleanup
t_ok "log_retention_days = 0 keeps every run log" test -f "$L/tisbackup_20251101-0359.log"
cfg_global "$CONF"
cfg_null "$CONF" nothing
tb_run -c "$CONF" cleanup
t_not "the default (90 days) prunes a 400-day-old log" test -e "$L/tisbackup_20251101-0359.log"

cfg_global "$CONF" "log_retention_days = ninety"
cfg_null "$CONF" nothing
tb_run -c "$CONF" cleanup
t_rc 3 "a bad log_retention_days is a configuration error"
t_match "tisbackup.ini:[0-9]+: \[global\] log_retention_days: 'ninety' is not a non-negative integer" \
	"$T_ERR" "the error names file:line, section and key"

# ---- --log-format=json
cfg_global "$CONF"
cfg_null "$CONF" nothing
tb_run -c "$CONF" --log-format=json backup
t_rc 0 "backup --log-format=json exits 0"
printf '%s\n' "$T_ERR" >"$TMPD/json.txt"
out=$(python3 - "$TMPD/json.txt" <<'PY'
import json, re, sys
n = jobs = 0
for line in open(sys.argv[1], encoding="ascii"):
    o = json.loads(line)
    assert sorted(o) == ["job", "level", "message", "time"], o
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", o["time"]), o
    assert o["level"] in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), o
    jobs += o["job"] == "nothing"
    n += 1
print(n, jobs)
PY
)
t_check "every stderr line is a JSON object {time, level, job, message}" $? "$out"
t_match '^[1-9][0-9]* [1-9]' "$out" "lines of the job carry \"job\": \"nothing\""
run_log=$(ls -t "$L"/tisbackup_*.log | head -n 1)
t_match '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8},[0-9]{3} INFO ' "$(cat "$run_log")" "the run log keeps the text format"
tb_run -c "$CONF" --log-format=yaml backup
t_rc 2 "an unknown --log-format is a usage error"

# ---- journald: $JOURNAL_STREAM names stderr
: >"$TMPD/journal.err"
stream=$(stat -c '%d:%i' "$TMPD/journal.err")
JOURNAL_STREAM=$stream "$TISBACKUP" -c "$CONF" backup 2>>"$TMPD/journal.err" >/dev/null
t_match '^<6>INFO \[nothing\] ' "$(cat "$TMPD/journal.err")" "under the journal: <6> for info, no timestamp"
t_nomatch '^[0-9]{4}-' "$(cat "$TMPD/journal.err")" "under the journal: no line starts with our timestamp"
: >"$TMPD/journal.err"
cfg_global "$TMPD/nojobs.ini"
# No job: "No backup properly finished or processed" is CRITICAL.
JOURNAL_STREAM=$stream "$TISBACKUP" -c "$TMPD/nojobs.ini" backup 2>>"$TMPD/journal.err" >/dev/null
t_match '^<2>CRITICAL No backup' "$(cat "$TMPD/journal.err")" "under the journal: critical lines carry <2>"
: >"$TMPD/other.err"
JOURNAL_STREAM=$stream "$TISBACKUP" -c "$CONF" backup 2>>"$TMPD/other.err" >/dev/null
t_match '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8},[0-9]{3} INFO ' "$(cat "$TMPD/other.err")" \
	"\$JOURNAL_STREAM naming another stream: the text format"
: >"$TMPD/journal.err"
JOURNAL_STREAM=$stream "$TISBACKUP" -c "$CONF" --log-format=json backup 2>>"$TMPD/journal.err" >/dev/null
t_match '^\{"time":' "$(cat "$TMPD/journal.err")" "--log-format=json wins over the journal"

t_done
