#!/usr/bin/env bash
#
# register_existing on 30 snapshots of 2,000 files each, chained with
# `cp -al` like rsync --link-dest snapshots (they share most inodes), into
# a fresh catalog each run, against what the original spends on sizes
# alone: one `du -sb` per snapshot, one after the other. Prints both
# medians and their ratio; not a test.
#
# Usage: bench/bench_register.sh [RUNS]   (TISBACKUP=path, default build/tisbackup;
#        BENCH_FILES=N files per snapshot, BENCH_SNAPSHOTS=N snapshots,
#        BENCH_COLD=1 drops the page cache before every timed run: needs root,
#        and slows everything else on the machine for a moment)

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tests/integration/lib.sh
. "$here/../tests/integration/lib.sh"

RUNS=${1:-10}
NFILES=${BENCH_FILES:-2000}
NSNAP=${BENCH_SNAPSHOTS:-30}
tb_require_binary
tb_require du cp
tb_tmp

# Read by cfg_job; nothing connects anywhere.
export CLIENT_KEY=$TMPD/key KNOWN_HOSTS=$TMPD/known_hosts SSHD_PORT=22
cfg_global "$CONF"
cfg_job "$CONF" job "/srv/data"
JOB=$BASE/job

# The first snapshot: NFILES files of 0..8 KiB in folders of 100.
NOW=$(date +%s)
first=$JOB/$(date -d "@$((NOW - NSNAP * 86400))" +%Y%m%d-%Hh%Mm%S)
mkdir -p "$first"
for ((i = 0; i < NFILES; i++)); do
	d=$first/d$((i / 100))
	[ -d "$d" ] || mkdir -p "$d"
	head -c $(((i * 7919) % 8192)) /dev/zero >"$d/f$i"
done
# Each next snapshot: hard links to the previous one, 20 files rewritten.
prev=$first
for ((s = NSNAP - 1; s >= 1; s--)); do
	snap=$JOB/$(date -d "@$((NOW - s * 86400))" +%Y%m%d-%Hh%Mm%S)
	cp -al "$prev" "$snap"
	for ((k = 0; k < 20; k++)); do
		j=$(((s * 20 + k) % NFILES))
		f=$snap/d$((j / 100))/f$j
		[ -e "$f" ] || continue
		rm -f "$f"
		head -c $((s * 100 + k)) /dev/zero >"$f"
	done
	prev=$snap
done
echo "snapshots: $(find "$JOB" -mindepth 1 -maxdepth 1 -type d | wc -l), files per snapshot: $NFILES, inodes in all: $(find "$JOB" -type f -printf '%i\n' | sort -u | wc -l)"

TB_CMD="'$TISBACKUP' -c '$CONF' -l warning register_existing"
DU_CMD="for d in '$JOB'/*; do du -sb \"\$d\" >/dev/null; done"
FRESH="rm -rf '$BASE/log'"
COLD=
if [ "${BENCH_COLD:-0}" = 1 ]; then
	COLD="; sync; echo 3 >/proc/sys/vm/drop_caches"
	echo "cold cache: the page cache is dropped before every timed run"
fi

# Both must agree on every size.
bash -c "$FRESH"
"$TISBACKUP" -c "$CONF" -l warning register_existing || { echo "register_existing failed" >&2; exit 1; }
mismatch=0
for d in "$JOB"/*; do
	want=$(du -sb "$d" | cut -f1)
	got=$(sqlite3 "$CATALOG" "select total_bytes from stats where backup_location='$d'")
	[ "$want" = "$got" ] || { echo "size mismatch for $d: du $want, tisbackup $got"; mismatch=1; }
done
[ $mismatch -eq 0 ] && echo "sizes: identical to du -sb for all $NSNAP snapshots"

median() {
	sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}

if command -v hyperfine >/dev/null 2>&1; then
	hyperfine --runs "$RUNS" --warmup 2 --export-json "$TMPD/bench.json" \
		--prepare "$FRESH$COLD" -n register_existing "$TB_CMD" \
		--prepare "$FRESH$COLD" -n "du -sb per snapshot" "$DU_CMD"
	mapfile -t med < <(grep -o '"median": *[0-9.e+-]*' "$TMPD/bench.json" | sed 's/.*: *//')
	M_TB=${med[0]}
	M_DU=${med[1]}
else
	tb_times=() du_times=()
	for ((r = 0; r < RUNS; r++)); do
		bash -c "$FRESH$COLD"
		t0=$(date +%s.%N); bash -c "$TB_CMD"; t1=$(date +%s.%N)
		tb_times+=("$(awk "BEGIN{print $t1-$t0}")")
		bash -c "true$COLD"
		t0=$(date +%s.%N); bash -c "$DU_CMD"; t1=$(date +%s.%N)
		du_times+=("$(awk "BEGIN{print $t1-$t0}")")
	done
	M_TB=$(printf '%s\n' "${tb_times[@]}" | median)
	M_DU=$(printf '%s\n' "${du_times[@]}" | median)
fi

echo
printf 'snapshots x files:              %d x %d%s\n' "$NSNAP" "$NFILES" "${COLD:+ (cold cache)}"
printf 'register_existing median:       %.3f s (catalog rows included)\n' "$M_TB"
printf 'du -sb per snapshot median:     %.3f s (sizes only)\n' "$M_DU"
printf 'ratio register_existing/du:     %s\n' "$(awk "BEGIN{printf \"%.3f\", $M_TB/$M_DU}")"
