#!/bin/sh
# Entry point of the tisbackup image (under tini).
#   (no argument) or serve   tisbackup serve, as the user tisbackup
#   worker                   tisbackup worker, as root (scale it: --scale worker=N)
#   healthcheck              exit 0 when serve answers /api/v1/health
#   anything else            tisbackup ARGS (backup, cleanup, user add ...)
# On first start the empty /etc/tis volume gets the image's defaults
# (never overwriting a file that exists).
set -eu
GUI=/etc/tis/tisbackup_gui.ini
DEF=/usr/share/tisbackup/defaults

if [ "${1:-}" = healthcheck ]; then
	# No curl in the image: a bare HTTP/1.0 request from bash.
	port=${TB_HEALTH_PORT:-8080}
	exec bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" &&
		printf "GET /api/v1/health HTTP/1.0\r\nHost: localhost\r\n\r\n" >&3 &&
		grep -q "\"status\": *\"ok\"" <&3' healthcheck "$port"
fi

for f in tisbackup_gui.ini tisbackup-config.ini; do
	if [ ! -e "/etc/tis/$f" ]; then
		# Two containers may start at once: copy aside, then no-clobber move.
		cp "$DEF/$f" "/etc/tis/.$f.$$"
		mv -n "/etc/tis/.$f.$$" "/etc/tis/$f"
		rm -f "/etc/tis/.$f.$$"
	fi
done

# serve runs as the user tisbackup: give its group what serve reads and
# writes. /etc/tis (configs; the users file serve rewrites), the backup
# root and its log folder (setgid: the job folders and the catalog the
# root workers create get the group), and the catalog itself created
# group-writable (0660) when missing, so that SQLite's -wal and -shm files,
# which take the database's mode and owner, let serve read it live.
prepare() {
	[ "$(id -u)" = 0 ] || return 0
	chgrp tisbackup /etc/tis && chmod g+rwxs /etc/tis
	for f in /etc/tis/*; do
		[ -f "$f" ] && chgrp tisbackup "$f" && chmod g+r "$f"
	done
	users=$(sed -n 's/^[[:space:]]*users_file[[:space:]]*[=:][[:space:]]*//p' "$GUI" | tail -n 1)
	[ -f "${users:-/etc/tis/tisbackup-users}" ] && chown tisbackup:tisbackup "${users:-/etc/tis/tisbackup-users}"
	install -d /backup/log
	chgrp tisbackup /backup /backup/log && chmod g+rxs /backup && chmod g+rwxs /backup/log
	cat=/backup/log/tisbackup.sqlite
	if [ ! -e "$cat" ]; then
		# An empty file is an empty SQLite database; it keeps this mode.
		(umask 0117 && : >"$cat.$$" && chgrp tisbackup "$cat.$$" && mv -n "$cat.$$" "$cat")
		rm -f "$cat.$$"
	fi
	for f in "$cat" "$cat-wal" "$cat-shm"; do
		[ -f "$f" ] && chgrp tisbackup "$f" && chmod g+rw "$f"
	done
	return 0
}

case "${1:-serve}" in
serve)
	prepare
	if [ "$(id -u)" = 0 ]; then
		exec setpriv --reuid=tisbackup --regid=tisbackup --init-groups --inh-caps=-all \
			--no-new-privs -- tisbackup --gui-config "$GUI" serve
	fi
	exec tisbackup --gui-config "$GUI" serve
	;;
worker)
	prepare
	shift # worker's own options, e.g. --pool site-a
	exec tisbackup --gui-config "$GUI" worker "$@"
	;;
*) exec tisbackup --gui-config "$GUI" "$@" ;;
esac
