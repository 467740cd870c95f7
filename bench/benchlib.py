"""Shared by the bench scripts: run a VMM and timestamp marker lines as they
arrive on its stdout."""
import os, select, subprocess, time


def descendants(pid):
    """pid and every process below it."""
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


def tree_memory(pid, ram_kib=0, skip_root=False):
    """Sum Pss and Rss (KiB) over pid's process tree from /proc/PID/smaps.
    Mappings of 0.9x..1.1x ram_kib are taken for guest RAM and summed apart:
    returns (processes, pss, rss, guest_ram_pss). skip_root leaves pid
    itself out (a wrapper such as GNU time)."""
    procs = descendants(pid)[1 if skip_root else 0:]
    pss = rss = ram = 0
    for p in procs:
        size = 0
        try:
            with open("/proc/%d/smaps" % p) as f:
                for line in f:
                    k, _, v = line.partition(":")
                    if k == "Size":
                        size = int(v.split()[0])
                    elif k in ("Pss", "Rss"):
                        n = int(v.split()[0])
                        if k == "Rss":
                            rss += n
                            continue
                        pss += n
                        if ram_kib and 0.9 * ram_kib <= size <= 1.1 * ram_kib:
                            ram += n
        except OSError:
            pass
    return len(procs), pss, rss, ram


def run_markers(argv, markers, timeout=120, on_first=None, on_each=None):
    """Run argv (stdin from /dev/null); return (seen, out, err, status):
    seen maps each marker (bytes) that appeared as a whole line's start to
    the monotonic time it arrived; out/err are the bytes printed. The
    process is killed if it outlives `timeout` seconds. on_first(pid) is
    called once, as the first marker arrives, and on_each(marker, pid) as
    each one does, while the process runs."""
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    fd, buf, seen = p.stdout.fileno(), b"", {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(seen) < len(markers):
        r, _, _ = select.select([fd], [], [], 0.5)
        if not r:
            if p.poll() is not None:
                break
            continue
        chunk = os.read(fd, 65536)
        now = time.monotonic()
        if not chunk:
            break
        buf += chunk
        for m in markers:
            if m not in seen and m in buf:
                if not seen and on_first:
                    on_first(p.pid)
                if on_each:
                    on_each(m, p.pid)
                seen[m] = now
    if p.poll() is None and len(seen) < len(markers):
        p.kill()
    out, err = p.communicate()
    return seen, buf + out, err, p.returncode
