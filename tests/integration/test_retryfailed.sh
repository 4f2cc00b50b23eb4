#!/usr/bin/env bash
#
# retryfailed end to end, against the test sshd: it re-runs exactly the
# jobs without an OK BACKUP row started in the last 30 hours (a job whose
# last run failed, a job that never ran, a job whose good backup is 31
# hours old), never a job with a recent good backup (even with a newer
# failure) and never a null job; exit 0 when the retries succeed, 1 when
# one fails; `-d` runs nothing and writes nothing.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 rsync ssh ssh-keygen
tb_tmp
sshd_start

SRC=$TMPD/src
mkdir -p "$SRC/d"
printf 'one\n' >"$SRC/a"
printf 'two\n' >"$SRC/d/b"
FIXME=$TMPD/fixme # bad's remote_dir, missing until "fixed"

cfg_global "$CONF"
cfg_job "$CONF" good "$SRC"
cfg_job "$CONF" bad "$FIXME"
cfg_job "$CONF" never "$SRC"
cfg_null "$CONF" n

# rows NAME: "status,status,..." of NAME's BACKUP rows, oldest first.
rows() {
	csql "select ifnull(group_concat(status, ','), '') from (select status from stats where backup_name='$1' and TYPE='BACKUP' order by rowid)"
}

# ================================================================ history
tb_run -c "$CONF" -s good,bad backup
t_rc 1 "first backup: good succeeds, bad fails (remote_dir missing)"
t_eq "OK" "$(rows good)" "good has one OK row"
t_eq "ERROR" "$(rows bad)" "bad has one ERROR row"
t_eq "" "$(rows never)" "never has no row"
t_eq 1 "$(snapshots "$BASE/good" | wc -l)" "good has one snapshot"

# The cause of bad's failure is fixed.
mkdir -p "$FIXME"
printf 'fixed\n' >"$FIXME/f"

# ================================================================ dry run
ROWS=$(csql "select count(*) from stats")
nlogs=$(log_count)
# (bad's failed run left its unfinished STAMP.rsync, by design.)
LISTING=$(cd "$BASE" && find . -path ./log -prune -o -print | sort)
SUM=$(md5sum <"$CATALOG")
tb_run -c "$CONF" -d retryfailed
t_rc 0 "dry run: exit 0"
t_eq "$ROWS" "$(csql "select count(*) from stats")" "dry run: no row written"
t_eq "$SUM" "$(md5sum <"$CATALOG")" "dry run: catalog file unchanged"
t_eq "$nlogs" "$(log_count)" "dry run: no run log"
t_eq "$LISTING" "$(cd "$BASE" && find . -path ./log -prune -o -print | sort)" \
	"dry run: nothing created or removed in the backup tree"
t_eq "" "$(snapshots "$BASE/bad")$(snapshots "$BASE/never")" "dry run: no snapshot made"
t_match '\[bad\] .*retrying' "$T_ERR" "dry run: says bad would be retried"
t_match '\[never\] .*retrying' "$T_ERR" "dry run: says never would be retried"
t_nomatch '\[good\]' "$T_ERR" "dry run: good is not considered for a retry"
t_nomatch '\[n\]' "$T_ERR" "dry run: the null job is not considered"

# ================================================================ retry the failed and the never-run job
tb_run -c "$CONF" retryfailed
t_rc 0 "retryfailed: exit 0 when the retries succeed"
t_eq "OK" "$(rows good)" "good: no new row"
t_eq "ERROR,OK" "$(rows bad)" "bad: retried, now OK"
t_eq "OK" "$(rows never)" "never: ran, OK"
t_eq "" "$(rows n)" "null job: no row"
t_eq 1 "$(snapshots "$BASE/good" | wc -l)" "good: still one snapshot"
t_eq 1 "$(snapshots "$BASE/bad" | wc -l)" "bad: one snapshot"
t_eq 1 "$(snapshots "$BASE/never" | wc -l)" "never: one snapshot"
t_ok "bad's snapshot holds the fixed source" test -f "$BASE/bad/$(snapshots "$BASE/bad")/f"
t_nomatch '\[good\] Processing' "$T_ERR" "good was not run"
t_match 'Backup processed : bad,never' "$T_ERR" "summary names bad and never, in config order"

# ================================================================ nothing left to retry
ROWS=$(csql "select count(*) from stats")
tb_run -c "$CONF" retryfailed
t_rc 0 "second retryfailed: exit 0"
t_eq "$ROWS" "$(csql "select count(*) from stats")" "second retryfailed: no new row"
t_match 'every job has a good backup from the last 30 hours' "$T_ERR" "second retryfailed: says so"

# A failure newer than a good backup is not a reason to retry.
csql "insert into stats (backup_name,server_name,description,backup_start,backup_end,status,log,TYPE)
 values ('good','127.0.0.1','','$(iso_ago 60 0)','$(iso_ago 50 0)','ERROR','failed later','BACKUP')" ||
	t_bail "sqlite3 insert failed"
ROWS=$(csql "select count(*) from stats")
tb_run -c "$CONF" -s good retryfailed
t_rc 0 "an OK row within 30 h and a newer ERROR: exit 0"
t_eq "$ROWS" "$(csql "select count(*) from stats")" "an OK row within 30 h and a newer ERROR: not retried"
csql "delete from stats where log='failed later'"

# ================================================================ the 30-hour window
# good's only OK row started 31 h ago: retried. never's started 29 h ago: not.
csql "update stats set backup_start='$(iso_ago $((31 * 3600)) 0)', backup_end='$(iso_ago $((31 * 3600 - 60)) 0)' where backup_name='good'"
csql "update stats set backup_start='$(iso_ago $((29 * 3600)) 0)', backup_end='$(iso_ago $((29 * 3600 - 60)) 0)' where backup_name='never'"
tb_run -c "$CONF" retryfailed
t_rc 0 "window: exit 0"
t_eq "OK,OK" "$(rows good)" "window: good (OK row 31 h old) retried"
t_eq "OK" "$(rows never)" "window: never (OK row 29 h old) not retried"
t_eq "ERROR,OK" "$(rows bad)" "window: bad (OK row just now) not retried"
t_eq 2 "$(snapshots "$BASE/good" | wc -l)" "window: good has a second snapshot"

# ================================================================ -s limits the candidates
csql "update stats set backup_start='$(iso_ago $((40 * 3600)) 0)' where backup_name in ('never','bad')"
tb_run -c "$CONF" -s never retryfailed
t_rc 0 "-s never: exit 0"
t_eq "OK,OK" "$(rows never)" "-s never: never retried"
t_eq "ERROR,OK" "$(rows bad)" "-s never: bad left alone"

# ================================================================ a retry that fails again
rm -rf "${FIXME:?}"
tb_run -c "$CONF" retryfailed
t_rc 1 "a retry that fails: exit 1"
t_eq "ERROR,OK,ERROR" "$(rows bad)" "a retry that fails: bad gets an ERROR row"
t_match 'Backup processed with errors: bad' "$T_ERR" "a retry that fails: the summary names it"
t_eq "" "$(rows n)" "the null job never gets a row"

t_done
