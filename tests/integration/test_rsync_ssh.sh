#!/usr/bin/env bash
#
# rsync+ssh against a real sshd on loopback: full and incremental
# snapshots (hardlinks), the catalog row, the run log, exclude_list in both
# spellings, pre/postexec, a failing job next to a good one, host keys,
# dumpstat, dry run and two concurrent runs of one job.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 rsync ssh ssh-keygen
tb_tmp
sshd_start

SRC=$TMPD/src
make_tree "$SRC"
cfg_global "$CONF"
cfg_job "$CONF" srv1 "$SRC" "description = first server"

# stamp_epoch STAMP / iso_epoch ISO: seconds since the epoch (local time).
stamp_epoch() {
	local s=$1
	date -d "${s:0:4}-${s:4:2}-${s:6:2} ${s:9:2}:${s:12:2}:${s:15:2}" +%s
}
iso_epoch() {
	date -d "$(echo "${1:0:19}" | tr T ' ')" +%s
}
# last_row JOB COLUMNS: the newest row of JOB.

# ================================================================ full backup
t0=$(date +%s)
tb_run -c "$CONF" backup
t_rc 0 "full backup exits 0"
t_match "$LOG_RE\[srv1\] " "$T_ERR" "stderr has log lines 'DATE TIME,ms LEVEL [srv1] ...'"
t_nomatch '^[^0-9]' "$(printf '%s\n' "$T_ERR" | grep -v '^[[:space:]]' | grep -v '^$')" \
	"every stderr line is a log line"
t_match 'Backup processed : srv1$' "$T_ERR" "summary 'Backup processed : srv1'"

snaps=$(snapshots "$BASE/srv1")
t_eq 1 "$(printf '%s' "$snaps" | grep -c .)" "one snapshot folder"
S1=$(printf '%s\n' "$snaps" | head -n 1)
t_match "$STAMP_RE" "$S1" "snapshot named YYYYMMDD-HHhMMmSS"
if [ -n "$S1" ]; then
	d=$(($(stamp_epoch "$S1") - t0))
	t_check "snapshot stamp is the local start time (off by ${d}s)" "$([ $d -ge -1 ] && [ $d -le 5 ]; echo $?)"
fi
t_eq "" "$(partials "$BASE/srv1")" "no .rsync folder left"
t_eq "" "$(find "$BASE/srv1" -maxdepth 1 -name '*.rsync')" "no *.rsync entry at all"
t_ok "snapshot equals the source (content, modes, numeric ids, symlinks, mtimes)" \
	tree_equal "$SRC" "$BASE/srv1/$S1"
t_ok "ghost uid/gid kept numerically" \
	test "$(stat -c %u:%g "$BASE/srv1/$S1/owned_by_ghost" 2>/dev/null)" = "$GHOST_UID:$GHOST_GID"
t_ok "no lock file left" test ! -e "$BASE/srv1/lock"
t_ok "no injected command ran" no_markers
t_ok "known_hosts_file now lists the server" \
	ssh-keygen -F "[127.0.0.1]:$SSHD_PORT" -f "$KNOWN_HOSTS"

# ---- catalog
t_ok "catalog exists at {base}/log/tisbackup.sqlite" test -s "$CATALOG"
cols=$(csql "select group_concat(name, ',') from pragma_table_info('stats')")
t_eq "backup_name,server_name,description,backup_start,backup_end,backup_duration,total_files_count,written_files_count,total_bytes,written_bytes,status,log,backup_location,TYPE" \
	"$cols" "stats table has exactly the original's columns"
idx=$(csql "select group_concat(name, ',') from (select name from sqlite_master where type='index' and tbl_name='stats' order by name)")
t_eq "idx_stats_backup_location,idx_stats_backup_name,idx_stats_backup_name_start" "$idx" \
	"stats table has the original's indexes"
t_eq 1 "$(csql "select count(*) from stats where backup_name='srv1'")" "one catalog row"
IFS='|' read -r st ty loc files wfiles bytes wbytes srv desc start end dur <<<"$(last_row srv1 \
	"status,TYPE,backup_location,total_files_count,written_files_count,total_bytes,written_bytes,server_name,description,backup_start,backup_end,backup_duration")"
t_eq OK "$st" "row status OK"
t_eq BACKUP "$ty" "row TYPE BACKUP"
t_eq "$BASE/srv1/$S1" "$loc" "row backup_location is the snapshot folder"
t_eq 127.0.0.1 "$srv" "row server_name"
t_eq "first server" "$desc" "row description"
nreg=$(find "$SRC" -type f -printf x | wc -c)
t_num_ge 1 "$files" "total_files_count > 0 ($files)"
t_eq "$nreg" "$wfiles" "written_files_count = regular files transferred"
t_num_ge 1048576 "$bytes" "total_bytes counts the tree ($bytes)"
t_num_ge 1048576 "$wbytes" "written_bytes counts the transfer ($wbytes)"
t_match '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}$' "$start" "backup_start is ISO with microseconds"
t_match '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}$' "$end" "backup_end is ISO with microseconds"
t_check "backup_end >= backup_start" "$([[ ! "$end" < "$start" ]]; echo $?)" "start=$start end=$end"
if [ -n "$S1" ] && [ -n "$start" ]; then
	d=$(($(iso_epoch "$start") - $(stamp_epoch "$S1")))
	t_check "backup_start matches the stamp (off by ${d}s)" "$([ $d -ge 0 ] && [ $d -le 2 ]; echo $?)"
fi
t_match '^0?\.[0-9]+(e-?[0-9]+)?$|^[0-9]\.[0-9]+e-[0-9]+$|^0$' "$dur" "backup_duration is a small number of hours ($dur)"
log=$(last_row srv1 log)
t_match '^ssh\+rsync backup from ' "$log" "row log starts with 'ssh+rsync backup from'"
t_match 'OK, [0-9]+ bytes written for [0-9]+ changed files' "$log" "row log has bytes and changed files"

# ---- run log
logs=$(ls "$BASE"/log/tisbackup_*.log 2>/dev/null)
t_match "/log/tisbackup_[0-9]{8}-[0-9]{2}h[0-9]{2}m[0-9]{2}\.log$" "$logs" "run log {base}/log/tisbackup_STAMP.log exists"
runlog=$(cat "$BASE"/log/tisbackup_*.log 2>/dev/null)
t_match "$LOG_RE\[srv1\] " "$runlog" "run log has '[srv1]' lines in the log format"
t_match 'Backup processed : srv1' "$runlog" "run log has the summary"

# ================================================================ incremental
printf 'changed content, longer than before\n' >"$SRC/plain.txt"
printf 'brand new\n' >"$SRC/new.txt"
rm -f "$SRC/sub/a.txt"
wait_next_second
tb_run -c "$CONF" backup
t_rc 0 "second backup exits 0"
snaps=$(snapshots "$BASE/srv1")
t_eq 2 "$(printf '%s' "$snaps" | grep -c .)" "two snapshot folders"
S2=$(printf '%s\n' "$snaps" | tail -n 1)
if [ -n "$S1" ] && [ -n "$S2" ] && [ "$S1" != "$S2" ]; then
	A=$BASE/srv1/$S1 B=$BASE/srv1/$S2
	t_ok "second snapshot equals the modified source" tree_equal "$SRC" "$B"
	for f in big.bin "name with spaces.txt" "bad"$'\xff\xfe'"utf8" "private/secret" "owned_by_ghost" "sub/deeper/deep.txt"; do
		t_eq "$(stat -c %i "$A/$f" 2>/dev/null)" "$(stat -c %i "$B/$f" 2>/dev/null)" \
			"unchanged $(printf %q "$f") is hardlinked to the first snapshot"
	done
	t_ne "$(stat -c %i "$A/plain.txt")" "$(stat -c %i "$B/plain.txt")" "changed file is a new inode"
	t_eq "hello" "$(cat "$A/plain.txt")" "first snapshot keeps the old content"
	t_ok "deleted file absent from the new snapshot" test ! -e "$B/sub/a.txt"
	t_ok "deleted file still in the old snapshot" test -f "$A/sub/a.txt"
	t_ok "new file in the new snapshot" test -f "$B/new.txt"
	t_ok "new file not in the old snapshot" test ! -e "$A/new.txt"
	t_ok "first snapshot still equals what was backed up first" test -f "$A/big.bin"
else
	t_fail "second snapshot created with a new name" "snapshots: $snaps"
fi
IFS='|' read -r st wfiles wbytes loc <<<"$(last_row srv1 status,written_files_count,written_bytes,backup_location)"
t_eq OK "$st" "second row OK"
t_eq 2 "$wfiles" "second row: 2 files written (the changed and the new one)"
exp=$(($(stat -c %s "$SRC/plain.txt") + $(stat -c %s "$SRC/new.txt")))
t_eq "$exp" "$wbytes" "second row: written_bytes = their sizes"
t_eq "$BASE/srv1/$S2" "$loc" "second row: backup_location"
t_eq 2 "$(csql "select count(*) from stats where backup_name='srv1' and status='OK' and TYPE='BACKUP'")" \
	"two OK rows"

# ================================================================ dumpstat
tb_run -c "$CONF" dumpstat
t_rc 0 "dumpstat exits 0"
t_match 'backup_name.*backup_start.*status|backup_name.*status' "$T_OUT" "dumpstat prints the column header line"
rows=$(printf '%s\n' "$T_OUT" | grep -E '(^|[ |])srv1([ |]|$)' | grep -v backup_name)
t_eq 2 "$(printf '%s' "$rows" | grep -c .)" "dumpstat lists srv1's two rows"
t_match '[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}' "$rows" "dumpstat shows 'YYYY-MM-DD HH:MM' times"
t_match '[0-9]+\.[0-9]{2}M' "$rows" "dumpstat shows sizes like '1.00M'"
first=$(printf '%s\n' "$rows" | head -n 1)
t_match "$S2" "$first" "dumpstat lists the newest row first"
tb_run -c "$CONF" -n 1 dumpstat
t_rc 0 "dumpstat -n 1 exits 0"
rows=$(printf '%s\n' "$T_OUT" | grep -E '(^|[ |])srv1([ |]|$)' | grep -v backup_name)
t_eq 1 "$(printf '%s' "$rows" | grep -c .)" "dumpstat -n 1 lists one row"

# ================================================================ dry run
nrows=$(csql "select count(*) from stats")
nlogs=$(log_count)
wait_next_second
tb_run -c "$CONF" -d backup
t_rc 0 "dry run exits 0"
t_imatch 'dry|would' "$T_OUT"$'\n'"$T_ERR" "dry run says what it would do"
t_eq "$nlogs" "$(log_count)" "dry run writes no run log"
t_eq 2 "$(snapshots "$BASE/srv1" | grep -c .)" "dry run creates no snapshot"
t_eq "" "$(partials "$BASE/srv1")" "dry run leaves no .rsync folder"
t_eq "$nrows" "$(csql "select count(*) from stats")" "dry run adds no catalog row"

# ================================================================ exclude_list, options
ESRC=$TMPD/esrc
mkdir -p "$ESRC/excl_dir/inner" "$ESRC/sub" "$ESRC/dir with space"
for f in keep.txt excl_dir/file excl_dir/inner/f a.tmp sub/b.tmp sub/keep2.txt "dir with space/f" c.bak; do
	printf '%s\n' "$f" >"$ESRC/$f"
done
cfg_job "$CONF" ex1 "$ESRC" 'exclude_list = "/excl_dir/**","*.tmp","/dir with space"' \
	"compression = yes" "bwlimit = 100000"
cfg_job "$CONF" ex2 "$ESRC" 'exclude_list = --exclude /excl_dir --exclude=*.tmp --exclude "*.bak"' \
	"cipher_spec = aes256-ctr" "protect_args = yes"
cfg_job "$CONF" ex3 "$ESRC" "exclude_list = '*.bak', '/sub/**'"
tb_run -c "$CONF" -s ex3,ex1,ex2 backup
t_rc 0 "exclude jobs back up (quoted list, legacy form, compression, bwlimit, cipher_spec)"
order=$(printf '%s\n' "$T_ERR" | grep -oE '\[ex[0-9]\] ' | uniq | tr -d '[] \n')
t_eq "ex1ex2ex3" "$order" "-s ex3,ex1,ex2 runs the jobs in config order"
E1=$BASE/ex1/$(snapshots "$BASE/ex1" | tail -n 1)
E2=$BASE/ex2/$(snapshots "$BASE/ex2" | tail -n 1)
E3=$BASE/ex3/$(snapshots "$BASE/ex3" | tail -n 1)
t_ok 'quoted list: keep.txt kept' test -f "$E1/keep.txt"
t_ok 'quoted list: sub/keep2.txt kept' test -f "$E1/sub/keep2.txt"
t_ok 'quoted list: c.bak kept' test -f "$E1/c.bak"
t_ok 'quoted list: "/excl_dir/**" excludes its content' test ! -e "$E1/excl_dir/file"
t_ok 'quoted list: "/excl_dir/**" excludes nested content' test ! -e "$E1/excl_dir/inner"
t_ok 'quoted list: "*.tmp" excludes a.tmp' test ! -e "$E1/a.tmp"
t_ok 'quoted list: "*.tmp" excludes sub/b.tmp' test ! -e "$E1/sub/b.tmp"
t_ok 'quoted list: a pattern with a space' test ! -e "$E1/dir with space"
t_ok 'legacy form: keep.txt kept' test -f "$E2/keep.txt"
t_ok 'legacy form: --exclude /excl_dir excludes the folder' test ! -e "$E2/excl_dir"
t_ok 'legacy form: --exclude=*.tmp excludes a.tmp' test ! -e "$E2/a.tmp"
t_ok 'legacy form: --exclude=*.tmp excludes sub/b.tmp' test ! -e "$E2/sub/b.tmp"
t_ok 'legacy form: quoted --exclude "*.bak"' test ! -e "$E2/c.bak"
t_ok 'legacy form: dir with space kept' test -f "$E2/dir with space/f"
t_ok "single quotes and blanks: keep.txt kept" test -f "$E3/keep.txt"
t_ok "single quotes and blanks: '*.bak' excluded" test ! -e "$E3/c.bak"
t_ok "single quotes and blanks: '/sub/**' excluded" test ! -e "$E3/sub/keep2.txt"

# ================================================================ other key types, -v
for kt in rsa ecdsa; do
	k=$(sshd_add_client_key $kt) || t_bail "ssh-keygen $kt failed"
	cfg_job "$CONF" "key_$kt" "$ESRC" "private_key = $k"
done
tb_run -c "$CONF" -v -s key_rsa,key_ecdsa backup
t_rc 0 "rsa and ecdsa client keys work"
t_eq OK,OK "$(csql "select group_concat(status) from stats where backup_name in ('key_rsa','key_ecdsa')")" \
	"rsa and ecdsa jobs: OK rows"
t_match 'Number of files' "$T_OUT"$'\n'"$T_ERR" "-v echoes rsync's output"

# ================================================================ pre/postexec
cfg_job "$CONF" hooks "$ESRC" "preexec = touch '$TMPD/pre marker'" \
	"postexec = test -e '$TMPD/pre marker' && touch $TMPD/post_marker"
cfg_job "$CONF" badpre "$ESRC" "preexec = echo preexec-says-no; exit 3"
cfg_job "$CONF" badpost "$ESRC" "postexec = exit 4"
tb_run -c "$CONF" -s hooks,badpre,badpost backup
t_rc 1 "a failing preexec/postexec makes backup exit 1"
t_ok "preexec ran on the server" test -e "$TMPD/pre marker"
t_ok "postexec ran after it" test -e "$TMPD/post_marker"
t_eq OK "$(last_row hooks status)" "hooks job OK"
t_eq ERROR "$(last_row badpre status)" "failing preexec: ERROR row"
t_imatch 'preexec' "$(last_row badpre log)" "failing preexec: the row log names preexec"
t_eq "" "$(snapshots "$BASE/badpre")" "failing preexec: no snapshot"
t_eq ERROR "$(last_row badpost status)" "failing postexec: ERROR row"
t_imatch 'postexec' "$(last_row badpost log)" "failing postexec: the row log names postexec"
t_match 'Backup processed with errors: .*badpre' "$T_ERR" "summary lists the failed jobs"

# ================================================================ a failing job next to a good one
DOWN=$(free_port)
CONF2=$TMPD/two.ini
cfg_global "$CONF2"
cfg_job "$CONF2" down "$SRC" "ssh_port = $DOWN"
cfg_job "$CONF2" srv1 "$SRC"
wait_next_second
tb_run -c "$CONF2" backup
t_rc 1 "one job failing: exit 1"
t_match 'Backup processed with errors: .*down' "$T_ERR" "summary 'Backup processed with errors: ...down'"
t_match "$LOG_RE\[down\] " "$T_ERR" "the failure is logged under [down]"
t_eq 3 "$(snapshots "$BASE/srv1" | grep -c .)" "the good job (after the failing one) still made its snapshot"
t_eq OK "$(last_row srv1 status)" "the good job's row is OK"
t_eq ERROR "$(last_row down status)" "the failing job has an ERROR row"
t_imatch 'ssh|connect|refused' "$(last_row down log)" "its log mentions ssh / the connection"
t_eq "" "$(snapshots "$BASE/down")" "no snapshot folder for the failing job"
t_eq 0 "$(csql "select count(*) from stats where backup_name='down' and status='OK'")" \
	"no OK row for the failing job"
dloc=$(last_row down backup_location)
t_check "the failing row does not point at a finished snapshot" \
	"$([ -z "$dloc" ] || [[ ! "${dloc##*/}" =~ $STAMP_RE ]] || [ ! -e "$dloc" ]; echo $?)" "location: $dloc"

# ================================================================ remote_dir missing
# rsync exits 23 (a warning by the original's rules): the job is not a
# failure, but rsync's own error must reach the log, and monitoring must
# not call the empty backup OK.
cfg_job "$CONF" nodir "$TMPD/no/such/dir"
tb_run -c "$CONF" -s nodir backup
t_imatch 'change_dir|No such file or directory' "$T_ERR" "missing remote_dir: rsync's error is logged"
t_imatch 'change_dir|No such file or directory' "$(cat "$BASE"/log/tisbackup_*.log)" \
	"missing remote_dir: rsync's error is in the run log"
tb_run -c "$CONF" -s nodir checknagios
t_ne 0 "$T_RC" "missing remote_dir: checknagios is not OK"

# ================================================================ host keys
cfg_job "$CONF" strict_new "$ESRC" "host_key_policy = strict" "known_hosts_file = $TMPD/empty_known_hosts"
cfg_job "$CONF" strict_ok "$ESRC" "host_key_policy = strict"
tb_run -c "$CONF" -s strict_new,strict_ok backup
t_rc 1 "strict policy with an unknown host fails"
t_eq ERROR "$(last_row strict_new status)" "strict + unknown host: ERROR row"
t_imatch 'host key|verification|known' "$(last_row strict_new log)" "strict + unknown host: log mentions host key verification"
t_not "strict + unknown host: nothing recorded in its known_hosts" \
	ssh-keygen -F "[127.0.0.1]:$SSHD_PORT" -f "$TMPD/empty_known_hosts"
t_eq OK "$(last_row strict_ok status)" "strict policy with a known host works"

sshd_restart_newkey || t_bail "could not restart sshd with a new host key"
wait_next_second
n_before=$(snapshots "$BASE/srv1" | grep -c .)
tb_run -c "$CONF" -s srv1 backup
t_rc 1 "changed host key: backup fails (exit 1)"
t_eq ERROR "$(last_row srv1 status)" "changed host key: ERROR row"
t_imatch 'host key|host identification|verification failed' "$(last_row srv1 log)$T_ERR" \
	"changed host key: the error mentions the host key"
t_eq "$n_before" "$(snapshots "$BASE/srv1" | grep -c .)" "changed host key: no new snapshot"

# ================================================================ concurrent runs
SLOW=$TMPD/slowsrc
mkdir -p "$SLOW"
head -c $((2 * 1024 * 1024)) /dev/urandom >"$SLOW/big"
# A new host key: start from an empty known_hosts.
rm -f "$KNOWN_HOSTS"
CONF3=$TMPD/slow.ini
cfg_global "$CONF3"
cfg_job "$CONF3" slow "$SLOW" "bwlimit = 200"
"$TISBACKUP" -c "$CONF3" backup >"$TMPD/slow1.out" 2>"$TMPD/slow1.err" </dev/null &
P1=$!
tb_track $P1
slow_started() {
	[ -n "$(partials "$BASE/slow")" ]
}
if wait_until 20 slow_started; then
	t_pass "first slow run is transferring"
else
	t_fail "first slow run is transferring" "$(cat "$TMPD/slow1.err")"
fi
tb_run -c "$CONF3" backup
t_ne 0 "$T_RC" "second concurrent run exits non-zero"
t_imatch 'already running' "$T_ERR" "second concurrent run says 'already running'"
wait $P1
rc1=$?
t_eq 0 "$rc1" "first run completes with exit 0"
[ "$rc1" = 0 ] || t_diag "$(tail -n 20 "$TMPD/slow1.err")"
t_eq "OK" "$(csql "select group_concat(status) from stats where backup_name='slow'")" \
	"exactly one catalog row for the job, OK (the busy run recorded nothing)"
s=$(snapshots "$BASE/slow" | tail -n 1)
t_ok "the slow job's snapshot is complete" cmp "$SLOW/big" "$BASE/slow/$s/big"

t_done
