# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# What the check scripts share (sourced): the machine settings the suite
# may touch and must give back, and the tally of a sub-check's lines.

# What the suite may touch and must give back.
settings()
{
	cat /proc/swaps
	for d in /sys/block/zram*; do echo "${d##*/}"; done
	cat /sys/kernel/mm/hugepages/*/nr_hugepages 2>/dev/null
	grep -v ' /proc\| /sys' /proc/mounts | sort
	sysctl -n vm.unprivileged_userfaultfd 2>/dev/null
	sysctl -n kernel.io_uring_disabled 2>/dev/null
	cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null
	ls -l /dev/userfaultfd 2>/dev/null
}

# check_tally FILE: "PASS FAIL SKIP", the counts of its "check: " lines.
check_tally()
{
	echo "$(grep -c '^check: PASS' "$1") $(grep -c '^check: FAIL' "$1")" \
		"$(grep -c '^check: SKIP' "$1")"
}
