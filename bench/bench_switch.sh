#!/usr/bin/env bash
#
# 100 simulated Cisco IOS switches (tests/sim/switch_sim.py over telnet,
# each a job of its own) saved by one `tisbackup backup -j 8`, against the
# same 100 dialogs run one after another by `expect` (spawning socat, the
# way a shell script around expect would). Goal: wall time <= 0.2x the
# expect loop. Also prints the CPU time per switch of tisbackup (the
# simulator's own CPU is not counted on either side). Prints figures; not
# a test.
#
# Usage: bench/bench_switch.sh [N] [J]   (default 100 switches, -j 8;
# TISBACKUP=path, default build/tisbackup)

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tests/integration/lib.sh
. "$here/../tests/integration/lib.sh"

N=${1:-100}
J=${2:-8}
TISBACKUP=${TISBACKUP:-$here/../build/tisbackup}
tb_require_binary
tb_require python3 expect socat
tb_tmp

export SWITCH_SIM_PASSWORD='Bench-Pw_1' SWITCH_SIM_ENABLE='Bench-En_2'
SIM=$here/../tests/sim/switch_sim.py
python3 "$SIM" telnet --dialog "$here/../tests/sim/dialogs/ios.json" --port-file "$TMPD/port" \
	>"$TMPD/sim.log" 2>&1 </dev/null &
tb_track $!
wait_until 60 test -s "$TMPD/port" || t_bail "the simulator did not start"
PORT=$(cat "$TMPD/port")

cfg_global "$CONF"
for ((i = 0; i < N; i++)); do
	job_section "$CONF" "$(printf 'sw%03d' "$i")" type=switch "server_name=$(printf 'sw%03d' "$i")" \
		switch_ip=127.0.0.1 "switch_port=$PORT" switch_type=ios switch_user=admin \
		"switch_password=$SWITCH_SIM_PASSWORD" "switch_enable_password=$SWITCH_SIM_ENABLE"
done

cat >"$TMPD/loop.exp" <<'EXPEOF'
# expect loop.exp PORT N DIR: the IOS dialog N times in a row.
set port [lindex $argv 0]
set n [lindex $argv 1]
set dir [lindex $argv 2]
set pw $env(SWITCH_SIM_PASSWORD)
set en $env(SWITCH_SIM_ENABLE)
set timeout 30
log_user 0
for {set i 0} {$i < $n} {incr i} {
	spawn -noecho socat -t 0.05 -,raw,echo=0 TCP:127.0.0.1:$port
	expect "Username: " { send "admin\r\n" }
	expect "Password: " { send "$pw\r\n" }
	expect "Switch>" { send "enable\r\n" }
	expect "Password: " { send "$en\r\n" }
	expect "Switch#" { send "terminal length 0\r\n" }
	expect "Switch#" { send "show running-config\r\n" }
	expect "Switch#" { set cfg $expect_out(buffer); send "show vlan\r\n" }
	expect "Switch#" { append cfg $expect_out(buffer); send "exit\r\n" }
	expect eof
	wait
	set f [open "$dir/sw$i.cfg" w]
	puts -nonewline $f $cfg
	close $f
}
EXPEOF
mkdir -p "$TMPD/expect.out"

# time_of CMD...: "WALL USER SYS" seconds of CMD (and its children).
time_of() {
	/usr/bin/time -f '%e %U %S' -o "$TMPD/time" "$@" >"$TMPD/cmd.out" 2>&1 || {
		echo "failed: $*" >&2
		tail -n 5 "$TMPD/cmd.out" >&2
	}
	cat "$TMPD/time"
}

read -r ew eu es < <(time_of expect "$TMPD/loop.exp" "$PORT" "$N" "$TMPD/expect.out")
read -r tw tu ts < <(time_of "$TISBACKUP" -c "$CONF" -j "$J" backup)
ok=$(sqlite3 "$CATALOG" "select count(*) from stats where status='OK'")
got=$(find "$TMPD/expect.out" -name '*.cfg' | wc -l)

echo "switches:                  $N (tisbackup -j $J: $ok OK rows; expect: $got files)"
echo "expect, one after another: ${ew} s wall, $(echo "$eu + $es" | bc) s CPU"
echo "tisbackup backup -j $J:     ${tw} s wall, $(echo "$tu + $ts" | bc) s CPU"
echo "ratio (tisbackup / expect): $(echo "scale=3; $tw / $ew" | bc) (goal <= 0.2)"
echo "CPU per switch: tisbackup $(echo "scale=2; ($tu + $ts) * 1000 / $N" | bc) ms, expect+socat $(echo "scale=2; ($eu + $es) * 1000 / $N" | bc) ms"
