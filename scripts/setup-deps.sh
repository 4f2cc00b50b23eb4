#!/usr/bin/env bash
# Install the Debian 12 packages tisbackup-c needs to build, test and run
# its demo. Idempotent: does nothing when everything is already there.
# Usage: scripts/setup-deps.sh [--demo]
#   --demo  only what building and the demo need (no test servers, no
#           developer tools)
set -euo pipefail

pkgs=(
	# build
	gcc pkg-config meson ninja-build libsqlite3-dev zlib1g-dev libcmocka-dev
	libmicrohttpd-dev libjansson-dev libargon2-dev libhiredis-dev libcurl4-gnutls-dev libxml2-dev
	libblkid-dev libbtrfsutil-dev libssh-dev
	libpq-dev # the PostgreSQL catalog (src/catalog_pg.c)
	# xen-xva: zstd XVA streams (libzstd), XXH64 chunk checks (xxhash.h, inlined)
	libzstd-dev libxxhash-dev
	nettle-dev # esx-vmdk's SHA-1/SHA-256 (headers; libnettle8 loaded on first use)
	libarchive-dev # web snapshot browser: folders downloaded as tar / tar.gz
	# what the product drives, and what the demo starts on loopback
	rsync openssh-client openssh-server sqlite3 procps curl
)
if [ "${1:-}" != "--demo" ]; then
	pkgs+=(
		# tests and developer tools
		gcovr clang-format cppcheck clang psmisc
		# what the tests start or use on loopback
		e2fsprogs util-linux mount iproute2 btrfs-progs stress-ng
		mariadb-server mariadb-client postgresql postgresql-client tdb-tools
		pgbouncer # the PostgreSQL catalog through a pooler (it_catalog_pg, bench_nagios.sh)
		redis-server curl wrk chromium python3 openssl python3-prometheus-client
		# the switch simulators' independent client
		python3-pexpect expect
		# the esx-vmdk simulator (tests/sim/vcsim: govmomi's vcsim built
		# offline in GOPATH mode) and its independent client
		golang-go golang-github-vmware-govmomi-dev python3-pyvmomi
		# bench/bench_pgsql.sh BENCH_BASELINE=paramiko (the original's SFTP client)
		python3-paramiko
		# the XAPI simulator's independent client and XVA reader, its hashes
		python3-os-xenapi xva-img xxhash zstd
		# tests/integration/test_restore.sh: ACLs and xattrs round trips
		acl attr
		# packaging tests: the .deb in a debootstrap chroot, the Docker
		# stack, the units (tests/integration/test_deb.sh, test_docker.sh,
		# test_dist.sh)
		debhelper dpkg-dev fakeroot lintian debootstrap docker.io docker-compose
		systemd man-db bash-completion logrotate
	)
	# the browser test's runner (Playwright); a newer node already on PATH
	# (e.g. from NodeSource) is kept
	if ! command -v node >/dev/null 2>&1; then
		pkgs+=(nodejs npm)
	fi
fi

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "setup-deps: missing packages: ${missing[*]}" >&2
	echo "setup-deps: run as root (or install them with apt-get) and try again" >&2
	exit 1
fi
echo "setup-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
