#!/usr/bin/env bash
#
# The rsync driver against a real rsync daemon on loopback (auth users,
# secrets file, read-only modules): full and incremental snapshots, a
# sub-folder of a module, exclude_list in both spellings, a wrong password,
# a password file other users may read, the password never in any argv or
# environment, exit 23 (an unreadable file) recorded as a partial backup or
# as an error with partial_is_error, and a daemon that stops sending.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 rsync
tb_tmp

RSYNCD_DIR=$TMPD/rsyncd # rsyncd_start's folder: the configuration, secrets and logs
mkdir -p "$RSYNCD_DIR"
chmod 700 "$RSYNCD_DIR"

# A password nothing else contains; never passed to a command as an argument.
PW="tbpw-${TB_ID}-$RANDOM$RANDOM-x"
printf 'tbuser:%s\n' "$PW" >"$RSYNCD_DIR/secrets"
chmod 600 "$RSYNCD_DIR/secrets"
PWFILE=$TMPD/rsync.pw
printf '%s\n' "$PW" >"$PWFILE"
chmod 600 "$PWFILE"
# The pattern file for grep -F -f: the password stays out of grep's argv.
printf '%s\n' "$PW" >"$RSYNCD_DIR/pattern"

SRC=$TMPD/src
make_tree "$SRC"
ESRC=$TMPD/esrc
mkdir -p "$ESRC/excl_dir/inner" "$ESRC/sub" "$ESRC/dir with space"
for f in keep.txt excl_dir/file excl_dir/inner/f a.tmp sub/b.tmp sub/keep2.txt "dir with space/f" c.bak; do
	printf '%s\n' "$f" >"$ESRC/$f"
done
# Read by a daemon running as nobody: one file it cannot open (exit 23).
PSRC=$TMPD/psrc
mkdir -p "$PSRC/sub"
printf 'readable\n' >"$PSRC/ok.txt"
printf 'readable too\n' >"$PSRC/sub/ok2.txt"
printf 'root only\n' >"$PSRC/unreadable.txt"
chmod 000 "$PSRC/unreadable.txt"
chmod 755 "$PSRC" "$PSRC/sub"
SLOW=$TMPD/slowsrc
mkdir -p "$SLOW"
head -c $((4 * 1024 * 1024)) /dev/urandom >"$SLOW/big"

# module NAME PATH [extra lines...]
module() {
	local name=$1 path=$2 l
	shift 2
	printf '[%s]\n' "$name"
	printf '\tpath = %s\n' "$path"
	printf '\tauth users = tbuser\n'
	printf '\tsecrets file = %s\n' "$RSYNCD_DIR/secrets"
	printf '\tread only = yes\n'
	printf '\tuse chroot = no\n'
	for l in "$@"; do printf '\t%s\n' "$l"; done
}

{
	echo "pid file = $RSYNCD_DIR/rsyncd.pid"
	echo "log file = $RSYNCD_DIR/rsyncd.log"
	module mod "$SRC" "uid = root" "gid = root"
	module emod "$ESRC" "uid = root" "gid = root"
	module pmod "$PSRC" "uid = 65534" "gid = 65534"
	module smod "$SLOW" "uid = root" "gid = root"
} >"$RSYNCD_DIR/rsyncd.conf"

# Start `rsync --daemon` on a free loopback port.
rsyncd_start "$RSYNCD_DIR/rsyncd.conf" || t_bail "could not start rsync --daemon: $(tail -n 5 "$RSYNCD_DIR/rsyncd.log" "$RSYNCD_DIR/stdout.log" 2>/dev/null)"

# cfg_rjob FILE NAME MODULE REMOTE_DIR [key=value...]: an rsync daemon job;
# an extra key replaces the default of the same name.
cfg_rjob() {
	local f=$1 name=$2 mod=$3 dir=$4 kv
	shift 4
	local -A extra=()
	for kv in "$@"; do
		extra[${kv%%[ =]*}]=1
	done
	_rdefault() {
		[ -n "${extra[$1]:-}" ] || echo "$1 = $2"
	}
	{
		echo "[$name]"
		echo "type = rsync"
		echo "server_name = 127.0.0.1"
		echo "remote_user = tbuser"
		echo "rsync_module = $mod"
		echo "remote_dir = $dir"
		_rdefault rsync_port "$RSYNCD_PORT"
		_rdefault password_file "$PWFILE"
		for kv in "$@"; do echo "$kv"; done
		echo
	} >>"$f"
}


cfg_global "$CONF"
cfg_rjob "$CONF" d1 mod /

# ================================================================ full backup
tb_run -c "$CONF" -s d1 backup
t_rc 0 "full backup from the daemon exits 0"
S1=$(snapshots "$BASE/d1" | tail -n 1)
t_match "$STAMP_RE" "$S1" "a snapshot folder named STAMP"
t_eq "" "$(partials "$BASE/d1")" "no .rsync folder left"
t_ok "snapshot equals the module (content, modes, numeric ids, symlinks, mtimes)" \
	tree_equal "$SRC" "$BASE/d1/$S1"
t_eq "$GHOST_UID:$GHOST_GID" "$(stat -c %u:%g "$BASE/d1/$S1/owned_by_ghost" 2>/dev/null)" \
	"ghost uid/gid kept numerically"
t_eq "plain.txt" "$(readlink "$BASE/d1/$S1/rel_link")" "relative symlink kept"
t_eq "/etc/hostname" "$(readlink "$BASE/d1/$S1/abs_link")" "absolute symlink kept as is"
t_ok "no injected command ran" no_markers
IFS='|' read -r st loc wfiles wbytes <<<"$(last_row d1 status,backup_location,written_files_count,written_bytes)"
t_eq OK "$st" "row OK"
t_eq "$BASE/d1/$S1" "$loc" "row location is the snapshot"
t_eq "$(find "$SRC" -type f -printf x | wc -c)" "$wfiles" "written_files_count = regular files"
t_num_ge 1048576 "$wbytes" "written_bytes counts the transfer"
t_match "^rsync backup from tbuser@127\.0\.0\.1::mod/ OK, [0-9]+ bytes written for [0-9]+ changed files$" \
	"$(last_row d1 log)" "row log 'rsync backup from USER@HOST::MODULE/ OK, ...'"
t_match "rsync on mod/ from tbuser@" "$(cat "$RSYNCD_DIR/rsyncd.log")" \
	"the daemon authenticated tbuser"

# ================================================================ incremental
printf 'changed content\n' >"$SRC/plain.txt"
printf 'new\n' >"$SRC/new.txt"
wait_next_second
tb_run -c "$CONF" -s d1 backup
t_rc 0 "second backup exits 0"
S2=$(snapshots "$BASE/d1" | tail -n 1)
t_ne "$S1" "$S2" "a second snapshot"
t_ok "second snapshot equals the changed module" tree_equal "$SRC" "$BASE/d1/$S2"
for f in big.bin "private/secret" "bad"$'\xff\xfe'"utf8" "sub/deeper/deep.txt"; do
	t_eq "$(stat -c %i "$BASE/d1/$S1/$f" 2>/dev/null)" "$(stat -c %i "$BASE/d1/$S2/$f" 2>/dev/null)" \
		"unchanged $(printf %q "$f") hardlinked to the first snapshot"
done
t_ne "$(stat -c %i "$BASE/d1/$S1/plain.txt")" "$(stat -c %i "$BASE/d1/$S2/plain.txt")" \
	"changed file is a new inode"
t_eq 2 "$(last_row d1 written_files_count)" "second row: 2 files written"

# ================================================================ sub-folder, both spellings
cfg_rjob "$CONF" d_sub mod sub/deeper
cfg_rjob "$CONF" d_sub2 mod /sub/
tb_run -c "$CONF" -s d_sub,d_sub2 backup
t_rc 0 "remote_dir inside the module"
t_ok "remote_dir 'sub/deeper': its content at the snapshot root" \
	test -f "$BASE/d_sub/$(snapshots "$BASE/d_sub" | tail -n 1)/deep.txt"
t_ok "remote_dir '/sub/': its content at the snapshot root" \
	test -f "$BASE/d_sub2/$(snapshots "$BASE/d_sub2" | tail -n 1)/deeper/deep.txt"
t_match "::mod/sub/deeper/ OK" "$(last_row d_sub log)" "source 'mod/sub/deeper/'"
t_match "::mod/sub/ OK" "$(last_row d_sub2 log)" "source 'mod/sub/' (one slash after the module)"

# ================================================================ exclude_list
cfg_rjob "$CONF" ex1 emod / 'exclude_list = "/excl_dir/**","*.tmp","/dir with space"' \
	"compression = yes" "compressionlevel = 3"
cfg_rjob "$CONF" ex2 emod / 'exclude_list = --exclude /excl_dir --exclude=*.tmp --exclude "*.bak"' \
	"protect_args = no"
tb_run -c "$CONF" -s ex1,ex2 backup
t_rc 0 "exclude jobs back up (quoted list, legacy form, compression)"
E1=$BASE/ex1/$(snapshots "$BASE/ex1" | tail -n 1)
E2=$BASE/ex2/$(snapshots "$BASE/ex2" | tail -n 1)
t_ok 'quoted list: keep.txt kept' test -f "$E1/keep.txt"
t_ok 'quoted list: c.bak kept' test -f "$E1/c.bak"
t_ok 'quoted list: "/excl_dir/**" excludes its content' test ! -e "$E1/excl_dir/file"
t_ok 'quoted list: "*.tmp" excludes sub/b.tmp' test ! -e "$E1/sub/b.tmp"
t_ok 'quoted list: a pattern with a space' test ! -e "$E1/dir with space"
t_ok 'legacy form: keep.txt kept' test -f "$E2/keep.txt"
t_ok 'legacy form: --exclude /excl_dir' test ! -e "$E2/excl_dir"
t_ok 'legacy form: --exclude=*.tmp' test ! -e "$E2/a.tmp"
t_ok 'legacy form: --exclude "*.bak"' test ! -e "$E2/c.bak"
t_ok 'legacy form: dir with space kept' test -f "$E2/dir with space/f"

# ================================================================ authentication
BADPW=$TMPD/bad.pw
printf 'not-the-password\n' >"$BADPW"
chmod 600 "$BADPW"
OPENPW=$TMPD/open.pw
printf '%s\n' "$PW" >"$OPENPW"
chmod 644 "$OPENPW"
cfg_rjob "$CONF" badpw mod / "password_file = $BADPW"
cfg_rjob "$CONF" openpw mod / "password_file = $OPENPW"
cfg_rjob "$CONF" nomod mod_does_not_exist /
nconn=$(grep -c 'connect from' "$RSYNCD_DIR/rsyncd.log")
tb_run -c "$CONF" -s badpw backup
t_rc 1 "wrong password: exit 1"
t_eq ERROR "$(last_row badpw status)" "wrong password: ERROR row"
t_match '@ERROR: auth failed on module mod' "$(last_row badpw log)" \
	"wrong password: rsync's auth error in the row log"
t_match 'exit code 5' "$(last_row badpw log)" "wrong password: the exit code in the row log"
t_match 'auth failed' "$T_ERR" "wrong password: rsync's words in the run log"
t_eq "" "$(snapshots "$BASE/badpw")" "wrong password: no snapshot"
tb_run -c "$CONF" -s nomod backup
t_eq ERROR "$(last_row nomod status)" "unknown module: ERROR row"
t_imatch 'unknown module' "$(last_row nomod log)" "unknown module: rsync's words in the row log"

nconn=$(grep -c 'connect from' "$RSYNCD_DIR/rsyncd.log")
tb_run -c "$CONF" -s openpw backup
t_rc 1 "password file readable by others: exit 1"
t_eq ERROR "$(last_row openpw status)" "password file readable by others: ERROR row"
t_match "password_file $OPENPW must not be readable by other users: chmod 600 $OPENPW" \
	"$(last_row openpw log)" "password file readable by others: says what to do"
t_eq "$nconn" "$(grep -c 'connect from' "$RSYNCD_DIR/rsyncd.log")" \
	"password file readable by others: the daemon was never contacted"
t_eq "" "$(find "$BASE/openpw" -mindepth 1 ! -name lock 2>/dev/null)" \
	"password file readable by others: nothing written"

# ---- configuration errors
CBAD=$TMPD/bad.ini
cfg_global "$CBAD"
printf '[nopw]\ntype = rsync\nserver_name = 127.0.0.1\nrsync_module = mod\nremote_dir = /\n' >>"$CBAD"
tb_run -c "$CBAD" backup
t_rc 3 "rsync job without password_file: configuration error (exit 3)"
t_match '\[nopw\] password_file: missing required key' "$T_ERR" "names the missing password_file"
cfg_global "$CBAD"
printf '[m]\ntype = rsync\nserver_name = 127.0.0.1\nrsync_module = a/b\nremote_dir = /\npassword_file = %s\n' \
	"$PWFILE" >>"$CBAD"
printf '[p]\ntype = rsync\nserver_name = 127.0.0.1\nrsync_module = mod\nremote_dir = /\npassword_file = %s\nrsync_port = 99999\n' \
	"$PWFILE" >>"$CBAD"
tb_run -c "$CBAD" backup
t_rc 3 "bad rsync_module / rsync_port: configuration error"
t_match "\[m\] rsync_module: 'a/b' is not a module name" "$T_ERR" "a module name with '/' is refused"
t_match '\[p\] rsync_port: ' "$T_ERR" "rsync_port out of range is refused"

# ---- unreachable daemon
CDOWN=$TMPD/down.ini
cfg_global "$CDOWN"
DOWN=$(free_port)
cfg_rjob "$CDOWN" down mod / "rsync_port = $DOWN"
tb_run -c "$CDOWN" backup
t_rc 1 "closed daemon port: exit 1"
t_match 'Connection refused' "$(last_row down log)" "closed daemon port: rsync's words in the row log"
t_match 'rsync_port' "$(last_row down log)" "closed daemon port: the row log hints at rsync_port"

# ================================================================ the password stays secret
cfg_rjob "$CONF" slowpw smod / "bwlimit = 1000"
timeout -k 5 120 "$TISBACKUP" -c "$CONF" -s slowpw backup >"$TMPD/slowpw.out" 2>"$TMPD/slowpw.err" </dev/null &
BG=$!
tb_track "$BG"
samples=0 leaks=0 seen_rsync=0 words=()
leak_where=
while kill -0 "$BG" 2>/dev/null; do
	for f in /proc/[0-9]*/cmdline /proc/[0-9]*/environ; do
		# Read with a builtin: no process of ours ever holds the password.
		{ mapfile -d '' words <"$f"; } 2>/dev/null || continue
		content="${words[*]}"
		[ -n "$content" ] || continue
		if [[ $content == *"$PW"* ]]; then
			leaks=$((leaks + 1))
			leak_where="$leak_where $f"
		fi
		if [[ $f == */cmdline && $content == rsync\ *--password-file=* ]]; then
			seen_rsync=1
		fi
	done
	samples=$((samples + 1))
done
wait "$BG"
rc=$?
t_eq 0 "$rc" "slow backup (sampled) exits 0"
t_num_ge 3 "$samples" "sampled every process's argv and environment $samples times"
t_eq 1 "$seen_rsync" "the samples saw rsync running with --password-file="
t_eq 0 "$leaks" "the password is in no process's argv or environment" "found in:$leak_where"
t_not "the password is in no run log" grep -rqF -f "$RSYNCD_DIR/pattern" "$BASE/log" "$TMPD/slowpw.err" "$TMPD/slowpw.out"
tb_run -c "$CONF" -s slowpw -d backup
t_match "--password-file=$PWFILE" "$T_ERR" "dry run shows --password-file=FILE"
t_nomatch "$PW" "$T_ERR" "dry run does not show the password"

# ================================================================ exit 23: partial transfer
cfg_rjob "$CONF" part pmod /
cfg_rjob "$CONF" parterr pmod / "partial_is_error = yes"
tb_run -c "$CONF" -s part backup
t_rc 0 "unreadable file (exit 23): the job still succeeds"
t_eq OK "$(last_row part status)" "exit 23: OK row"
t_match '^rsync backup from tbuser@127\.0\.0\.1::pmod/ OK, .* \(partial transfer\)$' "$(last_row part log)" \
	"exit 23: the row log ends with '(partial transfer)'"
t_match "${LOG_RE}\[part\] .*partial transfer" "$T_ERR" "exit 23: a warning in the log"
t_match "WARNING \[part\] rsync: .*unreadable\.txt.*Permission denied" "$T_ERR" \
	"exit 23: rsync's complaint is logged as a warning"
P1=$(snapshots "$BASE/part" | tail -n 1)
t_match "$STAMP_RE" "$P1" "exit 23: the snapshot is kept under its final name"
t_ok "exit 23: the readable files are in it" test -f "$BASE/part/$P1/sub/ok2.txt"
t_eq "" "$(partials "$BASE/part")" "exit 23: no .rsync left"

tb_run -c "$CONF" -s parterr backup
t_rc 1 "exit 23 with partial_is_error = yes: exit 1"
t_eq ERROR "$(last_row parterr status)" "partial_is_error: ERROR row"
t_match 'partial transfer \(exit code 23\).*partial_is_error = yes' "$(last_row parterr log)" \
	"partial_is_error: the row log says why"
t_match 'unreadable\.txt' "$(last_row parterr log)" "partial_is_error: with rsync's words"
t_eq "" "$(snapshots "$BASE/parterr")" "partial_is_error: no STAMP folder"
t_eq 1 "$(partials "$BASE/parterr" | grep -c .)" "partial_is_error: the transfer stays STAMP.rsync"
t_match '\.rsync$' "$(last_row parterr backup_location)" "partial_is_error: the row points at STAMP.rsync"

# ================================================================ stall
# The watchdog judges progress by the backup filesystem's growth: give the
# stalled job a tmpfs of its own so other writers cannot keep it alive.
SBASE=$TMPD/stallbase
mkdir -p "$SBASE"
kids=
# shellcheck disable=SC2317 # called through wait_until
started() { [ -n "$(partials "$SBASE/stalled")" ] && [ -n "$(pgrep -P "$RSYNCD_PID")" ]; }
# shellcheck disable=SC2317 # called through wait_until
kids_gone() {
	local p
	for p in $kids; do
		kill -0 "$p" 2>/dev/null && return 1
	done
	return 0
}
if mount -t tmpfs -o size=64m tbrsyncd "$SBASE" 2>/dev/null; then
	trap 'umount -l "$SBASE" 2>/dev/null; _tb_cleanup' EXIT
	CSTALL=$TMPD/stall.ini
	{
		echo "[global]"
		echo "backup_base_dir = $SBASE"
		echo "backup_retention_time = 30"
		echo "maximum_backup_age = 30"
		echo
	} >"$CSTALL"
	cfg_rjob "$CSTALL" stalled smod / "bwlimit = 100" "stall_timeout = 5"
	timeout -k 5 120 "$TISBACKUP" -c "$CSTALL" backup >"$TMPD/stall.out" 2>"$TMPD/stall.err" </dev/null &
	BG=$!
	tb_track "$BG"
	wait_until 30 started || t_fail "the stalled job started transferring" "$(cat "$TMPD/stall.err")"
	sleep 1
	kids=$(tb_descendants "$RSYNCD_PID")
	t_ne "" "$kids" "found the daemon's per-connection process"
	t0=$(date +%s)
	# shellcheck disable=SC2086 # a list of pids
	kill -STOP $kids
	wait "$BG"
	rc=$?
	t1=$(date +%s)
	for p in $kids; do
		kill -CONT "$p" 2>/dev/null
		kill "$p" 2>/dev/null
	done
	t_eq 1 "$rc" "stalled daemon: exit 1"
	el=$((t1 - t0))
	t_check "stalled daemon: the job ended within ~15 s (${el}s)" "$([ "$el" -le 15 ]; echo $?)"
	log=$(sql "$SBASE/log/tisbackup.sqlite" "select status || ' ' || log from stats where backup_name='stalled'")
	t_match '^ERROR ' "$log" "stalled daemon: ERROR row"
	t_match 'no data for 5 s: the transfer stalled' "$log" "stalled daemon: the row says it stalled"
	t_eq "" "$(snapshots "$SBASE/stalled")" "stalled daemon: no finished snapshot"
	sleep 1
	t_eq "" "$(pgrep -f -- "$SBASE/stalled")" "stalled daemon: no local rsync left running"
	t_ok "stalled daemon: the stopped daemon process is gone" wait_until 10 kids_gone
	umount -l "$SBASE"
	trap _tb_cleanup EXIT
else
	t_skip "stalled daemon" "cannot mount a tmpfs (not root?)"
fi

kill "$RSYNCD_PID" 2>/dev/null
wait "$RSYNCD_PID" 2>/dev/null
t_done
