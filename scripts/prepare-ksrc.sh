#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Provide the kselftest framework and fresh uapi headers for a build
# outside a kernel tree.
#
#   prepare-ksrc.sh OUT [KDIR]
#
# With KDIR (a kernel source tree), the framework is taken from there and
# its uapi headers are installed into OUT/usr. Without it, the needed
# parts of Debian's linux-source tarball are extracted into OUT/ksrc once
# and reused. Afterwards OUT/ksft/kselftest.h and OUT/usr/include exist.

set -eu

out=${1:?usage: prepare-ksrc.sh OUT [KDIR]}
kdir=${2:-}
tarball=${KSRC_TARBALL:-}

# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

find_tarball()
{
	local t

	for t in /usr/src/linux-source-6.12.tar.xz /usr/src/linux-source-*.tar.xz; do
		if [ -f "$t" ]; then
			echo "$t"
			return 0
		fi
	done
	return 1
}

mkdir -p "$out"
out=$(cd "$out" && pwd)
stamp="$out/.ksrc-ready"

if [ -n "$kdir" ]; then
	[ -f "$kdir/tools/testing/selftests/kselftest.h" ] ||
		die "KDIR=$kdir is not a kernel source tree (no kselftest.h)"
	src=$(cd "$kdir" && pwd)
else
	src="$out/ksrc"
fi

# Already prepared from the same source?
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$src" ]; then
	exit 0
fi

if [ -z "$kdir" ]; then
	[ -n "$tarball" ] || tarball=$(find_tarball) ||
		die "no kernel source: install linux-source-6.12 or pass KDIR=<kernel tree>"
	echo "prepare-ksrc: extracting the needed parts of $tarball"
	rm -rf "$src" "$out/ksrc.tmp"
	mkdir -p "$out/ksrc.tmp"
	tar -xJf "$tarball" -C "$out/ksrc.tmp" --strip-components=1 \
		--wildcards \
		'*/Makefile' '*/Kconfig' '*/arch/Kconfig' '*/scripts/*' \
		'*/include/*' '*/arch/x86/*' '*/tools/include/*' \
		'*/tools/testing/selftests/kselftest*' \
		--exclude='*/Documentation/*' --exclude='*/drivers/*' \
		--exclude='*/fs/*' --exclude='*/net/*' --exclude='*/sound/*' \
		--exclude='*/arch/[a-wyz]*' --exclude='*/arch/x86_64*' \
		2>/dev/null || [ -f "$out/ksrc.tmp/Makefile" ] ||
		die "extracting $tarball failed"
	mv "$out/ksrc.tmp" "$src"
fi

echo "prepare-ksrc: installing uapi headers from $src"
rm -rf "${out:?}/usr"
make -s -C "$src" ARCH=x86 O= headers_install INSTALL_HDR_PATH="$out/usr" \
	>"$out/headers_install.log" 2>&1 ||
	die "headers_install failed, see $out/headers_install.log"

# The programs include "../kselftest.h"; -I OUT/ksft/mm resolves it.
rm -rf "$out/ksft"
mkdir -p "$out/ksft/mm"
cp "$src/tools/testing/selftests/"kselftest*.h "$out/ksft/"
echo "$src" >"$stamp"
