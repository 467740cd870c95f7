#!/usr/bin/env python3
"""What an idle guest's VMM costs in CPU: run CMD; between the guest's lines
"vmm-linux: idle begin" and "vmm-linux: idle end" (tests/linux/rc, check
`idle`), sum the CPU time (user + system, /proc/PID/stat) of the command's
process and of every process below it (vmm-monitor and its device
processes), and print it per process and as a share of one core.

usage: idlecpu.py CMD...   (the guest must run vmm.check=idle)"""
import os, sys, time

from benchlib import descendants, run_markers

BEGIN, END = b"vmm-linux: idle begin", b"vmm-linux: idle end"
TICK = os.sysconf("SC_CLK_TCK")

def cpu(pid):
    """(name, CPU seconds) of pid, or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return None
    fields = s[s.rindex(")") + 2:].split()
    name = argv[argv.index(b"--name") + 1].decode() if b"--name" in argv else s[s.index("(") + 1:s.rindex(")")]
    return name, (int(fields[11]) + int(fields[12])) / TICK

def main():
    samples = {}
    def on_each(marker, pid):
        samples[marker] = (time.monotonic(), {p: cpu(p) for p in descendants(pid)})
    seen, buf, err, status = run_markers(sys.argv[1:], [BEGIN, END], 600, on_each=on_each)
    if BEGIN not in samples or END not in samples:
        sys.stderr.write("idlecpu: no idle markers (status %s): %r\n" % (status, buf[-300:]))
        return 1
    (t0, a), (t1, b) = samples[BEGIN], samples[END]
    secs = t1 - t0
    devices = total = 0.0
    print("idle guest, %.0f s: CPU time per process (user + system)" % secs)
    for pid in sorted(b):
        if not b[pid] or not a.get(pid):
            continue
        name, used = b[pid][0], b[pid][1] - a[pid][1]
        total += used
        if name != "vmm-monitor":
            devices += used
        print("  %-16s %7.3f s  %6.3f%% of one core" % (name, used, 100 * used / secs))
    print("device processes: %.3f s, %.3f%% of one core; with the monitor: %.3f%%"
          % (devices, 100 * devices / secs, 100 * total / secs))
    return 0

if __name__ == "__main__":
    sys.exit(main())
