#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the gup_stall programs the way the kselftest runner does: KTAP on
# stdout, one result line per program with its own KTAP nested under "# ".
#
#   run-suite.sh BINDIR PROG... [-- ARGS FOR EVERY PROGRAM]
#
# Exit status: 0 all passed (some may skip), 1 a program failed, timed
# out or left processes behind, 4 every program skipped, 2 bad usage.
# GS_TIMEOUT (seconds, default 300) bounds each program: then the stuck
# tasks' kernel stacks are shown, the program gets SIGTERM (it ends its
# cell and gives the machine's settings back), and after 10 s everything
# left of it gets SIGKILL. A program runs in a session of its own, so
# that all its processes are found, whatever process group they are in.

set -u

me=run-suite.sh

# The processes of session $1 (from /proc: busybox ps has no sid), but
# zombies: they are dead, and init reaps those whose parent is gone.
session_pids()
{
	local d s f

	for d in /proc/[0-9]*; do
		{ read -r s <"$d/stat"; } 2>/dev/null || continue
		# after the last ")": state ppid pgrp session
		read -r -a f <<<"${s##*) }"
		[ "${f[3]:-}" = "$1" ] && [ "${f[0]}" != Z ] && echo "${d#/proc/}"
	done
}

# check-reliability.sh sources this file for session_pids alone.
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0

usage()
{
	echo "$me: $1; usage: $me BINDIR PROG... [-- ARGS]" >&2
	exit 2
}

[ $# -ge 1 ] || usage "no BINDIR"
bindir=$1
shift
[ -d "$bindir" ] || usage "BINDIR '$bindir' is not a directory"
progs=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
	progs+=("$1")
	shift
done
[ "${1:-}" = "--" ] && shift
[ ${#progs[@]} -gt 0 ] || usage "no PROG"
timeout=${GS_TIMEOUT:-300}
case $timeout in
''|*[!0-9]*|0*) usage "GS_TIMEOUT wants whole seconds above 0, not '$timeout'" ;;
esac
[ ${#timeout} -le 6 ] || usage "GS_TIMEOUT '$timeout' is too large"

tmp=$(mktemp -d) || exit 1
sid=
sedpid=

show_stacks()
{
	local p s

	for p in $(session_pids "$1"); do
		{ read -r s <"/proc/$p/stat"; } 2>/dev/null || continue
		s=${s##*) }
		echo "# $me: task $p ($(cat "/proc/$p/comm" 2>/dev/null))" \
			"state ${s%% *}, kernel stack:"
		sed 's/^/#   /' "/proc/$p/stack" 2>/dev/null
	done
}

# Wait up to $2 tenths of a second until session $1 is empty.
session_wait()
{
	local i

	for ((i = 0; i < $2; i++)); do
		[ -z "$(session_pids "$1")" ] && return 0
		sleep 0.1
	done
	return 1
}

# End session $1: SIGTERM to the program, then SIGKILL to all of it.
# Prints the pids that survive both.
end_session()
{
	local p

	kill -TERM "$1" 2>/dev/null
	session_wait "$1" 100 && return
	for p in $(session_pids "$1"); do
		kill -KILL "$p" 2>/dev/null
	done
	session_wait "$1" 100 && return
	session_pids "$1"
}

# The output of the program ends when every writer of the fifo is gone;
# a task that cannot be killed may keep it open: wait at most 10 s.
end_output()
{
	local i

	for ((i = 0; i < 100; i++)); do
		kill -0 "$sedpid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$sedpid" 2>/dev/null
	wait "$sedpid" 2>/dev/null
	rm -f "$tmp/out"
}

# shellcheck disable=SC2317 # called from the traps below
on_signal()
{
	trap - INT TERM HUP
	if [ -n "$sid" ]; then
		echo "# $me: SIG$1: ending ${progs[$((n - 1))]}"
		end_session "$sid" >/dev/null
		end_output
	fi
	rm -rf "$tmp"
	kill -s "$1" $$
	exit 1
}
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM
trap 'on_signal HUP' HUP
trap 'rm -rf "$tmp"' EXIT

# Run program $1 (its arguments after it) in a session of its own; sets
# rc (124: timed out) and left (pids of it still there after it ended).
run_prog()
{
	local prog=$1 start=$SECONDS

	shift
	mkfifo "$tmp/out" || exit 1
	sed -u 's/^/# /' <"$tmp/out" &
	sedpid=$!
	# not a process group leader here, so setsid does not fork
	(cd "$bindir" && exec setsid "./$prog" "$@") >"$tmp/out" 2>&1 &
	sid=$!
	while kill -0 "$sid" 2>/dev/null; do
		if ((SECONDS - start >= timeout)); then
			echo "# $me: $prog still runs after $timeout s:"
			show_stacks "$sid"
			left=$(end_session "$sid")
			wait "$sid" 2>/dev/null
			rc=124
			end_output
			sid=
			return
		fi
		sleep 0.1
	done
	wait "$sid"
	rc=$?
	left=
	if ! session_wait "$sid" 20; then
		echo "# $me: $prog left processes behind:"
		show_stacks "$sid"
		left=$(end_session "$sid")
		[ -n "$left" ] || left=killed
	fi
	end_output
	sid=
}

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
	run_prog "$prog" "$@"
	if [ -n "$left" ] && [ "$left" != killed ]; then
		echo "# $me: tasks ${left//$'\n'/ } of $prog survive SIGKILL"
	fi
	if [ $rc -eq 124 ]; then
		echo "not ok $n selftests: mm: $prog # TIMEOUT $timeout seconds"
		fail=$((fail + 1))
	elif [ -n "$left" ]; then
		echo "not ok $n selftests: mm: $prog # left processes behind (exit=$rc)"
		fail=$((fail + 1))
	elif [ $rc -eq 0 ]; then
		echo "ok $n selftests: mm: $prog"
	elif [ $rc -eq 4 ]; then
		echo "ok $n selftests: mm: $prog # SKIP"
		skip=$((skip + 1))
	else
		echo "not ok $n selftests: mm: $prog # exit=$rc"
		fail=$((fail + 1))
	fi
done
[ $fail -gt 0 ] && exit 1
[ $skip -eq ${#progs[@]} ] && exit 4
exit 0
