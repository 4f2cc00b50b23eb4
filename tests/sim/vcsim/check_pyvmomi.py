#!/usr/bin/python3
"""Replay the esx-vmdk driver's vSphere calls against vcsimx with Debian's
pyVmomi, an independent client, so the simulator and our C client cannot
agree on a mistake: login, find the VM, snapshot, ExportSnapshot, wait for
the lease, read its info, download one disk with the session cookie, check
it against the lease manifest, progress, complete, CreateDescriptor,
RemoveSnapshot, ExportVm refused on a running VM, logout.
Usage: check_pyvmomi.py PORT CERTFILE USER PASSWORD_FILE VMNAME
Prints TAP-like "ok"/"not ok" lines; exits 1 on the first failure."""
import hashlib
import ssl
import sys
import time
import urllib.request

from pyVim.connect import SmartConnect, Disconnect
from pyVmomi import vim, vmodl


def check(cond, what):
    print(("ok - " if cond else "not ok - ") + what)
    if not cond:
        sys.exit(1)


def wait_task(task, limit=30):
    end = time.monotonic() + limit
    while task.info.state in ("queued", "running"):
        if time.monotonic() > end:
            raise RuntimeError("task timed out")
        time.sleep(0.1)
    if task.info.state == "error":
        raise RuntimeError(task.info.error.localizedMessage)
    return task.info.result


def main():
    port, certfile, user, pwfile, vmname = sys.argv[1:6]
    with open(pwfile) as f:
        password = f.read().split("\n")[1]
    ctx = ssl.create_default_context(cafile=certfile)
    ctx.check_hostname = False
    si = SmartConnect(host="127.0.0.1", user=user, pwd=password, port=int(port), sslContext=ctx)
    try:
        content = si.RetrieveContent()
        check(content.about.apiVersion >= "5.5", "apiVersion %s" % content.about.apiVersion)
        view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
        vms = [v for v in view.view if v.name == vmname]
        view.Destroy()
        check(len(vms) == 1, "VM %s found" % vmname)
        vm = vms[0]
        check(vm.runtime.powerState == "poweredOn", "VM is powered on")
        try:
            vm.ExportVm()
            check(False, "ExportVm refused on a running VM")
        except vim.fault.InvalidPowerState:
            check(True, "ExportVm refused on a running VM (InvalidPowerState)")
        snap = wait_task(vm.CreateSnapshot_Task(name="pyvmomi", description="check",
                                                memory=False, quiesce=True))
        check(isinstance(snap, vim.VirtualMachineSnapshot), "snapshot %s" % snap._moId)
        lease = snap.ExportSnapshot()
        end = time.monotonic() + 10
        while lease.state == "initializing" and time.monotonic() < end:
            time.sleep(0.1)
        check(lease.state == "ready", "lease ready")
        info = lease.info
        check(info.leaseTimeout > 0, "leaseTimeout %d" % info.leaseTimeout)
        disks = [d for d in info.deviceUrl if d.disk]
        check(len(disks) >= 1, "%d disk URLs" % len(disks))
        url = disks[0].url.replace("*", "127.0.0.1:%s" % port)
        cookie = si._stub.cookie.split(";")[0]
        req = urllib.request.Request(url, headers={"Cookie": cookie})
        h = hashlib.sha1()
        n = 0
        with urllib.request.urlopen(req, context=ctx) as r:
            while True:
                b = r.read(1 << 16)
                if not b:
                    break
                h.update(b)
                n += len(b)
        lease.HttpNfcLeaseProgress(50)
        manifest = {e.key: e for e in lease.HttpNfcLeaseGetManifest()}
        m = manifest[disks[0].key]
        check(m.sha1 == h.hexdigest() and m.size == n,
              "disk %s: %d bytes, sha1 matches the manifest" % (disks[0].targetId, n))
        check(open(sys.argv[2], "rb") is not None and n == disks[0].fileSize, "fileSize matches")
        try:
            urllib.request.urlopen(urllib.request.Request(url), context=ctx)
            check(False, "NFC refused without the session cookie")
        except urllib.error.HTTPError as e:
            check(e.code == 403, "NFC refused without the session cookie (403)")
        lease.HttpNfcLeaseComplete()
        cdp = vim.OvfManager.CreateDescriptorParams(
            ovfFiles=[vim.OvfManager.OvfFile(deviceId=d.key, path=vmname + "-" + d.targetId,
                                             size=d.fileSize) for d in disks])
        res = content.ovfManager.CreateDescriptor(obj=vm, cdp=cdp)
        check("<Envelope" in res.ovfDescriptor and (vmname + "-disk-0.vmdk") in res.ovfDescriptor,
              "CreateDescriptor names the files")
        # vcsim 0.24 gives this task the snapshot as TaskInfo.entity, which
        # pyVmomi refuses to parse: wait on the VM's snapshot property.
        snap.RemoveSnapshot_Task(removeChildren=False)
        end = time.monotonic() + 30
        while vm.snapshot is not None and time.monotonic() < end:
            time.sleep(0.1)
        check(vm.snapshot is None, "no snapshot left")
    finally:
        Disconnect(si)
    print("# all checks passed")


if __name__ == "__main__":
    main()
