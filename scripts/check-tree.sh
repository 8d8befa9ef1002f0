#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Check that the gup_stall series drops into a real kernel tree: export
# it, "git am" it into a fresh tree, build the programs with the tree's
# kselftest framework (also at every patch of the series), run the
# gup_stall category three ways (make run_tests, run_vmtests.sh -t
# gup_stall, an installed run_kselftest.sh), run checkpatch.pl --strict
# and build the documentation.
#
#   check-tree.sh [-k KDIR] [-b SOURCE] [-n]
#
#   -k KDIR    a kernel tree (cloned, or copied if not git; not changed)
#   -b SOURCE  without -k: Debian's linux-source version (default 6.12)
#   -n         build only, do not run the suite
#
# Prints one line per step, "check: PASS <step>", "check: FAIL <step>:
# why" or "check: SKIP <step>: why", and exits 1 when a step failed.
# Logs go to build/tree-check/. Only the gup_stall programs are built
# (lib.mk's TEST_GEN_FILES is given on the command line): the tree's
# other mm tests need packages (libcap-dev, 32-bit libc) this suite does
# not, and their build is not what is checked here.

set -u

top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib/ktap.sh
. "$top/scripts/lib/ktap.sh"
build=${O:-$top/build}
kdir=
source=6.12
run=1

while getopts "k:b:nh" opt; do
	case $opt in
	k)	kdir=$OPTARG ;;
	b)	source=$OPTARG ;;
	n)	run=0 ;;
	*)	sed -n '4,22s/^# \{0,1\}//p' "$0"; exit 2 ;;
	esac
done

work=$build/tree-check
log=$work/log
series=$work/series
tree=$work/linux
rm -rf "$log" "$series"
mkdir -p "$log"
failed=0

pass()
{
	echo "check: PASS $1"
}

fail()
{
	echo "check: FAIL $1: $2"
	failed=1
}

skip()
{
	echo "check: SKIP $1: $2"
}

# Run "$@" with its output in $log/$name.log; PASS or FAIL step $step.
step()
{
	local step=$1 name=$2 start rc

	shift 2
	start=$(date +%s)
	"$@" >"$log/$name.log" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		pass "$step ($(($(date +%s) - start))s)"
	else
		fail "$step" "exit $rc, see $log/$name.log"
		tail -n 5 "$log/$name.log" | sed 's/^/  /'
	fi
	return $rc
}

finish()
{
	[ $failed -eq 0 ]
	exit $?
}

# 1. the series, from the repository's files as they are now
if [ -n "$kdir" ]; then
	base=$(cd "$kdir" && pwd)
else
	base=$("$top/scripts/kernel-tree.sh" -o "$build" "$source" 2>"$log/kernel-tree.log") || {
		fail "kernel tree $source" "$(tail -n 1 "$log/kernel-tree.log")"
		finish
	}
fi
label=$(basename "$base")
[ "$label" = base ] && label=$(basename "$(dirname "$base")")
step "export the series against $label" export \
	"$top/scripts/export-series.sh" -k "$base" -o "$series" || finish
patches=$(ls "$series"/*.patch | grep -v cover-letter)

# 2. git am into a fresh tree
rm -rf "$tree"
apply()
{
	if ! git -C "$base" rev-parse -q --verify HEAD >/dev/null; then
		echo "$base is not a git tree: it is copied"
		cp -a "$base" "$tree" &&
		git -C "$tree" init -q &&
		git -C "$tree" add -A -f &&
		git -C "$tree" -c user.name=check-tree.sh \
			-c user.email=check-tree@localhost commit -q -m base ||
			return 1
	else
		git clone -q --shared "$base" "$tree" || return 1
	fi
	git -C "$tree" config user.name "check-tree.sh" &&
	git -C "$tree" config user.name "check-tree.sh" &&
	git -C "$tree" config user.email "check-tree@localhost" &&
	# shellcheck disable=SC2086
	base_commit=$(git -C "$tree" rev-parse HEAD) &&
	git -C "$tree" am -q $patches
}
step "git am of $(echo "$patches" | wc -l) patches into a fresh tree" am apply ||
	finish

sub=mm
[ -d "$tree/tools/testing/selftests/mm" ] || sub=vm
mmdir=$tree/tools/testing/selftests/$sub
progs=$(sed -n 's/^TEST_GEN_FILES += \(gup_stall_.*\)/\1/p' "$mmdir/Makefile")
gen=
for p in $progs; do
	gen="$gen $mmdir/$p"
done

# 3. uapi headers where lib.mk looks for them, then only our programs
step "make headers in the tree" headers make -C "$tree" headers || finish
ksft()
{
	make -C "$tree/tools/testing/selftests" TARGETS="$sub" \
		TEST_GEN_FILES="${gen# }" "$@"
}

step "in-tree build: make -C tools/testing/selftests TARGETS=$sub" \
	build ksft || finish
for p in $progs; do
	[ -x "$mmdir/$p" ] || fail "in-tree build" "no $p"
done
if grep -q "warning:" "$log/build.log"; then
	n=$(grep -c "warning:" "$log/build.log")
	fail "in-tree build without warnings" "$n warnings, see $log/build.log"
else
	pass "in-tree build without warnings"
fi

# Every patch of the series builds what it has so far (bisectability).
bisect()
{
	local c ps p g head

	head=$(git -C "$tree" rev-parse HEAD)
	for c in $(git -C "$tree" rev-list --reverse "$base_commit..$head"); do
		git -C "$tree" checkout -q "$c" || return 1
		ps=$(sed -n 's/^TEST_GEN_FILES += \(gup_stall_.*\)/\1/p' "$mmdir/Makefile")
		g=
		for p in $ps; do
			g="$g $mmdir/$p"
		done
		[ -n "$g" ] || continue
		# shellcheck disable=SC2086
		rm -f $g
		echo "== $(git -C "$tree" log -1 --format=%s "$c")"
		make -C "$tree/tools/testing/selftests" TARGETS="$sub" \
			TEST_GEN_FILES="${g# }" || { echo "does not build"; return 1; }
	done
	git -C "$tree" checkout -q "$head"
}
step "every patch builds (bisect)" bisect-build bisect || finish

# 4. the category, three ways
# The runner's results of the programs (lib/ktap.sh: the program lines
# and the results one level below them, "ok N PROG [ARGS]").
ktap_ok()
{
	local f=$1 p res

	for p in $progs; do
		res=$(ktap_records "$f" | awk -F'\t' -v p="$p" '
			$4 == p || index($4, p " ") == 1 { seen = 1; bad += $3 == "fail" }
			END { if (seen) print bad ? "fail" : "ok" }')
		[ -n "$res" ] || { echo "no result for $p"; return 1; }
		[ "$res" != fail ] || { echo "$p failed"; return 1; }
	done
	ktap_records "$f" | awk -F'\t' '$3 == "fail" { bad = 1 } END { exit !bad }' &&
		{ echo "a test failed"; return 1; }
	return 0
}
# run_vmtests.sh is one test of the mm collection; the suite needs more
# than its 180 s default.
export kselftest_override_timeout=1800

if [ $run -eq 0 ]; then
	skip "run the gup_stall category" "-n"
elif [ "$(id -u)" -ne 0 ]; then
	skip "run the gup_stall category" "needs root"
elif ! grep -q '^CATEGORY="gup_stall"' "$mmdir/run_vmtests.sh"; then
	skip "run the gup_stall category" "this tree's run_vmtests.sh has no categories"
else
	# VM_SELFTEST_ITEMS is what run_vmtests.sh -t sets; from the
	# environment it restricts the runner's call without arguments.
	start=$(date +%s)
	VM_SELFTEST_ITEMS=gup_stall ksft run_tests >"$log/run_tests.log" 2>&1
	secs=$(($(date +%s) - start))
	if why=$(ktap_ok "$log/run_tests.log") &&
	   ktap_records "$log/run_tests.log" | awk -F'\t' '
		$2 == "run_vmtests.sh" && $4 == "(program)" { res = $3 }
		END { exit res != "ok" && res != "skip" }'; then
		pass "VM_SELFTEST_ITEMS=gup_stall make ... TARGETS=$sub run_tests (${secs}s)"
	else
		fail "make run_tests" "${why:-run_vmtests.sh not ok}, see $log/run_tests.log"
	fi

	start=$(date +%s)
	(cd "$mmdir" && ./run_vmtests.sh -t gup_stall) >"$log/run_vmtests.log" 2>&1
	rc=$?
	# 4: a program skipped (KSFT_SKIP), which is not a failure
	if why=$(ktap_ok "$log/run_vmtests.log") && { [ $rc -eq 0 ] || [ $rc -eq 4 ]; }; then
		pass "run_vmtests.sh -t gup_stall ($(($(date +%s) - start))s)"
	else
		fail "run_vmtests.sh -t gup_stall" "exit $rc ${why:-}, see $log/run_vmtests.log"
	fi
fi

inst=$work/install
rm -rf "$inst"
if step "make -C tools/testing/selftests TARGETS=$sub install" install \
	ksft install INSTALL_PATH="$inst"; then
	for p in $progs; do
		[ -x "$inst/$sub/$p" ] || fail "install" "no $sub/$p in $inst"
	done
	if [ $run -eq 1 ] && [ "$(id -u)" -eq 0 ] &&
	   grep -q '^CATEGORY="gup_stall"' "$mmdir/run_vmtests.sh"; then
		start=$(date +%s)
		(cd "$inst" && VM_SELFTEST_ITEMS=gup_stall ./run_kselftest.sh \
			-o 1800 -t "$sub:run_vmtests.sh") >"$log/run_kselftest.log" 2>&1
		rc=$?
		secs=$(($(date +%s) - start))
		if why=$(ktap_ok "$log/run_kselftest.log") && [ $rc -eq 0 ]; then
			pass "installed run_kselftest.sh -t $sub:run_vmtests.sh (${secs}s)"
		else
			fail "installed run_kselftest.sh" \
				"exit $rc ${why:-}, see $log/run_kselftest.log"
		fi
	fi
fi

# 5. checkpatch, from the tree (--no-tree: the tree is only a subset).
# New files make it ask whether MAINTAINERS needs updating: it does not
# when the tree's MAINTAINERS covers their directories, checked here.
cp=$tree/scripts/checkpatch.pl
findings()
{
	grep -E '(ERROR|WARNING|CHECK):' "$1" | cut -d: -f1 | xargs -n 1 basename |
		sort | uniq -c |
		awk '{ printf "%s%s: %s", sep, $2, $1; sep = ", " }'
}
if [ -f "$cp" ]; then
	cpcheck()
	{
		local out=$1

		shift
		# UNKNOWN_COMMIT_ID: the tree has no upstream history to
		# look the Fixes: and cited commits of scripts/fixes/ up in
		perl "$cp" --strict --no-tree --show-types --terse \
			--ignore FILE_PATH_CHANGES,UNKNOWN_COMMIT_ID "$@" >"$out" 2>&1
	}
	if [ -f "$tree/MAINTAINERS" ]; then
		missing=
		for d in "tools/testing/selftests/$sub/" \
			 Documentation/mm/gup_stall.rst; do
			grep -qE "^F:\s*($d|$(dirname "$d")/)\$" "$tree/MAINTAINERS" ||
				missing="$missing $d"
		done
		if [ -z "$missing" ]; then
			pass "MAINTAINERS covers the new files"
		else
			fail "MAINTAINERS" "no F: entry for$missing"
		fi
	fi
	# shellcheck disable=SC2086
	if cpcheck "$log/checkpatch-series.log" $patches; then
		pass "checkpatch.pl --strict on the series"
	else
		fail "checkpatch.pl --strict on the series" \
			"$(findings "$log/checkpatch-series.log"), see $log/checkpatch-series.log"
	fi
	files=$(cd "$top" && ls tools/testing/selftests/mm/*.[ch] scripts/*.sh \
		scripts/lib/*.sh scripts/vmtest-init .ci/run 2>/dev/null)
	# shellcheck disable=SC2086
	if (cd "$top" && cpcheck "$log/checkpatch-files.log" -f $files); then
		pass "checkpatch.pl --strict on the C files and scripts"
	else
		fail "checkpatch.pl --strict on the C files and scripts" \
			"$(findings "$log/checkpatch-files.log"), see $log/checkpatch-files.log"
	fi
else
	skip "checkpatch.pl" "no scripts/checkpatch.pl in the tree"
fi

# every file of the repository has an SPDX line, but for the kernel
# fixes: they are mails for git am, which must start with "From "
nospdx=
tag='SPDX-''License-Identifier:'
for f in $(git -C "$top" ls-files --cached --others --exclude-standard |
	   grep -v '^scripts/fixes/.*\.patch$'); do
	head -n 3 "$top/$f" | grep -q "$tag" || nospdx="$nospdx $f"
done
if [ -z "$nospdx" ]; then
	pass "SPDX line in every file"
else
	fail "SPDX line in every file" "missing in$nospdx"
fi

# 6. the documentation, as plain reStructuredText, warnings are errors
rst=$top/Documentation/mm/gup_stall.rst
rst2html=
for c in rst2html rst2html.py rst2html3; do
	command -v "$c" >/dev/null && { rst2html=$c; break; }
done
if [ -z "$rst2html" ] && python3 -c 'import docutils' 2>/dev/null; then
	rst2html="python3 -m docutils"
fi
if [ -z "$rst2html" ]; then
	skip "docs build" "no docutils: apt-get install python3-docutils"
elif $rst2html --halt=warning --report=info --strict "$rst" \
	>"$work/gup_stall.html" 2>"$log/docs.log"; then
	pass "Documentation/mm/gup_stall.rst builds with docutils, warnings as errors"
else
	fail "docs build" "$(head -n 1 "$log/docs.log")"
fi

finish
