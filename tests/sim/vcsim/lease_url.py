#!/usr/bin/python3
"""Open an export lease on vcsimx with pyVmomi (independent of our client)
and print the first disk's NFC URL and the session cookie, one per line,
then keep the lease and session alive until stdin closes.
Usage: lease_url.py PORT CERTFILE PASSWORD_FILE VMNAME"""
import ssl
import sys
import time

from pyVim.connect import SmartConnect, Disconnect
from pyVmomi import vim


def main():
    port, certfile, pwfile, vmname = sys.argv[1:5]
    user, password = open(pwfile).read().split("\n")[:2]
    ctx = ssl.create_default_context(cafile=certfile)
    ctx.check_hostname = False
    si = SmartConnect(host="127.0.0.1", user=user, pwd=password, port=int(port), sslContext=ctx)
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    vm = [v for v in view.view if v.name == vmname][0]
    task = vm.CreateSnapshot_Task(name="bench", description="", memory=False, quiesce=False)
    while task.info.state in ("queued", "running"):
        time.sleep(0.1)
    snap = task.info.result
    lease = snap.ExportSnapshot()
    while lease.state == "initializing":
        time.sleep(0.1)
    url = [d for d in lease.info.deviceUrl if d.disk][0].url.replace("*", "127.0.0.1:" + port)
    print(url)
    print(si._stub.cookie.split(";")[0], flush=True)
    sys.stdin.read()
    lease.HttpNfcLeaseComplete()
    snap.RemoveSnapshot_Task(removeChildren=False)
    time.sleep(0.5)
    Disconnect(si)


if __name__ == "__main__":
    main()
