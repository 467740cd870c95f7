"""Shared by the bench scripts: run a VMM and timestamp marker lines as they
arrive on its stdout."""
import os, select, subprocess, time


def run_markers(argv, markers, timeout=120):
    """Run argv (stdin from /dev/null); return (seen, out, err, status):
    seen maps each marker (bytes) that appeared as a whole line's start to
    the monotonic time it arrived; out/err are the bytes printed. The
    process is killed if it outlives `timeout` seconds."""
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
                seen[m] = now
    if p.poll() is None and len(seen) < len(markers):
        p.kill()
    out, err = p.communicate()
    return seen, buf + out, err, p.returncode
