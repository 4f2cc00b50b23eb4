#!/usr/bin/env bash
#
# pgsql+ssh against the original's way (issue 4): a ~1 GB PostgreSQL
# database dumped
#  (a) as the Python TISBackup does it: `pg_dump -Z9` into a temp file on
#      the server, fetched with OpenSSH's sftp, then removed with ssh rm;
#  (p) with BENCH_BASELINE=paramiko, also the same three steps over one
#      paramiko connection (exec, SFTPClient.get, exec rm), as the
#      original's Python code does them;
#  (b) by `tisbackup backup` with a pgsql+ssh job as configured by default
#      (pg_dump --compress=1 on the server, the stream stored as received
#      after its CRC and length are checked, nothing staged);
#  (c) the same job with compress_on = local (plain SQL over ssh, gzip
#      level 1 here);
#  (f) with BENCH_FLOOR=1, a reference: pg_dump alone, plain, into
#      /dev/null on the server (no ssh, no compression, no file): what
#      pg_dump's own work costs (not a strict floor: pg_dump -Z1 writes in
#      fewer, larger pieces and can take less).
# The methods run interleaved (a p b c a p b c ...) so that load from other
# work on the machine falls on all of them alike; medians are reported
# with every run.
# Links: `loopback` (sshd on 127.0.0.1) and `tbf` (sshd in its own network
# namespace behind a veth pair shaped by `tc qdisc tbf` to BENCH_RATE,
# default 200mbit, both ways; pg_dump still reaches PostgreSQL through its
# Unix socket, so only ssh's bytes cross the link).
# Same sshd configuration, key, port and known_hosts for every method, same
# PostgreSQL 15 server with its own data and socket folders (as in
# tests/integration/test_pgsql.sh). While each run goes, new files in /tmp
# and /var/tmp (outside this bench's own folder) are summed every 0.1 s:
# the peak is the remote temp space the method needs.
# Goals: wall time b/a <= 0.5 (medians); peak remote temp bytes of b = 0.
# Prints figures; not a test.
#
# Usage: bench/bench_pgsql.sh [RUNS]   (TISBACKUP=path, default build/tisbackup;
#        BENCH_RUNS=N, default 3; BENCH_SCALE=pgbench scale, default 70 ~ 1 GB;
#        BENCH_DATA="pgbench md5" (default pgbench): pgbench's tables, which
#        gzip about 35:1, and/or SCALE*100000 rows of md5 hex text, about 1.7:1;
#        BENCH_LINK="loopback tbf" (default loopback); BENCH_RATE=200mbit;
#        BENCH_BASELINE=paramiko adds (p); BENCH_LOCAL=0 leaves (c) out;
#        BENCH_FLOOR=1 adds (f))

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../tests/integration/lib.sh
. "$here/../tests/integration/lib.sh"

RUNS=${1:-${BENCH_RUNS:-3}}
SCALE=${BENCH_SCALE:-70}
KINDS=${BENCH_DATA:-pgbench}
LINKS=${BENCH_LINK:-loopback}
RATE=${BENCH_RATE:-200mbit}
METHODS="a"
[ "${BENCH_BASELINE:-}" = paramiko ] && METHODS="$METHODS p"
METHODS="$METHODS b"
[ "${BENCH_LOCAL:-1}" = 1 ] && METHODS="$METHODS c"
[ "${BENCH_FLOOR:-0}" = 1 ] && METHODS="$METHODS f"
tb_require_binary
tb_require ssh ssh-keygen sshd sftp runuser pgbench
# paramiko from Debian (python3-paramiko), hence the system python
PYTHON=/usr/bin/python3
if [ "${BENCH_BASELINE:-}" = paramiko ] && ! "$PYTHON" -c 'import paramiko' 2>/dev/null; then
	echo "BENCH_BASELINE=paramiko needs python3-paramiko (apt-get install python3-paramiko)" >&2
	exit 1
fi
case " $LINKS " in *" tbf "*) tb_require ip tc ;; esac
# shellcheck disable=SC2012
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ] || ! getent passwd postgres >/dev/null ||
	! command -v pg_dump >/dev/null; then
	echo "PostgreSQL server, client or the postgres user is missing" >&2
	exit 1
fi
tb_tmp
PG=$TMPD/pg
SAMPLER=
REMOTE_TMP=
NS=
NS_SSHD=
NS_VETH=
pg_stop() {
	[ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null
	[ -n "$REMOTE_TMP" ] && rm -f -- "$REMOTE_TMP"
	[ -f "$PG/data/postmaster.pid" ] &&
		runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG/data" -m fast stop >/dev/null 2>&1
}
ns_stop() {
	[ -n "$NS_SSHD" ] && kill "$NS_SSHD" 2>/dev/null && wait "$NS_SSHD" 2>/dev/null
	NS_SSHD=
	[ -n "$NS" ] && ip netns del "$NS" 2>/dev/null
	[ -n "$NS_VETH" ] && ip link del "$NS_VETH" 2>/dev/null
	NS=
	NS_VETH=
}
trap 'ns_stop; pg_stop; _tb_cleanup' EXIT
sshd_start

mkdir -p "$PG/sock"
chown -R postgres "$PG"
PGPORT=$(free_port)
asp() {
	runuser -u postgres -- "$@"
}
pq() {
	asp "$PGBIN/psql" --no-psqlrc -h "$PG/sock" -p "$PGPORT" -v ON_ERROR_STOP=1 -At "$@"
}
asp "$PGBIN/initdb" -D "$PG/data" -U postgres --auth-local=peer --auth-host=reject -E UTF8 \
	--locale=C.UTF-8 >"$PG/initdb.log" 2>&1 || { echo "initdb failed" >&2; exit 1; }
asp "$PGBIN/pg_ctl" -D "$PG/data" -l "$PG/server.log" -w -t 60 \
	-o "-k $PG/sock -p $PGPORT -c listen_addresses= -c fsync=off -c max_wal_size=4GB" \
	start >/dev/null 2>&1 || { echo "postgres did not start: $(tail -20 "$PG/server.log")" >&2; exit 1; }
tb_track "$(head -n 1 "$PG/data/postmaster.pid")"

# build_db KIND: database bench_KIND, SCALE ~ 1 GB.
build_db() {
	local db=bench_$1 t0 t1 size
	echo "building database $db ($1, scale $SCALE) ..."
	t0=$(date +%s.%N)
	pq -d postgres -c "CREATE DATABASE $db" >/dev/null || exit 1
	case $1 in
	md5)
		# Less compressible rows (hex text): SCALE*100000 rows of ~140 bytes.
		pq -d "$db" >/dev/null <<EOF || { echo "building $db failed" >&2; exit 1; }
CREATE TABLE rows (id int PRIMARY KEY, h text);
INSERT INTO rows SELECT g, md5(g::text) || md5((g * 7)::text) || md5((g * 3)::text)
  FROM generate_series(1, $SCALE * 100000) g;
EOF
		;;
	pgbench)
		asp pgbench -q -i -s "$SCALE" -h "$PG/sock" -p "$PGPORT" "$db" >"$PG/pgbench.log" 2>&1 ||
			{ echo "pgbench failed: $(tail -5 "$PG/pgbench.log")" >&2; exit 1; }
		;;
	*)
		echo "BENCH_DATA: unknown kind '$1' (pgbench, md5)" >&2
		exit 1
		;;
	esac
	t1=$(date +%s.%N)
	size=$(pq -d postgres -c "SELECT pg_database_size('$db')")
	eval "DBSIZE_$1=$size"
	printf 'database %s: %d bytes (%s), built in %.0f s\n' "$db" "$size" \
		"$(pq -d postgres -c "SELECT pg_size_pretty(pg_database_size('$db'))")" \
		"$(awk "BEGIN{print $t1-$t0}")"
}
for kind in $KINDS; do
	build_db "$kind"
done

# ns_start: sshd (same configuration, keys and port) in a network
# namespace at 10.213.0.2, reached from here (10.213.0.1) over a veth pair
# whose two ends are shaped to RATE by tbf.
NS_ADDR=10.213.0.2
ns_start() {
	local _ vn=tbbn$$
	NS=tbbench$$
	NS_VETH=tbbh$$
	if ! { ip netns add "$NS" &&
		ip link add "$NS_VETH" type veth peer name "$vn" &&
		ip link set "$vn" netns "$NS" &&
		ip addr add 10.213.0.1/30 dev "$NS_VETH" &&
		ip link set "$NS_VETH" up &&
		ip netns exec "$NS" ip addr add "$NS_ADDR/30" dev "$vn" &&
		ip netns exec "$NS" ip link set "$vn" up &&
		ip netns exec "$NS" ip link set lo up &&
		tc qdisc add dev "$NS_VETH" root tbf rate "$RATE" burst 256kb latency 50ms &&
		ip netns exec "$NS" tc qdisc add dev "$vn" root tbf rate "$RATE" burst 256kb latency 50ms; }; then
		echo "setting up the namespace and its link failed" >&2
		exit 1
	fi
	sed -e "s/^ListenAddress .*/ListenAddress $NS_ADDR/" \
		-e "s|^PidFile .*|PidFile $SSHD_DIR/sshd_ns.pid|" "$SSHD_DIR/sshd_config" >"$SSHD_DIR/sshd_ns_config"
	: >"$SSHD_DIR/sshd_ns.log"
	ip netns exec "$NS" /usr/sbin/sshd -D -e -f "$SSHD_DIR/sshd_ns_config" \
		>>"$SSHD_DIR/sshd_ns.log" 2>&1 </dev/null &
	NS_SSHD=$!
	for _ in $(seq 1 100); do
		grep -q "Server listening on $NS_ADDR port $SSHD_PORT" "$SSHD_DIR/sshd_ns.log" && return 0
		kill -0 "$NS_SSHD" 2>/dev/null || break
		sleep 0.1
	done
	echo "sshd in the namespace did not start: $(tail -5 "$SSHD_DIR/sshd_ns.log")" >&2
	exit 1
}

SSHOPTS="-i $CLIENT_KEY -p $SSHD_PORT -o BatchMode=yes -o IdentitiesOnly=yes -o UserKnownHostsFile=$KNOWN_HOSTS -o StrictHostKeyChecking=accept-new -o LogLevel=error"
SFTPOPTS="-i $CLIENT_KEY -P $SSHD_PORT -o BatchMode=yes -o IdentitiesOnly=yes -o UserKnownHostsFile=$KNOWN_HOSTS -o StrictHostKeyChecking=accept-new -o LogLevel=error"

# The original's three steps over one paramiko connection.
cat >"$TMPD/fetch_paramiko.py" <<'EOF'
import sys
import paramiko

host, port, key, cmd, remote, local = sys.argv[1:7]
c = paramiko.SSHClient()
c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
c.connect(host, port=int(port), username="root", key_filename=key,
          allow_agent=False, look_for_keys=False)
def run(command):
    _, out, err = c.exec_command(command)
    out.read()
    status = out.channel.recv_exit_status()
    if status != 0:
        sys.exit("%s: exit %d: %s" % (command, status, err.read().decode()))
run(cmd)
sftp = paramiko.SFTPClient.from_transport(c.get_transport())
sftp.get(remote, local)
sftp.close()
run("rm -f '%s'" % remote)
c.close()
EOF

# sample_tmp MARK OUT: every 0.1 s, sum the sizes of regular files in /tmp
# and /var/tmp (at most one folder down; lib.sh test folders /tmp/tbit.*,
# ours or a concurrent run's, are skipped) newer than MARK that belong to the dump: owned
# by postgres (the user pg_dump runs as on the server), or directly in the
# temp folder with a dump-like name (any owner). Other files are left out so
# that unrelated work on the machine (compilers, other checkouts) is not
# counted. The maximum goes to OUT, the files seen at that moment to OUT.files.
sample_tmp() {
	local mark=$1 out=$2 peak=0 s
	echo 0 >"$out"
	while :; do
		find /tmp /var/tmp -xdev -maxdepth 2 \( -path "$TMPD" -o -path '/tmp/tbit.*' \) -prune \
			-o -type f -newer "$mark" \
			\( -user postgres -o \( -path '/*tmp/*' ! -path '/*tmp/*/*' \
			\( -name "*bench_*" -o -name '*.sql*' -o -iname '*tisbackup*' -o -name '*pg_dump*' \) \) \) \
			-printf '%s %u %p\n' 2>/dev/null >"$out.now"
		s=$(awk '{t+=$1} END {print t+0}' "$out.now")
		if [ "$s" -gt "$peak" ]; then
			peak=$s
			echo "$peak" >"$out"
			mv -f "$out.now" "$out.files"
		fi
		sleep 0.1
	done
}
start_sampler() {
	touch "$TMPD/mark"
	sleep 0.01
	sample_tmp "$TMPD/mark" "$1" &
	SAMPLER=$!
}
stop_sampler() {
	sleep 0.2
	kill "$SAMPLER" 2>/dev/null
	wait "$SAMPLER" 2>/dev/null
	SAMPLER=
}

# run_METHOD DB: one dump of DB to HOST; the file lands in $TMPD/out.
run_a() {
	REMOTE_TMP=/tmp/tbbench_${TB_ID}_$RANDOM.sql.gz
	# shellcheck disable=SC2086,SC2029 # option lists; the command is meant for the server
	ssh $SSHOPTS "root@$HOST" "cd / && runuser -u postgres -- pg_dump -Z9 -h '$PG/sock' -p $PGPORT -f '$REMOTE_TMP' $1" ||
		return 1
	# shellcheck disable=SC2086
	echo "get $REMOTE_TMP $TMPD/out/orig.sql.gz" | sftp $SFTPOPTS -b - "root@$HOST" >/dev/null || return 1
	# shellcheck disable=SC2086,SC2029
	ssh $SSHOPTS "root@$HOST" "rm -f '$REMOTE_TMP'" || return 1
	REMOTE_TMP=
}
run_p() {
	REMOTE_TMP=/tmp/tbbench_${TB_ID}_$RANDOM.sql.gz
	"$PYTHON" "$TMPD/fetch_paramiko.py" "$HOST" "$SSHD_PORT" "$CLIENT_KEY" \
		"cd / && runuser -u postgres -- pg_dump -Z9 -h '$PG/sock' -p $PGPORT -f '$REMOTE_TMP' $1" \
		"$REMOTE_TMP" "$TMPD/out/orig.sql.gz" || return 1
	REMOTE_TMP=
}
# tb_conf DB COMPRESS_ON: a configuration with one pgsql+ssh job, pgjob.
tb_conf() {
	cfg_global "$CONF"
	cat >>"$CONF" <<EOF
[pgjob]
type = pgsql+ssh
server_name = $HOST
ssh_port = $SSHD_PORT
private_key = $CLIENT_KEY
known_hosts_file = $KNOWN_HOSTS
remote_user = root
db_host = $PG/sock
db_port = $PGPORT
db_name = $1
EOF
	[ "$2" = local ] && echo "compress_on = local" >>"$CONF"
	echo >>"$CONF"
}
# prep_METHOD DB: set-up outside the timed run.
prep_a() {
	:
}
prep_p() {
	:
}
prep_f() {
	:
}
prep_tb() {
	wait_next_second # a new STAMP
	rm -rf "$BASE/pgjob"
	tb_conf "$1" "$2"
}
prep_b() {
	prep_tb "$1" server
}
prep_c() {
	prep_tb "$1" local
}
run_tb() {
	"$TISBACKUP" -c "$CONF" -l warning -s pgjob backup || return 1
	find "$BASE/pgjob" -name '*.sql.gz' -exec mv {} "$TMPD/out/tb.sql.gz" \;
}
run_b() {
	run_tb
}
run_f() {
	asp pg_dump -h "$PG/sock" -p "$PGPORT" "$1" >/dev/null
}
run_c() {
	run_tb
}

median() {
	sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}
max() {
	sort -g | tail -n 1
}
label() {
	case $1 in
	a) echo "(a) pg_dump -Z9 + sftp + rm" ;;
	p) echo "(p) pg_dump -Z9 + paramiko" ;;
	b) echo "(b) tisbackup (default)" ;;
	c) echo "(c) tisbackup local gzip" ;;
	f) echo "(f) pg_dump alone >/dev/null" ;;
	esac
}

SUMMARY=()
# bench LINK KIND: RUNS interleaved rounds of every method.
bench() {
	local link=$1 kind=$2 db=bench_$2 r m t0 t1 size dbsize
	declare -A times=() peaks=() sizes=()
	mkdir -p "$TMPD/out"
	echo
	echo "=== link $link, data $kind (methods: $METHODS)"
	for ((r = 1; r <= RUNS; r++)); do
		for m in $METHODS; do
			rm -f "$TMPD/out"/*
			"prep_$m" "$db"
			sync
			start_sampler "$TMPD/peak_$m"
			t0=$(date +%s.%N)
			"run_$m" "$db" || { echo "method $m failed" >&2; exit 1; }
			t1=$(date +%s.%N)
			stop_sampler
			size=0
			if [ "$m" != f ]; then
				size=$(cat "$TMPD/out"/*.sql.gz | wc -c)
				gzip -t "$TMPD/out"/*.sql.gz || { echo "method $m: not a valid gzip file" >&2; exit 1; }
			fi
			times[$m]="${times[$m]:-} $(awk "BEGIN{printf \"%.2f\", $t1-$t0}")"
			peaks[$m]="${peaks[$m]:-} $(cat "$TMPD/peak_$m")"
			sizes[$m]=$size
			if [ "$m" != a ] && [ "$m" != p ] && [ -s "$TMPD/peak_$m.files" ]; then
				# Name what was seen, so a stray file from another process can be told apart.
				sed "s/^/  ($m) new temp file: /" "$TMPD/peak_$m.files"
			fi
			rm -f "$TMPD/peak_$m.files"
			printf 'run %d %-30s %7.2f s  peak temp %12s B  file %12s B\n' "$r" "$(label "$m")" \
				"$(awk "BEGIN{print $t1-$t0}")" "$(cat "$TMPD/peak_$m")" "$size"
		done
	done
	eval "dbsize=\$DBSIZE_$kind"
	printf 'database %s: %d bytes (%.2f GiB), %d runs, link %s\n' "$db" "$dbsize" \
		"$(awk "BEGIN{print $dbsize/1073741824}")" "$RUNS" "$link"
	local ma mm
	# shellcheck disable=SC2086 # space-separated lists of numbers
	ma=$(printf '%s\n' ${times[a]} | median)
	# shellcheck disable=SC2086 # space-separated lists of numbers
	for m in $METHODS; do
		mm=$(printf '%s\n' ${times[$m]} | median)
		printf '%-30s median %7.2f s (runs:%s)  ratio to (a) %s  peak temp %s B  file %s B\n' \
			"$(label "$m")" "$mm" "${times[$m]}" "$(awk "BEGIN{printf \"%.3f\", $mm/$ma}")" \
			"$(printf '%s\n' ${peaks[$m]} | max)" "${sizes[$m]}"
		SUMMARY+=("| $link | $kind | $(label "$m") | $mm | ${times[$m]# } | $(awk "BEGIN{printf \"%.3f\", $mm/$ma}") | $(printf '%s\n' ${peaks[$m]} | max) | ${sizes[$m]} |")
	done
}

for link in $LINKS; do
	case $link in
	loopback) HOST=127.0.0.1 ;;
	tbf)
		ns_start
		HOST=$NS_ADDR
		;;
	*)
		echo "BENCH_LINK: unknown link '$link' (loopback, tbf)" >&2
		exit 1
		;;
	esac
	for kind in $KINDS; do
		bench "$link" "$kind"
	done
	[ "$link" = tbf ] && ns_stop
done

echo
echo "Goals: (b)/(a) <= 0.5 (medians); peak remote temp bytes of (b) = 0. Rate of tbf: $RATE."
echo "| link | data | method | median s | runs s | ratio to (a) | peak temp B | file B |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${SUMMARY[@]}"
