#!/usr/bin/env python3
"""Wrap a test guest ELF into a bzImage (Linux x86 boot protocol 2.15).

    mkbzimage.py [--name TEXT] [--setup16 SETUP.o] GUEST.elf OUT.bzImage
    mkbzimage.py --verify OUT.bzImage GUEST.elf

The guest must be linked as one flat image at 1 MiB whose ELF entry point
is 1 MiB + 0x200 (start.S and link.ld do this): the protected-mode part of
the bzImage is that image byte for byte, loaded at code32_start/pref_address
0x100000, so the 64-bit entry a boot loader uses (load address + 0x200) is
the ELF entry. The 32-bit entry (code32_start, offset 0) is start.S's
startup_32. Real-mode setup code is optional: --setup16 takes the object
assembled from setup16.S (its .text, which must carry no relocations, goes
right after the header, where the jump at 0x200 lands); without it the
real-mode entry halts.

Standard library only. Exit status 0, or 1 with one line on stderr.
"""
import argparse
import struct
import sys

LOAD_ADDR = 0x100000
ENTRY64_OFFSET = 0x200
SETUP_SECTS = 4
SECTOR = 512
BOOT_PROTOCOL = 0x020F
LOADED_HIGH = 0x01
XLF_KERNEL_64 = 0x01
CMDLINE_SIZE = 2047         # as Linux's x86 COMMAND_LINE_SIZE - 1
INITRD_ADDR_MAX = 0x7FFFFFFF
KERNEL_ALIGNMENT = 0x200000

PT_LOAD = 1


class BuildError(Exception):
    pass


def read_elf_image(data):
    """Return (flat bytes from LOAD_ADDR, memory span incl. bss, entry)."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise BuildError("not a little-endian ELF64 file")
    (e_type, e_machine, _, e_entry, e_phoff, _, _, _, e_phentsize,
     e_phnum) = struct.unpack_from("<HHIQQQIHHH", data, 16)
    if e_machine != 62 or e_type != 2:
        raise BuildError("not an x86-64 executable")
    loads = []
    for i in range(e_phnum):
        (p_type, _, p_offset, _, p_paddr, p_filesz,
         p_memsz, _) = struct.unpack_from("<IIQQQQQQ", data,
                                          e_phoff + i * e_phentsize)
        if p_type == PT_LOAD and p_memsz:
            loads.append((p_paddr, p_offset, p_filesz, p_memsz))
    if not loads:
        raise BuildError("no PT_LOAD segment")
    base = min(l[0] for l in loads)
    if base != LOAD_ADDR:
        raise BuildError("image starts at 0x%x, not 0x%x" % (base, LOAD_ADDR))
    if e_entry != LOAD_ADDR + ENTRY64_OFFSET:
        raise BuildError("entry 0x%x is not load address + 0x%x"
                         % (e_entry, ENTRY64_OFFSET))
    file_end = max(l[0] + l[2] for l in loads)
    mem_end = max(l[0] + l[3] for l in loads)
    flat = bytearray(file_end - base)
    for paddr, off, filesz, _ in loads:
        if off + filesz > len(data):
            raise BuildError("segment at 0x%x runs past the file" % paddr)
        flat[paddr - base:paddr - base + filesz] = data[off:off + filesz]
    return bytes(flat), mem_end - base, e_entry


def setup_header(pm_len, mem_span, version_offset):
    """The bytes from 0x1f1 to 0x26c (struct setup_header, 2.15)."""
    init_size = (max(mem_span, pm_len) + 0xFFF) & ~0xFFF
    hdr = struct.pack(
        "<BHIHHHH"      # 0x1f1 setup_sects .. boot_flag
        "BB4sHIHH"      # 0x200 jump, "HdrS", version, realmode_swtch,
                        #       start_sys_seg, kernel_version
        "BBHI"          # 0x210 type_of_loader, loadflags, setup_move_size,
                        #       code32_start
        "IIIHBB"        # 0x218 ramdisk_image/size, bootsect_kludge,
                        #       heap_end_ptr, ext_loader_ver/type
        "IIIBBHI"       # 0x228 cmd_line_ptr, initrd_addr_max,
                        #       kernel_alignment, relocatable_kernel,
                        #       min_alignment, xloadflags, cmdline_size
        "IQII"          # 0x23c hardware_subarch(+data), payload off/len
        "QQIII",        # 0x250 setup_data, pref_address, init_size,
                        #       handover_offset, kernel_info_offset
        SETUP_SECTS, 0, (pm_len + 15) // 16, 0, 0xFFFF, 0, 0xAA55,
        0xEB, 0x26C - 0x202, b"HdrS", BOOT_PROTOCOL, 0, 0x1000,
        version_offset - 0x200,
        0, LOADED_HIGH, 0x8000, LOAD_ADDR,
        0, 0, 0, 0, 0, 0,
        0, INITRD_ADDR_MAX, KERNEL_ALIGNMENT, 0, 12, XLF_KERNEL_64,
        CMDLINE_SIZE,
        0, 0, 0, 0,
        0, LOAD_ADDR, init_size, 0, 0)
    assert len(hdr) == 0x26C - 0x1F1, hex(len(hdr))
    return hdr


def read_text_section(obj):
    """.text of a relocatable ELF64 object; it must have no relocations."""
    if obj[:4] != b"\x7fELF" or obj[4] != 2 or obj[5] != 1:
        raise BuildError("setup16: not a little-endian ELF64 object")
    e_shoff, = struct.unpack_from("<Q", obj, 0x28)
    e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHH", obj, 0x3A)
    secs = [struct.unpack_from("<IIQQQQIIQQ", obj, e_shoff + i * e_shentsize)
            for i in range(e_shnum)]
    strtab = secs[e_shstrndx]
    names = [obj[strtab[4] + sh[0]:obj.index(b"\0", strtab[4] + sh[0])]
             for sh in secs]
    if b".rela.text" in names or b".rel.text" in names:
        raise BuildError("setup16: .text has relocations")
    for name, sh in zip(names, secs):
        if name == b".text":
            return obj[sh[4]:sh[4] + sh[5]]
    raise BuildError("setup16: no .text section")


VERSION_OFFSET = (SETUP_SECTS + 1) * SECTOR - 256


def build(elf, name, setup16=None):
    pm, span, _ = read_elf_image(elf)
    setup = bytearray((SETUP_SECTS + 1) * SECTOR)
    # Real-mode entry right after the header (the jump at 0x200 lands
    # here): the setup16 code, or cli; hlt; jmp $-1.
    code = read_text_section(setup16) if setup16 else b"\xFA\xF4\xEB\xFD"
    if 0x26C + len(code) > VERSION_OFFSET:
        raise BuildError("setup16 code too big (%d bytes)" % len(code))
    setup[0x26C:0x26C + len(code)] = code
    version = (name.encode("ascii", "replace")[:200] + b"\0")
    setup[VERSION_OFFSET:VERSION_OFFSET + len(version)] = version
    setup[0x1F1:0x26C] = setup_header(len(pm), span, VERSION_OFFSET)
    pm += bytes(-len(pm) % 16)
    return bytes(setup) + pm


def verify(img, elf):
    """Check a built bzImage against its ELF; raise BuildError if wrong."""
    pm, span, entry = read_elf_image(elf)
    if len(img) < 0x26C or struct.unpack_from("<H", img, 0x1FE)[0] != 0xAA55:
        raise BuildError("no boot_flag 0xAA55")
    if img[0x202:0x206] != b"HdrS":
        raise BuildError('no "HdrS" magic')
    f = dict(zip(
        ("setup_sects", "syssize", "version", "loadflags", "code32_start",
         "xloadflags", "relocatable", "pref_address", "init_size"),
        (img[0x1F1], struct.unpack_from("<I", img, 0x1F4)[0],
         struct.unpack_from("<H", img, 0x206)[0], img[0x211],
         struct.unpack_from("<I", img, 0x214)[0],
         struct.unpack_from("<H", img, 0x236)[0], img[0x234],
         struct.unpack_from("<Q", img, 0x258)[0],
         struct.unpack_from("<I", img, 0x260)[0])))
    want = {"setup_sects": SETUP_SECTS, "version": BOOT_PROTOCOL,
            "code32_start": LOAD_ADDR, "relocatable": 0,
            "pref_address": LOAD_ADDR}
    for k, v in want.items():
        if f[k] != v:
            raise BuildError("%s is 0x%x, expected 0x%x" % (k, f[k], v))
    if not f["loadflags"] & LOADED_HIGH or not f["xloadflags"] & XLF_KERNEL_64:
        raise BuildError("LOADED_HIGH or XLF_KERNEL_64 missing")
    if f["init_size"] < span:
        raise BuildError("init_size 0x%x < image+bss 0x%x"
                         % (f["init_size"], span))
    off = (f["setup_sects"] + 1) * SECTOR
    body = img[off:]
    if f["syssize"] * 16 != len(body) or body[:len(pm)] != pm:
        raise BuildError("protected-mode part differs from the ELF image")
    at = entry - LOAD_ADDR
    if body[ENTRY64_OFFSET:ENTRY64_OFFSET + 16] != pm[at:at + 16]:
        raise BuildError("64-bit entry is not the ELF entry")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", default="vmm test guest")
    ap.add_argument("--setup16", help="object assembled from setup16.S")
    ap.add_argument("--verify", action="store_true",
                    help="check IMAGE against ELF instead of building")
    ap.add_argument("first")
    ap.add_argument("second")
    a = ap.parse_args(argv)
    try:
        if a.verify:
            with open(a.first, "rb") as f:
                img = f.read()
            with open(a.second, "rb") as f:
                verify(img, f.read())
            print("%s: ok" % a.first)
            return 0
        setup16 = None
        if a.setup16:
            with open(a.setup16, "rb") as f:
                setup16 = f.read()
        with open(a.first, "rb") as f:
            elf = f.read()
        img = build(elf, a.name, setup16)
        verify(img, elf)
        with open(a.second, "wb") as f:
            f.write(img)
        return 0
    except (BuildError, OSError, struct.error) as e:
        print("mkbzimage: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
