#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check step: cross-build the suite for arm64 with Debian's
# gcc-aarch64-linux-gnu and the arm64 uapi headers of the same kernel
# source, to keep `make -C tools/testing/selftests TARGETS=mm` building
# on every architecture. gup_stall_kvm is x86 only and is not built;
# liburing, libnuma and libfuse3 are usually not installed for arm64,
# so their parts are compiled out (or, for libnuma, replaced by system
# calls) as on any machine that lacks them.
# Prints one "check: PASS|FAIL|SKIP" line.

set -u
cd "$(dirname "$0")/.." || exit 1
top=$(pwd)
O=${O:-$top/build}
out=$O/arm64
mm=tools/testing/selftests/mm
cc=aarch64-linux-gnu-gcc
name="cross build for arm64 ($cc)"

mkdir -p "$out"
if ! command -v $cc >/dev/null; then
	if [ "$(id -u)" != 0 ] ||
	   ! scripts/install-deps.sh gcc-aarch64-linux-gnu \
		libc6-dev-arm64-cross >"$out/deps.log" 2>&1; then
		echo "check: SKIP $name: $cc not installed (gcc-aarch64-linux-gnu)"
		exit 0
	fi
fi

# arm64 uapi headers from the same source as the x86 ones: KDIR, or the
# tarball's arch/arm64 added to the extracted subset in $O/ksrc.
src=${KDIR:-$O/ksrc}
if [ ! -d "$src/arch/arm64/include/uapi" ]; then
	tarball=$(ls /usr/src/linux-source-6.12.tar.xz 2>/dev/null)
	if [ -z "$tarball" ] || [ -n "${KDIR:-}" ]; then
		echo "check: FAIL $name: no arch/arm64 in $src"
		exit 1
	fi
	tar -xJf "$tarball" -C "$src" --strip-components=1 --wildcards \
		'*/arch/arm64/Makefile' '*/arch/arm64/include/*' \
		'*/arch/arm64/tools/*' >"$out/tar.log" 2>&1
fi
if [ ! -f "$out/usr/include/asm/unistd.h" ]; then
	make -s -C "$src" ARCH=arm64 O= headers_install \
		INSTALL_HDR_PATH="$out/usr" >"$out/headers.log" 2>&1 || {
		echo "check: FAIL $name: arm64 headers_install, see $out/headers.log"
		exit 1
	}
fi

if ! make -s -C "$mm" CC=$cc OUTPUT="$out/bin" \
	KSFT_INCLUDES="-I$O/ksft/mm" KHDR_INCLUDES="-isystem $out/usr/include" \
	>"$out/build.log" 2>&1; then
	echo "check: FAIL $name: see $out/build.log"
	tail -5 "$out/build.log"
	exit 1
fi
progs=$(make -s --no-print-directory -C "$mm" CC=$cc print-progs)
for p in $progs; do
	file "$out/bin/$p" 2>/dev/null | grep -q 'ARM aarch64' || {
		echo "check: FAIL $name: $p is not an arm64 program"
		exit 1
	}
done
missing=$(grep -h '^/\* no ' "$out/bin/local_config.h" | sed 's|/\* no \([a-z0-9]*\).*|\1|' |
	tr '\n' ' ')
grep -q -a 'built without libfuse3' "$out/bin/gup_stall_populate" &&
	missing+="libfuse3 "
echo "check: PASS $name: $progs${missing:+ (without ${missing% })}"
