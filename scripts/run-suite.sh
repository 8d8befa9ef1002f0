#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the gup_stall programs the way the kselftest runner does: KTAP on
# stdout, one result line per program with its own KTAP nested under "# ".
#
#   run-suite.sh BINDIR PROG... [-- ARGS FOR EVERY PROGRAM]
#
# Exit status: 0 all passed (some may skip), 1 a program failed or timed
# out, 4 every program skipped. GS_TIMEOUT (seconds, default 300) bounds
# each program.

set -u

bindir=${1:?usage: run-suite.sh BINDIR PROG... [-- ARGS]}
shift
progs=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
	progs+=("$1")
	shift
done
[ "${1:-}" = "--" ] && shift
timeout=${GS_TIMEOUT:-300}

echo "TAP version 13"
echo "1..${#progs[@]}"
n=0
fail=0
skip=0
for prog in "${progs[@]}"; do
	n=$((n + 1))
	echo "# selftests: mm: $prog"
	if [ ! -x "$bindir/$prog" ]; then
		echo "not ok $n selftests: mm: $prog # not built"
		fail=$((fail + 1))
		continue
	fi
	(cd "$bindir" && timeout --foreground -k 10 "$timeout" \
		"./$prog" "$@" 2>&1) | sed -u 's/^/# /'
	rc=${PIPESTATUS[0]}
	case $rc in
	0)	echo "ok $n selftests: mm: $prog" ;;
	4)	echo "ok $n selftests: mm: $prog # SKIP"
		skip=$((skip + 1)) ;;
	124)	echo "not ok $n selftests: mm: $prog # TIMEOUT $timeout seconds"
		fail=$((fail + 1)) ;;
	*)	echo "not ok $n selftests: mm: $prog # exit=$rc"
		fail=$((fail + 1)) ;;
	esac
done
[ $fail -gt 0 ] && exit 1
[ $skip -eq ${#progs[@]} ] && exit 4
exit 0
