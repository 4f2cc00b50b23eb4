#!/usr/bin/env bash
# Parallel runs: 12 rsync+ssh jobs on 3 "hosts" (127.0.0.2-4, aliases of
# loopback served by one sshd) with max_per_server = 1 and -j 3. Every
# snapshot must be correct, jobs must really overlap across hosts, and two
# jobs of one host must never overlap (checked from the catalog's start
# and end times, and from markers each job's preexec/postexec writes on
# the "host" side). Log lines must stay whole and prefixed.
. "$(dirname "$0")/lib.sh"
tb_require_binary
sshd_start

# Serve 127.0.0.2-4 as well: same sshd, more listen addresses.
sshd_stop
for a in 127.0.0.2 127.0.0.3 127.0.0.4; do echo "ListenAddress $a" >>"$SSHD_DIR/sshd_config"; done
/usr/sbin/sshd -D -e -f "$SSHD_DIR/sshd_config" >>"$SSHD_DIR/sshd.log" 2>&1 </dev/null &
SSHD_PID=$!
wait_until 10 port_open "$SSHD_PORT" || t_bail "sshd did not come back"
for a in 127.0.0.2 127.0.0.3 127.0.0.4; do
	wait_until 10 bash -c "exec 3<>/dev/tcp/$a/$SSHD_PORT" 2>/dev/null || t_bail "sshd not on $a"
done

BASE=$TMPD/backups
CONF=$TMPD/parallel.ini
SPANS=$TMPD/spans
mkdir -p "$SPANS"
cfg_global "$CONF" "max_parallel = 3"
for i in $(seq 0 11); do
	h=127.0.0.$((2 + i % 3))
	src=$TMPD/src$i
	mkdir -p "$src/sub"
	for f in $(seq 1 20); do echo "job $i file $f" >"$src/sub/f$f"; done
	ln -s sub/f1 "$src/link"
	# The hooks run on the "host": a span file per job, one line when it
	# starts using the host and one when it is done with it.
	cfg_job "$CONF" "job$i" "$src" "server_name = $h" \
		"preexec = echo start \$(date +%s.%N) >> $SPANS/$h; sleep 1" \
		"postexec = echo end \$(date +%s.%N) >> $SPANS/$h"
done

tb_run -c "$CONF" backup
t_rc 0 "12 jobs on 3 hosts: exit 0"
t_match 'Backup processed : ' "$T_ERR" "summary line"
t_match 'at most 3 at once' "$T_ERR" "the run says how many jobs run at once"

for i in $(seq 0 11); do
	snap=$(snapshots "$BASE/job$i" | tail -n1)
	if [ -n "$snap" ] && diff -r "$TMPD/src$i" "$BASE/job$i/$snap" >/dev/null 2>&1; then
		t_pass "job$i: snapshot equals its source"
	else
		t_fail "job$i: snapshot equals its source" "snapshot: '$snap'"
	fi
done
t_eq 12 "$(csql "select count(*) from stats where status='OK' and TYPE='BACKUP'")" "12 OK rows"

# From the hosts' side: per host, start/end lines must alternate.
for h in 127.0.0.2 127.0.0.3 127.0.0.4; do
	seq_ok=$(awk 'BEGIN{open=0; ok=1} $1=="start"{if(open)ok=0; open=1} $1=="end"{if(!open)ok=0; open=0} END{print ok && NR==8}' "$SPANS/$h")
	t_eq 1 "$seq_ok" "host $h: its 4 jobs never overlapped (preexec..postexec spans)"
done

# From the catalog: same-host intervals disjoint, and some cross-host overlap.
overlap_same=$(csql "select count(*) from stats a join stats b on a.server_name = b.server_name
	and a.rowid < b.rowid and a.backup_start < b.backup_end and b.backup_start < a.backup_end")
t_eq 0 "$overlap_same" "catalog: no two jobs of one host overlap in time"
overlap_any=$(csql "select count(*) from stats a join stats b on a.server_name != b.server_name
	and a.rowid < b.rowid and a.backup_start < b.backup_end and b.backup_start < a.backup_end")
t_num_ge 1 "$overlap_any" "catalog: jobs of different hosts did run at the same time"

# Lines stay whole: every stderr line starts with a timestamp and level.
bad=$(grep -cvE '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8},[0-9]{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) ' <<<"$T_ERR")
t_eq 0 "$bad" "every log line is whole and well-formed"
t_match "INFO \[job7\] backup OK" "$T_ERR" "job lines carry their [job] prefix"

# -j 1 is the original's sequential behaviour: no overlap at all.
rm -f "$SPANS"/*
wait_next_second
tb_run -c "$CONF" -j 1 -s job0,job1,job2 backup
t_rc 0 "-j 1: exit 0"
overlap=$(csql "select count(*) from (select * from stats order by rowid desc limit 3) a
	join (select * from stats order by rowid desc limit 3) b on a.rowid < b.rowid
	and a.backup_start < b.backup_end and b.backup_start < a.backup_end")
t_eq 0 "$overlap" "-j 1: the three jobs ran one after another"
t_eq "job0 job1 job2" "$(csql "select backup_name from stats order by rowid desc limit 3" | tac | xargs)" \
	"-j 1: in config order"

# A failing job among parallel ones fails alone.
cfg_job "$CONF" broken "$TMPD/src0" "server_name = 127.0.0.2" "ssh_port = $(free_port)"
wait_next_second
tb_run -c "$CONF" -j 3 -s job3,broken,job4 backup
t_rc 1 "a failing job among parallel ones: exit 1"
t_match 'Backup processed with errors: broken' "$T_ERR" "it is named in the error summary"
t_match 'Backup processed : job3,job4' "$T_ERR" "the others are in the OK summary"

# Bad limits are configuration errors.
printf '[global]\nbackup_base_dir = %s\nbackup_retention_time = 1\nmaximum_backup_age = 1\nmax_parallel = -2\n' \
	"$TMPD/b2" >"$TMPD/bad.ini"
tb_run -c "$TMPD/bad.ini" backup
t_rc 3 "max_parallel = -2: configuration error"
t_match 'max_parallel' "$T_ERR" "the message names max_parallel"
tb_run -c "$CONF" -j 0 backup
t_rc 2 "-j 0: usage error"
tb_run -c "$CONF" -j many backup
t_rc 2 "-j many: usage error"
cfg_job "$TMPD/bad2.ini" x "$TMPD/src0" "max_per_server = lots"
sed -i "1i [global]\nbackup_base_dir = $TMPD/b3\nbackup_retention_time = 1\nmaximum_backup_age = 1\n" "$TMPD/bad2.ini"
tb_run -c "$TMPD/bad2.ini" backup
t_rc 3 "max_per_server = lots: configuration error"
t_match 'max_per_server' "$T_ERR" "the message names max_per_server"
t_done
