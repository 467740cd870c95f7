#!/usr/bin/env python3
"""Time virtio-blk phases of the virtio_bench guest (tests/guest/virtio_bench.c)
under several VMMs, alternating runs; print IOPS / MB/s per phase and depth
(medians) and the ratio of the first command against the best of the others.

usage: blkbench.py RUNS OPS SEQ_OPS DEPTHS NAME=CMD [NAME=CMD ...]

DEPTHS is a comma list (e.g. 1,32); in each CMD, @DEPTH@, @OPS@ and
@SEQ_OPS@ are replaced. The guest prints "blkbench: PHASE begin" and
"blkbench: PHASE end" around each phase; the time between the two lines as
they reach us is the phase's time (one line of serial output is a few
microseconds, the phases take tens of milliseconds or more)."""
import shlex, statistics, sys

from benchlib import run_markers

PHASES = [("randread", 4096, "IOPS"), ("seqread", 1 << 20, "MB/s"),
          ("seqwrite", 1 << 20, "MB/s")]


def run_once(argv, timeout=300):
    marks = [("blkbench: %s %s\n" % (ph, w)).encode() for ph, _, _ in PHASES
             for w in ("begin", "end")]
    seen, buf, err, _ = run_markers(argv, marks, timeout)
    if b"FAIL" in buf:
        sys.stderr.write("%s: guest failed:\n%s\n%s\n" % (argv[0], buf[-600:].decode(errors="replace"),
                                                       err[-400:].decode(errors="replace")))
        return None
    res = {}
    for ph, _, _ in PHASES:
        b, e = ("blkbench: %s begin\n" % ph).encode(), ("blkbench: %s end\n" % ph).encode()
        if b in seen and e in seen:
            res[ph] = seen[e] - seen[b]
    if len(res) < len(PHASES):
        sys.stderr.write("%s: markers missing: %r\n%s\n" % (argv[0], buf[-300:],
                                                        err[-400:].decode(errors="replace")))
        return None
    return res


def rate(ph, seconds, ops, seq_ops):
    if ph == "randread":
        return ops / seconds
    return seq_ops * (1 << 20) / seconds / 1e6


def main():
    runs, ops, seq_ops = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    depths = [int(d) for d in sys.argv[4].split(",")]
    cmds = [(s.split("=", 1)[0], s.split("=", 1)[1]) for s in sys.argv[5:]]
    res = {(n, d): [] for n, _ in cmds for d in depths}
    for _ in range(runs):
        for d in depths:
            for name, cmd in cmds:
                c = cmd.replace("@DEPTH@", str(d)).replace("@OPS@", str(ops)) \
                       .replace("@SEQ_OPS@", str(seq_ops))
                r = run_once(shlex.split(c))
                if r:
                    res[(name, d)].append(r)
    names = [n for n, _ in cmds]
    w = max(14, max(len(n) for n in names) + 2)
    print("%-24s" % "" + "".join("%*s" % (w, n) for n in names) + "   %s/best other" % names[0])
    ok = True
    for ph, size, unit in PHASES:
        for d in depths:
            row, vals = "%-24s" % ("%s %s depth %d" % (ph, "4k" if size == 4096 else "1M", d)), {}
            for n in names:
                if not res[(n, d)]:
                    row += "%*s" % (w, "-")
                    ok = False
                    continue
                t = statistics.median(x[ph] for x in res[(n, d)])
                vals[n] = rate(ph, t, ops, seq_ops)
                row += "%*s" % (w, ("%.0f %s" % (vals[n], unit)) if unit == "IOPS"
                                else ("%.1f %s" % (vals[n], unit)))
            others = [vals[n] for n in names[1:] if n in vals]
            if names[0] in vals and others:
                row += "   %.2f" % (vals[names[0]] / max(others))
            print(row)
    print("(medians of %d runs; %d 4k random reads, %d x 1M sequential reads and writes per run)"
          % (runs, ops, seq_ops))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
