#!/usr/bin/env python3
"""A benchmark inside the stock Linux guest (tests/linux/rc) under several
VMMs, alternating runs: per job the median of its figure and the ratio of
each of ours (names starting with "vmm") against the best of the others,
written so that above 1.00 means ours is better.

usage: guestbench.py KIND RUNS NAME=CMD [NAME=CMD ...]

KIND says which lines the guest prints before "vmm-linux: done N failed":
  fio   check fiobench (bench/blk.sh): "fio: RW BS qdN iops=N kib_s=N";
        IOPS for 4k jobs, MB/s for 1M ones, higher is better
  net   check netbench (bench/net.sh): "net: JOB mbit_s=N" (higher is
        better) or "net: JOB rtt_us=N" (lower is better)"""
import re, shlex, statistics, sys

from benchlib import run_markers

DONE = b"vmm-linux: done "


def fio_line(m):
    job = m.group(1).decode()
    if " 1m " in job:
        return job, int(m.group(3)) * 1024 / 1e6, "%.1f MB/s", True
    return job, int(m.group(2)), "%.0f IOPS", True


def net_line(m):
    job, unit, v = m.group(1).decode(), m.group(2).decode(), int(m.group(3))
    if unit == "rtt_us":
        return job, v, "%.0f us", False
    return job, v, "%.0f Mbit/s", True


KINDS = {
    "fio": (re.compile(rb"^fio: (\S+ \S+ qd\d+) iops=(\d+) kib_s=(\d+)", re.M), fio_line),
    "net": (re.compile(rb"^net: (.+?) (mbit_s|rtt_us)=(\d+)", re.M), net_line),
}


def run_once(kind, argv, timeout):
    regex, parse = KINDS[kind]
    seen, buf, err, _ = run_markers(argv, [DONE], timeout)
    jobs = {}
    for m in regex.finditer(buf):
        job, value, fmt, higher = parse(m)
        jobs[job] = (value, fmt, higher)
    if DONE not in seen or b"vmm-linux: done 0 failed" not in buf or not jobs:
        sys.stderr.write("%s: the guest did not finish its %s jobs:\n%s\n%s\n" % (
            argv[0], kind, buf[-800:].decode(errors="replace"), err[-400:].decode(errors="replace")))
        return None
    return jobs


def main():
    kind, runs = sys.argv[1], int(sys.argv[2])
    cmds = [(s.split("=", 1)[0], shlex.split(s.split("=", 1)[1])) for s in sys.argv[3:]]
    res = {n: [] for n, _ in cmds}
    for _ in range(runs):
        for name, argv in cmds:
            r = run_once(kind, argv, 900)
            if r:
                res[name].append(r)
    names = [n for n, _ in cmds]
    jobs = []
    for n in names:
        for r in res[n]:
            jobs += [j for j in r if j not in jobs]
    ours = [n for n in names if n.startswith("vmm")]
    w = max(13, max(len(n) for n in names) + 2)
    jw = max(18, max((len(j) for j in jobs), default=0) + 2)
    print("%-*s" % (jw, kind + " job") + "".join("%*s" % (w, n) for n in names) +
          "".join("  %s/best" % n for n in ours))
    ok = all(res[n] for n in names)
    for j in jobs:
        row, vals, higher = "%-*s" % (jw, j), {}, True
        for n in names:
            got = [r[j] for r in res[n] if j in r]
            if not got:
                row += "%*s" % (w, "-")
                ok = False
                continue
            vals[n] = statistics.median(x[0] for x in got)
            higher = got[0][2]
            row += "%*s" % (w, got[0][1] % vals[n])
        others = [vals[n] for n in names if n in vals and n not in ours]
        best = (max(others) if higher else min(others)) if others else 0
        for n in ours:
            if n in vals and best > 0 and vals[n] > 0:
                row += "  %*.2f" % (len(n) + 5, vals[n] / best if higher else best / vals[n])
        print(row)
    print("(medians of %d runs each; ratios above 1.00: ours better)" % runs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
