#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Mutation bench: how many seeded kernel bugs in the lock-drop paths does
# the gup_stall suite catch, compared with the kernel's own mm selftests?
# Not part of CI (hours under QEMU TCG).
#
#   mutation-bench [options] [MUTANT...]
#
# MUTANT: a name from scripts/mutants/ (NN-name, with or without .patch);
# default: all of them. The unmutated kernel ("baseline") always runs
# first unless its result is already there (-B to run it again).
#
# options:
#   -c CONFIG  the kernel configuration: "tiny" (default: tinyconfig +
#              scripts/mutation.config, in $O/kernel) or "defconfig"
#              (x86_64_defconfig + kvm_guest.config + the tree's
#              tools/testing/selftests/mm/config + scripts/gup_stall.config
#              + scripts/debug.config, what an mm developer runs; its own
#              tree $O/kernel-defconfig, results in $O/mutation/defconfig)
#   -b         the baseline only, no mutant
#   -k DIR     kernel tree (default $O/kernel; extracted from Debian's
#              linux-source-6.12 tarball when it has no Makefile)
#   -t SECS    timeout for each suite VM run (default 1500)
#   -T SECS    per-program timeout in the guest (default 600)
#   -u         also run the upstream mm selftests (cow, gup_longterm,
#              madv_populate, uffd-unit-tests, gup_test, mlock2-tests,
#              mlock-random-test, map_populate) in the same VM setup
#   -d DIR     take the patches from DIR (default scripts/mutants;
#              scripts/fix-bench.sh passes scripts/fixes)
#   -U         only the upstream selftests (the suite results are kept)
#   -x         stop a mutant's suite run at its first new failing cell
#              (the VM is killed: the table then has the first kill only)
#   -B         run the baseline again
#   -s         print the table from the stored results and exit
#   -h         this help
#
# Every kernel is built incrementally in the one tree: the mutant's patch
# is applied, `make vmlinux` recompiles the touched file and relinks, the
# run happens, the patch is reverted. A tree left with a mutant applied by
# an interrupted run is cleaned up at the next start ($KDIR/.mutant).
# The suite is run from a snapshot of this repository taken at the start
# ($O/mutation/suite), so that edits made meanwhile do not change it.
#
# Results (-c defconfig: under $O/mutation/defconfig instead):
# $O/mutation/results/<name>/ (ktap.txt with host seconds in
# front of each line, vmtest.rc, build.secs, upstream.txt, upstream.rc);
# the table is printed at the end and written to $O/mutation/table.md.
#
# Kill criteria (the suite): a failing cell (a "not ok" line) that the
# baseline does not have, a program that failed, bailed out or timed out
# while it passed on the baseline, or a VM crash (vmtest exit 2: labelled
# "crash") or a VM timeout (exit 124: "timeout"). The cell's own
# diagnostics say whether the failure was a wrong result, a hang caught
# by the watchdog or a kernel log line found by the health check.
# Upstream: a test whose exit status differs from the baseline's, a new
# "not ok" line, a new bad kernel log line, or a crash/timeout.

set -u

repo=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-$repo/build}
kdir=
kconf=tiny
base_only=0
vm_timeout=1500
prog_timeout=600
do_suite=1
do_upstream=0
rerun_base=0
first_kill=0
table_only=0
tarball=/usr/src/linux-source-6.12.tar.xz
res=
mutdir=$repo/scripts/mutants
export CCACHE_DIR=${CCACHE_DIR:-$O/ccache}
kmake=(nice -n 19 make -j2 ARCH=x86_64)
command -v ccache >/dev/null && kmake+=(CC="ccache gcc")

usage()
{
	sed -n '/^# Mutation bench/,/^$/p' "$0" | sed 's/^# \{0,1\}//'
	exit "${1:-0}"
}

# shellcheck source=lib/common.sh
. "$repo/scripts/lib/common.sh"
# shellcheck source=lib/ktap.sh
. "$repo/scripts/lib/ktap.sh"
# shellcheck source=lib/vm.sh
. "$repo/scripts/lib/vm.sh"

while getopts "c:bk:t:T:d:uUxBsh" opt; do
	case $opt in
	c) case $OPTARG in
	   tiny|defconfig) kconf=$OPTARG ;;
	   *) echo "mutation-bench: -c wants tiny or defconfig, not '$OPTARG'" >&2
	      exit 2 ;;
	   esac ;;
	b) base_only=1 ;;
	k) kdir=$OPTARG ;;
	d) [ -d "$OPTARG" ] || die "-d: no directory $OPTARG"
	   mutdir=$(cd "$OPTARG" && pwd) ;;
	t) vm_timeout=$OPTARG ;;
	T) prog_timeout=$OPTARG ;;
	u) do_upstream=1 ;;
	U) do_upstream=1; do_suite=0 ;;
	x) first_kill=1 ;;
	B) rerun_base=1 ;;
	s) table_only=1 ;;
	h) usage 0 ;;
	*) usage 1 >&2 ;;
	esac
done
shift $((OPTIND - 1))

if [ "$kconf" = defconfig ]; then
	kdir=${kdir:-$O/kernel-defconfig}
	mb=$O/mutation/defconfig
	ktarget=bzImage
	kimage=arch/x86/boot/bzImage
else
	kdir=${kdir:-$O/kernel}
	mb=$O/mutation
	ktarget=vmlinux
	kimage=vmlinux
fi
res=$mb/results

mutants=()
if [ $base_only = 1 ]; then
	[ $# -eq 0 ] || die "-b takes no mutant"
elif [ $# -gt 0 ]; then
	for m in "$@"; do
		m=$(basename "${m%.patch}")
		[ -f "$mutdir/$m.patch" ] || die "no mutant $m in $mutdir"
		mutants+=("$m")
	done
else
	for p in "$mutdir"/*.patch; do
		mutants+=("$(basename "${p%.patch}")")
	done
fi

# ---- the table ----

# Failing cells of a run: "PROGRAM | CELL" per line.
failing_cells()
{
	ktap_records -s "$1" | awk -F'\t' '$3 == "fail" { print $2 " | " $4 }' | sort -u
}

# First new failure: "SECS PROGRAM | CELL" and its last diagnostic line.
first_new_failure()
{
	local ktap=$1 base=$2
	ktap_records -s "$ktap" | awk -F'\t' -v basefile="$base" '
	BEGIN { while ((getline l < basefile) > 0) known[l] = 1 }
	$3 == "fail" && !(($2 " | " $4) in known) {
		print $1 " " $2 " | " $4
		print $6
		exit
	}'
}

verdict_suite()
{
	local d=$res/$1 rc ff secs cell diag kind
	[ -f "$d/vmtest.rc" ] || { echo "not run"; return; }
	rc=$(cat "$d/vmtest.rc")
	case $rc in
	2)	secs=$(tail -n 1 "$d/ktap.txt" | cut -d' ' -f1)
		echo "KILLED (crash, vmtest exit 2, $secs s)"
		return ;;
	124)	echo "KILLED (timeout of the whole VM run)"; return ;;
	build-failed) echo "build failed"; return ;;
	esac
	if [ "$1" = baseline ]; then
		n=$(grep -vc "(program)" "$d/failing.txt")
		echo "baseline (exit $rc, $n failing cells, as listed for debian-6.12)"
		return
	fi
	ff=$(first_new_failure "$d/ktap.txt" "$res/baseline/failing.txt")
	if [ -z "$ff" ]; then
		echo "survived (exit $rc, no new failing cell)"
		return
	fi
	secs=$(echo "$ff" | head -n 1 | cut -d' ' -f1)
	cell=$(echo "$ff" | head -n 1 | cut -d' ' -f2- | sed 's/ | /: /')
	diag=$(echo "$ff" | sed -n 2p | sed 's/^[^:]*: //; s/|/\\|/g' | cut -c1-100)
	case $diag in
	*kernel\ log*|*taint*|*kmsg*)	kind="kernel log" ;;
	*stuck\ for*|*not\ reaped*|*ignored\ SIG*|*survive\ SIGKILL*| \
	*not\ stalled*|*in\ state*|*did\ not\ return*|*still\ blocked*| \
	*TIMEOUT*|*timed\ out*)
		kind="hang" ;;
	*)	kind="wrong result" ;;
	esac
	if [ "$rc" = first-kill ]; then
		echo "KILLED by \`$cell\` at ${secs} s ($kind; run stopped there, -x): $diag"
	else
		n=$(comm -13 "$res/baseline/failing.txt" "$d/failing.txt" | wc -l)
		echo "KILLED by \`$cell\` at ${secs} s ($kind; $n new failing cells," \
			"vmtest exit $rc): $diag"
	fi
}

verdict_upstream()
{
	local d=$res/$1 b=$res/baseline diff
	[ -f "$d/upstream.rc" ] || { echo "not run"; return; }
	case $(cat "$d/upstream.rc") in
	2)	echo "KILLED (crash)"; return ;;
	124)	echo "KILLED (timeout of the whole VM run)"; return ;;
	build-failed) echo "build failed"; return ;;
	esac
	if [ "$1" = baseline ]; then
		echo "baseline: $(grep -h '^UPSTREAM-END' "$d/upstream.txt" |
			cut -d' ' -f2- | tr '\n' ' ')"
		return
	fi
	[ -f "$b/upstream.txt" ] || { echo "no baseline"; return; }
	diff=$(diff <(upstream_summary "$b/upstream.txt") \
		<(upstream_summary "$d/upstream.txt") |
		grep '^>' | cut -c3- | tr '\n' ';')
	if [ -n "$diff" ]; then echo "KILLED: $diff"; else echo "survived"; fi
}

# One line per test: exit status, and the names of its failing lines.
upstream_summary()
{
	grep -E '^UPSTREAM-END|^not ok|^# not ok|^UPSTREAM-KMSG |failed \[reason' "$1" |
		sed -E 's/^(# )?not ok [0-9]+ /not ok /' | sort -u
}

print_table()
{
	local m
	{
		echo "| mutant | build (s) | this suite | upstream mm selftests |"
		echo "|---|---|---|---|"
		for m in baseline "${mutants[@]}"; do
			secs=$(cat "$res/$m/build.secs" 2>/dev/null || echo -)
			echo "| $m | $secs | $(verdict_suite "$m")" \
				"| $(verdict_upstream "$m") |"
		done
	} | tee "$mb/table.md"
}

mkdir -p "$res"
if [ $table_only = 1 ]; then
	print_table
	exit 0
fi

# ---- the kernel tree ----

if [ ! -f "$kdir/Makefile" ]; then
	note "extracting $tarball into $kdir"
	mkdir -p "$kdir"
	tar -xJf "$tarball" -C "$kdir" --strip-components=1 || die "extracting failed"
fi
kdir=$(cd "$kdir" && pwd)

if [ -f "$kdir/.mutant" ]; then
	m=$(cat "$kdir/.mutant")
	note "reverting $m left applied by an earlier run"
	patch -d "$kdir" -p1 -R -s <"$mutdir/$m.patch" || die "cannot revert $m: fix $kdir by hand"
	rm -f "$kdir/.mutant"
fi

# base target and the fragments merged over it, in order
if [ "$kconf" = defconfig ]; then
	kbase=x86_64_defconfig
	frags=("$kdir/kernel/configs/kvm_guest.config"
	       "$kdir/tools/testing/selftests/mm/config"
	       "$repo/scripts/gup_stall.config" "$repo/scripts/debug.config")
else
	kbase=tinyconfig
	frags=("$repo/scripts/mutation.config")
fi

configure()
{
	local f missing
	note "configuring $kdir: $kbase + ${frags[*]##*/}"
	make -s -C "$kdir" ARCH=x86_64 "$kbase" >/dev/null &&
		(cd "$kdir" && scripts/kconfig/merge_config.sh -m .config \
			"${frags[@]}" >/dev/null) &&
		make -s -C "$kdir" ARCH=x86_64 olddefconfig || die "configuration failed"
	# an option the fragments ask for that Kconfig dropped (a dependency)
	missing=$(cat "${frags[@]}" | grep -E '^CONFIG_[A-Z0-9_]+=[ym]$' |
		while IFS= read -r f; do
			grep -qxF "$f" "$kdir/.config" || echo "${f%%=*}"
		done)
	[ -z "$missing" ] || note "not in the resulting config: $(echo $missing)"
}

newer=0
for f in "${frags[@]}"; do
	[ "$f" -nt "$kdir/.config" ] && newer=1
done
if [ ! -f "$kdir/.config" ] || [ $newer = 1 ]; then
	configure
fi

build()
{
	local name=$1 t0 t1
	mkdir -p "$res/$name"
	t0=$(date +%s)
	"${kmake[@]}" -C "$kdir" "$ktarget" >"$res/$name/build.log" 2>&1 || return 1
	t1=$(date +%s)
	echo $((t1 - t0)) >"$res/$name/build.secs"
	note "$name: built in $((t1 - t0)) s"
}

# ---- the suite, from a snapshot ----

snap=$mb/suite
if [ $do_suite = 1 ]; then
	rm -rf "$snap"
	mkdir -p "$snap"
	cp -a "$repo/Makefile" "$repo/scripts" "$snap/"
	mkdir -p "$snap/tools/testing/selftests"
	cp -a "$repo/tools/testing/selftests/mm" "$snap/tools/testing/selftests/"
	[ -f "$repo/tools/testing/selftests/Makefile" ] &&
		cp -a "$repo/tools/testing/selftests/Makefile" "$snap/tools/testing/selftests/"
	# cp -a keeps the sources' times: an edit made while an earlier run
	# built the programs would look older than them and not be built
	find "$snap/tools" -type f -exec touch {} +
	(cd "$repo" && { git rev-parse --short HEAD; git status --short -- tools scripts; }) \
		>"$mb/suite.rev" 2>/dev/null
fi

# The QEMU process started by the vmtest.sh whose pid is $1.
qemu_of()
{
	local p c
	for p in $(pgrep -P "$1"); do
		if [ "$(cat /proc/"$p"/comm 2>/dev/null)" = qemu-system-x86 ]; then
			echo "$p"
			return
		fi
		c=$(qemu_of "$p")
		[ -n "$c" ] && { echo "$c"; return; }
	done
}

run_suite()
{
	local name=$1 d=$res/$1 t0 rc vmpid line now known secs prog r cell q
	mkdir -p "$d"
	rm -f "$d/stopped" "$d/fifo"
	: >"$d/ktap.txt"
	note "$name: running the suite (timeout ${vm_timeout}s)"
	t0=$(date +%s)
	mkfifo "$d/fifo"
	O=$mb/o "$snap/scripts/vmtest.sh" -t "$vm_timeout" -T "$prog_timeout" \
		-o "$d/vm" "$kdir" >"$d/fifo" 2>"$d/vmtest.err" &
	vmpid=$!
	known=$res/baseline/failing.txt
	while IFS= read -r line; do
		printf -v now '%(%s)T' -1
		printf '%d %s\n' $((now - t0)) "$line"
	done <"$d/fifo" | tee -a "$d/ktap.txt" | ktap_records -s -f |
	while IFS=$'\t' read -r secs prog r cell _; do
		[ $first_kill = 1 ] && [ "$name" != baseline ] && [ ! -f "$d/stopped" ] || continue
		# a failing cell that the baseline does not have
		if [ "$r" != fail ] || [ "$cell" = "(program)" ]; then continue; fi
		grep -qxF "$prog | $cell" "$known" 2>/dev/null && continue
		# -x: the mutant is killed; stop the VM to save time
		echo "$secs $prog | $cell" >"$d/stopped"
		q=$(qemu_of "$vmpid")
		[ -n "$q" ] && kill "$q"
	done
	wait "$vmpid"
	rc=$?
	rm -f "$d/fifo"
	[ -f "$d/stopped" ] && rc=first-kill
	echo "$rc" >"$d/vmtest.rc"
	failing_cells "$d/ktap.txt" >"$d/failing.txt"
	note "$name: vmtest exit $rc in $(($(date +%s) - t0)) s"
}

# ---- the upstream mm selftests, in the same VM setup ----

up=$O/mutation/upstream
upstream_progs="cow gup_longterm madv_populate gup_test uffd-unit-tests"
upstream_progs+=" mlock2-tests mlock-random-test map_populate"
build_upstream()
{
	local src=$kdir/tools/testing/selftests/mm cf
	[ -x "$up/mlock-random-test" ] && return 0
	mkdir -p "$up"
	printf '#define LOCAL_CONFIG_HAVE_LIBURING 1\n' >"$up/local_config.h"
	"$repo/scripts/prepare-ksrc.sh" "$O" >/dev/null 2>&1
	cf=(-static -O2 -I"$up" -I"$src" -I"$src/.." -I"$kdir" -isystem "$O/usr/include"
	    -I"$kdir/tools/include" -D_GNU_SOURCE)
	for t in $upstream_progs; do
		[ "$t" = uffd-unit-tests ] && continue
		(cd "$src" && gcc "${cf[@]}" -o "$up/$t" $t.c vm_util.c \
			thp_settings.c -luring -lcap -lpthread -lm) ||
			return 1
	done
	(cd "$src" && gcc "${cf[@]}" -o "$up/uffd-unit-tests" uffd-unit-tests.c uffd-common.c \
		vm_util.c thp_settings.c -lpthread -lm) || return 1
}

# Busybox initramfs with the upstream programs, booted the way
# scripts/vmtest.sh boots the suite (lib/vm.sh: 2 CPUs, 2 NUMA nodes,
# -cpu max, 2 GiB, PVH vmlinux); the kernel log at loglevel 4 on the
# console, which the results share.
run_upstream()
{
	local name=$1 d=$res/$1 w rc t0
	mkdir -p "$d"
	w=$(mktemp -d "${TMPDIR:-/tmp}/mutbench.XXXXXX")
	vm_busybox_root "$w/root"
	mkdir -p "$w/root/tests"
	for t in $upstream_progs; do
		cp "$up/$t" "$w/root/tests/"
	done
	cat >"$w/root/init" <<EOF
#!/bin/sh
export PATH=/bin
mount -t proc none /proc; mount -t sysfs none /sys
mount -t devtmpfs none /dev 2>/dev/null; mkdir -p /dev/shm
mount -t tmpfs none /dev/shm; mount -t tmpfs none /tmp
mount -t debugfs none /sys/kernel/debug
echo 1 >/proc/sys/vm/unprivileged_userfaultfd
echo 64 >/proc/sys/vm/nr_hugepages
cd /tests
run()
{
	echo "UPSTREAM-BEGIN \$*"
	t0=\$(date +%s)
	timeout $prog_timeout "\$@" </dev/null 2>&1
	rc=\$?
	echo "UPSTREAM-TIME \$* \$((\$(date +%s) - t0))"
	echo "UPSTREAM-END \$* rc=\$rc"
}
run ./cow
run ./gup_longterm
run ./madv_populate
run ./uffd-unit-tests
run ./gup_test -u
run ./gup_test -a
run ./gup_test -ct -F 0x1 0 19 0x1000
run ./mlock2-tests
run ./mlock-random-test
run ./map_populate
bad='WARNING:|BUG:|Oops|possible circular|possible recursive'
bad="\$bad|inconsistent lock|bad unlock balance|INFO: task .* blocked"
bad="\$bad|soft lockup|hard LOCKUP|rcu.*stall|general protection"
echo "UPSTREAM-KMSG \$(dmesg | grep -cE "\$bad")"
dmesg | grep -E "\$bad" | head -5 | sed 's/^/UPSTREAM-KMSG-LINE /'
echo UPSTREAM-DONE
sync
printf '\\001' | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
poweroff -f
EOF
	chmod +x "$w/root/init"
	vm_pack "$w/root" "$w/initramfs.gz"
	note "$name: running the upstream mm selftests (timeout ${vm_timeout}s)"
	t0=$(date +%s)
	vm_boot -l 4 -p -e "$d/upstream.qemu.err" -t "$vm_timeout" \
		"$kdir/$kimage" "$w/initramfs.gz" >"$d/upstream.txt"
	rc=$?
	case $rc in
	3)	rc=0 ;;
	124|137) rc=124 ;;
	*)	grep -q UPSTREAM-DONE "$d/upstream.txt" && rc=0 || rc=2 ;;
	esac
	echo "$rc" >"$d/upstream.rc"
	rm -rf "$w"
	note "$name: upstream run exit $rc in $(($(date +%s) - t0)) s"
}

if [ $do_upstream = 1 ]; then
	build_upstream || die "building the upstream selftests failed"
fi

one()
{
	local name=$1
	if ! build "$name"; then
		note "$name: build failed, see $res/$name/build.log"
		echo build-failed >"$res/$name/vmtest.rc"
		return 1
	fi
	[ $do_suite = 1 ] && run_suite "$name"
	[ $do_upstream = 1 ] && run_upstream "$name"
	return 0
}

if [ $rerun_base = 1 ] || { [ $do_suite = 1 ] && [ ! -f "$res/baseline/vmtest.rc" ]; } ||
   { [ $do_upstream = 1 ] && [ ! -f "$res/baseline/upstream.rc" ]; }; then
	one baseline || die "the baseline does not build"
	if [ $do_suite = 1 ]; then
		sed 's/^[0-9]* //' "$res/baseline/ktap.txt" >"$res/baseline/ktap.plain"
		"$snap/scripts/vmtest.sh" --compare debian-6.12 "$res/baseline/ktap.plain" \
			>"$res/baseline/compare.txt" 2>&1
		note "baseline vs the debian-6.12 matrix: $(tail -n 1 "$res/baseline/compare.txt")"
	fi
fi

for m in "${mutants[@]}"; do
	echo "$m" >"$kdir/.mutant"
	if ! patch -d "$kdir" -p1 -s <"$mutdir/$m.patch"; then
		rm -f "$kdir/.mutant"
		note "$m does not apply"
		continue
	fi
	one "$m"
	patch -d "$kdir" -p1 -R -s <"$mutdir/$m.patch" || die "cannot revert $m"
	rm -f "$kdir/.mutant"
done

print_table
