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

set -u
set -o pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
mm=tools/testing/selftests/mm
matrix=$repo/$mm/gup_stall_kernels.txt
O=${O:-$repo/build}

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
debian_kernels="debian-6.1 debian-6.12 debian-6.1-rt debian-6.12-rt debian-6.12-cloud"
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

die()
{
	echo "vmtest: $*" >&2
	exit 2
}

note()
{
	echo "vmtest: $*" >&2
}

positive()
{
	[[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 wants a positive number, not '$2' (see -h)"
	# bash arithmetic is 64-bit: keep far below its overflow
	[ ${#2} -le 9 ] || die "$1 $2: too large (see -h)"
}

# A kernel file must be an ELF vmlinux or a bzImage ("HdrS" at 0x202):
# anything else would only be found out by a guest that never boots.
check_kernel_file()
{
	[ -r "$1" ] || die "KERNEL $1: cannot read it"
	readelf -h "$1" >/dev/null 2>&1 && return
	[ "$(dd if="$1" bs=1 skip=514 count=4 2>/dev/null)" = HdrS ] ||
		die "KERNEL $1: neither a bzImage nor an ELF vmlinux"
}

# ---- compare a KTAP file with the kernel matrix ----

# "RESULT PROG<TAB>CELL" for every cell of a KTAP file (RESULT is ok, fail,
# skip, xfail or xpass), the program taken from the "# selftests: mm: PROG"
# line above its nested KTAP. A program that failed as a whole without a
# failing or XPASS cell is reported as the cell "(program)".
ktap_cells()
{
	sed -e 's/\r$//' "$1" | awk '
	/^# selftests: mm: / { prog = $4; bad = 0; next }
	/^(not )?ok [0-9]+ selftests: mm: / {
		if ($1 == "not" && !bad)
			print "fail " prog "\t(program)"
		next
	}
	/^# (not )?ok [0-9]+ / {
		line = substr($0, 3)
		res = "ok"
		if (line ~ /^not /) { res = "fail"; line = substr(line, 5) }
		sub(/^ok [0-9]+ /, "", line)
		if (line ~ / # (SKIP|skip)/) res = "skip"
		else if (line ~ / # XFAIL/) res = "xfail"
		else if (line ~ / # XPASS/) res = "xpass"
		sub(/ # .*$/, "", line)
		sub(/ +$/, "", line)
		# an XPASS fails its program too, but is judged as a cell
		if (res == "fail" || res == "xpass") bad = 1
		print res " " prog "\t" line
	}'
}

# The kernel whose lines KERNEL inherits: "# kernel K ... inherits P".
matrix_parent()
{
	sed -n -E "s/^# kernel $1 .*inherits ([A-Za-z0-9._-]*[A-Za-z0-9]).*/\1/p" "$matrix" |
		head -n 1
}

# "PROG<TAB>CELL<TAB>REASON" for every FAIL line ("# CELL: FAIL: REASON"
# inside a program's nested KTAP).
fail_reasons()
{
	sed -e 's/\r$//' "$1" | awk '
	/^# selftests: mm: / { prog = $4; next }
	/^# # .*: FAIL: / {
		line = substr($0, 5)
		i = index(line, ": FAIL: ")
		print prog "\t" substr(line, 1, i - 1) "\t" substr(line, i + 8)
	}'
}

# Expected results of KERNEL: "PROG<TAB>CELL<TAB>WORDS" from the matrix
# lines "KERNEL | PROG | CALLER | BACKING | STALL | DISTURBANCE | WHY |
# WORDS": the failures ($2 = fail), which must fail with a reason
# containing WORDS, or the known bugs the kernel fixes ($2 = xpass,
# lines whose WHY starts with "XPASS", no WORDS); with those of the
# kernel it inherits from (a flavour of the same release).
expected_cells()
{
	local parent

	awk -F' [|] ' -v k="$1" -v want="$2" '
	/^#/ || NF < 7 || $2 == "expect" { next }
	$1 != k { next }
	($7 ~ /^XPASS/) != (want == "xpass") { next }
	{ print $2 "\t" $3 " " $4 " " $5 " " $6 "\t" $8 }' "$matrix"
	parent=$(matrix_parent "$1")
	[ -z "$parent" ] || [ "$parent" = "$1" ] || expected_cells "$parent" "$2"
}

do_compare()
{
	local kernel=$1 file=$2 bad=0 key res p c words n_fail=0 n_ok=0
	local -A exp=() xpass=() seen=() why=()

	[ -f "$matrix" ] || die "no $matrix"
	[ -f "$file" ] || die "no KTAP file $file"
	grep -q -E '^(# )?(not )?ok [0-9]+ ' "$file" ||
		die "KTAP file $file has no result line"
	grep -q -E "^# kernel $kernel( |\$)" "$matrix" ||
		die "kernel '$kernel' is not described in $matrix"
	while IFS=$'\t' read -r p c words; do
		[ -n "$words" ] ||
			die "matrix line for $kernel $p $c names no FAIL words (8th field)"
		exp[$p$'\t'$c]=$words
	done < <(expected_cells "$kernel" fail | sort -u)
	while IFS=$'\t' read -r p c words; do
		xpass[$p$'\t'$c]=1
	done < <(expected_cells "$kernel" xpass | sort -u)
	while IFS=$'\t' read -r p c words; do
		why[$p$'\t'$c]=$words
	done < <(fail_reasons "$file")
	while IFS= read -r key; do
		seen[${key#* }]=${key%% *}
	done < <(ktap_cells "$file")
	while IFS= read -r key; do
		[ -n "$key" ] || continue
		res=${seen[$key]}
		case $res in
		fail)	n_fail=$((n_fail + 1))
			if [ -z "${exp[$key]:-}" ]; then
				echo "unexpected failure: ${key/$'\t'/: }"
				bad=1
			elif [[ "${why[$key]:-}" != *"${exp[$key]}"* ]]; then
				echo "expected failure, other reason: ${key/$'\t'/: }:" \
					"'${why[$key]:-(none)}', want '${exp[$key]}'"
				bad=1
			fi ;;
		xpass)	n_ok=$((n_ok + 1))
			if [ -z "${xpass[$key]:-}" ]; then
				echo "known bug fixed (XPASS): ${key/$'\t'/: }"
				bad=1
			fi ;;
		ok|xfail) n_ok=$((n_ok + 1))
			if [ -n "${exp[$key]:-}" ]; then
				echo "expected to fail but passed" \
					"(update the matrix): ${key/$'\t'/: }"
				bad=1
			elif [ -n "${xpass[$key]:-}" ]; then
				echo "expected XPASS (the kernel carries the fix)" \
					"but got $res: ${key/$'\t'/: }"
				bad=1
			fi ;;
		esac
	done < <(printf '%s\n' "${!seen[@]}" | sort)
	while IFS= read -r key; do
		[ -z "$key" ] || [ -n "${seen[$key]:-}" ] ||
			echo "expected failure or XPASS not run: ${key/$'\t'/: }"
	done < <(printf '%s\n' "${!exp[@]}" "${!xpass[@]}" | sort)
	echo "compare $kernel: $n_fail failed (${#exp[@]} expected), $n_ok passed:" \
		"$([ $bad = 0 ] && echo as expected || echo MISMATCH)"
	return $bad
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
	do_compare "${args[0]}" "${args[1]}"
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
	grep -q -E "^# kernel $expect_kernel( |\$)" "$matrix" ||
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

# ---- the kernel ----

# Newest package of a Debian series known to apt, else the newest cached.
debian_pkg()
{
	local re=$1 pkg

	pkg=$(apt-cache pkgnames linux-image- 2>/dev/null | grep -E "^$re\$" |
		sort -V | tail -n 1)
	if [ -z "$pkg" ]; then
		pkg=$(cd "$cache" && ls -- *.deb 2>/dev/null | sed 's/_.*//' |
			grep -E "^$re\$" | sort -V | tail -n 1)
	fi
	[ -n "$pkg" ] || die "no package matching $re: run apt-get update"
	echo "$pkg"
}

fetch_debian()
{
	local pkg=$1 deb

	deb=$(cd "$cache" && ls -- "${pkg}"_*.deb 2>/dev/null | tail -n 1)
	if [ -z "$deb" ] || [ $refresh = 1 ]; then
		note "fetching $pkg"
		(cd "$cache" && rm -f -- "${pkg}"_*.deb &&
			apt-get download "$pkg" >/dev/null 2>"$cache/apt.log") ||
			die "apt-get download $pkg failed: $(tail -n 3 "$cache/apt.log")"
		deb=$(cd "$cache" && ls -- "${pkg}"_*.deb | tail -n 1)
		rm -rf "${cache:?}/$pkg"
	fi
	echo "$cache/$deb"
}

# ELF vmlinux with the PVH entry note (boots twice as fast as the bzImage).
is_pvh_elf()
{
	readelf -h "$1" >/dev/null 2>&1 &&
		readelf -n "$1" 2>/dev/null | grep -q -E '0x00000012'
}

# Decompress the vmlinux in a bzImage (xz or zstd payload), if possible.
extract_vmlinux()
{
	local bz=$1 out=$2 off

	off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$bz" 2>/dev/null | head -n 1 | cut -d: -f1)
	if [ -n "$off" ]; then
		tail -c +$((off + 1)) "$bz" | xz -dc --single-stream >"$out" 2>/dev/null
	else
		off=$(LC_ALL=C grep -obUaP '\x28\xb5\x2f\xfd' "$bz" 2>/dev/null |
			head -n 1 | cut -d: -f1)
		[ -n "$off" ] &&
			tail -c +$((off + 1)) "$bz" | zstd -dcq >"$out" 2>/dev/null
	fi
	is_pvh_elf "$out" || { rm -f "$out"; return 1; }
}

# Copy the modules the suite needs, decompressed, with their dependencies
# in load order, from ROOT/lib/modules/KVER to DEST.
wanted_modules=(lz4_compress lz4hc_compress zram kvm_amd fuse crc32c_generic
	ext4 virtio_pci virtio_blk pvpanic_mmio)

prepare_modules()
{
	local root=$1 kver=$2 dest=$3 m verb ko name

	mkdir -p "$dest"
	: >"$dest/load.list"
	[ -f "$root/lib/modules/$kver/modules.dep" ] || depmod -b "$root" "$kver" ||
		die "depmod for $root failed"
	for m in "${wanted_modules[@]}"; do
		modprobe -d "$root" -S "$kver" --show-depends "$m" 2>/dev/null |
			while read -r verb ko _; do
				[ "$verb" = insmod ] || continue
				name=$(basename "$ko")
				name=${name%.xz}; name=${name%.zst}; name=${name%.gz}
				grep -qxF "$name" "$dest/load.list" && continue
				case $ko in
				*.xz)	xz -dc "$ko" >"$dest/$name" ;;
				*.zst)	zstd -dcq "$ko" >"$dest/$name" ;;
				*.gz)	gzip -dc "$ko" >"$dest/$name" ;;
				*)	cp "$ko" "$dest/$name" ;;
				esac || die "copying $ko failed"
				echo "$name" >>"$dest/load.list"
			done
	done
}

# The Debian kernels known by name: the generic image of each release
# and its PREEMPT_RT and cloud flavours. Prints the package name pattern
# of a name, or fails for a name it does not know.

debian_pkg_re()
{
	local rel flavour

	case $1 in
	debian-6.1|debian-6.1-rt) rel='6\.1\.0-[0-9]+' ;;
	debian-6.12|debian-6.12-rt|debian-6.12-cloud)
		rel='6\.12\.[0-9]+\+deb[0-9]+' ;;
	*)	return 1 ;;
	esac
	case $1 in
	*-rt)	flavour=-rt ;;
	*-cloud) flavour=-cloud ;;
	*)	flavour= ;;
	esac
	echo "linux-image-$rel$flavour-amd64"
}

# Sets kimage (bzImage or PVH vmlinux), kmods (prepared modules) and name.
prepare_debian()
{
	local pkg deb dir kver x

	pkg=$(debian_pkg "$(debian_pkg_re "$1")") || exit 2
	deb=$(fetch_debian "$pkg") || exit 2
	dir=$cache/$pkg
	if [ "$(cat "$dir/ready" 2>/dev/null)" != "${wanted_modules[*]}" ]; then
		note "preparing $pkg"
		rm -rf "$dir"
		x=$dir/x
		mkdir -p "$x"
		dpkg-deb -x "$deb" "$x" || die "dpkg-deb -x $deb failed"
		kver=$(ls "$x/lib/modules" | head -n 1)
		if extract_vmlinux "$x/boot/vmlinuz-$kver" "$dir/vmlinux"; then
			kimage=$dir/vmlinux
		else
			cp "$x/boot/vmlinuz-$kver" "$dir/bzImage"
		fi
		prepare_modules "$x" "$kver" "$dir/modules"
		echo "$kver" >"$dir/kver"
		rm -rf "$x"
		echo "${wanted_modules[*]}" >"$dir/ready"
	fi
	if [ -f "$dir/vmlinux" ]; then kimage=$dir/vmlinux; else kimage=$dir/bzImage; fi
	kmods=$dir/modules
	name=$1
}

prepare_path()
{
	local img=$1 kver

	name=$(basename "$img")
	kmods=$work/modules
	mkdir -p "$kmods"
	: >"$kmods/load.list"
	if readelf -h "$img" >/dev/null 2>&1; then
		is_pvh_elf "$img" || die "$img is an ELF file without a PVH note: give the bzImage"
		kimage=$img
	elif extract_vmlinux "$img" "$work/vmlinux"; then
		kimage=$work/vmlinux
	else
		kimage=$img
	fi
	if [ -n "$modtree" ]; then
		kver=$(ls "$modtree/lib/modules" 2>/dev/null | head -n 1)
		[ -n "$kver" ] || die "-M $modtree has no lib/modules/KVER"
		prepare_modules "$modtree" "$kver" "$kmods"
	fi
}

prepare_kdir()
{
	local kdir=$1 img

	if [ -f "$kdir/vmlinux" ] && is_pvh_elf "$kdir/vmlinux"; then
		img=$kdir/vmlinux
	elif [ -f "$kdir/arch/x86/boot/bzImage" ]; then
		img=$kdir/arch/x86/boot/bzImage
	else
		die "$kdir has no vmlinux with a PVH note nor arch/x86/boot/bzImage: build it first"
	fi
	if [ -z "$modtree" ] && [ -f "$kdir/modules.order" ] &&
	   grep -q '^CONFIG_MODULES=y' "$kdir/.config" 2>/dev/null; then
		modtree=$work/kdir-modules
		make -s -C "$kdir" INSTALL_MOD_PATH="$modtree" modules_install \
			>"$work/modules_install.log" 2>&1 ||
			die "modules_install failed, see $work/modules_install.log"
	fi
	prepare_path "$img"
	name=$(basename "$(cd "$kdir" && pwd)")
}

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

if debian_pkg_re "$kernel" >/dev/null; then
	prepare_debian "$kernel"
elif [ -d "$kernel" ]; then
	prepare_kdir "$kernel"
else
	prepare_path "$kernel"
fi
[ -s "$kmods/load.list" ] ||
	note "no modules for $name (-M DIR): zram, ext4, kvm-amd and fuse only if built in"
[ $controls = 1 ] && name=$name-controls
[ -n "$outdir" ] || outdir=$O/vmtest/$name
mkdir -p "$outdir"

# ---- the initramfs ----

root=$work/root
mkdir -p "$root"/{bin,sbin,usr/local/bin,proc,sys,dev,tmp,root,tests,lib/modules}
cp "$(command -v busybox)" "$root/bin/busybox"
for applet in $(busybox --list); do
	[ "$applet" = busybox ] && continue
	ln -s busybox "$root/bin/$applet"
done
cp "$(command -v bash-static)" "$root/bin/bash"
# run-suite.sh uses GNU options that busybox lacks; drop them.
cat >"$root/usr/local/bin/timeout" <<'EOF'
#!/bin/sh
[ "$1" = --foreground ] && shift
exec busybox timeout "$@"
EOF
cat >"$root/usr/local/bin/sed" <<'EOF'
#!/bin/sh
[ "$1" = -u ] && shift
exec busybox sed "$@"
EOF
chmod +x "$root/usr/local/bin/"*
cp "$bindir/vmtest-exit" "$root/bin/"
cp "$repo/scripts/vmtest-init" "$root/init"
chmod +x "$root/init"
cp "$repo/scripts/run-suite.sh" "$root/tests/"
cp "$matrix" "$root/tests/"
cp "$repo/scripts/run-controls.sh" "$repo/scripts/controls.txt" "$root/tests/"
for p in $progs; do
	cp "$bindir/$p" "$root/tests/"
done
cp "$kmods"/*.ko "$root/lib/modules/" 2>/dev/null
cp "$kmods/load.list" "$root/lib/modules/"
{
	echo "VMTEST_PROGS='$progs'"
	echo "VMTEST_PROG_TIMEOUT=$prog_timeout"
	echo "VMTEST_CONTROLS=$controls"
	# the programs take their per-kernel expectations from the matrix
	[ -n "$expect_kernel" ] && echo "export GS_KERNEL='$expect_kernel'"
} >"$root/vmtest.conf"
# Arguments for every program, one a line: the -f filters, and the ext4
# test directory on the virtio disk unless -d is given.
{
	for f in "${filters[@]}"; do
		printf -- '-f\n%s\n' "$f"
	done
	for a in "${progargs[@]}"; do
		printf '%s\n' "$a"
	done
	case " ${progargs[*]} " in
	*" -d "*) ;;
	*) printf -- '-d\n/mnt/ext4\n' ;;
	esac
} >"$root/vmtest.args"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initramfs.gz" ||
	die "packing the initramfs failed"

# The ext4 backing: a small ext4 disk made here.
truncate -s 128M "$work/ext4.img"
mkfs.ext4 -q -F -E lazy_itable_init=1 "$work/ext4.img" >/dev/null ||
	die "mkfs.ext4 failed"

# ---- boot ----

half=$((mem / 2))
cmdline="console=ttyS0,115200 loglevel=8 panic=-1 rdinit=/init"
cmdline+=" transparent_hugepage=madvise hung_task_timeout_secs=60"
# shellcheck disable=SC2054 # commas inside -smp and -object values
# Single-threaded TCG: multi-threaded TCG lets one vCPU take the int3 that
# kernel text patching left on another after the patch was done.
# +invtsc: KVM refuses to load on PREEMPT_RT without a constant TSC, and
# the guest kernel derives that from CPUID 0x80000007 EDX bit 8. TCG's TSC
# runs at a fixed rate from the host clock, so the bit is true, but QEMU
# 7.2 drops it under TCG unless x-force-features keeps it (it warns).
qemu=(qemu-system-x86_64 -accel tcg,thread=single
	-cpu max,+invtsc,x-force-features=on
	-smp 2,sockets=2,cores=1,threads=1 -m "${mem}M"
	-object "memory-backend-ram,id=m0,size=${half}M"
	-object "memory-backend-ram,id=m1,size=$((mem - half))M"
	-numa node,nodeid=0,cpus=0,memdev=m0
	-numa node,nodeid=1,cpus=1,memdev=m1
	-kernel "$kimage" -initrd "$work/initramfs.gz" -append "$cmdline"
	-drive "file=$work/ext4.img,if=virtio,format=raw,cache=unsafe"
	-device isa-debug-exit,iobase=0xf4,iosize=0x04
	-display none -monitor none -no-reboot -net none
	-serial "file:$work/console.raw" -serial stdio)

note "booting $name ($(basename "$kimage")), ${mem} MiB on 2 NUMA nodes, timeout ${timeout}s"
console_pid=
if [ $verbose = 1 ]; then
	: >"$work/console.raw"
	tail -n +1 -f "$work/console.raw" >&2 &
	console_pid=$!
fi
start=$(date +%s)
timeout -k 5 "$timeout" "${qemu[@]}" </dev/null 2>"$work/qemu.err" |
	tr -d '\r' | tee "$outdir/ktap.txt"
st=("${PIPESTATUS[@]}")
qrc=${st[0]}
[ -n "$console_pid" ] && kill "$console_pid" 2>/dev/null
elapsed=$(($(date +%s) - start))

# The kernel log: the console from the kernel's first line on.
tr -d '\r' <"$work/console.raw" >"$outdir/console.txt"
sed -n '/Linux version/,$p' "$outdir/console.txt" >"$outdir/dmesg.txt"
grep -v "TCG doesn't support requested feature: CPUID.80000007H:EDX.invtsc" \
	"$work/qemu.err" | sed 's/^/qemu: /' >&2

# The suite's exit status RC: compare (-c) or map to our exit status.
report()
{
	local rc=$1

	note "$name: suite exit $rc in ${elapsed}s; $outdir/{ktap,dmesg}.txt"
	if [ $compare_after = 1 ]; then
		do_compare "$name" "$outdir/ktap.txt" >&2
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
