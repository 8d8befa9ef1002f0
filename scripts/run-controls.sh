#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the negative controls of scripts/controls.txt for one place
# ("host" or "vm"): each must turn its cell red with the FAIL words the
# line names. One line "check: PASS|FAIL negative control ..." per
# control; exit 0 when every control failed its cell as it should.
#
#   run-controls.sh WHERE BINDIR CONTROLS-FILE [PROGRAM ARGS...]

set -u

where=${1:?usage: run-controls.sh WHERE BINDIR CONTROLS-FILE [ARGS]}
bindir=${2:?usage: run-controls.sh WHERE BINDIR CONTROLS-FILE [ARGS]}
file=${3:?usage: run-controls.sh WHERE BINDIR CONTROLS-FILE [ARGS]}
shift 3
[ -f "$file" ] || { echo "run-controls: no $file" >&2; exit 2; }
bad=0

while IFS='|' read -r w ctl env prog cell words; do
	w=$(echo $w)
	case $w in
	'#'*|'') continue ;;
	esac
	[ "$w" = "$where" ] || continue
	ctl=$(echo $ctl)
	env=$(echo $env)
	prog=$(echo $prog)
	cell=$(echo "$cell" | sed 's/^ *//; s/ *$//')
	words=$(echo "$words" | sed 's/^ *//; s/ *$//')
	args=(-f "$cell" "$@")
	[ "$ctl" != - ] && args=(-n "$ctl" "${args[@]}")
	envs=()
	[ "$env" != - ] && envs=("$env")
	name="negative control ${ctl/#-/$env}: '$cell'"
	out=$(cd "$bindir" && env "${envs[@]}" timeout 120 "./$prog" \
		"${args[@]}" 2>&1)
	rc=$?
	if [ $rc -eq 1 ] && grep -q "^not ok 1 $cell\$" <<<"$out" &&
	   grep -q "FAIL: .*$words" <<<"$out"; then
		echo "check: PASS $name"
	else
		echo "check: FAIL $name: exit $rc, expected 1 and a failure with '$words'"
		echo "$out" | tail -5
		bad=1
	fi
done <"$file"
exit $bad
