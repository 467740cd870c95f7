# Shared by tests/linux/image.sh and tests/arm64/image.sh (sourced):
# image_finish ROOT STAGE OUT GLOB packs the initramfs tree ROOT into
# STAGE/initramfs.cpio.gz (owner root, sorted), marks STAGE ready, moves it
# to OUT (the cache directory named by the hash of the inputs), removes
# images of older inputs (GLOB: their directories) once they are a day old
# (a run, a benchmark or a test in the emulated machine, may still be
# booting one made minutes ago) and prints OUT. The caller has put the
# kernel and whatever else it keeps into STAGE first, and defines fail().
image_finish() {
    local root=$1 stage=$2 out=$3 glob=$4 old
    (cd "$root" && find . | sort | cpio -o -H newc --quiet -R 0:0 | gzip -6) >"$stage/initramfs.cpio.gz" ||
        fail "cpio"
    touch "$stage/ready"
    rm -rf "$out" && mv "$stage" "$out" || fail "cannot move the image into $out"
    for old in $glob; do
        [ "$old" = "$out" ] || [ -z "$(find "$old" -maxdepth 0 -mmin +1440)" ] || rm -rf "$old"
    done
    echo "$out"
}
