#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check steps for kernels and machines that are not the friendly
# default (called from scripts/check.sh; prints "check: PASS|FAIL|SKIP"
# lines):
#
# 1. The health check's kernel log reader on canned logs (scripts/kmsg/):
#    an expected report whose frames name lockdep must not count, every
#    kind of bad report must (its negative control).
# 2. Hostile settings on the running kernel, one at a time, each restored
#    at once (also on failure and on signals): THP "never",
#    kernel.io_uring_disabled 1 and 2, vm.unprivileged_userfaultfd 0 with
#    and without /dev/userfaultfd, no memory for huge pages, no zram, and
#    another swap device on at the highest priority. The affected cells
#    must skip with a reason naming the setting, or run correctly; never
#    "not ok".
#
# Settings that only the suite's process must see (no huge page memory,
# no zram) are faked in a private mount namespace; the others change the
# machine for a few seconds.

set -u
cd "$(dirname "$0")/.." || exit 1
top=$(pwd)
O=${O:-$top/build}
bin=$O/cc
log=$O/check/hostile
mkdir -p "$log"
mm=tools/testing/selftests/mm
# shellcheck source=lib/ktap.sh
. scripts/lib/ktap.sh

step()
{
	case $1 in
	pass)	echo "check: PASS $2" ;;
	skip)	echo "check: SKIP $2: $3" ;;
	*)	echo "check: FAIL $2${3:+: $3}" ;;
	esac
}

# ---- 1. the kernel log reader ----

kmsg_reader()
{
	local f out rc base want

	gcc -O2 -Wall -Werror -I"$mm" -I"$O/ksft/mm" -o "$log/check-kmsg" \
		scripts/check-kmsg.c "$mm/gup_stall_kmsg.c" \
		>"$log/check-kmsg.build" 2>&1 || {
		step fail "kernel log reader builds" "see $log/check-kmsg.build"
		return
	}
	for f in scripts/kmsg/*.txt; do
		base=$(basename "$f" .txt)
		out=$("$log/check-kmsg" -a "FAULT_FLAG_ALLOW_RETRY missing" "$f")
		rc=$?
		case $base in
		ok-*)	want=0 ;;
		*)	want=1 ;;
		esac
		# exit 1 and one report for a bad log, 0 and none for a good
		if [[ $out == "$want bad: "* ]] && [ $rc = "$want" ]; then
			step pass "kernel log reader: $base ($out)"
		else
			step fail "kernel log reader: $base" \
				"got '$out' (exit $rc), want $want bad report(s)"
		fi
	done
}

# ---- 2. hostile settings ----

thp=/sys/kernel/mm/transparent_hugepage/enabled
saved_thp=
saved_iou=
saved_uffd=
hidden_uffd=
extra_zram=

restore()
{
	[ -n "$saved_thp" ] && echo "$saved_thp" >"$thp"
	[ -n "$saved_iou" ] && sysctl -q -w kernel.io_uring_disabled="$saved_iou"
	[ -n "$saved_uffd" ] &&
		sysctl -q -w vm.unprivileged_userfaultfd="$saved_uffd"
	[ -n "$hidden_uffd" ] && mv "$hidden_uffd" /dev/userfaultfd
	if [ -n "$extra_zram" ]; then
		swapoff "/dev/zram$extra_zram" 2>/dev/null
		echo 1 >"/sys/block/zram$extra_zram/reset"
		echo "$extra_zram" >/sys/class/zram-control/hot_remove
	fi
	saved_thp= saved_iou= saved_uffd= hidden_uffd= extra_zram=
}
trap restore EXIT
trap 'restore; exit 130' INT
trap 'restore; exit 143' TERM
trap 'restore; exit 129' HUP

# run NAME SKIP-WORDS PROG FILTER [COMMAND PREFIX...]: the cells of PROG
# matching FILTER exit 0 or 4 with no "not ok"; with SKIP-WORDS, every
# cell skips and its reason contains them.
run()
{
	local name=$1 words=$2 prog=$3 filter=$4 out rc f cells other n
	shift 4

	f=$log/${name//[^a-zA-Z0-9_.-]/_}.ktap
	(cd "$bin" && timeout -k 5 180 "$@" "./$prog" -f "$filter") >"$f" 2>&1
	rc=$?
	out="$name: $prog -f '$filter'"
	# "RESULT CELL # REASON" of each cell (lib/ktap.sh)
	cells=$(ktap_records "$f" | awk -F'\t' '{ print $3 " " $4 " # " $5 }')
	if [ $rc != 0 ] && [ $rc != 4 ]; then
		step fail "$out" "exit $rc: $(grep -m 1 'FAIL:' "$f")"
	elif grep -q '^fail ' <<<"$cells"; then
		step fail "$out" "$(grep -m 1 '^fail ' <<<"$cells")"
	elif [ -z "$cells" ]; then
		step fail "$out" "no cell ran (exit $rc)"
	elif [ -n "$words" ] && grep -q -v '^skip ' <<<"$cells"; then
		step fail "$out" "a cell ran, want every cell to skip naming '$words'"
	elif [ -n "$words" ] && grep -v -q -F "$words" <<<"$cells"; then
		other=$(grep -m 1 -v -F "$words" <<<"$cells")
		step fail "$out" "skip reason without '$words': $other"
	else
		n=$(grep -c . <<<"$cells")
		step pass "$out: $n cells, $(grep -c '^skip ' <<<"$cells") skipped"
	fi
}

hostile_thp()
{
	if [ ! -f "$thp" ]; then
		step skip "THP never" "no $thp on this kernel"
		return
	fi
	saved_thp=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$thp")
	echo never >"$thp"
	run "THP never" "enabled is [never]" gup_stall_remote "thp missing none"
	run "THP never" "enabled is [never]" gup_stall_iouring "register thp missing none"
	run "THP never" "" gup_stall_iouring "io_uring-register memfd missing none"
	restore
}

hostile_io_uring()
{
	local v

	if [ ! -f /proc/sys/kernel/io_uring_disabled ]; then
		step skip "kernel.io_uring_disabled" "no such sysctl (before 6.6)"
		return
	fi
	saved_iou=$(sysctl -n kernel.io_uring_disabled)
	for v in 1 2; do
		sysctl -q -w kernel.io_uring_disabled=$v
		# root has CAP_SYS_ADMIN: 1 still lets it create rings
		if [ $v = 2 ]; then
			run "io_uring_disabled=2" "io_uring_disabled is 2" \
				gup_stall_iouring "io_uring-register anon missing none"
		else
			run "io_uring_disabled=1" "" \
				gup_stall_iouring "io_uring-register anon missing none"
		fi
	done
	restore
}

hostile_uffd()
{
	saved_uffd=$(sysctl -n vm.unprivileged_userfaultfd)
	sysctl -q -w vm.unprivileged_userfaultfd=0
	run "unprivileged_userfaultfd=0" "" gup_stall_remote \
		"process_vm_readv anon missing none"
	if [ -c /dev/userfaultfd ]; then
		hidden_uffd=/dev/.userfaultfd.gup_stall
		mv /dev/userfaultfd "$hidden_uffd"
		run "unprivileged_userfaultfd=0, no /dev/userfaultfd" "" \
			gup_stall_remote "process_vm_readv anon missing none"
	else
		step skip "no /dev/userfaultfd" "this kernel has none (before 6.1)"
	fi
	restore
}

# A private mount namespace in which nr_hugepages ignores writes and
# no huge page is free: what a machine without memory for them shows.
hostile_hugetlb()
{
	local d

	d=$(ls -d /sys/kernel/mm/hugepages/hugepages-2048kB 2>/dev/null)
	if [ -z "$d" ]; then
		step skip "no memory for huge pages" "no 2M hugetlb pages here"
		return
	fi
	printf '0\n' >"$log/zero"
	printf '0\n' >"$log/nr"
	run "no memory for huge pages" "no memory for huge pages" \
		gup_stall_remote "process_vm_readv hugetlb missing none" \
		unshare -m --propagation private sh -c \
		"mount --bind $log/nr $d/nr_hugepages &&
		 mount --bind $log/zero $d/free_hugepages && exec \"\$@\"" sh
}

hostile_zram()
{
	mkdir -p "$log/empty"
	run "zram unavailable" "no /sys/class/zram-control" \
		gup_stall_remote "process_vm_readv anon swapin none" \
		unshare -m --propagation private sh -c \
		"mount --bind $log/empty /sys/class/zram-control && exec \"\$@\"" sh
}

hostile_swap()
{
	local id

	if ! id=$(cat /sys/class/zram-control/hot_add 2>/dev/null); then
		step skip "another swap device first" "no zram to make one"
		return
	fi
	extra_zram=$id
	if ! echo 64M >"/sys/block/zram$id/disksize" ||
	   ! mkswap "/dev/zram$id" >/dev/null ||
	   ! swapon -p 32767 "/dev/zram$id"; then
		step fail "another swap device first" "could not set up /dev/zram$id"
		restore
		return
	fi
	run "another swap device at priority 32767" "" gup_stall_remote \
		"anon swapin none"
	run "another swap device at priority 32767" "" gup_stall_populate \
		"madv_populate_read anon swapin none"
	restore
}

kmsg_reader
if [ "$(id -u)" != 0 ]; then
	step skip "hostile settings" "needs root"
	exit 0
fi
hostile_thp
hostile_io_uring
hostile_uffd
hostile_hugetlb
hostile_zram
hostile_swap
