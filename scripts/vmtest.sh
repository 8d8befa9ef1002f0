#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the gup_stall suite on another kernel in QEMU (software emulation,
# -cpu max for nested AMD SVM, two NUMA nodes, 2 CPUs) and stream its KTAP
# to stdout.
#
#   vmtest [options] KERNEL [-- PROGRAM ARGS]
#   vmtest --compare KERNEL KTAP-FILE
#   vmtest --cells KTAP-FILE
#
# KERNEL is one of
#   debian-6.1, debian-6.12   Debian's newest linux-image package of that
#                             series, fetched with apt-get download and
#                             cached under the build directory
#   debian-6.1-rt, debian-6.12-rt, debian-6.12-cloud
#                             the same releases' PREEMPT_RT and cloud
#                             flavours (-rt-amd64, -cloud-amd64)
#   FILE                      a bzImage or an ELF vmlinux with a PVH note;
#                             -M gives its modules tree
#   DIR                       a built kernel tree (vmlinux or
#                             arch/x86/boot/bzImage; its modules are
#                             installed into the work directory)
#
# Exit status: 0 all passed or skipped, 1 a test failed, 2 the guest
# crashed or panicked (or bad usage), 124 timed out. The KTAP, the
# guest's kernel log and the console are kept in build/vmtest/<name>/
# (ktap.txt, dmesg.txt, console.txt).
#
# --compare checks a KTAP file against the kernel's expected failures in
# tools/testing/selftests/mm/gup_stall_kernels.txt: a "not ok" cell not
# listed there, or a listed cell that passes, fails the comparison.
# --cells prints "RESULT PROGRAM<TAB>CELL" for every cell of a KTAP file
# (RESULT: ok, fail, skip, xfail or xpass), for other scripts.
#
# The parts live in scripts/lib/, shared with the other scripts:
# kernel.sh gets and prepares the kernel, vm.sh builds the initramfs and
# boots it (as the mutation bench does), matrix.sh and ktap.sh compare a
# run with the kernel matrix.

set -u
set -o pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
mm=tools/testing/selftests/mm
matrix=$repo/$mm/gup_stall_kernels.txt
O=${O:-$repo/build}
die_status=2	# bad usage, as for a guest that crashed
# shellcheck source=lib/common.sh
. "$repo/scripts/lib/common.sh"
# shellcheck source=lib/ktap.sh
. "$repo/scripts/lib/ktap.sh"
# shellcheck source=lib/matrix.sh
. "$repo/scripts/lib/matrix.sh"
# shellcheck source=lib/kernel.sh
. "$repo/scripts/lib/kernel.sh"
# shellcheck source=lib/vm.sh
. "$repo/scripts/lib/vm.sh"

filters=()
progargs=()
timeout=900
prog_timeout=300
mem=2048
modtree=
outdir=
keep=0
verbose=0
refresh=0
compare=0
compare_after=0
controls=0
expect_kernel=

usage()
{
	cat <<EOF
usage: $0 [options] KERNEL [-- ARGS FOR EVERY PROGRAM]
       $0 --compare KERNEL KTAP-FILE

KERNEL: debian-6.1 | debian-6.12 | debian-6.1-rt | debian-6.12-rt |
        debian-6.12-cloud | bzImage or vmlinux path | kernel tree

options:
  -f PATTERN   run only the cells matching PATTERN (passed to every
               program as -f; may be repeated)
  -t SECONDS   timeout for the whole VM run (default $timeout)
  -T SECONDS   timeout for each program in the guest (default $prog_timeout)
  -m MIB       guest memory in MiB, split over two NUMA nodes (default $mem)
  -K NAME      judge the cells by the expectations the matrix gives
               kernel NAME (default: KERNEL when it is debian-*; none,
               the newest upstream behaviour, for a file or tree)
  -M DIR       modules tree for a kernel path (contains lib/modules/KVER)
  -o DIR       where ktap.txt, dmesg.txt, console.txt go
               (default build/vmtest/<kernel>)
  -C           run the negative controls of scripts/controls.txt meant
               for the VM (KVM, NUMA) instead of the suite: exit 0 when
               each turned its cell red
  -c           compare the run with the kernel matrix afterwards (as
               --compare does): exit 0 when it matches, 1 when not
  -k           keep the work directory (initramfs, disk image)
  -v           verbose: copy the guest console to stderr
  -r           refresh: fetch the Debian package again
  -h           this help
  --compare    compare KTAP-FILE with the expected failures of KERNEL
               (a Debian kernel name or host) in $mm/gup_stall_kernels.txt

exit status: 0 passed or skipped, 1 a test failed, 2 the guest crashed
(or bad usage), 124 timed out
EOF
	exit "${1:-0}"
}

positive()
{
	[[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 wants a positive number, not '$2' (see -h)"
	# bash arithmetic is 64-bit: keep far below its overflow
	[ ${#2} -le 9 ] || die "$1 $2: too large (see -h)"
}

# ---- options ----

args=()
while [ $# -gt 0 ]; do
	case $1 in
	--compare)	compare=1 ;;
	--cells)	[ $# -eq 2 ] && [ -f "$2" ] ||
				die "--cells wants one KTAP-FILE (see -h)"
			ktap_cells "$2"
			exit 0 ;;
	--help)		usage 0 ;;
	--)		shift; progargs=("$@"); break ;;
	-[ftTmMoK])	[ $# -ge 2 ] || die "$1 needs an argument (see -h)"
			case $1 in
			-f) filters+=("$2") ;;
			-t) positive -t "$2"; timeout=$2 ;;
			-T) positive -T "$2"; prog_timeout=$2 ;;
			-m) positive -m "$2"; mem=$2 ;;
			-M) modtree=$2 ;;
			-K) expect_kernel=$2 ;;
			-o) outdir=$2 ;;
			esac
			shift ;;
	-c)		compare_after=1 ;;
	-C)		controls=1 ;;
	-k)		keep=1 ;;
	-v)		verbose=1 ;;
	-r)		refresh=1 ;;
	-h)		usage 0 ;;
	-*)		die "unknown option '$1' (see -h)" ;;
	*)		args+=("$1") ;;
	esac
	shift
done

if [ $compare = 1 ]; then
	[ ${#args[@]} -eq 2 ] || die "--compare wants KERNEL KTAP-FILE (see -h)"
	matrix_compare "${args[0]}" "${args[1]}"
	exit $?
fi
[ ${#args[@]} -eq 1 ] || die "give one KERNEL (see -h)"
kernel=${args[0]}
if [ $controls = 1 ] && { [ $compare_after = 1 ] || [ ${#filters[@]} -gt 0 ]; }; then
	die "-C runs the controls' own cells: no -c, no -f"
fi
case $kernel in
debian-*) : "${expect_kernel:=$kernel}" ;;
esac
if [ -n "$expect_kernel" ]; then
	matrix_has "$expect_kernel" ||
		die "-K $expect_kernel: no such kernel in $matrix"
fi
[ "$mem" -ge 512 ] || die "-m $mem: give the guest at least 512 MiB"
[ "$mem" -le 1048576 ] || die "-m $mem: more than 1 TiB for the guest"
[ -z "$modtree" ] || [ -d "$modtree/lib/modules" ] ||
	die "-M $modtree has no lib/modules"
case $kernel in
debian-*)	[[ " $debian_kernels " == *" $kernel "* ]] ||
			die "unknown Debian kernel '$kernel': one of $debian_kernels" ;;
*)	if [ -f "$kernel" ]; then
		check_kernel_file "$kernel"
	elif [ ! -d "$kernel" ]; then
		die "KERNEL '$kernel' is not one of $debian_kernels, a file or a kernel tree"
	fi ;;
esac

for tool in qemu-system-x86_64 busybox cpio mkfs.ext4 bash-static zstd xz \
	modprobe depmod readelf; do
	command -v "$tool" >/dev/null ||
		die "$tool is missing: apt-get install qemu-system-x86" \
			"busybox-static cpio e2fsprogs bash-static zstd" \
			"xz-utils kmod binutils"
done

cache=$O/vmtest/cache
mkdir -p "$cache"

work=$(mktemp -d "${TMPDIR:-/tmp}/vmtest.XXXXXX")
cleanup()
{
	if [ $keep = 1 ]; then
		note "work directory kept: $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

# ---- the test programs, static ----

"$repo/scripts/prepare-ksrc.sh" "$O" ${KDIR:-} >&2 || die "preparing the kernel headers failed"
bindir=$O/vmtest/static
progs=$(make -s --no-print-directory -C "$repo/$mm" print-progs)
make -s --no-print-directory -C "$repo/$mm" STATIC=1 OUTPUT="$bindir" \
	KSFT_INCLUDES="-I$O/ksft/mm" KHDR_INCLUDES="-isystem $O/usr/include" \
	>"$work/build.log" 2>&1 || {
		cat "$work/build.log" >&2
		die "building the static programs failed"
	}

# The guest's way to hand its status to QEMU, also without /dev/port.
gcc -static -O2 -Wall -Werror -o "$bindir/vmtest-exit" \
	"$repo/scripts/vmtest-exit.c" >>"$work/build.log" 2>&1 || {
		cat "$work/build.log" >&2
		die "building scripts/vmtest-exit.c failed"
	}

# With a filter, run only the programs that have a matching cell (a
# program exits 2 when no cell matches).
if [ ${#filters[@]} -gt 0 ] || [ ${#progargs[@]} -gt 0 ]; then
	listargs=()
	for f in "${filters[@]}"; do
		listargs+=(-f "$f")
	done
	sel=
	for p in $progs; do
		first=$("$bindir/$p" -l "${listargs[@]}" "${progargs[@]}" \
			2>"$work/list.err" | head -n 1)
		if [ -n "$first" ]; then
			sel+=" $p"
		elif ! grep -q "no cell matches" "$work/list.err"; then
			# a bad pattern or option: say it before any download
			die "$(head -n 1 "$work/list.err")"
		fi
	done
	[ -n "$sel" ] || die "no cell matches ${filters[*]} ${progargs[*]}" \
		"(list them with $bindir/PROG -l)"
	progs=${sel# }
fi

# ---- the kernel image ----

prepare_kernel "$kernel"
[ -s "$kmods/load.list" ] ||
	note "no modules for $name (-M DIR): zram, ext4, kvm-amd and fuse only if built in"
[ $controls = 1 ] && name=$name-controls
[ -n "$outdir" ] || outdir=$O/vmtest/$name
mkdir -p "$outdir"

# ---- the initramfs ----

vm_suite_root "$work/root" || die "making the initramfs failed"
vm_pack "$work/root" "$work/initramfs.gz" ||
	die "packing the initramfs failed"

# The ext4 backing: a small ext4 disk made here.
vm_ext4_disk "$work/ext4.img" || die "mkfs.ext4 failed"

# ---- boot ----

note "booting $name ($(basename "$kimage")), ${mem} MiB on 2 NUMA nodes, timeout ${timeout}s"
console_pid=
if [ $verbose = 1 ]; then
	: >"$work/console.raw"
	tail -n +1 -f "$work/console.raw" >&2 &
	console_pid=$!
fi
start=$(date +%s)
vm_boot -m "$mem" -d "$work/ext4.img" -c "$work/console.raw" \
	-e "$work/qemu.err" -t "$timeout" "$kimage" "$work/initramfs.gz" |
	tee "$outdir/ktap.txt"
st=("${PIPESTATUS[@]}")
qrc=${st[0]}
[ -n "$console_pid" ] && kill "$console_pid" 2>/dev/null
elapsed=$(($(date +%s) - start))

# The kernel log: the console from the kernel's first line on.
tr -d '\r' <"$work/console.raw" >"$outdir/console.txt"
sed -n '/Linux version/,$p' "$outdir/console.txt" >"$outdir/dmesg.txt"
vm_qemu_errors "$work/qemu.err" >&2

# The suite's exit status RC: compare (-c) or map to our exit status.
report()
{
	local rc=$1

	note "$name: suite exit $rc in ${elapsed}s; $outdir/{ktap,dmesg}.txt"
	if [ $compare_after = 1 ]; then
		# a file or tree is judged as the kernel -K names
		matrix_compare "${expect_kernel:-$name}" "$outdir/ktap.txt" >&2
		exit $?
	fi
	case $rc in
	0|4)	exit 0 ;;
	*)	exit 1 ;;
	esac
}

if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	note "timed out after ${timeout}s ($name); log in $outdir"
	exit 124
fi
if grep -q -E 'Kernel panic|end Kernel panic' "$outdir/dmesg.txt"; then
	grep -m 1 -E 'Kernel panic' "$outdir/dmesg.txt" >&2
	note "the guest panicked ($name, ${elapsed}s); log in $outdir/dmesg.txt"
	exit 2
fi
# isa-debug-exit: (v << 1) | 1 with v = suite status + 1
if [ $((qrc & 1)) = 1 ] && [ "$qrc" -ge 3 ]; then
	report $(((qrc >> 1) - 1))
fi
# The port write did not end QEMU, but the guest logged its result.
rc=$(sed -n 's/.*vmtest: VMTEST-RESULT \([0-9]*\).*/\1/p' "$outdir/dmesg.txt" |
	tail -n 1)
if [ -z "$rc" ]; then
	note "the guest ended without a result (qemu exit $qrc," \
		"${elapsed}s); log in $outdir/dmesg.txt"
	exit 2
fi
note "$name: the guest logged its result but did not reach isa-debug-exit" \
	"(qemu exit $qrc): $(grep -m 1 'vmtest: exit port' "$outdir/dmesg.txt")"
report "$rc"
