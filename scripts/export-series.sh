#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Turn the gup_stall selftests of this repository into a patch series
# for a kernel tree, the way it would be posted: first the kernel fixes
# of scripts/fixes/ that apply to the tree (a fix for a bug the tests
# found), then one patch for the library, one per program, one wiring
# the gup_stall category into the tree's mm selftests, one for the
# documentation, and a cover letter.
#
#   export-series.sh [-k KDIR] [-b SOURCE] [-o DIR] [-s 'Name <mail>']
#
#   -k KDIR    the kernel tree the series is for (default: Debian's
#              linux-source-6.12, extracted by scripts/kernel-tree.sh)
#   -b SOURCE  without -k: the linux-source version or tarball to use
#   -o DIR     where the patches go (default: build/series); old
#              *.patch files there are removed
#   -s SIGNER  the author and Signed-off-by: 'Name <mail>' (default:
#              git config user.name and user.email)
#
# The patches are made from the repository's files as they are now and
# from the tree's own Makefile, run_vmtests.sh, config, .gitignore and
# Documentation/mm/index.rst, which are edited following the tree's
# conventions. Apply them with:  git -C KDIR am DIR/*.patch
# The repository's own build files (tools/testing/selftests/Makefile,
# tools/testing/selftests/mm/Makefile) are not part of the series.

set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${O:-$top/build}
kdir=${KDIR:-}
source=6.12
outdir=$build/series
signer=

usage()
{
	sed -n '4,24s/^# \{0,1\}//p' "$0"
	exit 2
}

while getopts "k:b:o:s:h" opt; do
	case $opt in
	k)	kdir=$OPTARG ;;
	b)	source=$OPTARG ;;
	o)	outdir=$OPTARG ;;
	s)	signer=$OPTARG ;;
	*)	usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage

# shellcheck source=lib/common.sh
. "$top/scripts/lib/common.sh"

if [ -z "$signer" ]; then
	name=$(git -C "$top" config user.name || true)
	mail=$(git -C "$top" config user.email || true)
	[ -n "$name" ] && [ -n "$mail" ] ||
		die "no git user.name/user.email: pass -s 'Your Name <you@example.org>'"
	signer="$name <$mail>"
fi
[[ $signer =~ ^([^<>]*[^<> ])\ *\<([^<>@]+@[^<>]+)\>$ ]] ||
	die "-s wants 'Name <mail>', got '$signer'"
sname=${BASH_REMATCH[1]}
smail=${BASH_REMATCH[2]}

if [ -z "$kdir" ]; then
	kdir=$("$top/scripts/kernel-tree.sh" -o "$build" "$source")
fi
kdir=$(cd "$kdir" && pwd)
# scripts/kernel-tree.sh trees are .../ktree/NAME/base
label=$(basename "$kdir")
[ "$label" = base ] && label=$(basename "$(dirname "$kdir")")
[ -f "$kdir/tools/testing/selftests/lib.mk" ] ||
	die "$kdir is not a kernel tree (no tools/testing/selftests/lib.mk)"

# The mm selftests were tools/testing/selftests/vm before 6.3.
for d in mm vm; do
	if [ -f "$kdir/tools/testing/selftests/$d/run_vmtests.sh" ]; then
		sub=$d
		break
	fi
done
[ -n "${sub:-}" ] || die "$kdir has no mm (or vm) selftests"
sdir=tools/testing/selftests/$sub
src=$top/tools/testing/selftests/mm

# the library's headers and sources, as its Makefile lists them
read -r -a lib <<<"$(make -s --no-print-directory -C "$src" print-lib)"
[ ${#lib[@]} -gt 0 ] || die "no library files from make -C $src print-lib"
# the programs in the order the repository builds them
read -r -a progs <<<"$(make -s --no-print-directory -C "$src" print-progs)"
[ ${#progs[@]} -gt 0 ] || die "no programs from make -C $src print-progs"
for f in "${lib[@]}" "${progs[@]/%/.c}"; do
	[ -f "$src/$f" ] || die "missing $src/$f"
done
[ -f "$top/Documentation/mm/gup_stall.rst" ] ||
	die "missing Documentation/mm/gup_stall.rst"

# A scratch repository holding the tree's files the series edits.
work=$build/export/work
rm -rf "$work"
mkdir -p "$work"
cd "$work"
git init -q
git config user.name "$sname"
git config user.email "$smail"
git config core.autocrlf false
for f in "$sdir/Makefile" "$sdir/run_vmtests.sh" "$sdir/config" \
	 "$sdir/.gitignore" Documentation/mm/index.rst MAINTAINERS; do
	if [ -f "$kdir/$f" ]; then
		mkdir -p "$(dirname "$f")"
		cp -p "$kdir/$f" "$f"
	fi
done
# and the tree's files that the kernel fixes change
fixes=()
for p in "$top"/scripts/fixes/*.patch; do
	[ -f "$p" ] && fixes+=("$p")
done
for f in $(sed -n 's|^diff --git a/\([^ ]*\) b/.*|\1|p' "${fixes[@]}" /dev/null |
	   sort -u); do
	if [ -f "$kdir/$f" ]; then
		mkdir -p "$(dirname "$f")"
		cp -p "$kdir/$f" "$f"
	fi
done
git add -A
git commit -q -m "base: $label"
base=$(git rev-parse HEAD)

# 0. the kernel fixes, those that apply to this tree
nfix=0
for p in "${fixes[@]}"; do
	if git am -q "$p" >/dev/null 2>&1; then
		nfix=$((nfix + 1))
	else
		git am --abort >/dev/null 2>&1 || true
		note "$(basename "$p") does not apply to $label: left out"
	fi
done

mk=$sdir/Makefile

# Insert the lines of $2 after line $1 of file $3 (0: at the top).
insert_after()
{
	local n=$1 text=$2 file=$3

	awk -v n="$n" -v text="$text" '
		n == 0 && NR == 1 { print text }
		{ print }
		NR == n { print text }
	' "$file" >"$file.new"
	cat "$file.new" >"$file"	# keeps the file's mode
	rm -f "$file.new"
}

# Last line number of $2 matching the extended regexp $1, or 0.
last_line()
{
	grep -nE -- "$1" "$2" | tail -n 1 | cut -d: -f1 || true
}

# The end of the Makefile's unconditional list of test programs: the
# last TEST_GEN_FILES/TEST_GEN_PROGS line outside ifeq blocks, before the
# first other statement that follows the list.
gen_list_end()
{
	awk '
		/^(ifeq|ifneq|ifdef|ifndef)[ (]/ { depth++; next }
		/^endif/ { depth--; next }
		/^else/ || depth > 0 { next }
		/^TEST_GEN_(FILES|PROGS) *\+?=/ { started = 1; last = NR; next }
		!started || /^[ \t]*(#.*)?$/ { next }
		{ exit }
		END { print last + 0 }
	' "$1"
}

add_gen_file()
{
	local n text="TEST_GEN_FILES += $1"

	n=$(gen_list_end "$mk")
	[ "$n" -gt 0 ] || die "$mk: no TEST_GEN_FILES list"
	# The KVM program drives an x86 guest: built on x86 only. The
	# Makefile names the target ARCH (6.3+) or MACHINE (6.1).
	local arch='$(if $(ARCH),$(ARCH),$(MACHINE))'
	[ "$1" = gup_stall_kvm ] &&
		text="ifneq (,\$(filter x86 x86_64 i386 i686,$arch))"$'\n'"$text"$'\n'endif
	insert_after "$n" "$text" "$mk"
}

# Link the library into program $1 the way the tree links its helpers
# ("$(OUTPUT)/uffd-stress: uffd-common.c").
add_lib_dep()
{
	local n text

	# the VMM (gup_stall_vmm.c) is the KVM program's alone: x86 only
	text="\$(OUTPUT)/$1: $(printf '%s\n' "${lib[@]}" | grep '\.c$' |
		{ if [ "$1" = gup_stall_kvm ]; then cat; else grep -v '_vmm\.c$'; fi; } |
		tr '\n' ' ')"
	text=${text% }
	# lib.mk of older trees does not define _GNU_SOURCE for everyone
	if ! grep -q -- '-D_GNU_SOURCE' "$kdir/tools/testing/selftests/lib.mk"; then
		text="$text"$'\n'"\$(OUTPUT)/$1: CFLAGS += -D_GNU_SOURCE"
	fi
	n=$(last_line '^\$\(OUTPUT\)/[^ :]+: ([^=]*\.c|CFLAGS \+= -D_GNU_SOURCE)$' "$mk")
	if [ -z "$n" ]; then
		n=$(last_line '^include \.\./lib\.mk' "$mk")
		text=$'\n'"$text"
	fi
	[ -n "$n" ] || die "$mk: does not include ../lib.mk"
	insert_after "$n" "$text" "$mk"
}

# Libraries the library itself needs, from what it includes (the tree
# links them per program: "$(OUTPUT)/migration: LDLIBS += -lnuma").
lib_ldlibs=
if cat "${lib[@]/#/$src/}" | grep -qE '^#include <numa(if)?\.h>'; then
	lib_ldlibs="$lib_ldlibs -lnuma"
fi

add_lib_libs()
{
	local n

	[ -n "$lib_ldlibs" ] || return 0
	n=$(last_line '^\$\(OUTPUT\)/[^ :]+: LDLIBS \+= -l' "$mk")
	[ -n "$n" ] || n=$(wc -l <"$mk")
	insert_after "$n" $'\n'"\$(OUTPUT)/$1: LDLIBS +=$lib_ldlibs" "$mk"
}

add_gitignore()
{
	[ -f "$sdir/.gitignore" ] || return 0
	echo "$1" >>"$sdir/.gitignore"
}

commit()
{
	local subject=$1 body=$2

	git add -A
	git commit -q -F - <<-EOF
	$subject

	$body

	Signed-off-by: $sname <$smail>
	EOF
}

# 1. the library
for f in "${lib[@]}"; do
	cp "$src/$f" "$sdir/$f"
done
commit "selftests/mm: add a library to stall GUP under mmap_lock drops" \
"get_user_pages() may drop mmap_lock in the middle of a call: a fault
that has to wait (for userfaultfd, for a read, for a folio lock) returns
VM_FAULT_RETRY when the caller allows it (FOLL_UNLOCKABLE, a \"locked\"
argument), sleeps without the lock and retries. The address space may
change meanwhile, and every caller has to cope: return what it really
got, never pages of a VMA that is gone, never hang. Callers that cannot
drop the lock must fail at once instead. None of the existing mm
selftests holds a GUP fault long enough to change the address space
under it.

Add the library the gup_stall tests share. It runs a table of cells
(caller x backing x stall x disturbance), each in a process of its own
under a watchdog, and reports them as KTAP through kselftest.h:

- a staller: a userfaultfd opened without UFFD_USER_MODE_ONLY, so that
  faults the kernel takes on a process's behalf reach it, serviced by a
  thread that holds a chosen fault until the cell releases it and
  resolves all others with a known pattern;
- the backings (anonymous, THP, shared, memfd, hugetlb, tmpfs, ext4
  files, the stack), swap-in stalls on a zram device of its own and
  read stalls on dropped page cache;
- checkers for the data, the return value and errno, the number of
  userfaultfd messages, that mmap_lock really was dropped (a writer of
  the stalled mm must finish), and a kernel health check around every
  cell (new taint, WARNING, BUG, lockdep, hung task).

Every machine setting it changes (the zram swap device, nr_hugepages)
is restored at exit, also on failure and on SIGINT/SIGTERM/SIGHUP.

The programs using it follow."

# 2... the programs
n=$(last_line '^LOCAL_HDRS' "$mk")
if [ -n "$n" ]; then
	insert_after "$n" "LOCAL_HDRS += \$(selfdir)/$sub/gup_stall.h" "$mk"
else
	insert_after 0 "LOCAL_HDRS += \$(selfdir)/$sub/gup_stall.h"$'\n' "$mk"
fi

# Why a program is added: the known ones are described here, a program
# added to the repository later by the description atop its source.
prog_body()
{
	case $1 in
	gup_stall_remote)
		echo "process_vm_readv() and process_vm_writev() pin the target's pages with
pin_user_pages_remote() and a \"locked\" argument, so a fault on a page
that waits for userfaultfd, swap-in or a read may drop the target's
mmap_lock. /proc/pid/mem and PTRACE_PEEKDATA use GUP without \"locked\"
and must not wait at all.

Add gup_stall_remote: a child process reads or writes the cell process
while a page of it is stalled, and the cell unmaps, moves or protects
pages not reached yet, unmaps the stalled page itself, forks, or sends
the caller SIGUSR1 or SIGKILL before releasing the fault. The caller
must return a short count with the right data or the right error, a
writer of the target mm must not be blocked by the stall, and the
non-retrying callers must fail with EIO without queuing a userfaultfd
message.

Run it as root: \"./gup_stall_remote -l\" lists the cells, \"-f PATTERN\"
runs the matching ones." ;;
	gup_stall_iouring)
		echo "Registering io_uring fixed buffers pins user memory long-term
(FOLL_LONGTERM) in the caller's own mm, with mmap_lock droppable while
a fault waits. A registration that races with munmap, mremap or fork of
the buffer must end in a registration whose pins are the pages the
process sees, or in a clean error with every partial pin dropped, and
must never leave a pin behind.

Add gup_stall_iouring, which registers stalled, swapped-out and
file-backed buffers from a thread of the cell process, changes the
address space during the stall, and looks for leaked pins with
MADV_COLLAPSE, which fails while a subpage of the range is pinned.

liburing is found by check_config.sh like for cow and gup_longterm;
without it the program skips." ;;
	gup_stall_populate)
		echo "MADV_POPULATE_READ/WRITE, mlock(), mlock2(MLOCK_ONFAULT) and
mmap(MAP_POPULATE) fault pages in through GUP in the caller's own mm and
may drop mmap_lock while a fault waits. A change of the address space
during such a wait has to end in the documented error (ENOMEM for a
hole, EINVAL for a mapping that cannot be populated), and a file whose
reads fail has to end the call instead of retrying for ever.

Add gup_stall_populate, which covers these callers on stalled,
swapped-out and unreadable memory. The unreadable files are served by a
FUSE server in the program, built when libfuse3 is found with
pkg-config; without it those cells are left out and skip with a
reason." ;;
	*)
		echo "Add $1."
		echo
		awk 'NR > 1 && /^ \*\// { exit } NR > 2 { sub(/^ \* ?/, ""); print }' \
			"$src/$1.c" | fmt -w 72
		echo
		echo "Run it as root: \"./$1 -l\" lists the cells, \"-f PATTERN\" runs"
		echo "the matching ones."
		;;
	esac
}

for p in "${progs[@]}"; do
	cp "$src/$p.c" "$sdir/"
	add_gen_file "$p"
	add_lib_dep "$p"
	add_lib_libs "$p"
	case $p in
	gup_stall_iouring)
		# liburing as check_config.sh found it, as for cow
		n=$(last_line 'LDLIBS \+= \$\(IOURING_EXTRA_LIBS\)' "$mk")
		if [ -n "$n" ]; then
			text="\$(OUTPUT)/$p: LDLIBS += \$(IOURING_EXTRA_LIBS)"
			insert_after "$n" $'\n'"$text" "$mk"
		fi
		;;
	gup_stall_populate)
		n=$(last_line '^\$\(OUTPUT\)/[^ :]+: LDLIBS \+= -l' "$mk")
		[ -n "$n" ] || n=$(wc -l <"$mk")
		insert_after "$n" "
# libfuse3 serves $p a file whose reads fail; without it
# those cells are left out and say so.
ifeq (\$(shell pkg-config --exists fuse3 2>/dev/null && echo y),y)
\$(OUTPUT)/$p: CFLAGS += -DHAVE_LIBFUSE3 \$(shell pkg-config --cflags fuse3)
\$(OUTPUT)/$p: LDLIBS += \$(shell pkg-config --libs fuse3)
endif" "$mk"
		;;
	esac
	add_gitignore "$p"
	commit "selftests/mm: add $p" "$(prog_body "$p")"
done

# 5. the category
usage_n=$(last_line '^example: \./run_vmtests\.sh' "$sdir/run_vmtests.sh")
if [ -n "$usage_n" ] && grep -q 'CATEGORY=' "$sdir/run_vmtests.sh"; then
	# before the blank line that precedes the example
	insert_after $((usage_n - 2)) "- gup_stall
	get_user_pages() callers while mmap_lock is dropped during a
	stalled fault (needs root)" "$sdir/run_vmtests.sh"
	run="CATEGORY=\"gup_stall\" run_test"
else
	run="run_test"
fi
n=$(last_line '^echo "SUMMARY:' "$sdir/run_vmtests.sh")
[ -n "$n" ] || n=$(last_line '^exit ' "$sdir/run_vmtests.sh")
[ -n "$n" ] || die "$sdir/run_vmtests.sh: no place for the run_test lines"
text=
for p in "${progs[@]}"; do
	if [ "$p" = gup_stall_kvm ]; then
		# built on x86 only
		text="${text}[ -x ./$p ] && $run ./$p"$'\n'
	else
		text="$text$run ./$p"$'\n'
	fi
done
insert_after $((n - 1)) "$text" "$sdir/run_vmtests.sh"

# Newer trees run each category from a ksft_<category>.sh in TEST_PROGS.
wrapper=
if grep -qE '^TEST_PROGS \+?= *ksft_' "$mk"; then
	wrapper=ksft_gup_stall.sh
	# (the tag split so that it is not read as this file's own)
	printf '%s\n' '#!/bin/sh -e' '# SPDX-''License-Identifier: GPL-2.0' '' \
		'./run_vmtests.sh -t gup_stall' >"$sdir/$wrapper"
	chmod +x "$sdir/$wrapper"
	n=$(last_line '^TEST_PROGS \+?=' "$mk")
	insert_after "$n" "TEST_PROGS += $wrapper" "$mk"
fi

if [ -f "$src/gup_stall_kernels.txt" ]; then
	cp "$src/gup_stall_kernels.txt" "$sdir/"
	n=$(last_line '^TEST_FILES \+?=' "$mk")
	[ -n "$n" ] && insert_after "$n" "TEST_FILES += gup_stall_kernels.txt" "$mk"
fi

# the options of scripts/gup_stall.config that the exported programs use
while IFS= read -r c; do
	case $c in
	CONFIG_NUMA=*|CONFIG_MIGRATION=*) [ -n "$lib_ldlibs" ] || continue ;;
	CONFIG_KVM*) [[ " ${progs[*]} " == *" gup_stall_kvm "* ]] || continue ;;
	esac
	grep -q "^${c%%=*}=" "$sdir/config" || echo "$c" >>"$sdir/config"
done < <(grep '^CONFIG_' "$top/scripts/gup_stall.config")
commit "selftests/mm: run the gup_stall tests as category gup_stall" \
"Run the gup_stall programs from run_vmtests.sh as the category
gup_stall, so that \"run_vmtests.sh -t gup_stall\" runs them alone${wrapper:+ and
$wrapper runs them from the kselftest runner}.

The config fragment gains what the cells need: swap on zram for the
swap-in stalls, hugetlbfs and THP backings, tmpfs and ext4 files,
io_uring and FUSE${lib_ldlibs:+, NUMA for the migration cells}.

gup_stall_kernels.txt lists the cells known to fail on each kernel the
suite was run on and the upstream fix each of those kernels lacks; it
is installed with the tests so that results on a test machine can be
compared against it."

# 6. the documentation
cp "$top/Documentation/mm/gup_stall.rst" Documentation/mm/
if [ -f Documentation/mm/index.rst ]; then
	# into the last toctree, in alphabetical order
	awk '
		/^\.\. toctree::/ { last = NR }
		{ line[NR] = $0 }
		END {
			for (i = last + 1; i <= NR; i++) {
				if (line[i] ~ /^   [a-z]/ && !done &&
				    substr(line[i], 4) > "gup_stall") {
					at = i; done = 1
				}
				if (line[i] ~ /^   [a-z]/)
					end = i
			}
			if (!at)
				at = end + 1
			for (i = 1; i <= NR; i++) {
				if (i == at)
					print "   gup_stall"
				print line[i]
			}
		}
	' Documentation/mm/index.rst >index.new
	cat index.new >Documentation/mm/index.rst
	rm -f index.new
fi
# MEMORY MANAGEMENT covers the tests; make it cover their documentation
if [ -f MAINTAINERS ] && ! grep -qE '^F:\s*Documentation/mm/(gup_stall.rst)?$' MAINTAINERS; then
	awk '
		/^MEMORY MANAGEMENT$/ { in_mm = 1 }
		in_mm && /^$/ { in_mm = 0 }
		in_mm && !done && /^F:/ && $2 > "Documentation/mm/gup_stall.rst" {
			print "F:\tDocumentation/mm/gup_stall.rst"; done = 1
		}
		{ print }
	' MAINTAINERS >maintainers.new
	cat maintainers.new >MAINTAINERS
	rm -f maintainers.new
fi
commit "selftests/mm: document the gup_stall tests" \
"Describe in Documentation/mm what the gup_stall selftests check: the
contract of a GUP fault that drops mmap_lock (FOLL_UNLOCKABLE,
FOLL_NOWAIT, callers without \"locked\"), how the tests stall a fault and
change the address space under it, how to run them on a machine, from a
kernel tree and in a virtual machine, how to read a failing result, the
kernel matrix in tools/testing/selftests/$sub/gup_stall_kernels.txt and
how to add a cell. MEMORY MANAGEMENT, which covers the tests, gets the
document too."

n=${#progs[@]}
f=$nfix
fixnote=
if [ "$f" -gt 0 ]; then
	fixnote="Patch 1$([ "$f" -eq 1 ] || echo "-$f") fixes what the tests found:"$'\n'
	fixnote+=$(git log --reverse --format='  %s' "$base..HEAD" | head -n "$f")
	fixnote+=$'\n\n'
fi
parts="Patch $((f + 1)) adds the library the programs share,"
parts+=" patches $((f + 2))-$((n + f + 1)) the programs,"
parts+=" patch $((n + f + 2)) the run_vmtests.sh category and config,"
parts+=" patch $((n + f + 3)) the documentation."
parts=$(fold -s -w 72 <<<"$parts" | sed 's/ *$//')
list=
for p in "${progs[@]}"; do
	case $p in
	gup_stall_remote) d="process_vm_readv/writev, /proc/pid/mem, ptrace" ;;
	gup_stall_iouring) d="io_uring buffer registration" ;;
	gup_stall_populate) d="MADV_POPULATE_READ/WRITE, mlock, MAP_POPULATE" ;;
	gup_stall_kvm) d="KVM guest faults on a memslot (hva_to_pfn)" ;;
	*) d="see its patch" ;;
	esac
	list="$list"$'\n'"- $p: $d"
done
git config branch.master.description "selftests/mm: test GUP callers while mmap_lock is dropped

get_user_pages() may drop mmap_lock while a fault waits and retake it
afterwards; meanwhile the address space may change. This series adds
selftests that hold such a fault with a kernel-mode userfaultfd (or
make it wait for swap-in or a read), change the address space under the
waiting caller, and check what each caller of GUP returns:
$list

Every cell checks the data, the return value or errno, the userfaultfd
messages, that mmap_lock really was dropped, that nothing hangs, and
that the kernel logged no warning. They run as the category gup_stall:

  make headers && make -C tools/testing/selftests TARGETS=mm
  cd tools/testing/selftests/$sub && ./run_vmtests.sh -t gup_stall

$fixnote$parts

Generated by $(basename "$0") against $label."
git branch -q -M master 2>/dev/null || true

mkdir -p "$outdir"
rm -f "$outdir"/*.patch
git format-patch -q --cover-letter --cover-from-description=subject \
	--thread=shallow -o "$outdir" "$base..HEAD" >/dev/null
ls "$outdir"/*.patch
