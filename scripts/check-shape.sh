#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The shape the suite keeps: no C file of tools/testing/selftests/mm over
# FILE lines, no function over FUNC lines (from the line of its opening
# brace in column 0 to its closing one). Prints one line "check: PASS|FAIL
# code shape" with the first offenders.
#
#   check-shape.sh [FILE FUNC]	(default 700 60)
#
# Smaller limits are the negative control, which must fail. Exit 0 when
# the shape holds, 1 when not.

set -u
cd "$(dirname "$0")/.." || exit 1
maxfile=${1:-700}
maxfunc=${2:-60}
mm=tools/testing/selftests/mm

bad=()
for f in "$mm"/gup_stall*.c; do
	n=$(wc -l <"$f")
	[ "$n" -le "$maxfile" ] || bad+=("$(basename "$f"): $n lines")
	while read -r line len; do
		bad+=("$(basename "$f"):$line: function of $len lines")
	done < <(awk -v max="$maxfunc" '
		/^\{/ { start = NR }
		/^\}/ && start { if (NR - start - 1 > max) print start, NR - start - 1; start = 0 }
	' "$f")
done
files=$(find "$mm" -maxdepth 1 -name 'gup_stall*.c' | wc -l)
if [ ${#bad[@]} -eq 0 ]; then
	echo "check: PASS code shape: $files C files of at most $maxfile lines," \
		"functions of at most $maxfunc"
	exit 0
fi
echo "check: FAIL code shape: ${#bad[@]} over the limits ($maxfile, $maxfunc), first: ${bad[*]:0:3}"
exit 1
