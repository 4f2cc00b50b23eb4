# shellcheck shell=bash
#
# The XAPI simulator (tests/sim/xapi_sim.py) for the XCP tests, sourced
# after lib.sh: xapi_sim_start starts it on two loopback ports (XAPI_PORT,
# the master, and XAPI_SLAVE_PORT, which answers HOST_IS_SLAVE to a login),
# each serving TLS and plain HTTP, with a self-signed certificate made by
# openssl (XAPI_CERT, XAPI_KEY) and its call log in XAPI_LOG. The
# simulator is killed by lib.sh's cleanup trap.

XAPI_PY=/usr/bin/python3
XAPI_SIM=$TB_SOURCE_ROOT/tests/sim/xapi_sim.py

# xapi_sim_start [CONFIG_JSON]: start the simulator; bail out when it does not come up.
xapi_sim_start() {
	local cfg=${1:-} i
	tb_tmp
	XAPI_DIR=$TMPD/xapi
	mkdir -p "$XAPI_DIR"
	XAPI_CERT=$XAPI_DIR/cert.pem
	XAPI_KEY=$XAPI_DIR/key.pem
	XAPI_LOG=$XAPI_DIR/calls.jsonl
	if [ ! -f "$XAPI_CERT" ]; then
		openssl req -x509 -newkey rsa:2048 -nodes -keyout "$XAPI_KEY" -out "$XAPI_CERT" \
			-days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null ||
			t_bail "openssl req failed"
	fi
	for i in 1 2 3 4 5; do
		XAPI_PORT=$(free_port)
		XAPI_SLAVE_PORT=$(free_port)
		[ "$XAPI_PORT" != "$XAPI_SLAVE_PORT" ] || continue
		rm -f "$XAPI_DIR/ready"
		local args=(--port "$XAPI_PORT" --port "$XAPI_SLAVE_PORT" --slave-port "$XAPI_SLAVE_PORT"
			--cert "$XAPI_CERT" --key "$XAPI_KEY" --log "$XAPI_LOG" --ready "$XAPI_DIR/ready")
		[ -n "$cfg" ] && args+=(--config "$cfg")
		"$XAPI_PY" "$XAPI_SIM" "${args[@]}" >"$XAPI_DIR/sim.out" 2>&1 &
		XAPI_PID=$!
		tb_track "$XAPI_PID"
		local n=0
		while [ ! -f "$XAPI_DIR/ready" ] && kill -0 "$XAPI_PID" 2>/dev/null && [ $n -lt 300 ]; do
			sleep 0.05
			n=$((n + 1))
		done
		[ -f "$XAPI_DIR/ready" ] && return 0
		kill -9 "$XAPI_PID" 2>/dev/null
	done
	t_bail "the XAPI simulator did not start: $(cat "$XAPI_DIR/sim.out")"
}

# xapi_faults JSON: replace the simulator's faults ({} clears them).
xapi_faults() {
	curl -sf -X POST --data-binary "$1" "http://127.0.0.1:$XAPI_PORT/sim/faults" >/dev/null ||
		t_bail "cannot set the simulator's faults"
}

# xapi_state JQ: run a jq filter on the simulator's database.
xapi_state() {
	curl -sf "http://127.0.0.1:$XAPI_PORT/sim/state" | jq -r "$1"
}

# xapi_add_vm JSON: add a VM ({"name":..., "disks":[{"size":N}], ...}); prints its ref.
xapi_add_vm() {
	curl -sf -X POST --data-binary "$1" "http://127.0.0.1:$XAPI_PORT/sim/vm" | jq -r .ref
}

# xapi_calls [FROM_LINE]: the methods of the call log from line FROM_LINE on, one a line.
xapi_calls() {
	tail -n +"${1:-1}" "$XAPI_LOG" | jq -r .method
}

# xapi_log_lines: how many calls the log holds (to take the calls of one run).
xapi_log_lines() {
	if [ -f "$XAPI_LOG" ]; then wc -l <"$XAPI_LOG"; else echo 0; fi
}
