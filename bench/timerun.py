#!/usr/bin/env python3
"""Run commands alternately N times each; per command report the median time
from process start to the first output line containing a marker, the median
time to process exit, and the median peak RSS of the process tree it waited
for. Prints a table and the ratios of every command against the first.

usage: timerun.py RUNS MARKER NAME=CMD [NAME=CMD ...]
(CMD is split by the shell's rules.)"""
import os, shlex, statistics, sys, tempfile, time

from benchlib import run_markers

# Peak RSS comes from GNU time: a child forked from this Python process would
# report Python's own high-water mark from before its exec.
TIME = "/usr/bin/time"

def run_once(argv, marker):
    rss_file = tempfile.NamedTemporaryFile(prefix="timerun-", delete=False)
    rss_file.close()
    argv = [TIME, "-f", "%M", "-o", rss_file.name] + argv
    t0 = time.monotonic()
    seen, buf, _, status = run_markers(argv, [marker], timeout=float(os.environ.get("TIMERUN_TIMEOUT", "60")))
    end = time.monotonic() - t0
    first = seen[marker] - t0 if marker in seen else None
    with open(rss_file.name) as f:
        lines = f.read().split()
    os.unlink(rss_file.name)
    if first is None or not lines:
        sys.stderr.write("no marker from %s: %r\n" % (argv[5], buf[-200:]))
        return None
    return first, end, int(lines[-1]) / 1024.0, status

def main():
    runs, marker = int(sys.argv[1]), sys.argv[2].encode()
    cmds = []
    for spec in sys.argv[3:]:
        name, cmd = spec.split("=", 1)
        cmds.append((name, shlex.split(cmd)))
    res = {name: [] for name, _ in cmds}
    for _ in range(runs):
        for name, argv in cmds:
            r = run_once(argv, marker)
            if r:
                res[name].append(r)
    print("%-22s %5s %12s %12s %10s" % ("", "runs", "first line", "exit", "peak RSS"))
    med = {}
    for name, _ in cmds:
        rs = res[name]
        if not rs:
            print("%-22s %5d %12s %12s %10s" % (name, 0, "-", "-", "-"))
            continue
        m = tuple(statistics.median(x[i] for x in rs) for i in range(3))
        med[name] = m
        print("%-22s %5d %10.1f ms %10.1f ms %7.1f MiB" %
              (name, len(rs), m[0] * 1e3, m[1] * 1e3, m[2]))
    base = cmds[0][0]
    if base in med:
        for name, _ in cmds[1:]:
            if name in med:
                b, o = med[base], med[name]
                print("%s / %s: first line %.2f, exit %.2f, RSS %.2f" %
                      (base, name, b[0] / o[0], b[1] / o[1], b[2] / o[2]))
    return 0 if all(res[n] for n, _ in cmds) else 1

if __name__ == "__main__":
    sys.exit(main())
