#!/usr/bin/env bash
#
# Fault drills as a test, part 2 (part 1, rsync+ssh, is test_drills.sh):
# tisbackup killed with -9 at random moments
#  - of a pgsql+ssh dump of a real PostgreSQL server (pg_start) reached
#    through the lib.sh sshd: every finished STAMP folder holds complete
#    dumps (gzip -t passes and pg_dump's closing line is there), no child
#    (ssh) alive 2 s after the kill (the guardian sends TERM, then KILL
#    one second later), the remote pg_dump gone too, and the next run
#    succeeds (no stale lock) and leaves no Running row;
#  - of a cleanup removing 40 expired hardlinked snapshots: the snapshots
#    the policy keeps are intact, no CLEAN row names a folder that is still
#    there, no snapshot is left half-removed under its final name (cleanup
#    renames it to NAME.deleting first), and the next cleanup succeeds,
#    finishes every NAME.deleting, removes the rest and leaves every kept
#    snapshot equal to its source.
# The moments come from a seed printed first; replay with TB_DRILL_SEED=N.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 ssh ssh-keygen gzip runuser
SEED=${TB_DRILL_SEED:-$(date +%s)}
t_diag "seed $SEED (replay: TB_DRILL_SEED=$SEED)"
RANDOM=$SEED
tb_tmp

# now_ms: milliseconds since the epoch.
now_ms() { date +%s%3N; }
# gone_within MS PID...: 0 once none of the pids is alive (polls every 20 ms).
gone_within() {
	local limit=$1 end p alive
	shift
	end=$(($(now_ms) + limit))
	while :; do
		alive=0
		for p in "$@"; do
			# a zombie is dead: only its parent, the guardian, has not reaped it yet
			[ -e "/proc/$p" ] && [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ] && alive=1
		done
		[ $alive = 0 ] && return 0
		[ "$(now_ms)" -ge "$end" ] && return 1
		sleep 0.02
	done
}

# ================================================================ pgsql+ssh
if pg_find; then
	sshd_start
	pg_start || t_bail "could not start PostgreSQL"
	pq() {
		runuser -u postgres -- "$PGBIN/psql" --no-psqlrc -h "$PG/sock" -p "$PGPORT" \
			-v ON_ERROR_STOP=1 -At "$@"
	}
	pq -d postgres <<'EOF' >/dev/null || t_bail "creating the test data failed"
CREATE DATABASE big;
\c big
CREATE TABLE rows (id int PRIMARY KEY, h text);
INSERT INTO rows SELECT g, md5(g::text) || md5((g * 7)::text) || md5((g * 3)::text) FROM generate_series(1, 80000) g;
EOF
	PGCONF=$TMPD/pg.ini
	cfg_global "$PGCONF"
	job_section "$PGCONF" pgdrill type=pgsql+ssh server_name=127.0.0.1 "ssh_port=$SSHD_PORT" \
		"private_key=$CLIENT_KEY" "known_hosts_file=$KNOWN_HOSTS" "db_host=$PG/sock" \
		"db_port=$PGPORT" db_name=big
	PJ=$BASE/pgdrill
	# One run at full speed first: how long a dump takes here (the kills land in it).
	t0=$(now_ms)
	tb_run -c "$PGCONF" backup
	t_rc 0 "pgsql+ssh: a first dump succeeds"
	span=$(($(now_ms) - t0))
	t_diag "a dump takes $span ms here"
	# complete_dump DIR: every .sql.gz is whole and ends as pg_dump ends.
	complete_dump() {
		local f n=0
		for f in "$1"/*.sql.gz; do
			[ -f "$f" ] || continue
			n=$((n + 1))
			gzip -t "$f" 2>/dev/null || return 1
			gzip -dc "$f" | tail -n 5 | grep -Eq 'PostgreSQL database (cluster )?dump complete' || return 1
		done
		[ $n -ge 1 ]
	}
	remote_dumps() { pgrep -f "pg_dump.*$PG/sock"; }
	bad=0 alive=0 remote=0
	for ((k = 1; k <= 10; k++)); do
		delay=$((RANDOM % (span + 200)))
		wait_next_second
		"$TISBACKUP" -c "$PGCONF" backup >/dev/null 2>&1 </dev/null &
		P=$!
		tb_track $P
		sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
		kids=$(tb_descendants $P)
		kill -9 $P 2>/dev/null
		wait $P 2>/dev/null
		# shellcheck disable=SC2086 # a list of pids
		if ! gone_within 2000 $kids; then
			alive=$((alive + 1))
			t_diag "kill $k (${delay} ms): still alive 2 s later:" \
				"$(for c in $kids; do ps -o pid=,args= -p "$c"; done)"
		fi
		wait_until 10 eval '[ -z "$(remote_dumps)" ]' || {
			remote=$((remote + 1))
			t_diag "kill $k (${delay} ms): a pg_dump still runs on the server 10 s later"
		}
		for s in $(snapshots "$PJ"); do
			complete_dump "$PJ/$s" || {
				bad=$((bad + 1))
				t_diag "kill $k (${delay} ms): $s is under a final name but incomplete"
			}
		done
	done
	t_eq 0 "$alive" "pgsql+ssh: after each of 10 kills, no child of tisbackup alive 2 s later"
	t_eq 0 "$remote" "pgsql+ssh: after each kill, the remote pg_dump ends"
	t_eq 0 "$bad" "pgsql+ssh: every STAMP folder holds complete dumps"
	wait_next_second
	tb_run -c "$PGCONF" backup
	t_rc 0 "pgsql+ssh: the next run succeeds (no stale lock)"
	t_eq 0 "$(csql "select count(*) from stats where status = 'Running'")" \
		"pgsql+ssh: no Running row after the next run"
	t_eq OK "$(last_row pgdrill status)" "pgsql+ssh: the next run's row is OK"
	t_ok "pgsql+ssh: its dump is complete" complete_dump "$(last_row pgdrill backup_location)"
	t_ok "pgsql+ssh: no lock left" test ! -e "$PJ/lock"
	# Rows of killed runs: repaired to ERROR, none OK without a complete folder.
	while IFS='|' read -r st loc; do
		[ "$st" = OK ] && ! complete_dump "$loc" && bad=$((bad + 1))
	done < <(csql "select status, backup_location from stats where backup_name = 'pgdrill'")
	t_eq 0 "$bad" "pgsql+ssh: every OK row names a complete dump"
else
	t_skip "pgsql+ssh kill sweep" "PostgreSQL server, client or the postgres user is missing"
fi

# ================================================================ cleanup
# same_tree A B: same listing (tree_list) and contents, in two processes
# (tree_equal runs cmp once per file: too slow for 3000 files x 6 checks).
same_tree() {
	[ "$(tree_list "$1")" = "$(tree_list "$2")" ] && diff -rq -- "$1" "$2" >/dev/null
}
N=40
CJ=$BASE/cl
CCONF=$TMPD/cl.ini
cfg_global "$CCONF"
cfg_job "$CCONF" cl /srv "backup_retention_time = 3"
mkdir -p "$CJ" "$TMPD/tree"
for d in $(seq 1 30); do
	mkdir -p "$TMPD/tree/d$d"
	for f in $(seq 1 100); do echo "$d $f" >"$TMPD/tree/d$d/f$f"; done
done
# Snapshot i, i days ago: 1..3 are kept, 4..N expire.
{
	echo "begin;"
	while read -r s iso; do
		cp -al "$TMPD/tree" "$CJ/$s"
		echo "insert into stats (backup_name, server_name, description, backup_start, backup_end,
		  backup_duration, total_files_count, written_files_count, total_bytes, written_bytes,
		  status, log, backup_location, TYPE) values ('cl', 'srv', '', '$iso', '$iso', 0.1, 3000,
		  3000, 1, 1, 'OK', 'rsync backup OK', '$CJ/$s', 'BACKUP');"
	done < <(for ((i = 1; i <= N; i++)); do echo "$(date +%F) $i days ago 01:00:00"; done |
		date -f - '+%Y%m%d-%Hh%Mm%S %Y-%m-%dT%H:%M:%S.000000')
	echo "commit;"
} >"$TMPD/rows.sql"
tb_run -c "$CCONF" dumpstat # creates the catalog and its schema
sqlite3 -batch "$CATALOG" <"$TMPD/rows.sql" || t_bail "cannot insert the rows"
KEPT=$(snapshots "$CJ" | tail -n 3)
count() { snapshots "$CJ" | grep -c .; }
# Entries of the job folder: a snapshot renamed to NAME.deleting still counts until it is gone.
entries() { ls -A "$CJ" | grep -c .; }
leftovers() { ls -A "$CJ" | grep -c '\.deleting$'; }
cbad=0 halfbad=0 hadleft=0
# Kill k lands once the cleanup has removed a random 0..6 snapshots
# completely (0: a random moment of its first 300 ms, while it plans).
ALL=$(snapshots "$CJ")
for ((k = 1; k <= 6; k++)); do
	# Put back what the last rounds removed, so every kill has work to cut.
	for s in $ALL; do
		[ -e "$CJ/$s" ] && continue
		cp -al "$TMPD/tree" "$CJ/$s"
		csql "update stats set TYPE = 'BACKUP' where backup_location = '$CJ/$s'"
	done
	before=$(count) before_entries=$(entries)
	target=$((RANDOM % 7))
	"$TISBACKUP" -c "$CCONF" cleanup >/dev/null 2>&1 </dev/null &
	P=$!
	tb_track $P
	if [ $target = 0 ]; then
		sleep "$(printf '0.%03d' $((RANDOM % 300)))"
	else
		wait_until 60 eval '[ "$(entries)" -le $((before_entries - target)) ] || ! kill -0 $P 2>/dev/null'
	fi
	kill -9 $P 2>/dev/null
	wait $P 2>/dev/null
	delay="$target removals"
	for s in $KEPT; do
		same_tree "$TMPD/tree" "$CJ/$s" || {
			cbad=$((cbad + 1))
			t_diag "cleanup kill $k (after $delay): kept snapshot $s damaged"
		}
	done
	while read -r loc; do
		[ -e "$loc" ] && {
			cbad=$((cbad + 1))
			t_diag "cleanup kill $k (after $delay): $loc is CLEAN but still there"
		}
	done < <(csql "select backup_location from stats where backup_name = 'cl' and TYPE = 'CLEAN'")
	half=0
	for s in $(snapshots "$CJ"); do
		same_tree "$TMPD/tree" "$CJ/$s" || {
			half=$((half + 1))
			t_diag "cleanup kill $k (after $delay): $s is half-removed under its final name"
		}
	done
	halfbad=$((halfbad + half))
	[ "$(leftovers)" -gt 0 ] && hadleft=1
	t_diag "cleanup kill $k (after $delay): $(count) of $before snapshots left," \
		"$(leftovers) NAME.deleting being removed"
done
t_eq 0 "$cbad" "cleanup: after each of 6 kills, kept snapshots intact and no CLEAN row names a folder"
t_eq 0 "$halfbad" "cleanup: after each of 6 kills, every snapshot under a final name equals its source"
t_diag "the kills left a NAME.deleting: $([ $hadleft = 1 ] && echo yes || echo no), now: $(leftovers)"
# Make sure the next cleanup has a cut-short removal to finish, whatever the seed.
if [ "$(leftovers)" = 0 ]; then
	s=$(printf '%s\n' $ALL | head -n 1) # the oldest: expired
	if [ -e "$CJ/$s" ]; then mv "$CJ/$s" "$CJ/$s.deleting"; else cp -al "$TMPD/tree" "$CJ/$s.deleting"; fi
	rm -rf "$CJ/$s.deleting/d1"
fi
tb_run -c "$CCONF" cleanup
t_rc 0 "cleanup: the next cleanup succeeds (no stale lock)"
t_match "finished removing .*\.deleting \(an interrupted cleanup's\)" "$T_OUT$T_ERR" \
	"cleanup: the next cleanup finishes the removals a kill cut short"
t_eq 0 "$(leftovers)" "cleanup: no NAME.deleting left"
t_eq "$KEPT" "$(snapshots "$CJ")" "cleanup: it removed every expired snapshot and only those"
for s in $KEPT; do
	t_ok "cleanup: kept $s equals its source" same_tree "$TMPD/tree" "$CJ/$s"
done
t_eq 3 "$(csql "select count(*) from stats where backup_name = 'cl' and TYPE = 'BACKUP'")" \
	"cleanup: 3 BACKUP rows remain"
t_eq "" "$(ls -A "$CJ" | grep -vxF -f <(printf '%s\n' $KEPT))" "cleanup: nothing else in the job folder"

t_done
