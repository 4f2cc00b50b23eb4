#!/usr/bin/env bash
#
# The esx-vmdk driver against vcsimx (tests/sim/vcsim: govmomi's vcsim
# from Debian, extended with export leases, NFC downloads, CreateDescriptor
# and faults), built once into the build folder. The simulator is first
# checked with an independent client (pyVmomi, check_pyvmomi.py). Then:
# a hot export (files, SHA-256 manifest), an OVA (member order with
# tar tf, digests), a cold export with halt_vm, and every fault (lease
# error, task error, quiesce failure, NFC 403/500, truncated download,
# manifest mismatch, slow snapshot, slow shutdown, a lease kept alive
# across a slow download, API < 5.5, VM not found, SIGTERM hot and cold);
# after each one the simulator's state shows no snapshot left, the VM
# powered on, no lease open and the session logged out, and the job
# folder holds no unfinished work. TLS: CA file, pin, insecure, refused
# without them. No secret in any argv (sampled during a run), log or
# catalog row. register_existing, cleanup, checknagios and exportbackup
# work on the STAMP folders.

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tb_require_binary
tb_require curl sqlite3 openssl tar sha256sum
command -v go >/dev/null || t_bail "golang-go is not installed (scripts/setup-deps.sh)"
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import pyVmomi' 2>/dev/null ||
	t_bail "python3-pyvmomi is not installed (scripts/setup-deps.sh)"
tb_tmp

BUILD=${TB_BUILD_ROOT:-$TB_SOURCE_ROOT/build}
SIM=$("$TB_SOURCE_ROOT/tests/sim/vcsim/build.sh" "$BUILD") || t_bail "cannot build vcsimx"
PW='Vs-S3cr3t_pw!42'
VM=ha-host_VM0
BASE=$TMPD/base
mkdir -p "$BASE"
printf 'backup\n%s\n' "$PW" >"$TMPD/pw"
chmod 600 "$TMPD/pw"
printf 'backup\nWr0ng-pw\n' >"$TMPD/pw.bad"
chmod 600 "$TMPD/pw.bad"

# sim_start NAME [args...]: a simulator in the background; PORT_NAME, CERT_NAME.
sim_start() {
	local name=$1
	shift
	"$SIM" -portfile "$TMPD/port.$name" -certfile "$TMPD/cert.$name.pem" -passfile "$TMPD/pw" \
		"$@" >"$TMPD/sim.$name.log" 2>&1 </dev/null &
	tb_track $!
	wait_until 60 test -s "$TMPD/port.$name" || t_bail "vcsimx $name did not start: $(cat "$TMPD/sim.$name.log")"
	printf -v "PORT_$name" '%s' "$(cat "$TMPD/port.$name")"
}
sim_start esx -disk-size 1048576 -disks 2
sim_start vpx -vpx -disk-size 65536 -disks 1
CERT=$TMPD/cert.esx.pem

ctl() { curl -sS --cacert "$CERT" "https://127.0.0.1:$PORT_esx/_control/$1"; }
# st FIELD [VM]: one field of the simulator's state.
st() {
	ctl "state?vm=${2:-$VM}" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1]))' "$1"
}
fault() { ctl "fault?$1" >/dev/null; }
reset() { ctl reset >/dev/null; }

# --- the simulator, checked by an independent client
out=$(/usr/bin/python3 -W ignore "$TB_SOURCE_ROOT/tests/sim/vcsim/check_pyvmomi.py" "$PORT_esx" "$CERT" backup "$TMPD/pw" "$VM" 2>&1)
if printf '%s\n' "$out" | grep -q '^# all checks passed'; then
	t_pass "pyVmomi replays login, snapshot, ExportSnapshot, lease, NFC download vs manifest, CreateDescriptor, RemoveSnapshot, logout"
else
	t_fail "pyVmomi replays the driver's calls" "$out"
fi

CONF=$TMPD/tb.ini
# conf [key=value...]: a config with job vm0 on the ESX simulator.
# A key given replaces its default.
conf() {
	local -A kv=([type]=esx-vmdk [server_name]=$VM [esxhost]=127.0.0.1 [esx_port]=$PORT_esx
		[password_file]=$TMPD/pw [esx_ca_file]=$CERT)
	local a k args=()
	for a in "$@"; do kv[${a%%=*}]=${a#*=}; done
	for k in "${!kv[@]}"; do [ -n "${kv[$k]}" ] && args+=("$k=${kv[$k]}"); done
	cfg_global "$CONF"
	job_section "$CONF" vm0 "${args[@]}"
}
JOB=$BASE/vm0

# clean DESC [VMNAME]: the simulator and the job folder after a run.
clean() {
	local s
	s=$(ctl "state?vm=${2:-$VM}")
	t_match '"snapshots":0' "$s" "$1: no snapshot left"
	t_match '"power":"poweredOn"' "$s" "$1: the VM is powered on"
	t_match '"open_leases":0' "$s" "$1: no lease left open"
	t_match '"sessions":0' "$s" "$1: logged out"
	t_eq "$(ls -1 "$JOB" 2>/dev/null | grep -c -v -E "$STAMP_RE")" 0 "$1: no unfinished work in the job folder"
}
newest() { snapshots "$JOB" | tail -n 1; }

# --- hot export
conf
tb_run -c "$CONF" backup
t_eq "$(last_row vm0 status)" OK "hot export: OK"
t_match "VMDK backup from $VM OK" "$(last_row vm0 log)" "hot export: the log line"
d=$JOB/$(newest)
t_eq "$(last_row vm0 backup_location)" "$d" "hot export: backup_location is the STAMP folder"
t_eq "$(cd "$d" && ls | tr '\n' ' ')" "$VM-disk-0.vmdk $VM-disk-1.vmdk $VM.mf $VM.ovf " "hot export: ovf, mf and the disks"
t_ok "hot export: the SHA-256 manifest checks" sh -c "cd '$d' && sha256sum -c --quiet '$VM.mf'"
t_eq "$(stat -c %s "$d/$VM-disk-0.vmdk")" 1048576 "hot export: the disk's full size"
t_eq "$(head -c 4 "$d/$VM-disk-0.vmdk")" KDMV "hot export: a stream-optimized VMDK"
t_match "$VM-disk-1.vmdk" "$(cat "$d/$VM.ovf")" "hot export: the descriptor names the disks (CreateDescriptor)"
clean "hot export"
tb_run -c "$CONF" -s vm0 restore --to "$TMPD/restored"
t_rc 0 "restore --to DIR of the newest export: exit 0"
t_ok "restore: the ovf, mf and disks equal the backup's" diff -r "$d" "$TMPD/restored"
t_eq "$(csql "select status from stats where backup_name='vm0' and TYPE='RESTORE' order by rowid desc limit 1")" OK \
	"restore: a RESTORE row, OK"

# --- OVA
conf create_ovafile=yes
tb_run -c "$CONF" backup
t_eq "$(last_row vm0 status)" OK "OVA: OK"
d=$JOB/$(newest)
t_eq "$(ls "$d")" "$VM.ova" "OVA: one file in the STAMP folder"
t_eq "$(tar tf "$d/$VM.ova" | tr '\n' ' ')" "$VM.ovf $VM.mf $VM-disk-0.vmdk $VM-disk-1.vmdk " \
	"OVA: tar tf lists the ovf, the mf, then the disks"
mkdir -p "$TMPD/ova" && tar xf "$d/$VM.ova" -C "$TMPD/ova"
t_ok "OVA: its manifest checks every member" sh -c "cd '$TMPD/ova' && sha256sum -c --quiet '$VM.mf'"
t_ok "OVA: the descriptor is well-formed XML" /usr/bin/python3 -c 'import sys,xml.dom.minidom as m; m.parse(sys.argv[1])' "$TMPD/ova/$VM.ovf"
clean "OVA"

# --- faults: FAULT EXPECTED_STATUS LOG_REGEX DESC [keys...]
case_fault() {
	local f=$1 want=$2 re=$3 desc=$4
	shift 4
	conf "$@"
	reset
	[ -n "$f" ] && fault "$f"
	tb_run -c "$CONF" backup
	t_eq "$(last_row vm0 status)" "$want" "$desc: $want"
	t_imatch "$re" "$(last_row vm0 log)" "$desc: the log says why"
	reset
	clean "$desc"
}
case_fault lease-error=1 ERROR "lease" "lease in error"
case_fault task-error=CreateSnapshot_Task ERROR "injected failure of CreateSnapshot_Task" "snapshot task error"
case_fault nfc-status=403 ERROR "403" "NFC 403"
case_fault nfc-status=500 ERROR "500" "NFC 500"
case_fault nfc-truncate=100000 ERROR "disk disk-0.vmdk" "truncated download"
case_fault manifest-bad=1 ERROR "does not match the lease manifest" "manifest mismatch"
case_fault snapshot-delay=2 OK "VMDK backup" "slow snapshot"
case_fault quiesce-error=1 OK "VMDK backup" "quiesce failure"
t_match "without quiescing" "$T_ERR$T_OUT" "quiesce failure: a warning says the snapshot is not quiesced"
n0=$(snapshots "$JOB" | wc -l)
case_fault "lease-timeout=3&nfc-rate=400000" OK "VMDK backup" "a download longer than the lease timeout (kept alive)"
case_fault api-version=5.1 ERROR "ESXi >= 5.5 needed for a hot export" "ESXi 5.1 without halt_vm"
case_fault api-version=5.1 OK "VMDK backup" "ESXi 5.1 with halt_vm" halt_vm=yes
case_fault "" ERROR 'VM "ha-host_VM" not found on 127.0.0.1; close matches: "ha-host_VM0", "ha-host_VM1"' \
	"VM not found" server_name=ha-host_VM
case_fault shutdown-delay=2 OK "VMDK backup" "halt_vm with a slow guest shutdown" halt_vm=yes
t_match "powered on again" "$T_ERR$T_OUT" "halt_vm: the VM is powered on again"
case_fault nfc-status=500 ERROR "500" "halt_vm and a failing download" halt_vm=yes
case_fault "" ERROR "wrong user or password" "a wrong password" "password_file=$TMPD/pw.bad"
t_eq "$(($(snapshots "$JOB" | wc -l) - n0))" 3 "only the good runs left STAMP folders"

# --- a VM already off: ExportVm, no snapshot, left off
/usr/bin/python3 -W ignore - "$PORT_esx" "$CERT" "$TMPD/pw" ha-host_VM1 <<'PY' || t_fail "powering ha-host_VM1 off with pyVmomi"
import ssl, sys, time
from pyVim.connect import SmartConnect, Disconnect
from pyVmomi import vim
port, cert, pwf, name = sys.argv[1:5]
user, pw = open(pwf).read().split("\n")[:2]
ctx = ssl.create_default_context(cafile=cert)
ctx.check_hostname = False
si = SmartConnect(host="127.0.0.1", user=user, pwd=pw, port=int(port), sslContext=ctx)
c = si.RetrieveContent()
v = c.viewManager.CreateContainerView(c.rootFolder, [vim.VirtualMachine], True)
vm = [x for x in v.view if x.name == name][0]
vm.PowerOffVM_Task()
end = time.monotonic() + 30
while vm.runtime.powerState != "poweredOff" and time.monotonic() < end:
    time.sleep(0.1)
Disconnect(si)
PY
conf server_name=ha-host_VM1
tb_run -c "$CONF" backup
t_eq "$(last_row vm0 status)" OK "a VM already off: exported (ExportVm)"
t_match '"power":"poweredOff"' "$(ctl "state?vm=ha-host_VM1")" "a VM already off: left off"
t_match '"snapshots":0' "$(ctl "state?vm=ha-host_VM1")" "a VM already off: no snapshot taken"
t_ok "a VM already off: the manifest checks" sh -c "cd '$JOB/$(newest)' && sha256sum -c --quiet ha-host_VM1.mf"

# --- SIGTERM during the download, hot and cold
sigterm_case() {
	local desc=$1 pid
	shift
	conf "$@"
	reset
	fault nfc-rate=100000
	"$TISBACKUP" -c "$CONF" backup >"$TMPD/term.out" 2>&1 </dev/null &
	pid=$!
	tb_track "$pid"
	local seen=0 s
	for ((i = 0; i < 600; i++)); do
		s=$(ctl "state?vm=$VM")
		case $s in *'"open_leases":1'*) break ;; esac
		sleep 0.1
	done
	# secrets: sampled while the run is downloading
	printf '%s\n' "$PW" >"$TMPD/secrets"
	for ((i = 0; i < 5; i++)); do
		if cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\0' ' ' | grep -qF -f "$TMPD/secrets"; then
			seen=1
		fi
		sleep 0.1
	done
	t_eq "$seen" 0 "$desc: no process shows the password in its argv"
	kill -TERM "$pid"
	wait "$pid"
	reset
	t_eq "$(last_row vm0 status)" ERROR "$desc: ERROR"
	clean "$desc"
}
sigterm_case "SIGTERM during a hot export"
sigterm_case "SIGTERM during a cold export (halt_vm)" halt_vm=yes

# --- TLS
pin=$(openssl x509 -in "$CERT" -pubkey -noout | openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1)
tls_case() {
	local want=$1 desc=$2
	shift 2
	cfg_global "$CONF"
	job_section "$CONF" vm0 type=esx-vmdk "server_name=$VM" esxhost=127.0.0.1 "esx_port=$PORT_esx" \
		"password_file=$TMPD/pw" "$@"
	tb_run -c "$CONF" backup
	t_eq "$(last_row vm0 status)" "$want" "$desc: $want"
	clean "$desc"
}
tls_case ERROR "TLS: no CA file, no pin (the system's CAs refuse a self-signed certificate)"
t_imatch "certificate|SSL|TLS" "$(last_row vm0 log)" "TLS: the log names the certificate problem"
tls_case OK "TLS: the server's public key pinned" "esx_fingerprint=$pin"
tls_case ERROR "TLS: another key pinned" "esx_fingerprint=$(printf '%064d' 0)"
tls_case OK "TLS: esx_insecure = yes" esx_insecure=yes
tls_case ERROR "TLS: the CA file of another server" "esx_ca_file=$TMPD/cert.vpx.pem"

# --- password file, strictly
printf 'backup\n%s\nextra\n' "$PW" >"$TMPD/pw3" && chmod 600 "$TMPD/pw3"
printf 'backup\n%s' "$PW" >"$TMPD/pwnonl" && chmod 600 "$TMPD/pwnonl"
printf 'backup\n%s\n' "$PW" >"$TMPD/pwopen" && chmod 644 "$TMPD/pwopen"
conf "password_file=$TMPD/pw3"
tb_run -c "$CONF" backup
t_match "expected 2 lines \(user, password\)" "$(last_row vm0 log)" "password_file with 3 lines: refused, said so"
conf "password_file=$TMPD/pwnonl"
tb_run -c "$CONF" backup
t_eq "$(last_row vm0 status)" OK "password_file without a final newline: accepted"
conf "password_file=$TMPD/pwopen"
tb_run -c "$CONF" backup
t_match "chmod 600" "$(last_row vm0 log)" "password_file readable by others: refused, the fix named"
reset
clean "password files"

# --- vCenter model: nested folders, NFC URLs with a host
cfg_global "$CONF"
job_section "$CONF" vc type=esx-vmdk server_name=DC0_H0_VM0 esxhost=127.0.0.1 "esx_port=$PORT_vpx" \
	"password_file=$TMPD/pw" "esx_ca_file=$TMPD/cert.vpx.pem"
tb_run -c "$CONF" backup
t_eq "$(last_row vc status)" OK "vCenter: a VM found in a datacenter's folder, exported"
t_ok "vCenter: the manifest checks" sh -c "cd '$BASE/vc/$(snapshots "$BASE/vc" | tail -n 1)' && sha256sum -c --quiet DC0_H0_VM0.mf"

# --- secrets in logs and the catalog
if grep -rqaF -e "$PW" "$BASE" "$TMPD/.out" "$TMPD/.err" "$TMPD/term.out"; then
	t_fail "no password in any log or catalog row" "$(grep -rlaF -e "$PW" "$BASE" "$TMPD/term.out")"
else
	t_pass "no password in any log or catalog row"
fi

# --- register_existing, cleanup, checknagios, exportbackup
conf
tb_run -c "$CONF" -s vm0 checknagios
t_rc 0 "checknagios: OK after a fresh export"
last=$(newest)
csql "delete from stats where backup_name='vm0'"
tb_run -c "$CONF" -s vm0 register_existing
t_rc 0 "register_existing runs"
t_eq "$(csql "select count(*) from stats where backup_name='vm0' and backup_location='$JOB/$last'")" 1 \
	"register_existing records the STAMP folders"
mkdir "$JOB/20200101-00h00m00.partial"
tb_run -c "$CONF" -s vm0 cleanup
t_rc 0 "cleanup runs"
t_not "cleanup sweeps an expired crashed run's STAMP.partial" test -e "$JOB/20200101-00h00m00.partial"
t_ok "cleanup keeps the recent exports" test -d "$JOB/$last"
mkdir -p "$TMPD/export"
tb_run -c "$CONF" -s vm0 exportbackup -x "$TMPD/export"
t_rc 0 "exportbackup runs"
t_ok "exportbackup copies the newest export" sh -c "find '$TMPD/export/vm0' -name '$VM.mf' | grep -q ."

t_done
