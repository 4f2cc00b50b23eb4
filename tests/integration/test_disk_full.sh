#!/usr/bin/env bash
#
# A disk full to the last block (a small loop-mounted ext4, filled by root
# too): the catalog's error says the disk is full and which folder, not
# "setting WAL mode: disk I/O error", and the run after space is freed
# succeeds.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 mkfs.ext4 losetup mount umount
tb_tmp

# fill DIR: write until not one block is left, root's reserve included.
fill() {
	local bs
	for bs in 64k 1k 1; do
		dd if=/dev/zero of="$1/.fill$bs" bs=$bs 2>/dev/null
	done
}

FULL=$TMPD/full
loop_mount "$TMPD/full.img" "$FULL" 16 || t_bail "cannot loop-mount an ext4 image here"
BASE=$FULL/base
CONF=$TMPD/full.ini
cfg_global "$CONF"
cfg_null "$CONF" nothing

# ---------------------------------------------------------------- the catalog
tb_run -c "$CONF" backup
t_rc 0 "catalog: a first run on the empty disk creates it"
sql "$BASE/log/tisbackup.sqlite" 'pragma wal_checkpoint(TRUNCATE)' >/dev/null
rm -f "$BASE"/log/tisbackup.sqlite-{wal,shm} "$BASE"/log/tisbackup_*.log
fill "$FULL"
t_eq 0 "$(df --output=avail "$FULL" | tail -n 1 | tr -d ' ')" "catalog: the disk is full"
tb_run -c "$CONF" backup
t_rc 4 "catalog: a full disk under the catalog exits 4"
t_match "catalog $BASE/log/tisbackup\.sqlite: .*the disk is full \(no space left in $BASE/log\)" \
	"$T_ERR" "catalog: the error says the disk is full, and which folder"
t_nomatch 'disk I/O error' "$T_ERR" "catalog: not a bare 'disk I/O error'"
rm -f "$FULL"/.fill*
tb_run -c "$CONF" backup
t_rc 0 "catalog: once space is freed, backup exits 0"

t_done
