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
# not a test.
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
tb_require rsync ssh ssh-keygen sshd python3
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

run_backup() { # prints "WALL ACCOUNTING WALKED"
	local t0 t1 log
	wait_next_second
	t0=$(date +%s.%N)
	log=$("$TISBACKUP" -c "$CONF" -l info backup 2>&1) || { echo "backup failed: $log" >&2; exit 1; }
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
walls=() accs=() ratios=()
for ((r = 1; r <= RUNS; r++)); do
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
