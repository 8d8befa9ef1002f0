#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Cost benchmark of the gup_stall suite on the running kernel (root).
#
#   bench [-n RUNS] [-o FILE] [PROGRAM...]
#
# Builds the programs (into $O/bench-o, default build/bench-o) and
# scripts/uffd_rtt.c, then measures:
#   - the wall time of each program (all its cells), RUNS times (default
#     5): median, min and max, and cells per second at the median;
#   - one stalled cell alone, 'process_vm_readv anon missing none'
#     (program start, setup, the stall, checks, teardown), RUNS times;
#   - the bare userfaultfd round trip measured in the same run by
#     uffd_rtt (a user-mode fault, and a process_vm_readv fault raised by
#     GUP), and the overhead of the stalled cell over it.
# Prints a markdown report on stdout and writes it to FILE (default
# $O/bench-o/bench.md).

set -u

repo=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-$repo/build}
# shellcheck source=lib/ktap.sh
. "$repo/scripts/lib/ktap.sh"
bo=$O/bench-o
runs=5
out=
cell='process_vm_readv anon missing none'

while getopts "n:o:h" opt; do
	case $opt in
	n) runs=$OPTARG ;;
	o) out=$OPTARG ;;
	h) sed -n '/^# Cost benchmark/,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) exit 1 ;;
	esac
done
shift $((OPTIND - 1))
[ -n "$out" ] || out=$bo/bench.md

[ "$(id -u)" = 0 ] || { echo "bench.sh: needs root (the cells skip otherwise)" >&2; exit 4; }

make -s --no-print-directory -C "$repo" O="$bo" all >"$bo.build.log" 2>&1 ||
	{ cat "$bo.build.log" >&2; echo "bench.sh: build failed" >&2; exit 1; }
bin=$bo/$(basename "$(command -v "${CC:-cc}")")
[ -d "$bin" ] || bin=$(dirname "$(find "$bo" -name gup_stall_remote -type f | head -n 1)")
gcc -O2 -Wall -isystem "$bo/usr/include" -o "$bo/uffd_rtt" "$repo/scripts/uffd_rtt.c" -lpthread ||
	exit 1

progs=$*
[ -n "$progs" ] || progs=$(make -s --no-print-directory \
	-C "$repo/tools/testing/selftests/mm" print-progs)

now() { date +%s.%N; }

# median min max of numbers on stdin
stats()
{
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "- - -"; exit }
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.3f %.3f %.3f\n", m, v[1], v[NR] }'
}

# time_prog PROG ARGS...: prints "SECONDS CELLS EXIT"
time_prog()
{
	local t0 t1 log rc cells
	log=$(mktemp)
	t0=$(now)
	"$@" >"$log" 2>&1
	rc=$?
	t1=$(now)
	cells=$(ktap_records "$log" | wc -l)
	echo "$(echo "$t1 - $t0" | bc -l) $cells $rc"
	rm -f "$log"
}

report=$(mktemp)
{
	echo "### Cost on the running kernel"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores, $(uname -m)," \
		"kernel $(uname -r); $runs runs each; machine shared with other jobs."
	echo
	echo "Exit 4 means every cell of the program skipped" \
		"(gup_stall_kvm without /dev/kvm): its time is the cost of the skips."
	echo
	echo "| program | cells | median (s) | min (s) | max (s) | cells/s | exit |"
	echo "|---|---|---|---|---|---|---|"
} >"$report"

for p in $progs; do
	[ -x "$bin/$p" ] || continue
	: >"$bo/$p.times"
	cells=0 rcs=
	for _ in $(seq "$runs"); do
		read -r secs cells rc < <(time_prog "$bin/$p")
		echo "$secs" >>"$bo/$p.times"
		rcs+="$rc "
		echo "bench: $p ${secs}s $cells cells exit $rc" >&2
	done
	read -r med min max < <(stats <"$bo/$p.times")
	cps=$(echo "$cells / $med" | bc -l)
	# exit 4: every cell skipped (no /dev/kvm, not root, ...)
	printf '| %s | %d | %s | %s | %s | %.1f | %s |\n' \
		"$p" "$cells" "$med" "$min" "$max" "$cps" \
		"$(echo "$rcs" | tr ' ' '\n' | sort -u | tr '\n' ' ')" >>"$report"
done

: >"$bo/cell.times"
crcs=
for _ in $(seq "$runs"); do
	read -r secs _ rc < <(time_prog "$bin/gup_stall_remote" -f "$cell")
	echo "$secs * 1000" | bc -l >>"$bo/cell.times"
	crcs+="$rc "
	echo "bench: one cell ${secs}s exit $rc" >&2
done
read -r cmed cmin cmax < <(stats <"$bo/cell.times")
rtt=$("$bo/uffd_rtt" 1000)
user_us=$(echo "$rtt" | awk '/^user_us/ { print $2 }')
gup_us=$(echo "$rtt" | awk '/^gup_us/ { print $2 }')
{
	echo
	echo "| measurement | median | min | max |"
	echo "|---|---|---|---|"
	exits=$(echo $crcs | tr ' ' '\n' | sort -u | tr '\n' ' ')
	echo "| gup_stall_remote -f '$cell' (whole process; exit $exits)" \
		"| $cmed ms | $cmin ms | $cmax ms |"
	echo "$rtt" | awk '
		/^user_us/ { what = "user fault" }
		/^gup_us/ { what = "GUP fault via process_vm_readv" }
		/^(user|gup)_us/ {
			printf "| bare uffd round trip, %s (uffd_rtt, 1000x)", what
			printf " | %s us | %s us | %s us |\n", $2, $4, $6
		}'
	echo
	over=$(echo "$cmed - $gup_us / 1000" | bc -l | xargs printf '%.1f')
	trips=$(echo "$cmed * 1000 / $gup_us" | bc -l | xargs printf '%.0f')
	echo "Overhead of the stalled cell over the bare GUP round trip:" \
		"$over ms (about $trips round trips;" \
		"user-mode round trip $user_us us)."
} >>"$report"
cp "$report" "$out"
cat "$report"
rm -f "$report"
