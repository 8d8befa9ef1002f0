#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Provide a kernel tree to export the gup_stall series against and to
# build its selftests in, without building the kernel itself.
#
#   kernel-tree.sh [-o BUILD] SOURCE
#
# SOURCE is a Debian kernel version whose linux-source package is
# installed (6.12 reads /usr/src/linux-source-6.12.tar.xz) or a path to a
# linux-*.tar.xz. The parts a selftests build needs (tools/, the top
# Makefile and Kconfig files, scripts/, include/, arch/x86/, usr/, the
# headers in mm/ such as mm/gup_test.h) and Documentation/mm are
# extracted once into BUILD/ktree/NAME/base, made a
# git repository with one commit, and reused. The script prints that
# path. BUILD defaults to build/ in the repository.
#
# A fresh tree for "git am" is then a cheap clone:
#   git clone -q --shared build/ktree/linux-source-6.12/base /tmp/linux

set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
out=${O:-$top/build}

while getopts "o:h" opt; do
	case $opt in
	o)	out=$OPTARG ;;
	*)	sed -n '4,19s/^# \{0,1\}//p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
src=${1:?usage: kernel-tree.sh [-o BUILD] VERSION|TARBALL}

# shellcheck source=lib/common.sh
. "$top/scripts/lib/common.sh"

if [ -f "$src" ]; then
	tarball=$(cd "$(dirname "$src")" && pwd)/$(basename "$src")
else
	tarball=/usr/src/linux-source-$src.tar.xz
	[ -f "$tarball" ] ||
		die "no $tarball: apt-get install linux-source-$src"
fi
name=$(basename "$tarball" .tar.xz)
base=$out/ktree/$name/base
stamp=$base/.git/ktree-source
# what was extracted from which tarball (bump the layout with the list)
want="layout 4 $(stat -c '%s %Y' "$tarball") $tarball"

# Reuse the extraction unless the tarball changed since.
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
	echo "$base"
	exit 0
fi

tmp=$base.tmp
rm -rf "$base" "$tmp"
mkdir -p "$tmp"
note "extracting a selftests subset of $tarball"
tar -xJf "$tarball" -C "$tmp" --strip-components=1 --wildcards \
	'*/Makefile' '*/Kconfig*' '*/scripts/*' '*/include/*' \
	'*/arch/x86/*' '*/tools/*' '*/usr/*' '*/Documentation/mm/*' '*/MAINTAINERS' \
	'*/mm/*.h' '*/mm/*.c' \
	--exclude='*/drivers/*' --exclude='*/fs/*' --exclude='*/net/*' \
	--exclude='*/sound/*' --exclude='*/arch/[a-wyz]*' \
	--exclude='*/Documentation/[a-lnz]*' ||
	die "extracting $tarball failed"
[ -f "$tmp/tools/testing/selftests/lib.mk" ] ||
	die "$tarball has no tools/testing/selftests/lib.mk"

(
	cd "$tmp"
	git init -q
	git config user.name "kernel-tree.sh"
	git config user.email "kernel-tree@localhost"
	git config core.autocrlf false
	git add -A -f
	git commit -q -m "$name (selftests subset)"
) || die "making $tmp a git repository failed"
echo "$want" >"$tmp/.git/ktree-source"
mv "$tmp" "$base"
echo "$base"
