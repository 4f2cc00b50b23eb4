#!/usr/bin/env bash
#
# Disk-usage accounting after a backup (src/diskusage.c): an rsync+ssh job
# of a 50,000-file tree with 30 snapshots of history (hardlinked copies
# made with cp -al, each with 1 % of its files replaced). The first backup
# measures every snapshot once (figures missing); then each of RUNS
# backups, with 1 % of the source files changed, is accounted
# incrementally (the new snapshot and the previous one walked). The
# accounting's time is what the run logs ("disk usage: N of M snapshots
# walked in X s"); the backup's is the whole `tisbackup backup` wall time.
# Goal: accounting <= 5 % of the backup's time (medians). Prints figures;
# not a test. BASELINE=path of another tisbackup binary: each run then
# makes one backup with it and one with TISBACKUP, in turn (the same
# history, the same load), and both medians are printed.
#
# Then, as root with loop devices (BENCH_BTRFS=0 skips it), the same tree
# as an rsync+btrfs+ssh job on a loop-mounted btrfs with a history of 30
# read-only snapshots (made with btrfs subvolume snapshot, 1 % changed
# between them): RUNS backups with quotas off (no accounting), then RUNS
# with quotas on, whose accounting is read from the qgroups ("disk usage:
# N snapshots read from btrfs qgroups in X s"). Printed: that time against
# the backup's, the backups' time with quotas on against off, and what a
# walk would cost on the same btrfs (du -s of the newest two snapshots,
# the incremental walk's work, and of every snapshot).
#
# Usage: bench/bench_diskusage.sh [RUNS]   (default 5, at least 3;
#        TISBACKUP=path, default build/tisbackup; BENCH_FILES=N, default
#        50000; BENCH_HISTORY=N snapshots, default 30)

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tests/integration/lib.sh
. "$here/../tests/integration/lib.sh"

RUNS=${1:-5}
NFILES=${BENCH_FILES:-50000}
NHIST=${BENCH_HISTORY:-30}
[ "$RUNS" -ge 3 ] || RUNS=3
tb_require_binary
tb_require rsync ssh ssh-keygen sshd python3 du
tb_tmp
sshd_start

SRC=$TMPD/src
echo "building a $NFILES-file tree in $SRC ..."
python3 - "$SRC" "$NFILES" <<'EOF'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "d%03d" % (i // 1000), "s%02d" % ((i // 100) % 10))
    if i % 100 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.txt" % i), "w") as f:
        f.write("file %d\n" % i * (1 + i % 7))
EOF

# change_files DIR SEED: replace 1 % of the files of DIR (new inodes).
change_files() {
	python3 - "$1" "$NFILES" "$2" <<'EOF'
import os, random, sys
root, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(seed)
for i in rnd.sample(range(n), max(1, n // 100)):
    p = os.path.join(root, "d%03d" % (i // 1000), "s%02d" % ((i // 100) % 10), "f%05d.txt" % i)
    os.unlink(p)
    with open(p, "w") as f:
        f.write("changed %d %d\n" % (i, seed) * (1 + i % 5))
EOF
}

cfg_global "$CONF"
cfg_job "$CONF" bench "$SRC/"
J=$BASE/bench
mkdir -p "$J" "$BASE/log"

echo "history: $NHIST snapshots ..."
prev=
for ((d = NHIST; d >= 1; d--)); do
	s=$(date -d "$d days ago" +%Y%m%d-%Hh%Mm%S)
	if [ -z "$prev" ]; then
		cp -a "$SRC" "$J/$s"
	else
		cp -al "$J/$prev" "$J/$s"
		change_files "$J/$s" "$d"
	fi
	prev=$s
done
# The source as the newest history snapshot, so the next backups change only 1 %.
rm -rf "$SRC"
cp -a "$J/$prev" "$SRC"

run_backup() { # [BINARY] prints "WALL ACCOUNTING WALKED"
	local t0 t1 log bin=${1:-$TISBACKUP}
	wait_next_second
	t0=$(date +%s.%N)
	log=$("$bin" -c "$CONF" -l info backup 2>&1) || { echo "backup failed: $log" >&2; exit 1; }
	t1=$(date +%s.%N)
	printf '%s %s\n' "$(awk "BEGIN{print $t1-$t0}")" \
		"$(printf '%s\n' "$log" | sed -nE 's/.*disk usage: ([0-9]+) of [0-9]+ snapshots? walked in ([0-9.]+) s.*/\2 \1/p' | tail -n 1)"
}

read -r W A N < <(run_backup)
[ -n "${A:-}" ] || { echo "the first backup failed or logged no accounting" >&2; exit 1; }
printf 'first backup (every snapshot measured, %s walked): backup %.2f s, accounting %.3f s\n' "$N" "$W" "$A"

median() {
	sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}
walls=() accs=() ratios=() b_accs=() b_ratios=()
for ((r = 1; r <= RUNS; r++)); do
	if [ -n "${BASELINE:-}" ]; then
		change_files "$SRC" $((5000 + r))
		read -r W A N < <(run_backup "$BASELINE")
		[ -n "${A:-}" ] || { echo "baseline backup $r failed or logged no accounting" >&2; exit 1; }
		b_accs+=("$A")
		b_ratios+=("$(awk "BEGIN{print 100 * $A / ($W - $A)}")")
		printf 'run %d, baseline: backup %.2f s, accounting %.3f s (%s snapshots walked), %.2f %%\n' "$r" "$W" "$A" "$N" "${b_ratios[-1]}"
	fi
	change_files "$SRC" $((1000 + r))
	read -r W A N < <(run_backup)
	[ -n "${A:-}" ] || { echo "backup $r failed or logged no accounting" >&2; exit 1; }
	walls+=("$W")
	accs+=("$A")
	ratios+=("$(awk "BEGIN{print 100 * $A / ($W - $A)}")")
	printf 'run %d: backup %.2f s, accounting %.3f s (%s snapshots walked), %.2f %%\n' "$r" "$W" "$A" "$N" "${ratios[-1]}"
done
m_w=$(printf '%s\n' "${walls[@]}" | median)
m_a=$(printf '%s\n' "${accs[@]}" | median)
m_r=$(printf '%s\n' "${ratios[@]}" | median)
echo
printf 'files: %d, snapshots in history: %d\n' "$NFILES" "$(snapshots "$J" | wc -l)"
printf 'incremental accounting median: %.3f s; backup median: %.2f s (the accounting included)\n' "$m_a" "$m_w"
printf 'accounting / rest of the backup: %.2f %% (goal <= 5 %%)\n' "$m_r"
if [ -n "${BASELINE:-}" ]; then
	printf 'baseline (%s): accounting median %.3f s, / rest of the backup %.2f %%\n' "$BASELINE" \
		"$(printf '%s\n' "${b_accs[@]}" | median)" "$(printf '%s\n' "${b_ratios[@]}" | median)"
fi

# ================================================================ btrfs with qgroups
if [ "${BENCH_BTRFS:-1}" = 0 ] || [ "$(id -u)" != 0 ] || ! command -v mkfs.btrfs >/dev/null; then
	echo "btrfs case skipped (BENCH_BTRFS=0, not root, or no mkfs.btrfs)"
	exit 0
fi
BT=$TMPD/btrfs
IMG=$TMPD/btrfs.img
truncate -s 2G "$IMG" && mkfs.btrfs -q -f "$IMG" >/dev/null || { echo "mkfs.btrfs failed" >&2; exit 1; }
dev=$(losetup -f --show "$IMG") || { echo "no loop device" >&2; exit 1; }
_TB_LOOPS+=("$dev")
mkdir -p "$BT" && mount -t btrfs "$dev" "$BT" || { echo "mount failed" >&2; exit 1; }
_TB_MOUNTS+=("$BT")
CONFB=$TMPD/btrfs.ini
{
	sed "s|^backup_base_dir = .*|backup_base_dir = $BT/base|" "$CONF" | sed '/^\[bench\]/,$d'
} >"$CONFB"
cfg_job "$CONFB" bbench "$SRC/" "type = rsync+btrfs+ssh"
JB=$BT/base/bbench
mkdir -p "$JB" "$BT/base/log"
echo
echo "btrfs history: $NHIST snapshots ..."
btrfs -q subvolume create "$JB/last_backup" >/dev/null
cp -a "$SRC/." "$JB/last_backup/"
for ((d = NHIST; d >= 1; d--)); do
	change_files "$JB/last_backup" $((2000 + d))
	btrfs -q subvolume snapshot -r "$JB/last_backup" "$JB/$(date -d "$d days ago" +%Y%m%d-%Hh%Mm%S)" >/dev/null
done
rm -rf "$SRC"
cp -a "$JB/last_backup" "$SRC"

run_btrfs() { # prints "WALL ACCOUNTING" (accounting empty without quotas)
	local t0 t1 log
	wait_next_second
	t0=$(date +%s.%N)
	log=$("$TISBACKUP" -c "$CONFB" -l info backup 2>&1) || { echo "backup failed: $log" >&2; exit 1; }
	t1=$(date +%s.%N)
	printf '%s %s\n' "$(awk "BEGIN{print $t1-$t0}")" \
		"$(printf '%s\n' "$log" | sed -nE 's/.*disk usage: [0-9]+ snapshots? read from btrfs qgroups in ([0-9.]+) s.*/\1/p' | tail -n 1)"
}
off=() on=() qacc=() qratio=()
for ((r = 1; r <= RUNS; r++)); do
	change_files "$SRC" $((3000 + r))
	read -r W A < <(run_btrfs)
	off+=("$W")
	printf 'btrfs, quotas off, run %d: backup %.2f s\n' "$r" "$W"
done
btrfs quota enable "$BT" && btrfs quota rescan -w "$BT" >/dev/null || { echo "btrfs quota failed" >&2; exit 1; }
for ((r = 1; r <= RUNS; r++)); do
	change_files "$SRC" $((4000 + r))
	read -r W A < <(run_btrfs)
	[ -n "${A:-}" ] || { echo "btrfs backup $r logged no qgroup accounting" >&2; exit 1; }
	on+=("$W")
	qacc+=("$A")
	qratio+=("$(awk "BEGIN{print 100 * $A / ($W - $A)}")")
	printf 'btrfs, quotas on, run %d: backup %.2f s, accounting %.3f s, %.2f %%\n' "$r" "$W" "$A" "${qratio[-1]}"
done
mapfile -t snaps < <(snapshots "$JB")
sync
t0=$(date +%s.%N)
du -s --count-links "$JB/${snaps[-1]}" "$JB/${snaps[-2]}" >/dev/null
t1=$(date +%s.%N)
du -s --count-links "${snaps[@]/#/$JB/}" >/dev/null
t2=$(date +%s.%N)
walk2=$(awk "BEGIN{print $t1-$t0}")
walkall=$(awk "BEGIN{print $t2-$t1}")
m_off=$(printf '%s\n' "${off[@]}" | median)
m_on=$(printf '%s\n' "${on[@]}" | median)
m_q=$(printf '%s\n' "${qacc[@]}" | median)
m_qr=$(printf '%s\n' "${qratio[@]}" | median)
echo
printf 'btrfs: files %d, snapshots %d\n' "$NFILES" "${#snaps[@]}"
printf 'qgroup accounting median: %.3f s; / rest of the backup: %.2f %% (goal <= 5 %%)\n' "$m_q" "$m_qr"
printf 'backup median, quotas on: %.2f s, off: %.2f s, ratio on/off: %.2f\n' "$m_on" "$m_off" \
	"$(awk "BEGIN{print $m_on / $m_off}")"
printf 'a walk on the same btrfs (du -s): newest two snapshots %.3f s (%.1fx the qgroup read), all %d %.3f s (%.1fx)\n' \
	"$walk2" "$(awk "BEGIN{print $walk2 / $m_q}")" "${#snaps[@]}" "$walkall" "$(awk "BEGIN{print $walkall / $m_q}")"
