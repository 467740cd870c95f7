#!/usr/bin/env python3
"""Memory of a running VM: start CMD, wait for MARKER on its stdout, then sum
Pss (and Rss) over the process and all its descendants from
/proc/PID/smaps_rollup; then send one byte on stdin and let it finish.
Prints one line per command and the ratio of totals against the first.

usage: pss.py MARKER NAME=CMD [NAME=CMD ...]"""
import os, select, shlex, subprocess, sys, time

def descendants(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open("/proc/%d/task/%d/children" % (p, p)) as f:
                todo += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out

def rollup(pid):
    vals = {}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("Pss", "Rss"):
                    vals[k] = int(v.split()[0])
    except OSError:
        pass
    return vals.get("Pss", 0), vals.get("Rss", 0)

def measure(argv, marker):
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    buf, end = b"", time.monotonic() + 30
    while marker not in buf and time.monotonic() < end:
        r, _, _ = select.select([p.stdout], [], [], 0.5)
        if r:
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
    time.sleep(0.2)
    procs = descendants(p.pid)
    pss = sum(rollup(x)[0] for x in procs)
    rss = sum(rollup(x)[1] for x in procs)
    p.stdin.write(b"Z")
    p.stdin.close()
    p.wait(timeout=30)
    return len(procs), pss, rss

def main():
    marker = sys.argv[1].encode()
    res = []
    for spec in sys.argv[2:]:
        name, cmd = spec.split("=", 1)
        n, pss, rss = measure(shlex.split(cmd), marker)
        res.append((name, pss))
        print("%-22s %2d processes  PSS %7.1f MiB  RSS %7.1f MiB" % (name, n, pss / 1024, rss / 1024))
    for name, pss in res[1:]:
        print("%s / %s: PSS %.2f" % (res[0][0], name, res[0][1] / pss if pss else 0))

if __name__ == "__main__":
    sys.exit(main())
