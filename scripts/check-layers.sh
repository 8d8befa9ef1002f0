#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The gup_stall library is layered: each of its files may call only the
# files listed before it in the Makefile's GS_LIB (the runner and the
# flow come last), so no two files call each other. Compile each file,
# read what it calls (nm) and where that is defined, and print one line
# "check: PASS|FAIL library layering" (and the calls that go upwards).
#
#   check-layers.sh [-r]
#
# -r checks the list in reverse order: the negative control, which must
# fail. Exit 0 when the layering holds, 1 when not.

set -u
cd "$(dirname "$0")/.." || exit 1
top=$(pwd)
O=${O:-$top/build}
mm=tools/testing/selftests/mm
reverse=0
[ "${1:-}" = -r ] && reverse=1

w=$(mktemp -d "${TMPDIR:-/tmp}/layers.XXXXXX")
trap 'rm -rf "$w"' EXIT
read -r -a files <<<"$(make -s --no-print-directory -C "$mm" print-lib)"
srcs=()
for f in "${files[@]}"; do
	[[ $f == *.c ]] && srcs+=("$f")
done
if [ $reverse = 1 ]; then
	for ((i = ${#srcs[@]} - 1; i >= 0; i--)); do rev+=("${srcs[$i]}"); done
	srcs=("${rev[@]}")
fi

# rank of each file, and which file defines each symbol
declare -A rank def
i=0
for f in "${srcs[@]}"; do
	o=$w/${f%.c}.o
	if ! gcc -c -D_GNU_SOURCE -I"$O/ksft/mm" -isystem "$O/usr/include" \
	     -I"$O/cc" -o "$o" "$mm/$f" 2>"$w/cc.err"; then
		echo "check: FAIL library layering: $f does not compile"
		head -5 "$w/cc.err"
		exit 1
	fi
	rank[$f]=$i
	i=$((i + 1))
	for s in $(nm --defined-only -g "$o" | awk '{print $3}'); do
		def[$s]=$f
	done
done

bad=()
for f in "${srcs[@]}"; do
	for s in $(nm -u "$w/${f%.c}.o" | awk '{print $2}'); do
		g=${def[$s]:-}
		[ -n "$g" ] && [ "$g" != "$f" ] || continue
		[ "${rank[$g]}" -lt "${rank[$f]}" ] || bad+=("$f -> $g ($s)")
	done
done
if [ ${#bad[@]} -eq 0 ]; then
	echo "check: PASS library layering: ${#srcs[@]} files, each calls only those before it"
	exit 0
fi
echo "check: FAIL library layering: ${#bad[@]} call(s) upwards, first: ${bad[0]}"
exit 1
