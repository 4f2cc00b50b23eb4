# shellcheck shell=bash
#
# Shared helpers for the integration tests, sourced by every
# tests/integration/test_*.sh. Provides:
#   - TAP output without an up-front plan (t_ok, t_eq, t_match, ..., t_done);
#   - a per-test temporary directory cleaned on exit (tb_tmp);
#   - a real OpenSSH server on loopback with its own keys (sshd_start);
#   - real servers on loopback, each torn down on exit: redis_start,
#     mariadb_start, pg_start, pgbouncer_start, rsyncd_start;
#   - config writers (cfg_global, cfg_job, job_section, make_config), a
#     sample tree full of awkward names (make_tree) and a tree comparison
#     (tree_equal);
#   - wrappers to run the binary under test and query its catalog (last_row).
#
# Environment: TISBACKUP (the binary, set by meson), TB_SOURCE_ROOT (the
# repository), TB_KEEP=1 keeps the temporary directory for post-mortems,
# TB_VERBOSE=1 echoes every tisbackup invocation and its output as
# diagnostics.

# shellcheck disable=SC2034,SC2010 # variables for the tests; stamp names are plain
set -u

TB_SOURCE_ROOT=${TB_SOURCE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TISBACKUP=${TISBACKUP:-$TB_SOURCE_ROOT/build/tisbackup}

# The tests' python3 is Debian's when the machine has one: a pyenv shim
# first in PATH runs bash scripts before python on every call (0.15 s
# quiet, 1.4 s beside a CPU hog, against 0.02-0.18 s), and a stale shim
# lock hangs it. Tests use only the standard library and Debian's
# python3-* packages, which only Debian's python3 sees anyway. A link
# first in PATH, not a shell function: `python3 ... &` must leave $! the
# python process itself, which the tests kill.
if [ -x /usr/bin/python3 ] && [ -n "${TB_BUILD_ROOT:-}" ] && [ -d "$TB_BUILD_ROOT" ]; then
	mkdir -p "$TB_BUILD_ROOT/tb-pybin" 2>/dev/null
	[ -L "$TB_BUILD_ROOT/tb-pybin/python3" ] ||
		ln -s /usr/bin/python3 "$TB_BUILD_ROOT/tb-pybin/python3" 2>/dev/null
	case ":$PATH:" in
	*":$TB_BUILD_ROOT/tb-pybin:"*) ;;
	*) PATH=$TB_BUILD_ROOT/tb-pybin:$PATH ;;
	esac
fi

# ---------------------------------------------------------------- TAP

_T_N=0
_T_FAILED=0

# Print each line of the arguments as a TAP diagnostic.
t_diag() {
	local line
	while IFS= read -r line; do
		printf '# %s\n' "$line"
	done <<<"$*"
}

t_pass() {
	_T_N=$((_T_N + 1))
	printf 'ok %d - %s\n' "$_T_N" "$1"
}

# t_fail DESC [DIAG...]
t_fail() {
	local desc=$1
	shift
	_T_N=$((_T_N + 1))
	_T_FAILED=$((_T_FAILED + 1))
	printf 'not ok %d - %s\n' "$_T_N" "$desc"
	# The first frame outside this file is the test's line.
	local i caller='?'
	for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
		if [ "${BASH_SOURCE[i]##*/}" != lib.sh ]; then
			caller=${BASH_SOURCE[i]##*/}:${BASH_LINENO[i - 1]}
			break
		fi
	done
	t_diag "at $caller"
	local a
	for a in "$@"; do t_diag "$a"; done
	return 0
}

t_skip() {
	_T_N=$((_T_N + 1))
	printf 'ok %d - %s # SKIP %s\n' "$_T_N" "$1" "${2:-}"
}

# t_check DESC STATUS [DIAG...]: pass when STATUS is 0.
t_check() {
	local desc=$1 st=$2
	shift 2
	if [ "$st" -eq 0 ]; then t_pass "$desc"; else t_fail "$desc" "$@"; fi
}

# t_ok DESC CMD...: passes when CMD exits 0; its output becomes diagnostics.
t_ok() {
	local desc=$1 out st
	shift
	out=$("$@" 2>&1)
	st=$?
	if [ $st -eq 0 ]; then
		t_pass "$desc"
	else
		t_fail "$desc" "command failed ($st): $*" "$out"
	fi
}

# t_not DESC CMD...: passes when CMD exits non-zero.
t_not() {
	local desc=$1 out st
	shift
	out=$("$@" 2>&1)
	st=$?
	if [ $st -ne 0 ]; then
		t_pass "$desc"
	else
		t_fail "$desc" "command unexpectedly succeeded: $*" "$out"
	fi
}

# t_eq EXPECTED ACTUAL DESC
t_eq() {
	if [ "$1" == "$2" ]; then
		t_pass "$3"
	else
		t_fail "$3" "expected: '$1'" "     got: '$2'"
	fi
}

t_ne() {
	if [ "$1" != "$2" ]; then
		t_pass "$3"
	else
		t_fail "$3" "both are: '$1'"
	fi
}

# t_match REGEX TEXT DESC: some line of TEXT matches the extended REGEX.
t_match() {
	if printf '%s\n' "$2" | grep -Eq -- "$1"; then
		t_pass "$3"
	else
		t_fail "$3" "no line matches /$1/ in:" "$(_t_excerpt "$2")"
	fi
}

# t_imatch: t_match ignoring case.
t_imatch() {
	if printf '%s\n' "$2" | grep -Eiq -- "$1"; then
		t_pass "$3"
	else
		t_fail "$3" "no line matches /$1/i in:" "$(_t_excerpt "$2")"
	fi
}

# t_nomatch REGEX TEXT DESC: no line of TEXT matches.
t_nomatch() {
	local hits
	hits=$(printf '%s\n' "$2" | grep -E -- "$1")
	if [ -z "$hits" ]; then
		t_pass "$3"
	else
		t_fail "$3" "unexpected lines matching /$1/:" "$(_t_excerpt "$hits")"
	fi
}

# t_num_ge MIN ACTUAL DESC (integers)
t_num_ge() {
	if [[ $2 =~ ^-?[0-9]+$ ]] && [ "$2" -ge "$1" ]; then
		t_pass "$3"
	else
		t_fail "$3" "expected an integer >= $1, got '$2'"
	fi
}

_t_excerpt() {
	local text=$1
	if [ -z "$text" ]; then
		echo "(empty)"
	else
		printf '%s\n' "$text" | head -n 40 | cat -v
		[ "$(printf '%s\n' "$text" | wc -l)" -gt 40 ] && echo "... (truncated)"
	fi
	return 0
}

# Print the trailing plan and exit: 0 when every test passed.
t_done() {
	printf '1..%d\n' "$_T_N"
	if [ "$_T_FAILED" -gt 0 ]; then
		t_diag "$_T_FAILED of $_T_N tests failed"
		exit 1
	fi
	exit 0
}

t_bail() {
	printf 'Bail out! %s\n' "$*"
	exit 1
}

# ---------------------------------------------------------------- temp dir

TMPD=
_TB_BG_PIDS=()

_tb_cleanup() {
	local st=$? i
	for i in "${!SSHD_I_PID[@]}"; do sshd_instance_stop "$i" 2>/dev/null; done
	sshd_stop 2>/dev/null
	# what loop_mount mounted, newest first, then its loop devices
	for ((i = ${#_TB_MOUNTS[@]} - 1; i >= 0; i--)); do
		umount "${_TB_MOUNTS[i]}" 2>/dev/null || umount -l "${_TB_MOUNTS[i]}" 2>/dev/null
	done
	for i in "${_TB_LOOPS[@]}"; do
		losetup -d "$i" 2>/dev/null
	done
	local p
	for p in "${_TB_BG_PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	for p in "${_TB_USERS[@]}"; do
		pkill -9 -u "$p" 2>/dev/null
		userdel "$p" 2>/dev/null
	done
	if [ -n "$TMPD" ] && [ -d "$TMPD" ]; then
		# Processes we started indirectly (rsync, ssh) that still refer to
		# our private directory: end them by id before removing it.
		local pids
		pids=$(pgrep -f -- "$TMPD" 2>/dev/null)
		for p in $pids; do
			[ "$p" != $$ ] && kill -9 "$p" 2>/dev/null
		done
		if [ "${TB_KEEP:-0}" = 1 ]; then
			echo "# kept $TMPD"
		else
			rm -rf -- "$TMPD"
		fi
	fi
	return $st
}

# loop_mount IMAGE DIR SIZE_MB: a fresh ext4 image mounted on DIR (root,
# loop devices); unmounted and detached by the cleanup trap.
_TB_MOUNTS=()
_TB_LOOPS=()
loop_mount() {
	local img=$1 dir=$2 size=$3 dev
	dd if=/dev/zero of="$img" bs=1M count="$size" status=none || return 1
	mkfs.ext4 -q -F "$img" || return 1
	dev=$(losetup -f --show "$img") || return 1
	_TB_LOOPS+=("$dev")
	mkdir -p "$dir"
	mount "$dev" "$dir" || return 1
	_TB_MOUNTS+=("$dir")
}

# tb_track_mount DIR: unmount DIR in the cleanup trap (a mount made by hand).
tb_track_mount() { _TB_MOUNTS+=("$1"); }

# tb_user_add NAME [PASSWORD]: a system user without a home for this test
# (removed with its processes by the cleanup trap); with PASSWORD, that
# password is set so sshd can check it.
_TB_USERS=()
tb_user_add() {
	useradd -M -d /nonexistent -s /bin/sh "$1" || return 1
	_TB_USERS+=("$1")
	[ -z "${2:-}" ] || printf '%s:%s\n' "$1" "$2" | chpasswd
}

# Create the per-test temporary directory in $TMPD (once) and install the
# cleanup trap. Also fixes the markers used by the injection checks.
tb_tmp() {
	if [ -z "$TMPD" ]; then
		TMPD=$(mktemp -d /tmp/tbit.XXXXXXXX) || t_bail "mktemp failed"
		chmod 755 "$TMPD"
		trap _tb_cleanup EXIT
		trap 'exit 130' INT TERM
		TB_ID=${TMPD##*.}
		BASE=$TMPD/backups
		CATALOG=$BASE/log/tisbackup.sqlite
		CONF=$TMPD/tisbackup.ini
	fi
}

# Remember a background pid so the cleanup kills it.
tb_track() {
	_TB_BG_PIDS+=("$1")
}

# ---------------------------------------------------------------- requirements

# Check the tools the tests need; bail out early with a clear reason.
tb_require() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || t_bail "required tool '$t' is not installed"
	done
}

tb_require_binary() {
	[ -x "$TISBACKUP" ] || t_bail "TISBACKUP=$TISBACKUP is not an executable (build first)"
}

# ---------------------------------------------------------------- sshd

SSHD_PID=
SSHD_PORT=
SSHD_DIR=

# Is something listening on 127.0.0.1:port?
port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A loopback port nobody listens on (not reserved: only for "closed port" tests).
# Picked below the kernel's ephemeral range (ip_local_port_range, 32768 up
# on Debian), where the many outgoing connections of tests running side
# by side (curl, wrk, ssh, Chromium) take their source ports: a port from
# that range can be taken between this check and the server's bind.
free_port() {
	local p i lo
	lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null) || lo=32768
	[ "${lo:-0}" -gt 12000 ] || lo=32768
	for i in $(seq 1 200); do
		p=$((10000 + (RANDOM * 32768 + RANDOM) % (lo - 10000)))
		port_open "$p" || { echo "$p"; return 0; }
	done
	return 1
}

# tb_listens PID PORT: process PID (itself, not a child) holds a listening
# TCP socket on PORT. free_port reserves nothing: a test beside this one can
# pick the same port and bind it first, and then port_open answers for the
# other test's server. A start function checks its own pid holds the port,
# and picks another port when its server exited.
tb_listens() {
	ss -Hltnp "( sport = :$2 )" 2>/dev/null | grep -q "pid=$1,"
}

# Generate the sshd host key (again, for the host-key-change test).
_sshd_hostkey() {
	rm -f "$SSHD_DIR/host_ed25519" "$SSHD_DIR/host_ed25519.pub"
	ssh-keygen -q -t ed25519 -N '' -C tb-host -f "$SSHD_DIR/host_ed25519" || return 1
}

# _sshd_write_config PORT [DIR [ADDRESS]]: DIR/sshd_config for an sshd on
# ADDRESS:PORT (127.0.0.1 and $SSHD_DIR by default) with DIR's host key. Every
# instance accepts the client keys of $SSHD_DIR/authorized_keys.
_sshd_write_config() {
	local dir=${2:-$SSHD_DIR} addr=${3:-127.0.0.1}
	cat >"$dir/sshd_config" <<EOF
ListenAddress $addr
Port $1
HostKey $dir/host_ed25519
PidFile $dir/sshd.pid
AuthorizedKeysFile $SSHD_DIR/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
PrintMotd no
MaxStartups 50:30:100
MaxSessions 50
Subsystem sftp internal-sftp
LogLevel VERBOSE
SetEnv SHLVL=1
EOF
}

# sshd_setenv NAME=VALUE...: more variables for the sessions of the sshd
# (sshd reads only its first SetEnv line, so they join it); restart sshd to
# apply. SHLVL=1 stays: it keeps the remote bash from sourcing ~/.bashrc,
# whose pyenv init takes a lock that a killed session can leave behind
# (every later ssh command then waits 60 s).
sshd_setenv() {
	_sshd_setenv_in "$SSHD_DIR" "$@"
}
_sshd_setenv_in() {
	local dir=$1 kv
	shift
	for kv in "$@"; do
		awk -v kv="$kv" '/^SetEnv /{ $0 = $0 " " kv } { print }' \
			"$dir/sshd_config" >"$dir/sshd_config.new" &&
			mv "$dir/sshd_config.new" "$dir/sshd_config"
	done
}

# _sshd_launch DIR ADDRESS PORT: run sshd with DIR/sshd_config (already
# written); 0 once it listens on ADDRESS:PORT, with its pid in _SSHD_NEWPID.
# 1 when it exits (the port taken, say) or does not come up.
_SSHD_NEWPID=
_sshd_launch() {
	local dir=$1 addr=$2 port=$3 pid i
	: >"$dir/sshd.log"
	/usr/sbin/sshd -D -e -f "$dir/sshd_config" >>"$dir/sshd.log" 2>&1 </dev/null &
	pid=$!
	_SSHD_NEWPID=
	for i in $(seq 1 100); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid" 2>/dev/null
			return 1
		fi
		if grep -q "Server listening on $addr port $port" "$dir/sshd.log" &&
			(exec 3<>"/dev/tcp/$addr/$port") 2>/dev/null; then
			_SSHD_NEWPID=$pid
			return 0
		fi
		sleep 0.1
	done
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 1
}

# Try to run the main sshd on port $1; 0 once it accepts connections.
_sshd_try_port() {
	local port=$1
	_sshd_write_config "$port"
	SSHD_PID=
	_sshd_launch "$SSHD_DIR" 127.0.0.1 "$port" || return 1
	SSHD_PID=$_SSHD_NEWPID
	SSHD_PORT=$port
}

# sshd_start [KEYTYPE]: start /usr/sbin/sshd on a free loopback port with
# its own host key and a fresh client key of KEYTYPE (ed25519 by default,
# rsa or ecdsa). Exports SSHD_PORT, CLIENT_KEY, KNOWN_HOSTS (absent until a
# client records the host), SSHD_LOG.
sshd_start() {
	local ktype=${1:-ed25519} i port
	tb_tmp
	SSHD_DIR=$TMPD/sshd
	mkdir -p "$SSHD_DIR" /run/sshd
	chmod 700 "$SSHD_DIR"
	_sshd_hostkey || t_bail "ssh-keygen (host key) failed"
	CLIENT_KEY=$SSHD_DIR/client_$ktype
	case $ktype in
	rsa) ssh-keygen -q -t rsa -b 3072 -N '' -C tb-client -f "$CLIENT_KEY" ;;
	*) ssh-keygen -q -t "$ktype" -N '' -C tb-client -f "$CLIENT_KEY" ;;
	esac || t_bail "ssh-keygen (client key) failed"
	cp "$CLIENT_KEY.pub" "$SSHD_DIR/authorized_keys"
	KNOWN_HOSTS=$SSHD_DIR/known_hosts
	SSHD_LOG=$SSHD_DIR/sshd.log
	for i in $(seq 1 20); do
		port=$(free_port) || continue
		_sshd_try_port "$port" && break
	done
	[ -n "$SSHD_PORT" ] || t_bail "could not start sshd: $(tail -n 5 "$SSHD_DIR/sshd.log" 2>/dev/null)"
	export SSHD_PORT CLIENT_KEY KNOWN_HOSTS SSHD_LOG
}

# More sshd instances, for tests that need several servers (a fleet, a
# restore into another machine). Each has a NAME, its own folder
# ($TMPD/sshd_NAME), host key, log and listen address; all accept the client
# keys of the main one (sshd_start first). Per instance: SSHD_I_ADDR[NAME],
# SSHD_I_PORT[NAME], SSHD_I_PID[NAME], SSHD_I_DIR[NAME], SSHD_I_LOG[NAME].
declare -gA SSHD_I_ADDR=() SSHD_I_PORT=() SSHD_I_PID=() SSHD_I_DIR=() SSHD_I_LOG=()

# sshd_instance_start NAME ADDRESS [PORT [NAME=VALUE...]]: start sshd
# instance NAME on ADDRESS (a loopback address: 127.0.0.2, ...), on PORT or,
# when PORT is empty, a free port (tried again on a bind failure), with the
# session variables NAME=VALUE (as sshd_setenv). 1 when it does not start
# (a diagnostic says why); the cleanup trap stops it.
sshd_instance_start() {
	local name=$1 addr=$2 port=${3:-} dir i p
	shift 2
	if [ $# -gt 0 ]; then shift; fi
	[ -n "$SSHD_DIR" ] || { t_diag "sshd_instance_start $name: sshd_start first"; return 1; }
	dir=$TMPD/sshd_$name
	mkdir -p "$dir"
	chmod 700 "$dir"
	rm -f "$dir/host_ed25519" "$dir/host_ed25519.pub"
	ssh-keygen -q -t ed25519 -N '' -C "tb-host-$name" -f "$dir/host_ed25519" || return 1
	for i in $(seq 1 20); do
		p=${port:-$(free_port)} || continue
		_sshd_write_config "$p" "$dir" "$addr"
		_sshd_setenv_in "$dir" "$@"
		if _sshd_launch "$dir" "$addr" "$p"; then
			SSHD_I_ADDR[$name]=$addr
			SSHD_I_PORT[$name]=$p
			SSHD_I_PID[$name]=$_SSHD_NEWPID
			SSHD_I_DIR[$name]=$dir
			SSHD_I_LOG[$name]=$dir/sshd.log
			return 0
		fi
		[ -z "$port" ] || break # a chosen port: no other try
	done
	t_diag "sshd $name did not start on $addr: $(tail -n 5 "$dir/sshd.log" 2>/dev/null)"
	return 1
}

# sshd_instance_stop NAME: stop instance NAME and every session it started.
sshd_instance_stop() {
	local pid=${SSHD_I_PID[$1]:-} kids
	[ -n "$pid" ] || return 0
	kids=$(tb_descendants "$pid")
	kill "$pid" 2>/dev/null
	# shellcheck disable=SC2086 # a list of pids
	[ -n "$kids" ] && kill $kids 2>/dev/null
	wait "$pid" 2>/dev/null
	SSHD_I_PID[$1]=
}

# sshd_add_client_key TYPE: another authorized client key (rsa, ecdsa,
# ed25519); prints its path.
sshd_add_client_key() {
	local k=$SSHD_DIR/client2_$1
	rm -f "$k" "$k.pub"
	case $1 in
	rsa) ssh-keygen -q -t rsa -b 3072 -N '' -C tb-client2 -f "$k" ;;
	*) ssh-keygen -q -t "$1" -N '' -C tb-client2 -f "$k" ;;
	esac >/dev/null || return 1
	cat "$k.pub" >>"$SSHD_DIR/authorized_keys"
	echo "$k"
}

# tb_descendants PID: every descendant of PID, children before their own.
tb_descendants() {
	local c
	for c in $(pgrep -P "$1" 2>/dev/null); do
		echo "$c"
		tb_descendants "$c"
	done
}

# Connections to our sshd still open (by anyone: tisbackup's shared ssh
# master connections included).
_sshd_connections() {
	ss -Htn state established "( dport = :$1 )" 2>/dev/null | grep -q .
}

# Stop sshd like a server going down: the listener and every session it
# started, so ssh connection sharing (ControlMaster) on the client side
# cannot keep using a connection to the old server.
sshd_stop() {
	if [ -n "${SSHD_PID:-}" ]; then
		local kids
		kids=$(tb_descendants "$SSHD_PID")
		kill "$SSHD_PID" 2>/dev/null
		# shellcheck disable=SC2086 # a list of pids
		[ -n "$kids" ] && kill $kids 2>/dev/null
		wait "$SSHD_PID" 2>/dev/null
		SSHD_PID=
		if [ -n "${SSHD_PORT:-}" ] && command -v ss >/dev/null 2>&1; then
			wait_until 5 eval '! _sshd_connections "$SSHD_PORT"'
		fi
	fi
}

# Restart sshd on the same port with a brand-new host key.
sshd_restart_newkey() {
	local port=$SSHD_PORT i
	sshd_stop
	_sshd_hostkey || return 1
	SSHD_PORT=
	for i in $(seq 1 50); do
		_sshd_try_port "$port" && return 0
		sleep 0.2
	done
	SSHD_PORT=$port
	return 1
}

# The ssh command line tisbackup is expected to use, for bare rsync/ssh.
ssh_cmd() {
	echo "ssh -i $CLIENT_KEY -p $SSHD_PORT -o BatchMode=yes -o IdentitiesOnly=yes -o UserKnownHostsFile=$KNOWN_HOSTS -o StrictHostKeyChecking=accept-new"
}

# ---------------------------------------------------------------- servers
#
# Each X_start starts a real server on 127.0.0.1 (or a socket) with its
# data under $TMPD, waits until it answers (never a fixed sleep), and
# registers its pid so the cleanup on exit kills it. A new server = one
# more function here, in the same shape: pick a port with free_port, start
# in the foreground under `&`, tb_track the pid, wait_until it is ready.

REDIS_DIR=
REDIS_PORT=
REDIS_PID=
REDIS_URL=
# redis_start [redis-server OPTION...]: a redis-server in $TMPD/redis with
# appendonly and fsync on every write (a restart loses nothing). Sets
# REDIS_PORT (a free port; set it beforehand to choose one, and a restart
# after redis_stop reuses it), REDIS_PID, REDIS_DIR, REDIS_URL (db 0).
redis_start() {
	local port _
	tb_tmp
	REDIS_DIR=$TMPD/redis
	mkdir -p "$REDIS_DIR"
	for _ in 1 2 3 4 5; do
		port=${REDIS_PORT:-$(free_port)} || continue
		redis-server --port "$port" --bind 127.0.0.1 --dir "$REDIS_DIR" \
			--appendonly yes --appendfsync always --save '' --daemonize no \
			--logfile "$REDIS_DIR/redis.log" "$@" </dev/null >/dev/null 2>&1 &
		REDIS_PID=$!
		tb_track "$REDIS_PID"
		if wait_until 10 eval '! kill -0 "$REDIS_PID" 2>/dev/null || tb_listens "$REDIS_PID" "$port"' &&
			tb_listens "$REDIS_PID" "$port"; then
			REDIS_PORT=$port
			REDIS_URL=redis://127.0.0.1:$port/0
			return 0
		fi
		kill "$REDIS_PID" 2>/dev/null
		wait "$REDIS_PID" 2>/dev/null
		[ -n "$REDIS_PORT" ] && break # a chosen port: no other try
	done
	return 1
}
# redis_stop [nosave]: shut the server down and wait for it.
redis_stop() {
	redis-cli -p "$REDIS_PORT" shutdown "$@" >/dev/null 2>&1
	wait "$REDIS_PID" 2>/dev/null
}

MY=
MYPORT=
MYSOCK=
MYPID=
# mariadb_start: a MariaDB server in $TMPD/mysql (its data folder created
# on the first call, kept on a restart), root through the socket with no
# password. Sets MY, MYPORT, MYSOCK, MYPID; 0 once it answers a ping.
mariadb_start() {
	tb_tmp
	MY=$TMPD/mysql
	MYSOCK=$MY/sock
	if [ ! -d "$MY/data" ]; then
		mkdir -p "$MY"
		MYPORT=$(free_port) || return 1
		mariadb-install-db --no-defaults --datadir="$MY/data" --user=root \
			--auth-root-authentication-method=normal --skip-test-db >"$MY/install.log" 2>&1 ||
			{ t_diag "mariadb-install-db failed: $(tail -5 "$MY/install.log")"; return 1; }
	fi
	local i
	for i in 1 2 3 4 5; do
		: >"$MY/error.log"
		mariadbd --no-defaults --datadir="$MY/data" --socket="$MYSOCK" --port="$MYPORT" \
			--bind-address=127.0.0.1 --user=root --pid-file="$MY/pid" \
			--log-error="$MY/error.log" --skip-name-resolve --innodb-buffer-pool-size=64M \
			</dev/null >/dev/null 2>&1 &
		MYPID=$!
		tb_track "$MYPID"
		wait_until 60 eval '! kill -0 "$MYPID" 2>/dev/null ||
			mariadb-admin --no-defaults -S "$MYSOCK" -uroot ping >/dev/null 2>&1'
		kill -0 "$MYPID" 2>/dev/null && break
		wait "$MYPID" 2>/dev/null
		# Its port taken by a test beside this one (free_port reserves
		# nothing): another port; anything else is a failure.
		grep -q 'Bind on TCP/IP port' "$MY/error.log" ||
			{ t_diag "mariadbd did not start: $(tail -20 "$MY/error.log")"; return 1; }
		MYPORT=$(free_port) || return 1
	done
	mariadb-admin --no-defaults -S "$MYSOCK" -uroot ping >/dev/null 2>&1 ||
		{ t_diag "mariadbd did not start: $(tail -20 "$MY/error.log")"; return 1; }
}

# psql_su ARGS...: psql as the postgres superuser on pg_start's socket (peer
# authentication), quiet, unaligned, stopping at the first error.
psql_su() {
	runuser -u postgres -- psql -X -q -h "$PG/sock" -p "$PGPORT" -v ON_ERROR_STOP=1 -At "$@"
}

PG=
PGBIN=
PGPORT=
PGPID=
# pg_find: sets PGBIN to the newest /usr/lib/postgresql/*/bin; 1 when the
# server, pg_dump or the postgres system user is missing.
pg_find() {
	PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	[ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] && getent passwd postgres >/dev/null &&
		command -v pg_dump >/dev/null
}
# pg_start: a PostgreSQL server run as the postgres user in $TMPD/pg,
# listening only on its socket folder $PG/sock (peer authentication).
# Sets PG, PGBIN, PGPORT, PGPID.
pg_start() {
	tb_tmp
	[ -n "$PGBIN" ] || pg_find || return 1
	PG=$TMPD/pg
	mkdir -p "$PG/sock"
	chown -R postgres "$PG"
	PGPORT=$(free_port) || return 1
	runuser -u postgres -- "$PGBIN/initdb" -D "$PG/data" -U postgres --auth-local=peer \
		--auth-host=reject -E UTF8 --locale=C.UTF-8 >"$PG/initdb.log" 2>&1 ||
		{ t_diag "initdb failed: $(tail -5 "$PG/initdb.log")"; return 1; }
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG/data" -l "$PG/server.log" -w -t 60 \
		-o "-k $PG/sock -p $PGPORT -c listen_addresses=" start >/dev/null 2>&1 ||
		{ t_diag "postgres did not start: $(tail -20 "$PG/server.log")"; return 1; }
	PGPID=$(head -n 1 "$PG/data/postmaster.pid")
	tb_track "$PGPID"
}

PGB=
PGB_PORT=
PGB_PID=
PGB_SETTINGS=
# pgbouncer_start POOL_MODE ROLE [SOCKET_AUTH]: a real pgbouncer in front
# of pg_start's server, in $TMPD/pgbouncer ($PGB), run as the postgres
# user, pool_mode POOL_MODE (session, transaction or statement), listening
# on its socket folder $PGB/sock and on 127.0.0.1:$PGB_PORT (one port for
# both, as PostgreSQL). Every database of the server is reachable under
# its own name (a "*" entry); lines in PGB_SETTINGS are added to its
# [pgbouncer] section (default_pool_size = 1, query_wait_timeout = 5...).
# To the server, pgbouncer logs in as ROLE by peer authentication: the
# server's "local all all peer" line gets a map (pg_ident.conf) letting the
# postgres system user be ROLE, every other user staying itself. Clients
# log in as ROLE with ROLE's password on the server: its SCRAM secret is
# copied from pg_authid into pgbouncer's auth_file (0600, no clear text),
# scram-sha-256 over TCP and on the socket unless SOCKET_AUTH is peer; a
# ROLE without a password, by peer on the socket only. The postgres system
# user opens the admin console by peer (pgbouncer_admin). Sets PGB,
# PGB_PORT, PGB_PID; stopped by the test's cleanup.
pgbouncer_start() {
	local mode=$1 role=$2 sockauth=${3:-scram-sha-256} secret port _
	[ -n "$PG" ] || { t_diag "pgbouncer_start: pg_start first"; return 1; }
	command -v pgbouncer >/dev/null || { t_diag "pgbouncer is not installed"; return 1; }
	PGB=$TMPD/pgbouncer
	mkdir -p "$PGB/sock"
	if ! grep -q '^tbpgb ' "$PG/data/pg_ident.conf"; then
		printf 'tbpgb postgres "%s"\ntbpgb /^(.*)$ \\1\n' "$role" >>"$PG/data/pg_ident.conf"
		sed -i -E 's/^(local[[:space:]]+all[[:space:]]+all[[:space:]]+peer)[[:space:]]*$/\1 map=tbpgb/' \
			"$PG/data/pg_hba.conf"
		runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG/data" reload >/dev/null ||
			{ t_diag "pg_ctl reload failed"; return 1; }
	fi
	secret=$(runuser -u postgres -- psql -X -q -At -h "$PG/sock" -p "$PGPORT" -d postgres \
		-v role="$role" <<<"SELECT rolpassword FROM pg_authid WHERE rolname = :'role'") ||
		{ t_diag "pgbouncer_start: cannot read the role $role"; return 1; }
	[ -n "$secret" ] || sockauth=peer
	{
		echo "local pgbouncer postgres peer"
		echo "local all \"$role\" $sockauth"
		[ -z "$secret" ] || echo "host all \"$role\" 127.0.0.1/32 scram-sha-256"
	} >"$PGB/hba.conf"
	(
		umask 077
		printf '"%s" "%s"\n"postgres" ""\n' "$role" "$secret" >"$PGB/userlist.txt"
	)
	chown -R postgres "$PGB"
	for _ in 1 2 3 4 5; do
		port=$(free_port) || continue
		cat >"$PGB/pgbouncer.ini" <<PGBINI
[databases]
* = host=$PG/sock port=$PGPORT

[pgbouncer]
pool_mode = $mode
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir = $PGB/sock
auth_type = hba
auth_hba_file = $PGB/hba.conf
auth_file = $PGB/userlist.txt
admin_users = postgres
logfile = $PGB/pgbouncer.log
pidfile = $PGB/pgbouncer.pid
user = postgres
$PGB_SETTINGS
PGBINI
		pgbouncer "$PGB/pgbouncer.ini" </dev/null >>"$PGB/stdout.log" 2>&1 &
		PGB_PID=$!
		tb_track "$PGB_PID"
		if wait_until 10 eval '! kill -0 "$PGB_PID" 2>/dev/null || tb_listens "$PGB_PID" "$port"' &&
			tb_listens "$PGB_PID" "$port" && [ -S "$PGB/sock/.s.PGSQL.$port" ]; then
			PGB_PORT=$port
			return 0
		fi
		kill "$PGB_PID" 2>/dev/null
		wait "$PGB_PID" 2>/dev/null
	done
	t_diag "pgbouncer did not start: $(tail -5 "$PGB/pgbouncer.log" "$PGB/stdout.log" 2>/dev/null)"
	return 1
}
# pgbouncer_stop: stop pgbouncer_start's pgbouncer at once (SIGTERM:
# its clients are disconnected) and wait for it.
pgbouncer_stop() {
	[ -n "$PGB_PID" ] || return 0
	kill -TERM "$PGB_PID" 2>/dev/null
	wait "$PGB_PID" 2>/dev/null
	PGB_PID=
}
# pgbouncer_admin COMMAND: run COMMAND (SHOW POOLS, ...) on pgbouncer's
# admin console; its rows unaligned, '|' between columns.
pgbouncer_admin() {
	runuser -u postgres -- psql -X -q -At -h "$PGB/sock" -p "$PGB_PORT" -U postgres -d pgbouncer \
		-c "$1"
}

RSYNCD_DIR=
RSYNCD_PORT=
RSYNCD_PID=
# rsyncd_start CONF: `rsync --daemon` with the configuration file CONF on
# a free loopback port. Sets RSYNCD_PORT, RSYNCD_PID. (RSYNCD_DIR,
# $TMPD/rsyncd, is where a test puts CONF, its secrets and its logs.)
rsyncd_start() {
	local conf=$1 port _
	tb_tmp
	RSYNCD_DIR=$TMPD/rsyncd
	mkdir -p "$RSYNCD_DIR"
	for _ in $(seq 1 20); do
		port=$(free_port) || continue
		rsync --daemon --no-detach --config="$conf" --port="$port" \
			--address=127.0.0.1 </dev/null >>"$RSYNCD_DIR/stdout.log" 2>&1 &
		RSYNCD_PID=$!
		tb_track "$RSYNCD_PID"
		if wait_until 5 eval '! kill -0 "$RSYNCD_PID" 2>/dev/null || tb_listens "$RSYNCD_PID" "$port"' &&
			tb_listens "$RSYNCD_PID" "$port"; then
			RSYNCD_PORT=$port
			return 0
		fi
		kill "$RSYNCD_PID" 2>/dev/null
		wait "$RSYNCD_PID" 2>/dev/null
	done
	return 1
}

# ---------------------------------------------------------------- configs

# cfg_global FILE [key=value...]: start FILE with a [global] section.
cfg_global() {
	local f=$1 kv
	shift
	{
		echo "[global]"
		echo "backup_base_dir = $BASE"
		echo "backup_retention_time = 30"
		echo "maximum_backup_age = 30"
		for kv in "$@"; do echo "$kv"; done
		echo
	} >"$f"
}

# cfg_job FILE NAME REMOTE_DIR [key=value...]: append an rsync+ssh job
# talking to our sshd. An extra "key = value" replaces the default of the
# same key (type, server_name, ssh_port, private_key, known_hosts_file,
# remote_dir), so no key is ever written twice.
cfg_job() {
	local f=$1 name=$2 dir=$3 kv k
	shift 3
	local -A extra=()
	for kv in "$@"; do
		k=${kv%%=*}
		k=${k//[[:space:]]/}
		extra[${k,,}]=1
	done
	_cfg_default() {
		[ -n "${extra[$1]:-}" ] || echo "$1 = $2"
	}
	{
		echo "[$name]"
		_cfg_default type rsync+ssh
		_cfg_default server_name 127.0.0.1
		_cfg_default ssh_port "${SSHD_PORT:-22}"
		_cfg_default private_key "${CLIENT_KEY:-/nonexistent}"
		_cfg_default known_hosts_file "${KNOWN_HOSTS:-$TMPD/known_hosts}"
		_cfg_default remote_dir "$dir"
		for kv in "$@"; do echo "$kv"; done
		echo
	} >>"$f"
}

# job_section FILE NAME KEY=VALUE...: append a job section with exactly
# these keys, in this order ("key=value" or "key = value"; the value may
# hold '=' and blanks). The generic writer: cfg_job and friends add
# defaults for one driver, this one adds none.
job_section() {
	local f=$1 name=$2 kv
	shift 2
	{
		echo "[$name]"
		for kv in "$@"; do
			printf '%s = %s\n' "$(_kv_trim "${kv%%=*}")" "$(_kv_trim "${kv#*=}")"
		done
		echo
	} >>"$f"
}
_kv_trim() {
	local s=$1
	s=${s#"${s%%[![:space:]]*}"}
	printf '%s' "${s%"${s##*[![:space:]]}"}"
}

# cfg_null FILE NAME: append a null job.
cfg_null() {
	job_section "$1" "$2" type=null "server_name=$2"
}

# make_config FILE JOB REMOTE_DIR [key=value...]: [global] plus one job.
make_config() {
	local f=$1 name=$2 dir=$3
	shift 3
	cfg_global "$f"
	cfg_job "$f" "$name" "$dir" "$@"
}

# ---------------------------------------------------------------- trees

# Owner ids that have no passwd/group entry.
GHOST_UID=1234
GHOST_GID=5678

# make_tree DIR: a sample tree with every kind of awkward entry.
make_tree() {
	local d=$1
	tb_tmp
	mkdir -p "$d/sub/deeper" "$d/dir with space" "$d/private"
	printf 'hello\n' >"$d/plain.txt"
	printf 'spaces\n' >"$d/name with spaces.txt"
	printf 'single\n' >"$d/single'quote"
	printf 'double\n' >"$d/double\"quote"
	# Names that run commands if anything evaluates them in a shell. They
	# contain no '/', so the marker lands in the evaluating shell's cwd or
	# in $HOME: no_markers looks in both.
	printf 'dollar\n' >"$d/\$(cd;touch tb_pwned_$TB_ID)"
	printf 'backtick\n' >"$d/\`cd;touch tb_pwned_$TB_ID\`"
	printf 'semicolon\n' >"$d/x;touch tb_pwned_$TB_ID;y"
	printf 'newline\n' >"$d/new"$'\n'"line"
	printf 'latin1\n' >"$d/bad"$'\xff\xfe'"utf8"
	printf 'star\n' >"$d/star*question?[bracket]"
	printf 'dash\n' >"$d/-dash-first"
	ln -s plain.txt "$d/rel_link"
	ln -s /etc/hostname "$d/abs_link"
	ln -s does/not/exist "$d/dangling"
	printf 'hard\n' >"$d/hl_a"
	ln "$d/hl_a" "$d/hl_b"
	printf 'secret\n' >"$d/private/secret"
	chmod 0600 "$d/private/secret"
	chmod 0750 "$d/private"
	printf 'ghost\n' >"$d/owned_by_ghost"
	chown "$GHOST_UID:$GHOST_GID" "$d/owned_by_ghost"
	mkdir -p "$d/ghost_dir"
	printf 'ghost2\n' >"$d/ghost_dir/f"
	chown -R 4321:8765 "$d/ghost_dir"
	printf 'suid\n' >"$d/suid_file"
	chmod 4755 "$d/suid_file"
	: >"$d/empty"
	head -c 1048576 /dev/urandom >"$d/big.bin"
	mkfifo "$d/fifo"
	printf 'deep\n' >"$d/sub/deeper/deep.txt"
	printf 'a\n' >"$d/sub/a.txt"
	printf 'in space dir\n' >"$d/dir with space/f.txt"
	touch -d '2020-01-02 03:04:05.123456789' "$d/plain.txt"
	touch -h -d '2019-05-06 07:08:09' "$d/rel_link"
}

# The sorted listing tree_equal compares: path, type, mode, numeric uid,
# gid, and size + mtime for regular files, target for symlinks. Names are
# NUL-separated while sorting; embedded newlines are shown as "\n".
tree_list() {
	(
		cd "$1" || exit 1
		find . -mindepth 1 \
			\( -type f -printf '%P\tf\t%m\t%U\t%G\t%s\t%T@\0' \) -o \
			\( -type l -printf '%P\tl\t%U\t%G\t-> %l\0' \) -o \
			\( -printf '%P\t%y\t%m\t%U\t%G\0' \)
	) | LC_ALL=C sort -z | sed -z 's/\n/\\n/g' | tr '\0' '\n'
}

# tree_equal A B: same entries, types, modes, owners, symlink targets,
# regular-file sizes, mtimes and contents. Prints the differences.
tree_equal() {
	local a=$1 b=$2 la lb st=0 f
	la=$(tree_list "$a") || return 1
	lb=$(tree_list "$b") || return 1
	if [ "$la" != "$lb" ]; then
		echo "listings differ (< $a, > $b):"
		diff <(printf '%s\n' "$la") <(printf '%s\n' "$lb") | head -n 40
		st=1
	fi
	while IFS= read -r -d '' f; do
		if ! cmp -s -- "$a/$f" "$b/$f"; then
			printf 'content differs: %q\n' "$f"
			st=1
		fi
	done < <(cd "$a" && find . -type f -print0)
	return $st
}

# no_markers: 0 when no injected command ran, i.e. no tb_pwned_$TB_ID
# file exists in the places an evaluating shell could have written it.
no_markers() {
	local hits
	hits=$(
		{
			find "$TMPD" -name "tb_pwned_$TB_ID*" ! -name '*(*' ! -name '*`*' ! -name '*;*' 2>/dev/null
			for dir in "$HOME" / /tmp /root "$PWD" "$TB_SOURCE_ROOT"; do
				ls -d "$dir"/tb_pwned_"$TB_ID"* 2>/dev/null
				ls -d "$dir"/PWNED* 2>/dev/null
			done
		} | sort -u
	)
	if [ -n "$hits" ]; then
		echo "marker files found: $hits"
		return 1
	fi
	return 0
}

# ---------------------------------------------------------------- running tisbackup

T_OUT=
T_ERR=
T_RC=

# tb_run ARGS...: run the binary; sets T_RC, T_OUT (stdout), T_ERR (stderr).
tb_run() {
	tb_tmp
	timeout -k 5 300 "$TISBACKUP" "$@" >"$TMPD/.out" 2>"$TMPD/.err" </dev/null
	T_RC=$?
	T_OUT=$(cat "$TMPD/.out")
	T_ERR=$(cat "$TMPD/.err")
	if [ "${TB_VERBOSE:-0}" = 1 ]; then
		t_diag "\$ tisbackup $* -> $T_RC"
		t_diag "stdout: $T_OUT"
		t_diag "stderr: $T_ERR"
	fi
}

# Show the last invocation as diagnostics (after a failure).
tb_show() {
	t_diag "last tisbackup exit code: $T_RC"
	t_diag "stdout:"
	t_diag "$(_t_excerpt "$T_OUT")"
	t_diag "stderr:"
	t_diag "$(_t_excerpt "$T_ERR")"
}

# t_rc EXPECTED DESC: the last tb_run exited with EXPECTED.
t_rc() {
	if [ "$T_RC" = "$1" ]; then
		t_pass "$2"
	else
		t_fail "$2" "expected exit code $1, got $T_RC"
		tb_show
	fi
}

# ---------------------------------------------------------------- catalog & snapshots

# sql DB QUERY: run a query with the sqlite3 CLI, '|'-separated.
sql() {
	sqlite3 -batch -noheader -separator '|' "$1" "$2"
}

# csql QUERY: query the catalog under the current $BASE.
csql() {
	sql "$BASE/log/tisbackup.sqlite" "$1"
}

STAMP_RE='^[0-9]{8}-[0-9]{2}h[0-9]{2}m[0-9]{2}$'

# last_row JOB COLUMNS: COLUMNS of JOB's newest catalog row ('|'-separated).
last_row() {
	csql "select $2 from stats where backup_name='$1' order by rowid desc limit 1"
}

# partial_dirs JOBDIR: names ending in .partial (unfinished dumps).
partial_dirs() {
	ls -1 "$1" 2>/dev/null | grep -E '\.partial$'
}

# snapshots JOBDIR: finished snapshot names, oldest first.
snapshots() {
	ls -1 "$1" 2>/dev/null | grep -E "$STAMP_RE" | sort
}

# partials JOBDIR: unfinished STAMP.rsync names.
partials() {
	ls -1 "$1" 2>/dev/null | grep -E '^[0-9]{8}-[0-9]{2}h[0-9]{2}m[0-9]{2}\.rsync$' | sort
}

# Number of run logs.
log_count() {
	ls -1 "$BASE/log" 2>/dev/null | grep -c '^tisbackup_.*\.log$'
}

# Wait until the wall-clock second changes (stamps have 1 s resolution).
wait_next_second() {
	local s
	s=$(date +%s)
	while [ "$(date +%s)" = "$s" ]; do sleep 0.05; done
}

# wait_until TIMEOUT_SEC CMD...: poll CMD every 0.1 s; 0 once it succeeds.
wait_until() {
	local limit=$1 i
	shift
	for ((i = 0; i < limit * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# wait_progress STALL_SEC PROGRESS_CMD CMD...: poll CMD every 0.1 s; 0 once
# it succeeds, 1 once the output of PROGRESS_CMD (a shell string, eval'ed)
# has not changed for STALL_SEC seconds of wall time. For waits whose
# length depends on the machine's load (many runs, a lease to expire): a
# busy machine only makes them longer, a stuck product still ends them.
wait_progress() {
	local stall=$1 prog=$2 last cur since=$SECONDS
	shift 2
	last=$(eval "$prog" 2>/dev/null)
	while :; do
		"$@" && return 0
		cur=$(eval "$prog" 2>/dev/null)
		if [ "$cur" != "$last" ]; then
			last=$cur
			since=$SECONDS
		fi
		[ $((SECONDS - since)) -ge "$stall" ] && return 1
		sleep 0.1
	done
}

# iso_ago SECONDS [FRACTION]: local ISO time SECONDS ago, like the catalog.
iso_ago() {
	local t
	t=$(($(date +%s) - $1))
	if [ $# -ge 2 ]; then
		echo "$(date -d "@$t" +%Y-%m-%dT%H:%M:%S).$2"
	else
		date -d "@$t" +%Y-%m-%dT%H:%M:%S
	fi
}

# Log line prefix: "YYYY-MM-DD HH:MM:SS,mmm LEVEL ".
LOG_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2},[0-9]{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) '

# proc_scan FILE: the argv and environment of every process, as text, that
# hold one of the strings of FILE (one per line); nothing when none does.
proc_scan() {
	cat /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null | tr '\0' ' ' | grep -F -f "$1"
}
proc_scan_sees() { proc_scan "$1" >/dev/null; }
# t_proc_scan_control FILE: a control for a secret sampler built on
# proc_scan: a process holding the first string of FILE in its argv is
# seen (so a sampler that reports nothing proves something).
t_proc_scan_control() {
	local pid
	/bin/bash -c 'sleep 120; :' control "$(head -n1 "$1")" &
	pid=$!
	wait_until 60 proc_scan_sees "$1"
	t_ok "control: the /proc scan sees a secret held in an argv" proc_scan_sees "$1"
	pkill -P "$pid" sleep 2>/dev/null
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# ---------------------------------------------------------------- browser tests
# browser_ready: 0 when node and Chromium are here and tests/browser's
# node_modules is installed (`npm ci` run when it is missing, under a lock:
# browser tests run side by side and must not install into one folder at
# once); else 1 with BROWSER_WHY saying what is missing. Sets BROWSER_DIR.
browser_ready() {
	BROWSER_DIR=$TB_SOURCE_ROOT/tests/browser
	BROWSER_WHY=
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		BROWSER_WHY="no node or npm"
	elif [ ! -x "${TB_CHROMIUM:-/usr/bin/chromium}" ]; then
		BROWSER_WHY="no chromium at ${TB_CHROMIUM:-/usr/bin/chromium}"
	elif ! (
		flock 9
		[ -f "$BROWSER_DIR/node_modules/playwright-core/package.json" ] ||
			(cd "$BROWSER_DIR" && npm ci --no-audit --no-fund >"$TMPD/npm.log" 2>&1)
	) 9>>"$BROWSER_DIR/.npm-ci.lock"; then
		t_diag "$(tail -n 20 "$TMPD/npm.log" 2>/dev/null)"
		BROWSER_WHY="npm ci in tests/browser failed (offline?)"
	fi
	[ -z "$BROWSER_WHY" ]
}

# browser_run SCRIPT SECONDS [VAR=VALUE...]: run tests/browser/SCRIPT with
# node (those variables set, at most SECONDS), its output into
# $TMPD/SCRIPT.tap, then relay that TAP as this test's points ("browser:
# ..."): "# " lines echoed, anything else as a diagnostic. BROWSER_TAP
# names the file (the caller reads its own "# KEY VALUE" notes there),
# BROWSER_RC is node's exit code, BROWSER_STEPS the points relayed.
browser_run() {
	local script=$1 secs=$2 line
	shift 2
	BROWSER_TAP=$TMPD/$script.tap
	(cd "$BROWSER_DIR" && env "$@" timeout -k 5 "$secs" node "$script") >"$BROWSER_TAP" 2>&1
	BROWSER_RC=$?
	BROWSER_STEPS=0
	while IFS= read -r line; do
		case $line in
		"ok "*)
			BROWSER_STEPS=$((BROWSER_STEPS + 1))
			t_pass "browser: ${line#ok * - }"
			;;
		"not ok "*)
			BROWSER_STEPS=$((BROWSER_STEPS + 1))
			t_fail "browser: ${line#not ok * - }"
			;;
		"# "*) echo "$line" ;;
		1..*) ;;
		*) [ -n "$line" ] && t_diag "$line" ;;
		esac
	done <"$BROWSER_TAP"
}
