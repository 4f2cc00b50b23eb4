#!/usr/bin/env bash
#
# Fleet: 40 small rsync+ssh jobs spread over 16 "hosts" (127.0.0.1-16,
# aliases of loopback served by one sshd, which listens on at most 16
# addresses; one job per host at a time), backed up by one `tisbackup
# backup` with its default parallelism, against the same 40 jobs run one
# after another: -j 1 without ssh connection sharing (the original's
# behaviour: one ssh connection per command), and -j 1 with it (to show
# what parallelism alone buys). Each run starts from an empty backup tree.
# Goal: parallel / original-like sequential <= 0.30 (medians).
# Prints figures; not a test.
#
# Usage: bench/bench_fleet.sh [RUNS] [JOBS]   (TISBACKUP=path; JOBS is -j, default 8)

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tests/integration/lib.sh
. "$here/../tests/integration/lib.sh"

RUNS=${1:-5}
J=${2:-8}
NJOBS=40
tb_require_binary
tb_require rsync ssh ssh-keygen sshd
tb_tmp
sshd_start
sshd_stop
for i in $(seq 2 16); do echo "ListenAddress 127.0.0.$i" >>"$SSHD_DIR/sshd_config"; done
/usr/sbin/sshd -D -e -f "$SSHD_DIR/sshd_config" >>"$SSHD_DIR/sshd.log" 2>&1 </dev/null &
SSHD_PID=$!
wait_until 10 port_open "$SSHD_PORT" || t_bail "sshd did not come back"
sleep 0.5

BASE=$TMPD/backups
CONF=$TMPD/fleet.ini
cfg_global "$CONF"
for i in $(seq 1 $NJOBS); do
	src=$TMPD/src$i
	mkdir -p "$src/etc" "$src/www"
	for f in $(seq 1 50); do echo "host $i file $f" >"$src/www/p$f.html"; done
	echo "conf $i" >"$src/etc/app.conf"
	cfg_job "$CONF" "host$i" "$src" "server_name = 127.0.0.$((1 + i % 16))"
done
# The same jobs as the original would run them: no shared connections.
sed 's/^\[global\]$/[global]\nssh_connection_sharing = no/' "$CONF" >"$TMPD/fleet-noshare.ini"
# Record every host key once, so every variant pays the same ssh costs.
"$TISBACKUP" -c "$CONF" -j "$J" backup >/dev/null 2>&1

median() { sort -n | awk '{a[NR]=$1} END{print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
run_once() { # -j value [config] -> seconds
	rm -rf "$BASE"
	local t0 t1
	t0=$(date +%s.%N)
	"$TISBACKUP" -c "${2:-$CONF}" -j "$1" backup >/dev/null 2>&1 || echo "warning: a run failed" >&2
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

orig_times=() seq_times=() par_times=()
for r in $(seq 1 "$RUNS"); do
	orig_times+=("$(run_once 1 "$TMPD/fleet-noshare.ini")")
	seq_times+=("$(run_once 1)")
	par_times+=("$(run_once "$J")")
done
o=$(printf '%s\n' "${orig_times[@]}" | median)
s=$(printf '%s\n' "${seq_times[@]}" | median)
p=$(printf '%s\n' "${par_times[@]}" | median)
printf 'fleet of %d jobs, %d runs each (medians)\n' "$NJOBS" "$RUNS"
printf '  one after another, no shared ssh (the original): %.2f s\n' "$o"
printf '  one after another, shared ssh (-j 1):            %.2f s\n' "$s"
printf '  tisbackup -j %d:                                  %.2f s\n' "$J" "$p"
awk -v p="$p" -v s="$s" 'BEGIN { printf "  ratio to -j 1 with sharing: %.3f\n", p / s }'
s=$o
awk -v p="$p" -v s="$s" 'BEGIN { printf "  ratio to the original: %.3f (goal <= 0.30)\n", p / s }'
