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
# Usage: bench/bench_xva.sh [SIZE_GIB]   (BENCH_COMP="false zstd" picks the compressions)

set -u
root=$(cd "$(dirname "$0")/.." && pwd)
TB_SOURCE_ROOT=$root
TISBACKUP=${TISBACKUP:-$root/build/tisbackup}
# shellcheck source=../tests/integration/lib.sh
. "$root/tests/integration/lib.sh"
# shellcheck source=../tests/integration/xapi.sh
. "$root/tests/integration/xapi.sh"

gib=${1:-4}
tb_require_binary
tb_require openssl curl jq /usr/bin/time zstd
tb_tmp
size=$((gib * 1024 * 1024 * 1024))
chunks=$((size / 1048576))
cat >"$TMPD/sim.json" <<EOF
{"user": "root", "password": "bench-pw",
 "vms": [{"name": "big", "disks": [{"size": $size, "zero_from": $((chunks * 3 / 4))}]}]}
EOF
xapi_sim_start "$TMPD/sim.json"
printf 'root\nbench-pw\n' >"$TMPD/pw"
chmod 600 "$TMPD/pw"
uuid=$(xapi_state '.VM[] | select(.name_label == "big") | .uuid')

conf() {
	cfg_global "$CONF"
	job_section "$CONF" big type=xen-xva server_name=big "xcphost=127.0.0.1:$XAPI_PORT" \
		"password_file=$TMPD/pw" "xcp_ca_file=$XAPI_CERT" enable_https=no "use_compression=$1"
}

echo "xen-xva: a ${gib} GiB VM (3/4 data) from the XAPI simulator, http export on loopback"
printf '%-12s %10s %10s %10s %12s %10s %8s\n' compression bytes curl_s ours_s curl_MiB/s ratio rss_MiB
for comp in ${BENCH_COMP:-false true zstd}; do
	rm -f "$TMPD/curl.xva"
	start=$(date +%s.%N)
	curl -sf -u root:bench-pw -o "$TMPD/curl.xva" \
		"http://127.0.0.1:$XAPI_PORT/export?uuid=$uuid&use_compression=$comp" || t_bail "curl failed"
	# durable, as ours is (fsync before the rename): coreutils' sync FILE
	sync "$TMPD/curl.xva"
	end=$(date +%s.%N)
	bytes=$(stat -c %s "$TMPD/curl.xva")
	rm -f "$TMPD/curl.xva"
	curl_s=$(echo "$end - $start" | bc -l)
	conf "$comp"
	rm -rf "$BASE/big"
	/usr/bin/time -f '%e %M' -o "$TMPD/time" "$TISBACKUP" -c "$CONF" -s big backup \
		>"$TMPD/out" 2>&1 || { cat "$TMPD/out"; t_bail "the backup failed"; }
	read -r ours_s rss_kb <"$TMPD/time"
	rm -rf "$BASE/big"
	printf '%-12s %10s %10.2f %10.2f %12.1f %10.3f %8.1f\n' "$comp" "$bytes" "$curl_s" "$ours_s" \
		"$(echo "$bytes / 1048576 / $curl_s" | bc -l)" "$(echo "$curl_s / $ours_s" | bc -l)" \
		"$(echo "$rss_kb / 1024" | bc -l)"
done
