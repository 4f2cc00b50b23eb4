#!/usr/bin/env python3
"""Interleaved runs of short commands: wall time, CPU time and page faults.

Usage: runstat.py RUNS LABEL COMMAND [LABEL COMMAND]...

Each COMMAND is one shell-like string (split with shlex, run without a
shell; stdout and stderr go to /dev/null). Round after round, every
command runs once, so a change of the machine's load falls on all of them
alike. Children are started with posix_spawn (vfork: no copied pages are
counted) and reaped with wait4, whose rusage gives the child's own CPU time
and page faults (minor + major) and nothing of this script's.

Prints one line per command: median wall ms, CPU ms (user + system) and
page faults, and the minimum of the wall times.
"""
import os
import shlex
import statistics
import sys
import time


def run_once(argv, devnull):
    t0 = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ,
                         file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1),
                                       (os.POSIX_SPAWN_DUP2, devnull, 2)])
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    return (wall, ru.ru_utime + ru.ru_stime, ru.ru_minflt + ru.ru_majflt,
            os.waitstatus_to_exitcode(status))


def main():
    if len(sys.argv) < 4 or len(sys.argv) % 2 != 0:
        sys.exit(__doc__)
    runs = int(sys.argv[1])
    cmds = []
    for i in range(2, len(sys.argv), 2):
        argv = shlex.split(sys.argv[i + 1])
        if "/" not in argv[0]:
            found = [os.path.join(d, argv[0]) for d in os.environ["PATH"].split(":")
                     if os.access(os.path.join(d, argv[0]), os.X_OK)]
            if not found:
                sys.exit("runstat: %s not found" % argv[0])
            argv[0] = found[0]
        cmds.append((sys.argv[i], argv))
    res = {label: [] for label, _ in cmds}
    devnull = os.open(os.devnull, os.O_WRONLY)
    for _ in range(3):  # warm-up: page cache, dentries
        for label, argv in cmds:
            run_once(argv, devnull)
    for _ in range(runs):
        for label, argv in cmds:
            res[label].append(run_once(argv, devnull))
    width = max(len(label) for label, _ in cmds)
    for label, _ in cmds:
        r = res[label]
        rcs = sorted({x[3] for x in r})
        print("  %-*s  wall %7.2f ms (min %6.2f)  cpu %6.2f ms  faults %5d%s" % (
            width, label,
            statistics.median(x[0] for x in r) * 1e3, min(x[0] for x in r) * 1e3,
            statistics.median(x[1] for x in r) * 1e3,
            statistics.median(x[2] for x in r),
            "" if rcs == [0] else "  (exit codes %s)" % rcs))


if __name__ == "__main__":
    main()
