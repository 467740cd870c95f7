#!/usr/bin/env python3
"""Memory of a running VM: start CMD, wait for MARKER on its stdout, then sum
Pss (and Rss) over the process and all its descendants from
/proc/PID/smaps; then send one byte on stdin and let it finish.
Prints one line per command and the ratio of totals against the first.

usage: pss.py MARKER NAME=CMD [NAME=CMD ...]"""
import os, select, shlex, subprocess, sys, time

from benchlib import tree_memory

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
    n, pss, rss, _ = tree_memory(p.pid)
    p.stdin.write(b"Z")
    p.stdin.close()
    p.wait(timeout=30)
    return n, pss, rss

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
