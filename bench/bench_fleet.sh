#!/usr/bin/env bash
#
# Fleet: 40 small rsync+ssh jobs spread over 16 "hosts" (127.0.0.1-16,
# aliases of loopback served by one sshd, which listens on at most 16
# addresses; one job per host at a time), backed up by one `tisbackup
# backup` with its default parallelism, side by side with:
#   - the real original (TISBACKUP_PY_SRC=DIR, a checkout of it), which
#     runs the jobs one after another with one ssh connection per command;
#   - a model of it: this binary with -j 1 and no ssh connection sharing
#     (printed as a model, never as the original);
#   - -j 1 with sharing (what parallelism alone buys);
#   - the floor: the CPU time of the same 40 transfers run alone (bare
#     rsync over the same ssh), summed, divided by the cores.
# Wall and CPU time (clients and sshd together, see lib_bench.sh) of each;
# every run starts from an empty backup tree and with no ssh master
# connection left by an earlier run (so each pays its handshakes: one per
# host with sharing, one per command without). Goals: tisbackup <= 0.30x
# the original, and within 1.2x of the floor (medians). Prints figures;
# not a test.
#
# Usage: bench/bench_fleet.sh [RUNS] [JOBS]   (TISBACKUP=path; JOBS is -j, default 8;
#        TISBACKUP_PY_SRC=DIR to time the original too)

# shellcheck source-path=SCRIPTDIR
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tests/integration/lib.sh
. "$here/../tests/integration/lib.sh"
# shellcheck source=lib_bench.sh
. "$here/lib_bench.sh"

RUNS=${1:-5}
J=${2:-8}
NJOBS=40
tb_require_binary
tb_require rsync ssh ssh-keygen sshd
tb_tmp
bench_cg_setup
bench_original && have_orig=1 || have_orig=0
sshd_start ""
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
	cfg_job "$CONF" "host$i" "$src" "server_name = 127.0.0.$((1 + i % 16))" "remote_user = root"
done
# The same jobs as the original would run them: no shared connections.
sed 's/^\[global\]$/[global]\nssh_connection_sharing = no/' "$CONF" >"$TMPD/fleet-noshare.ini"
# The original refuses keys it does not know (known_hosts_file; it runs ssh
# with StrictHostKeyChecking=no) and never shares connections.
grep -v '^known_hosts_file = ' "$CONF" >"$TMPD/fleet-orig.ini"
# Record every host key once, so every variant pays the same ssh costs.
"$TISBACKUP" -c "$CONF" -j "$J" backup >/dev/null 2>&1

# The ssh master connections the runs left (ControlPersist keeps them 60 s):
# ended before every timed run, so each `backup` pays its own handshakes,
# as a nightly run does (its masters from the night before are long gone).
# Only the bench's own: the ssh processes in its cgroup whose title is a
# master's ("ssh: PATH [mux]"), ended by pid. Without a cgroup they are
# left, and later runs reuse them (said once).
stop_masters() {
	local p cmd
	if [ -z "$BENCH_CG" ]; then
		[ -n "${masters_warned:-}" ] || echo "note: no cgroup: ssh masters are reused across runs (handshakes not counted)"
		masters_warned=1
		return 0
	fi
	while read -r p; do
		cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
		case $cmd in "ssh: "*"[mux]"*) kill "$p" 2>/dev/null ;; esac
	done <"$BENCH_CG/cgroup.procs"
	wait_until 5 no_masters || true
}
no_masters() {
	local p cmd
	while read -r p; do
		cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
		case $cmd in "ssh: "*"[mux]"*) return 1 ;; esac
	done <"$BENCH_CG/cgroup.procs"
	return 0
}

# run_once LABEL CMD...: from an empty backup tree and no ssh master
# connection; appends to W_LABEL and C_LABEL.
declare -A W=() C=()
run_once() {
	local label=$1
	shift
	rm -rf "$BASE"
	stop_masters
	bench_measure "$@"
	[ "$BM_RC" -eq 0 ] || bench_show_failure "$label"
	W[$label]+="$BM_WALL "
	C[$label]+="$BM_CPU "
}
# shellcheck disable=SC2086 # $1 is a list of figures
med() { printf '%s\n' $1 | bench_median; }

for _ in $(seq 1 "$RUNS"); do
	[ "$have_orig" = 1 ] && run_once orig "${ORIG_CMD[@]}" -c "$TMPD/fleet-orig.ini" backup
	run_once model "$TISBACKUP" -c "$TMPD/fleet-noshare.ini" -j 1 backup
	run_once seq "$TISBACKUP" -c "$CONF" -j 1 backup
	run_once par "$TISBACKUP" -c "$CONF" -j "$J" backup
done

# The floor: each job's transfer alone, a bare rsync over the same ssh.
for _ in $(seq 1 "$RUNS"); do
	rm -rf "$BASE"
	cpu=0 wall=0
	for i in $(seq 1 $NJOBS); do
		mkdir -p "$BASE/floor$i"
		bench_measure rsync -a --numeric-ids --delete -e "ssh -i $CLIENT_KEY -p $SSHD_PORT -o UserKnownHostsFile=$KNOWN_HOSTS -o StrictHostKeyChecking=accept-new -o BatchMode=yes" \
			"root@127.0.0.$((1 + i % 16)):$TMPD/src$i/" "$BASE/floor$i/"
		cpu=$(awk -v a="$cpu" -v b="$BM_CPU" 'BEGIN { print a + b }')
		wall=$(awk -v a="$wall" -v b="$BM_WALL" 'BEGIN { print a + b }')
	done
	C[floor]+="$cpu "
	W[floor]+="$wall "
done

echo
printf 'fleet of %d jobs on 16 hosts, %d runs each (medians), %d cores\n' "$NJOBS" "$RUNS" "$BENCH_CORES"
p=$(med "${W[par]}")
if [ "$have_orig" = 1 ]; then
	o=$(med "${W[orig]}")
	bench_row "the original (sequential, no shared ssh)" "$o" "$(med "${C[orig]}")"
else
	o=
	echo "  the original: not measured"
fi
bench_row "model of the original (-j 1, no shared ssh)" "$(med "${W[model]}")" "$(med "${C[model]}")" "$o"
bench_row "tisbackup -j 1 (shared ssh)" "$(med "${W[seq]}")" "$(med "${C[seq]}")" "$o"
bench_row "tisbackup -j $J" "$p" "$(med "${C[par]}")" "$o"
fc=$(med "${C[floor]}")
floor=$(awk -v c="$fc" -v n="$BENCH_CORES" 'BEGIN { printf "%.4f", c / n }')
bench_row "40 bare rsync transfers, one by one" "$(med "${W[floor]}")" "$fc"
printf '  floor (their CPU / %d cores): %.3f s\n' "$BENCH_CORES" "$floor"
[ -n "$o" ] && awk -v p="$p" -v o="$o" 'BEGIN { printf "  tisbackup -j '"$J"' / the original: %.3f (goal <= 0.30)\n", p / o }'
awk -v p="$p" -v f="$floor" 'BEGIN { printf "  tisbackup -j '"$J"' / the floor:    %.3f (goal <= 1.2)\n", p / f }'
awk -v c="$(med "${C[par]}")" -v f="$fc" 'BEGIN { printf "  CPU: tisbackup -j '"$J"' / the 40 bare transfers: %.3f\n", c / f }'
