#!/usr/bin/env bash
# The Debian package: built with dpkg-buildpackage (debhelper, meson),
# checked with lintian, installed into a clean Debian 12 root made with
# debootstrap (chroot), where tisbackup --version, listdrivers and a real
# rsync+ssh backup from the loopback sshd run; `apt-get purge` then leaves
# the backups in place. The .deb (keyed by the source files' checksum),
# the minbase root and apt's downloads are cached in $TB_BUILD_ROOT/cache.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=debroot.sh
source "$(dirname "$0")/debroot.sh"

reason=$(pkg_skip_reason)
if [ -n "$reason" ]; then
	t_skip "Debian package" "$reason"
	t_done
fi
tb_require dpkg-buildpackage dh lintian debootstrap chroot git
tb_tmp

ROOT=
# Unmount what we mounted in the chroot, then remove it (never crossing
# into a mount that could not be unmounted).
deb_cleanup() {
	if [ -n "$ROOT" ] && [ -d "$ROOT" ]; then
		umount "$ROOT/proc" 2>/dev/null
		if ! grep -q " $ROOT/" /proc/mounts; then
			rm -rf --one-file-system -- "$ROOT"
		else
			echo "# left $ROOT: still mounted"
		fi
	fi
	_tb_cleanup
}
trap deb_cleanup EXIT

# --- build -------------------------------------------------------------------
VERSION=$(sed -n '1s/^tisbackup (\([^)]*\)).*/\1/p' "$TB_SOURCE_ROOT/debian/changelog")
files=$(cd "$TB_SOURCE_ROOT" && git ls-files -co --exclude-standard | grep -v '^tests/browser/node_modules/' | sort)
# The checksum leaves out files the package is not made from (tests that
# change do not rebuild it).
sum=$(cd "$TB_SOURCE_ROOT" && printf '%s\n' "$files" |
	grep -Ev '^(tests/integration/|tests/browser/|bench/|\.ci/|Dockerfile$|docker-compose\.yml$|\.dockerignore$)' | while IFS= read -r f; do [ -f "$f" ] && sha256sum -- "$f"; done | sha256sum | cut -c1-16)
DEBDIR=$PKG_CACHE/deb-$sum
DEB=$DEBDIR/tisbackup_${VERSION}_amd64.deb
if [ ! -s "$DEB" ]; then
	rm -rf "$PKG_CACHE"/deb-*
	mkdir -p "$DEBDIR/tisbackup"
	(cd "$TB_SOURCE_ROOT" && printf '%s\n' "$files" | tar -cf - --verbatim-files-from -T - 2>/dev/null) |
		tar -C "$DEBDIR/tisbackup" -xf -
	t0=$(date +%s)
	(cd "$DEBDIR/tisbackup" && dpkg-buildpackage -us -uc -b) >"$DEBDIR/build.log" 2>&1
	st=$?
	t_check "dpkg-buildpackage -us -uc -b builds the package ($(($(date +%s) - t0)) s)" $st \
		"$(tail -n 30 "$DEBDIR/build.log")"
	rm -rf "$DEBDIR/tisbackup"
else
	t_pass "dpkg-buildpackage -us -uc -b (cached: $DEB)"
fi
[ -s "$DEB" ] || t_bail "no package at $DEB"
t_diag ".deb size: $(stat -c %s "$DEB") bytes; installed size: $(dpkg-deb -f "$DEB" Installed-Size) KiB"

# --- contents and metadata ---------------------------------------------------
depends=$(dpkg-deb -f "$DEB" Depends)
t_match 'libmicrohttpd12' "$depends" "Depends computed from the binary's libraries ($depends)"
t_match 'libcurl3-gnutls' "$depends" "Depends names libcurl3-gnutls (opened on first use)"
t_match 'rsync.*openssh-client|openssh-client.*rsync' "$(dpkg-deb -f "$DEB" Recommends)" "Recommends rsync and openssh-client"
list=$(dpkg-deb -c "$DEB" | awk '{print $6}')
for f in ./usr/bin/tisbackup ./usr/share/man/man1/tisbackup.1.gz ./usr/share/man/man5/tisbackup-config.5.gz \
	./usr/share/man/man5/tisbackup_gui.ini.5.gz ./usr/share/doc/tisbackup/examples/tisbackup-config.ini \
	./usr/share/doc/tisbackup/examples/tisbackup_gui.ini ./lib/systemd/system/tisbackup-serve.service \
	./lib/systemd/system/tisbackup-worker@.service ./lib/systemd/system/tisbackup-backup.timer \
	./usr/lib/tmpfiles.d/tisbackup.conf ./etc/logrotate.d/tisbackup \
	./usr/share/bash-completion/completions/tisbackup ./var/lib/tisbackup/; do
	t_match "^${f//./\\.}\$" "$list" "the package holds $f"
done
t_eq "$(printf '/etc/logrotate.d/tisbackup\n/etc/tis/tisbackup-config.ini\n/etc/tis/tisbackup_gui.ini')" \
	"$(dpkg-deb --ctrl-tarfile "$DEB" | tar -xOf - ./conffiles | sort)" "conffiles: logrotate and /etc/tis"

lint=$(lintian --fail-on error,warning "$DEB" 2>&1)
lst=$?
lint=$(grep -v 'running with root privileges' <<<"$lint")
t_check "lintian: no error or warning" $lst "$lint"
[ -n "$lint" ] && t_diag "lintian (info/pedantic): $lint"

# --- a clean Debian 12 root ----------------------------------------------------
tarball=$(debroot_tarball) || t_bail "debootstrap failed (see $PKG_CACHE/debootstrap.log)"
ROOT=$PKG_CACHE/chroot.$$
mkdir -p "$ROOT"
tar -C "$ROOT" -xf "$tarball" || t_bail "cannot unpack $tarball"
mount -t proc proc "$ROOT/proc" || t_bail "cannot mount proc in the chroot"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
mkdir -p "$PKG_CACHE/apt-archives"
cp "$PKG_CACHE"/apt-archives/*.deb "$ROOT/var/cache/apt/archives/" 2>/dev/null
cp "$DEB" "$ROOT/tmp/"
inroot() { chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"; }

out=$(inroot apt-get update -q 2>&1)
t_check "apt-get update in the chroot" $? "$(printf '%s\n' "$out" | tail -n 5)"
t0=$(date +%s)
out=$(inroot apt-get install -y -q --no-install-recommends "/tmp/${DEB##*/}" rsync openssh-client 2>&1)
t_check "apt-get install ./tisbackup_*.deb into the clean root ($(($(date +%s) - t0)) s)" $? "$(printf '%s\n' "$out" | tail -n 15)"
cp -n "$ROOT"/var/cache/apt/archives/*.deb "$PKG_CACHE/apt-archives/" 2>/dev/null

vers=$(inroot tisbackup --version 2>&1)
t_match "^tisbackup ${VERSION%%-*}( |\$)" "$vers" "tisbackup --version in the chroot"
t_match '^libcurl: yes$' "$vers" "the installed package loads libcurl (a Depends)"
# Every library opened on first use (dlopen: dpkg-shlibdeps cannot see them)
# must be a Depends of the package, or the installed binary lacks it.
lazy=$(printf '%s\n' "$vers" | grep -E '^lib[a-z0-9]+: ' | grep -v ': yes$')
t_eq "" "$lazy" "the installed package loads every library opened on first use"
drv=$(inroot tisbackup listdrivers 2>&1)
ntypes=$("$TISBACKUP" -c /nonexistent listdrivers | grep -c '^[a-z0-9+-]* : ')
t_eq "$ntypes" "$(printf '%s\n' "$drv" | grep -c '^[a-z0-9+-]* : ')" "listdrivers lists the $ntypes types of this build"
t_ok "the tisbackup group exists" inroot getent group tisbackup
# The units' Documentation= files and the pages --help names are installed.
docs=$(sed -n 's/^Documentation=//p' "$ROOT"/lib/systemd/system/tisbackup* | tr ' ' '\n' | sed -n 's/^file://p' | sort -u)
t_ne "" "$docs" "the units name documentation files"
for d in $docs /usr/share/doc/tisbackup/restore.md.gz /usr/share/doc/tisbackup/migrating.md.gz \
	/usr/share/doc/tisbackup/web-auth.md.gz; do
	t_ok "installed: $d" test -s "$ROOT$d"
done
t_eq "750 root tisbackup" "$(inroot stat -c '%a %U %G' /var/lib/tisbackup)" "/var/lib/tisbackup: 0750 root:tisbackup"
t_ok "systemd-tmpfiles makes /run/tisbackup" systemd-tmpfiles --root="$ROOT" --create tisbackup.conf
t_eq "750 root tisbackup" "$(inroot stat -c '%a %U %G' /run/tisbackup 2>&1)" "/run/tisbackup: 0750 root:tisbackup"
t_ok "the shipped configuration checks (no job, dry run)" inroot tisbackup -d backup

# --- a backup of the loopback sshd's tree, from inside the chroot ---------------
tb_require ssh-keygen /usr/sbin/sshd
sshd_start
make_tree "$TMPD/src"
cp "$CLIENT_KEY" "$ROOT/root/client_key"
cat >"$ROOT/root/job.ini" <<INI
[global]
backup_base_dir = /var/lib/tisbackup
backup_retention_time = 30
maximum_backup_age = 30

[srv]
type = rsync+ssh
server_name = 127.0.0.1
ssh_port = $SSHD_PORT
private_key = /root/client_key
known_hosts_file = /root/known_hosts
remote_dir = $TMPD/src
INI
out=$(inroot tisbackup -c /root/job.ini backup 2>&1)
t_check "rsync+ssh backup from the chroot's tisbackup" $? "$out"
snap=$(snapshots "$ROOT/var/lib/tisbackup/srv" | tail -n 1)
t_ne "" "$snap" "a snapshot was made ($snap)"
t_ok "the snapshot equals the source tree" tree_equal "$TMPD/src" "$ROOT/var/lib/tisbackup/srv/$snap"
t_eq OK "$(sql "$ROOT/var/lib/tisbackup/log/tisbackup.sqlite" "SELECT status FROM stats WHERE backup_name = 'srv'")" "the catalog row is OK"

# --- purge -----------------------------------------------------------------------
out=$(inroot apt-get purge -y -q tisbackup 2>&1)
t_check "apt-get purge tisbackup" $? "$(printf '%s\n' "$out" | tail -n 10)"
t_not "the binary is gone" test -e "$ROOT/usr/bin/tisbackup"
t_not "the conffiles are gone" test -e "$ROOT/etc/tis/tisbackup-config.ini"
t_not "/run/tisbackup is gone" test -e "$ROOT/run/tisbackup"
t_ok "the snapshot is still there" test -f "$ROOT/var/lib/tisbackup/srv/$snap/plain.txt"
t_ok "the catalog is still there" test -s "$ROOT/var/lib/tisbackup/log/tisbackup.sqlite"
t_eq "" "$(inroot dpkg-query -W -f='${Status}' tisbackup 2>/dev/null | grep -v 'not-installed')" "dpkg knows no tisbackup any more"

t_done
