#!/usr/bin/env bash
#
# samba4 (SPEC §10), samba_backup_mode = tdbbackup, through the lib.sh
# sshd with Debian's real tdbbackup (tdb-tools): real tdb files made with
# tdbtool under a fake root_dir_samba/private/sam.ldb.d/, backed up into
# {job}/STAMP/NAME.ldb.gz, each decompressed and compared with tdbdump.
# Also: a corrupt .ldb (tdbbackup fails: ERROR with its words, no STAMP,
# no .partial, the remote temp folder gone, the earlier backup intact), no
# .ldb at all, quoting of root_dir_samba, a dry run and bad
# samba_backup_mode values. samba_backup_mode = offline with a stand-in
# `samba-tool` first on the remote PATH that checks `domain backup offline
# --targetdir=DIR` exactly and writes a real tar.bz2 there, or fails as
# samba-tool does, or writes nothing. The remote temp folder is in
# TMPDIR; both are set by the sshd's SetEnv.

# Literal remote/shell text; T_* are read by lib.sh.
# shellcheck disable=SC2010,SC2012,SC2016,SC2034,SC2119,SC2153
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 ssh ssh-keygen gzip tdbbackup tdbtool tdbdump cmp
tb_tmp
sshd_start

RTMP=$TMPD/remote_tmp
ROOT=$TMPD/samba
QROOT="$TMPD/sa'm \$(touch tb_pwned_$TB_ID)"
EMPTY=$TMPD/empty
mkdir -p "$RTMP" "$ROOT/private/sam.ldb.d" "$QROOT/private/sam.ldb.d" "$EMPTY/private/sam.ldb.d"
chmod 1777 "$RTMP"

# mktdb FILE KEY=VALUE...: a real tdb with these records.
mktdb() {
	local f=$1 kv
	shift
	(cd "$(dirname "$f")" && printf 'create %s\nquit\n' "$(basename "$f")" | tdbtool >/dev/null)
	for kv in "$@"; do
		tdbtool "$f" store "${kv%%=*}" "${kv#*=}" >/dev/null
	done
}
D=$ROOT/private/sam.ldb.d
mktdb "$D/DC=EXAMPLE,DC=COM.ldb" "dn=DC=example,DC=com" "objectClass=domainDNS"
mktdb "$D/CN=CONFIGURATION,DC=EXAMPLE,DC=COM.ldb" "a=1" "b=two words"
big=()
for i in $(seq 1 300); do big+=("user$i=CN=User $i,CN=Users,DC=example,DC=com"); done
mktdb "$D/metadata.ldb" "${big[@]}"
echo "not a database" >"$D/README.txt"
# records DB: tdbdump's records, one per line, sorted (tdbbackup may rehash).
records() {
	tdbdump "$1" | paste - - - - | LC_ALL=C sort
}
mktdb "$QROOT/private/sam.ldb.d/q.ldb" "k=v"

BIN=$TMPD/smbbin
CTL=$TMPD/ctl
mkdir -p "$BIN" "$CTL"
chmod 777 "$CTL"
echo ok >"$CTL/mode"
cat >"$BIN/samba-tool" <<'EOT'
#!/bin/bash
# Stand-in for samba-tool: only `domain backup offline --targetdir=DIR`.
CTL=@CTL@
say() { echo "$*" >&2; }
[ $# -eq 4 ] && [ "$1 $2 $3" = "domain backup offline" ] && [ "${4%%=*}" = --targetdir ] ||
	{ say "stand-in: unexpected arguments: $*"; exit 9; }
dir=${4#--targetdir=}
[ -d "$dir" ] || { say "stand-in: targetdir $dir is not a directory"; exit 9; }
echo "$dir" >"$CTL/seen"
mode=$(cat "$CTL/mode")
case $mode in
fail)
	echo "running backup on dirsync with LDB_FLG_RDONLY" >&2
	echo "ERROR(<class 'samba.provision.ProvisioningError'>): uncaught exception - ProvisioningError: Unable to open the sam.ldb: No such file or directory" >&2
	exit 1 ;;
none) echo "Backup succeeded." ; exit 0 ;;
esac
w=$(mktemp -d)
mkdir -p "$w/private/sam.ldb.d" "$w/etc"
head -c 20000 /dev/urandom >"$w/private/sam.ldb"
head -c 50000 /dev/urandom >"$w/private/sam.ldb.d/DC=EXAMPLE,DC=COM.ldb"
printf '[global]\n\tworkgroup = EXAMPLE\n' >"$w/etc/smb.conf"
echo "backup-type: offline" >"$w/backup.txt"
f=$dir/samba-backup-dc1.example.com-2026-11-26T03-00-00.123456.tar.bz2
tar -C "$w" -cjf "$f" . || exit 1
rm -rf "$w"
cp "$f" "$CTL/last.tar.bz2"
echo "Creating backup temp dir $dir/tmp"
echo "Backup succeeded."
EOT
sed -i "s|@CTL@|$CTL|" "$BIN/samba-tool"
chmod 755 "$BIN" "$BIN/samba-tool"

sshd_stop
sshd_setenv "TMPDIR=$RTMP" "PATH=$BIN:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/usr/sbin/sshd -D -e -f "$SSHD_DIR/sshd_config" >>"$SSHD_DIR/sshd.log" 2>&1 </dev/null &
SSHD_PID=$!
wait_until 10 port_open "$SSHD_PORT" || t_bail "sshd did not come back"

remote_left() {
	find "$RTMP" -mindepth 1 2>/dev/null
	find "$ROOT" "$QROOT" -name '*.tisbackup-*' 2>/dev/null
}

cfg_global "$CONF"
# smbjob NAME [key = value...]: a samba4 job; extra keys replace these defaults.
smbjob() {
	local name=$1 kv k d
	shift
	local -a keys=("type = samba4" "server_name = 127.0.0.1" "ssh_port = $SSHD_PORT"
		"private_key = $CLIENT_KEY" "known_hosts_file = $KNOWN_HOSTS"
		"root_dir_samba = $ROOT/")
	local -a out=()
	for d in "${keys[@]}"; do
		k=${d%% *}
		for kv in "$@"; do
			[ "${kv%% *}" = "$k" ] && continue 2
		done
		out+=("$d")
	done
	{
		echo "[$name]"
		for kv in "${out[@]}" "$@"; do echo "$kv"; done
		echo
	} >>"$CONF"
}
smbjob ok
smbjob explicit "samba_backup_mode = tdbbackup"
smbjob empty "root_dir_samba = $EMPTY"
smbjob quoted "root_dir_samba = $QROOT"
smbjob off "samba_backup_mode = offline"

t_match '^samba4 : ' "$("$TISBACKUP" -c "$CONF" listdrivers 2>&1)" "listdrivers shows samba4"

# ================================================================ success
tb_run -c "$CONF" -s ok backup
t_rc 0 "success: exit 0"
t_eq OK "$(last_row ok status)" "success: OK row"
S1=$(snapshots "$BASE/ok" | tail -n 1)
t_ne "" "$S1" "success: a STAMP folder"
t_eq "$(printf '%s\n' 'CN=CONFIGURATION,DC=EXAMPLE,DC=COM.ldb.gz' 'DC=EXAMPLE,DC=COM.ldb.gz' metadata.ldb.gz)" \
	"$(ls -1 "$BASE/ok/$S1" | LC_ALL=C sort)" "success: one NAME.ldb.gz per .ldb, nothing else"
for f in "$D"/*.ldb; do
	n=${f##*/}
	gzip -dc "$BASE/ok/$S1/$n.gz" >"$TMPD/restored.ldb"
	t_eq "$(records "$f")" "$(records "$TMPD/restored.ldb")" "success: $n restores to the same records"
done
t_eq 300 "$(records "$TMPD/restored.ldb" | wc -l)" "success: all 300 records of metadata.ldb"
t_eq "" "$(partial_dirs "$BASE/ok")" "success: no STAMP.partial"
t_eq "" "$(remote_left)" "success: no remote temp folder, no copy left next to the sources"
t_eq 3 "$(last_row ok total_files_count)" "success: 3 files"
t_eq "$(cat "$BASE/ok/$S1"/*.gz | wc -c)" "$(last_row ok written_bytes)" "success: written_bytes = compressed sizes"
t_eq "$BASE/ok/$S1" "$(last_row ok backup_location)" "success: backup_location"
t_match '^samba4 tdbbackup backup of 127\.0\.0\.1 OK, 3 files' "$(last_row ok log)" "success: catalog log line"

tb_run -c "$CONF" -s explicit backup
t_rc 0 "samba_backup_mode = tdbbackup: exit 0"
t_eq OK "$(last_row explicit status)" "samba_backup_mode = tdbbackup: OK row"

# ================================================================ failures
check_failed() {
	local job=$1 desc=$2 re=$3 keep=${4:-}
	t_rc 1 "$desc: exit 1"
	t_eq ERROR "$(last_row "$job" status)" "$desc: ERROR row"
	t_imatch "$re" "$(last_row "$job" log)" "$desc: the log has the real cause"
	t_eq "$keep" "$(snapshots "$BASE/$job")" "$desc: no new STAMP folder"
	t_eq "" "$(partial_dirs "$BASE/$job")" "$desc: no STAMP.partial left"
	t_eq "" "$(remote_left)" "$desc: the remote temp folder is gone"
}

# A corrupt database after a good one: tdbbackup fails on it.
sum1=$(cd "$BASE/ok/$S1" && sha256sum ./*)
head -c 4096 /dev/urandom >"$D/zz-corrupt.ldb"
wait_next_second
tb_run -c "$CONF" -s ok backup
check_failed ok "corrupt .ldb" 'Failed to open .*zz-corrupt\.ldb' "$S1"
t_match 'tdbbackup' "$(last_row ok log)" "corrupt .ldb: the error names tdbbackup"
t_eq "$sum1" "$(cd "$BASE/ok/$S1" && sha256sum ./*)" "corrupt .ldb: the earlier backup is untouched"
rm -f "$D/zz-corrupt.ldb"

tb_run -c "$CONF" -s empty backup
check_failed empty "no .ldb" 'no \.ldb file found'

rm -rf "$EMPTY/private"
tb_run -c "$CONF" -s empty backup
check_failed empty "no sam.ldb.d" 'sam\.ldb\.d: no such directory'

# ================================================================ quoting
tb_run -c "$CONF" -s quoted backup
t_rc 0 "root_dir_samba with quotes and \$(...): exit 0"
S3=$(snapshots "$BASE/quoted" | tail -n 1)
gzip -dc "$BASE/quoted/$S3/q.ldb.gz" >"$TMPD/q.ldb"
t_eq "$(records "$QROOT/private/sam.ldb.d/q.ldb")" "$(records "$TMPD/q.ldb")" "quoted root: the file is backed up"
t_eq "" "$(ls -d /tb_pwned_* "$TMPD"/tb_pwned_* ./tb_pwned_* ~/tb_pwned_* 2>/dev/null)" "nothing from root_dir_samba was run"

# ================================================================ offline
wait_next_second
tb_run -c "$CONF" -s off backup
t_rc 0 "offline: exit 0"
t_eq OK "$(last_row off status)" "offline: OK row"
S4=$(snapshots "$BASE/off" | tail -n 1)
t_ne "" "$S4" "offline: a STAMP folder"
t_eq samba-backup-offline.tar.bz2 "$(ls -1 "$BASE/off/$S4")" "offline: one tarball"
t_ok "offline: the tarball is samba-tool's, byte for byte (not gzipped again)" \
	cmp "$BASE/off/$S4/samba-backup-offline.tar.bz2" "$CTL/last.tar.bz2"
t_match 'private/sam\.ldb\.d/DC=EXAMPLE,DC=COM\.ldb' "$(tar -tjf "$BASE/off/$S4/samba-backup-offline.tar.bz2")" \
	"offline: the tarball lists the databases"
t_match "^$RTMP/tisbackup-samba\." "$(cat "$CTL/seen")" "offline: --targetdir is a mktemp folder in TMPDIR"
t_eq 1 "$(last_row off total_files_count)" "offline: 1 file"
t_eq "$(stat -c %s "$BASE/off/$S4/samba-backup-offline.tar.bz2")" "$(last_row off written_bytes)" \
	"offline: written_bytes = the tarball's size"
t_match '^samba4 offline backup of 127\.0\.0\.1 OK' "$(last_row off log)" "offline: catalog log line"
t_eq "" "$(partial_dirs "$BASE/off")" "offline: no STAMP.partial"
t_eq "" "$(remote_left)" "offline: the remote temp folder is gone"

echo fail >"$CTL/mode"
wait_next_second
tb_run -c "$CONF" -s off backup
check_failed off "offline: samba-tool fails" 'exit code 1' "$S4"
t_match 'Unable to open the sam\.ldb' "$(last_row off log)" "offline: samba-tool's words in the error"
t_ok "offline: the earlier backup is untouched" \
	cmp "$BASE/off/$S4/samba-backup-offline.tar.bz2" "$CTL/last.tar.bz2"

echo none >"$CTL/mode"
wait_next_second
tb_run -c "$CONF" -s off backup
check_failed off "offline: no tarball" 'made 0 samba-backup-\*\.tar\.bz2 files' "$S4"
echo ok >"$CTL/mode"

# ================================================================ dry run
smbjob dry
tb_run -c "$CONF" -s dry -d backup
t_rc 0 "dry run: exit 0"
t_match 'dry run: would run tdbbackup' "$T_OUT$T_ERR" "dry run: says what it would do"
smbjob dryoff "samba_backup_mode = offline"
rm -f "$CTL/seen"
tb_run -c "$CONF" -s dryoff -d backup
t_rc 0 "dry run offline: exit 0"
t_match 'dry run: would run samba-tool domain backup offline' "$T_OUT$T_ERR" "dry run offline: says so"
t_not "dry run offline: samba-tool not run" test -e "$CTL/seen"
t_eq "" "$(find "$BASE/dry" -mindepth 1 2>/dev/null)" "dry run: nothing written"

# ================================================================ validation
cfg_global "$TMPD/bad.ini"
smbjob_bad() {
	local save=$CONF
	CONF=$TMPD/bad.ini
	smbjob "$@"
	CONF=$save
}
smbjob_bad other "samba_backup_mode = other"
tb_run -c "$TMPD/bad.ini" -s other backup
t_ne 0 "$T_RC" "samba_backup_mode = other: refused"
t_match 'samba_backup_mode' "$T_OUT$T_ERR" "samba_backup_mode = other: the key is named"
t_eq "" "$(snapshots "$BASE/other")" "samba_backup_mode = other: nothing written"

t_match "samba_backup_mode: 'other' is not tdbbackup or offline" "$T_OUT$T_ERR" \
	"samba_backup_mode = other: the message"

cfg_global "$TMPD/bad.ini"
smbjob_bad rel "root_dir_samba = var/lib/samba"
tb_run -c "$TMPD/bad.ini" -s rel backup
t_ne 0 "$T_RC" "root_dir_samba not absolute: refused"
t_match 'root_dir_samba' "$T_OUT$T_ERR" "root_dir_samba not absolute: named"

t_done
