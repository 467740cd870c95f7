#!/usr/bin/env python3
"""Fail if a test guest contains an instruction this machine's KVM cannot run.

    check_insns.py --objdump OBJDUMP [--allow-ud2 | --no-allow-ud2] GUEST.elf

PVM emulates guest CPL0 code and stops with KVM_EXIT_INTERNAL_ERROR on
int n, iretq, cmpxchg16b, xrstor, int3, fwait and clac (MACHINE.md); the
guests are compiled with -mgeneral-regs-only so no SSE/x87 register should
appear either. ud2 is allowed only where the guest means to fault.
"""
import argparse
import re
import subprocess
import sys

FORBIDDEN = re.compile(
    r"\b(int3|int|into|iret[lqw]?|cmpxchg16b|xrstors?|xsaves?|xsaveopt|"
    r"fxsave|fxrstor|fwait|wait|clac|stac|sysret[lq]?|sysexit|"
    r"vzeroupper|emms|ud1|ud0)\b")
REGS = re.compile(r"%(xmm|ymm|zmm|st\(|mm[0-7]\b)")


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--objdump", default="objdump")
    ap.add_argument("--allow-ud2", action=argparse.BooleanOptionalAction,
                    default=False)
    ap.add_argument("elf")
    a = ap.parse_args(argv)
    out = subprocess.run([a.objdump, "-d", "--no-show-raw-insn", a.elf],
                         check=True, capture_output=True, text=True).stdout
    bad = []
    ud2 = 0
    for line in out.splitlines():
        parts = line.split("\t", 1)
        if len(parts) != 2 or not parts[0].strip().endswith(":"):
            continue
        insn = parts[1].strip()
        mnemonic = insn.split()[0] if insn else ""
        if mnemonic == "ud2":
            ud2 += 1
            if not a.allow_ud2:
                bad.append(line.strip())
        elif FORBIDDEN.match(mnemonic) or REGS.search(insn):
            bad.append(line.strip())
    for b in bad:
        print("forbidden: %s" % b)
    if a.allow_ud2 and ud2 != 1:
        print("expected exactly one ud2, found %d" % ud2)
        return 1
    if bad:
        return 1
    print("%s: ok" % a.elf)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
