# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# What the scripts of scripts/ share; sourced, not run:
#
#   die_status=2	# optional: the script's documented status for errors
#   . "$(dirname "$0")/lib/common.sh"
#
# note WORDS  prints "NAME: WORDS" on stderr, NAME being the script's own
#             name without .sh (or $me when the script set it before)
# die WORDS   note, then exit with $die_status (default 1)

me=${me:-$(basename "$0" .sh)}
die_status=${die_status:-1}

note()
{
	echo "$me: $*" >&2
}

die()
{
	note "$*"
	exit "$die_status"
}
