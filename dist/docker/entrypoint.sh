#!/bin/sh
# Entry point of the tisbackup image (under tini).
#   (no argument) or serve   tisbackup serve
#   worker                   tisbackup worker (scale it: --scale worker=N)
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

case "${1:-serve}" in
serve | worker) exec tisbackup --gui-config "$GUI" "${1:-serve}" ;;
*) exec tisbackup --gui-config "$GUI" "$@" ;;
esac
