#!/usr/bin/env python3
"""Check a switch simulator with an independent client (pexpect), so the
simulators and the driver's dialog engine cannot merely agree with each
other: log in the way the device's manual says, turn paging off, fetch the
configuration, and check that every line the dialog file expects in the
backup shows, in order, in what the device printed.

usage: check_sim.py MODEL PORT DIALOG.json USER PASSWORD [wrong]
With "wrong", log in with a wrong password and expect the device to refuse.
Prints "ok" and exits 0, or says what differs and exits 1.
"""
import json
import os
import re
import socket
import sys

import pexpect
import pexpect.fdpexpect

ANSI = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|[()#].|.)")

# Per model: the login conversation (pattern, answer) as the manuals show
# it, the command prompt, the pager-off and configuration commands.
LOGIN = {
    "procurve": ([("Press any key to continue", " "), ("Username: ", "U"), ("Password: ", "P")],
                 "ProCurve Switch 2524# ", "no page", "show config", "Invalid password"),
    "ios": ([("Username: ", "U"), ("Password: ", "P"), ("Switch>", "enable"), ("Password: ", "E")],
            "Switch#", "terminal length 0", "show running-config\nshow vlan", "Authentication failed"),
    "linksyssrw": ([("User Name:", "U"), ("Password:", "P"), ("Main Menu", "\x1a"), (">", "lcli"),
                    ("User Name:", "U"), ("Password:", "P")],
                   "console# ", "terminal datadump", "show startup-config", "Incorrect"),
    "dlinknextgen": ([("User Name:", "U"), ("Password:", "P")],
                     "DGS-1510-28#", "terminal length 0", "show running-config", "Login invalid"),
}


def main():
    model, port, dialog, user, password = sys.argv[1:6]
    wrong = len(sys.argv) > 6 and sys.argv[6] == "wrong"
    with open(dialog) as f:
        expected = json.load(f)["expected"]
    steps, prompt, pager_off, cmd, refusal = LOGIN[model]
    sock = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
    c = pexpect.fdpexpect.fdspawn(sock, encoding="latin-1", timeout=10)
    for pat, ans in steps:
        c.expect_exact(pat)
        if ans == "U":
            ans = user
        elif ans == "P":
            ans = password + ("x" if wrong else "")
        elif ans == "E":  # the enable secret, as the simulator was given it
            ans = os.environ.get("SWITCH_SIM_ENABLE") or password
        if ans in (" ", "\x1a"):
            c.send(ans)
        else:
            c.send(ans + "\r\n")
        if wrong and ans.startswith(password):
            c.expect_exact(refusal)
            print("ok: refused")
            return 0
    c.expect_exact(prompt)
    c.send(pager_off + "\r\n")
    c.expect_exact(prompt)
    text = ""
    for one in cmd.split("\n"):
        c.send(one + "\r\n")
        c.expect_exact(prompt)
        text += c.before
    got = [l.rstrip() for l in ANSI.sub("", text).replace("\r", "").split("\n")]
    i = 0
    for line in expected.split("\n"):
        if line == "":
            continue
        while i < len(got) and got[i] != line:
            i += 1
        if i == len(got):
            print("missing from the device's output: %r" % line)
            return 1
        i += 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
