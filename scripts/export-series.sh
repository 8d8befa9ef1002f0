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
# each program's own files beside PROG.c (its header, its other sources)
declare -A own
for p in "${progs[@]}"; do
	own[$p]=$(make -s --no-print-directory -C "$src" "print-own-$p")
done
# shellcheck disable=SC2068
for f in "${lib[@]}" "${progs[@]/%/.c}" ${own[@]}; do
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

	# the library, then the program's own sources (the KVM program's
	# VMM is x86 only like that program)
	# shellcheck disable=SC2086
	text="\$(OUTPUT)/$1: $(printf '%s\n' "${lib[@]}" ${own[$1]} |
		grep '\.c$' | tr '\n' ' ')"
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

# A commit from scripts/series/NAME.msg: its first line (after the
# comments) is the subject; @SUB@, @WRAPPER@ ($2) and @NUMA@ ($3) are
# filled in and each paragraph refilled to 72 columns.
commit_msg()
{
	local f=$top/scripts/series/$1.msg text

	[ -f "$f" ] || die "no commit message $f"
	text=$(grep -v '^#' "$f" | sed -e "s|@SUB@|$sub|g" \
		-e "s|@WRAPPER@|${2:-}|g" -e "s|@NUMA@|${3:-}|g")
	commit "$(head -n 1 <<<"$text")" \
		"$(tail -n +3 <<<"$text" | fmt -w 72 -p '' | sed 's/ *$//')"
}

# 1. the library
for f in "${lib[@]}"; do
	cp "$src/$f" "$sdir/$f"
done
commit_msg library

# 2... the programs
# Headers are prerequisites of every program (lib.mk leaves them out of
# the link): the library's with the first program, a program's own with
# that program.
add_hdrs()
{
	local h n text=

	for h in "$@"; do
		[[ $h == *.h ]] && text="$text \$(selfdir)/$sub/$h"
	done
	[ -n "$text" ] || return 0
	text="LOCAL_HDRS +=$text"
	n=$(last_line '^LOCAL_HDRS' "$mk")
	if [ -n "$n" ]; then
		insert_after "$n" "$text" "$mk"
	else
		insert_after 0 "$text"$'\n' "$mk"
	fi
}

add_hdrs "${lib[@]}"

# Why a program is added: the description atop its source.
prog_body()
{
	echo "Add $1."
	echo
	awk 'NR > 1 && /^ \*\// { exit } NR > 2 { sub(/^ \* ?/, ""); print }' \
		"$src/$1.c" | fmt -w 72
	echo
	echo "Run it as root: \"./$1 -l\" lists the cells,"
	echo "\"-l -v\" what each checks, \"-f PATTERN\" runs the matching ones."
}

for p in "${progs[@]}"; do
	for f in "$p.c" ${own[$p]}; do
		cp "$src/$f" "$sdir/"
	done
	# shellcheck disable=SC2086
	add_hdrs ${own[$p]}
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
commit_msg category "${wrapper:+ and $wrapper runs them from the kselftest runner}" \
	"${lib_ldlibs:+, NUMA for the migration cells}"

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
commit_msg docs

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
