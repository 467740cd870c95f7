#!/usr/bin/env python3
"""fio inside the stock Linux guest (tests/linux/rc, check fiobench) under
several VMMs, alternating runs: per job the median IOPS (4k) or MB/s (1M)
and the ratio of each of ours (names starting with "vmm") against the best
of the others.

usage: fiobench.py RUNS NAME=CMD [NAME=CMD ...]

The guest prints one "fio: RW BS qdN iops=N kib_s=N" line per job, then
"vmm-linux: done N failed"."""
import re, shlex, statistics, sys

from benchlib import run_markers

DONE = b"vmm-linux: done "
LINE = re.compile(rb"^fio: (\S+ \S+ qd\d+) iops=(\d+) kib_s=(\d+)", re.M)


def run_once(argv, timeout):
    seen, buf, err, _ = run_markers(argv, [DONE], timeout)
    jobs = {m.group(1).decode(): (int(m.group(2)), int(m.group(3))) for m in LINE.finditer(buf)}
    if DONE not in seen or b"vmm-linux: done 0 failed" not in buf or not jobs:
        sys.stderr.write("%s: the guest did not finish its fio jobs:\n%s\n%s\n" % (
            argv[0], buf[-800:].decode(errors="replace"), err[-400:].decode(errors="replace")))
        return None
    return jobs


def main():
    runs = int(sys.argv[1])
    cmds = [(s.split("=", 1)[0], shlex.split(s.split("=", 1)[1])) for s in sys.argv[2:]]
    res = {n: [] for n, _ in cmds}
    for _ in range(runs):
        for name, argv in cmds:
            r = run_once(argv, 900)
            if r:
                res[name].append(r)
    names = [n for n, _ in cmds]
    jobs = []
    for n in names:
        for r in res[n]:
            jobs += [j for j in r if j not in jobs]
    ours = [n for n in names if n.startswith("vmm")]
    w = max(13, max(len(n) for n in names) + 2)
    print("%-18s" % "fio job" + "".join("%*s" % (w, n) for n in names) +
          "".join("  %s/best" % n for n in ours))
    ok = all(res[n] for n in names)
    for j in jobs:
        big = " 1m " in j
        row, vals = "%-18s" % j, {}
        for n in names:
            got = [r[j] for r in res[n] if j in r]
            if not got:
                row += "%*s" % (w, "-")
                ok = False
                continue
            vals[n] = statistics.median(x[1] * 1024 / 1e6 if big else x[0] for x in got)
            row += "%*s" % (w, ("%.1f MB/s" % vals[n]) if big else ("%.0f IOPS" % vals[n]))
        others = [vals[n] for n in names if n in vals and n not in ours]
        for n in ours:
            if n in vals and others and max(others) > 0:
                row += "  %*.2f" % (len(n) + 5, vals[n] / max(others))
        print(row)
    print("(medians of %d runs each)" % runs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
