#!/usr/bin/env bash
#
# tisbackup restore (docs/restore.md), round trips against real servers on
# loopback: back up, destroy or change the data, restore, compare.
#  - rsync+ssh with preserve_hardlinks/acls/xattrs: a tree with awkward
#    names, hardlinks, ACLs, xattrs, a sparse file and numeric ids comes
#    back equal to a local folder, to HOST:DIR over ssh and in place;
#    --path restores one folder; paths leaving the snapshot are refused;
#    --dry-run lists the changes and changes nothing; --in-place needs a
#    terminal or --yes; a restore killed midway leaves the old files plus
#    a .tisbackup-restore.partial folder, never a half-written file;
#    into a missing or empty folder (here and HOST:DIR) the restore stages
#    into DIR.tisbackup-partial and renames it (over ssh one rename over
#    the empty DIR, which never goes missing, refused when DIR got content
#    meanwhile); killed midway (SIGKILL on
#    its process group) it leaves no DIR, only that folder, and a rerun
#    completes; a folder with content still gets --delay-updates;
#    each restore is a RESTORE row (who, what, where, result).
#  - pgsql+ssh and mysql+ssh: --db into the same name is refused while it
#    exists (and left untouched), --replace and --to-db load it, row by
#    row equal; --dry-run creates nothing; a corrupt dump fails and leaves
#    no database behind; the MySQL password is in no argv during the
#    restore (every /proc/*/cmdline sampled).
#  - a one-file backup (xcp-dump-metadata, the generic hook): --to DIR
#    writes the verified file, refuses to overwrite without --replace.

# Literal SQL and shell text; T_* are read by lib.sh.
# shellcheck disable=SC2012,SC2016,SC2034
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 ssh ssh-keygen rsync gzip setfacl getfacl setfattr getfattr
tb_tmp
sshd_start

# ================================================================ files (rsync+ssh)
SRC=$TMPD/src
make_tree "$SRC"
setfacl -m u:4242:rwx,g:4343:r "$SRC/plain.txt"
setfacl -d -m u:4242:rx "$SRC/sub"
setfattr -n user.tb_note -v "hello xattr" "$SRC/name with spaces.txt"
truncate -s 64M "$SRC/sparse.img"
printf 'tail' | dd of="$SRC/sparse.img" bs=1 seek=$((64 * 1024 * 1024 - 4)) conv=notrunc status=none
ln "$SRC/sub/a.txt" "$SRC/sub/deeper/a_link"

cfg_global "$CONF"
cfg_job "$CONF" files "$SRC" "preserve_hardlinks = yes" "preserve_acls = yes" \
	"preserve_xattrs = yes"

# facls DIR: every ACL and user xattr of DIR, relative names, sorted.
facls() {
	(cd "$1" && getfacl -R -p --absolute-names . 2>/dev/null | grep -av '^# owner\|^# group' &&
		getfattr -R -d -m '^user\.' --absolute-names . 2>/dev/null) | grep -av '^$'
}
# same_inode A B: A and B are one file (hardlinked).
same_inode() { [ "$(stat -c %i "$1")" = "$(stat -c %i "$2")" ]; }
# rows TYPE: how many catalog rows of that TYPE the files job has.
rows() { csql "select count(*) from stats where backup_name='files' and TYPE='$1'"; }

tb_run -c "$CONF" -s files backup
t_rc 0 "files: the backup is OK"
SNAP=$BASE/files/$(snapshots "$BASE/files" | tail -n 1)
t_ok "files: the snapshot keeps the hardlink" same_inode "$SNAP/hl_a" "$SNAP/hl_b"
t_eq "$(facls "$SRC")" "$(facls "$SNAP")" "files: the snapshot keeps ACLs and xattrs (preserve_*)"

# --- to a local folder
tb_run -c "$CONF" -s files restore --to "$TMPD/r1"
t_rc 0 "restore --to DIR: exit 0"
t_ok "restore --to DIR: the tree is equal (names, modes, owners, times, contents)" \
	tree_equal "$SRC" "$TMPD/r1"
t_ok "restore --to DIR: hardlinks are kept" same_inode "$TMPD/r1/hl_a" "$TMPD/r1/hl_b"
t_ok "restore --to DIR: hardlinks across folders are kept" \
	same_inode "$TMPD/r1/sub/a.txt" "$TMPD/r1/sub/deeper/a_link"
t_eq "$(facls "$SRC")" "$(facls "$TMPD/r1")" "restore --to DIR: ACLs and xattrs are equal"
t_ok "restore --to DIR: the sparse file stays sparse (at most 4 MiB allocated)" \
	test "$(du -k "$TMPD/r1/sparse.img" | cut -f1)" -le 4096
t_eq "1|OK" "$(rows RESTORE)|$(last_row files status)" "restore: one RESTORE row, OK"
t_match "restore of $SNAP to $TMPD/r1/ OK.*by root" "$(last_row files log)" \
	"restore: the row says what, where and who"
t_eq "$TMPD/r1/" "$(last_row files backup_location)" "restore: the row's location is the target"
t_ok "restore: no injected command ran" no_markers

# --- an existing target is not overwritten without --replace
printf 'mine\n' >"$TMPD/r1/plain.txt"
tb_run -c "$CONF" -s files restore --to "$TMPD/r1"
t_rc 0 "restore again without --replace: exit 0"
t_eq "mine" "$(cat "$TMPD/r1/plain.txt")" "restore without --replace keeps a file already there"
tb_run -c "$CONF" -s files restore --to "$TMPD/r1" --replace
t_eq "hello" "$(cat "$TMPD/r1/plain.txt")" "restore --replace overwrites it"

# --- over ssh, HOST:DIR, one path
tb_run -c "$CONF" -s files restore --to "127.0.0.1:$TMPD/r2" --path /sub/deeper --path "dir with space/f.txt"
t_rc 0 "restore --path --to HOST:DIR: exit 0"
t_eq "$(printf '%s\n' "dir with space" "dir with space/f.txt" sub sub/deeper sub/deeper/a_link sub/deeper/deep.txt)" \
	"$(cd "$TMPD/r2" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort)" \
	"restore --path: only the named paths, under their own folders"
t_eq "deep" "$(cat "$TMPD/r2/sub/deeper/deep.txt")" "restore --path: the content is the backup's"

# --- staging: a missing or empty target folder is written as DIR.tisbackup-partial, then renamed
# staged [USER@HOST:]DIR: how many restores logged that they staged into DIR.
staged() { cat "$BASE"/log/*.log 2>/dev/null | grep -cF "into $1/ through the staging folder ${1#*:}.tisbackup-partial"; }
t_eq "1" "$(staged "$TMPD/r1")" "restore --to a new DIR: staged (then kept without --replace, --replace: not staged)"
t_ok "restore --to a new DIR: no staging folder left" test ! -e "$TMPD/r1.tisbackup-partial"
R6="$TMPD/r6 it's \$(cd;touch tb_pwned_$TB_ID)"
tb_run -c "$CONF" -s files restore --to "127.0.0.1:$R6"
t_rc 0 "restore --to HOST:NEWDIR: exit 0"
t_ok "restore --to HOST:NEWDIR: the tree is equal (awkward names, symlinks, modes, owners, times)" \
	tree_equal "$SRC" "$R6"
t_ok "restore --to HOST:NEWDIR: hardlinks are kept" same_inode "$R6/sub/a.txt" "$R6/sub/deeper/a_link"
t_eq "1" "$(staged "root@127.0.0.1:$R6")" "restore --to HOST:NEWDIR: staged"
t_ok "restore --to HOST:NEWDIR: no staging folder left" test ! -e "$R6.tisbackup-partial"
t_ok "restore --to HOST:NEWDIR: no injected command ran" no_markers
mkdir "$TMPD/r7"
mkdir -p "$TMPD/r7.tisbackup-partial/stale"
tb_run -c "$CONF" -s files restore --to "127.0.0.1:$TMPD/r7"
t_rc 0 "restore --to HOST:EMPTYDIR: exit 0"
t_ok "restore --to HOST:EMPTYDIR: the tree is equal (a stale staging folder removed first)" \
	tree_equal "$SRC" "$TMPD/r7"
t_eq "1" "$(staged "root@127.0.0.1:$TMPD/r7")" "restore --to HOST:EMPTYDIR: staged"
# The final step into an empty HOST:DIR is one rename over it: a second
# sshd (127.0.0.2) runs its sessions with shims of mv and rmdir first in
# PATH, which log whether the target is there when mv starts; with
# $SHIMS/fill present, mv first writes a file into the target (someone
# else created content meanwhile), and the rename must refuse it.
SHIMS=$TMPD/shims
mkdir -p "$SHIMS"
REAL_MV=$(command -v mv)
REAL_RMDIR=$(command -v rmdir)
cat >"$SHIMS/mv" <<SHIM
#!/bin/sh
for last in "\$@"; do :; done
[ -e "$SHIMS/fill" ] && echo theirs >"\$last/theirs.txt"
if [ -d "\$last" ]; then echo "mv: target there" >>"$SHIMS/log"; else echo "mv: target missing" >>"$SHIMS/log"; fi
exec "$REAL_MV" "\$@"
SHIM
cat >"$SHIMS/rmdir" <<SHIM
#!/bin/sh
echo "rmdir \$*" >>"$SHIMS/log"
exec "$REAL_RMDIR" "\$@"
SHIM
chmod 755 "$SHIMS/mv" "$SHIMS/rmdir"
sshd_instance_start shim 127.0.0.2 "$SSHD_PORT" "PATH=$SHIMS:$PATH" || t_bail "could not start the second sshd"
printf '[127.0.0.2]:%s %s\n' "$SSHD_PORT" "$(cut -d' ' -f1,2 "${SSHD_I_DIR[shim]}/host_ed25519.pub")" >>"$KNOWN_HOSTS"
R11="$TMPD/r11 it's \$(cd;touch tb_pwned_$TB_ID)"
mkdir "$R11"
tb_run -c "$CONF" -s files restore --to "127.0.0.2:$R11"
t_rc 0 "restore --to HOST:EMPTYDIR (shimmed PATH): exit 0"
t_ok "restore --to HOST:EMPTYDIR (shimmed PATH): the tree is equal" tree_equal "$SRC" "$R11"
t_eq "mv: target there" "$(cat "$SHIMS/log")" \
	"restore --to HOST:EMPTYDIR: the target is still there when the final mv runs, and nothing is rmdir'ed"
t_ok "restore --to HOST:EMPTYDIR (shimmed PATH): no staging folder left" test ! -e "$R11.tisbackup-partial"
t_ok "restore --to HOST:EMPTYDIR (shimmed PATH): no injected command ran" no_markers
R12=$TMPD/r12
mkdir "$R12"
: >"$SHIMS/fill"
tb_run -c "$CONF" -s files restore --to "127.0.0.2:$R12"
rm -f "$SHIMS/fill"
t_rc 1 "restore --to HOST:EMPTYDIR that gets content before the rename: exit 1"
t_match "move it to $R12 yourself" "$T_ERR" "restore --to HOST:DIR filled meanwhile: the error says where the files are"
t_eq "theirs.txt" "$(ls -A "$R12")" "restore --to HOST:DIR filled meanwhile: its content is left alone"
t_ok "restore --to HOST:DIR filled meanwhile: the restored tree is kept in the staging folder" \
	tree_equal "$SRC" "$R12.tisbackup-partial"
tb_run -c "$CONF" -s files restore --to "nosuchuser@127.0.0.1:$TMPD/r10"
t_rc 1 "restore --to a HOST:DIR ssh refuses: exit 1"
t_match "checking the target folder on nosuchuser@127.0.0.1 failed" "$T_ERR" \
	"restore --to a HOST:DIR ssh refuses: the error names the step and the host"
t_ok "restore --to a HOST:DIR ssh refuses: nothing made" test ! -e "$TMPD/r10" -a ! -e "$TMPD/r10.tisbackup-partial"
mkdir "$TMPD/r8"
tb_run -c "$CONF" -s files restore --to "$TMPD/r8"
t_ok "restore --to EMPTYDIR: the tree is equal" tree_equal "$SRC" "$TMPD/r8"
t_eq "1" "$(staged "$TMPD/r8")" "restore --to EMPTYDIR: staged"
mkdir "$TMPD/r9"
printf 'kept\n' >"$TMPD/r9/r9.txt"
tb_run -c "$CONF" -s files restore --to "127.0.0.1:$TMPD/r9"
t_rc 0 "restore --to HOST:DIR with content: exit 0"
t_eq "0" "$(staged "root@127.0.0.1:$TMPD/r9")" "restore --to HOST:DIR with content: not staged (--delay-updates)"
t_match "into root@127.0.0.1:$TMPD/r9/ \(files already there" "$(cat "$BASE"/log/*.log)" \
	"restore --to HOST:DIR with content: restored in place"
t_eq "kept" "$(cat "$TMPD/r9/r9.txt")" "restore --to HOST:DIR with content: its own file is still there"
t_ok "restore --to HOST:DIR with content: the backup's files are there" cmp "$SRC/plain.txt" "$TMPD/r9/plain.txt"
rm -rf "$R6" "$TMPD/r7" "$TMPD/r8" "$TMPD/r9"

# --- paths out of the snapshot
for p in ../etc sub/../../x abs_link/x rel_link/x nope; do
	tb_run -c "$CONF" -s files restore --to "$TMPD/r3" --path "$p"
	t_rc 1 "restore --path $p: refused"
done
t_ok "restore: refused paths wrote nothing" test ! -e "$TMPD/r3"
t_match "not in the backup|not allowed|not a folder" "$T_ERR" "restore --path: the error says why"

# --- dry run and in place
printf 'changed\n' >"$SRC/plain.txt"
rm "$SRC/sub/a.txt"
before=$(tree_list "$SRC")
n_rows=$(csql "select count(*) from stats")
tb_run -c "$CONF" -s files -d restore --in-place
t_rc 0 "restore -d --in-place: exit 0 (no question in a dry run)"
t_match 'plain\.txt' "$T_OUT" "restore -d: lists a changed file"
t_match 'sub/a\.txt' "$T_OUT" "restore -d: lists a deleted file"
t_eq "$before" "$(tree_list "$SRC")" "restore -d: nothing changed at the target"
t_eq "$n_rows" "$(csql "select count(*) from stats")" "restore -d: no catalog row"

tb_run -c "$CONF" -s files restore --in-place
t_rc 2 "restore --in-place without a terminal or --yes: refused"
t_match 'or add --yes' "$T_ERR" "restore --in-place: the error names --yes"
t_eq "changed" "$(cat "$SRC/plain.txt")" "restore --in-place refused: nothing changed"

tb_run -c "$CONF" -s files restore --in-place --yes
t_rc 0 "restore --in-place --yes: exit 0"
t_ok "restore --in-place: the source equals the backup again" tree_equal "$TMPD/r1" "$SRC"
t_ok "restore --in-place: the hardlink is back" same_inode "$SRC/sub/a.txt" "$SRC/sub/deeper/a_link"

# --- usage errors
nrows=$(rows RESTORE)
tb_run -c "$CONF" -s files restore
t_rc 2 "restore without --to or --in-place: a usage error"
t_match 'where to. --to DIR .*--to HOST:DIR .*--in-place \(back into .* on 127\.0\.0\.1' "$T_ERR" \
	"restore without a target: the error says how"
t_eq "$nrows" "$(rows RESTORE)" \
	"restore without a target: no RESTORE row"
tb_run -c "$CONF" -s files restore --at 2001-01-01 --to "$TMPD/r4"
t_rc 1 "restore --at a date before any backup: no backup"
tb_run -c "$CONF" -s files restore --at yesterday --to "$TMPD/r4"
t_rc 2 "restore --at with a bad value: usage error"
tb_run -c "$CONF" -s files restore --at "$(basename "$SNAP")" --to "$TMPD/r4" --path plain.txt
t_rc 0 "restore --at STAMP: exit 0"
tb_run -c "$CONF" -s files restore --at "$(date +%F)" --to "$TMPD/r5" --path plain.txt
t_rc 0 "restore --at DATE: exit 0"
tb_run -c "$CONF" -s files backup --to x
t_rc 2 "--to with another action: usage error"
for k in "$TMPD/noparent/x" "127.0.0.1:$TMPD/noparent/y"; do
	tb_run -c "$CONF" -s files restore --to "$k"
	t_rc 1 "restore --to $k whose parent is missing: exit 1"
	t_match "parent folder .*noparent.* does not exist.*mkdir -p" "$T_ERR" \
		"restore --to $k whose parent is missing: the error names the parent and what to do"
	t_ok "restore --to $k whose parent is missing: nothing created" test ! -e "$TMPD/noparent"
done

# --- killed midway: old files plus a clearly named partial folder
head -c $((128 * 1024 * 1024)) /dev/urandom >"$SRC/big.bin"
tb_run -c "$CONF" -s files backup
t_rc 0 "files: second backup with a big file"
# The killed restores below run in a cgroup allowed 5 % of one CPU (tisbackup
# starts no process but by a fixed PATH, so no shim can slow its rsync): the
# 128 MB copy takes seconds there however fast or busy the machine, and the
# kill lands mid-copy. Without a writable cpu controller they run as is.
SLOWCG=
for d in /sys/fs/cgroup/cpu /sys/fs/cgroup; do
	[ -w "$d/cgroup.procs" ] || continue
	if [ -e "$d/cpu.cfs_quota_us" ] && mkdir "$d/tbit-restore-$$" 2>/dev/null; then
		echo 5000 >"$d/tbit-restore-$$/cpu.cfs_quota_us" && SLOWCG=$d/tbit-restore-$$
	elif grep -qw cpu "$d/cgroup.subtree_control" 2>/dev/null && mkdir "$d/tbit-restore-$$" 2>/dev/null; then
		echo "5000 100000" >"$d/tbit-restore-$$/cpu.max" && SLOWCG=$d/tbit-restore-$$
	fi
	break
done
[ -n "$SLOWCG" ] || t_diag "no writable cpu cgroup: the killed restores run at full speed"
# slowly CMD...: CMD (exec'ed, same pid) inside $SLOWCG.
slowly() {
	[ -z "$SLOWCG" ] || echo "$BASHPID" >"$SLOWCG/cgroup.procs"
	exec "$@"
}
# Killed (SIGKILL on tisbackup's process group) while rsync writes into a new folder:
# no DIR, only DIR.tisbackup-partial; a second restore completes.
for k in "$TMPD/k1" "127.0.0.1:$TMPD/k2"; do
	kd=${k#127.0.0.1:}
	(slowly setsid "$TISBACKUP" -c "$CONF" -s files restore --to "$k") >"$TMPD/kill.log" 2>&1 &
	rpid=$!
	staging_big() { find "$kd.tisbackup-partial" -name '.big.bin.*' -size +1M 2>/dev/null | grep -q .; }
	if wait_until 60 staging_big; then
		kill -KILL -- "-$rpid"
		wait "$rpid" 2>/dev/null
		gone() { ! pgrep -f -- "$kd.tisbackup-partial" >/dev/null; }
		wait_until 60 gone
		t_ok "killed restore --to $k: no $kd" test ! -e "$kd"
		t_ok "killed restore --to $k: $kd.tisbackup-partial is left" test -d "$kd.tisbackup-partial"
	else
		wait "$rpid" 2>/dev/null
		t_fail "killed restore --to $k: rsync's temporary file never appeared in the staging folder" \
			"$(cat "$TMPD/kill.log")"
	fi
	tb_run -c "$CONF" -s files restore --to "$k"
	t_rc 0 "restore --to $k after the killed one: exit 0"
	t_ok "restore --to $k after the killed one: the tree is the backup's" \
		tree_equal "$(ls -d "$BASE"/files/2*/ | tail -n 1)" "$kd"
	t_ok "restore --to $k after the killed one: no staging folder left" test ! -e "$kd.tisbackup-partial"
	rm -rf "$kd"
done
printf 'old big\n' >"$SRC/big.bin"
printf 'old plain\n' >"$SRC/plain.txt"
(slowly "$TISBACKUP" -c "$CONF" -s files restore --in-place --yes --replace) >"$TMPD/kill.log" 2>&1 &
rpid=$!
# rsync writes .big.bin.XXXXXX, moved into .tisbackup-restore.partial when complete.
partial_big() { find "$SRC" -name '.big.bin.*' -size +1M 2>/dev/null | grep -q .; }
if wait_until 60 partial_big; then
	kill -TERM "$rpid"
	wait "$rpid"
	t_eq "old big" "$(cat "$SRC/big.bin")" "killed restore: the file being written still has its old content"
	t_eq "old plain" "$(cat "$SRC/plain.txt")" "killed restore: files not yet renamed are the old ones"
	t_eq "ERROR" "$(last_row files status)" "killed restore: the RESTORE row is ERROR"
	t_match "interrupted" "$(last_row files log)" "killed restore: the row says it was interrupted"
	t_eq "" "$(find "$SRC" -name '.big.bin.*' -not -path '*/.tisbackup-restore.partial/*')" \
		"killed restore: no temporary file left outside .tisbackup-restore.partial"
else
	wait "$rpid"
	t_fail "killed restore: rsync's partial file never appeared" "$(cat "$TMPD/kill.log")"
fi
tb_run -c "$CONF" -s files restore --in-place --yes --replace
t_rc 0 "restore after the killed one: exit 0"
t_ok "restore after the killed one: the big file is back" cmp -s "$SRC/big.bin" "$(ls -d "$BASE"/files/2*/ | tail -n 1)/big.bin"
t_eq "" "$(find "$SRC" -name .tisbackup-restore.partial)" "restore after the killed one: no partial folder left"
rm -f "$SRC/big.bin"
rm -rf "$BASE/files"
[ -z "$SLOWCG" ] || rmdir "$SLOWCG" 2>/dev/null

# ================================================================ pgsql+ssh
if pg_find && pg_start; then
	pq() { runuser -u postgres -- "$PGBIN/psql" --no-psqlrc -h "$PG/sock" -p "$PGPORT" -v ON_ERROR_STOP=1 -At "$@"; }
	canon() {
		runuser -u postgres -- pg_dump -h "$PG/sock" -p "$PGPORT" --no-owner -- "$1" 2>&1 |
			grep -vE '^(\\restrict|\\unrestrict|--)'
	}
	pq -d postgres <<'SQL' >/dev/null || t_bail "creating the PostgreSQL test data failed"
CREATE DATABASE "we're db";
\c "we're db"
CREATE TABLE t (id int PRIMARY KEY, s text, b bytea);
INSERT INTO t SELECT g, 'row ' || g || E' it''s\n"x"', decode(md5(g::text), 'hex') FROM generate_series(1, 5000) g;
CREATE VIEW v AS SELECT id FROM t WHERE id < 10;
SQL
	job_section "$CONF" pg "type = pgsql+ssh" "server_name = 127.0.0.1" "ssh_port = $SSHD_PORT" \
		"private_key = $CLIENT_KEY" "known_hosts_file = $KNOWN_HOSTS" "db_name = we're db" \
		"db_host = $PG/sock" "db_port = $PGPORT"
	want=$(canon "we're db")
	tb_run -c "$CONF" -s pg backup
	t_rc 0 "pgsql: backup OK"
	pq -d "we're db" -c "DELETE FROM t WHERE id > 100" >/dev/null

	tb_run -c "$CONF" -s pg restore --db "we're db"
	t_rc 1 "pgsql: restore into the existing database without --replace: refused"
	t_match "already exists.*nothing was changed.*--replace" "$T_ERR" \
		"pgsql: the refusal says why and what to do"
	t_eq "100" "$(pq -d "we're db" -c "SELECT count(*) FROM t")" \
		"pgsql: the refused restore left the database untouched"

	tb_run -c "$CONF" -s pg -d restore --to-db "dry'run"
	t_rc 0 "pgsql: restore -d: exit 0"
	t_match "would load .* into database 'dry'run'" "$T_OUT" "pgsql: restore -d says what it would do"
	t_eq "" "$(pq -d postgres -c "SELECT datname FROM pg_database WHERE datname LIKE 'dry%'")" \
		"pgsql: restore -d created nothing"

	tb_run -c "$CONF" -s pg restore --replace
	t_rc 0 "pgsql: restore --replace (db_name of the job): exit 0"
	t_eq "$want" "$(canon "we're db")" "pgsql: restore --replace: the database equals the backed-up one"
	t_eq "RESTORE|OK" "$(last_row pg "TYPE || '|' || status")" "pgsql: a RESTORE row, OK"

	tb_run -c "$CONF" -s pg restore --db "we're db" --to-db 'copy "of" it'
	t_rc 0 "pgsql: restore --to-db NEW: exit 0"
	t_nomatch 'NOTICE' "$T_ERR" "pgsql: restore --to-db: no psql NOTICE in its log"
	t_eq "$want" "$(canon 'copy "of" it')" "pgsql: restore --to-db: the copy equals the backed-up database"

	# A damaged dump: the load fails, no database and no staging one is left.
	gz=$(ls "$BASE"/pg/2*/*-2*.sql.gz | head -n 1)
	size=$(stat -c %s "$gz")
	printf '\x55\xaa\x55\xaa' | dd of="$gz" bs=1 seek=$((size / 2)) conv=notrunc status=none
	tb_run -c "$CONF" -s pg restore --to-db broken
	t_rc 1 "pgsql: restore of a damaged dump fails"
	t_match "damaged|invalid|incorrect" "$T_ERR" "pgsql: the error says the dump is damaged"
	t_eq "" "$(pq -d postgres -c "SELECT datname FROM pg_database WHERE datname LIKE 'broken%'")" \
		"pgsql: the failed restore left no database behind"
	t_eq "ERROR" "$(last_row pg status)" "pgsql: the failed restore is an ERROR row"
else
	t_skip "pgsql+ssh restore" "PostgreSQL is missing"
fi

# ================================================================ mysql+ssh
if command -v mariadbd >/dev/null && mariadb_start; then
	myq() { mariadb --no-defaults --default-character-set=utf8mb4 -S "$MYSOCK" -uroot -N -B "$@"; }
	mycanon() {
		mysqldump --no-defaults -S "$MYSOCK" -uroot --skip-comments --skip-dump-date -- "$1" 2>&1 |
			grep -v '^/\*M!999999'
	}
	SENT="sentinel-$TB_ID-pw"
	PW="Q'\"\\#\$(touch tb_pwned_$TB_ID) x-$SENT"
	sqlstr() {
		local s=${1//\\/\\\\}
		s=${s//\'/\\\'}
		printf "'%s'" "$s"
	}
	myq <<SQL || t_bail "creating the MariaDB test data failed"
CREATE USER 'tbuser'@'127.0.0.1' IDENTIFIED BY $(sqlstr "$PW");
GRANT ALL ON *.* TO 'tbuser'@'127.0.0.1';
CREATE DATABASE d1 CHARACTER SET utf8mb4;
CREATE TABLE d1.t (id INT PRIMARY KEY, s TEXT, b BLOB) CHARACTER SET utf8mb4;
USE d1;
INSERT INTO d1.t SELECT seq, CONCAT('row ', seq, ' it''s \n "x"'), UNHEX(MD5(seq)) FROM seq_1_to_200000;
SQL
	job_section "$CONF" my "type = mysql+ssh" "server_name = 127.0.0.1" "ssh_port = $SSHD_PORT" \
		"private_key = $CLIENT_KEY" "known_hosts_file = $KNOWN_HOSTS" "db_name = d1" \
		"db_user = tbuser" "db_passwd = $PW" "db_host = 127.0.0.1" "db_port = $MYPORT"
	want=$(mycanon d1)
	tb_run -c "$CONF" -s my backup
	t_rc 0 "mysql: backup OK"
	myq -e "DELETE FROM d1.t WHERE id > 10"

	tb_run -c "$CONF" -s my restore --db d1
	t_rc 1 "mysql: restore into the existing database without --replace: refused"
	t_eq "10" "$(myq -e "SELECT count(*) FROM d1.t")" "mysql: the refused restore left the database untouched"

	# Sample every process's command line while the restore runs.
	: >"$TMPD/seen"
	(
		while [ ! -e "$TMPD/stop" ]; do
			cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\0' ' ' | grep -ac "${SENT%-pw}[-]pw" >>"$TMPD/seen"
		done
	) &
	sampler=$!
	tb_run -c "$CONF" -s my restore --replace
	touch "$TMPD/stop"
	wait "$sampler"
	t_rc 0 "mysql: restore --replace: exit 0"
	t_eq "$want" "$(mycanon d1)" "mysql: restore --replace: the database equals the backed-up one"
	t_eq "" "$(grep -v '^0$' "$TMPD/seen" | head -n 1)" \
		"mysql: the password was in no command line during the restore"
	t_num_ge 2 "$(wc -l <"$TMPD/seen")" "mysql: the command lines were sampled during the restore"
	t_ok "mysql: no injected command ran" no_markers
	t_nomatch "$SENT" "$(cat "$BASE"/log/tisbackup_*.log)" "mysql: the password is not in the run log"

	tb_run -c "$CONF" -s my restore --to-db 'we`re'
	t_rc 0 "mysql: restore --to-db NEW: exit 0"
	t_eq "200000" "$(myq -e 'SELECT count(*) FROM `we``re`.t')" "mysql: restore --to-db: every row is there"
	t_eq "RESTORE|OK" "$(last_row my "TYPE || '|' || status")" "mysql: a RESTORE row, OK"
else
	t_skip "mysql+ssh restore" "MariaDB is missing or did not start"
fi

# ================================================================ one-file backups (generic hook)
mkdir -p "$BASE/meta"
job_section "$CONF" meta "type = xcp-dump-metadata" "server_name = 127.0.0.1" \
	"private_key = $CLIENT_KEY" "known_hosts_file = $KNOWN_HOSTS" "ssh_port = $SSHD_PORT"
head -c 300000 /dev/urandom | gzip >"$BASE/meta/127.0.0.1-20250102-01h02m03.dump.gz"
tb_run -c "$CONF" -s meta register_existing
t_rc 0 "one-file: register_existing"
tb_run -c "$CONF" -s meta restore --to "$TMPD/meta out"
t_rc 0 "one-file: restore --to DIR: exit 0"
t_ok "one-file: the file is the backup's" cmp "$BASE/meta/127.0.0.1-20250102-01h02m03.dump.gz" \
	"$TMPD/meta out/127.0.0.1-20250102-01h02m03.dump.gz"
tb_run -c "$CONF" -s meta restore --to "$TMPD/meta out"
t_rc 1 "one-file: restore over an existing file without --replace: refused"
tb_run -c "$CONF" -s meta restore --to "$TMPD/meta out" --replace
t_rc 0 "one-file: restore --replace: exit 0"
t_eq "" "$(find "$TMPD/meta out" -name '*.partial')" "one-file: no .partial left"
tb_run -c "$CONF" -s meta restore --to "$TMPD/meta2" --path x
t_rc 1 "one-file: --path refused"

t_done
