#!/usr/bin/env bash
#
# Incremental backup overhead: tisbackup's rsync+ssh incremental run of an
# unchanged 50,000-file tree against a bare rsync with the same options,
# the same ssh command and --link-dest to the same previous snapshot.
# Goal: tisbackup / rsync <= 1.05 (medians). Prints figures; not a test.
#
# Usage: bench/bench_backup.sh [RUNS]   (TISBACKUP=path, default build/tisbackup;
#        BENCH_FILES=N to change the tree size)

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tests/integration/lib.sh
. "$here/../tests/integration/lib.sh"

RUNS=${1:-7}
NFILES=${BENCH_FILES:-50000}
[ "$RUNS" -ge 5 ] || RUNS=5
tb_require_binary
tb_require rsync ssh ssh-keygen sshd
tb_tmp
sshd_start

# ---- the tree: NFILES small files, 100 per folder, two levels deep
SRC=$TMPD/src
echo "building a $NFILES-file tree in $SRC ..."
python3 - "$SRC" "$NFILES" <<'EOF' 2>/dev/null || {
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "d%03d" % (i // 1000), "s%02d" % ((i // 100) % 10))
    if i % 100 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.txt" % i), "w") as f:
        f.write("file %d\n" % i * (1 + i % 7))
EOF
	# No python: the same tree from bash (slower to build).
	for ((i = 0; i < NFILES; i++)); do
		d=$(printf '%s/d%03d/s%02d' "$SRC" $((i / 1000)) $(((i / 100) % 10)))
		((i % 100 == 0)) && mkdir -p "$d"
		printf 'file %d\n' "$i" >"$(printf '%s/f%05d.txt' "$d" "$i")"
	done
}
echo "files: $(find "$SRC" -type f | wc -l)"

cfg_global "$CONF"
cfg_job "$CONF" bench "$SRC"

echo "full backup ..."
t0=$(date +%s.%N)
"$TISBACKUP" -c "$CONF" -l warning backup || { echo "full backup failed" >&2; exit 1; }
t1=$(date +%s.%N)
printf 'full backup: %.2f s\n' "$(awk "BEGIN{print $t1-$t0}")"
PREV=$BASE/bench/$(snapshots "$BASE/bench" | tail -n 1)
[ -d "$PREV" ] || { echo "no snapshot after the full backup" >&2; exit 1; }

DEST=$TMPD/bare_dest
SSH=$(ssh_cmd)
# The next-second wait keeps tisbackup's 1-second stamps distinct; it is a
# prepare step for both commands so they are treated alike.
NEXTSEC="s=\$(date +%s); while [ \"\$(date +%s)\" = \"\$s\" ]; do sleep 0.02; done"
TB_CMD="'$TISBACKUP' -c '$CONF' -l warning backup"
RSYNC_CMD="rsync -rt --stats --delete-excluded --numeric-ids --delete-after --partial -lpgoD --protect-args -e '$SSH' 'root@127.0.0.1:$SRC/' '$DEST/' --link-dest='$PREV' >/dev/null"

# median of the numbers on stdin
median() {
	sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}

if command -v hyperfine >/dev/null 2>&1; then
	hyperfine --runs "$RUNS" --warmup 1 --export-json "$TMPD/bench.json" \
		--prepare "$NEXTSEC" -n tisbackup "$TB_CMD" \
		--prepare "rm -rf '$DEST'; $NEXTSEC" -n rsync "$RSYNC_CMD"
	mapfile -t med < <(grep -o '"median": *[0-9.e+-]*' "$TMPD/bench.json" | sed 's/.*: *//')
	M_TB=${med[0]}
	M_RS=${med[1]}
else
	tb_times=() rs_times=()
	for ((r = 0; r < RUNS; r++)); do
		bash -c "$NEXTSEC"
		t0=$(date +%s.%N); bash -c "$TB_CMD"; t1=$(date +%s.%N)
		tb_times+=("$(awk "BEGIN{print $t1-$t0}")")
		rm -rf "$DEST"
		bash -c "$NEXTSEC"
		t0=$(date +%s.%N); bash -c "$RSYNC_CMD"; t1=$(date +%s.%N)
		rs_times+=("$(awk "BEGIN{print $t1-$t0}")")
	done
	M_TB=$(printf '%s\n' "${tb_times[@]}" | median)
	M_RS=$(printf '%s\n' "${rs_times[@]}" | median)
fi

echo
printf 'files:                        %d\n' "$NFILES"
printf 'tisbackup incremental median: %.3f s\n' "$M_TB"
printf 'bare rsync median:            %.3f s\n' "$M_RS"
ratio=$(awk "BEGIN{printf \"%.3f\", $M_TB/$M_RS}")
printf 'ratio tisbackup/rsync:        %s (goal <= 1.05)\n' "$ratio"
