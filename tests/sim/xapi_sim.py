#!/usr/bin/python3
"""A XAPI (XCP-ng / XenServer) simulator for the xen-xva and copy-vm-xcp tests.

It follows the wire protocol of xapi (docs/drivers/xcp.md, SPEC-drivers 2.4
and 2.7), standard library only:

- one TCP port per --port that serves TLS and plain HTTP, told apart by the
  first byte (0x16: a TLS handshake), like `https://host` for XML-RPC and
  `http://host/export` on a pool;
- XML-RPC on POST / and /RPC2, answered the way xapi answers: untyped
  <value>text</value> strings, int64 as strings, refs "OpaqueRef:<uuid>",
  {Status: Success, Value} or {Status: Failure, ErrorDescription: [...]};
- sessions, HOST_IS_SLAVE on a --slave-port, VM/VBD/VDI/SR/VIF/network/pool/
  host/task objects, VM.snapshot/copy/destroy/clean_shutdown/start..., their
  Async.* forms as tasks with progress;
- GET /export?ref=|uuid=&session_id=|Basic&use_compression=&task_id= writes
  a real XVA, close-delimited HTTP/1.0: ustar, ova.xml first, then for each
  disk `Ref:N/%08d` 1 MiB chunks with `.xxhash` (XXH64, libxxhash through
  ctypes) or `.checksum` (SHA-1) members, all-zero chunks skipped but the
  first and the last, optional 0-byte keep-alive members, the end blocks;
  gzip (zlib) or zstd (the zstd binary) around the whole tar;
- PUT /import?session_id=|Basic&task_id=&sr_id= reads exactly
  Content-Length bytes (no chunked body, as xapi), takes a plain, gzip or
  zstd XVA whose first tar member is ova.xml, reads the whole tar, makes a
  Halted VM (ova.xml's name label) with its VDIs in the SR, and ends the
  task as xapi does: result the XML-RPC set of the new VM refs
  (<value><array><data><value>OpaqueRef:...), or failure with an
  IMPORT_ERROR_* (fault "import_fail": [error description] forces one;
  "import_delay": seconds keeps the task pending after the body came);
  each import is noted in /sim/state's "imports" (bytes, sha256, outcome);
- faults set through POST /sim/faults (JSON), the database through
  GET /sim/state, a JSON-lines call log (--log): {port, method, args (the
  password masked), status, err}.

Usage: xapi_sim.py --port P [--port P2] --cert C --key K --log FILE
                   [--config JSON] [--ready FILE]
"""

import argparse
import base64
import ctypes
import hashlib
import json
import os
import random
import socket
import ssl
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.parse
import uuid as uuidlib
import xmlrpc.client
import zlib
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import ThreadingMixIn

MIB = 1 << 20
LOCK = threading.RLock()


class Fail(Exception):
    """A XAPI Failure: its ErrorDescription list."""

    def __init__(self, *desc):
        super().__init__(desc[0])
        self.desc = [str(d) for d in desc]


def new_ref():
    return "OpaqueRef:" + str(uuidlib.uuid4())


def new_uuid():
    return str(uuidlib.uuid4())


# ---------------------------------------------------------------- hashing

try:
    _XXH = ctypes.CDLL("libxxhash.so.0")
    _XXH.XXH64.restype = ctypes.c_uint64
    _XXH.XXH64.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64]
except OSError:
    _XXH = None


def xxh64_hex(data):
    if _XXH is None:
        raise RuntimeError("libxxhash.so.0 missing: apt-get install libxxhash0")
    return "%016X" % _XXH.XXH64(data, len(data), 0)


# ---------------------------------------------------------------- database


class DB:
    def __init__(self, cfg):
        self.cfg = cfg
        self.user = cfg.get("user", "root")
        self.password = cfg.get("password", "secret")
        self.objs = {c: {} for c in ("VM", "VBD", "VDI", "SR", "VIF", "network", "pool", "host", "task", "session")}
        self.faults = {}
        self.vdi_in_use_left = 0
        self.restrictions = {"restrict_zstd_export": "false"}
        self.next_tar_ref = 10
        self.imports = []
        host = self.add("host", name_label="sim-host", address="127.0.0.1", API_version_major="2",
                        API_version_minor="20")
        self.add("pool", name_label="sim-pool", master=host)
        for sr in cfg.get("srs", ["local-sr", "backup-sr"]):
            self.add("SR", name_label=sr, type="ext", VDIs=[])
        for net in cfg.get("networks", ["net0", "backup-net"]):
            self.add("network", name_label=net, VIFs=[])
        for vm in cfg.get("vms", [{"name": "web01", "disks": [{"size": 3 * MIB + 4096}]}]):
            self.make_vm(vm)

    def add(self, cls, ref=None, **rec):
        ref = ref or new_ref()
        rec.setdefault("uuid", new_uuid())
        self.objs[cls][ref] = rec
        return ref

    def get(self, cls, ref):
        rec = self.objs[cls].get(ref)
        if rec is None:
            raise Fail("HANDLE_INVALID", cls, ref)
        return rec

    def sr_by_name(self, name):
        for r, rec in self.objs["SR"].items():
            if rec["name_label"] == name:
                return r
        raise Fail("UUID_INVALID", "SR", name)

    def make_vm(self, spec):
        vm = self.add("VM", name_label=spec["name"], name_description="", power_state=spec.get("power_state", "Running"),
                      is_a_snapshot=bool(spec.get("is_a_snapshot", False)),
                      is_a_template=bool(spec.get("is_a_template", False)),
                      snapshot_of="OpaqueRef:NULL", snapshots=[], other_config=dict(spec.get("other_config", {})),
                      VBDs=[], VIFs=[])
        rec = self.objs["VM"][vm]
        if spec.get("snapshot_of"):
            parent = self.vm_by_name(spec["snapshot_of"])
            rec["snapshot_of"] = parent
            rec["is_a_snapshot"] = True
            self.objs["VM"][parent]["snapshots"].append(vm)
        sr = self.sr_by_name(spec.get("sr", "local-sr"))
        for i, d in enumerate(spec.get("disks", [])):
            vdi = self.add("VDI", name_label="%s disk %d" % (spec["name"], i), virtual_size=int(d["size"]),
                           physical_utilisation=int(d.get("used", d["size"])), SR=sr,
                           seed=int(d.get("seed", random.randrange(1 << 30))),
                           zeros=list(d.get("zeros", [])), zero_from=int(d.get("zero_from", -1)),
                           tar_ref=self.tar_ref())
            self.objs["SR"][sr]["VDIs"].append(vdi)
            vbd = self.add("VBD", VM=vm, VDI=vdi, type="Disk", empty=False, userdevice=str(i), device="xvd" + "abcdefgh"[i])
            rec["VBDs"].append(vbd)
        if spec.get("cdrom", True):
            vbd = self.add("VBD", VM=vm, VDI="OpaqueRef:NULL", type="CD", empty=True, userdevice="3", device="xvdd")
            rec["VBDs"].append(vbd)
        net = self.net_by_name(spec.get("network", "net0"))
        vif = self.add("VIF", **self.vif_fields(vm, net, "0"))
        rec["VIFs"].append(vif)
        return vm

    def tar_ref(self):
        self.next_tar_ref += 3
        return "Ref:%d" % self.next_tar_ref

    @staticmethod
    def vif_fields(vm, net, device, mac=None):
        return dict(VM=vm, network=net, device=device, MAC=mac or "aa:bb:cc:%02x:%02x:%02x" % tuple(random.randrange(256) for _ in range(3)),
                    MTU="1500", current_operations={}, currently_attached=False, ipv4_allowed=[], ipv6_allowed=[],
                    locking_mode="network_default", other_config={}, qos_algorithm_params={}, qos_algorithm_type="",
                    qos_supported_algorithms=[], runtime_properties={}, status_code="0", status_detail="")

    def vm_by_name(self, name):
        for r, rec in self.objs["VM"].items():
            if rec["name_label"] == name:
                return r
        raise Fail("UUID_INVALID", "VM", name)

    def net_by_name(self, name):
        for r, rec in self.objs["network"].items():
            if rec["name_label"] == name:
                return r
        raise Fail("UUID_INVALID", "network", name)

    def clone_vm(self, src, label, sr=None, snapshot=False):
        s = self.get("VM", src)
        vm = self.add("VM", name_label=label, name_description="", power_state="Halted",
                      is_a_snapshot=snapshot, is_a_template=True if not snapshot and s["is_a_snapshot"] else snapshot,
                      snapshot_of=src if snapshot else "OpaqueRef:NULL", snapshots=[],
                      other_config=dict(s["other_config"]), VBDs=[], VIFs=[])
        rec = self.objs["VM"][vm]
        if snapshot:
            s["snapshots"].append(vm)
        for vbd in s["VBDs"]:
            b = self.get("VBD", vbd)
            vdi = b["VDI"]
            if vdi != "OpaqueRef:NULL" and b["type"] != "CD":
                d = self.get("VDI", vdi)
                nd = dict(d)
                nd.pop("uuid")
                nd["tar_ref"] = self.tar_ref()
                nd["SR"] = sr or d["SR"]
                vdi = self.add("VDI", **nd)
                self.objs["SR"][nd["SR"]]["VDIs"].append(vdi)
            nb = dict(b)
            nb.pop("uuid")
            nb["VM"] = vm
            nb["VDI"] = vdi
            rec["VBDs"].append(self.add("VBD", **nb))
        for vif in s["VIFs"]:
            f = dict(self.get("VIF", vif))
            f.pop("uuid")
            f["VM"] = vm
            if not snapshot:
                f["MAC"] = self.vif_fields(vm, f["network"], "0")["MAC"]
            rec["VIFs"].append(self.add("VIF", **f))
        return vm

    def destroy_vm(self, vm):
        rec = self.get("VM", vm)
        if rec["power_state"] != "Halted":
            raise Fail("VM_BAD_POWER_STATE", vm, "halted", rec["power_state"].lower())
        for vbd in rec["VBDs"]:
            self.objs["VBD"].pop(vbd, None)
        for vif in rec["VIFs"]:
            self.objs["VIF"].pop(vif, None)
        if rec["snapshot_of"] in self.objs["VM"]:
            p = self.objs["VM"][rec["snapshot_of"]]
            if vm in p["snapshots"]:
                p["snapshots"].remove(vm)
        del self.objs["VM"][vm]

    def chunk(self, vdi, i):
        """The bytes of chunk i of a VDI (deterministic: seed, zero ranges)."""
        size = vdi["virtual_size"]
        n = min(MIB, size - i * MIB)
        if i in vdi["zeros"] or (vdi["zero_from"] >= 0 and i >= vdi["zero_from"]):
            return bytes(n)
        pat = PATTERNS[(vdi["seed"] + i) % len(PATTERNS)]
        head = b"%d:%d:" % (vdi["seed"], i)
        return (head + pat[len(head):n]) if n >= len(head) else pat[:n]

    def state(self):
        out = {}
        for cls, objs in self.objs.items():
            if cls == "session":
                out[cls] = len(objs)
                continue
            out[cls] = {}
            for ref, rec in objs.items():
                out[cls][ref] = {k: v for k, v in rec.items() if k not in ("seed",)}
        out["imports"] = list(self.imports)
        return out


_rng = random.Random(1234)
PATTERNS = [_rng.randbytes(MIB) for _ in range(8)]


# ---------------------------------------------------------------- XML-RPC encoding


def xesc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def enc(v):
    if isinstance(v, bool):
        return "<value><boolean>%d</boolean></value>" % int(v)
    if isinstance(v, int):
        return "<value>%d</value>" % v
    if isinstance(v, float):
        return "<value><double>%r</double></value>" % v
    if isinstance(v, dict):
        return "<value><struct>%s</struct></value>" % "".join(
            "<member><name>%s</name>%s</member>" % (xesc(str(k)), enc(x)) for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return "<value><array><data>%s</data></array></value>" % "".join(enc(x) for x in v)
    return "<value>%s</value>" % xesc(str(v))


def response(value=None, fail=None):
    if fail is not None:
        body = {"Status": "Failure", "ErrorDescription": fail}
    else:
        body = {"Status": "Success", "Value": value}
    return ("<?xml version=\"1.0\"?><methodResponse><params><param>%s</param></params></methodResponse>"
            % enc(body)).encode()


def public(cls, rec):
    rec = {k: v for k, v in rec.items() if k not in ("seed", "zeros", "zero_from", "tar_ref")}
    for k, v in list(rec.items()):
        if isinstance(v, int) and not isinstance(v, bool):
            rec[k] = str(v)
    return rec


# ---------------------------------------------------------------- the simulator


class Sim:
    def __init__(self, args, cfg):
        self.db = DB(cfg)
        self.log_path = args.log
        self.ports = args.port
        self.slave_port = args.slave_port
        self.log_lock = threading.Lock()

    def log(self, port, method, args, status, err=None):
        line = json.dumps({"t": round(time.time(), 3), "port": port, "method": method, "args": args,
                           "status": status, "err": err})
        with self.log_lock, open(self.log_path, "a") as f:
            f.write(line + "\n")

    # -- RPC dispatch

    def call(self, port, method, params):
        shown = list(params)
        if method == "session.login_with_password" and len(shown) >= 2:
            shown[1] = "***"
        elif shown and shown[0] in self.db.objs["session"]:
            shown[0] = "SESSION"
        try:
            value = self.dispatch(port, method, list(params))
            self.log(port, method, shown, "Success")
            return response(value)
        except Fail as f:
            self.log(port, method, shown, "Failure", f.desc)
            return response(fail=f.desc)

    def session(self, ref):
        with LOCK:
            if ref not in self.db.objs["session"]:
                raise Fail("SESSION_INVALID", ref)

    def dispatch(self, port, method, p):
        db = self.db
        if method == "session.login_with_password":
            if not 2 <= len(p) <= 4:
                raise Fail("MESSAGE_PARAMETER_COUNT_MISMATCH", method, "2", str(len(p)))
            if port == self.slave_port:
                master = next(x for x in self.ports if x != port)
                raise Fail("HOST_IS_SLAVE", "127.0.0.1:%d" % master)
            if p[0] != db.user or p[1] != db.password:
                raise Fail("SESSION_AUTHENTICATION_FAILED", p[0], "Authentication failure")
            with LOCK:
                return db.add("session", user=p[0], originator=p[3] if len(p) > 3 else "")
        if not p:
            raise Fail("MESSAGE_PARAMETER_COUNT_MISMATCH", method, "1", "0")
        self.session(p[0])
        args = p[1:]
        if method == "session.logout":
            with LOCK:
                db.objs["session"].pop(p[0], None)
            return ""
        if method.startswith("Async."):
            return self.async_call(method[6:], args)
        return self.sync(method, args)

    def async_call(self, method, args):
        with LOCK:
            task = self.db.add("task", name_label="Async." + method, status="pending", progress=0.0, result="",
                               error_info=[], created=time.time(), cancel=False)

        def run():
            try:
                if method == "VM.snapshot" and self.db.faults.get("snapshot_delay"):
                    self.task_wait(task, float(self.db.faults["snapshot_delay"]))
                v = self.sync(method, args, task)
                with LOCK:
                    t = self.db.objs["task"].get(task)
                    if t:
                        t.update(status="success", progress=1.0, result=enc(v) if v != "" else "")
            except Fail as f:
                with LOCK:
                    t = self.db.objs["task"].get(task)
                    if t:
                        t.update(status="failure", progress=1.0, error_info=f.desc)

        threading.Thread(target=run, daemon=True).start()
        return task

    def task_wait(self, task, secs):
        end = time.time() + secs
        while time.time() < end:
            with LOCK:
                t = self.db.objs["task"].get(task)
                if t is None or t["cancel"]:
                    raise Fail("TASK_CANCELLED", task)
            time.sleep(0.05)

    def sync(self, method, args, task=None):
        db = self.db
        cls, _, op = method.partition(".")
        if cls not in db.objs or cls == "session":
            raise Fail("MESSAGE_METHOD_UNKNOWN", method)
        with LOCK:
            objs = db.objs[cls]
            if op == "get_all":
                return list(objs)
            if op == "get_all_records":
                return {r: public(cls, x) for r, x in objs.items()}
            if op == "get_by_name_label":
                return [r for r, x in objs.items() if x.get("name_label") == args[0]]
            if op == "get_by_uuid":
                for r, x in objs.items():
                    if x["uuid"] == args[0]:
                        return r
                raise Fail("UUID_INVALID", cls, args[0])
            if op == "get_record":
                return public(cls, db.get(cls, args[0]))
            if op == "get_restrictions" and cls == "pool":
                return db.restrictions
            if op.startswith("get_") and len(args) == 1:
                rec = db.get(cls, args[0])
                field = op[4:]
                if field not in rec:
                    raise Fail("MESSAGE_METHOD_UNKNOWN", method)
                return public(cls, {field: rec[field]})[field]
            if op.startswith("set_") and len(args) == 2:
                rec = db.get(cls, args[0])
                field = op[4:]
                if field not in rec:
                    raise Fail("MESSAGE_METHOD_UNKNOWN", method)
                rec[field] = args[1]
                return ""
            if op == "add_to_other_config":
                rec = db.get(cls, args[0])
                if args[1] in rec["other_config"]:
                    raise Fail("MAP_DUPLICATE_KEY", cls, "other_config", args[0], args[1])
                rec["other_config"][args[1]] = args[2]
                return ""
            if op == "remove_from_other_config":
                db.get(cls, args[0])["other_config"].pop(args[1], None)
                return ""
        handler = getattr(self, "op_%s_%s" % (cls, op), None)
        if handler is None:
            raise Fail("MESSAGE_METHOD_UNKNOWN", method)
        return handler(args, task)

    # -- operations

    def op_VM_snapshot(self, a, task):
        with LOCK:
            rec = self.db.get("VM", a[0])
            if rec["is_a_snapshot"] or rec["is_a_template"]:
                raise Fail("VM_IS_TEMPLATE", a[0])
            return self.db.clone_vm(a[0], a[1], snapshot=True)

    def op_VM_copy(self, a, task):
        with LOCK:
            rec = self.db.get("VM", a[0])
            if rec["power_state"] != "Halted":
                raise Fail("VM_BAD_POWER_STATE", a[0], "halted", rec["power_state"].lower())
            sr = self.db.get("SR", a[2]) and a[2]
            if self.db.faults.get("copy_fail"):
                raise Fail("SR_BACKEND_FAILURE_44", "", "There is insufficient space")
        if self.db.faults.get("copy_delay") and task:
            self.task_wait(task, float(self.db.faults["copy_delay"]))
        with LOCK:
            return self.db.clone_vm(a[0], a[1], sr=sr)

    def op_VM_destroy(self, a, task):
        with LOCK:
            self.db.destroy_vm(a[0])
            return ""

    def power(self, a, want_from, to, fail_key=None):
        with LOCK:
            rec = self.db.get("VM", a[0])
            if fail_key and self.db.faults.get(fail_key):
                raise Fail("VM_FAILED_START", a[0], "simulated")
            if rec["is_a_snapshot"] or rec["is_a_template"]:
                raise Fail("VM_IS_TEMPLATE", a[0])
            if rec["power_state"] not in want_from:
                raise Fail("VM_BAD_POWER_STATE", a[0], want_from[0].lower(), rec["power_state"].lower())
            rec["power_state"] = to
            return ""

    def op_VM_clean_shutdown(self, a, task):
        return self.power(a, ["Running"], "Halted")

    def op_VM_hard_shutdown(self, a, task):
        return self.power(a, ["Running", "Paused", "Suspended"], "Halted")

    def op_VM_start(self, a, task):
        return self.power(a, ["Halted"], "Running", "start_fail")

    def op_VBD_eject(self, a, task):
        with LOCK:
            b = self.db.get("VBD", a[0])
            if self.db.get("VM", b["VM"])["is_a_snapshot"]:
                raise Fail("OPERATION_NOT_ALLOWED", "VBD.eject on a snapshot")
            b.update(empty=True, VDI="OpaqueRef:NULL")
            return ""

    def op_VDI_destroy(self, a, task):
        with LOCK:
            d = self.db.get("VDI", a[0])
            if self.db.vdi_in_use_left > 0:
                self.db.vdi_in_use_left -= 1
                raise Fail("VDI_IN_USE", a[0], "destroy")
            for b in self.db.objs["VBD"].values():
                if b["VDI"] == a[0]:
                    b["VDI"] = "OpaqueRef:NULL"
            self.db.objs["SR"][d["SR"]]["VDIs"].remove(a[0])
            del self.db.objs["VDI"][a[0]]
            return ""

    def op_VIF_create(self, a, task):
        with LOCK:
            if self.db.faults.get("vif_create_fail"):
                raise Fail("INTERNAL_ERROR", "simulated VIF.create failure")
            r = a[0]
            vm = r["VM"]
            f = self.db.vif_fields(vm, r["network"], r["device"], r.get("MAC"))
            ref = self.db.add("VIF", **f)
            self.db.get("VM", vm)["VIFs"].append(ref)
            return ref

    def op_VIF_destroy(self, a, task):
        with LOCK:
            v = self.db.get("VIF", a[0])
            self.db.get("VM", v["VM"])["VIFs"].remove(a[0])
            del self.db.objs["VIF"][a[0]]
            return ""

    def op_VIF_move(self, a, task):
        with LOCK:
            if self.db.faults.get("no_vif_move"):
                raise Fail("MESSAGE_METHOD_UNKNOWN", "VIF.move")
            if self.db.faults.get("vif_create_fail"):
                raise Fail("INTERNAL_ERROR", "simulated VIF.move failure")
            self.db.get("VIF", a[0])["network"] = self.db.get("network", a[1]) and a[1]
            return ""

    def op_task_create(self, a, task):
        with LOCK:
            return self.db.add("task", name_label=a[0], status="pending", progress=0.0, result="",
                               error_info=[], created=time.time(), cancel=False)

    def op_task_cancel(self, a, task):
        with LOCK:
            t = self.db.get("task", a[0])
            if t["status"] == "pending":
                t["cancel"] = True
                t["status"] = "cancelling"
            return ""

    def op_task_destroy(self, a, task):
        with LOCK:
            self.db.get("task", a[0])
            del self.db.objs["task"][a[0]]
            return ""

    # -- /export

    def task_set(self, task, **kw):
        with LOCK:
            t = self.db.objs["task"].get(task)
            if t is not None:
                if t["cancel"] and "status" in kw and kw["status"] == "success":
                    kw["status"] = "cancelled"
                t.update(**kw)
            return t

    def task_cancelled(self, task):
        with LOCK:
            t = self.db.objs["task"].get(task)
            return t is not None and t["cancel"]


class Stop(Exception):
    pass


class XvaWriter:
    """Builds the XVA as xapi does, into an output (socket, maybe compressed)."""

    def __init__(self, out, faults, sim, task):
        self.out = out
        self.f = faults
        self.sim = sim
        self.task = task
        self.members = 0
        self.tarbytes = 0

    def raw(self, data):
        lim = self.f.get("truncate_bytes")
        if lim is not None and self.tarbytes + len(data) > lim:
            self.out.write(data[:max(0, lim - self.tarbytes)])
            raise Stop("truncated")
        self.out.write(data)
        self.tarbytes += len(data)

    def member(self, name, data):
        if self.sim.task_cancelled(self.task):
            raise Stop("cancelled")
        if self.f.get("truncate_at_member") == self.members:
            raise Stop("truncated at member")
        ti = tarfile.TarInfo(name)
        ti.size = len(data)
        ti.mtime = 0
        ti.mode = 0o644
        self.raw(ti.tobuf(format=tarfile.USTAR_FORMAT))
        if self.f.get("truncate_inside_member") == self.members:
            self.raw(data[:len(data) // 2])
            raise Stop("truncated inside member")
        self.raw(data)
        if len(data) % 512:
            self.raw(bytes(512 - len(data) % 512))
        self.members += 1
        if self.f.get("stall_at_member") == self.members:
            self.stall()

    def stall(self):
        secs = float(self.f.get("stall_sec", 0))
        self.out.flush()
        end = time.time() + secs
        p = 0.0
        while time.time() < end:
            if self.sim.task_cancelled(self.task):
                raise Stop("cancelled")
            if self.f.get("stall_progress"):
                p = min(0.9, p + 0.01)
                self.sim.task_set(self.task, progress=p)
            time.sleep(0.2)


def build_xva(w, db, vm, vdis, faults):
    rec = db.get("VM", vm)
    meta = {"version": {"hostname": "sim-host", "xapi_major": "1", "xapi_minor": "20", "export_vsn": "2"},
            "objects": [{"class": "VM", "id": "Ref:0", "snapshot": public("VM", rec)}]
            + [{"class": "VDI", "id": d["tar_ref"], "snapshot": public("VDI", d)} for d in vdis]}
    w.member("ova.xml", b'<?xml version="1.0" ?>' + enc(meta).encode())
    mode = faults.get("checksum", "xxhash")
    total = sum(d["virtual_size"] for d in vdis) or 1
    done = 0
    for d in sorted(vdis, key=lambda x: x["tar_ref"]):
        last = (d["virtual_size"] - 1) // MIB
        skipped = 0
        for i in range(last + 1):
            data = db.chunk(d, i)
            done += len(data)
            if i not in (0, last) and not any(data[:64]) and data.count(0) == len(data):
                skipped += 1
                if faults.get("keepalive_every") and skipped % int(faults["keepalive_every"]) == 0:
                    w.member("%s/%08d" % (d["tar_ref"], i), b"")
                    w.member("%s/%08d.%s" % (d["tar_ref"], i, mode), sum_of(b"", mode))
                continue
            name = "%s/%08d" % (d["tar_ref"], i)
            digest = sum_of(data, mode)
            if faults.get("corrupt_chunk") == i:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            w.member(name, data)
            w.member(name + "." + mode, digest)
            w.sim.task_set(w.task, progress=round(done / total, 3))
    w.raw(bytes(1024))


def sum_of(data, mode):
    if mode == "checksum":
        return hashlib.sha1(data).hexdigest().encode()
    return xxh64_hex(data).encode()


class Compressed:
    def __init__(self, sock, kind):
        self.sock = sock
        self.kind = kind
        self.proc = None
        if kind == "gzip":
            self.z = zlib.compressobj(1, zlib.DEFLATED, 31)
        elif kind == "zstd":
            self.proc = subprocess.Popen(["zstd", "-q", "-1", "-c"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            self.pump = threading.Thread(target=self._pump, daemon=True)
            self.pump.start()

    def _pump(self):
        try:
            while True:
                b = self.proc.stdout.read1(65536)
                if not b:
                    break
                self.sock.write(b)
                self.sock.flush()
        except OSError:
            pass

    def write(self, data):
        if self.kind == "gzip":
            self.sock.write(self.z.compress(data))
        elif self.kind == "zstd":
            self.proc.stdin.write(data)
        else:
            self.sock.write(data)

    def flush(self):
        if self.kind == "gzip":
            self.sock.write(self.z.flush(zlib.Z_SYNC_FLUSH))
        elif self.kind == "zstd":
            self.proc.stdin.flush()
        self.sock.flush()

    def close(self, complete):
        if self.kind == "gzip":
            if complete:
                self.sock.write(self.z.flush())
        elif self.kind == "zstd":
            if complete:
                self.proc.stdin.close()
                self.pump.join()
            else:
                self.proc.kill()
                self.pump.join()
            self.proc.wait()
        self.sock.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "xapi/1.20"

    def log_message(self, fmt, *a):
        pass

    @property
    def sim(self):
        return self.server.sim

    def port(self):
        return self.server.server_address[1]

    def reply(self, code, body, ctype="text/xml", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        path = self.path.split("?")[0]
        if path == "/sim/faults":
            f = json.loads(body or b"{}")
            with LOCK:
                self.sim.db.faults = f
                self.sim.db.vdi_in_use_left = int(f.get("vdi_in_use", 0))
                self.sim.db.restrictions["restrict_zstd_export"] = "true" if f.get("no_zstd") else "false"
            return self.reply(200, b"{}", "application/json")
        if path == "/sim/vm":
            with LOCK:
                ref = self.sim.db.make_vm(json.loads(body))
            return self.reply(200, json.dumps({"ref": ref}).encode(), "application/json")
        if path not in ("/", "/RPC2"):
            return self.reply(404, b"not found", "text/plain")
        try:
            params, method = xmlrpc.client.loads(body)
        except Exception as e:  # noqa: BLE001 - any parse error is the client's
            return self.reply(400, ("bad XML-RPC: %s" % e).encode(), "text/plain")
        self.reply(200, self.sim.call(self.port(), method, params))

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        if u.path == "/sim/state":
            with LOCK:
                s = json.dumps(self.sim.db.state(), default=str).encode()
            return self.reply(200, s, "application/json")
        if u.path == "/sim/vdi":
            # raw content of a VDI, for comparing with xva-img's output
            with LOCK:
                d = self.sim.db.get("VDI", q["ref"])
            self.send_response(200)
            self.send_header("Content-Length", str(d["virtual_size"]))
            self.end_headers()
            for i in range((d["virtual_size"] + MIB - 1) // MIB):
                self.wfile.write(self.sim.db.chunk(d, i))
            return None
        if u.path == "/export":
            return self.export(u, q)
        return self.reply(404, b"not found", "text/plain")

    def do_PUT(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        if u.path != "/import":
            self.close_connection = True
            return self.reply(404, b"not found", "text/plain")
        return self.import_xva(q)

    def authorised(self, q):
        db = self.sim.db
        auth = self.headers.get("Authorization", "")
        with LOCK:
            if q.get("session_id") in db.objs["session"]:
                return True
        if auth.startswith("Basic "):
            user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            return user == db.user and pw == db.password
        return False

    def import_xva(self, q):
        """PUT /import: the body into a spool file, checked, turned into a VM."""
        db = self.sim.db
        faults = dict(db.faults)
        shown = {k: ("***" if k == "session_id" else v) for k, v in q.items()}
        self.close_connection = True
        length = self.headers.get("Content-Length")
        note = {"bytes": 0, "sha256": "", "sr": q.get("sr_id"), "vm": None, "status": "",
                "session": q.get("session_id", "")}
        if not self.authorised(q):
            self.sim.log(self.port(), "PUT /import", shown, "401")
            return self.reply(401, b"<html><body><h1>HTTP 401 unauthorised</h1></body></html>", "text/html",
                              [("WWW-Authenticate", 'Basic realm="xapi"')])
        with LOCK:
            task = q.get("task_id")
            if task is not None and task not in db.objs["task"]:
                self.sim.log(self.port(), "PUT /import", shown, "404")
                return self.reply(404, b"task not found", "text/plain")
            if task is None:
                task = db.add("task", name_label="VM.import", status="pending", progress=0.0, result="",
                              error_info=[], created=time.time(), cancel=False)
            sr = q.get("sr_id")
        if length is None or self.headers.get("Transfer-Encoding"):
            self.sim.task_set(task, status="failure", error_info=["IMPORT_ERROR_CANNOT_HANDLE_CHUNKED"])
            self.sim.log(self.port(), "PUT /import", shown, "chunked")
            return self.reply(500, b"chunked encoding not supported", "text/plain", [("task-id", task)])
        want = int(length)
        spool = tempfile.TemporaryFile()
        h = hashlib.sha256()
        got = 0
        while got < want:
            b = self.rfile.read(min(1 << 16, want - got))
            if not b:
                break
            spool.write(b)
            h.update(b)
            got += len(b)
        note.update(bytes=got, sha256=h.hexdigest())
        err = None
        if got < want:
            err = ["IMPORT_ERROR_PREMATURE_EOF"]
        elif sr not in db.objs["SR"]:
            err = ["HANDLE_INVALID", "SR", str(sr)]
        elif faults.get("import_fail"):
            err = [str(x) for x in faults["import_fail"]]
        vm = None
        if err is None and faults.get("import_delay"):
            try:
                self.sim.task_wait(task, float(faults["import_delay"]))
            except Fail as f:
                err = f.desc
        if err is None:
            try:
                vm = self.import_tar(spool, sr)
            except Fail as f:
                err = f.desc
        spool.close()
        if err is not None:
            self.sim.task_set(task, status="failure", progress=1.0, error_info=err)
            note["status"] = "failure " + " ".join(err)
        else:
            self.sim.task_set(task, status="success", progress=1.0, result=enc([vm]))
            note.update(status="success", vm=vm)
        with LOCK:
            db.imports.append(note)
        self.sim.log(self.port(), "PUT /import", shown, note["status"], err)
        if got < want:
            return None
        return self.reply(200 if err is None else 500, b"", "text/plain", [("task-id", task)])

    def import_tar(self, spool, sr):
        """The spooled XVA (plain, gzip, zstd) read to its end; the new VM's ref."""
        spool.seek(0)
        magic = spool.read(4)
        spool.seek(0)
        plain = tempfile.TemporaryFile()
        try:
            if magic[:2] == b"\x1f\x8b":
                z = zlib.decompressobj(31)
                for b in iter(lambda: spool.read(1 << 16), b""):
                    plain.write(z.decompress(b))
                if not z.eof:
                    raise Fail("IMPORT_ERROR_PREMATURE_EOF")
            elif magic == b"\x28\xb5\x2f\xfd":
                if subprocess.run(["zstd", "-qdc"], stdin=spool, stdout=plain).returncode != 0:
                    raise Fail("IMPORT_ERROR_GENERIC", "zstd: corrupt stream")
            else:
                for b in iter(lambda: spool.read(1 << 16), b""):
                    plain.write(b)
            plain.seek(0)
            try:
                with tarfile.open(fileobj=plain, mode="r:") as t:
                    first = t.next()
                    if first is None or first.name != "ova.xml":
                        raise Fail("IMPORT_ERROR_UNEXPECTED_FILE", "ova.xml", first.name if first else "")
                    meta = t.extractfile(first).read().decode()
                    disks = {}
                    for m in t:
                        disks[m.name.split("/")[0]] = 1
            except (tarfile.TarError, EOFError, zlib.error) as e:
                raise Fail("IMPORT_ERROR_GENERIC", "tar: %s" % e)
        finally:
            plain.close()
        body = meta.split("?>", 1)[-1]
        try:
            (hdr,), _ = xmlrpc.client.loads("<methodResponse><params><param>%s</param></params></methodResponse>"
                                             % body)
        except Exception as e:  # noqa: BLE001 - any parse error is the archive's
            raise Fail("IMPORT_ERROR_GENERIC", "ova.xml: %s" % e)
        objs = hdr.get("objects", [])
        vmrec = next((o["snapshot"] for o in objs if o.get("class") == "VM"), None)
        if vmrec is None:
            raise Fail("IMPORT_ERROR_FAILED_TO_FIND_OBJECT", "VM")
        for o in objs:
            if o.get("class") == "VDI" and o["id"] not in disks:
                raise Fail("IMPORT_ERROR_FAILED_TO_FIND_OBJECT", o["id"])
        with LOCK:
            db = self.sim.db
            vm = db.add("VM", name_label=vmrec.get("name_label", ""), name_description="", power_state="Halted",
                        is_a_snapshot=False, is_a_template=False, snapshot_of="OpaqueRef:NULL", snapshots=[],
                        other_config={}, VBDs=[], VIFs=[])
            for i, o in enumerate(x for x in objs if x.get("class") == "VDI"):
                size = int(o["snapshot"].get("virtual_size", 0))
                vdi = db.add("VDI", name_label=o["snapshot"].get("name_label", ""), virtual_size=size,
                             physical_utilisation=size, SR=sr, seed=0, zeros=[], zero_from=0, tar_ref=db.tar_ref())
                db.objs["SR"][sr]["VDIs"].append(vdi)
                vbd = db.add("VBD", VM=vm, VDI=vdi, type="Disk", empty=False, userdevice=str(i),
                             device="xvd" + "abcdefgh"[i % 8])
                db.objs["VM"][vm]["VBDs"].append(vbd)
        return vm

    def export(self, u, q):
        db = self.sim.db
        faults = dict(db.faults)
        shown = {k: ("***" if k == "session_id" else v) for k, v in q.items()}
        auth = self.headers.get("Authorization", "")
        ok = False
        with LOCK:
            if q.get("session_id") in db.objs["session"]:
                ok = True
            elif auth.startswith("Basic "):
                user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
                ok = user == db.user and pw == db.password
        if faults.get("export_status") == 401 or not ok:
            self.sim.log(self.port(), "GET /export", shown, "401")
            self.close_connection = True
            return self.reply(401, b"<html><body><h1>HTTP 401 unauthorised</h1></body></html>", "text/html",
                              [("WWW-Authenticate", 'Basic realm="xapi"')])
        if faults.get("redirect_to") and self.port() != int(faults["redirect_to"]):
            loc = "https://127.0.0.1:%d/export?%s" % (int(faults["redirect_to"]), u.query)
            self.sim.log(self.port(), "GET /export", shown, "302")
            self.close_connection = True
            return self.reply(302, b"", "text/plain", [("Location", loc)])
        with LOCK:
            vm = q.get("ref")
            if vm is None and "uuid" in q:
                vm = next((r for r, x in db.objs["VM"].items() if x["uuid"] == q["uuid"]), None)
            if vm not in db.objs["VM"]:
                self.sim.log(self.port(), "GET /export", shown, "404")
                self.close_connection = True
                return self.reply(404, b"VM not found", "text/plain")
            rec = db.objs["VM"][vm]
            vdis = []
            for vbd in rec["VBDs"]:
                b = db.objs["VBD"][vbd]
                if b["type"] != "CD" and b["VDI"] in db.objs["VDI"]:
                    vdis.append(db.objs["VDI"][b["VDI"]])
            task = q.get("task_id")
            if task not in db.objs["task"]:
                task = db.add("task", name_label="export", status="pending", progress=0.0, result="",
                              error_info=[], created=time.time(), cancel=False)
        comp = q.get("use_compression", "false")
        kind = "gzip" if comp in ("true", "gzip") else "zstd" if comp == "zstd" else "plain"
        self.sim.log(self.port(), "GET /export", shown, "200")
        self.close_connection = True
        self.wfile.write(b"HTTP/1.0 200 OK\r\nServer: xapi/1.20\r\nContent-Type: application/octet-stream\r\n"
                         b"Content-Disposition: attachment; filename=\"export.xva\"\r\n"
                         b"task-id: " + task.encode() + b"\r\n\r\n")
        if faults.get("stall_at_member") == 0:
            XvaWriter(self.wfile, faults, self.sim, task).stall()
        out = Compressed(self.wfile, kind)
        w = XvaWriter(out, faults, self.sim, task)
        complete = False
        try:
            build_xva(w, db, vm, vdis, faults)
            complete = True
        except Stop as e:
            self.sim.task_set(task, status="cancelled" if "cancel" in str(e) else "failure",
                              error_info=["VDI_IO_ERROR", "Device I/O errors"] if "trunc" in str(e) else
                              ["TASK_CANCELLED", task])
        except OSError:
            self.sim.task_set(task, status="failure", error_info=["CLIENT_ERROR", "connection closed"])
        try:
            out.close(complete)
        except OSError:
            complete = False
        if complete:
            self.sim.task_set(task, status="success", progress=1.0)
        self.sim.log(self.port(), "export end", shown, "complete" if complete else "cut")
        try:
            self.wfile.flush()
            if isinstance(self.connection, ssl.SSLSocket):
                # close_notify, as stunnel in front of xapi sends it: the
                # end of a close-delimited body over TLS
                self.connection.settimeout(5)
                self.connection = self.connection.unwrap()
            self.connection.shutdown(socket.SHUT_RDWR)
        except (OSError, ValueError):
            pass


class Server(ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, sim, tls):
        super().__init__(addr, Handler)
        self.sim = sim
        self.tls = tls

    def finish_request(self, request, client_address):
        request.settimeout(60)
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            first = request.recv(1, socket.MSG_PEEK)
        except OSError:
            return
        if first == b"\x16":
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        request.settimeout(None)
        self.RequestHandlerClass(request, client_address, self)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, action="append", required=True)
    ap.add_argument("--slave-port", type=int, default=None)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--config", default=None)
    ap.add_argument("--ready", default=None)
    args = ap.parse_args()
    cfg = {}
    if args.config:
        with open(args.config) as f:
            cfg = json.load(f)
    sim = Sim(args, cfg)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(args.cert, args.key)
    servers = [Server(("127.0.0.1", p), sim, tls) for p in args.port]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    if args.ready:
        with open(args.ready + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(args.ready + ".tmp", args.ready)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
