#!/usr/bin/env bash
#
# xen-xva throughput and memory against `curl -o` of the same export, side
# by side in one run. The XAPI simulator (tests/sim/xapi_sim.py) serves a
# synthetic VM of SIZE_GIB GiB (default 4; the last quarter of the disk is
# zeros, which xapi skips), for use_compression false, true (gzip) and
# zstd. For each: curl's wall time writing the export to a file and
# fsyncing it (Basic auth, the baseline: no verification, no snapshot), then a tisbackup
# backup's wall time (login, snapshot, the export streamed into the
# .partial with the full verification, task, rename, snapshot destroyed,
# logout) and its peak RSS. The simulator generates the stream, so both
# sides share its speed; the ratio is ours against curl's throughput
# (goal >= 0.95, verification included) and the RSS goal is <= 32 MiB.
#
# Each compression is measured BENCH_RUNS times (default 3), curl first in
# odd rounds and ours first in even ones, so both meet the same load; the
# summary row is the median ratio and the largest RSS. The load average is
# printed before and after: on a loaded machine, compare ratios within one
# run only. The fixed cost of a run (login, VM lookup, snapshot, tasks,
# destroy, logout, the catalog) is measured apart: the median of 3 backups
# of a 1 MiB VM.
#
# Usage: bench/bench_xva.sh [SIZE_GIB]
#   BENCH_COMP="false zstd" picks the compressions, BENCH_RUNS=N the rounds.

set -u
root=$(cd "$(dirname "$0")/.." && pwd)
TB_SOURCE_ROOT=$root
TISBACKUP=${TISBACKUP:-$root/build/tisbackup}
# shellcheck source=../tests/integration/lib.sh
. "$root/tests/integration/lib.sh"
# shellcheck source=../tests/integration/xapi.sh
. "$root/tests/integration/xapi.sh"
# shellcheck source=lib_bench.sh
. "$root/bench/lib_bench.sh"

gib=${1:-4}
runs=${BENCH_RUNS:-3}
tb_require_binary
tb_require openssl curl jq /usr/bin/time zstd bc
tb_tmp
size=$((gib * 1024 * 1024 * 1024))
chunks=$((size / 1048576))
cat >"$TMPD/sim.json" <<JSON
{"user": "root", "password": "bench-pw",
 "vms": [{"name": "big", "disks": [{"size": $size, "zero_from": $((chunks * 3 / 4))}]},
         {"name": "tiny", "disks": [{"size": 1048576}]}]}
JSON
xapi_sim_start "$TMPD/sim.json"
printf 'root\nbench-pw\n' >"$TMPD/pw"
chmod 600 "$TMPD/pw"
uuid=$(xapi_state '.VM[] | select(.name_label == "big") | .uuid')

# conf VM COMPRESSION: the config, one job "big" exporting VM.
conf() {
	cfg_global "$CONF"
	job_section "$CONF" big type=xen-xva "server_name=$1" "xcphost=127.0.0.1:$XAPI_PORT" \
		"password_file=$TMPD/pw" "xcp_ca_file=$XAPI_CERT" enable_https=no "use_compression=$2"
}

# run_curl COMP: curl's wall time writing the export and syncing it (CURL_S), its size (BYTES).
run_curl() {
	local start end
	rm -f "$TMPD/curl.xva"
	start=$(date +%s.%N)
	curl -sf -u root:bench-pw -o "$TMPD/curl.xva" \
		"http://127.0.0.1:$XAPI_PORT/export?uuid=$uuid&use_compression=$1" || t_bail "curl failed"
	# durable, as ours is (fsync before the rename): coreutils' sync FILE
	sync "$TMPD/curl.xva"
	end=$(date +%s.%N)
	BYTES=$(stat -c %s "$TMPD/curl.xva")
	rm -f "$TMPD/curl.xva"
	CURL_S=$(echo "$end - $start" | bc -l)
}

# run_ours VM COMP: our backup's wall time (OURS_S) and peak RSS in KiB (RSS_KB).
run_ours() {
	conf "$1" "$2"
	rm -rf "$BASE/big"
	/usr/bin/time -f '%e %M' -o "$TMPD/time" "$TISBACKUP" -c "$CONF" -s big backup \
		>"$TMPD/out" 2>&1 || { cat "$TMPD/out"; t_bail "the backup failed"; }
	read -r OURS_S RSS_KB <"$TMPD/time"
	rm -rf "$BASE/big"
}

echo "xen-xva: a ${gib} GiB VM (3/4 data) from the XAPI simulator, http export on loopback;" \
	"$runs rounds; $(nproc) cores"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in 1 2 3; do
	run_ours tiny false
	echo "$OURS_S"
done >"$TMPD/fixed"
echo "fixed cost of a run (median of 3 backups of a 1 MiB VM): $(bench_median <"$TMPD/fixed") s"
printf '%-12s %6s %10s %8s %8s %11s %7s %8s\n' compression round bytes curl_s ours_s \
	curl_MiB/s ratio rss_MiB
for comp in ${BENCH_COMP:-false true zstd}; do
	: >"$TMPD/ratios"
	: >"$TMPD/rss"
	for round in $(seq 1 "$runs"); do
		if [ $((round % 2)) -eq 1 ]; then
			run_curl "$comp"
			run_ours big "$comp"
		else
			run_ours big "$comp"
			run_curl "$comp"
		fi
		ratio=$(echo "$CURL_S / $OURS_S" | bc -l)
		echo "$ratio" >>"$TMPD/ratios"
		echo "$RSS_KB" >>"$TMPD/rss"
		printf '%-12s %6s %10s %8.2f %8.2f %11.1f %7.3f %8.1f\n' "$comp" "$round" "$BYTES" \
			"$CURL_S" "$OURS_S" "$(echo "$BYTES / 1048576 / $CURL_S" | bc -l)" "$ratio" \
			"$(echo "$RSS_KB / 1024" | bc -l)"
	done
	printf '%-12s %6s %10s %8s %8s %11s %7.3f %8.1f\n' "$comp" median "" "" "" "" \
		"$(bench_median <"$TMPD/ratios")" "$(echo "$(sort -n "$TMPD/rss" | tail -1) / 1024" | bc -l)"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
