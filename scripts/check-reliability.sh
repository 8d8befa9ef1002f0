#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The reliability step of make check: interrupted, killed and concurrent
# runs leave nothing behind and never hang.
#
#   check-reliability.sh BINDIR PROG...
#
# - every program is interrupted with SIGINT, SIGTERM, SIGHUP and SIGKILL
#   at each of three points, found from state the run shows, never from
#   its (buffered) output: once it has registered in /run/gup_stall, while
#   a task of it sleeps in handle_userfault() (a cell held stalled: with
#   the hang control, so that the stall lasts seconds), and
#   while it holds a setting (its record names a zram device or huge
#   pages). After each: no process of the run is left, and once the next
#   run has cleaned up after a SIGKILL the settings are as before;
# - a following run of every program passes;
# - two instances of the whole suite at once both pass and leave the
#   settings as before;
# - the hang control under GS_TIMEOUT ends with a result line;
# - a task of a cell that outlives SIGKILL (the unkillable control)
#   fails the cell and stops the program with a bail-out, and the next
#   program runs.
# Prints "check: PASS|FAIL|SKIP ..." lines; exit 1 when a step failed.
# Settings are compared by the caller too; REL_POINT_MS bounds the wait
# for a point (default 8000).

set -u
cd "$(dirname "$0")/.." || exit 1
top=$(pwd)
bin=${1:?usage: check-reliability.sh BINDIR PROG...}
shift
progs=("$@")
rundir=/run/gup_stall
point_ms=${REL_POINT_MS:-8000}
failed=0

# step VERDICT NAME [WORDS...]: the words say more, or why
step()
{
	local verdict=$1 name=$2

	shift 2
	case $verdict in
	pass)	echo "check: PASS $name${*:+ $*}" ;;
	skip)	echo "check: SKIP $name: $*" ;;
	*)	failed=1; echo "check: FAIL $name${*:+: $*}" ;;
	esac
}

# settings (the machine's, as make check compares them)
# shellcheck source=lib/checks.sh
. scripts/lib/checks.sh

# The settings as before? Other runs on the machine change them for a
# while (CI runs alone; a developer's machine may not): what this step
# leaves behind stays, so look again for up to 20 s.
settled()
{
	local i

	for ((i = 0; i < 40; i++)); do
		now=$(settings)
		[ "$now" = "$before" ] && return 0
		sleep 0.5
	done
	return 1
}

# session_pids SID: the processes of a session, from the runner (which
# stays one file: it is installed alone). Not followed by shellcheck,
# which would take the runner's early return for the end of this script.
# shellcheck source=/dev/null
. scripts/run-suite.sh

# Is point $2 reached by the run of session $1?
reached()
{
	local p

	case $2 in
	registered)
		[ -f "$rundir/$1" ] ;;
	stalled)
		for p in $(session_pids "$1"); do
			cat "/proc/$p/task/"*/stack 2>/dev/null | grep -q handle_userfault &&
				return 0
		done
		return 1 ;;
	setting)
		grep -q -E '^(zram [0-9]|huge [0-9]+ [1-9])' "$rundir/$1" 2>/dev/null ;;
	esac
}

# Start PROG in a session of its own, wait for the point, send the
# signal. Prints what happened; returns 1 when something was left.
interrupt()
{
	local prog=$1 point=$2 sig=$3 sid i left args=()

	# the hang control holds the first stalled cell for seconds, not ms
	[ "$point" = stalled ] && args=(-n hang)
	(cd "$bin" && exec setsid "./$prog" "${args[@]}") >/dev/null 2>&1 &
	sid=$!
	for ((i = 0; i < point_ms / 5; i++)); do
		reached "$sid" "$point" && break
		kill -0 "$sid" 2>/dev/null || break
		sleep 0.005
	done
	if ! kill -0 "$sid" 2>/dev/null; then
		wait "$sid"
		echo "$prog ended before $point (exit $?)"
		return 0
	fi
	kill -s "$sig" "$sid"
	for ((i = 0; i < 300; i++)); do
		kill -0 "$sid" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$sid" 2>/dev/null && echo "$prog still runs 15 s after SIG$sig"
	wait "$sid" 2>/dev/null
	# children die of their parent-death signal: give them a moment
	for ((i = 0; i < 40; i++)); do
		left=$(session_pids "$sid")
		[ -z "$left" ] && return 0
		sleep 0.05
	done
	for i in $left; do
		echo "left behind by $prog, SIG$sig at $point: task $i" \
			"($(cat "/proc/$i/comm" 2>/dev/null)) state" \
			"$(cut -d' ' -f3 "/proc/$i/stat" 2>/dev/null)," \
			"$(head -n 2 "/proc/$i/stack" 2>/dev/null | tr '\n' ' ')"
		kill -KILL "$i" 2>/dev/null
	done
	return 1
}

# A run that cleans up after a killed one: its first cell is enough.
cleanup_run()
{
	local first

	first=$("$bin/$1" -l | head -n 1)
	(cd "$bin" && "./$1" -f "$first") >/dev/null 2>&1
}

if [ "$(id -u)" -ne 0 ]; then
	step skip "reliability" "needs root"
	exit 0
fi
before=$(settings)

# 1. interruptions
for prog in "${progs[@]}"; do
	n=0
	bad=0
	ended=0
	log=$(mktemp)
	start=$SECONDS
	for point in registered stalled setting; do
		for sig in INT TERM HUP KILL; do
			n=$((n + 1))
			interrupt "$prog" "$point" "$sig" >>"$log" 2>/dev/null ||
				bad=$((bad + 1))
			[ "$sig" = KILL ] && cleanup_run "$prog"
		done
	done
	ended=$(grep -c "ended before" "$log")
	if ! settled; then
		step fail "$prog interrupted $n times" "settings changed:" \
			"$(diff <(echo "$before") <(echo "$now") | grep '^[<>]' |
				head -3 | tr '\n' ' ')"
	elif [ $bad -gt 0 ]; then
		step fail "$prog interrupted $n times" "$bad left processes behind"
		grep "left behind" "$log" | head -5
	else
		step pass "$prog interrupted $n times (SIGINT, SIGTERM, SIGHUP," \
			"SIGKILL; $ended ended before the point), nothing left" \
			"($((SECONDS - start))s)"
	fi
	rm -f "$log"
done

# 2. a following run passes
out=$(GS_TIMEOUT=120 scripts/run-suite.sh "$bin" "${progs[@]}" 2>&1)
rc=$?
if [ $rc -eq 0 ] || [ $rc -eq 4 ]; then
	step pass "a run after the interruptions passes (exit $rc)"
else
	step fail "a run after the interruptions" "exit $rc"
	grep -E '^(# )*not ok|FAIL' <<<"$out" | head -5
fi

# 3. two instances of the whole suite at once
start=$SECONDS
a=$(mktemp)
b=$(mktemp)
GS_TIMEOUT=120 scripts/run-suite.sh "$bin" "${progs[@]}" >"$a" 2>&1 &
pa=$!
GS_TIMEOUT=120 scripts/run-suite.sh "$bin" "${progs[@]}" >"$b" 2>&1 &
pb=$!
wait $pa
ra=$?
wait $pb
rb=$?
settled
if { [ $ra -eq 0 ] || [ $ra -eq 4 ]; } && { [ $rb -eq 0 ] || [ $rb -eq 4 ]; } &&
   [ "$now" = "$before" ]; then
	step pass "two instances of the suite at once both pass," \
		"settings as before ($((SECONDS - start))s)"
else
	step fail "two instances of the suite at once" \
		"exit $ra and $rb$([ "$now" = "$before" ] || echo ', settings changed')"
	grep -h -E '^(# )*not ok|: FAIL' "$a" "$b" | head -5
fi
rm -f "$a" "$b"

# 4. the hang control under GS_TIMEOUT ends with a result line
start=$SECONDS
out=$(GS_TIMEOUT=2 timeout 60 scripts/run-suite.sh "$bin" gup_stall_remote -- \
	-n hang -f 'process_vm_readv memfd missing none' 2>&1)
rc=$?
if [ $rc -eq 1 ] &&
   grep -q '^not ok 1 selftests: mm: gup_stall_remote # TIMEOUT 2 seconds' <<<"$out" &&
   grep -q 'handle_userfault' <<<"$out" && settled; then
	step pass "the hang control under GS_TIMEOUT=2 ends with a result" \
		"line and the stuck stack ($((SECONDS - start))s)"
else
	step fail "the hang control under GS_TIMEOUT=2" "exit $rc after $((SECONDS - start))s"
	tail -3 <<<"$out"
fi
# 5. a task that outlives SIGKILL (the unkillable control plants one):
#    the cell fails with the stacks, the program bails out without
#    running its next cell, and the next program still runs
start=$SECONDS
out=$(GS_TIMEOUT=60 scripts/run-suite.sh "$bin" gup_stall_remote gup_stall_kvm -- \
	-n unkillable -f 'process_vm_readv anon none none' \
	-f 'process_vm_writev anon none none' 2>&1)
rc=$?
if [ $rc -eq 1 ] && grep -q '^# not ok 1 process_vm_readv anon none none$' <<<"$out" &&
   grep -q '^# Bail out! ' <<<"$out" && ! grep -q '^# ok 2 ' <<<"$out" &&
   grep -q 'FAIL: tasks of the cell survive SIGKILL' <<<"$out" &&
   grep -q '^not ok 2 selftests: mm: gup_stall_kvm' <<<"$out"; then
	step pass "negative control unkillable: FAIL, bail-out, the next" \
		"program runs ($((SECONDS - start))s)"
else
	step fail "negative control unkillable" \
		"exit $rc, want a FAIL, a bail-out and the next program"
	tail -5 <<<"$out"
fi
cd "$top" || exit 1
exit $failed
