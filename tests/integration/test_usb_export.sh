#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2012,SC2119 # helpers run through wait_until and t_ok; ls of folders the test made
#
# exportbackup --usb (the GUI's USB export, SPEC §8) with loop devices
# standing in for USB disks ([export] device_filter = any): a real
# rsync+ssh backup exported end to end (found, mounted under mount_base,
# exported, unmounted, mount point removed, EXPORT row, files on the
# disk); the original's four errors (no disk, no partition, no such
# label, more than one); a labelled disk already mounted; a failing
# export and an interrupted one that still unmount; a dry run; option
# errors, a second export while one runs. Then the same through the
# queue (serve's POST /api/v1/runs without exportdir, `tisbackup
# worker`): done, failed, a second export refused with 409 and the same
# one deduplicated, a cancelled run, no disk. Apart from one dry run on
# the machine's own /sys, the runs scan a fake sysfs tree (TB_SYSFS_ROOT)
# holding only this test's loop devices, so that other disks of the
# machine (another test's loop devices) cannot change their outcome.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require sqlite3 rsync ssh ssh-keygen mkfs.ext4 mkfs.ext3 losetup mount umount
if [ "$(id -u)" != 0 ] || [ ! -e /dev/loop-control ]; then
	echo "1..0 # SKIP needs root and loop devices"
	exit 0
fi
tb_tmp
sshd_start

LOOPS=()
MOUNTS=()
# shellcheck disable=SC2317 # run by the EXIT trap
_usb_cleanup() {
	local m l
	for m in "${MOUNTS[@]}" "$TMPD"/mnt/TISBACKUP-*; do
		[ -d "$m" ] || continue
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	for l in "${LOOPS[@]}"; do
		losetup -d "$l" 2>/dev/null
	done
	return 0
}
# shellcheck disable=SC2154 # st is assigned inside the trap string
trap 'st=$?; _usb_cleanup; (exit $st); _tb_cleanup' EXIT

# mkloop NAME TYPE LABEL: a 16 MiB image with filesystem TYPE (ext4,
# ext3, or none) labelled LABEL, attached to a loop device; prints it.
mkloop() {
	local img=$TMPD/$1.img dev
	dd if=/dev/zero of="$img" bs=1M count=16 status=none || return 1
	case $2 in
	none) ;;
	*) "mkfs.$2" -q -F -L "$3" "$img" >/dev/null || return 1 ;;
	esac
	dev=$(losetup -f --show "$img") || return 1
	echo "$dev"
}

# fakesys NAME DEV...: a sysfs root whose class/block holds only DEVs
# (links to the real entries); prints its path.
fakesys() {
	local root=$TMPD/sys-$1 d
	shift
	mkdir -p "$root/class/block"
	for d in "$@"; do
		ln -s "/sys/class/block/${d#/dev/}" "$root/class/block/${d#/dev/}"
	done
	echo "$root"
}

MNT=$TMPD/mnt
mkdir -p "$MNT"
GUI=$TMPD/gui.ini
printf '[export]\ndevice_filter = any\nmount_base = %s\n' "$MNT" >"$GUI"
GUI_USB=$TMPD/gui-usb.ini
printf '[export]\ndevice_filter = usb\nmount_base = %s\n' "$MNT" >"$GUI_USB"

# No TISBACKUP- mount anywhere, and no folder left in mount_base.
no_mount_left() {
	! grep -q ' [^ ]*/TISBACKUP-[0-9]* ' /proc/self/mountinfo &&
		[ -z "$(ls -A "$MNT")" ]
}

SRC=$TMPD/src
make_tree "$SRC"
cfg_global "$CONF"
cfg_job "$CONF" web "$SRC"
cfg_job "$CONF" nobackup "$TMPD/unused"
cfg_null "$CONF" nulljob
tb_run -c "$CONF" -s web backup
t_rc 0 "a real rsync+ssh backup of web to export"
S1=$(snapshots "$BASE/web" | tail -n 1)
[ -n "$S1" ] || t_bail "no snapshot of web: $(tb_show)"

A=$(mkloop a ext4 tisbackup) || t_bail "cannot set up a loop device"
LOOPS+=("$A")

ONLYA=$(fakesys onlya "$A")

# ================================================================ end to end
TB_SYSFS_ROOT=$ONLYA tb_run -c "$CONF" --gui-config "$GUI" -s web,nulljob exportbackup --usb
t_rc 0 "exportbackup --usb exits 0"
t_match "mounted $A at $MNT/TISBACKUP-[0-9]+$" "$T_ERR" \
	"the labelled loop device is mounted under mount_base/TISBACKUP-<epoch>"
MP=$(printf '%s\n' "$T_ERR" | sed -n "s|.*mounted $A at \(.*\)$|\1|p" | head -n 1)
t_match "unmounted $A and removed $MP: the disk can be unplugged" "$T_ERR" "then unmounted"
t_ok "the mount point is removed and nothing is mounted" no_mount_left
t_eq "OK|$MP/web" "$(csql "select status, backup_location from stats where backup_name = 'web' and TYPE = 'EXPORT'")" \
	"an OK EXPORT row names {mountpoint}/web"
mkdir -p "$TMPD/check"
if mount -o ro "$A" "$TMPD/check"; then
	MOUNTS+=("$TMPD/check")
	t_ok "the disk holds the latest backup of web" tree_equal "$BASE/web/$S1" "$TMPD/check/web"
	t_ok "and nothing for the null job" test ! -e "$TMPD/check/nulljob"
	umount "$TMPD/check"
else
	t_fail "mounting $A to check its contents"
fi

# ================================================================ option errors
tb_run -c "$CONF" --gui-config "$GUI" -x "$TMPD" exportbackup --usb
t_rc 2 "-x with --usb is a usage error"
t_match 'not both' "$T_ERR" "and says so"
tb_run -c "$CONF" --gui-config "$GUI" --usb backup
t_rc 2 "--usb with another action is a usage error"
printf '[export]\ndevice_filter = floppy\n' >"$TMPD/badgui.ini"
tb_run -c "$CONF" --gui-config "$TMPD/badgui.ini" exportbackup --usb
t_rc 3 "a bad device_filter is a configuration error"
t_match 'device_filter' "$T_ERR" "naming the key"
printf '[export]\nmount_base = mnt\n' >"$TMPD/badgui2.ini"
tb_run -c "$CONF" --gui-config "$TMPD/badgui2.ini" exportbackup --usb
t_rc 3 "a relative mount_base is a configuration error"
t_match 'mount_base: expected an absolute folder' "$T_ERR" "naming the key"

# ================================================================ dry run, real sysfs
# The machine's own /sys: the loop device is found among every block
# device, the disk holding / is not. (Another test's labelled loop device
# may exist at the same moment: then both are listed as "more than one".)
ROOTDEV=$(findmnt -n -o SOURCE / 2>/dev/null)
tb_run -c "$CONF" --gui-config "$GUI" -l debug -d -s web exportbackup --usb
if [ "$T_RC" = 0 ]; then
	t_match "dry run: would mount $A \(ext4\) at $MNT/TISBACKUP-<epoch>" "$T_ERR" \
		"a dry run on the real /sys names the loop device"
else
	t_match "there are [0-9]+ partitions labelled tisbackup \(.*${A}[,)]" "$T_ERR" \
		"a dry run on the real /sys finds the loop device (and another test's)"
fi
case $ROOTDEV in
/dev/*) t_nomatch "usb: ${ROOTDEV}[0-9p]* on" "$T_ERR" "the disk holding / is no candidate volume (debug log)" ;;
*) t_skip "the disk holding / is no candidate volume" "/ is on $ROOTDEV" ;;
esac
t_ok "a dry run mounts nothing" no_mount_left

# ================================================================ the four errors
rows0=$(csql "select count(*) from stats")

EMPTY=$(fakesys empty)
TB_SYSFS_ROOT=$EMPTY tb_run -c "$CONF" --gui-config "$GUI_USB" -s web exportbackup --usb
t_rc 1 "no disk: exit 1"
t_match 'ERROR exportbackup --usb: cannot find any external USB disk: plug the USB disk into the server' \
	"$T_ERR" "no disk: says to plug the USB disk in"
TB_SYSFS_ROOT=$ONLYA tb_run -c "$CONF" --gui-config "$GUI_USB" -s web exportbackup --usb
t_rc 1 "device_filter = usb: a loop device is no USB disk"
t_match 'cannot find any external USB disk' "$T_ERR" "device_filter = usb: no disk"

B=$(mkloop b none) || t_bail "cannot set up a loop device"
LOOPS+=("$B")
TB_SYSFS_ROOT=$(fakesys nofs "$B") tb_run -c "$CONF" --gui-config "$GUI" -s web exportbackup --usb
t_rc 1 "no partition: exit 1"
t_match "the disk $B has no partition: create one ext4 partition labelled tisbackup" "$T_ERR" \
	"no partition: names the disk and says what to create"

C=$(mkloop c ext4 photos) || t_bail "cannot set up a loop device"
LOOPS+=("$C")
TB_SYSFS_ROOT=$(fakesys nolabel "$B" "$C") tb_run -c "$CONF" --gui-config "$GUI" -s web exportbackup --usb
t_rc 1 "no such label: exit 1"
t_match "no partition labelled tisbackup on the disk $B, $C" "$T_ERR" "no such label: names the disks"
t_match "found $C: ext4, label 'photos'" "$T_ERR" "and lists what it found"

D=$(mkloop d ext3 TISBACKUP) || t_bail "cannot set up a loop device"
LOOPS+=("$D")
TB_SYSFS_ROOT=$(fakesys two "$A" "$C" "$D") tb_run -c "$CONF" --gui-config "$GUI" -s web exportbackup --usb
t_rc 1 "two labelled partitions: exit 1"
t_match "there are 2 partitions labelled tisbackup \($A, $D\): unplug all the disks but one" "$T_ERR" \
	"more than one: lists both (ext3 and an upper-case label count too)"

mkdir -p "$TMPD/busy"
if mount "$A" "$TMPD/busy"; then
	MOUNTS+=("$TMPD/busy")
	TB_SYSFS_ROOT=$ONLYA tb_run -c "$CONF" --gui-config "$GUI" -s web exportbackup --usb
	t_rc 1 "a labelled disk mounted elsewhere: exit 1"
	t_match "$A is labelled tisbackup but already mounted at $TMPD/busy: unmount it first" \
		"$T_ERR" "and says where it is mounted"
	umount "$TMPD/busy"
else
	t_fail "mounting $A elsewhere"
fi
t_eq "$rows0" "$(csql "select count(*) from stats")" "no disk, no export: no catalog row"
t_ok "every failed search left no mount point" no_mount_left

printf '[export]\ndevice_filter = any\nmount_base = %s\n' "$TMPD/nomnt" >"$TMPD/gui-nomnt.ini"
TB_SYSFS_ROOT=$ONLYA tb_run -c "$CONF" --gui-config "$TMPD/gui-nomnt.ini" -s web exportbackup --usb
t_rc 1 "a missing mount_base: exit 1"
t_match "creating the mount point $TMPD/nomnt/TISBACKUP-[0-9]+: No such file or directory" "$T_ERR" \
	"and names the mount point"

# ================================================================ failing exports unmount
TB_SYSFS_ROOT=$ONLYA tb_run -c "$CONF" --gui-config "$GUI" -s web,nobackup exportbackup --usb
t_rc 1 "an export with a job that has no backup exits 1"
t_match '\[nobackup\] export failed: no good backup to export' "$T_ERR" "the job's error is logged"
t_match "unmounted $A and removed" "$T_ERR" "the disk is still unmounted"
t_ok "and the mount point removed" no_mount_left
t_eq "ERROR" "$(csql "select status from stats where backup_name = 'nobackup' and TYPE = 'EXPORT'")" \
	"an ERROR EXPORT row for the failed job"

# SIGTERM in the middle of the rsync: the export stops, the disk is
# unmounted. rsync is slowed down with a popt alias in its $HOME/.popt
# (spawn passes HOME through; the export's own options stay as they are).
# At 40 KiB/s the 6 MiB take minutes: both exports that use it are stopped
# long before, so a loaded machine cannot let one finish first.
mkdir -p "$BASE/web/20250101-01h00m00" "$TMPD/home"
head -c $((6 * 1048576)) /dev/urandom >"$BASE/web/20250101-01h00m00/big.bin"
csql "update stats set backup_location = '$BASE/web/20250101-01h00m00' where backup_name = 'web' and TYPE = 'BACKUP'"
echo 'rsync alias --partial --bwlimit=40 --inplace' >"$TMPD/home/.popt"
(
	cd "$TMPD" || exit 1
	TB_SYSFS_ROOT=$ONLYA HOME=$TMPD/home exec "$TISBACKUP" -c "$CONF" --gui-config "$GUI" \
		-s web exportbackup --usb >"$TMPD/term.out" 2>"$TMPD/term.err"
) &
TPID=$!
tb_track "$TPID"
if wait_until 20 grep -qs 'export of .* to ' "$TMPD/term.err"; then
	# A second export while this one runs: refused, the first one untouched.
	TB_SYSFS_ROOT=$ONLYA tb_run -c "$CONF" --gui-config "$GUI" -s web exportbackup --usb
	t_rc 1 "a second USB export while one runs: exit 1"
	t_match "$A is labelled tisbackup but already mounted at $MNT/TISBACKUP-[0-9]+: another USB export is running" \
		"$T_ERR" "and says another USB export is running"
	t_eq 1 "$(ls "$MNT" | wc -l)" "the second export mounted nothing more"
	t_ok "the first export is still running" kill -0 "$TPID"
	kill -TERM "$TPID"
	wait "$TPID"
	trc=$?
	t_ne 0 "$trc" "an interrupted USB export exits non-zero"
	t_match "unmounted $A and removed" "$(cat "$TMPD/term.err")" "an interrupted export still unmounts"
	t_ok "and removes the mount point" no_mount_left
else
	t_fail "the slowed export did not start" "$(cat "$TMPD/term.err")"
	kill -TERM "$TPID"
	wait "$TPID"
fi

# ================================================================ through the queue
# POST /api/v1/runs {"action": "export"} without "exportdir": the worker
# mounts the disk (usb_attach), runs the export into it, and unmounts it
# whatever happens. serve answers the API; `tisbackup worker` runs the runs.
# shellcheck source=web.sh
. "$(dirname "${BASH_SOURCE[0]}")/web.sh"
tb_require curl python3
# serve's own worker would scan the real /sys: only `tisbackup worker` runs the runs.
web_config "queue.stop_grace = 1" "queue.workers = 2" "queue.lease_seconds = 5" \
	"queue.embedded_worker = no"
printf '\n[export]\ndevice_filter = any\nmount_base = %s\n' "$MNT" >>"$GUI"
web_user alice admin 'alice-pw-1' || t_bail "tisbackup user add failed"
web_start
AU=(-u alice:alice-pw-1)
post() { hcurl "${AU[@]}" -H 'Content-Type: application/json' -d "$1" "$WEB/api/v1/runs"; }
run_state() { curl -s "${AU[@]}" "$WEB/api/v1/runs/$1" | jq_py 'd["state"]'; }
run_field() { curl -s "${AU[@]}" "$WEB/api/v1/runs/$1" | jq_py "d[\"$2\"]"; }
run_ended() { case $(run_state "$1") in done | failed | cancelled) return 0 ;; esac; return 1; }
QW=
# qworker SYSFS HOME: (re)start `tisbackup worker` scanning SYSFS, with HOME.
qworker() {
	if [ -n "$QW" ]; then
		kill -TERM "$QW" 2>/dev/null
		wait "$QW" 2>/dev/null
	fi
	TB_SYSFS_ROOT=$1 HOME=$2 "$TISBACKUP" --gui-config "$GUI" worker \
		>>"$TMPD/worker.log" 2>&1 </dev/null &
	QW=$!
	tb_track "$QW"
}
mkdir -p "$TMPD/home-fast"

r=$(post '{"action": "export", "sections": ["web"]}')
t_eq 202 "$(st_of "$r")" "queue: an export without exportdir is accepted (202)"
ID=$(body_of "$r" | jq_py 'd["id"]')
t_eq null "$(run_field "$ID" exportdir)" "queue: the run has no exportdir (the USB disk)"
# With embedded_worker = no, serve claims nothing (a worker's claim wakes
# at once on the queue's WAL): the run waits for `tisbackup worker`.
sleep 2
t_eq queued "$(run_state "$ID")" "queue: embedded_worker = no: serve leaves the run queued"
qworker "$ONLYA" "$TMPD/home-fast"
wait_until 60 run_ended "$ID"
t_eq "done" "$(run_state "$ID")" "queue: the USB export run is done" "$(run_field "$ID" log)"
t_match "mounted at $MNT/TISBACKUP-[0-9]+" "$(cat "$TMPD/worker.log")" "queue: the worker mounted the disk"
t_ok "queue: unmounted, mount point removed" no_mount_left
t_match "^OK\|$MNT/TISBACKUP-[0-9]+/web$" \
	"$(csql "select status, backup_location from stats where backup_name = 'web' and TYPE = 'EXPORT' order by rowid desc limit 1")" \
	"queue: an OK EXPORT row on the mounted disk"

r=$(post '{"action": "export", "sections": ["nobackup"]}')
ID=$(body_of "$r" | jq_py 'd["id"]')
wait_until 60 run_ended "$ID"
t_eq failed "$(run_state "$ID")" "queue: an export whose job has no backup fails"
t_ok "queue: and still unmounts and removes the mount point" no_mount_left

# A second export while one runs: 409 for other sections, the same run for
# the same ones; then the running one is cancelled and still unmounts.
qworker "$ONLYA" "$TMPD/home"
# New contents, so that the slowed rsync has 6 MiB to copy again.
head -c $((6 * 1048576)) /dev/urandom >"$BASE/web/20250101-01h00m00/big.bin"
r=$(post '{"action": "export", "sections": ["web"]}')
ID=$(body_of "$r" | jq_py 'd["id"]')
mounted() { [ -n "$(ls -A "$MNT")" ] && [ "$(run_state "$ID")" = running ]; }
if wait_until 30 mounted; then
	r=$(post '{"action": "export", "sections": ["nulljob"]}')
	t_eq '409 sections' "$(st_of "$r") $(body_of "$r" | jq_py 'd["field"]')" \
		"queue: a second export of other sections while one runs: 409"
	t_match 'another export' "$(body_of "$r")" "queue: and the error says another export is in progress"
	r=$(post '{"action": "export", "sections": ["web"]}')
	t_eq "True $ID" "$(body_of "$r" | jq_py 'str(d["existing"])+" "+d["id"]')" \
		"queue: the same export again returns the running run"
	t_eq 1 "$(ls "$MNT" | wc -l)" "queue: one mount point only"
	hcurl "${AU[@]}" -X DELETE -H 'X-Requested-With: tisbackup' "$WEB/api/v1/runs/$ID" >/dev/null
	wait_until 30 run_ended "$ID"
	t_eq cancelled "$(run_state "$ID")" "queue: the running export is cancelled"
	t_ok "queue: a cancelled export unmounts and removes the mount point" no_mount_left
else
	t_fail "queue: the slowed export did not start" "$(tail -n 20 "$TMPD/worker.log")"
fi

qworker "$(fakesys none)" "$TMPD/home-fast"
r=$(post '{"action": "export", "sections": ["web"]}')
ID=$(body_of "$r" | jq_py 'd["id"]')
wait_until 60 run_ended "$ID"
t_eq failed "$(run_state "$ID")" "queue: no disk: the run fails"
t_match 'cannot find any external disk' "$(run_field "$ID" error)" "queue: with the reason as its error"
t_ok "queue: nothing mounted" no_mount_left
kill -TERM "$QW" 2>/dev/null
wait "$QW" 2>/dev/null
web_stop

t_done
