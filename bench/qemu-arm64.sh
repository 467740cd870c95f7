#!/usr/bin/env bash
# QEMU for aarch64 built for arm64, to run INSIDE the arm64 emulated machine
# (scripts/kvm-machine.sh --arch arm64) as the peer of bench/arm64.sh.
# Debian's qemu-system-arm:arm64 cannot be installed beside this host's
# amd64 qemu-system-arm, so it is never installed: the package, the arm64
# packages it depends on (Depends and Pre-Depends, recursively, the first
# of each set of alternatives; libc6:arm64 and its loader included, so the
# sysroot holds everything it loads) and qemu-system-data (its data
# directory, for -L) are fetched with apt-get download and unpacked with
# dpkg-deb -x into $VMM_CACHE/qemu-arm64/<version>/root. Beside it, a
# POSIX sh wrapper for busybox's sh inside the machine, which runs the
# binary through the sysroot's own dynamic loader with the sysroot's
# library directories and -L its data directory:
#
#   sh DIR/qemu-system-aarch64 [QEMU ARG...]      (inside the arm64 machine)
#
#   bench/qemu-arm64.sh     prints DIR (made once per version of
#                           qemu-system-arm:arm64; needs the package archive,
#                           which the emulated machine has not: run it here)
#
# Exit status: 0 ready; 1 it could not be made (one line on stderr says why).
set -uo pipefail
CACHE=${VMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmm}
fail() { echo "qemu-arm64: $*" >&2; exit 1; }

newest() {	# offline: the newest sysroot already made
    local d
    d=$(ls -td "$CACHE"/qemu-arm64/*/ready 2>/dev/null | head -n 1)
    [ -n "$d" ] || fail "$1"
    dirname "$d"; exit 0
}
candidate() { apt-cache policy "$1" 2>/dev/null | awk '$1 == "Candidate:" {print $2}'; }
ver=$(candidate qemu-system-arm:arm64)
[ -n "$ver" ] && [ "$ver" != "(none)" ] ||
    newest "qemu-system-arm:arm64 is not in the package archive (dpkg --add-architecture arm64: scripts/setup.sh) and no sysroot is cached"
out=$CACHE/qemu-arm64/${ver//:/_}
[ -f "$out/ready" ] && { echo "$out"; exit 0; }

# The arm64 packages it needs: a breadth-first walk over Depends and
# Pre-Depends, one apt-cache call per level. Of "a | b" only a is taken (a
# virtual one: its first provider); dependencies without :arm64 (arch: all,
# or Multi-Arch: foreign tools such as debconf) are not libraries the
# binary loads and are left out.
deps() {	# PACKAGE... -> the dependencies of them all, one a line
    apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
        --no-replaces --no-enhances "$@" 2>/dev/null | awk '
        /^[^ ]/ { alt = 0; virt = 0; next }
        /^  [|]?(Pre)?Depends:/ {
            take = !alt; alt = ($1 ~ /^[|]/); virt = 0
            if (!take) next
            if ($2 ~ /^</) { virt = 1; next }	# a virtual package: its providers follow
            print $2; next
        }
        /^    / && virt { print $1; virt = 0 }'
}
declare -A seen=([qemu-system-arm:arm64]=1)
level=(qemu-system-arm:arm64)
names=(qemu-system-arm:arm64)
while [ ${#level[@]} -gt 0 ]; do
    next=()
    while read -r d; do
        case $d in *:arm64) ;; *) continue ;; esac
        [ -z "${seen[$d]:-}" ] || continue
        seen[$d]=1; next+=("$d"); names+=("$d")
    done < <(deps "${level[@]}")
    level=("${next[@]}")
done
names+=(qemu-system-data)
mapfile -t pkgs < <(apt-cache policy "${names[@]}" 2>/dev/null | awk '
    /^[^ ]/ { sub(/:$/, ""); p = $0 } $1 == "Candidate:" { print p "=" $2 }')
[ ${#pkgs[@]} = ${#names[@]} ] || fail "apt-cache policy gave ${#pkgs[@]} versions for ${#names[@]} packages"
for p in "${pkgs[@]}"; do
    case $p in *=|*='(none)') fail "no candidate version for ${p%=*}" ;; esac
done

mkdir -p "$CACHE/qemu-arm64" || fail "cannot create $CACHE/qemu-arm64"
tmp=$(mktemp -d "$CACHE/qemu-arm64/make.XXXXXX") || fail "cannot create a work directory"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download -qq "${pkgs[@]}" >/dev/null 2>&1) ||
    fail "cannot download ${#pkgs[@]} packages (${pkgs[*]})"
mkdir -p "$tmp/out/root"
for deb in "$tmp"/*.deb; do
    dpkg-deb -x "$deb" "$tmp/out/root" || fail "cannot unpack $deb"
done
r=$tmp/out/root
ld=$(cd "$r" && ls {usr/,}lib/aarch64-linux-gnu/ld-linux-aarch64.so.1 2>/dev/null | head -n 1)
[ -n "$ld" ] || fail "no ld-linux-aarch64.so.1 in libc6:arm64"
[ -f "$r/usr/bin/qemu-system-aarch64" ] || fail "no usr/bin/qemu-system-aarch64 in qemu-system-arm:arm64"
[ -d "$r/usr/share/qemu" ] || fail "no usr/share/qemu in qemu-system-data"
printf '%s\n' "${pkgs[@]}" >"$tmp/out/packages"
cat >"$tmp/out/qemu-system-aarch64" <<EOF
#!/bin/sh
# qemu-system-arm:arm64=$ver through its sysroot's loader (bench/qemu-arm64.sh):
#   sh $out/qemu-system-aarch64 [QEMU ARG...]     (inside the arm64 machine)
r=$out/root
exec "\$r/$ld" --library-path "\$r/lib/aarch64-linux-gnu:\$r/usr/lib/aarch64-linux-gnu" \\
    "\$r/usr/bin/qemu-system-aarch64" -L "\$r/usr/share/qemu" "\$@"
EOF
touch "$tmp/out/ready"
rm -rf "$out" && mv "$tmp/out" "$out" || fail "cannot move the sysroot into $out"
# Sysroots of older versions go once a day old: a run may still use one.
for old in "$CACHE/qemu-arm64"/*/; do
    old=${old%/}
    [ "$old" = "$out" ] || [ -z "$(find "$old" -maxdepth 0 -mmin +1440)" ] || rm -rf "$old"
done
echo "$out"
