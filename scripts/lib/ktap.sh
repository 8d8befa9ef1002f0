# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The one KTAP reader of scripts/; sourced, not run. It reads what
# scripts/run-suite.sh (and the kselftest runner) prints, programs with
# their own KTAP nested under "# selftests: SUITE: PROG", as well as the
# KTAP of a single program run by hand.
#
# ktap_records [-s] [-f] [FILE]
#	one line per result line of FILE (default stdin), TAB-separated:
#
#	STAMP PROGRAM RESULT CELL REASON DIAG
#
#	STAMP   with -s, the number in front of every line ("SECS LINE",
#	        as the mutation bench stores a run); else empty
#	PROGRAM the program of the "# selftests: SUITE: PROG" line above
#	        (empty for a single program's KTAP)
#	RESULT  ok, fail, skip, xfail or xpass
#	CELL    the cell's name, or "(program)" for the line of the
#	        program as a whole ("ok N selftests: SUITE: PROG")
#	REASON  a failing cell: its last "CELL: FAIL: REASON" diagnostic
#	        before it; otherwise the directive ("SKIP why", "exit=1")
#	DIAG    a cell: the last diagnostic line before it; a program:
#	        its result line
#
#	-f flushes every record as its line comes (a run streamed live).
#	Fields may be empty: split the records with awk -F'\t' (bash's
#	read merges adjacent TABs).
#
# ktap_cells [FILE]
#	"RESULT PROGRAM<TAB>CELL" for every cell; a program that failed as a
#	whole without a failing or XPASS cell is reported as the cell
#	"(program)" (what vmtest.sh --cells prints).

ktap_records()
{
	local opt stamped=0 flush=0 awk=(awk)

	OPTIND=1
	while getopts sf opt; do
		case $opt in
		s)	stamped=1 ;;
		f)	flush=1 ;;
		*)	return 2 ;;
		esac
	done
	shift $((OPTIND - 1))
	# mawk reads a pipe in blocks unless told otherwise
	if [ $flush = 1 ] && awk -W version 2>&1 | grep -q mawk; then
		awk+=(-W interactive)
	fi
	"${awk[@]}" -v stamped="$stamped" -v flush="$flush" '
	# sets res, name and directive from "ok N NAME # DIRECTIVE"
	function result(s,   i) {
		res = "ok"
		if (s ~ /^not /) { res = "fail"; s = substr(s, 5) }
		sub(/^ok [0-9]+ ?/, "", s)
		if (s ~ / # (SKIP|skip)/) res = "skip"
		else if (s ~ / # XFAIL/) res = "xfail"
		else if (s ~ / # XPASS/) res = "xpass"
		directive = ""
		if ((i = index(s, " # ")) > 0) {
			directive = substr(s, i + 3)
			s = substr(s, 1, i - 1)
		}
		sub(/ +$/, "", s)
		name = s
	}
	function emit(cell, reason, d) {
		print stamp "\t" prog "\t" res "\t" cell "\t" reason "\t" d
		if (flush)
			fflush()
	}
	{
		raw = $0
		sub(/\r$/, "", raw)
		stamp = ""
		if (stamped && match(raw, /^[0-9]+ /)) {
			stamp = substr(raw, 1, RLENGTH - 1)
			raw = substr(raw, RLENGTH + 1)
		}
		line = raw
		depth = 0
		while (substr(line, 1, 2) == "# ") {
			depth++
			line = substr(line, 3)
		}
		# cells are one level below their program, if there is one
		cdepth = inprog ? 1 : 0
	}
	depth == 1 && line ~ /^selftests: [^ ]+: [^ ]/ {
		prog = line
		sub(/^selftests: [^ ]+: /, "", prog)
		sub(/ .*/, "", prog)
		inprog = 1
		split("", reason)
		next
	}
	depth == 0 && line ~ /^(not )?ok [0-9]+ selftests: [^ ]+: [^ ]/ {
		result(line)
		sub(/^selftests: [^ ]+: /, "", name)
		prog = name
		emit("(program)", directive, raw)
		next
	}
	depth == cdepth && line ~ /^(not )?ok [0-9]+( |$)/ {
		result(line)
		emit(name, res == "fail" ? reason[name] : directive, diag)
		next
	}
	depth > cdepth {
		diag = substr(raw, 2 * cdepth + 3)
		if ((i = index(diag, ": FAIL: ")) > 0)
			reason[substr(diag, 1, i - 1)] = substr(diag, i + 8)
	}' "$@"
}

ktap_cells()
{
	ktap_records "$@" | awk -F'\t' '
	$4 == "(program)" {
		if ($3 == "fail" && !bad[$2])
			print "fail " $2 "\t(program)"
		bad[$2] = 0
		next
	}
	{
		# an XPASS fails its program too, but is judged as a cell
		if ($3 == "fail" || $3 == "xpass")
			bad[$2] = 1
		print $3 " " $2 "\t" $4
	}'
}
