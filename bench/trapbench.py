#!/usr/bin/env python3
"""Time trapped port accesses: run each command RUNS times, alternating; the
guest (bench/guest bench-trap) prints a marker line before and after N port
writes and N port reads; the time between markers, divided by N, is the cost
of one access. Prints medians per command and ratios against the first.

usage: trapbench.py RUNS N NAME=CMD [NAME=CMD ...]"""
import shlex, statistics, sys

from benchlib import run_markers

MARKS = [b"trap: writes begin\n", b"trap: writes end\n", b"trap: reads begin\n",
         b"trap: reads end\n"]

def run_once(argv):
    seen, buf, _, _ = run_markers(argv, MARKS)
    if len(seen) < len(MARKS):
        sys.stderr.write("%s: markers missing: %r\n" % (argv[0], buf[-300:]))
        return None
    return seen[MARKS[1]] - seen[MARKS[0]], seen[MARKS[3]] - seen[MARKS[2]]

def main():
    runs, n = int(sys.argv[1]), int(sys.argv[2])
    cmds = [(s.split("=", 1)[0], shlex.split(s.split("=", 1)[1])) for s in sys.argv[3:]]
    res = {name: [] for name, _ in cmds}
    for _ in range(runs):
        for name, argv in cmds:
            r = run_once(argv)
            if r:
                res[name].append(r)
    med = {}
    print("%-22s %5s %14s %14s" % ("", "runs", "write (out)", "read (in)"))
    for name, _ in cmds:
        if not res[name]:
            print("%-22s %5d %14s %14s" % (name, 0, "-", "-"))
            continue
        w = statistics.median(x[0] for x in res[name]) / n * 1e6
        r = statistics.median(x[1] for x in res[name]) / n * 1e6
        med[name] = (w, r)
        print("%-22s %5d %11.2f us %11.2f us" % (name, len(res[name]), w, r))
    for a, b in [(cmds[i][0], cmds[j][0]) for i in range(len(cmds)) for j in range(len(cmds)) if i != j]:
        if a in med and b in med and a.startswith("vmm-process"):
            print("%s / %s: write %.3f, read %.3f" % (a, b, med[a][0] / med[b][0], med[a][1] / med[b][1]))
    return 0 if all(res[n] for n, _ in cmds) else 1

if __name__ == "__main__":
    sys.exit(main())
