#!/usr/bin/env python3
"""Run a VM and timestamp its console, or read milestones from such a log.

  consolelog.py run --timeout S --out RAW --tlog TLOG --err ERR -- CMD...
      Runs CMD (stdin /dev/null, its own process group), copies its stdout
      to RAW unchanged and, line by line, to TLOG as "<seconds> <line>"
      where seconds count from CMD's start on the host's monotonic clock;
      stderr goes to ERR. After S seconds the whole process group gets
      SIGTERM, then SIGKILL 5 s later, and the exit status is 124 (as
      timeout(1)); otherwise it is CMD's (128 + signal if killed).

  consolelog.py milestones TLOG [NAME]
      Prints one line per milestone: "<name> <host seconds> <kernel
      seconds>" (the printk timestamp of the line; "-" where the log never
      got there or the line has none), NAME first on a header line if given.

The milestones are the ones tests/linux and bench/linux.sh compare: the
first console line, PCI enumeration done, the first virtio disk probed, the
root filesystem mounted, init started, and the end of the process.
"""
import os, re, select, signal, subprocess, sys, time

MILESTONES = [
    ("first-console-line", re.compile(r"^\[\s*\d+\.\d+\] ")),  # the kernel's, not firmware's
    ("pci-done", re.compile(r"PCI: CLS ")),  # pci_apply_final_quirks: bus scanned, BARs final
    ("vda-probed", re.compile(r"\[vda\] \d+ 512-byte logical blocks")),
    ("root-mounted", re.compile(r"VFS: Mounted root")),
    ("run-init", re.compile(r"Run \S+ as init process")),
    ("exit", None),
]


KTIME = re.compile(r"^\[\s*(\d+\.\d+)\]")


def run(argv):
    opts = {}
    while argv and argv[0] != "--":
        opts[argv[0]] = argv[1]
        argv = argv[2:]
    cmd = argv[1:]
    timeout = float(opts["--timeout"])
    raw = open(opts["--out"], "wb")
    tlog = open(opts["--tlog"], "w")
    err = open(opts["--err"], "wb")
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=err, start_new_session=True)
    fd, buf, killed = p.stdout.fileno(), b"", False

    def emit(line):
        tlog.write("%.6f %s\n" % (time.monotonic() - t0,
                                  line.decode("utf-8", "replace").rstrip("\r")))
        tlog.flush()

    while True:
        left = t0 + timeout - time.monotonic()
        if left <= 0:
            killed = True
            break
        r, _, _ = select.select([fd], [], [], min(left, 1.0))
        if not r:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        raw.write(chunk)
        raw.flush()
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            emit(line)
    if killed:
        for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                break
            try:
                p.wait(wait)
                break
            except subprocess.TimeoutExpired:
                pass
    status = p.wait()
    if buf:
        emit(buf)
    tlog.write("%.6f %s\n" % (time.monotonic() - t0, "[process exit %d]" % status))
    tlog.close()
    if killed:
        return 124
    return status if status >= 0 else 128 - status


def milestones(path, name=None):
    lines = []
    with open(path, errors="replace") as f:
        for l in f:
            t, _, text = l.rstrip("\n").partition(" ")
            lines.append((float(t), text))
    got, kern = {}, {}
    console = [l for l in lines if not l[1].startswith("[process exit")]
    if lines and lines[-1][1].startswith("[process exit"):
        got["exit"] = lines[-1][0]
    for key, rx in MILESTONES:
        if rx is None:
            continue
        for t, text in console:
            if rx.search(text):
                got[key] = t
                m = KTIME.search(text)
                if m:
                    kern[key] = float(m.group(1))
                break
    if name:
        print("milestone %s %s" % (name, name))
    for key, _ in MILESTONES:
        print("%s %s %s" % (key, "%.2f" % got[key] if key in got else "-",
                            "%.2f" % kern[key] if key in kern else "-"))
    return 0


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "run":
        return run(sys.argv[2:])
    if len(sys.argv) in (3, 4) and sys.argv[1] == "milestones":
        return milestones(*sys.argv[2:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
