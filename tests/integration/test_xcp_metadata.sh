#!/usr/bin/env bash
#
# xcp-dump-metadata (SPEC §10) against a stand-in `xe` put first on the
# PATH of the lib.sh sshd's sessions: the pool dump lands gzipped as one
# file {job}/SERVER-STAMP.dump.gz whose content is what xe wrote; the
# remote temp file is removed; an xe failure and a missing xe each give an
# ERROR row with xe's own words, leave no file that looks complete and
# leave the earlier backup untouched; a run whose stamp's file already
# exists (two runs in one second) waits for a free stamp instead of
# renaming over it; cleanup sweeps a crashed run's expired
# SERVER-STAMP.dump.gz.partial and keeps a fresh one; register_existing
# recognises our name and the original's "xen_metadata-STAMP.dump(.gz)".

# Listings of our own plain names; literal shell text in heredocs.
# shellcheck disable=SC2010,SC2012,SC2016
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 ssh ssh-keygen gzip sha256sum mktemp
tb_tmp
sshd_start

# The stand-ins' folder first on the remote PATH: restart sshd with SetEnv.
STUB=$TMPD/stub
mkdir -p "$STUB"
sshd_stop
sshd_setenv "PATH=$STUB:/usr/local/bin:/usr/bin:/bin"
/usr/sbin/sshd -D -e -f "$SSHD_DIR/sshd_config" >>"$SSHD_DIR/sshd.log" 2>&1 </dev/null &
SSHD_PID=$!
tb_track "$SSHD_PID"
wait_until 10 port_open "$SSHD_PORT" || t_bail "sshd did not come back"

# xe as the real CLI parses it: a command, then name=value parameters.
# xe.fail (a marker file) holds a message to fail with; every dump's file
# name goes to xe.files and its content to xe.last.
cat >"$STUB/xe" <<'EOF'
#!/bin/sh
d=$(dirname "$0")
if [ $# -eq 0 ]; then
	echo "Usage: xe <command> [-s server] [-pw passwd] [-p port] [-u user] [-pwf password-file]" >&2
	exit 1
fi
cmd=$1
shift
if [ "$cmd" != pool-dump-database ]; then
	echo "Unknown command: $cmd" >&2
	echo "For usage run: 'xe help'" >&2
	exit 1
fi
file=
for a in "$@"; do
	case $a in
	file-name=*) file=${a#file-name=} ;;
	*=*)
		echo "Unknown field '${a%%=*}'" >&2
		exit 1 ;;
	*)
		echo "Syntax error: '$a' is not of the form name=value" >&2
		exit 1 ;;
	esac
done
if [ -z "$file" ]; then
	echo "Required parameter not found: file-name" >&2
	exit 1
fi
echo "$file" >>"$d/xe.files"
if [ -f "$d/xe.fail" ]; then
	cat "$d/xe.fail" >&2
	exit 1
fi
{
	printf '<?xml version="1.0" encoding="UTF-8"?>\n<database><manifest><pair key="schema_major_vsn" value="5"/></manifest>\n'
	i=0
	while [ $i -lt 3000 ]; do
		printf '<row ref="OpaqueRef:%08d-aaaa-bbbb-cccc-%012d" name__label="vm &quot;%d&quot;" uuid="%d"/>\n' $i $i $i $$
		i=$((i + 1))
	done
	head -c 65536 /dev/urandom | od -An -tx1
	printf '</database>\n'
} >"$file" || exit 1
cp "$file" "$d/xe.last"
EOF
chmod 755 "$STUB/xe"

dumps() {
	ls -1 "$1" 2>/dev/null | grep -E '\.dump(\.gz)?$' | sort
}
leftover_tmp() {
	local f
	[ -f "$STUB/xe.files" ] || return 0
	while read -r f; do [ -e "$f" ] && echo "$f"; done <"$STUB/xe.files"
}

cfg_global "$CONF"
xjob() {
	local name=$1
	shift
	{
		echo "[$name]"
		echo "type = xcp-dump-metadata"
		echo "server_name = 127.0.0.1"
		echo "ssh_port = $SSHD_PORT"
		echo "known_hosts_file = $KNOWN_HOSTS"
		[ $# -gt 0 ] && printf '%s\n' "$@"
		echo
	} >>"$CONF"
}
xjob pool "private_key = $CLIENT_KEY"

t_match '^xcp-dump-metadata : ' "$("$TISBACKUP" -c "$CONF" listdrivers 2>&1)" \
	"listdrivers shows xcp-dump-metadata"

# ================================================================ config
BADCONF=$TMPD/bad.ini
cfg_global "$BADCONF"
printf '[nokey]\ntype = xcp-dump-metadata\nserver_name = 127.0.0.1\n\n' >>"$BADCONF"
tb_run -c "$BADCONF" -s nokey backup
t_ne 0 "$T_RC" "no private_key: refused"
t_match 'private_key' "$T_ERR" "no private_key: the message names the key"

# ================================================================ a good dump
tb_run -c "$CONF" -s pool backup
t_rc 0 "backup: exit 0"
t_eq OK "$(last_row pool status)" "OK row"
F1=$(dumps "$BASE/pool")
t_match '^127\.0\.0\.1-[0-9]{8}-[0-9]{2}h[0-9]{2}m[0-9]{2}\.dump\.gz$' "$F1" \
	"one file SERVER-STAMP.dump.gz"
t_ok "it is a file, not a folder" test -f "$BASE/pool/$F1"
t_eq "" "$(find "$BASE/pool" -name '*.partial')" "no .partial left"
t_ok "gzip -t" gzip -t "$BASE/pool/$F1"
t_eq "$(sha256sum <"$STUB/xe.last")" "$(gzip -dc "$BASE/pool/$F1" | sha256sum)" \
	"the file holds exactly what xe wrote"
t_eq "$BASE/pool/$F1" "$(last_row pool backup_location)" "backup_location is the file"
t_eq 1 "$(last_row pool total_files_count)" "total_files = 1"
t_eq 1 "$(last_row pool written_files_count)" "written_files = 1"
t_eq "$(wc -c <"$BASE/pool/$F1")" "$(last_row pool written_bytes)" "written_bytes = compressed bytes"
t_match '^xcp metadata backup from 127\.0\.0\.1 OK, [0-9]+ bytes written' "$(last_row pool log)" \
	"catalog log line"
t_eq 1 "$(wc -l <"$STUB/xe.files")" "xe ran once"
t_match '^/' "$(cat "$STUB/xe.files")" "xe was given an absolute temp file name"
t_eq "" "$(leftover_tmp)" "the remote temp file is removed"
sha_before=$(sha256sum "$BASE/pool/$F1")

# checknagios sees it
tb_run -c "$CONF" -s pool checknagios
t_rc 0 "checknagios: OK after the backup"

# ================================================================ failures
check_failed() {
	local desc=$1 re=$2
	t_rc 1 "$desc: exit 1"
	t_eq ERROR "$(last_row pool status)" "$desc: ERROR row"
	t_imatch "$re" "$(last_row pool log)" "$desc: the log has xe's own words"
	t_eq "$F1" "$(dumps "$BASE/pool")" "$desc: no new dump file"
	t_eq "" "$(find "$BASE/pool" -name '*.partial')" "$desc: no .partial left"
	t_eq "" "$(leftover_tmp)" "$desc: no remote temp file left"
}

wait_next_second
echo "The server failed to handle your request, due to an internal error. The given message may give details useful for debugging the problem.
message: tisbackup-test: database is locked" >"$STUB/xe.fail"
tb_run -c "$CONF" -s pool backup
check_failed "xe fails" 'database is locked'
t_imatch 'xe pool-dump-database on 127\.0\.0\.1' "$(last_row pool log)" \
	"xe fails: the log says what failed"
rm -f "$STUB/xe.fail"

wait_next_second
mv "$STUB/xe" "$STUB/xe.off"
tb_run -c "$CONF" -s pool backup
check_failed "xe missing" 'xe.*not found'
mv "$STUB/xe.off" "$STUB/xe"

t_eq "$sha_before" "$(sha256sum "$BASE/pool/$F1")" "the first backup is untouched by the failures"

# ================================================================ dry run
wait_next_second
n=$(wc -l <"$STUB/xe.files")
tb_run -c "$CONF" -s pool -d backup
t_rc 0 "dry run: exit 0"
t_eq "$n" "$(wc -l <"$STUB/xe.files")" "dry run: xe not run"
t_eq "$F1" "$(dumps "$BASE/pool")" "dry run: no file"

# ================================================================ a stamp already taken
# Files of the next four seconds' stamps already exist (as a second run in
# the same second meets the first one's file): the run must pick a stamp
# none of them has, and leave them as they are.
wait_next_second
T=$(date +%s)
PLANTED=()
for s in 0 1 2 3; do
	f=$BASE/pool/127.0.0.1-$(date -d "@$((T + s))" +%Y%m%d-%Hh%Mm%S).dump.gz
	echo "planted $s" | gzip >"$f"
	PLANTED+=("$f")
done
tb_run -c "$CONF" -s pool backup
t_rc 0 "stamp taken: exit 0"
NEWLOC=$(last_row pool backup_location)
for s in 0 1 2 3; do
	t_eq "planted $s" "$(gzip -dc "${PLANTED[s]}" 2>&1)" \
		"stamp taken: the file of second +$s is not overwritten"
	t_ne "${PLANTED[s]}" "$NEWLOC" "stamp taken: the new backup is not the file of second +$s"
done
t_ok "stamp taken: the new backup is on disk" test -f "$NEWLOC"
rm -f "${PLANTED[@]}"

# ================================================================ cleanup of a crashed run's .partial
# backup_retention_time is 30 days: a .partial of 40 days ago is expired
# unfinished work, one of yesterday is not yet; the recent good backup
# lets cleanup remove.
P_OLD=$BASE/pool/127.0.0.1-$(date -d "$(date -d '-40 days' +%F) 12:00:00" +%Y%m%d-%Hh%Mm%S).dump.gz.partial
P_NEW=$BASE/pool/127.0.0.1-$(date -d "$(date -d '-1 days' +%F) 12:00:00" +%Y%m%d-%Hh%Mm%S).dump.gz.partial
echo partial >"$P_OLD"
echo partial >"$P_NEW"
mkdir -p "$BASE/pool/x.dump.gz.partial"
tb_run -c "$CONF" -s pool cleanup
t_rc 0 "cleanup: exit 0"
t_not "cleanup: the expired unrecorded .dump.gz.partial is removed" test -e "$P_OLD"
t_ok "cleanup: the fresh .dump.gz.partial is kept" test -f "$P_NEW"
t_ok "cleanup: the good backup is kept" test -f "$BASE/pool/$F1"
t_ok "cleanup: a name that is not the driver's is kept" test -d "$BASE/pool/x.dump.gz.partial"
t_match '\[pool\] removed 0 backups and 1 unfinished file older than' "$T_ERR" \
	"cleanup: the summary counts the unfinished file"
rm -rf "$P_NEW" "$BASE/pool/x.dump.gz.partial"

# ================================================================ register_existing
mkdir -p "$BASE/old"
xjob old "private_key = $CLIENT_KEY"
echo dump | gzip >"$BASE/old/xen_metadata-20250101-01h02m03.dump.gz"
echo dump | gzip >"$BASE/old/127.0.0.1-20250102-01h02m03.dump.gz"
echo dump >"$BASE/old/xen_metadata-20250103-01h02m03.dump"
echo dump | gzip >"$BASE/old/127.0.0.1-20250104-01h02m03.dump.gz.partial"
echo dump | gzip >"$BASE/old/-20250105-01h02m03.dump.gz"
echo dump | gzip >"$BASE/old/x-20251399-01h02m03.dump.gz"
echo dump | gzip >"$BASE/old/x-20250106-01h02m03.sql.gz"
mkdir -p "$BASE/old/20250107-01h02m03"
tb_run -c "$CONF" -s old register_existing
t_rc 0 "register_existing: exit 0"
t_match '\[old\] 3 backup\(s\) registered' "$T_ERR" "register_existing: 3 dumps registered"
t_eq "$(printf '%s\n' "$BASE/old/127.0.0.1-20250102-01h02m03.dump.gz" \
	"$BASE/old/xen_metadata-20250101-01h02m03.dump.gz" \
	"$BASE/old/xen_metadata-20250103-01h02m03.dump")" \
	"$(csql "select backup_location from stats where backup_name='old' order by backup_location")" \
	"register_existing: both spellings, .gz or not; no .partial, bad stamp, empty name or folder"
t_match '^2025-01-01T01:02:03' \
	"$(csql "select backup_start from stats where backup_location='$BASE/old/xen_metadata-20250101-01h02m03.dump.gz'")" \
	"register_existing: the start comes from the stamp"
tb_run -c "$CONF" -s pool register_existing
t_match '\[pool\] 0 backup\(s\) registered' "$T_ERR" "register_existing: our own backup is already known"

t_done
