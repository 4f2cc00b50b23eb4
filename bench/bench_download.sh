#!/usr/bin/env bash
#
# Web download throughput: a 1 GiB file of a snapshot downloaded from the
# snapshot browser (GET /api/v1/jobs/NAME/file, curl to /dev/null over
# loopback) against reading it locally with `cat` to /dev/null, the file
# in the page cache for both; and serve's resident memory (VmRSS, sampled
# every 20 ms) during the downloads. Also the same bytes over a bare
# loopback TCP connection (socat to socat: the loopback's throughput) and
# a tar of the folder, for reference. Goals: download >= 0.9 x the
# loopback's throughput (medians), serve's VmRSS <= 16 MiB. The client
# logs in once (a session cookie): Basic auth would hash the password
# with Argon2 (64 MiB) on every request. Prints figures; not a test.
#
# Usage: bench/bench_download.sh [RUNS]   (TISBACKUP=path, default build/tisbackup;
#        BENCH_MIB=N for another file size)

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tests/integration/lib.sh
. "$here/../tests/integration/lib.sh"
# shellcheck source=../tests/integration/web.sh
. "$here/../tests/integration/web.sh"

RUNS=${1:-5}
MIB=${BENCH_MIB:-1024}
tb_require_binary
tb_require curl python3 socat
tb_tmp

# A job whose snapshot holds the file (made in place: no backup needed).
cfg_global "$CONF"
cfg_job "$CONF" files "$TMPD/src"
AT=20261201-03h00m00
SNAP=$BASE/files/$AT
mkdir -p "$SNAP"
echo "writing a $MIB MiB file ..."
head -c $((MIB * 1024 * 1024)) /dev/urandom >"$SNAP/big.bin"
web_config
web_user bench admin 'bench-pw-1' || t_bail "tisbackup user add failed"
web_start
URL="$WEB/api/v1/jobs/files/file?at=$AT&path=big.bin"
TARURL="$WEB/api/v1/jobs/files/tar?at=$AT"

JAR=$TMPD/jar
web_login bench bench-pw-1 "$JAR"
COOKIE=$(awk '$6 == "tb_session" { print "tb_session=" $7 }' "$JAR")

rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$WEB_PID/status"; }
PEAK=$(rss_kib)
echo "serve pid $WEB_PID, VmRSS after start: $((PEAK / 1024)) MiB"
# sample_rss PID: the highest VmRSS of serve while PID runs, in KiB.
sample_rss() {
	local max=0 v
	while kill -0 "$1" 2>/dev/null; do
		v=$(rss_kib)
		[ "${v:-0}" -gt "$max" ] && max=$v
		sleep 0.02
	done
	echo "$max"
}
# secs CMD...: wall seconds of CMD.
secs() {
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >/dev/null
	t1=$(date +%s.%N)
	python3 -c "print('%.3f' % ($t1 - $t0))"
}
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

cat "$SNAP/big.bin" >/dev/null # into the page cache
dl() { curl -s -f -H "Cookie: $COOKIE" -o /dev/null "$1"; }
listening() { ss -Hltn "sport = :$1" | grep -q .; }
# loop: the file through socat over loopback TCP, received by socat.
loop() {
	local p
	p=$(free_port)
	socat -b 131072 -u "FILE:$SNAP/big.bin" "TCP-LISTEN:$p,bind=127.0.0.1,reuseaddr" &
	local spid=$!
	wait_until 10 listening "$p"
	socat -b 131072 -u "TCP:127.0.0.1:$p" OPEN:/dev/null
	wait "$spid"
}
cats=() loops=() dls=() tars=()
for ((i = 0; i < RUNS; i++)); do
	cats+=("$(secs cat "$SNAP/big.bin")")
	loops+=("$(secs loop)")
	dl "$URL" &
	pid=$!
	t0=$(date +%s.%N)
	m=$(sample_rss "$pid")
	wait "$pid" || echo "download failed"
	t1=$(date +%s.%N)
	dls+=("$(python3 -c "print('%.3f' % ($t1 - $t0))")")
	[ "$m" -gt "$PEAK" ] && PEAK=$m
	dl "$TARURL" &
	pid=$!
	t0=$(date +%s.%N)
	m=$(sample_rss "$pid")
	wait "$pid" || echo "tar download failed"
	t1=$(date +%s.%N)
	tars+=("$(python3 -c "print('%.3f' % ($t1 - $t0))")")
	[ "$m" -gt "$PEAK" ] && PEAK=$m
done
c=$(median "${cats[@]}") l=$(median "${loops[@]}") d=$(median "${dls[@]}") t=$(median "${tars[@]}")
python3 - "$MIB" "$c" "$l" "$d" "$t" "$PEAK" <<'EOF'
import sys
mib, c, l, d, t, peak = int(sys.argv[1]), *map(float, sys.argv[2:6]), int(sys.argv[6])
print("file: %d MiB, medians of the runs" % mib)
print("cat          %7.3f s  %8.0f MiB/s" % (c, mib / c))
print("loopback TCP %7.3f s  %8.0f MiB/s  (socat -> socat, 128 KiB blocks)" % (l, mib / l))
print("download     %7.3f s  %8.0f MiB/s" % (d, mib / d))
print("tar download %7.3f s  %8.0f MiB/s" % (t, mib / t))
print("download / loopback TCP throughput: %.2f (goal >= 0.90)" % (l / d))
print("download / cat throughput: %.2f" % (c / d))
print("serve VmRSS peak during the downloads: %.1f MiB (goal <= 16)" % (peak / 1024))
EOF
web_stop
