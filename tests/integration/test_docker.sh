#!/usr/bin/env bash
# The Docker image and compose stack, for real: a Debian 12 minbase root
# (debootstrap, slimmed like the official slim image) is imported as the
# base image, the project's image is built on it (`docker build --network
# host`), and docker-compose.yml is started (serve + worker + redis) with
# host networking so the containers reach the loopback sshd fixture. A
# backup goes through the REST API, workers are scaled to 2, everything is
# stopped with SIGTERM and must exit 0. Starts dockerd when none is running
# (and stops only that one); skips when dockerd cannot run here. The base
# image and docker's layer cache persist between runs.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=debroot.sh
source "$(dirname "$0")/debroot.sh"
# shellcheck source=web.sh
source "$(dirname "$0")/web.sh"

reason=$(pkg_skip_reason)
if [ -n "$reason" ]; then
	t_skip "Docker image and stack" "$reason"
	t_done
fi
for t in /usr/bin/docker dockerd docker-compose debootstrap python3 curl; do
	command -v "$t" >/dev/null || {
		t_skip "Docker image and stack" "$t is not installed (scripts/setup-deps.sh)"
		t_done
	}
done
DOCKER=/usr/bin/docker
tb_tmp
STACK=$TMPD/stack
PROJECT=tbit${TB_ID,,}
DOCKERD_PID=

# wait_for SECONDS CMD...: poll CMD until it succeeds, for at most SECONDS
# of wall time (docker commands are slow on a loaded machine).
wait_for() {
	local end=$((SECONDS + $1))
	shift
	while [ $SECONDS -lt $end ]; do
		"$@" && return 0
		sleep 0.2
	done
	return 1
}

compose() { (cd "$STACK" && docker-compose -p "$PROJECT" "$@"); }
docker_cleanup() {
	if [ -f "$STACK/docker-compose.yml" ]; then
		compose down -v --remove-orphans >/dev/null 2>&1
	fi
	if [ -n "$DOCKERD_PID" ]; then
		kill -TERM "$DOCKERD_PID" 2>/dev/null
		wait "$DOCKERD_PID" 2>/dev/null
	fi
	_tb_cleanup
}
trap docker_cleanup EXIT

# --- dockerd -------------------------------------------------------------------
if $DOCKER info >/dev/null 2>&1; then
	t_pass "dockerd is already running: using it"
else
	dockerd >"$TMPD/dockerd.log" 2>&1 &
	DOCKERD_PID=$!
	# Until it answers, or dies (no cgroups, no iptables, no privileges).
	wait_for 60 eval "$DOCKER info >/dev/null 2>&1 || ! kill -0 $DOCKERD_PID 2>/dev/null"
	if ! $DOCKER info >/dev/null 2>&1; then
		t_skip "Docker image and stack" "dockerd cannot start here: $(tail -n 3 "$TMPD/dockerd.log" | tr '\n' ' ')"
		t_done
	fi
	t_pass "dockerd started"
fi

# --- base image: Debian 12 minbase, slimmed --------------------------------------
BASE=tisbackup-test-base:bookworm
if ! $DOCKER image inspect "$BASE" >/dev/null 2>&1; then
	tarball=$(debroot_tarball) || t_bail "debootstrap failed (see $PKG_CACHE/debootstrap.log)"
	slim=$TMPD/base
	mkdir -p "$slim"
	tar -C "$slim" -xf "$tarball"
	rm -rf "$slim"/usr/share/doc/* "$slim"/usr/share/man/* "$slim"/usr/share/info/* \
		"$slim"/usr/share/locale/* "$slim"/var/cache/apt/* "$slim"/var/lib/apt/lists/* \
		"$slim"/var/log/*.log "$slim"/var/log/apt/* "$slim"/dev/* "$slim"/etc/resolv.conf
	# What the official slim image keeps out of later installations too.
	cat >"$slim/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CFG
	printf 'APT::Install-Recommends "false";\nDir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n' \
		>"$slim/etc/apt/apt.conf.d/docker-slim"
	out=$(tar -C "$slim" -c . | $DOCKER import - "$BASE" 2>&1)
	t_check "docker import of the debootstrap root as $BASE" $? "$out"
	rm -rf "$slim"
else
	t_pass "base image $BASE (cached)"
fi
t_diag "base image size: $(($($DOCKER image inspect -f '{{.Size}}' "$BASE") / 1000000)) MB"

# --- the project's images ------------------------------------------------------------
IMG=tisbackup:test
RIMG=tisbackup-redis:test
t0=$(date +%s)
out=$($DOCKER build --network host --build-arg BASE_IMAGE="$BASE" --target runtime -t "$IMG" "$TB_SOURCE_ROOT" 2>&1)
t_check "docker build (runtime target, $(($(date +%s) - t0)) s)" $? "$(printf '%s\n' "$out" | tail -n 30)"
out=$($DOCKER build --network host --build-arg BASE_IMAGE="$BASE" --target redis -t "$RIMG" "$TB_SOURCE_ROOT" 2>&1)
t_check "docker build (redis target)" $? "$(printf '%s\n' "$out" | tail -n 30)"
size=$($DOCKER image inspect -f '{{.Size}}' "$IMG")
t_diag "image size: $((size / 1000000)) MB ($size bytes)"
# 160 MB: libxml2 (the XCP and VMware drivers) brings ICU, ~36 MB (docs/deployment.md)
t_num_ge 0 $((160000000 - size)) "the image is at most 160 MB ($((size / 1000000)) MB)"
t_match '^tisbackup ' "$($DOCKER run --rm "$IMG" --version 2>&1)" "the image runs tisbackup --version"
t_eq "0" "$($DOCKER image inspect -f '{{.Config.User}}' "$RIMG" | grep -c root)" "redis runs as a non-root user"
# An empty /etc/tis volume gets the image's defaults on first start.
mkdir -p "$TMPD/etc0"
out=$($DOCKER run --rm -v "$TMPD/etc0:/etc/tis" "$IMG" -d backup 2>&1)
t_check "first start on an empty /etc/tis: the defaults check (dry run)" $? "$out"
t_match '^backup_base_dir = /backup$' "$(cat "$TMPD/etc0/tisbackup-config.ini" 2>&1)" "the default config backs up into /backup"
t_match '^redis_url = redis://redis:6379/0$' "$(cat "$TMPD/etc0/tisbackup_gui.ini" 2>&1)" "the default gui.ini uses the redis service"

# --- the stack ----------------------------------------------------------------------------
tb_require ssh-keygen /usr/sbin/sshd
sshd_start
make_tree "$TMPD/src"
mkdir -p "$STACK/config" "$STACK/backups" "$STACK/ssh"
cp "$CLIENT_KEY" "$STACK/ssh/client_key"
WPORT=$(free_port)
RPORT=$(free_port)
WEB=http://127.0.0.1:$WPORT
# Host networking (the sshd fixture listens on the host's loopback): the
# shipped file with network_mode host, no published port, redis on a free
# port.
python3 - "$TB_SOURCE_ROOT/docker-compose.yml" "$STACK/docker-compose.yml" "$RPORT" <<'PY2' ||
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
c.pop("x-tisbackup", None)
for name, svc in c["services"].items():
    svc["network_mode"] = "host"
    svc.pop("ports", None)
c["services"]["redis"]["command"] = ["redis-server", "--bind", "127.0.0.1", "--port", sys.argv[3],
    "--dir", "/data", "--appendonly", "yes"]
yaml.safe_dump(c, open(sys.argv[2], "w"), sort_keys=False)
PY2
	t_bail "cannot write the test's compose file"
cat >"$STACK/.env" <<ENV
TISBACKUP_IMAGE=$IMG
TISBACKUP_REDIS_IMAGE=$RIMG
TB_HEALTH_PORT=$WPORT
TISBACKUP_PORT=$WPORT
ENV
# The image's defaults, with the ports of this test.
$DOCKER run --rm --entrypoint cat "$IMG" /usr/share/tisbackup/defaults/tisbackup_gui.ini |
	sed -e "s|^listen = .*|listen = 127.0.0.1:$WPORT|" -e "s|^redis_url = .*|redis_url = redis://127.0.0.1:$RPORT/0|" \
		-e 's|^enabled = yes|enabled = no|' >"$STACK/config/tisbackup_gui.ini"
t_match '^embedded_worker = no$' "$(cat "$STACK/config/tisbackup_gui.ini")" "the image's gui.ini leaves runs to the workers"
cat >"$STACK/config/tisbackup-config.ini" <<INI
[global]
backup_base_dir = /backup
backup_retention_time = 30
maximum_backup_age = 30

[srv]
type = rsync+ssh
server_name = 127.0.0.1
ssh_port = $SSHD_PORT
private_key = /root/.ssh/client_key
known_hosts_file = /root/.ssh/known_hosts
remote_dir = $TMPD/src
INI

SERVE=
health() { $DOCKER inspect -f '{{.State.Health.Status}}' "$SERVE" 2>/dev/null; }
t0=$(date +%s.%N)
out=$(compose up -d --no-build 2>&1)
t_check "docker-compose up -d ($(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s)" $? "$out"
SERVE=$(compose ps -q serve)
wait_for 60 eval '[ "$(health)" = healthy ]'
t1=$(date +%s.%N)
t_eq healthy "$(health)" "serve is healthy (/api/v1/health from its healthcheck)"
[ "$(health)" = healthy ] || t_bail "serve is not healthy: $(compose logs --no-color --tail 20 2>&1 | tail -n 20)"
t_diag "docker-compose up to healthy: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
t_eq 1 "$(compose ps -q worker | wc -l)" "one worker container"

# serve runs unprivileged (the entrypoint drops to tisbackup), workers as root.
t_eq 990 "$($DOCKER top "$SERVE" -o pid,uid,args | awk '/tisbackup .*serve/ { print $2 }')" "serve runs as the user tisbackup (uid 990)"
t_eq 0 "$($DOCKER top "$(compose ps -q worker)" -o pid,uid,args | awk '/tisbackup .*worker/ { print $2 }')" "the worker runs as root (rsync keeps owners)"
printf 'admin-pw-1\n' | compose exec -T -u tisbackup serve tisbackup user add admin --role admin >"$TMPD/useradd.out" 2>&1
t_check "tisbackup user add admin in the serve container" $? "$(cat "$TMPD/useradd.out")"
A=(-u admin:admin-pw-1)
t_eq ok "$(curl -s "${A[@]}" "$WEB/api/v1/health" | jq_py 'd["queue"]')" "serve reaches the redis queue"

# --- a backup through the API, run by the worker container ---------------------------------
r=$(hcurl "${A[@]}" -H 'Content-Type: application/json' -d '{"action": "backup", "sections": ["srv"]}' "$WEB/api/v1/runs")
t_eq 202 "$(st_of "$r")" "POST /api/v1/runs: 202"
ID=$(body_of "$r" | jq_py 'd["id"]')
run_state() { curl -s "${A[@]}" "$WEB/api/v1/runs/$ID" | jq_py 'd["state"]'; }
run_ended() {
	local s
	s=$(run_state)
	[ "$s" = done ] || [ "$s" = failed ] || [ "$s" = cancelled ]
}
wait_for 180 run_ended
t_eq done "$(run_state)" "the run ends done"
snap=$(snapshots "$STACK/backups/srv" | tail -n 1)
t_ne "" "$snap" "a snapshot in the backup volume ($snap)"
t_ok "the snapshot equals the source tree" tree_equal "$TMPD/src" "$STACK/backups/srv/$snap"
t_eq 'OK' "$(curl -s "${A[@]}" "$WEB/api/v1/jobs/srv" | jq_py 'd["last_status"]')" "the job reads OK through the API"

# --- scale, then stop ---------------------------------------------------------------------------
out=$(compose up -d --no-build --no-recreate --scale worker=2 2>&1)
t_check "docker-compose up --scale worker=2" $? "$out"
running() { $DOCKER ps -q --filter "label=com.docker.compose.project=$PROJECT" --filter "label=com.docker.compose.service=$1" | wc -l; }
wait_for 60 eval '[ "$(running worker)" = 2 ]'
t_eq 2 "$(running worker)" "two worker containers run"
r=$(hcurl "${A[@]}" -H 'Content-Type: application/json' -d '{"action": "backup", "sections": ["srv"]}' "$WEB/api/v1/runs")
ID=$(body_of "$r" | jq_py 'd["id"]')
wait_for 180 run_ended
t_eq done "$(run_state)" "a second backup with two workers ends done"

ids=$(compose ps -q)
t0=$(date +%s)
out=$(compose stop 2>&1)
t_check "docker-compose stop ($(($(date +%s) - t0)) s)" $? "$out"
codes=$(for c in $ids; do $DOCKER inspect -f '{{.Name}} {{.State.ExitCode}}' "$c"; done | sort)
t_eq "" "$(printf '%s\n' "$codes" | awk '$2 != 0')" "every container exits 0 on SIGTERM ($(tr '\n' ' ' <<<"$codes"))"
t_nomatch 'ERROR|CRITICAL' "$(compose logs --no-color worker 2>&1 | grep -v 'ERROR 0\b')" "no error in the workers' logs"
out=$(compose down -v 2>&1)
t_check "docker-compose down" $? "$out"

t_done
