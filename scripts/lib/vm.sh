# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2154 # the caller sets the globals named below
#
# The test VM: a busybox initramfs, and its boot in QEMU. Software
# emulation, -cpu max, 2 CPUs on two NUMA nodes, the guest's status
# through isa-debug-exit. Sourced, not run; wants lib/common.sh.
#
# vm_busybox_root ROOT
#	ROOT/bin with busybox and a link for each of its applets, and the
#	mount points /proc, /sys, /dev, /tmp
# vm_suite_root ROOT
#	the suite's image over vm_busybox_root: bash, scripts/vmtest-init as
#	/init, the runner, the matrix, the controls, the programs $progs
#	built static in $bindir, the modules of $kmods, and the settings
#	/vmtest.conf ($prog_timeout, $controls, $expect_kernel) and
#	/vmtest.args (the -f patterns of $filters, then $progargs)
# vm_pack ROOT FILE
#	ROOT as a gzip'ed cpio initramfs
# vm_ext4_disk FILE
#	a small ext4 file system to give the guest as a disk
# vm_boot [-m MIB] [-l LOGLEVEL] [-d DISK] [-c FILE] [-p] [-e FILE] -t SECS
#         KERNEL INITRAMFS
#	boots KERNEL with INITRAMFS for at most SECS seconds; MIB of memory
#	(default 2048) split over the two nodes, the kernel log at
#	LOGLEVEL (default 8); DISK as a virtio disk; with -c the console
#	goes to FILE and the second serial port (ttyS1) to stdout, else the
#	console goes to stdout; -p: a guest panic ends QEMU with status 1
#	(pvpanic); QEMU's messages go to the -e FILE. Returns QEMU's
#	status: (v << 1) | 1 when the guest wrote v to the exit port, 124
#	or 137 when it timed out
# vm_qemu_errors FILE
#	QEMU's messages of FILE worth showing, as "qemu: LINE"

vm_busybox_root()
{
	local root=$1 applet

	mkdir -p "$root"/{bin,proc,sys,dev,tmp}
	cp "$(command -v busybox)" "$root/bin/busybox" || return 1
	for applet in $(busybox --list); do
		[ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
	done
}

vm_suite_root()
{
	local root=$1 p f a

	vm_busybox_root "$root" || return 1
	mkdir -p "$root"/{sbin,usr/local/bin,root,tests,lib/modules}
	cp "$(command -v bash-static)" "$root/bin/bash"
	# run-suite.sh uses GNU options that busybox lacks; drop them.
	cat >"$root/usr/local/bin/timeout" <<-'END'
	#!/bin/sh
	[ "$1" = --foreground ] && shift
	exec busybox timeout "$@"
	END
	cat >"$root/usr/local/bin/sed" <<-'END'
	#!/bin/sh
	[ "$1" = -u ] && shift
	exec busybox sed "$@"
	END
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
	# Arguments for every program, one a line: the -f filters, and the
	# ext4 test directory on the virtio disk unless -d is given.
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
}

vm_pack()
{
	(cd "$1" && find . | cpio -o -H newc --quiet | gzip -1) >"$2"
}

vm_ext4_disk()
{
	truncate -s 128M "$1" &&
		mkfs.ext4 -q -F -E lazy_itable_init=1 "$1" >/dev/null
}

vm_boot()
{
	local OPTIND=1 opt mem=2048 loglevel=8 disk='' console='' pvpanic=0
	local err=/dev/null secs='' half cmdline
	local -a qemu

	while getopts "m:l:d:c:pe:t:" opt; do
		case $opt in
		m)	mem=$OPTARG ;;
		l)	loglevel=$OPTARG ;;
		d)	disk=$OPTARG ;;
		c)	console=$OPTARG ;;
		p)	pvpanic=1 ;;
		e)	err=$OPTARG ;;
		t)	secs=$OPTARG ;;
		*)	return 2 ;;
		esac
	done
	shift $((OPTIND - 1))
	[ -n "$secs" ] && [ $# -eq 2 ] || return 2
	half=$((mem / 2))
	cmdline="console=ttyS0,115200 loglevel=$loglevel panic=-1 rdinit=/init"
	cmdline+=" transparent_hugepage=madvise hung_task_timeout_secs=60"
	# shellcheck disable=SC2054 # commas inside -smp and -object values
	# Single-threaded TCG: multi-threaded TCG lets one vCPU take the int3
	# that kernel text patching left on another after the patch was done.
	# +invtsc: KVM refuses to load on PREEMPT_RT without a constant TSC,
	# and the guest kernel derives that from CPUID 0x80000007 EDX bit 8.
	# TCG's TSC runs at a fixed rate from the host clock, so the bit is
	# true, but QEMU 7.2 drops it under TCG unless x-force-features keeps
	# it (it warns).
	qemu=(qemu-system-x86_64 -accel tcg,thread=single
		-cpu max,+invtsc,x-force-features=on
		-smp 2,sockets=2,cores=1,threads=1 -m "${mem}M"
		-object "memory-backend-ram,id=m0,size=${half}M"
		-object "memory-backend-ram,id=m1,size=$((mem - half))M"
		-numa node,nodeid=0,cpus=0,memdev=m0
		-numa node,nodeid=1,cpus=1,memdev=m1
		-kernel "$1" -initrd "$2" -append "$cmdline")
	[ -n "$disk" ] &&
		qemu+=(-drive "file=$disk,if=virtio,format=raw,cache=unsafe")
	# shellcheck disable=SC2054 # commas inside the value
	qemu+=(-device isa-debug-exit,iobase=0xf4,iosize=0x04)
	[ $pvpanic = 1 ] && qemu+=(-device pvpanic -action panic=exit-failure)
	qemu+=(-display none -monitor none -no-reboot -net none)
	[ -n "$console" ] && qemu+=(-serial "file:$console")
	qemu+=(-serial stdio)
	timeout -k 5 "$secs" "${qemu[@]}" </dev/null 2>"$err" | tr -d '\r'
	return "${PIPESTATUS[0]}"
}

vm_qemu_errors()
{
	grep -v "TCG doesn't support requested feature: CPUID.80000007H:EDX.invtsc" \
		"$1" | sed 's/^/qemu: /'
}
