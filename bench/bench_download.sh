#!/usr/bin/env bash
#
# Web download throughput: a 1 GiB file of a snapshot downloaded from the
# snapshot browser (GET /api/v1/jobs/NAME/file over loopback) against the
# same bytes over a bare loopback TCP connection (socat to socat, 128 KiB
# blocks: the loopback's throughput), the file in the page cache; and
# serve's resident memory (VmRSS) during the runs. The download is timed
# with two clients: socat sending the request and reading the reply into
# /dev/null with the same 128 KiB blocks as the loopback baseline (the
# goal's ratio: only the sender differs), and curl -o /dev/null (what a
# user runs; curl hands its data on in 16 KiB callbacks and writes
# /dev/null in 4 KiB stdio blocks, ~136 000 write(2) per GiB, so its
# figure measures curl as much as serve). Also `cat` to /dev/null and a
# tar of the folder, for reference. Goals: download >= 0.9 x the
# loopback's throughput (medians), serve's VmRSS <= 16 MiB. The runs are
# interleaved (cat, loopback, socat, curl, tar, cat, ...) so that load
# from other work falls on all alike; one sampler reads VmRSS every 20 ms
# during all of them, without forking (bash builtins only). The client
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

# rss_kib: sets RSS to serve's VmRSS in KiB (bash builtins only: no fork).
rss_kib() {
	local k v _
	RSS=0
	while read -r k v _; do
		[ "$k" = VmRSS: ] && RSS=$v && return
	done <"/proc/$WEB_PID/status"
}
rss_kib
PEAK=$RSS
echo "serve pid $WEB_PID, VmRSS after start: $((PEAK / 1024)) MiB"
# sampler OUT: writes the highest VmRSS seen (KiB) to OUT every 20 ms
# until killed; sleeps with read -t on a pipe nobody writes (no fork).
sampler() {
	local max=0 fd
	exec {fd}<> <(:)
	trap 'exit 0' TERM
	while :; do
		rss_kib
		[ "$RSS" -gt "$max" ] && {
			max=$RSS
			echo "$max" >"$1"
		}
		read -r -t 0.02 -u "$fd" _ || :
	done
}
# secs CMD...: wall seconds of CMD.
secs() {
	local t0 t1
	t0=$EPOCHREALTIME
	"$@" >/dev/null
	t1=$EPOCHREALTIME
	python3 -c "print('%.3f' % ($t1 - $t0))"
}
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

cat "$SNAP/big.bin" >/dev/null # into the page cache
PORT=${WEB#http://127.0.0.1:}
REQ=$TMPD/request
# get URL: one GET of URL with the session cookie, reply to /dev/null.
printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: %s\r\nConnection: close\r\n\r\n' \
	"${URL#"$WEB"}" "$COOKIE" >"$REQ"
dl() { curl -s -f -H "Cookie: $COOKIE" -o /dev/null "$1"; }
# sdl: the file's GET by socat, reply read in 128 KiB blocks to /dev/null.
sdl() { socat -b 131072 -t 60 "OPEN:$REQ!!OPEN:/dev/null" "TCP:127.0.0.1:$PORT"; }
listening() { ss -Hltn "sport = :$1" | grep -q .; }
# loop_listen: a socat on a free loopback port ($LPORT, pid $LPID) that
# sends the file to the first client (started untimed); loop: receives it.
loop_listen() {
	LPORT=$(free_port)
	socat -b 131072 -u "FILE:$SNAP/big.bin" "TCP-LISTEN:$LPORT,bind=127.0.0.1,reuseaddr" &
	LPID=$!
	wait_until 10 listening "$LPORT"
}
loop() { socat -b 131072 -u "TCP:127.0.0.1:$LPORT" OPEN:/dev/null; }
# The socat client must get the whole file: check its byte count once.
n=$(socat -b 131072 -t 60 "OPEN:$REQ!!STDOUT" "TCP:127.0.0.1:$PORT" | wc -c)
[ "$n" -gt $((MIB * 1024 * 1024)) ] || t_bail "socat client got $n bytes"
echo "$PEAK" >"$TMPD/peak"
sampler "$TMPD/peak" &
SPID=$!
cats=() loops=() sdls=() dls=() tars=()
for ((i = 0; i < RUNS; i++)); do
	cats+=("$(secs cat "$SNAP/big.bin")")
	loop_listen
	loops+=("$(secs loop)")
	wait "$LPID"
	sdls+=("$(secs sdl)")
	dls+=("$(secs dl "$URL")")
	tars+=("$(secs dl "$TARURL")")
	echo "  run $i: cat ${cats[-1]} s, loopback ${loops[-1]} s, socat GET ${sdls[-1]} s, curl GET ${dls[-1]} s, tar ${tars[-1]} s"
done
kill "$SPID"
wait "$SPID"
PEAK=$(cat "$TMPD/peak")
c=$(median "${cats[@]}") l=$(median "${loops[@]}") s=$(median "${sdls[@]}")
d=$(median "${dls[@]}") t=$(median "${tars[@]}")
python3 - "$MIB" "$c" "$l" "$s" "$d" "$t" "$PEAK" <<'EOF'
import sys
mib, c, l, s, d, t, peak = int(sys.argv[1]), *map(float, sys.argv[2:7]), int(sys.argv[7])
print("file: %d MiB, medians of the runs" % mib)
print("cat                   %7.3f s  %8.0f MiB/s" % (c, mib / c))
print("loopback TCP          %7.3f s  %8.0f MiB/s  (socat -> socat, 128 KiB blocks)" % (l, mib / l))
print("download, socat GET   %7.3f s  %8.0f MiB/s  (serve -> socat, 128 KiB blocks)" % (s, mib / s))
print("download, curl        %7.3f s  %8.0f MiB/s" % (d, mib / d))
print("tar download, curl    %7.3f s  %8.0f MiB/s" % (t, mib / t))
print("download / loopback TCP throughput (socat GET): %.2f (goal >= 0.90)" % (l / s))
print("download / loopback TCP throughput (curl): %.2f" % (l / d))
print("download / cat throughput (socat GET): %.2f" % (c / s))
print("serve VmRSS peak during the downloads: %.1f MiB (goal <= 16)" % (peak / 1024))
EOF
web_stop
