#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fix bench: the kernel fixes of scripts/fixes/, proven on Debian's
# linux-source-6.12 by this suite and by the kernel's own mm selftests.
# Not part of CI (a kernel build and four VM runs under QEMU TCG).
#
#   fix-bench [options]
#
# The mutation bench's tree ($O/kernel, tinyconfig +
# scripts/mutation.config) is built twice: unpatched (the "baseline",
# whose results the mutation bench shares) and with every patch of
# scripts/fixes/ applied ("fixed"). Each kernel runs the whole suite in
# QEMU (scripts/vmtest.sh) and the upstream mm selftests that touch
# populate, mlock and GUP (madv_populate, mlock2-tests, mlock-random-test,
# map_populate, gup_longterm, cow, uffd-unit-tests, gup_test). Then the
# unpatched run is compared with the debian-6.12 lines of the kernel
# matrix, the fixed one with the gupfix-6.12 lines (the same failures,
# and XPASS for the cells of the bug the fix removes), and both runs are
# printed side by side ($O/fixbench/table.md).
#
# options:
#   -t SECS    timeout of each VM run (default 1500)
#   -B         run the baseline again
#   -S         run only the suite (keep the upstream selftests' results
#              of an earlier run)
#   -s         print the table from the stored results and exit
#   -h         this help
#
# Exit status: 0 when both comparisons match and the upstream selftests
# give the same results on both kernels, 1 otherwise, 2 bad usage.

set -u

repo=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-$repo/build}
res=$O/mutation/results
fb=$O/fixbench
vm_timeout=1500
bench_opts=()
upstream=(-u)
table_only=0

die_status=2
# shellcheck source=lib/common.sh
. "$repo/scripts/lib/common.sh"
# shellcheck source=lib/ktap.sh
. "$repo/scripts/lib/ktap.sh"

usage()
{
	sed -n '/^# Fix bench/,/^$/p' "$0" | sed 's/^# \{0,1\}//'
	exit "${1:-0}"
}

while getopts "t:BSsh" opt; do
	case $opt in
	t) [[ $OPTARG =~ ^[1-9][0-9]*$ ]] || die "-t wants seconds, not '$OPTARG'"
	   vm_timeout=$OPTARG ;;
	B) bench_opts+=(-B) ;;
	S) upstream=() ;;
	s) table_only=1 ;;
	h) usage 0 ;;
	*) usage 2 >&2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || die "no arguments wanted, got '$*' (see -h)"
ls "$repo"/scripts/fixes/*.patch >/dev/null 2>&1 ||
	die "no patches in scripts/fixes"

# All fixes in one patch, run by the mutation bench as one "mutant".
prepare()
{
	mkdir -p "$fb/patch"
	cat "$repo"/scripts/fixes/*.patch >"$fb/patch/fixed.patch"
}

# "ok N, not ok N, XFAIL N, XPASS N, skip N" of a run's cells
counts()
{
	local cells=$1
	printf 'ok %d, not ok %d, XFAIL %d, XPASS %d, skip %d' \
		"$(grep -c '^ok ' "$cells")" "$(grep -c '^fail ' "$cells")" \
		"$(grep -c '^xfail ' "$cells")" "$(grep -c '^xpass ' "$cells")" \
		"$(grep -c '^skip ' "$cells")"
}

# One kernel's results: cells, matrix comparison, upstream lines.
summarise()
{
	local name=$1 kernel=$2 d=$res/$1
	sed 's/^[0-9]* //' "$d/ktap.txt" >"$fb/$name.ktap"
	ktap_cells "$fb/$name.ktap" | sort >"$fb/$name.cells"
	"$repo/scripts/vmtest.sh" --compare "$kernel" "$fb/$name.ktap" \
		>"$fb/$name.compare" 2>&1
	echo $? >"$fb/$name.compare.rc"
}

# "rc=N, S s" of one upstream test in a run
upstream_of()
{
	local f=$res/$1/upstream.txt t=$2 rc secs
	rc=$(grep -m1 "^UPSTREAM-END ./$t rc=" "$f" 2>/dev/null | sed 's/.*rc=//')
	secs=$(grep -m1 "^UPSTREAM-TIME ./$t " "$f" 2>/dev/null | awk '{print $NF}')
	echo "rc=${rc:-?}, ${secs:-?} s"
}

row() { echo "| $1 | $2 | $3 |"; }

# "PROGRAM: CELL<TAB>RESULT" from "RESULT PROGRAM<TAB>CELL", sorted
keyed()
{
	awk -F'\t' '{ split($1, a, " "); print a[2] ": " $2 "\t" a[1] }' "$1" |
		sort -t "$(printf '\t')" -k1,1
}

print_table()
{
	local t a b ok=0
	{
		echo "| | unpatched 6.12 | patched 6.12 (scripts/fixes) |"
		echo "|---|---|---|"
		row "kernel build (s)" "$(cat "$res/baseline/build.secs")" \
			"$(cat "$res/fixed/build.secs")"
		row "suite cells" "$(counts "$fb/baseline.cells")" \
			"$(counts "$fb/fixed.cells")"
		row "suite run in the VM (s)" \
			"$(tail -n 1 "$res/baseline/ktap.txt" | cut -d' ' -f1)" \
			"$(tail -n 1 "$res/fixed/ktap.txt" | cut -d' ' -f1)"
		row "kernel matrix" "$(tail -n 1 "$fb/baseline.compare")" \
			"$(tail -n 1 "$fb/fixed.compare")"
		for t in madv_populate mlock2-tests mlock-random-test map_populate \
			gup_longterm cow uffd-unit-tests; do
			row "upstream $t" "$(upstream_of baseline "$t")" \
				"$(upstream_of fixed "$t")"
		done
		echo
		echo "Cells whose result differs (unpatched -> patched):"
		join -t "$(printf '\t')" <(keyed "$fb/baseline.cells") \
			<(keyed "$fb/fixed.cells") |
			awk -F'\t' '$2 != $3 { print "- " $1 ": " $2 " -> " $3 }'
	} | tee "$fb/table.md"
	grep -q 'as expected' "$fb/baseline.compare" &&
		grep -q 'as expected' "$fb/fixed.compare" && ok=1
	a=$(grep -E '^UPSTREAM-END' "$res/baseline/upstream.txt" | sort)
	b=$(grep -E '^UPSTREAM-END' "$res/fixed/upstream.txt" | sort)
	if [ "$a" != "$b" ]; then
		note "the upstream selftests differ between the kernels"
		ok=0
	fi
	[ $ok = 1 ]
}

mkdir -p "$fb"
if [ $table_only = 0 ]; then
	prepare
	O=$O "$repo/scripts/mutation-bench.sh" "${upstream[@]}" -t "$vm_timeout" \
		"${bench_opts[@]}" -d "$fb/patch" fixed ||
		die "the mutation bench failed"
fi
[ -f "$res/baseline/ktap.txt" ] && [ -f "$res/fixed/ktap.txt" ] ||
	die "no results yet: run without -s"
summarise baseline debian-6.12
summarise fixed gupfix-6.12
print_table
