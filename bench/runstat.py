#!/usr/bin/env python3
"""Interleaved runs of short commands: wall time, CPU time and page faults.

Usage: runstat.py [--cgroup DIR] [--cpu-of LABEL=PID]... [--ratio]
                  RUNS LABEL COMMAND [LABEL COMMAND]...

Each COMMAND is one shell-like string (split with shlex, run without a
shell; stdout and stderr go to /dev/null). Round after round, every
command runs once, so a change of the machine's load falls on all of them
alike. Children are started with posix_spawn (vfork: no copied pages are
counted) and reaped with wait4, whose rusage gives the child's own CPU time
and page faults (minor + major) and nothing of this script's.

Prints one line per command: median wall ms, CPU ms (user + system) and
page faults, and the minimum of the wall times.

--cgroup DIR adds "all": the CPU the cgroup DIR (v2 cpu.stat or v1
cpuacct.usage) used during the run, the client and every server it talked
to (a PostgreSQL backend forked for it, a pooler), when they run in it.
--cpu-of LABEL=PID adds the CPU process PID (a long-lived server: a pooler,
a pooled backend) used during the run, from /proc/PID/schedstat; PIDs given
the same LABEL are summed. --ratio adds each command's median wall and
"all" (or CPU) over the first command's.
"""
import os
import shlex
import statistics
import sys
import time


def cgroup_ns(d):
    """CPU nanoseconds used so far by cgroup d (None without one)."""
    if d is None:
        return None
    try:
        with open(os.path.join(d, "cpu.stat")) as f:
            for line in f:
                k, v = line.split()
                if k == "usage_usec":
                    return int(v) * 1000
    except OSError:
        pass
    with open(os.path.join(d, "cpuacct.usage")) as f:
        return int(f.read())


def pid_ns(pid):
    """CPU nanoseconds process pid ran so far (0 once it is gone)."""
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            return int(f.read().split()[0])
    except OSError:
        return 0


def run_once(argv, devnull, cgroup, pids):
    c0 = cgroup_ns(cgroup)
    p0 = [pid_ns(p) for _, p in pids]
    t0 = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ,
                         file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1),
                                       (os.POSIX_SPAWN_DUP2, devnull, 2)])
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    c1 = cgroup_ns(cgroup)
    others = {}
    for (label, p), before in zip(pids, p0):
        others[label] = others.get(label, 0) + (pid_ns(p) - before) / 1e9
    return (wall, ru.ru_utime + ru.ru_stime, ru.ru_minflt + ru.ru_majflt,
            os.waitstatus_to_exitcode(status),
            None if c0 is None else (c1 - c0) / 1e9, others)


def main():
    args = sys.argv[1:]
    cgroup, pids, ratio = None, [], False
    while args and args[0].startswith("--"):
        opt = args.pop(0)
        if opt == "--cgroup" and args:
            cgroup = args.pop(0)
        elif opt == "--cpu-of" and args and "=" in args[0]:
            label, pid = args.pop(0).rsplit("=", 1)
            pids.append((label, int(pid)))
        elif opt == "--ratio":
            ratio = True
        else:
            sys.exit(__doc__)
    if len(args) < 3 or len(args) % 2 != 1:
        sys.exit(__doc__)
    runs = int(args[0])
    cmds = []
    for i in range(1, len(args), 2):
        argv = shlex.split(args[i + 1])
        if "/" not in argv[0]:
            found = [os.path.join(d, argv[0]) for d in os.environ["PATH"].split(":")
                     if os.access(os.path.join(d, argv[0]), os.X_OK)]
            if not found:
                sys.exit("runstat: %s not found" % argv[0])
            argv[0] = found[0]
        cmds.append((args[i], argv))
    res = {label: [] for label, _ in cmds}
    devnull = os.open(os.devnull, os.O_WRONLY)
    for _ in range(3):  # warm-up: page cache, dentries
        for label, argv in cmds:
            run_once(argv, devnull, cgroup, pids)
    for _ in range(runs):
        for label, argv in cmds:
            res[label].append(run_once(argv, devnull, cgroup, pids))
    width = max(len(label) for label, _ in cmds)
    ref = None
    for label, _ in cmds:
        r = res[label]
        rcs = sorted({x[3] for x in r})
        wall = statistics.median(x[0] for x in r)
        cpu = statistics.median(x[1] for x in r)
        line = "  %-*s  wall %7.2f ms (min %6.2f)  cpu %6.2f ms  faults %5d" % (
            width, label, wall * 1e3, min(x[0] for x in r) * 1e3, cpu * 1e3,
            statistics.median(x[2] for x in r))
        total = cpu
        if cgroup is not None:
            total = statistics.median(x[4] for x in r)
            line += "  all %6.2f ms" % (total * 1e3)
        for name in dict.fromkeys(l for l, _ in pids):
            line += "  %s %5.2f ms" % (name, statistics.median(x[5][name] for x in r) * 1e3)
        if ratio:
            if ref is None:
                ref = (wall, total)
            line += "  %.2fx wall, %.2fx %s" % (wall / ref[0], total / ref[1],
                                               "all" if cgroup is not None else "cpu")
        print(line + ("" if rcs == [0] else "  (exit codes %s)" % rcs))


if __name__ == "__main__":
    main()
