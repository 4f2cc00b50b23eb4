#!/usr/bin/env bash
#
# The btrfs drivers' three figures (issue 11), side by side on one
# loop-mounted btrfs (a sparse image in the build folder, mounted in a
# private mount namespace) and one tree of 50,000 small files, unchanged
# since the last run:
#   (a) an incremental `tisbackup backup` of an rsync+btrfs+ssh job against
#       one of an rsync+ssh job (a new --link-dest snapshot: one hardlink per
#       file) — goal <= 0.5;
#   (b) `tisbackup cleanup` deleting 10 expired read-only snapshots
#       (subvolume deletes, one commit) against `rm -rf` of 10 hardlinked
#       copies (cp -al) of the tree — goal <= 0.05;
#   (c) the incremental rsync+btrfs+ssh backup against the btrbk-style bare
#       commands: `rsync --inplace` with the same options and ssh into a
#       working subvolume, then `btrfs subvolume snapshot -r` — goal <= 1.05.
# Runs are interleaved (a b c a b c ...) so that load from other work falls
# on all of them alike; every preparation (waiting for the next second,
# fresh copies and snapshots, sync) is untimed. Prints medians and ratios.
# Not a test: nothing fails when a goal is missed.
#
# Usage: bench/bench_btrfs.sh [RUNS]   (default 5, at least 3; as root;
#        TISBACKUP=path, default build/tisbackup; BENCH_FILES=N tree size;
#        BENCH_SNAPSHOTS=N expired snapshots, default 10)

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUNS=${1:-5}
[ "$RUNS" -ge 3 ] || RUNS=3
NFILES=${BENCH_FILES:-50000}
NSNAP=${BENCH_SNAPSHOTS:-10}

if [ "${TB_BTRFS_NS:-}" != 1 ]; then
	if [ "$(id -u)" != 0 ] || [ ! -e /dev/loop-control ]; then
		echo "bench_btrfs: needs root and loop devices" >&2
		exit 1
	fi
	TB_BTRFS_NS=1 exec unshare --mount --propagation private -- bash "${BASH_SOURCE[0]}" "$@"
fi

# shellcheck source=../tests/integration/lib.sh
. "$here/../tests/integration/lib.sh"
tb_require_binary
tb_require sqlite3 rsync ssh mkfs.btrfs btrfs losetup mount python3
tb_tmp

IMG=${TB_BUILD_ROOT:-$here/../build}/bench_btrfs.$TB_ID.img
MNT=$TMPD/btrfs
LOOP=
_bench_cleanup() {
	mountpoint -q "$MNT" 2>/dev/null && { umount "$MNT" 2>/dev/null || umount -l "$MNT"; }
	[ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null
	rm -f "$IMG"
	return 0
}
# shellcheck disable=SC2154 # st is assigned inside the trap string
trap 'st=$?; _bench_cleanup; (exit $st); _tb_cleanup' EXIT

truncate -s 4G "$IMG" || exit 1
mkfs.btrfs -q -f "$IMG" >/dev/null || exit 1
LOOP=$(losetup -f --show "$IMG") || exit 1
mkdir -p "$MNT"
mount -t btrfs "$LOOP" "$MNT" || exit 1
BASE=$MNT/backups
CATALOG=$BASE/log/tisbackup.sqlite
sshd_start

# ---- the tree: NFILES small files, 100 per folder, two levels deep
SRC=$TMPD/src
echo "building a $NFILES-file tree in $SRC ..."
python3 - "$SRC" "$NFILES" <<'EOF' || exit 1
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "d%03d" % (i // 1000), "s%02d" % ((i // 100) % 10))
    if i % 100 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.txt" % i), "w") as f:
        f.write("file %d\n" % i * (1 + i % 7))
EOF

cfg_global "$CONF"
cfg_job "$CONF" bt "$SRC" "type = rsync+btrfs+ssh"
cfg_job "$CONF" hl "$SRC"
cfg_job "$CONF" cl "$SRC" "type = rsync+btrfs+ssh" "backup_retention_time = 5"
BARE=$BASE/bare
RMDIR=$BASE/rmcopy

# The btrbk-style bare commands: rsync into a working subvolume in place,
# then a read-only snapshot.
RSYNC_OPTS=(-rt --stats --delete-excluded --numeric-ids --delete-after --partial -lpgoD
	--protect-args --inplace)
bare_run() {
	rsync "${RSYNC_OPTS[@]}" -e "$(ssh_cmd)" "root@127.0.0.1:$SRC/" "$BARE/last_backup/" >/dev/null &&
		btrfs subvolume snapshot -r "$BARE/last_backup" "$BARE/$(date +%Y%m%d-%Hh%Mm%S.%N)" >/dev/null
}

echo "full backups (untimed) ..."
"$TISBACKUP" -c "$CONF" -s bt,hl -l warning backup || { echo "full backup failed" >&2; exit 1; }
mkdir -p "$BARE" "$BASE/cl"
btrfs subvolume create "$BARE/last_backup" >/dev/null
bare_run || { echo "bare rsync failed" >&2; exit 1; }
sync

stamp() { date -d "$(date -d "-$1 days" +%F) 12:00:00" +%Y%m%d-%Hh%Mm%S; }
iso() { date -d "$(date -d "-$1 days" +%F) 12:00:00" +%Y-%m-%dT%H:%M:%S.000000; }

# (b)'s preparations: NSNAP expired read-only snapshots of the tree (and
# a recent one, kept) with their rows; NSNAP hardlinked copies (cp -al)
# of rsync+ssh's newest snapshot, as its --link-dest history holds them.
prep_cleanup() {
	local s d vals
	for s in "$BASE"/cl/*; do
		[ -e "$s" ] || continue
		btrfs subvolume delete "$s" >/dev/null 2>&1 || rm -rf "$s"
	done
	btrfs subvolume snapshot "$BASE/bt/last_backup" "$BASE/cl/last_backup" >/dev/null
	btrfs subvolume snapshot -r "$BASE/cl/last_backup" "$BASE/cl/$(stamp 1)" >/dev/null
	vals="('cl', '127.0.0.1', '$(iso 1)', '$(iso 1)', 'OK', 'ok', '$BASE/cl/$(stamp 1)', 'BACKUP')"
	for ((s = 0; s < NSNAP; s++)); do
		d=$((10 + s))
		btrfs subvolume snapshot -r "$BASE/cl/last_backup" "$BASE/cl/$(stamp $d)" >/dev/null
		vals+=", ('cl', '127.0.0.1', '$(iso $d)', '$(iso $d)', 'OK', 'ok', '$BASE/cl/$(stamp $d)', 'BACKUP')"
	done
	sqlite3 "$CATALOG" "delete from stats where backup_name='cl'; insert into stats (backup_name,
	  server_name, backup_start, backup_end, status, log, backup_location, TYPE) values $vals;"
	btrfs filesystem sync "$MNT" >/dev/null
	sync
}
prep_rm() {
	local s
	rm -rf "$RMDIR"
	mkdir -p "$RMDIR"
	local hl
	hl=$BASE/hl/$(snapshots "$BASE/hl" | tail -n 1)
	for ((s = 0; s < NSNAP; s++)); do
		cp -al "$hl" "$RMDIR/s$s"
	done
	sync
}

# timed CMD...: run CMD, print its wall time in seconds; 1 when it failed.
timed() {
	local t0 t1 rc
	t0=$(date +%s.%N)
	"$@" >/dev/null 2>"$TMPD/timed.err"
	rc=$?
	t1=$(date +%s.%N)
	awk "BEGIN{print $t1-$t0}"
	[ $rc -eq 0 ] || { echo "failed: $* ($(tail -n 3 "$TMPD/timed.err"))" >&2; return 1; }
}
median() {
	sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}

T_BT=() T_HL=() T_BARE=() T_CL=() T_RM=()
for ((r = 1; r <= RUNS; r++)); do
	echo "run $r/$RUNS ..."
	# Let the previous run's deletions finish in the background first (the
	# cleaner thread, delayed refs), so that no timed command pays for them.
	btrfs subvolume sync "$MNT" >/dev/null
	btrfs filesystem sync "$MNT" >/dev/null
	sync
	wait_next_second
	T_BT+=("$(timed "$TISBACKUP" -c "$CONF" -s bt -l warning backup)") || exit 1
	wait_next_second
	T_HL+=("$(timed "$TISBACKUP" -c "$CONF" -s hl -l warning backup)") || exit 1
	wait_next_second
	T_BARE+=("$(timed bare_run)") || exit 1
	prep_cleanup
	T_CL+=("$(timed "$TISBACKUP" -c "$CONF" -s cl -l warning cleanup)") || exit 1
	left=$(find "$BASE/cl" -mindepth 1 -maxdepth 1 | wc -l)
	[ "$left" -eq 2 ] || { echo "cleanup left $left entries in $BASE/cl (expected 2)" >&2; exit 1; }
	prep_rm
	T_RM+=("$(timed rm -rf "$RMDIR")") || exit 1
done

M_BT=$(printf '%s\n' "${T_BT[@]}" | median)
M_HL=$(printf '%s\n' "${T_HL[@]}" | median)
M_BARE=$(printf '%s\n' "${T_BARE[@]}" | median)
M_CL=$(printf '%s\n' "${T_CL[@]}" | median)
M_RM=$(printf '%s\n' "${T_RM[@]}" | median)
ratio() { awk "BEGIN{printf \"%.3f\", $1/$2}"; }

echo
printf 'files: %d, expired snapshots: %d, runs: %d (medians; every run listed)\n' \
	"$(find "$SRC" -type f | wc -l)" "$NSNAP" "$RUNS"
printf '%-48s %9s  %s\n' "what" "median s" "runs"
printf '%-48s %9.3f  %s\n' "rsync+btrfs+ssh incremental (tisbackup)" "$M_BT" "${T_BT[*]}"
printf '%-48s %9.3f  %s\n' "rsync+ssh incremental, --link-dest (tisbackup)" "$M_HL" "${T_HL[*]}"
printf '%-48s %9.3f  %s\n' "bare rsync --inplace + snapshot -r (btrbk-style)" "$M_BARE" "${T_BARE[*]}"
printf '%-48s %9.3f  %s\n' "cleanup of $NSNAP snapshots (tisbackup)" "$M_CL" "${T_CL[*]}"
printf '%-48s %9.3f  %s\n' "rm -rf of $NSNAP hardlinked copies" "$M_RM" "${T_RM[*]}"
echo
printf '(a) btrfs / link-dest incremental:   %s (goal <= 0.5)\n' "$(ratio "$M_BT" "$M_HL")"
printf '(b) subvolume delete / rm -rf:       %s (goal <= 0.05)\n' "$(ratio "$M_CL" "$M_RM")"
printf '(c) tisbackup / bare btrbk-style:    %s (goal <= 1.05)\n' "$(ratio "$M_BT" "$M_BARE")"
