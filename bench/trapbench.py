#!/usr/bin/env python3
"""Time trapped port accesses: run each command RUNS times, alternating; the
guest (bench/guest bench-trap) prints a marker line before and after N port
writes and N port reads; the time between markers, divided by N, is the cost
of one access. Each command runs once first, not counted (the emulated
machine's first run of a code path pays for its translation). Prints
medians per command, each command's fastest and slowest run, and the ratios
of the medians against the first command.

usage: trapbench.py RUNS N NAME=CMD [NAME=CMD ...]"""
import shlex, statistics, sys

from benchlib import run_markers

MARKS = [b"trap: writes begin\n", b"trap: writes end\n", b"trap: reads begin\n",
         b"trap: reads end\n", b"trap: mmio writes begin\n", b"trap: mmio writes end\n",
         b"trap: mmio reads begin\n", b"trap: mmio reads end\n",
         b"trap: rbr reads begin\n", b"trap: rbr reads end\n",
         b"trap: isr reads begin\n", b"trap: isr reads end\n"]

# The first four: the 8250 scratch register and virtio queue_select, whose
# reads change nothing; the last two: reads with an effect (8250 RBR,
# virtio ISR), which always reach the device.
COLUMNS = ["PIO write", "PIO read", "MMIO write", "MMIO read", "RBR read", "ISR read"]

def run_once(argv):
    seen, buf, _, _ = run_markers(argv, MARKS)
    if len(seen) < len(MARKS):
        sys.stderr.write("%s: markers missing: %r\n" % (argv[0], buf[-300:]))
        return None
    return [seen[MARKS[2 * i + 1]] - seen[MARKS[2 * i]] for i in range(len(COLUMNS))]

def main():
    runs, n = int(sys.argv[1]), int(sys.argv[2])
    cmds = [(s.split("=", 1)[0], shlex.split(s.split("=", 1)[1])) for s in sys.argv[3:]]
    res = {name: [] for name, _ in cmds}
    for name, argv in cmds:
        run_once(argv)      # warm-up, not counted
    for _ in range(runs):
        for name, argv in cmds:
            r = run_once(argv)
            if r:
                res[name].append(r)
    med = {}
    print("%-16s %4s" % ("us per access", "runs") + "".join("%12s" % c for c in COLUMNS))
    for name, _ in cmds:
        if not res[name]:
            print("%-16s %4d" % (name, 0))
            continue
        med[name] = [statistics.median(x[i] for x in res[name]) / n * 1e6
                     for i in range(len(COLUMNS))]
        print("%-16s %4d" % (name, len(res[name])) + "".join("%12.2f" % v for v in med[name]))
    for name, _ in cmds:
        for what, f in (("min", min), ("max", max)):
            if res[name]:
                print("%-16s %4s" % ("  " + name, what) +
                      "".join("%12.2f" % (f(x[i] for x in res[name]) / n * 1e6)
                              for i in range(len(COLUMNS))))
    base = cmds[0][0]
    for other, _ in cmds[1:]:
        if base in med and other in med:
            print("%-16s     " % ("%s/%s" % (base.replace("vmm-", ""), other.replace("vmm-", ""))) +
                  "".join("%12.3f" % (med[base][i] / med[other][i]) for i in range(len(COLUMNS))))
    return 0 if all(res[n] for n, _ in cmds) else 1

if __name__ == "__main__":
    sys.exit(main())
