#!/usr/bin/env bash
#
# esx-vmdk: one disk of SIZE bytes (default 2 GiB) exported from vcsimx
# (tests/sim/vcsim) by `tisbackup backup` (snapshot, lease, NFC download
# with SHA-1 + SHA-256 while streaming, OVF, manifest, snapshot removal),
# against `curl -o` of the same NFC URL (a lease opened by pyVmomi), both
# writing to the same filesystem. The lease manifest is switched off in
# the simulator so its own SHA-1 pass is not counted. Goals: tisbackup's
# throughput >= 0.95x curl's; peak RSS of the backup process <= 32 MiB.
# Prints figures (medians of RUNS runs); not a test.
#
# Usage: bench/bench_vmdk.sh [SIZE] [RUNS]   (TISBACKUP=path, default build/tisbackup)

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tests/integration/lib.sh
. "$here/../tests/integration/lib.sh"

SIZE=${1:-2147483648}
RUNS=${2:-3}
TISBACKUP=${TISBACKUP:-$here/../build/tisbackup}
BUILD=$(dirname "$TISBACKUP")
tb_require_binary
tb_require curl /usr/bin/time
tb_tmp

SIM=$("$here/../tests/sim/vcsim/build.sh" "$BUILD") || exit 1
printf 'backup\nBench-Pw_1\n' >"$TMPD/pw"
chmod 600 "$TMPD/pw"
"$SIM" -portfile "$TMPD/port" -certfile "$TMPD/cert.pem" -passfile "$TMPD/pw" -disk-size "$SIZE" \
	-disks 1 -fault manifest-off=1 >"$TMPD/sim.log" 2>&1 </dev/null &
tb_track $!
wait_until 60 test -s "$TMPD/port" || { echo "vcsimx did not start" >&2; exit 1; }
PORT=$(cat "$TMPD/port")
BASE=$TMPD/base
mkdir -p "$BASE"
cfg_global "$TMPD/tb.ini"
job_section "$TMPD/tb.ini" vm type=esx-vmdk server_name=ha-host_VM0 esxhost=127.0.0.1 "esx_port=$PORT" \
	"password_file=$TMPD/pw" "esx_ca_file=$TMPD/cert.pem"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }

: >"$TMPD/curl.t"
: >"$TMPD/tb.t"
: >"$TMPD/tb.rss"
for ((r = 1; r <= RUNS; r++)); do
	# curl -o of the NFC URL of a lease opened by pyVmomi
	coproc LEASE { /usr/bin/python3 -W ignore "$here/../tests/sim/vcsim/lease_url.py" "$PORT" "$TMPD/cert.pem" "$TMPD/pw" ha-host_VM0; }
	read -r url <&"${LEASE[0]}"
	read -r cookie <&"${LEASE[0]}"
	printf 'Cookie: %s\n' "$cookie" >"$TMPD/hdr"
	t0=$(now)
	curl -sS --fail --cacert "$TMPD/cert.pem" -H @"$TMPD/hdr" -o "$TMPD/curl.vmdk" "$url" || exit 1
	t1=$(now)
	echo "$t1 - $t0" | bc -l >>"$TMPD/curl.t"
	eval "exec ${LEASE[1]}>&-"
	wait "$LEASE_PID" 2>/dev/null
	rm -f "$TMPD/curl.vmdk"
	sync

	t0=$(now)
	/usr/bin/time -f '%M' -o "$TMPD/rss" "$TISBACKUP" -c "$TMPD/tb.ini" backup >"$TMPD/tb.out" 2>&1 || {
		cat "$TMPD/tb.out" >&2
		exit 1
	}
	t1=$(now)
	echo "$t1 - $t0" | bc -l >>"$TMPD/tb.t"
	cat "$TMPD/rss" >>"$TMPD/tb.rss"
	grep -q "backup OK" "$TMPD/tb.out" || { cat "$TMPD/tb.out" >&2; exit 1; }
	rm -rf "${BASE:?}/vm"/2*
	sync
done
c=$(median <"$TMPD/curl.t")
t=$(median <"$TMPD/tb.t")
rss=$(median <"$TMPD/tb.rss")
mib=$(echo "$SIZE / 1048576" | bc -l)
printf 'disk: %d MiB, %d runs (medians)\n' "$((SIZE / 1048576))" "$RUNS"
printf 'curl -o          : %6.2f s  %7.1f MiB/s\n' "$c" "$(echo "$mib / $c" | bc -l)"
printf 'tisbackup backup : %6.2f s  %7.1f MiB/s (whole run: login, snapshot, lease, download + SHA-1/SHA-256, OVF, removal)\n' \
	"$t" "$(echo "$mib / $t" | bc -l)"
printf 'throughput ratio : %.3f x curl (goal >= 0.95)\n' "$(echo "$c / $t" | bc -l)"
printf 'peak RSS         : %.1f MiB (goal <= 32)\n' "$(echo "$rss / 1024" | bc -l)"
