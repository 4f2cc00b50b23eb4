#!/usr/bin/env bash
#
# tisbackup verify of one-file backups (docs/restore.md, "Verify"): every
# file of the newest good backup read back with its own check.
#  - xen-xva (the XAPI simulator, an uncompressed XVA): a good export
#    passes; one flipped byte of disk data fails on its chunk's checksum;
#  - xcp-dump-metadata (a stub xe over the loopback sshd, a .dump.gz): a
#    good dump passes; one flipped byte fails on gzip's check; a file cut
#    short is refused (size differs from the catalog's);
#  - samba4 offline (a samba-backup-offline.tar.bz2 in the STAMP folder)
#    and esx-vmdk (STAMP/VM.ova holding the descriptor, a SHA-256
#    manifest and a disk; or the same three files in STAMP/): backups laid
#    out as the drivers write them, registered with a catalog row (what is
#    under test is the verifier, not the transport). A good one passes; a
#    flipped byte fails with a message naming the file (bzip2's CRC; the
#    OVA member or file whose SHA-256 differs from the manifest's, since an
#    uncompressed tar carries no checksum of its data); a manifest naming
#    a member the OVA lacks fails.

# T_* are read by lib.sh.
# shellcheck disable=SC2034
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=xapi.sh
. "$(dirname "${BASH_SOURCE[0]}")/xapi.sh"

tb_require_binary
tb_require openssl sqlite3 gzip ssh ssh-keygen bzip2 tar sha256sum
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

# add_backup JOB LOCATION: a good BACKUP row of JOB at LOCATION (a
# folder: its size is not compared).
add_backup() {
	csql "INSERT INTO stats (backup_name, server_name, description, backup_start,
	  backup_end, backup_duration, total_files_count, written_files_count, total_bytes,
	  written_bytes, status, log, backup_location, TYPE) VALUES ('$1', 'srv-$1', '',
	  strftime('%Y-%m-%dT%H:%M:%f000', 'now', 'localtime'),
	  strftime('%Y-%m-%dT%H:%M:%f000', 'now', 'localtime'), 0, 1, 1, 0, 0, 'OK',
	  'laid out by the test', '$2', 'BACKUP')"
}
# random_lines N: N lines of pseudo-random text (compresses, not to nothing)
random_lines() {
	local i
	for ((i = 0; i < $1; i++)); do
		printf 'dn: CN=user%d,CN=Users,DC=example,DC=test objectGUID: %s\n' "$i" "$RANDOM$RANDOM"
	done
}

# ------------------------------------------------------------ samba4 offline (.tar.bz2)
job_section "$CONF" dc type=samba4 server_name=127.0.0.1 "private_key=$CLIENT_KEY" \
	samba_backup_mode=offline verify=yes
SMB=$BASE/dc/20261201-03h00m00
mkdir -p "$SMB" "$TMPD/smb/private/sam.ldb.d"
random_lines 3000 >"$TMPD/smb/private/sam.ldb.d/DC=EXAMPLE,DC=TEST.ldb"
random_lines 500 >"$TMPD/smb/private/secrets.ldb"
tar -cjf "$SMB/samba-backup-offline.tar.bz2" -C "$TMPD/smb" private
add_backup dc "$SMB"
tb_run -c "$CONF" -s dc verify
t_rc 0 "verify of a good samba4 .tar.bz2: exit 0"
t_eq "VERIFY|OK" "$(last_row dc "TYPE || '|' || status")" "verify: a VERIFY row, OK"
t_match "^1 file\(s\) of .*/20261201-03h00m00 \(.*\) read back intact$" "$(last_row dc log)" \
	"verify: the row says the tarball was read back"
bz=$SMB/samba-backup-offline.tar.bz2
flip "$bz" $(($(stat -c %s "$bz") / 2))
tb_run -c "$CONF" -s dc verify
t_rc 1 "verify of a .tar.bz2 with a flipped byte: exit 1"
t_eq "VERIFY|ERROR" "$(last_row dc "TYPE || '|' || status")" "verify: the damaged tarball is an ERROR row"
t_match "samba-backup-offline\.tar\.bz2 is damaged: " "$(last_row dc log)" \
	"verify: the row names the damaged tarball"

# ------------------------------------------------------------ esx-vmdk (.ova and .mf)
printf 'root\nunused\n' >"$TMPD/esxpw"
chmod 600 "$TMPD/esxpw"
job_section "$CONF" vm type=esx-vmdk server_name=vm01 esxhost=127.0.0.1 \
	"password_file=$TMPD/esxpw" create_ovafile=yes verify=yes
job_section "$CONF" vmdir type=esx-vmdk server_name=vm01 esxhost=127.0.0.1 \
	"password_file=$TMPD/esxpw" verify=yes
# The three files of an export, manifest last written but listed second
# in the OVA (as the driver orders them).
EXP=$TMPD/export
mkdir -p "$EXP"
printf '<?xml version="1.0"?>\n<Envelope><VirtualSystem ovf:id="vm01"/></Envelope>\n' >"$EXP/vm01.ovf"
head -c $((2 * MIB)) /dev/urandom >"$EXP/vm01-disk-0.vmdk"
(cd "$EXP" && sha256sum vm01.ovf vm01-disk-0.vmdk |
	awk '{ printf "SHA256(%s)= %s\n", $2, $1 }' >vm01.mf)
OVA_DIR=$BASE/vm/20261201-03h00m00
mkdir -p "$OVA_DIR"
tar -cf "$OVA_DIR/vm01.ova" -C "$EXP" vm01.ovf vm01.mf vm01-disk-0.vmdk
add_backup vm "$OVA_DIR"
ova=$OVA_DIR/vm01.ova
cp "$ova" "$TMPD/good.ova"
tb_run -c "$CONF" -s vm verify
t_rc 0 "verify of a good .ova: exit 0"
t_eq "VERIFY|OK" "$(last_row vm "TYPE || '|' || status")" "verify: a VERIFY row, OK"
t_match "^1 file\(s\) of .* read back intact, 2 checked against the manifest$" "$(last_row vm log)" \
	"verify: both members listed in the OVA's manifest were checked"
# A byte of disk data: the tar is still well-formed, only the manifest sees it.
flip "$ova" $(($(stat -c %s "$ova") / 2))
t_ok "the flipped OVA still lists as a tar" tar -tf "$ova"
tb_run -c "$CONF" -s vm verify
t_rc 1 "verify of an .ova with a flipped byte of disk data: exit 1"
t_eq "VERIFY|ERROR" "$(last_row vm "TYPE || '|' || status")" "verify: the damaged OVA is an ERROR row"
t_match "vm01\.ova is damaged: its member vm01-disk-0\.vmdk has the SHA-256 [0-9a-f]{64}, its manifest vm01\.mf says [0-9a-f]{64}" \
	"$(last_row vm log)" "verify: the row names the member whose SHA-256 differs"
# A manifest listing a member the OVA does not hold.
cp "$EXP/vm01.mf" "$TMPD/vm01.mf.good"
echo "SHA256(vm01-disk-1.vmdk)= $(printf '%064d' 0)" >>"$EXP/vm01.mf"
tar -cf "$ova" -C "$EXP" vm01.ovf vm01.mf vm01-disk-0.vmdk
tb_run -c "$CONF" -s vm verify
t_rc 1 "verify of an .ova whose manifest lists a missing disk: exit 1"
t_match "vm01\.ova is damaged: its manifest vm01\.mf lists vm01-disk-1\.vmdk, which the OVA does not hold" \
	"$(last_row vm log)" "verify: the row names the missing member"
cp "$TMPD/vm01.mf.good" "$EXP/vm01.mf"
# The folder form: descriptor, manifest and disk side by side.
DIR_SNAP=$BASE/vmdir/20261201-03h00m00
mkdir -p "$DIR_SNAP"
cp "$EXP"/vm01.ovf "$EXP"/vm01.mf "$EXP"/vm01-disk-0.vmdk "$DIR_SNAP/"
add_backup vmdir "$DIR_SNAP"
tb_run -c "$CONF" -s vmdir verify
t_rc 0 "verify of a good export folder: exit 0"
t_match "^3 file\(s\) of .* read back intact, 2 checked against the manifest$" "$(last_row vmdir log)" \
	"verify: the folder's manifest lines were checked"
flip "$DIR_SNAP/vm01-disk-0.vmdk" $MIB
tb_run -c "$CONF" -s vmdir verify
t_rc 1 "verify of a folder whose disk has a flipped byte: exit 1"
t_match "vm01-disk-0\.vmdk is damaged: its SHA-256 is [0-9a-f]{64}, the manifest vm01\.mf says [0-9a-f]{64}" \
	"$(last_row vmdir log)" "verify: the row names the disk whose SHA-256 differs"

t_done
