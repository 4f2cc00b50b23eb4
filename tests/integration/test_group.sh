#!/usr/bin/env bash
#
# Monitoring as a non-root user (issue 20 part 5), with a real
# unprivileged user made for the test (useradd, removed on exit): without
# [global] group, checknagios as that user says the catalog is unreadable
# and names the permission problem (UNKNOWN, exit 3); a job folder it
# cannot enter is a permission problem too, never "has disapeared". With
# [global] group = GROUP (the user in it), a backup gives the group read
# access to the backup folder, the log folder, the catalog, the run logs
# and the job folders (group-readable, nothing for others), and
# checknagios as the user answers OK. An unknown group is a configuration
# error naming the key.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 rsync ssh ssh-keygen useradd userdel groupadd groupdel runuser
[ "$(id -u)" = 0 ] || { t_skip "group tests" "needs root (useradd)"; t_done; }
tb_tmp
sshd_start

NAG=tbnag${TB_ID,,}
GRP=tbgrp${TB_ID,,}
NAG=${NAG:0:30}
GRP=${GRP:0:30}
groupadd "$GRP" || t_bail "groupadd $GRP failed"
useradd -M -N -g nogroup -G "$GRP" -s /usr/sbin/nologin -d /nonexistent "$NAG" || {
	groupdel "$GRP"
	t_bail "useradd $NAG failed"
}
# Remove them on exit, before lib.sh's own cleanup.
_group_cleanup() {
	local st=$?
	userdel "$NAG" 2>/dev/null
	groupdel "$GRP" 2>/dev/null
	_tb_cleanup
	return $st
}
trap _group_cleanup EXIT
t_ok "the test user $NAG exists, in $GRP" sh -c "id -nG '$NAG' | grep -qw '$GRP'"

SRC=$TMPD/src
mkdir -p "$SRC"
echo data >"$SRC/f"
cfg_global "$CONF"
cfg_job "$CONF" web "$SRC"
chmod 0644 "$CONF"
# as_nagios ARGS...: tisbackup as the test user (stdout in T_OUT, exit in T_RC).
as_nagios() {
	T_OUT=$(cd / && runuser -u "$NAG" -- "$TISBACKUP" "$@" 2>"$TMPD/.nag.err")
	T_RC=$?
	T_ERR=$(cat "$TMPD/.nag.err")
}

# ================================================================ no group
tb_run -c "$CONF" backup
t_rc 0 "a backup as root"
chmod 0755 "$BASE" "$BASE/log" # the catalog itself stays 0640 root:root
as_nagios -c "$CONF" checknagios
t_rc 3 "no group: checknagios as $NAG is UNKNOWN (exit 3)"
t_match '^UNKNOWN : cannot read the catalog: .*a permission problem: give checknagios.s user read access with \[global\] group = GROUP' \
	"$T_OUT" "no group: the message names the permission problem and the fix"

# The catalog readable, the job folder not: a permission problem, not a vanished backup.
chmod 0644 "$CATALOG"
chmod 0700 "$BASE/web"
as_nagios -c "$CONF" checknagios
t_rc 3 "a job folder it cannot enter: UNKNOWN (exit 3)"
t_match "^\[web\]:UNKNOWN : cannot check the backup of web at .*: Permission denied \(running as uid $(id -u "$NAG"): give it read access with \[global\] group = GROUP" \
	"$T_OUT" "the message names the permission problem"
t_nomatch 'disapeared' "$T_OUT" "... never 'has disapeared'"

# ================================================================ group
cfg_global "$CONF" "group = $GRP"
cfg_job "$CONF" web "$SRC"
cfg_job "$CONF" other "$SRC"
chmod 0644 "$CONF"
chmod 0640 "$CATALOG"
chmod 0750 "$BASE" "$BASE/log"
wait_next_second
tb_run -c "$CONF" backup
t_rc 0 "a backup with [global] group"
mode() { stat -c '%G %A' "$1"; }
t_match "^$GRP drwxr-[xs]---\$" "$(mode "$BASE")" "the backup folder: group $GRP, r-x for it, nothing for others"
t_match "^$GRP drwxr-s---\$" "$(mode "$BASE/log")" "the log folder: group $GRP, r-x and set-group-ID"
t_match "^$GRP -rw-r-----\$" "$(mode "$CATALOG")" "the catalog: group-readable"
for f in "$BASE"/log/tisbackup_*.log; do
	t_match "^$GRP -rw-r-----\$" "$(mode "$f")" "the run log ${f##*/}: group-readable"
done
t_match "^$GRP drwxr-s---\$" "$(mode "$BASE/web")" "web's folder (it was 0700): group r-x"
t_match "^$GRP drwxr-s---\$" "$(mode "$BASE/other")" "a job folder made by this run: group r-x"
as_nagios -c "$CONF" checknagios
t_rc 0 "checknagios as $NAG: OK (exit 0)"
t_match '^ALL backups OK web,other ' "$T_OUT" "every job OK"
as_nagios -c "$CONF" -s web dumpstat
t_rc 0 "dumpstat as $NAG works too"

# ================================================================ a folder above backup_base_dir
# A missing parent made 0750 root:root (as the first run makes /backup for
# /backup/data): the group cannot reach it; the backup and checknagios say which.
UP=$TMPD/up
mkdir -p "$UP"
chmod 0750 "$UP"
tb_run -c "$CONF" -b "$UP/data" -s web backup
t_rc 0 "a backup into a folder under a 0750 root:root parent"
t_match "WARNING \[global\] group: $UP \(mode 0750, group 0\) is above backup_base_dir.*chmod o\+x" \
	"$T_ERR" "the backup warns that the group cannot enter the parent folder"
as_nagios -c "$CONF" -b "$UP/data" checknagios
t_rc 3 "checknagios as $NAG under that parent: UNKNOWN (exit 3)"
t_match "a permission problem: this user cannot enter $UP, a folder above backup_base_dir.*chmod o\+x" \
	"$T_OUT" "checknagios names the folder it cannot enter"
chmod 0751 "$UP"
as_nagios -c "$CONF" -b "$UP/data" -s web checknagios
t_rc 0 "checknagios OK once the parent is searchable"

# ================================================================ a wrong group
cfg_global "$CONF" "group = no-such-group-$TB_ID"
cfg_job "$CONF" web "$SRC"
tb_run -c "$CONF" backup
t_rc 3 "an unknown group: configuration error (exit 3)"
t_match "\[global\] group: no group 'no-such-group-$TB_ID' on this system: create it \(groupadd" "$T_ERR" \
	"the message names the key and what to do"

t_done
