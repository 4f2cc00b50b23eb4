#!/usr/bin/env bash
# A complete demo on this machine, nothing outside ./demo touched (besides
# installing Debian packages): builds tisbackup, starts a throwaway sshd on
# 127.0.0.1 with keys generated under ./demo, writes a config, backs up a
# sample tree twice (the second run hardlinks unchanged files), then shows
# checknagios and dumpstat, then starts the web UI (`tisbackup serve`) with
# a generated admin password and runs a backup through its API. The sshd
# and serve are stopped at the end; ./demo stays for you to look at
# (remove it with rm -rf demo).
# Usage: scripts/demo.sh [--serve]   (--serve: keep the web UI running
# until Ctrl-C, to look at it in a browser)
set -euo pipefail
keep_serving=0
[ "${1:-}" = "--serve" ] && keep_serving=1
cd "$(dirname "$0")/.."
root=$PWD
scripts/setup-deps.sh --demo
if [ ! -f build/build.ninja ]; then
	meson setup build >/dev/null
fi
ninja -C build >/dev/null
tb=$root/build/tisbackup

demo=$root/demo
rm -rf "$demo"
mkdir -p "$demo"/{ssh,backups,source/etc,source/www/images}
chmod 700 "$demo/ssh"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Generating keys and starting sshd on 127.0.0.1"
ssh-keygen -q -t ed25519 -N '' -f "$demo/ssh/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$demo/ssh/client_key"
cp "$demo/ssh/client_key.pub" "$demo/ssh/authorized_keys"
port=$(( 20000 + RANDOM % 12000 ))  # below the ephemeral range (32768+)
cat >"$demo/ssh/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $port
HostKey $demo/ssh/host_key
PidFile $demo/ssh/sshd.pid
AuthorizedKeysFile $demo/ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
CONF
mkdir -p /run/sshd
/usr/sbin/sshd -f "$demo/ssh/sshd_config" -E "$demo/ssh/sshd.log"
# At exit: the sshd and its session processes (tisbackup's shared ssh
# connection would otherwise linger for its 60 s persistence).
serve_pid=
# Every step may fail (nothing left to stop) without ending the handler:
# it runs under set -e.
stop_sshd() {
	local pid
	if [ -n "$serve_pid" ]; then
		kill "$serve_pid" 2>/dev/null || true
		wait "$serve_pid" 2>/dev/null || true
	fi
	pid=$(cat "$demo/ssh/sshd.pid" 2>/dev/null) || return 0
	pkill -P "$pid" 2>/dev/null || true
	kill "$pid" 2>/dev/null || true
	return 0
}
trap stop_sshd EXIT
for _ in $(seq 50); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	sleep 0.1
done
echo "sshd listening on port $port"

step "Writing a sample tree to back up ($demo/source)"
printf 'server=demo\n' >"$demo/source/etc/app.conf"
head -c 200000 /dev/urandom >"$demo/source/www/images/logo.bin"
for i in $(seq 1 200); do echo "page $i" >"$demo/source/www/page$i.html"; done
echo "a name with spaces" >"$demo/source/www/report 2026.txt"
ln -s ../etc/app.conf "$demo/source/www/config-link"

cat >"$demo/tisbackup-config.ini" <<CONF
[global]
backup_base_dir = $demo/backups
backup_retention_time = 30
maximum_backup_age = 30

[demo-www]
type = rsync+ssh
server_name = 127.0.0.1
ssh_port = $port
private_key = $demo/ssh/client_key
known_hosts_file = $demo/ssh/known_hosts
remote_dir = $demo/source
exclude_list = "*.tmp","/cache/**"
description = sample web server

[demo-printer]
type = null
server_name = printer
CONF
echo "config: $demo/tisbackup-config.ini"
sed 's/^/    /' "$demo/tisbackup-config.ini"

step "tisbackup listdrivers"
"$tb" listdrivers

step "First backup (full)"
"$tb" -c "$demo/tisbackup-config.ini" backup

step "Changing one file, then an incremental backup"
sleep 1
echo "server=demo2" >"$demo/source/etc/app.conf"
"$tb" -c "$demo/tisbackup-config.ini" backup

snaps=("$demo"/backups/demo-www/2*)
step "Snapshots: ${snaps[*]##*/}"
a=$(stat -c %i "${snaps[0]}/www/page1.html")
b=$(stat -c %i "${snaps[1]}/www/page1.html")
echo "unchanged www/page1.html: inode $a then $b ($([ "$a" = "$b" ] && echo shared, hardlinked || echo NOT shared))"
echo "changed etc/app.conf: $(cat "${snaps[0]}/etc/app.conf") -> $(cat "${snaps[1]}/etc/app.conf")"

step "tisbackup checknagios"
set +e
"$tb" -c "$demo/tisbackup-config.ini" checknagios
echo "(exit code $?)"
set -e

step "tisbackup dumpstat"
"$tb" -c "$demo/tisbackup-config.ini" -s demo-www dumpstat

step "Web UI and API: tisbackup serve"
webport=$(( 20000 + RANDOM % 12000 ))  # below the ephemeral range (32768+)
cat >"$demo/tisbackup_gui.ini" <<CONF
[general]
config_tisbackup = $demo/tisbackup-config.ini

[web]
listen = 127.0.0.1:$webport

[auth]
users_file = $demo/tisbackup-users
CONF
password=$(head -c 12 /dev/urandom | base64 | tr '+/' '-_')
# The password goes on stdin, never on a command line.
printf '%s\n' "$password" | "$tb" --gui-config "$demo/tisbackup_gui.ini" user add admin --role admin
"$tb" --gui-config "$demo/tisbackup_gui.ini" serve 2>"$demo/serve.log" &
serve_pid=$!
for _ in $(seq 50); do
	curl -s -o /dev/null "http://127.0.0.1:$webport/api/v1/health" && break
	sleep 0.1
done
echo "serve listening on http://127.0.0.1:$webport (log: $demo/serve.log)"
printf 'admin:%s\n' "$password" >"$demo/web-credentials"
chmod 600 "$demo/web-credentials"
auth=(-u "admin:$password")
echo "GET /api/v1/jobs:"
curl -s "${auth[@]}" "http://127.0.0.1:$webport/api/v1/jobs" | python3 -m json.tool 2>/dev/null | head -n 40 ||
	curl -s "${auth[@]}" "http://127.0.0.1:$webport/api/v1/jobs"
echo
echo "POST /api/v1/runs (a backup of demo-www through the queue):"
run=$(curl -s "${auth[@]}" -H 'Content-Type: application/json' \
	-d '{"action": "backup", "sections": ["demo-www"]}' "http://127.0.0.1:$webport/api/v1/runs")
echo "$run"
id=$(printf '%s' "$run" | sed -n 's/.*"id": *"\([^"]*\)".*/\1/p')
state=
for _ in $(seq 300); do
	state=$(curl -s "${auth[@]}" "http://127.0.0.1:$webport/api/v1/runs/$id" |
		sed -n 's/.*"state": *"\([a-z]*\)".*/\1/p')
	case $state in done | failed | cancelled) break ;; esac
	sleep 0.2
done
echo "run $id: $state"

if [ "$keep_serving" = 1 ]; then
	step "Web UI at http://127.0.0.1:$webport/  user admin, password $password (also in $demo/web-credentials). Ctrl-C stops it."
	wait "$serve_pid" || true
	serve_pid=
fi

step "Done. Everything is under $demo (backups/, backups/log/ holds the catalog and run logs). See the web UI with: scripts/demo.sh --serve"
