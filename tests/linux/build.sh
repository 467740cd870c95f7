#!/usr/bin/env bash
# Build the Linux test kernel from Debian's linux-source-6.1 into a cache
# outside the repository, once per set of inputs.
#
# usage: tests/linux/build.sh [fast|acpi]        (default: fast)
#
# Inputs, hashed into the cache key: the config fragment(s) of the variant
# (config.fragment; the acpi variant adds config-acpi.fragment), the source
# patch (skip-int3-selftest.patch), the linux-source-6.1 package version,
# the compiler's version and this script's RECIPE number. The kernel is
# built with `make tinyconfig`, the fragments merged on top, `make
# olddefconfig`, `make -j$(nproc) bzImage`; every option a fragment sets is
# then checked to have kept its value (a Kconfig change in a new package
# version fails loudly instead of silently building another kernel).
#
# Output: $VMM_CACHE/linux/<variant>-<key>/{vmlinux,bzImage,config,build.log,
# build-seconds}, where VMM_CACHE defaults to ~/.cache/vmm as in
# scripts/setup.sh. The last line on stdout is that directory. Older builds
# of the same variant are removed after a successful one.
#
# The source package (~140 MB, plus flex, bison, libelf-dev, bc) is
# installed with apt-get only when a build is actually needed: a machine
# with the kernel cached never downloads it. A failed build leaves
# <variant>-<key>.failed (its log) and is not retried for the same inputs
# unless VMM_LINUX_REBUILD=1.
#
# Exit status: 0 kernel ready; 77 it cannot be built here (one line
# "SKIP: reason" on stdout: no package, no permission to install it);
# 1 the build failed. One build at a time (flock on the cache).
set -euo pipefail

RECIPE=1
PKG=linux-source-6.1
TOOLS=(flex bison libelf-dev bc xz-utils make gcc patch)
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${VMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmm}
DIR=$CACHE/linux
VARIANT=${1:-fast}

case $VARIANT in
fast) FRAGMENTS=("$HERE/config.fragment") ;;
acpi) FRAGMENTS=("$HERE/config.fragment" "$HERE/config-acpi.fragment") ;;
*) echo "usage: $0 [fast|acpi]" >&2; exit 2 ;;
esac
PATCHES=("$HERE/skip-int3-selftest.patch")

skip() { echo "SKIP: $*"; exit 77; }
say() { echo "linux: $*" >&2; }

installed_version() { dpkg-query -W -f='${Status} ${Version}\n' "$PKG" 2>/dev/null | awk '/ok installed/ {print $4}' || true; }
candidate_version() { apt-cache policy "$PKG" 2>/dev/null | awk '/Candidate:/ {print $2}' | grep -v '(none)' || true; }

# The cache key: a hash of everything that decides what gets built.
cache_key() {
	{
		echo "recipe $RECIPE variant $VARIANT package $1"
		gcc --version 2>/dev/null | head -n 1
		cat "${FRAGMENTS[@]}" "${PATCHES[@]}"
	} | sha256sum | cut -c1-16
}

# Install the source package and the build tools, or SKIP with the reason.
install_source() {
	local missing=() p sudo=
	for p in "$PKG" "${TOOLS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		sudo -n true 2>/dev/null || skip "need ${missing[*]} and cannot install them (not root, no sudo)"
		sudo=sudo
	fi
	say "installing ${missing[*]}"
	if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null 2>&1; then
		$sudo apt-get update -qq >/dev/null 2>&1 || true
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
			"${missing[@]}" >/dev/null 2>&1 || skip "apt-get install ${missing[*]} failed"
	fi
}

# The patched source tree for package version $1 (shared by the variants),
# extracted once: prints its path.
source_tree() {
	local src=$DIR/src-$1-$(cat "${PATCHES[@]}" | sha256sum | cut -c1-12) tmp p
	if [ ! -f "$src/.vmm-ready" ]; then
		rm -rf "$src" "$src.tmp"
		mkdir -p "$src.tmp"
		say "extracting /usr/src/$PKG.tar.xz"
		tar -xJf "/usr/src/$PKG.tar.xz" -C "$src.tmp" --strip-components=1
		for p in "${PATCHES[@]}"; do
			patch -d "$src.tmp" -p1 --quiet --forward <"$p" >&2
		done
		touch "$src.tmp/.vmm-ready"
		mv "$src.tmp" "$src"
	fi
	echo "$src"
}

# Every CONFIG_X=v and "# CONFIG_X is not set" line of the fragments (the
# last fragment that names an option wins, as in merge_config.sh) must hold
# in .config $1. Prints the ones that do not; returns 1 if any.
check_config() {
	local cfg=$1 bad=0 line name
	local -A want=()
	while IFS= read -r line; do
		if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
			want[${BASH_REMATCH[1]}]=$line
		elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
			want[${BASH_REMATCH[1]}]=off
		fi
	done < <(cat "${FRAGMENTS[@]}")
	for name in "${!want[@]}"; do
		line=${want[$name]}
		if [ "$line" = off ]; then
			! grep -qE "^$name=" "$cfg" || { echo "  wanted $name off, got: $(grep -E "^$name=" "$cfg")"; bad=1; }
		else
			grep -qxF -- "$line" "$cfg" || { echo "  wanted $line, got: $(grep -E "^(# )?$name[= ]" "$cfg" || echo absent)"; bad=1; }
		fi
	done
	return $bad
}

# Build into $2 (a fresh directory) from source tree $1.
build_kernel() {
	local src=$1 out=$2 log=$2/build.log t0 mk
	mk=(make -C "$src" O="$out" -s)
	t0=$(date +%s)
	{
		"${mk[@]}" tinyconfig
		KCONFIG_CONFIG="$out/.config" "$src/scripts/kconfig/merge_config.sh" -m -O "$out" \
			"$out/.config" "${FRAGMENTS[@]}"
		"${mk[@]}" olddefconfig
	} >"$log" 2>&1 || return 1
	if ! check_config "$out/.config" >>"$log"; then
		echo "config: a fragment option did not keep its value (see above)" >>"$log"
		return 1
	fi
	say "make -j$(nproc) bzImage (a few minutes; log: $log)"
	"${mk[@]}" -j"$(nproc)" bzImage >>"$log" 2>&1 || return 1
	echo $(($(date +%s) - t0)) >"$out/build-seconds"
}

main() {
	local ver key out src
	mkdir -p "$DIR"
	exec 9>"$DIR/.lock"
	flock -w 1800 9 || { echo "linux: another build holds $DIR/.lock" >&2; exit 1; }

	ver=$(installed_version)
	[ -n "$ver" ] || ver=$(candidate_version)
	[ -n "$ver" ] || skip "package $PKG is not available from apt (apt-cache policy $PKG)"
	key=$(cache_key "$ver")
	out=$DIR/$VARIANT-$key
	if [ -f "$out/vmlinux" ] && [ -f "$out/bzImage" ]; then
		echo "$out"
		return 0
	fi
	if [ -f "$out.failed" ] && [ "${VMM_LINUX_REBUILD:-0}" != 1 ]; then
		tail -n 30 "$out.failed" >&2
		echo "linux: the build for these inputs failed before ($out.failed); VMM_LINUX_REBUILD=1 retries" >&2
		exit 1
	fi

	install_source
	ver=$(installed_version)
	[ -n "$ver" ] || skip "package $PKG did not install"
	key=$(cache_key "$ver")
	out=$DIR/$VARIANT-$key
	[ -f "$out/vmlinux" ] && { echo "$out"; return 0; }
	src=$(source_tree "$ver")

	rm -rf "$out.tmp" "$out.failed"
	mkdir -p "$out.tmp"
	say "building the $VARIANT kernel from $PKG $ver into $out"
	if ! build_kernel "$src" "$out.tmp"; then
		cp "$out.tmp/build.log" "$out.failed"
		tail -n 30 "$out.failed" >&2
		echo "linux: build failed; log kept in $out.failed" >&2
		rm -rf "$out.tmp"
		exit 1
	fi
	# Keep what the tests use; the object tree (hundreds of MB) goes.
	mkdir -p "$out.new"
	cp "$out.tmp/vmlinux" "$out.tmp/arch/x86/boot/bzImage" "$out.tmp/build.log" \
		"$out.tmp/build-seconds" "$out.new/"
	cp "$out.tmp/.config" "$out.new/config"
	rm -rf "$out.tmp"
	find "$DIR" -maxdepth 1 -name "$VARIANT-*" ! -name "$VARIANT-$key*" -exec rm -rf {} +
	find "$DIR" -maxdepth 1 -name "src-*" ! -name "$(basename "$src")" -exec rm -rf {} +
	mv "$out.new" "$out"
	say "built in $(cat "$out/build-seconds") s: $out"
	echo "$out"
}

main
