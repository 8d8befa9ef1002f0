# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2154,SC2034 # the caller sets the globals named below
#
# The kernel a test VM boots: Debian's kernel packages and their
# flavours, a bzImage or vmlinux file, or a built kernel tree, each with
# the modules the suite needs. Sourced, not run; wants lib/common.sh.
#
# The caller sets:
#   cache    where Debian packages are fetched to and prepared, reused
#   work     a scratch directory of this run
#   refresh  1: fetch the Debian package again
#   modtree  a modules tree (contains lib/modules/KVER) for a file, or
#            empty (a kernel tree's own modules are installed there)
# prepare_debian, prepare_path and prepare_kdir set:
#   kimage   the image to boot (a PVH vmlinux when there is one: it
#            boots twice as fast as the bzImage)
#   kmods    a directory of the prepared modules, with load.list naming
#            them in load order
#   name     the kernel's short name (for messages and result paths)

debian_kernels="debian-6.1 debian-6.12 debian-6.1-rt debian-6.12-rt debian-6.12-cloud"

# Modules the suite needs, copied with their dependencies.
wanted_modules=(lz4_compress lz4hc_compress zram kvm_amd fuse crc32c_generic
	ext4 virtio_pci virtio_blk pvpanic_mmio)

# A kernel file must be an ELF vmlinux or a bzImage ("HdrS" at 0x202):
# anything else would only be found out by a guest that never boots.
check_kernel_file()
{
	[ -r "$1" ] || die "KERNEL $1: cannot read it"
	readelf -h "$1" >/dev/null 2>&1 && return
	[ "$(dd if="$1" bs=1 skip=514 count=4 2>/dev/null)" = HdrS ] ||
		die "KERNEL $1: neither a bzImage nor an ELF vmlinux"
}

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
	if [ -z "$deb" ] || [ "$refresh" = 1 ]; then
		note "fetching $pkg"
		(cd "$cache" && rm -f -- "${pkg}"_*.deb &&
			apt-get download "$pkg" >/dev/null 2>"$cache/apt.log") ||
			die "apt-get download $pkg failed: $(tail -n 3 "$cache/apt.log")"
		deb=$(cd "$cache" && ls -- "${pkg}"_*.deb | tail -n 1)
		rm -rf "${cache:?}/$pkg"
	fi
	echo "$cache/$deb"
}

# ELF vmlinux with the PVH entry note.
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

# Copy the wanted modules, decompressed, with their dependencies in load
# order, from ROOT/lib/modules/KVER to DEST.
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

prepare_debian()
{
	local pkg deb dir kver x

	pkg=$(debian_pkg "$(debian_pkg_re "$1")") || exit "$die_status"
	deb=$(fetch_debian "$pkg") || exit "$die_status"
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

# prepare_kernel KERNEL: any of the three, by what KERNEL is.
prepare_kernel()
{
	if debian_pkg_re "$1" >/dev/null; then
		prepare_debian "$1"
	elif [ -d "$1" ]; then
		prepare_kdir "$1"
	else
		prepare_path "$1"
	fi
}
