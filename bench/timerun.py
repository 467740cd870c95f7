#!/usr/bin/env python3
"""Run commands alternately N times each; per command report the median time
from process start to the first output line containing a marker, the median
time to process exit, and the median peak RSS of the process tree it waited
for. With TIMERUN_RAM_MB=N (the guest's RAM), also the memory the VMM costs
beyond guest RAM as the marker arrives: Pss summed over the whole process
tree minus the Pss of its guest-RAM mappings (those of about N MiB), as
Firecracker counts its overhead. Prints a table and the ratios of every
command against the first, and each run's time to the marker.

usage: timerun.py RUNS MARKER NAME=CMD [NAME=CMD ...]
(CMD is split by the shell's rules.)"""
import os, shlex, statistics, sys, tempfile, time

from benchlib import run_markers, tree_memory

# Peak RSS comes from GNU time: a child forked from this Python process would
# report Python's own high-water mark from before its exec.
TIME = "/usr/bin/time"
RAM_KIB = int(os.environ.get("TIMERUN_RAM_MB", "0")) * 1024

def run_once(argv, marker):
    rss_file = tempfile.NamedTemporaryFile(prefix="timerun-", delete=False)
    rss_file.close()
    argv = [TIME, "-f", "%M", "-o", rss_file.name] + argv
    mem = []
    on_first = (lambda pid: mem.append(tree_memory(pid, RAM_KIB, skip_root=True))) if RAM_KIB else None
    t0 = time.monotonic()
    seen, buf, _, status = run_markers(argv, [marker], float(os.environ.get("TIMERUN_TIMEOUT", "60")),
                                       on_first)
    end = time.monotonic() - t0
    first = seen[marker] - t0 if marker in seen else None
    with open(rss_file.name) as f:
        lines = f.read().split()
    os.unlink(rss_file.name)
    if first is None or not lines:
        sys.stderr.write("no marker from %s: %r\n" % (argv[5], buf[-200:]))
        return None
    beyond = (mem[0][1] - mem[0][3]) / 1024.0 if mem else 0.0
    return first, end, int(lines[-1]) / 1024.0, beyond

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
    cols = 4 if RAM_KIB else 3
    print("%-22s %5s %12s %12s %10s%s" % ("", "runs", "first line", "exit", "peak RSS",
                                         " %14s" % "PSS beyond RAM" if RAM_KIB else ""))
    med = {}
    for name, _ in cmds:
        rs = res[name]
        if not rs:
            print("%-22s %5d %12s %12s %10s" % (name, 0, "-", "-", "-"))
            continue
        m = tuple(statistics.median(x[i] for x in rs) for i in range(cols))
        med[name] = m
        print("%-22s %5d %10.1f ms %10.1f ms %7.1f MiB%s" %
              (name, len(rs), m[0] * 1e3, m[1] * 1e3, m[2],
               " %10.1f MiB" % m[3] if RAM_KIB else ""))
    # Every run's time to the marker, in the order run: the spread the medians
    # come from (a bimodal command - some boots waiting on something - shows here).
    for name, _ in cmds:
        if res[name]:
            print("%-22s each run, first line: %s s" %
                  (name, " ".join("%.1f" % x[0] for x in res[name])))
    base = cmds[0][0]
    if base in med:
        for name, _ in cmds[1:]:
            if name in med:
                b, o = med[base], med[name]
                print("%s / %s: first line %.2f, exit %.2f, RSS %.2f%s" %
                      (base, name, b[0] / o[0], b[1] / o[1], b[2] / o[2],
                       ", PSS beyond RAM %.2f" % (b[3] / o[3]) if RAM_KIB and o[3] else ""))
    return 0 if all(res[n] for n, _ in cmds) else 1

if __name__ == "__main__":
    sys.exit(main())
