# Sourced first by every bench/*.sh (bash): builds (outside the emulated
# machine), then re-runs the calling script where a real KVM is (as is
# here, or inside the emulated machine of scripts/kvm-machine.sh, which
# carries VMM_* variables and the arguments over), and prints the
# environment the figures come from: ratios mean something only next to
# it, and absolute times taken inside the emulated machine mean nothing.
# Sets BUILD. A script whose knobs are environment variables names them in
# BENCH_KNOBS before calling bench_enter, so that they reach the machine.
#
#   . "$(dirname "$0")/lib.sh"; bench_enter "$0" "$@"   (any script in the repository)
BUILD=${VMM_BUILD:-build}

bench_enter() {
    local script
    script=$(realpath "$1") || exit 1
    shift
    cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
    script=$(realpath --relative-to=. "$script")
    if [ -z "${VMM_MACHINE:-}" ]; then
        ./scripts/setup.sh >/dev/null && ./scripts/build.sh || exit 1
    fi
    # The script's knobs (variables named in BENCH_KNOBS) go along.
    [ "$(./scripts/kvm-machine.sh --where)" = native ] ||
        VMM_MACHINE_ENV="${VMM_MACHINE_ENV:-} ${BENCH_KNOBS:-}" exec ./scripts/kvm-machine.sh "$script" "$@"
    command -v qemu-system-x86_64 >/dev/null ||
        { echo "SKIP: qemu-system-x86_64 not installed (scripts/setup.sh)"; exit 77; }
    [ -z "${VMM_BENCH_SAID_ENV:-}" ] || return 0   # a script that re-ran itself said it already
    echo "environment: ${VMM_MACHINE:-this machine with its own KVM}; host CPU:" \
         "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) CPUs"
    [ -z "${VMM_MACHINE:-}" ] ||
        echo "environment: emulated: compare only the ratios taken in this run; absolute times mean nothing"
}
