#!/usr/bin/env bash
#
# Retention decision speed: `tisbackup cleanup --explain -d` over JOBS
# jobs of SNAPS daily snapshot rows each, printing every decision,
# against the same `cleanup -d` without --explain, under two policies:
#   - steady: keep_daily = SNAPS-1 (the day-to-day case: a job holding
#     400 snapshots is one whose policy keeps them; one expires per job);
#   - first: keep_daily 7, keep_weekly 4, keep_monthly 12, keep_yearly 3
#     (a GFS policy first applied to 400 daily snapshots: ~95 % expire,
#     and each expired location is checked on disk: 4 system calls).
# backup_retention_time is 30 in both. Each job folder holds only its
# newest snapshot (an empty folder; the other rows' locations are gone).
# Goal: --explain -d <= 1 s (median). Prints figures; not a test.
#
# Usage: bench/bench_retention.sh [RUNS]   (default 5, at least 3;
#        TISBACKUP=path, default build/tisbackup; BENCH_JOBS=N, default
#        200; BENCH_SNAPSHOTS=N, default 400)

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tests/integration/lib.sh
. "$here/../tests/integration/lib.sh"

RUNS=${1:-5}
NJOBS=${BENCH_JOBS:-200}
NSNAP=${BENCH_SNAPSHOTS:-400}
[ "$RUNS" -ge 3 ] || RUNS=3
tb_require_binary
tb_require sqlite3
tb_tmp

cfg_global "$CONF"
mkdir -p "$BASE/log"
python3 - "$CATALOG" "$BASE" "$NJOBS" "$NSNAP" "$CONF" <<'PY'
import datetime, os, sqlite3, sys
db, base, njobs, nsnap, conf = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
c = sqlite3.connect(db)
c.executescript("""create table stats (backup_name TEXT, server_name TEXT, description TEXT,
  backup_start TEXT, backup_end TEXT, backup_duration NUMERIC, total_files_count INT,
  written_files_count INT, total_bytes INT, written_bytes INT, status TEXT, log TEXT,
  backup_location TEXT, TYPE TEXT);
  create index idx_stats_backup_name on stats(backup_name);
  create index idx_stats_backup_location on stats(backup_location);
  create index idx_stats_backup_name_start on stats(backup_name, backup_start);
  pragma journal_mode=WAL;""")
today = datetime.date.today()
rows = []
with open(conf, "a") as f:
    for j in range(njobs):
        name = "job%03d" % j
        os.makedirs(os.path.join(base, name), exist_ok=True)
        f.write("[%s]\ntype = rsync+ssh\nserver_name = srv%d\nremote_dir = /srv\n"
                "private_key = /nonexistent\n\n" % (name, j))
        for i in range(1, nsnap + 1):
            d = today - datetime.timedelta(days=i)
            start = d.strftime("%Y-%m-%dT01:00:00.000000")
            loc = os.path.join(base, name, d.strftime("%Y%m%d-01h00m00"))
            if i == 1:
                os.makedirs(loc)
            rows.append((name, "srv", start, start, "OK", "ok", loc, "BACKUP"))
c.executemany("insert into stats (backup_name, server_name, backup_start, backup_end, status,"
              " log, backup_location, TYPE) values (?,?,?,?,?,?,?,?)", rows)
c.commit()
PY
echo "jobs: $NJOBS, rows per job: $NSNAP ($(sqlite3 "$CATALOG" 'select count(*) from stats') rows)"

median() {
	sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}

# bench_policy NAME KEY=VALUE...: the jobs under [global] keys, timed.
bench_policy() {
	local name=$1 conf=$TMPD/$1.ini lines ex=() pl=() r t0 t1 m_ex m_pl
	shift
	{
		sed -n '1,/^$/p' "$CONF" | sed '/^$/d'
		printf '%s\n' "$@"
		echo
		sed -n '/^$/,$p' "$CONF"
	} >"$conf"
	local explain="'$TISBACKUP' -c '$conf' -l error cleanup --explain -d >/dev/null"
	local plain="'$TISBACKUP' -c '$conf' -l error cleanup -d >/dev/null"
	lines=$(bash -c "'$TISBACKUP' -c '$conf' -l error cleanup --explain -d" | grep -c '^  ')
	[ "$lines" -eq $((NJOBS * NSNAP)) ] || { echo "$name: explain printed $lines lines, expected $((NJOBS * NSNAP))" >&2; exit 1; }
	echo "$name: $(bash -c "'$TISBACKUP' -c '$conf' -l error cleanup --explain -d" | grep -c '  delete  ') decisions to delete"
	if command -v hyperfine >/dev/null 2>&1; then
		hyperfine --runs "$RUNS" --export-json "$TMPD/$name.json" -n "$name: cleanup --explain -d" "$explain" \
			-n "$name: cleanup -d" "$plain"
		mapfile -t med < <(grep -o '"median": *[0-9.e+-]*' "$TMPD/$name.json" | sed 's/.*: *//')
		m_ex=${med[0]}
		m_pl=${med[1]}
	else
		for ((r = 0; r < RUNS; r++)); do
			t0=$(date +%s.%N); bash -c "$explain"; t1=$(date +%s.%N)
			ex+=("$(awk "BEGIN{print $t1-$t0}")")
			t0=$(date +%s.%N); bash -c "$plain"; t1=$(date +%s.%N)
			pl+=("$(awk "BEGIN{print $t1-$t0}")")
		done
		m_ex=$(printf '%s\n' "${ex[@]}" | median)
		m_pl=$(printf '%s\n' "${pl[@]}" | median)
	fi
	RESULTS+=("$(printf '%-7s cleanup --explain -d median: %.3f s (goal <= 1 s); cleanup -d: %.3f s; ratio %s' \
		"$name" "$m_ex" "$m_pl" "$(awk "BEGIN{printf \"%.3f\", $m_ex/$m_pl}")")")
}

RESULTS=()
bench_policy steady "keep_daily = $((NSNAP - 1))"
bench_policy first "keep_daily = 7" "keep_weekly = 4" "keep_monthly = 12" "keep_yearly = 3"

echo
printf 'jobs x snapshots: %d x %d\n' "$NJOBS" "$NSNAP"
printf '%s\n' "${RESULTS[@]}"
