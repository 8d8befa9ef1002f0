# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2154 # the caller sets the globals named below
#
# The kernel matrix (tools/testing/selftests/mm/gup_stall_kernels.txt):
# a run's KTAP compared with what the matrix expects of a kernel.
# Sourced, not run; wants lib/common.sh and lib/ktap.sh, and $matrix set
# to the matrix file.
#
# matrix_has KERNEL
#	true when the matrix describes KERNEL ("# kernel KERNEL ...")
# matrix_compare KERNEL KTAP-FILE
#	a "not ok" cell not listed for KERNEL, a listed cell that passes
#	or fails for another reason than listed, an XPASS not listed (or a
#	listed XPASS that does not come) is a mismatch: prints one line per
#	mismatch and the summary "compare KERNEL: ... as expected|MISMATCH";
#	returns 1 on a mismatch. Bad input dies.

matrix_has()
{
	grep -q -E "^# kernel $1( |\$)" "$matrix"
}

# The kernel whose lines KERNEL inherits: "# kernel K ... inherits P".
matrix_parent()
{
	sed -n -E "s/^# kernel $1 .*inherits ([A-Za-z0-9._-]*[A-Za-z0-9]).*/\1/p" "$matrix" |
		head -n 1
}

# Expected results of KERNEL: "PROG<TAB>CELL<TAB>WORDS" from the matrix
# lines "KERNEL | PROG | CALLER | BACKING | STALL | DISTURBANCE | WHY |
# WORDS": the failures ($2 = fail), which must fail with a reason
# containing WORDS, or the known bugs the kernel fixes ($2 = xpass,
# lines whose WHY starts with "XPASS", no WORDS); with those of the
# kernel it inherits from (a flavour of the same release).
matrix_expected()
{
	local parent

	awk -F' [|] ' -v k="$1" -v want="$2" '
	/^#/ || NF < 7 || $2 == "expect" { next }
	$1 != k { next }
	($7 ~ /^XPASS/) != (want == "xpass") { next }
	{ print $2 "\t" $3 " " $4 " " $5 " " $6 "\t" $8 }' "$matrix"
	parent=$(matrix_parent "$1")
	[ -z "$parent" ] || [ "$parent" = "$1" ] || matrix_expected "$parent" "$2"
}

matrix_compare()
{
	local kernel=$1 file=$2 bad=0 key res p c words n_fail=0 n_ok=0
	local -A exp=() xpass=() seen=() why=()

	[ -f "$matrix" ] || die "no $matrix"
	[ -f "$file" ] || die "no KTAP file $file"
	grep -q -E '^(# )?(not )?ok [0-9]+ ' "$file" ||
		die "KTAP file $file has no result line"
	matrix_has "$kernel" ||
		die "kernel '$kernel' is not described in $matrix"
	while IFS=$'\t' read -r p c words; do
		[ -n "$words" ] ||
			die "matrix line for $kernel $p $c names no FAIL words (8th field)"
		exp[$p$'\t'$c]=$words
	done < <(matrix_expected "$kernel" fail | sort -u)
	while IFS=$'\t' read -r p c words; do
		xpass[$p$'\t'$c]=1
	done < <(matrix_expected "$kernel" xpass | sort -u)
	# "PROG<TAB>CELL<TAB>REASON" of the failing cells
	while IFS= read -r key; do
		why[${key%$'\t'*}]=${key##*$'\t'}
	done < <(ktap_records "$file" |
		awk -F'\t' '$3 == "fail" { print $2 "\t" $4 "\t" $5 }')
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
