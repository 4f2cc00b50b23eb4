#!/usr/bin/env bash
#
# tisbackup verify of one-file backups (docs/restore.md, "Verify"): every
# file of the newest good backup read back with its own check.
#  - xen-xva (the XAPI simulator, an uncompressed XVA): a good export
#    passes; one flipped byte of disk data fails on its chunk's checksum;
#  - xcp-dump-metadata (a stub xe over the loopback sshd, a .dump.gz): a
#    good dump passes; one flipped byte fails on gzip's check; a file cut
#    short is refused (size differs from the catalog's).

# T_* are read by lib.sh.
# shellcheck disable=SC2034
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=xapi.sh
. "$(dirname "${BASH_SOURCE[0]}")/xapi.sh"

tb_require_binary
tb_require openssl sqlite3 gzip ssh ssh-keygen
tb_tmp

# flip FILE OFFSET: invert one byte in place (size and mtime kept)
flip() {
	local f=$1 off=$2 b
	touch -r "$f" "$TMPD/ref"
	b=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
	printf "\\x$(printf %02x $((b ^ 0xff)))" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
	touch -r "$TMPD/ref" "$f"
}

# ------------------------------------------------------------ xen-xva
PW="xva-Pw-$TB_ID-$RANDOM"
MIB=1048576
printf '{"user": "root", "password": "%s", "vms": [{"name": "web01", "disks": [{"size": %d}]}]}\n' \
	"$PW" $((2 * MIB)) >"$TMPD/sim.json"
xapi_sim_start "$TMPD/sim.json"
printf 'root\n%s\n' "$PW" >"$TMPD/pw"
chmod 600 "$TMPD/pw"
cfg_global "$CONF"
job_section "$CONF" web type=xen-xva server_name=web01 "xcphost=127.0.0.1:$XAPI_PORT" \
	"password_file=$TMPD/pw" "xcp_ca_file=$XAPI_CERT" use_compression=false verify=yes
tb_run -c "$CONF" -s web backup
t_rc 0 "xen-xva: backup OK"
xva=$(ls "$BASE"/web/*.xva | tail -n 1)
tb_run -c "$CONF" -s web verify
t_rc 0 "verify of a good XVA: exit 0"
t_eq "VERIFY|OK" "$(last_row web "TYPE || '|' || status")" "verify: a VERIFY row, OK"
t_match "^1 file\(s\) of .*\.xva \(.*\) read back intact$" "$(last_row web log)" \
	"verify: the row says the XVA was read back"
flip "$xva" $(($(stat -c %s "$xva") / 3))
tb_run -c "$CONF" -s web verify
t_rc 1 "verify of an XVA with a flipped byte: exit 1"
t_eq "VERIFY|ERROR" "$(last_row web "TYPE || '|' || status")" "verify: the damaged XVA is an ERROR row"
t_match "is damaged: XVA: chunk Ref:[0-9]+/[0-9]+ does not match its \.xxhash" "$(last_row web log)" \
	"verify: the row names the chunk whose checksum does not match"

# ------------------------------------------------------------ xcp-dump-metadata
sshd_start
STUB=$TMPD/stub
mkdir -p "$STUB"
sshd_stop
sshd_setenv "PATH=$STUB:/usr/local/bin:/usr/bin:/bin"
/usr/sbin/sshd -D -e -f "$SSHD_DIR/sshd_config" >>"$SSHD_DIR/sshd.log" 2>&1 </dev/null &
SSHD_PID=$!
tb_track "$SSHD_PID"
wait_until 10 port_open "$SSHD_PORT" || t_bail "sshd did not come back"
# a stub xe: pool-dump-database file-name=F writes an XML file
cat >"$STUB/xe" <<'XE'
for a in "$@"; do
	case $a in file-name=*) file=${a#file-name=} ;; esac
done
{
	printf '<?xml version="1.0"?>\n<database>\n'
	i=0
	while [ $i -lt 2000 ]; do
		printf '<row ref="OpaqueRef:%08d" name__label="vm %d"/>\n' $i $i
		i=$((i + 1))
	done
	printf '</database>\n'
} >"$file"
XE
chmod 755 "$STUB/xe"
job_section "$CONF" pool type=xcp-dump-metadata server_name=127.0.0.1 "ssh_port=$SSHD_PORT" \
	"known_hosts_file=$KNOWN_HOSTS" "private_key=$CLIENT_KEY" verify=yes
tb_run -c "$CONF" -s pool backup
t_rc 0 "xcp-dump-metadata: backup OK"
gz=$(ls "$BASE"/pool/*.dump.gz | tail -n 1)
tb_run -c "$CONF" -s pool verify
t_rc 0 "verify of a good metadata dump: exit 0"
t_match "^1 file\(s\) of .*\.dump\.gz \(.*\) read back intact$" "$(last_row pool log)" \
	"verify: the dump was inflated whole"
cp "$gz" "$TMPD/good.gz"
flip "$gz" $(($(stat -c %s "$gz") / 2))
tb_run -c "$CONF" -s pool verify
t_rc 1 "verify of a .dump.gz with a flipped byte: exit 1"
t_match "is damaged" "$(last_row pool log)" "verify: the row says the dump is damaged"
cp "$TMPD/good.gz" "$gz"
truncate -s -100 "$gz"
tb_run -c "$CONF" -s pool verify
t_rc 1 "verify of a .dump.gz cut short: exit 1"
t_match "bytes, the catalog recorded" "$(last_row pool log)" "verify: the size differs from the catalog's"

t_done
