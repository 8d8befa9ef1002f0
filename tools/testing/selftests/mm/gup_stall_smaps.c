// SPDX-License-Identifier: GPL-2.0
/*
 * What a VMA says about itself in /proc/self/smaps: the two-letter
 * VmFlags mnemonics ("lo" VM_LOCKED, "lf" VM_LOCKONFAULT, ...) of the
 * VMA that holds an address, for the cells that check what a call left
 * on the mapping rather than only its return value.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gup_stall.h"

/* Whether flag is among the VmFlags of the VMA holding addr. */
static bool vmflags_have(const char *vmflags, const char *flag)
{
	size_t n = strlen(flag);
	const char *p = vmflags;

	while ((p = strstr(p, flag))) {
		if (p[-1] == ' ' && (p[n] == ' ' || p[n] == '\n' || !p[n]))
			return true;
		p += n;
	}
	return false;
}

/*
 * 1 when the VMA holding addr has the VmFlags mnemonic flag, 0 when it
 * has not, -1 when no VMA holds addr.
 */
int gs_vma_flag(const void *addr, const char *flag)
{
	unsigned long a = (unsigned long)addr, start, end;
	bool inside = false;
	char line[512];
	int ret = -1;
	FILE *f;

	f = fopen("/proc/self/smaps", "r");
	if (!f)
		gs_fail("open /proc/self/smaps: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			inside = a >= start && a < end;
			continue;
		}
		if (inside && !strncmp(line, "VmFlags:", 8)) {
			ret = vmflags_have(line + 8, flag);
			break;
		}
	}
	fclose(f);
	return ret;
}
