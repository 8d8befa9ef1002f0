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
# shellcheck source=lib/ktap.sh
. scripts/lib/ktap.sh
# shellcheck source=lib/checks.sh
. scripts/lib/checks.sh
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

# Add the check lines of a sub-check's output FILE to the tally.
add_tally()
{
	local p f k

	read -r p f k <<<"$(check_tally "$1")"
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + k))
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

# 2. negative controls: a broken checker must turn a passing cell red
#    (the list, shared with the VM: scripts/controls.txt)
if [ $root -eq 0 ]; then
	step skip "negative controls" "needs root"
else
	scripts/run-controls.sh host "$bin" scripts/controls.txt \
		>"$log/controls.out" 2>&1
	cat "$log/controls.out"
	passed=$((passed + $(grep -c '^check: PASS' "$log/controls.out")))
	failed=$((failed + $(grep -c '^check: FAIL' "$log/controls.out")))
fi

# 2b. the matrix comparison judges the reason and XPASS too: a listed
#     cell failing for another reason, and a known bug that passes,
#     must each be a mismatch; the listed reason must match
ktap_one()
{
	printf '%s\n' "# selftests: mm: gup_stall_iouring" "# TAP version 13" \
		"# # io_uring-register2 anon missing none: FAIL: $1" \
		"# $2 1 io_uring-register2 anon missing none$3"
}
cmp_case()
{
	local want=$1 name=$2 out

	ktap_one "$3" "$4" "$5" >"$log/compare.ktap"
	out=$(scripts/vmtest.sh --compare debian-6.12 "$log/compare.ktap" 2>&1 |
		grep -v 'expected failure not run')
	if grep -q "$want" <<<"$out"; then
		step pass "matrix comparison: $name"
	else
		step fail "matrix comparison: $name" "want '$want': $out"
	fi
}
cmp_case "as expected" "the listed reason matches" \
	"tag CQE: no tag completion after unregistering" "not ok" ""
cmp_case "other reason" "another reason is a mismatch" \
	"pin left behind after the cell" "not ok" ""
cmp_case "MISMATCH" "XPASS is a mismatch" "x" "ok" " # XPASS fixed"

# 3. the suite, as README says: make run_tests
start=$(date +%s)
make -s O="$O" run_tests 2>&1 | tee "$log/run_tests.ktap"
rc=${PIPESTATUS[0]}
secs=$(($(date +%s) - start))
# the cells by result (lib/ktap.sh); cells_ok counts every "ok" cell
read -r cells_ok cells_skip cells_xfail cells_xpass cells_fail < <(
	ktap_records "$log/run_tests.ktap" | awk -F'\t' '
	$4 != "(program)" { n[$3]++ }
	END {
		print n["ok"] + n["skip"] + n["xfail"] + n["xpass"], n["skip"] + 0,
			n["xfail"] + 0, n["xpass"] + 0, n["fail"] + 0
	}')
# a known bug that no longer shows (XPASS): the matrix must be updated
cells_fail=$((cells_fail + cells_xpass))
passed=$((passed + cells_ok - cells_skip - cells_xpass))
skipped=$((skipped + cells_skip))
failed=$((failed + cells_fail))
echo "check: suite: $((cells_ok - cells_skip - cells_xpass)) ok" \
	"($cells_xfail of them XFAIL: known open kernel bugs)," \
	"$cells_fail not ok or XPASS, $cells_skip skipped in ${secs}s (exit $rc)"
if [ $rc -ne 0 ] && [ $rc -ne 4 ] && [ "$cells_fail" -eq 0 ]; then
	step fail "make run_tests" "exit $rc without a failing cell"
fi

# 4. an interrupted run gives the machine back too. The signal comes
#    when the run's state shows it is due, never from the program's
#    output, which is block-buffered in a file: the runner is stopped
#    (SIGSTOP) as soon as the zram device its record in /run/gup_stall
#    names is in /proc/swaps, and gets SIGTERM while it is held there.
#    Other runs on the machine may have swap of their own.
zram_swap_on()
{
	local l rec=/run/gup_stall/$1 dev=

	# read builtins only: no fork in the tight loop below
	{ read -r _; read -r _ dev; } 2>/dev/null <"$rec" || return 1
	[[ $dev == [0-9]* ]] || return 1
	while IFS= read -r l; do
		[[ $l == "/dev/zram$dev "* ]] && return 0
	done </proc/swaps
	return 1
}
sigterm_run()
{
	local i

	(cd "$bin" && exec setsid ./gup_stall_remote -f swapin) >"$out" 2>&1 &
	pid=$!
	for ((i = 0; i < 200000; i++)); do
		zram_swap_on $pid && kill -STOP $pid && break
		kill -0 $pid 2>/dev/null || break
	done
	if zram_swap_on $pid && kill -0 $pid 2>/dev/null; then
		read -r _ _ zdev <"/run/gup_stall/$pid"
		kill -TERM $pid
		kill -CONT $pid
		wait $pid
		rc=$?
		return 0
	fi
	kill -CONT $pid 2>/dev/null
	wait $pid
	rc=$?
	return 1
}
if [ $root -eq 1 ]; then
	out=$log/sigterm.out
	held=0
	for _ in 1 2 3; do
		sigterm_run && held=1 && break
	done
	if [ $held = 1 ]; then
		# what the handler did not kill dies of its parent-death
		# signal; zombies are init's to reap
		for _ in $(seq 40); do
			left=$(ps -s "$pid" -o stat= | grep -vc '^Z')
			[ "$left" = 0 ] && break
			sleep 0.05
		done
		if [ $rc -eq 143 ] && ! grep -q "^/dev/zram$zdev " /proc/swaps &&
		   [ ! -e "/run/gup_stall/$pid" ] && [ "$left" = 0 ]; then
			step pass "SIGTERM while the library's swap is on"
		else
			step fail "SIGTERM during a run" \
				"exit $rc; $left processes left; $(cat /proc/swaps)"
		fi
	else
		step fail "SIGTERM during a run" "3 runs, none seen with its swap on (exit $rc)"
	fi
fi

# 5. reliability: interrupted, killed and concurrent runs
if [ $root -eq 1 ]; then
	# shellcheck disable=SC2086 # the list of programs is split on purpose
	scripts/check-reliability.sh "$bin" $progs | tee "$log/reliability.out"
	passed=$((passed + $(grep -c '^check: PASS' "$log/reliability.out")))
	failed=$((failed + $(grep -c '^check: FAIL' "$log/reliability.out")))
else
	step skip "reliability" "needs root"
fi

# 5a. the library is layered, no two files call each other; the same
#     check on the list reversed must fail (its negative control)
if out=$(scripts/check-layers.sh 2>&1); then
	step pass "${out#check: PASS }"
else
	step fail "library layering" "$out"
fi
if out=$(scripts/check-layers.sh -r 2>&1); then
	step fail "negative control of the layering check" "the reversed list passed"
else
	step pass "negative control: the layering check fails on the reversed list"
fi
if out=$(scripts/check-shape.sh 2>&1); then
	step pass "${out#check: PASS }"
else
	step fail "code shape" "${out#check: FAIL code shape: }"
fi
if out=$(scripts/check-shape.sh 300 30 2>&1); then
	step fail "negative control of the shape check" "limits of 300 and 30 lines passed"
else
	step pass "negative control: the shape check fails at 300 and 30 lines"
fi

# 5b. the suite builds for another architecture (arm64, cross)
scripts/check-arm64.sh >"$log/arm64.out" 2>&1
cat "$log/arm64.out"
add_tally "$log/arm64.out"

# 5c. the kernel log reader on canned logs, and hostile settings of the
#     running kernel, each restored (scripts/check-hostile.sh)
scripts/check-hostile.sh >"$log/hostile.out" 2>&1
rc=$?
cat "$log/hostile.out"
add_tally "$log/hostile.out"
if [ $rc -ne 0 ] && ! grep -q '^check: FAIL' "$log/hostile.out"; then
	step fail "hostile settings" "exit $rc without a failing step"
fi

after=$(settings)
if [ "$before" = "$after" ]; then
	step pass "swap, zram, nr_hugepages, mounts and sysctls restored"
else
	step fail "settings restored" "$(diff <(echo "$before") <(echo "$after") | head -5)"
fi

# 6. unprivileged: every program skips with a reason, nothing fails
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

# 7. other kernels in QEMU, compared with the kernel matrix
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

# 7b. the negative controls of the VM-only checkers (KVM, NUMA): one boot
name="negative controls in QEMU (debian-6.12)"
if [ "${GS_VMTEST:-1}" = 0 ]; then
	step skip "$name" "GS_VMTEST=0"
elif [ $root -eq 0 ]; then
	step skip "$name" "needs root to install QEMU and the kernel package"
else
	start=$(date +%s)
	O="$O" scripts/vmtest.sh -C debian-6.12 >"$log/vmtest-controls.out" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	grep '^check: ' "$log/vmtest-controls.out"
	n_ok=$(grep -c '^check: PASS' "$log/vmtest-controls.out")
	n_bad=$(grep -c '^check: FAIL' "$log/vmtest-controls.out")
	passed=$((passed + n_ok))
	failed=$((failed + n_bad))
	if [ $rc -ne 0 ] && [ "$n_bad" -eq 0 ]; then
		why="exit $rc after ${secs}s without a failing control"
		step fail "$name" "$why, see $log/vmtest-controls.out"
	elif [ "$n_ok" -eq 0 ]; then
		step fail "$name" "no control ran, see $log/vmtest-controls.out"
	fi
fi

# 8. the series in a kernel tree: git am, in-tree build and run,
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
	add_tally "$log/check-tree.out"
	if [ $rc -ne 0 ] && ! grep -q '^check: FAIL' "$log/check-tree.out"; then
		step fail "kernel-tree integration" "exit $rc without a failing step"
	fi
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
