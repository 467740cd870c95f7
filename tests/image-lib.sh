# Shared by tests/linux/image.sh and tests/arm64/image.sh (sourced).
#
# image_finish ROOT STAGE OUT GLOB packs the initramfs tree ROOT into
# STAGE/initramfs.cpio.zst (owner root, sorted, zstd), marks STAGE ready, moves it
# to OUT (the cache directory named by the hash of the inputs), removes
# images of older inputs (GLOB: their directories) once they are a day old
# (a run, a benchmark or a test in the emulated machine, may still be
# booting one made minutes ago) and prints OUT. The caller has put the
# kernel and whatever else it keeps into STAGE first, and defines fail().
image_finish() {
    local root=$1 stage=$2 out=$3 glob=$4 old
    # zstd: the guest kernel unpacks it about 2.5 times as fast as gzip -6
    # (host: 0.23 s against 0.59 s for the 89 MB stock-Linux tree) and it is
    # a quarter smaller (26.6 MB against 34.8 MB: less for a VMM to load).
    (cd "$root" && find . | sort | cpio -o -H newc --quiet -R 0:0 | zstd -q -19 -T0) \
        >"$stage/initramfs.cpio.zst" || fail "cpio"
    touch "$stage/ready"
    rm -rf "$out" && mv "$stage" "$out" || fail "cannot move the image into $out"
    for old in $glob; do
        [ "$old" = "$out" ] || [ -z "$(find "$old" -maxdepth 0 -mmin +1440)" ] || rm -rf "$old"
    done
    echo "$out"
}

# image_modules PKG KVER ROOT MODULES...: each module of the kernel package
# unpacked in PKG and what it depends on (modprobe's own resolution, from
# the package's tree) copied into ROOT/lib/modules/KVER with a modules.dep
# of their own, so that busybox's modprobe finds them in the guest.
image_modules() {
    local pkg=$1 kver=$2 root=$3 kmods=$1/lib/modules/$2 m ko rel
    shift 3
    depmod -b "$pkg" "$kver" || fail "depmod on the package's modules"
    for m in "$@"; do
        modprobe -d "$pkg" -S "$kver" --show-depends "$m" || fail "module $m is not in the package"
    done | awk '$1 == "insmod" {print $2}' | sort -u | while read -r ko; do
        rel=${ko#"$kmods"/}
        mkdir -p "$root/lib/modules/$kver/$(dirname "$rel")" && cp "$ko" "$root/lib/modules/$kver/$rel"
    done
    cp "$kmods"/modules.{order,builtin,builtin.modinfo} "$root/lib/modules/$kver/" 2>/dev/null
    depmod -b "$root" "$kver" || fail "depmod on the image's modules"
    for m in "$@"; do
        modprobe -d "$root" -S "$kver" --show-depends "$m" >/dev/null 2>&1 ||
            fail "module $m did not make it into the image"
    done
}
