#!/usr/bin/env bash
#
# The XAPI simulator against independent implementations, so it cannot
# just agree with our own client's mistakes: Debian's python3-os-xenapi
# (its XenAPI.py session, Failure and HOST_IS_SLAVE handling), GNU tar,
# Debian's xva-img (an XVA turned back into a raw disk, compared with the
# simulator's own VDI content), xxhsum, gzip and zstd; PUT /import with
# os_xenapi's session and urllib, the new VM seen through XenAPI.
#
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=xapi.sh
. "$(dirname "$0")/xapi.sh"

tb_tmp
tb_require openssl curl jq tar gzip zstd xxhsum xva-img
"$XAPI_PY" -c 'import os_xenapi' 2>/dev/null || t_bail "python3-os-xenapi is not installed"
cat >"$TMPD/sim.json" <<'J'
{"vms": [{"name": "web01", "disks": [{"size": 5246976, "zeros": [2, 3]}, {"size": 2097152}]}]}
J
xapi_sim_start "$TMPD/sim.json"

# 1. os_xenapi's XenAPI.Session: login, calls, Failure shapes, Async + task, HOST_IS_SLAVE.
out=$("$XAPI_PY" - "$XAPI_PORT" "$XAPI_SLAVE_PORT" "$XAPI_CERT" <<'PY' 2>&1
import ssl, sys, time
from os_xenapi.client import XenAPI
port, slave, cert = sys.argv[1], sys.argv[2], sys.argv[3]
ssl._create_default_https_context = lambda: ssl.create_default_context(cafile=cert)
s = XenAPI.Session("https://127.0.0.1:" + port)
s.xenapi.login_with_password("root", "secret", "1.0", "os-xenapi-test")
vm = s.xenapi.VM.get_by_name_label("web01")[0]
print("state", s.xenapi.VM.get_power_state(vm))
print("size", s.xenapi.VDI.get_virtual_size(s.xenapi.VBD.get_VDI(s.xenapi.VM.get_VBDs(vm)[0])))
t = s.xenapi.Async.VM.snapshot(vm, "snap")
while s.xenapi.task.get_status(t) == "pending":
    time.sleep(0.05)
rec = s.xenapi.task.get_record(t)
print("task", rec["status"], rec["progress"])
try:
    s.xenapi.VM.destroy("OpaqueRef:NULL")
except XenAPI.Failure as f:
    print("failure", f.details[0])
try:
    XenAPI.Session("https://127.0.0.1:" + port).xenapi.login_with_password("root", "wrong")
except XenAPI.Failure as f:
    print("auth", f.details[0], len(f.details))
try:
    XenAPI.Session("https://127.0.0.1:" + slave).xenapi.login_with_password("root", "secret")
except XenAPI.Failure as f:
    print("slave", f.details[0], f.details[1] == "127.0.0.1:" + port)
s.xenapi.session.logout()
PY
)
t_match '^state Running$' "$out" "os_xenapi: a VM's power state"
t_match '^size 5246976$' "$out" "os_xenapi: int64 values as strings"
t_match '^task success 1\.0$' "$out" "os_xenapi: Async.VM.snapshot gives a task that succeeds"
t_match '^failure HANDLE_INVALID$' "$out" "os_xenapi: Failure with an ErrorDescription"
t_match '^auth SESSION_AUTHENTICATION_FAILED 3$' "$out" "os_xenapi: a wrong password, three elements"
t_match '^slave HOST_IS_SLAVE True$' "$out" "os_xenapi: HOST_IS_SLAVE names the master"
t_eq 0 "$(xapi_state .session)" "os_xenapi: session.logout ends the session"
t_nomatch 'secret' "$(cat "$XAPI_LOG")" "the call log never shows the password"

uuid=$(xapi_state '.VM[] | select(.name_label == "web01") | .uuid')
url="http://127.0.0.1:$XAPI_PORT/export?uuid=$uuid"

# 2. SHA-1 (.checksum) XVA: GNU tar lists ova.xml first; xva-img rebuilds each disk identically.
xapi_faults '{"checksum": "checksum"}'
mkdir "$TMPD/sha1" && cd "$TMPD/sha1" || t_bail "cd"
curl -sf -u root:secret "$url&use_compression=false" -o e.xva
t_eq "ova.xml" "$(tar tf e.xva | head -1)" "tar: ova.xml is the first member"
t_ok "tar: the plain XVA extracts" tar xf e.xva
zeros=$(ls Ref:*/00000002 Ref:*/00000003 2>/dev/null | wc -l)
t_eq 0 "$zeros" "all-zero chunks (not the first or last) are omitted"
for dir in Ref:*; do
	vdi=$(xapi_state ".VDI | to_entries[] | select(.value.tar_ref == \"$dir\") | .key")
	t_ok "xva-img: $dir converts" xva-img disk-export "$dir" "$dir.raw"
	curl -sf "http://127.0.0.1:$XAPI_PORT/sim/vdi?ref=$vdi" -o "$dir.sim"
	t_ok "xva-img: $dir is the simulator's disk byte for byte" cmp "$dir.raw" "$dir.sim"
done
cd "$TMPD" || exit 1

# 3. XXH64 (.xxhash) XVA, gzip and zstd: xxhsum agrees with every checksum member.
xapi_faults '{"keepalive_every": 1}'
for comp in true zstd; do
	mkdir "$TMPD/x$comp" && cd "$TMPD/x$comp" || t_bail "cd"
	curl -sf -u root:secret "$url&use_compression=$comp" -o e.xva
	if [ $comp = true ]; then
		t_ok "gzip: the stream is complete" gzip -t e.xva
		gzip -dc e.xva >e.tar
	else
		t_ok "zstd: the stream is complete" zstd -qt e.xva
		zstd -qdc e.xva >e.tar
	fi
	tar xf e.tar
	bad=0 n=0
	for f in Ref:*/*.xxhash; do
		want=$(cat "$f")
		got=$(xxhsum -H64 <"${f%.xxhash}" | cut -d' ' -f1 | tr a-f A-F)
		[ "$want" = "$got" ] || bad=$((bad + 1))
		n=$((n + 1))
	done
	t_eq 0 "$bad" "$comp: xxhsum -H64 agrees with all $n .xxhash members"
	empty=$(find Ref:* -type f -size 0 | wc -l)
	t_num_ge 1 "$empty" "$comp: keep-alive members are empty chunks"
	cd "$TMPD" || exit 1
done

# 4. PUT /import with os_xenapi's session and a urllib PUT, as XenCenter-style
#    clients do it: task.create, PUT ?session_id&task_id&sr_id with Content-Length,
#    the task's result an XML-RPC set of VM refs, the new VM seen through XenAPI.
xapi_faults '{}'
out=$("$XAPI_PY" - "$XAPI_PORT" "$XAPI_CERT" "$TMPD/xtrue/e.xva" <<'PY' 2>&1
import os, ssl, sys, time, urllib.parse, urllib.request, urllib.error, xmlrpc.client
from os_xenapi.client import XenAPI
port, cert, xva = sys.argv[1], sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=cert)
ssl._create_default_https_context = lambda: ctx
s = XenAPI.Session("https://127.0.0.1:" + port)
s.xenapi.login_with_password("root", "secret", "1.0", "os-xenapi-test")
sr = s.xenapi.SR.get_by_name_label("backup-sr")[0]
before = len(s.xenapi.VM.get_all())

def put(data, task, sr_ref):
    q = urllib.parse.urlencode({"session_id": s._session, "task_id": task, "sr_id": sr_ref})
    rq = urllib.request.Request("https://127.0.0.1:%s/import?%s" % (port, q), data=data, method="PUT",
                                headers={"Content-Length": str(len(data))})
    try:
        return urllib.request.urlopen(rq, context=ctx).status
    except urllib.error.HTTPError as e:
        return e.code

def wait(task):
    while s.xenapi.task.get_status(task) == "pending":
        time.sleep(0.05)
    return s.xenapi.task.get_status(task)

data = open(xva, "rb").read()
task = s.xenapi.task.create("import", "")
print("put", put(data, task, sr))
print("status", wait(task))
res = s.xenapi.task.get_result(task)
(refs,), _ = xmlrpc.client.loads("<methodResponse><params><param>%s</param></params></methodResponse>" % res)
vm = refs[0]
print("result", type(refs).__name__, len(refs), vm.startswith("OpaqueRef:"))
print("name", s.xenapi.VM.get_name_label(vm))
print("power", s.xenapi.VM.get_power_state(vm))
disks = [b for b in s.xenapi.VM.get_VBDs(vm) if s.xenapi.VBD.get_type(b) == "Disk"]
print("disks", len(disks), all(s.xenapi.VDI.get_SR(s.xenapi.VBD.get_VDI(b)) == sr for b in disks))
print("vms", len(s.xenapi.VM.get_all()) - before)
s.xenapi.task.destroy(task)
task = s.xenapi.task.create("import", "")
print("bad", put(b"not a tar at all" * 64, task, sr), wait(task), s.xenapi.task.get_error_info(task)[0])
s.xenapi.task.destroy(task)
task = s.xenapi.task.create("import", "")
print("nosr", put(data, task, "OpaqueRef:NULL"), wait(task), s.xenapi.task.get_error_info(task)[0])
s.xenapi.task.destroy(task)
s.xenapi.session.logout()
PY
)
t_match '^put 200$' "$out" "import: the PUT of an XVA is answered 200"
t_match '^status success$' "$out" "import: the task succeeds"
t_match '^result list 1 True$' "$out" "import: the task's result is an XML-RPC set of one VM ref"
t_match '^name web01$' "$out" "import: the new VM has the name label of the XVA's ova.xml"
t_match '^power Halted$' "$out" "import: the new VM is halted"
t_match '^disks 2 True$' "$out" "import: its two disks are in the SR of sr_id"
t_match '^vms 1$' "$out" "import: exactly one new VM"
t_match '^bad [0-9]+ failure IMPORT_ERROR_' "$out" "import: a body that is not an XVA fails the task"
t_match '^nosr [0-9]+ failure HANDLE_INVALID$' "$out" "import: an unknown sr_id fails the task"
t_eq "$(stat -c %s "$TMPD/xtrue/e.xva")" "$(xapi_state '.imports[0].bytes')" \
	"import: the simulator received exactly Content-Length bytes"
t_nomatch 'secret' "$(cat "$XAPI_LOG")" "the call log never shows the password"

# 5. Faults as a client sees them.
xapi_faults '{"export_status": 401}'
code=$(curl -s -o /dev/null -w '%{http_code}' "$url&session_id=x")
t_eq 401 "$code" "fault: 401 on /export"
xapi_faults "{\"redirect_to\": $XAPI_SLAVE_PORT}"
loc=$(curl -s -o /dev/null -w '%{redirect_url}' -u root:secret "$url&use_compression=false")
t_match "^https://127.0.0.1:$XAPI_SLAVE_PORT/export\?" "$loc" "fault: 302 to https on the other port"
xapi_faults '{"truncate_inside_member": 3}'
curl -s -u root:secret "$url&use_compression=false" -o cut.xva
t_not "fault: a stream cut inside a member fails tar" tar tf cut.xva
task=$(xapi_state '[.task[] | select(.name_label == "export")] | last | .status')
t_eq failure "$task" "fault: the export task of a cut stream ends in failure"
xapi_faults '{}'
t_done
