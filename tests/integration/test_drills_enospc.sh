#!/usr/bin/env bash
#
# ENOSPC drills: a job folder on a small loop-mounted ext4 filled to the
# last block (root's reserve included) under an rsync+ssh and a pgsql+ssh
# job (the catalog stays on the roomy disk; its own full-disk case is
# test_disk_full.sh). Each run on the full disk fails with a message that
# says the disk is full and names the folder, records nothing good (an
# ERROR row, no new finished backup, no staging name left counted), leaves
# the previous backup intact, and the run after space is freed succeeds.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 ssh ssh-keygen gzip mkfs.ext4 losetup mount umount
tb_tmp
sshd_start

# fill DIR: write until not one block is left, root's reserve included.
fill() {
	local bs
	for bs in 64k 1k 1; do
		dd if=/dev/zero of="$1/.fill$bs" bs=$bs 2>/dev/null
	done
}
avail() { df --output=avail "$1" | tail -n 1 | tr -d ' '; }

# drill JOB CONF CHECK_FIRST CHECK_NEXT: the job's folder $BASE/JOB is on
# a small disk holding its first backup; CHECK_FIRST judges that one,
# CHECK_NEXT a later one. Two rounds: full to the last block (the run
# cannot even take its lock), then 64 KiB left (the run starts and runs
# out of space in the middle of writing).
drill() {
	local job=$1 conf=$2 check_first=$3 check_next=$4 dir=$BASE/$1 first n round
	first=$(snapshots "$dir" | tail -n 1)
	n=$(csql "select count(*) from stats where backup_name = '$job' and status = 'OK'")
	fill "$dir"
	t_eq 0 "$(avail "$dir")" "$job: the disk is full"
	for round in full nearly; do
		if [ $round = nearly ]; then
			rm -f "$dir/.fill1" "$dir/.fill1k"
			truncate -s -64K "$dir/.fill64k"
		fi
		wait_next_second
		tb_run -c "$conf" backup
		t_ne 0 "$T_RC" "$job, $round: the run fails"
		t_imatch "disk (is )?full" "$T_ERR" "$job, $round: the error says the disk is full"
		t_match "$dir" "$T_ERR" "$job, $round: the error names the folder"
		if [ $round = nearly ]; then
			t_eq ERROR "$(last_row "$job" status)" "$job, $round: its row is ERROR"
			t_imatch "disk (is )?full" "$(last_row "$job" log)" \
				"$job, $round: the row's log says the disk is full"
		fi
		t_eq "$n" "$(csql "select count(*) from stats where backup_name = '$job' and status = 'OK'")" \
			"$job, $round: no new OK row"
		t_eq "$first" "$(snapshots "$dir")" "$job, $round: no new finished backup, the first one still there"
		t_ok "$job, $round: the previous backup is intact" "$check_first" "$dir/$first"
	done
	rm -f "$dir"/.fill*
	wait_next_second
	tb_run -c "$conf" backup
	t_rc 0 "$job: once space is freed, the next run succeeds"
	t_eq OK "$(last_row "$job" status)" "$job: its row is OK"
	t_ok "$job: its backup is complete" "$check_next" "$(last_row "$job" backup_location)"
	local left
	left=$(ls -A "$dir" | grep -vE "$STAMP_RE|^lost\+found$|^lock$")
	t_eq "" "$(for e in $left; do csql "select rowid from stats where status = 'OK' and backup_location = '$dir/$e'"; done)" \
		"$job: what else is left in the job folder ($left) is named by no OK row"
}

# ================================================================ rsync+ssh
SRC=$TMPD/src
mkdir -p "$SRC"
for i in $(seq 1 20); do head -c 100000 /dev/urandom >"$SRC/f$i"; done
RCONF=$TMPD/rs.ini
cfg_global "$RCONF"
cfg_job "$RCONF" rs "$SRC"
loop_mount "$TMPD/rs.img" "$BASE/rs" 16 || t_bail "cannot loop-mount an ext4 image here"
tb_run -c "$RCONF" backup
t_rc 0 "rs: a first backup fits"
cp -a "$SRC" "$TMPD/src_first"
same_as_first() { tree_equal "$TMPD/src_first" "$1"; }
same_as_src() { tree_equal "$SRC" "$1"; }
# New data the next run has to write.
for i in $(seq 21 30); do head -c 200000 /dev/urandom >"$SRC/f$i"; done
drill rs "$RCONF" same_as_first same_as_src

# ================================================================ pgsql+ssh
if pg_find; then
	pg_start || t_bail "could not start PostgreSQL"
	runuser -u postgres -- "$PGBIN/psql" --no-psqlrc -h "$PG/sock" -p "$PGPORT" -v ON_ERROR_STOP=1 \
		-q -d postgres >/dev/null <<'EOF' || t_bail "creating the test data failed"
CREATE DATABASE big;
\c big
CREATE TABLE rows (id int PRIMARY KEY, h text);
INSERT INTO rows SELECT g, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, 30000) g;
EOF
	PCONF=$TMPD/pg.ini
	cfg_global "$PCONF"
	job_section "$PCONF" pg type=pgsql+ssh server_name=127.0.0.1 "ssh_port=$SSHD_PORT" \
		"private_key=$CLIENT_KEY" "known_hosts_file=$KNOWN_HOSTS" "db_host=$PG/sock" \
		"db_port=$PGPORT" db_name=big
	loop_mount "$TMPD/pg.img" "$BASE/pg" 16 || t_bail "cannot loop-mount an ext4 image here"
	tb_run -c "$PCONF" backup
	t_rc 0 "pg: a first dump fits"
	complete_dump() {
		local f n=0
		for f in "$1"/*.sql.gz; do
			[ -f "$f" ] || continue
			n=$((n + 1))
			gzip -t "$f" 2>/dev/null || return 1
			gzip -dc "$f" | tail -n 5 | grep -qE 'PostgreSQL database (cluster )?dump complete' || return 1
		done
		[ $n -ge 1 ]
	}
	drill pg "$PCONF" complete_dump complete_dump
else
	t_skip "pgsql+ssh ENOSPC drill" "PostgreSQL server, client or the postgres user is missing"
fi

t_done
