#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The project's own test (make check): build with gcc and clang, prove
# that every checker can fail (negative controls), run the suite on the
# running kernel, and check that the machine's settings are as before,
# also after failing cells and after an interrupted run. Ends with the
# line "N passed, N failed, N skipped" counting steps and suite cells.

set -u
cd "$(dirname "$0")/.." || exit 1
top=$(pwd)
O=${O:-$top/build}
log=$O/check
mkdir -p "$log"

passed=0
failed=0
skipped=0

step()
{
	local verdict=$1 name=$2 why=${3:-}

	case $verdict in
	pass)	passed=$((passed + 1)); echo "check: PASS $name" ;;
	skip)	skipped=$((skipped + 1)); echo "check: SKIP $name: $why" ;;
	*)	failed=$((failed + 1)); echo "check: FAIL $name${why:+: $why}" ;;
	esac
}

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

bin=$O/cc
progs=$(make -s --no-print-directory -C tools/testing/selftests/mm print-progs)

# 1. builds
if make -s O="$O" >"$log/build-gcc.log" 2>&1; then
	step pass "build with gcc -Wall -Werror"
else
	step fail "build with gcc" "see $log/build-gcc.log"
	tail -20 "$log/build-gcc.log"
fi
if command -v clang >/dev/null; then
	if make -s O="$O" CC=clang >"$log/build-clang.log" 2>&1; then
		step pass "build with clang -Wall -Werror"
	else
		step fail "build with clang" "see $log/build-clang.log"
		tail -20 "$log/build-clang.log"
	fi
else
	step skip "build with clang" "clang not installed"
fi

root=0
[ "$(id -u)" -eq 0 ] && root=1
before=$(settings)

# 2. negative controls: a broken checker must turn a passing cell red.
#    control  program  cell  words the failure must contain
controls=(
	"pattern|gup_stall_remote|process_vm_readv anon missing none|data mismatch"
	"pattern|gup_stall_remote|process_vm_writev memfd none none|data mismatch"
	"errno|gup_stall_remote|proc-pid-mem anon missing none|want EFAULT"
	"errno|gup_stall_remote|process_vm_readv stack none below-stack|want EIO"
	"lockdrop|gup_stall_remote|process_vm_readv anon missing none|mmap_lock not dropped"
	"kmsg|gup_stall_remote|process_vm_readv anon none none|kernel log"
	"hang|gup_stall_remote|process_vm_readv memfd missing none|still blocked"
	"msgs|gup_stall_remote|process_vm_writev anon missing none|userfaultfd messages"
	"pin|gup_stall_iouring|io_uring-register thp missing none|pin left behind"
	"errno|gup_stall_populate|madv_populate_read anon missing munmap-tail|want EIO"
	"reads|gup_stall_populate|madv_populate_read fuse-eio none none|READ requests for 4 pages"
	"stuck-read|gup_stall_populate|mlock fuse-eio none none|a hang, not a retry loop"
)
for c in "${controls[@]}"; do
	IFS='|' read -r ctl prog cell words <<<"$c"
	name="negative control $ctl: '$cell'"
	if [ $root -eq 0 ]; then
		step skip "$name" "needs root"
		continue
	fi
	out=$(cd "$bin" && timeout 120 "./$prog" -n "$ctl" -f "$cell" 2>&1)
	rc=$?
	if [ $rc -eq 1 ] && grep -q "^not ok 1 $cell\$" <<<"$out" &&
	   grep -q "FAIL: .*$words" <<<"$out"; then
		step pass "$name"
	else
		step fail "$name" "exit $rc, expected 1 and a failure with '$words'"
		echo "$out" | tail -5
	fi
done

# 3. the suite, as README says: make run_tests
start=$(date +%s)
make -s O="$O" run_tests 2>&1 | tee "$log/run_tests.ktap"
rc=${PIPESTATUS[0]}
secs=$(($(date +%s) - start))
count()
{
	grep -cE "$1" "$log/run_tests.ktap"
}
cells_ok=$(count '^# ok [0-9]+ ')
cells_skip=$(count '^# ok [0-9]+ .*# SKIP')
cells_xfail=$(count '^# ok [0-9]+ .*# XFAIL')
# a known bug that no longer shows: the matrix must be updated
cells_xpass=$(count '^# ok [0-9]+ .*# XPASS')
cells_fail=$(($(count '^# not ok [0-9]+ ') + cells_xpass))
passed=$((passed + cells_ok - cells_skip - cells_xpass))
skipped=$((skipped + cells_skip))
failed=$((failed + cells_fail))
echo "check: suite: $((cells_ok - cells_skip - cells_xpass)) ok" \
	"($cells_xfail of them XFAIL: known open kernel bugs)," \
	"$cells_fail not ok or XPASS, $cells_skip skipped in ${secs}s (exit $rc)"
if [ $rc -ne 0 ] && [ $rc -ne 4 ] && [ "$cells_fail" -eq 0 ]; then
	step fail "make run_tests" "exit $rc without a failing cell"
fi

# 4. an interrupted run gives the machine back too
if [ $root -eq 1 ]; then
	out=$log/sigterm.out
	(cd "$bin" && exec ./gup_stall_remote -f swapin) >"$out" 2>&1 &
	pid=$!
	for _ in $(seq 200); do
		grep -q "swap on" "$out" && break
		sleep 0.05
	done
	if grep -q "swap on" "$out" && grep -q zram /proc/swaps; then
		kill -TERM $pid
		wait $pid
		rc=$?
		if [ $rc -eq 143 ] && ! grep -q zram /proc/swaps; then
			step pass "SIGTERM while the library's swap is on"
		else
			step fail "SIGTERM during a run" "exit $rc; $(cat /proc/swaps)"
		fi
	else
		wait $pid
		step fail "SIGTERM during a run" "the run never turned swap on"
	fi
fi

# 5b. the suite builds for another architecture (arm64, cross)
scripts/check-arm64.sh >"$log/arm64.out" 2>&1
cat "$log/arm64.out"
passed=$((passed + $(grep -c '^check: PASS' "$log/arm64.out")))
failed=$((failed + $(grep -c '^check: FAIL' "$log/arm64.out")))
skipped=$((skipped + $(grep -c '^check: SKIP' "$log/arm64.out")))

# 5a. the kernel log reader on canned logs, and hostile settings of the
#     running kernel, each restored (scripts/check-hostile.sh)
scripts/check-hostile.sh >"$log/hostile.out" 2>&1
rc=$?
cat "$log/hostile.out"
passed=$((passed + $(grep -c '^check: PASS' "$log/hostile.out")))
failed=$((failed + $(grep -c '^check: FAIL' "$log/hostile.out")))
skipped=$((skipped + $(grep -c '^check: SKIP' "$log/hostile.out")))
if [ $rc -ne 0 ] && ! grep -q '^check: FAIL' "$log/hostile.out"; then
	step fail "hostile settings" "exit $rc without a failing step"
fi

after=$(settings)
if [ "$before" = "$after" ]; then
	step pass "swap, zram, nr_hugepages, mounts and sysctls restored"
else
	step fail "settings restored" "$(diff <(echo "$before") <(echo "$after") | head -5)"
fi

# 5. unprivileged: every program skips with a reason, nothing fails
if [ $root -eq 1 ] && command -v setpriv >/dev/null; then
	tmp=$(mktemp -d)
	chmod 755 "$tmp"
	for p in $progs; do
		cp "$bin/$p" "$tmp/"
	done
	out=$(cd "$tmp" && setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$top/scripts/run-suite.sh" "$tmp" $progs 2>&1)
	rc=$?
	rm -rf "$tmp"
	if [ $rc -eq 4 ] && ! grep -q "not ok" <<<"$out" &&
	   grep -q "SKIP needs root" <<<"$out"; then
		step pass "unprivileged run skips with a reason (exit 4)"
	else
		step fail "unprivileged run" "exit $rc, want 4 and no failure"
		echo "$out" | grep -v "^# ok" | tail -5
	fi
else
	step skip "unprivileged run" "needs root to switch to nobody"
fi

# 6. other kernels in QEMU, compared with the kernel matrix
for k in debian-6.1 debian-6.12 debian-6.12-rt; do
	name="vmtest $k matches the kernel matrix"
	if [ "${GS_VMTEST:-1}" = 0 ]; then
		step skip "$name" "GS_VMTEST=0"
	elif [ $root -eq 0 ]; then
		step skip "$name" "needs root to install QEMU and the kernel package"
	elif ! scripts/install-deps.sh qemu-system-x86 busybox-static cpio \
		e2fsprogs bash-static zstd xz-utils kmod binutils \
		>"$log/vmtest-deps.log" 2>&1; then
		step skip "$name" "cannot install QEMU ($(tail -1 "$log/vmtest-deps.log"))"
	else
		start=$(date +%s)
		O="$O" scripts/vmtest.sh -c "$k" >"$log/vmtest-$k.ktap" 2>&1
		rc=$?
		secs=$(($(date +%s) - start))
		grep -E '^(compare|vmtest:)' "$log/vmtest-$k.ktap" | tail -3
		if [ $rc -eq 0 ]; then
			step pass "$name (${secs}s)"
		else
			step fail "$name" "exit $rc after ${secs}s, see $log/vmtest-$k.ktap"
		fi
	fi
done

# 7. the series in a kernel tree: git am, in-tree build and run,
#    checkpatch, docs
if [ "${GS_TREECHECK:-1}" = 0 ]; then
	step skip "kernel-tree integration" "GS_TREECHECK=0"
else
	[ $root -eq 1 ] && scripts/install-deps.sh git python3-docutils \
		>"$log/tree-deps.log" 2>&1
	O="$O" scripts/check-tree.sh >"$log/check-tree.out" 2>&1
	rc=$?
	# the same series exported for a 6.1 tree: applies and builds
	if [ $root -eq 1 ] && scripts/install-deps.sh linux-source-6.1 \
		>>"$log/tree-deps.log" 2>&1; then
		O="$O" scripts/check-tree.sh -b 6.1 -n 2>&1 |
			grep -v 'checkpatch\|SPDX\|docutils\|MAINTAINERS' |
			sed 's/^check: \([A-Z]*\) /check: \1 6.1 tree: /' \
			>>"$log/check-tree.out"
		[ "${PIPESTATUS[0]}" -ne 0 ] && rc=1
	fi
	cat "$log/check-tree.out"
	passed=$((passed + $(grep -c '^check: PASS' "$log/check-tree.out")))
	failed=$((failed + $(grep -c '^check: FAIL' "$log/check-tree.out")))
	skipped=$((skipped + $(grep -c '^check: SKIP' "$log/check-tree.out")))
	if [ $rc -ne 0 ] && ! grep -q '^check: FAIL' "$log/check-tree.out"; then
		step fail "kernel-tree integration" "exit $rc without a failing step"
	fi
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
