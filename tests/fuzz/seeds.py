#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, from what real guest drivers do.

    tests/fuzz/seeds.py [--monitor PATH] [--guests DIR] [--out DIR] [--linux IMAGE_DIR]

Boots the project's test guests (tests/guest: hello, uart, rtc, pci,
virtio_blk, virtio_rng, virtio_console, virtio_hostile) under
`vmm-monitor --record-traps FILE`, then turns each device's recorded
accesses into that device's fuzz input (tests/fuzz/README.md). Linux itself
cannot boot on this machine's KVM (MACHINE.md), so these guests, which
follow Linux's driver sequences (8250, CMOS, i8042 probing, PCI
enumeration, virtio_pci_modern), are the source (and, with --linux, Linux
itself, see below). The recording holds the
trapped accesses only: guest memory is not trapped, so for virtio devices
the converter moves the rings the guest programs into the harness's small
RAM and writes a well-formed request per queue after DRIVER_OK (and the
queue notification the ioeventfd would have carried). The same
recordings give fuzz-vpci its seeds: the config-space accesses at
0xCF8/0xCFC (the recorder logs the host bridge's regions like any other)
and the MSI-X table accesses, in order. Also writes hand-made seeds for the
virtqueue, ring, control and vpci targets (for vpci: bus 0 as Linux
enumerates it, sizes every BAR and enables MSI-X, then BAR moves onto
other functions' BARs, INTx, failing KVM calls), and, without needing
KVM, fuzz-loader's: every test guest ELF and bzImage in the guests
directory (a bzImage is made with mkbzimage.py if there is none).

With --linux IMAGE_DIR it also boots the stock Linux image of tests/linux
(image.sh prints IMAGE_DIR) with two disks, virtio-rng and virtio-console,
recording what Linux's own drivers do from probe to power-off, and turns
that into seeds the same way (named linux-...). Linux needs a real KVM:
where there is none, run it in the emulated machine:
    scripts/kvm-machine.sh tests/fuzz/seeds.py --linux "$(tests/linux/image.sh)"
(image.sh outside it: the emulated machine has no network).

Output: DIR/<target>/<name> (default $VMM_CACHE/fuzz/seeds, VMM_CACHE
defaulting to ~/.cache/vmm): generated, never committed.
"""
import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.environ.get("VMM_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "vmm")

VIRTIO = {"virtio-blk": 1, "virtio-rng": 1, "virtio-console": 2}   # queues
LEGACY_VARIANT = {"serial": 0, "rtc": 1, "i8042": 2, "acpi_pm": 1}  # as the monitor wires them


def lenc(n):
    return {1: 0, 2: 1, 4: 2, 8: 3}[n]


def op_trap(region, off, n, write, value):
    b = bytes([1 if write else 0, region & 0xff]) + struct.pack("<H", off & 0xffff) + bytes([lenc(n)])
    if write:
        b += (value & ((1 << (8 * n)) - 1)).to_bytes(n, "little")
    return b


def op_notify(q):
    return bytes([2, q])


def op_backend(idx, data):
    return bytes([3, idx, len(data)]) + data


def op_mem(gpa, data):
    out = b""
    for i in range(0, len(data), 255):
        chunk = data[i:i + 255]
        out += bytes([4]) + struct.pack("<H", gpa + i) + bytes([len(chunk)]) + chunk
    return out


# --- guest runs ---

def run_guests(monitor, guests, rec_dir):
    tmp = tempfile.mkdtemp(prefix="vmm-seeds.")
    d0, d1 = os.path.join(tmp, "d0.img"), os.path.join(tmp, "d1.img")
    with open(d0, "wb") as f:
        f.truncate(2 << 20)
    with open(d1, "wb") as f:
        f.write(os.urandom(1 << 20))
    disks = ["--disk", "path=%s,serial=vmm-disk0" % d0, "--disk", "path=%s,readonly=on" % d1]
    con_in = os.path.join(tmp, "con.in")
    with open(con_in, "w") as f:
        f.write("hello-from-the-host\n")
    runs = [
        ("hello", "hello.elf", [], None),
        ("uart", "uart.elf", ["--cmdline", "uart_byte=5a uart_wait=1"], b"Z"),
        ("rtc", "rtc.elf", ["--cmdline", "host_time=%d rtc_tolerance=5" % int(time.time())], None),
        ("pci", "pci.elf", ["--cmdline", "expect_pci_functions=4"] + disks, None),
        ("virtio_blk", "virtio_blk.elf", disks + ["--cmdline",
            "blk_mode=write blk_seed=7 blk_disks=2 blk_ro=1 blk_serial=vmm-disk0"], None),
        ("virtio_rng", "virtio_rng.elf", ["--cmdline", "rng_bytes=256"], None),
        ("virtio_console", "virtio_console.elf",
         ["--console", "out=%s,in=%s" % (os.path.join(tmp, "con.out"), con_in),
          "--cmdline", "con_wait=2 con_expect=hello-from-the-host"], None),
        ("virtio_hostile", "virtio_hostile.elf", disks, None),
        ("reset", "reset.elf", [], None),
        ("virtio_intx", "virtio_intx.elf", [], None),
    ]
    recs = []
    for name, elf, args, stdin in runs:
        path = os.path.join(guests, elf)
        if not os.path.exists(path):
            print("seeds: no guest %s, skipped" % path, file=sys.stderr)
            continue
        rec = os.path.join(rec_dir, name + ".traps")
        if os.path.exists(rec):
            os.unlink(rec)
        cmd = [monitor, "--kernel", path, "--record-traps", rec] + args
        try:
            p = subprocess.run(cmd, input=stdin or b"", stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=60)
            status = p.returncode
        except subprocess.TimeoutExpired:
            status = "timeout"
        n = sum(1 for _ in open(rec)) if os.path.exists(rec) else 0
        print("seeds: %-15s exit %s, %d accesses recorded" % (name, status, n), file=sys.stderr)
        recs.append((name, rec))
    shutil.rmtree(tmp, ignore_errors=True)
    return recs


def run_linux(monitor, img, rec_dir):
    """Boot the stock Linux image (tests/linux/image.sh's folder) with the
    devices tests/linux uses, recording every trapped access: what a real
    kernel's drivers do, from probe to power-off."""
    tmp = tempfile.mkdtemp(prefix="vmm-seeds-linux.")
    d0, d1 = os.path.join(tmp, "vda.img"), os.path.join(tmp, "vdb.img")
    for path, size in ((d0, 64 << 20), (d1, 8 << 20)):
        with open(path, "wb") as f:
            f.truncate(size)
    rec = os.path.join(rec_dir, "linux.traps")
    if os.path.exists(rec):
        os.unlink(rec)
    cmd = [monitor, "--kernel", os.path.join(img, "bzImage"),
           "--initrd", os.path.join(img, "initramfs.cpio.zst"), "--mem", "512M", "--cpus", "2",
           "--disk", "path=%s" % d0, "--disk", "path=%s,readonly=on" % d1,
           "--console", "out=%s" % os.path.join(tmp, "hvc0.out"),
           "--record-traps", rec, "--cmdline",
           "console=ttyS0 reboot=k panic=-1 quiet vmm.cpus=2 vmm.check=cpus,blk,rng,irqs,rtc,i8042,pci"]
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=400)
        status = p.returncode
    except subprocess.TimeoutExpired:
        status = "timeout"
    n = sum(1 for _ in open(rec)) if os.path.exists(rec) else 0
    print("seeds: %-15s exit %s, %d accesses recorded" % ("linux", status, n), file=sys.stderr)
    shutil.rmtree(tmp, ignore_errors=True)
    return [("linux", rec)] if status == 0 else []


def parse(path):
    """Records per device id: (klass, [(group, region, base, off, len, write, value)])."""
    devs = {}
    for line in open(path, errors="replace"):
        f = line.split()
        if len(f) != 11 or f[0] != "T" or f[10] != "0":
            continue
        name = f[1]
        # monitor/machine.c: class + instance, with a '-' if the class ends in a digit
        m = re.match(r"^(.*\d)-(\d+)$", name) or re.match(r"^(.*\D)(\d+)$", name)
        if not m:
            continue
        klass = m.group(1)
        region, base = int(f[3]), int(f[4], 16)
        # group: the BAR (or port block) the access went to, so the
        # monitor's MSI-X table, which shares the device's name, stays apart
        devs.setdefault(name, (klass, []))[1].append(
            (base - region * 0x1000, region, base, int(f[6], 16), int(f[7]), f[8] == "w",
             int(f[9], 16)))
    return devs


# --- virtio: rings moved into the harness RAM, one request per queue ---

RING_BASE = 0x1000          # queue q: desc 0x1000 + q*0x3000, avail +0x1000, used +0x2000
BUF = 0xd000


def ring_addrs(q):
    d = RING_BASE + q * 0x3000
    return d, d + 0x1000, d + 0x2000


def desc(addr, n, flags, nxt):
    return struct.pack("<QIHH", addr, n, flags, nxt)


def requests(klass, qsizes):
    """Memory writes and notifications for one well-formed request per queue."""
    out = b""
    if klass == "virtio-blk":
        hdr = struct.pack("<IIQ", 0, 0, 0)            # T_IN sector 0
        out += op_mem(BUF, hdr)
        d = desc(BUF, 16, 1, 1) + desc(BUF + 0x100, 512, 3, 2) + desc(BUF + 0x400, 1, 2, 0)
        hdr2 = struct.pack("<IIQ", 8, 0, 0)           # GET_ID, through an indirect table
        out += op_mem(BUF + 0x800, hdr2)
        table = desc(BUF + 0x800, 16, 1, 1) + desc(BUF + 0x900, 20, 3, 2) + desc(BUF + 0x980, 1, 2, 0)
        out += op_mem(BUF + 0xa00, table)
        d += desc(BUF + 0xa00, 48, 4, 0)
        chains = [(0, [0, 3])]
    elif klass == "virtio-rng":
        d = desc(BUF, 64, 2, 0)
        chains = [(0, [0])]
    else:
        text = b"hello from the fuzz seed\n"
        out += op_mem(BUF + 0x200, text)
        d = desc(BUF, 128, 2, 0)                          # receiveq: one writable buffer
        chains = [(0, [0])]
        tx = desc(BUF + 0x200, len(text), 0, 0)
        chains.append((1, [0]))
    for q, heads in chains:
        dd, av, _ = ring_addrs(q)
        out += op_mem(dd, tx if (klass == "virtio-console" and q == 1) else d)
        ring = struct.pack("<HH", 0, len(heads)) + b"".join(struct.pack("<H", h) for h in heads)
        out += op_mem(av, ring)
        out += op_notify(q)
    if klass == "virtio-console":
        out += op_backend(0, b"typed on the host\n")
    return out


def virtio_seed(klass, recs, variant):
    # The device's own handler: the one with region 1-3 or narrow accesses
    # (the monitor's MSI-X table handler shares the name, region 0, 4-byte).
    fns = {}
    for r in recs:
        fns.setdefault(r[0], []).append(r)
    dev_fn = max(fns, key=lambda k: sum(1 for r in fns[k] if r[1] > 0 or r[4] < 4))
    out = bytes([variant])
    qsel, qsizes, done = 0, {}, False
    for fn, region, base, off, n, w, v in fns[dev_fn]:
        if region == 0 and w and off == 0x16:
            qsel = v
        if region == 0 and w and off == 0x18:
            qsizes[qsel] = v
        if region == 0 and w and 0x20 <= off < 0x38 and qsel < 4:
            d, a, u = ring_addrs(qsel)
            which = [d, a, u][(off - 0x20) // 8]
            v = which if n == 8 or off % 8 == 0 else 0
        out += op_trap(region, off, n, w, v)
        if region == 0 and w and off == 0x14 and v & 4 and not done:
            out += requests(klass, qsizes)
            done = True
    return out


MAX_OPS = 2000  # the harness runs at most 4096; a probe fits in far fewer


def legacy_seed(klass, recs, extra=b""):
    out = bytes([LEGACY_VARIANT[klass]])
    for fn, region, base, off, n, w, v in recs[:MAX_OPS]:
        out += op_trap(region, off, n, w, v)
    return out + extra


def handmade(out_dir):
    def put(target, name, data):
        d = os.path.join(out_dir, target)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)

    # virtqueue: size 16, event index, rings at 0x1000/0x1100/0x1200; one chain, pop, push.
    vq = bytes([4, 1]) + struct.pack("<HHH", 0x1000, 0x1100, 0x1200)
    chain = desc(0x2000, 16, 1, 1) + desc(0x3000, 512, 3, 2) + desc(0x4000, 1, 2, 0)
    memw = bytes([4]) + struct.pack("<H", 0x1000) + bytes([len(chain)]) + chain
    avail = bytes([4]) + struct.pack("<H", 0x1100) + bytes([6]) + struct.pack("<HHH", 0, 1, 0)
    put("virtqueue", "chain", vq + memw + avail + bytes([2, 0, 16, 1, 0]) + struct.pack("<I", 513) + bytes([3]))
    table = desc(0x2000, 16, 0, 0) + desc(0x3000, 64, 2, 0)
    ind = bytes([4]) + struct.pack("<H", 0x5000) + bytes([len(table)]) + table
    d0 = bytes([4]) + struct.pack("<H", 0x1000) + bytes([16]) + desc(0x5000, 32, 4, 0)
    put("virtqueue", "indirect", vq + ind + d0 + avail + bytes([0, 8, 5, 0, 8, 1, 0]) + struct.pack("<I", 64))

    # ring: complete-then-read, posted writes, a drain, a device-side consume.
    read = bytes([1, 0]) + struct.pack("<i", 0) + bytes(range(8)) + bytes([0, 2, 0])
    write = bytes([0, 2, 1]) + struct.pack("<I", 0xdeadbeef)
    put("ring", "basic", bytes([0]) + read + write * 3 + bytes([3]) + read + bytes([4, 0, 0, 0, 0]))
    put("ring", "stop", bytes([1]) + bytes([1, 0]) + struct.pack("<i", 1) + bytes(8) + bytes([0, 3, 2]))

    # control: protobuf by hand (proto2, canonical encoding).
    def varint(n):
        b = b""
        while True:
            c = n & 0x7f
            n >>= 7
            if n:
                b += bytes([c | 0x80])
            else:
                return b + bytes([c])

    def field(num, payload=None, value=None):
        if payload is not None:
            return varint(num << 3 | 2) + varint(len(payload)) + payload
        return varint(num << 3) + varint(value)

    def pkt(msg, nfds=0):
        return bytes([nfds]) + struct.pack("<H", len(msg)) + msg

    ready = field(2, b"")
    event = field(3, field(1, value=3))
    log = field(4, field(1, value=1) + field(2, b"virtio-blk0: needs reset: bad descriptor"))
    stats = field(6, field(1, value=100) + field(2, value=3) + field(3, value=0))
    viol = field(30, field(1, value=59) + field(2, value=0xc000003e) + field(3, value=0))
    region = field(1, value=0) + field(2, value=0x3f8) + field(3, value=8)
    spec = field(1, b"serial") + field(2, value=0) + field(3, region) + field(4, value=4)
    mem = field(1, value=0) + field(2, value=0x10000000) + field(3, value=0)
    setup = field(1, field(1, spec) + field(2, mem) + field(3, value=0x10000000) + field(4, value=1) +
                  field(5, value=8192) + field(6, value=100000) + field(7, value=2) + field(8, b"vm1"))
    put("control", "device-msgs", pkt(ready) + pkt(event) + pkt(log) + pkt(stats) + pkt(viol))
    put("control", "setup", pkt(setup, 6) + pkt(field(5, b"")) + pkt(field(7, b"")))
    put("control", "fds-and-eof", pkt(event, 2) + pkt(b"", 0) + bytes([0x80 | 17]) + struct.pack("<H", 0))

    vpci_handmade(put)
    return put


# --- fuzz-vpci: config space, BARs and MSI-X as the guest drives them ---

VPCI_KINDS = {0x1042: 0, 0x1044: 1, 0x1043: 2}  # fuzz_vpci.c's kinds: blk, rng, console
VPCI_CAPS = [0x40, 0x50, 0x64, 0x74, 0x84]       # monitor/vpci.c's capability offsets
VPCI_MSIX = 0x84
VPCI_MAX_OPS = 4000                              # the target runs at most 4096


def vpci_header(kinds):
    return bytes([len(kinds) - 1, sum(k << (2 * i) for i, k in enumerate(kinds))])


def vpci_val(n, write, value):
    return (value & ((1 << (8 * n)) - 1)).to_bytes(n, "little") if write else b""


def vpci_latch(value, read=False):
    return bytes([8 if read else 0]) + struct.pack("<I", value & 0xffffffff)


def vpci_data(off, n, write, value=0):
    return bytes([1, off, lenc(n) | (4 if write else 0)]) + vpci_val(n, write, value)


def vpci_cfg(dev, reg, n, write=False, value=0):
    return bytes([2, dev, reg, lenc(n) | (4 if write else 0)]) + vpci_val(n, write, value)


def vpci_size(dev, bar, flags=3):
    return bytes([3, dev, bar, flags])


def vpci_move(dev, bar, addr):
    return bytes([4, dev, bar, 0]) + struct.pack("<Q", addr)


def vpci_move_onto(dev, bar, fn, msix, page=0):
    return bytes([4, dev, bar, 1, fn, 1 if msix else 0, page])


def vpci_mmio_raw(addr, n, write, value=0):
    return bytes([5, 0]) + struct.pack("<Q", addr) + bytes([lenc(n) | (4 if write else 0)]) + \
        vpci_val(n, write, value)


def vpci_entry(fn, entry, byte, write=False, value=0):
    return bytes([5, 2 | fn << 2, entry, byte, lenc(4) | (4 if write else 0)]) + \
        vpci_val(4, write, value)


def vpci_bar0(fn, region, off, n=4, write=False, value=0):
    return bytes([5, 1 | fn << 2, region]) + struct.pack("<H", off) + \
        bytes([lenc(n) | (4 if write else 0)]) + vpci_val(n, write, value)


def vpci_ctl(dev, msix, value):
    return bytes([6, dev, 1 if msix else 0]) + struct.pack("<H", value)


def vpci_fail(n, which=0):
    """n: bits 0-1 the calls that fail, bits 2-3 the calls let through first."""
    return bytes([7, n, which])


def vpci_from_recording(path):
    """The 0xCF8/0xCFC and MSI-X table accesses of one run, in order, or None."""
    latch, devs, bar2, ops = 0, {}, {}, []
    for line in open(path, errors="replace"):
        f = line.split()
        if len(f) != 11 or f[0] != "T":
            continue
        name, bus, region, base = f[1], int(f[2]), int(f[3]), int(f[4], 16)
        off, n, w, v = int(f[6], 16), int(f[7]), f[8] == "w", int(f[9], 16)
        if n not in (1, 2, 4, 8):
            continue
        if name == "pci-addr":
            if n == 4 and off == 0:
                ops.append(vpci_latch(v, read=not w))
                latch = v & 0x80fffffc if w else latch
            continue
        if name == "pci-data":
            ops.append(vpci_data(off, n, w, v))
            dev, reg = (latch >> 11) & 31, (latch & 0xfc) + off
            if latch & 0x80ff0700 != 0x80000000 or n != 4:
                continue
            if reg == 0 and not w and v & 0xffff == 0x1af4:
                devs[dev] = v >> 16
            if reg == 0x18 and v not in (0xffffffff, 0xfffff000):
                bar2[dev] = v & ~0xf
            continue
        # the MSI-X BAR of a function (not its BAR0, served by the device)
        if bus == 1 and region == 0 and f[10] == "0" and base in bar2.values():
            ops.append(vpci_mmio_raw(base + off, n, w, v))
    slots = sorted(devs)
    if not ops or not slots or slots != list(range(1, len(slots) + 1)):
        return None
    kinds = [VPCI_KINDS.get(devs[s], 3) for s in slots[:4]]
    return vpci_header(kinds) + b"".join(ops[:VPCI_MAX_OPS])


def vpci_linux_function(dev, fn, nvec):
    """One function as Linux probes it: ids, every BAR sized, caps, MSI-X on."""
    out = vpci_cfg(dev, 0x0e, 1) + vpci_cfg(dev, 0x08, 4) + vpci_cfg(dev, 0x2c, 4)
    for bar in range(6):
        out += vpci_size(dev, bar)          # decoding off, ~0, read, restore, decoding on
    out += vpci_cfg(dev, 0x06, 2) + vpci_cfg(dev, 0x34, 1)
    for cap in VPCI_CAPS:
        out += vpci_cfg(dev, cap, 1) + vpci_cfg(dev, cap + 1, 1) + vpci_cfg(dev, cap + 2, 1)
    out += vpci_cfg(dev, 0x3c, 1) + vpci_cfg(dev, 0x3d, 1)
    # msix_capability_init: enable + mask all, entries masked, programmed,
    # unmasked, mask all cleared; pci_intx_for_msi: INTx disabled.
    out += vpci_cfg(dev, VPCI_MSIX + 2, 2) + vpci_cfg(dev, VPCI_MSIX + 4, 4) + vpci_cfg(dev, VPCI_MSIX + 8, 4)
    out += vpci_cfg(dev, VPCI_MSIX + 2, 2, True, 0xc000 | (nvec - 1))
    for e in range(nvec):
        out += vpci_entry(fn, e, 12, True, 1)
    for e in range(nvec):
        out += vpci_entry(fn, e, 0, True, 0xfee00000 | (e % 2) << 12) + vpci_entry(fn, e, 4, True, 0)
        out += vpci_entry(fn, e, 8, True, 0x21 + e) + vpci_entry(fn, e, 12, True, 0)
        out += vpci_entry(fn, e, 8)
    out += vpci_cfg(dev, VPCI_MSIX + 2, 2, True, 0x8000 | (nvec - 1))
    out += vpci_cfg(dev, 0x04, 2, True, 0x0406)
    out += vpci_mmio_raw(0, 4, False)       # nothing there
    out += vpci_bar0(fn, 0, 0x00) + vpci_bar0(fn, 0, 0x14, 1, True, 0)  # virtio: features, reset
    return out


def vpci_linux_boot(kinds):
    """Bus 0 enumerated, every present function probed as Linux does."""
    nvecs = {0: 2, 1: 2, 2: 3, 3: 5}
    out = vpci_header(kinds) + vpci_latch(0x80000000) + vpci_latch(0, read=True)
    for dev in range(32):
        out += vpci_cfg(dev, 0x00, 4)       # absent: all-ones
        if dev == 0:
            out += vpci_cfg(0, 0x0e, 1) + vpci_cfg(0, 0x08, 4) + vpci_size(0, 0)
        elif dev <= len(kinds):
            out += vpci_linux_function(dev, dev - 1, nvecs[kinds[dev - 1]])
    return out


def vpci_handmade(put):
    boot = vpci_linux_boot([0, 0, 1, 2])
    put("vpci", "linux-boot", boot)
    put("vpci", "linux-boot-max", vpci_linux_boot([3, 2, 1, 0]))
    three = vpci_linux_boot([0, 1, 2])
    moves = b""
    for dev in (1, 2, 3):
        for fn in (0, 1, 2):
            for msix in (False, True):
                moves += vpci_move_onto(dev, 0, fn, msix) + vpci_entry(fn, 0, 8)
                moves += vpci_move_onto(dev, 2, fn, msix, 1) + vpci_entry(fn, 1, 8)
        home = 0xc0000000 + (dev - 1) * 0x8000
        moves += vpci_move(dev, 0, home) + vpci_move(dev, 2, home + 0x4000)
        moves += vpci_entry(dev - 1, 0, 8) + vpci_bar0(dev - 1, 3, 0)
    moves += vpci_ctl(2, False, 0x0004) + vpci_ctl(2, False, 0x0006)   # decoding off, on
    moves += vpci_move(1, 0, 0xfffffffffffff000) + vpci_move(1, 1, 0xffffffff)
    put("vpci", "bar-moves", three + moves)
    intx = vpci_header([1, 0])
    for dev in (1, 2):
        intx += vpci_ctl(dev, False, 0x0406) + vpci_ctl(dev, False, 0x0006)
        intx += vpci_ctl(dev, True, 0x8000) + vpci_ctl(dev, True, 0x4000) + vpci_ctl(dev, True, 0)
        intx += vpci_cfg(dev, 0x05, 1, True, 0x04) + vpci_cfg(dev, 0x3c, 1, True, 0x0b)
    put("vpci", "intx", intx)
    fail = vpci_header([0, 2])
    for n, which in ((1, 0), (2, 1), (3, 2), (1, 3), (1 | 1 << 2, 0)):
        fail += vpci_fail(n, which) + vpci_linux_function(1, 0, 2)
        fail += vpci_fail(n, which) + vpci_move_onto(2, 0, 0, False) + vpci_move(2, 0, 0xd0000000)
    # the irqfd after its route; the console's second doorbell
    fail += vpci_fail(1 | 1 << 2, 0) + vpci_entry(0, 1, 12, True, 1) + vpci_entry(0, 1, 12, True, 0)
    fail += vpci_fail(1 | 1 << 2, 0) + vpci_move(2, 0, 0xd0100000)
    put("vpci", "kvm-failures", fail)


# --- fuzz-loader: the test guests' kernel images ---

def loader_header(ncpus, ram_mib, cmdline_len, initrd_len):
    pages = (ram_mib - 1) * 256                  # RAM = 1 MiB + 4 KiB * pages
    return bytes([ncpus - 1]) + struct.pack("<HH", pages, cmdline_len) + initrd_len.to_bytes(3, "little")


def loader_seeds(guests, put):
    """Every guest ELF and bzImage, booted with 2 vCPUs, 16 MiB, a command line and an initrd."""
    images = sorted(n for n in os.listdir(guests) if n.endswith((".elf", ".bzImage"))) \
        if os.path.isdir(guests) else []
    tmp = None
    if not any(n.endswith(".bzImage") for n in images) and "hello.elf" in images:
        tmp = tempfile.mkdtemp(prefix="vmm-seeds.")
        bz = os.path.join(tmp, "hello.bzImage")
        r = subprocess.run([sys.executable, os.path.join(ROOT, "tests/guest/mkbzimage.py"),
                            os.path.join(guests, "hello.elf"), bz], stderr=subprocess.PIPE)
        if r.returncode == 0:
            images.append(bz)
    for name in images:
        data = open(os.path.join(guests, name), "rb").read()
        base = os.path.basename(name)
        put("loader", base, loader_header(2, 16, 64, 64 << 10) + data)
        if base.startswith("hello."):   # RAM barely enough; an initrd that would overlap the kernel
            put("loader", base + "-tight", loader_header(64, 3, 0, 0) + data)
            put("loader", base + "-initrd-over", loader_header(1, 4, 2047, (3 << 20) - 4096) + data)
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    return len(images)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--monitor", default=os.path.join(ROOT, "build/monitor/vmm-monitor"))
    ap.add_argument("--guests", default=os.path.join(ROOT, "build/tests/guest"))
    ap.add_argument("--out", default=os.path.join(CACHE, "fuzz/seeds"))
    ap.add_argument("--linux", metavar="IMAGE_DIR",
                    help="also record a stock Linux boot (the folder tests/linux/image.sh "
                         "prints); needs a KVM that runs Linux, e.g. through scripts/kvm-machine.sh")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    put = handmade(a.out)
    n = loader_seeds(a.guests, put)
    print("seeds: %d kernel images for fuzz-loader from %s" % (n, a.guests), file=sys.stderr)
    if not os.access(a.monitor, os.X_OK) or not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("seeds: no %s or no usable /dev/kvm: hand-made seeds only" % a.monitor, file=sys.stderr)
        return 0
    rec_dir = os.path.join(os.path.dirname(a.out), "recordings")
    os.makedirs(rec_dir, exist_ok=True)
    count = 0
    recs = run_guests(a.monitor, a.guests, rec_dir)
    if a.linux:
        recs += run_linux(a.monitor, a.linux, rec_dir)
    for run, rec in recs:
        if not os.path.exists(rec):
            continue
        vp = vpci_from_recording(rec)
        if vp:
            put("vpci", run, vp)
            count += 1
        for dev_id, (klass, recs) in parse(rec).items():
            if klass in VIRTIO:
                seeds = [(v, virtio_seed(klass, recs, v)) for v in (0, 1)]
            elif klass in LEGACY_VARIANT:
                extra = op_backend(0, b"Z\n") if klass == "serial" else b""
                seeds = [(0, legacy_seed(klass, recs, extra))]
            else:
                continue
            d = os.path.join(a.out, klass)
            os.makedirs(d, exist_ok=True)
            for v, data in seeds:
                with open(os.path.join(d, "%s-%s-v%d" % (run, dev_id, v)), "wb") as f:
                    f.write(data)
                count += 1
    print("seeds: %d device seeds from guest recordings in %s" % (count, a.out), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
