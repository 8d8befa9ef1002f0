// SPDX-License-Identifier: GPL-2.0
/*
 * gup_stall cases: the axes of a cell (stall, disturbance) as library
 * types, what each disturbance leaves of a region, and the rows of a
 * program's table turned into cells.
 */
#include <stdbool.h>
#include <string.h>

#include "../kselftest.h"
#include "gup_stall.h"

const char * const gs_stall_names[] = {
	[GS_STALL_NONE] = "none",
	[GS_STALL_MISSING] = "missing",
	[GS_STALL_WP] = "wp",
	[GS_STALL_MINOR] = "minor",
	[GS_STALL_SWAPIN] = "swapin",
	[GS_STALL_IO] = "io",
};

const char * const gs_disturb_names[] = {
	[GS_D_NONE] = "none",
	[GS_D_MUNMAP_TAIL] = "munmap-tail",
	[GS_D_MUNMAP_STALLED] = "munmap-stalled",
	[GS_D_MREMAP_TAIL] = "mremap-tail",
	[GS_D_MPROTECT_TAIL] = "mprotect-tail",
	[GS_D_FORK] = "fork",
	[GS_D_SIGUSR1] = "sigusr1",
	[GS_D_SIGKILL] = "sigkill",
	[GS_D_BELOW_STACK] = "below-stack",
	[GS_D_MIGRATE] = "migrate",
	[GS_D_MIGRATE_STALLED] = "migrate-stalled",
	[GS_D_MBIND] = "mbind",
	[GS_D_MIGRATE_BEFORE] = "migrate-before",
	[GS_D_REFAULT] = "refault",
};

int gs_pages_left(int d, int npages)
{
	switch (d) {
	case GS_D_MUNMAP_TAIL:
	case GS_D_MREMAP_TAIL:
	case GS_D_MPROTECT_TAIL:
		return GS_HELD + 1;
	case GS_D_MUNMAP_STALLED:
		return GS_HELD;
	default:
		return npages;
	}
}

int gs_last_faulted(int d, int npages)
{
	int left = gs_pages_left(d, npages);

	if (d == GS_D_SIGKILL || left <= GS_HELD)
		return GS_HELD;
	return left - 1;
}

/* Is backing b one of the row's? */
static bool gs_case_takes(const struct gs_case *row,
			  const struct gs_backing *b)
{
	const char *p = row->backings;
	size_t n = strlen(b->name);

	if ((b->uffd & row->uffd) != row->uffd || (row->no_thp && b->thp))
		return false;
	if (!p)
		return true;
	while ((p = strstr(p, b->name))) {
		if ((p == row->backings || p[-1] == ' ') &&
		    (p[n] == ' ' || !p[n]))
			return true;
		p += n;
	}
	return false;
}

static void gs_case_add(const struct gs_case *row,
			const struct gs_backing *b, const char *caller, int ci,
			int d)
{
	struct gs_cell *c;

	c = gs_add_cell(row->run, b, row->needs | gs_backing_needs(b),
			"%s %s %s %s", caller, b ? b->name : "stack",
			gs_stall_names[row->stall], gs_disturb_names[d]);
	c->caller = ci;
	c->stall = row->stall;
	c->disturb = d;
	c->purpose = row->purpose;
	c->kmsg_allow = row->kmsg_allow;
	if (row->npages)
		c->npages = row->npages;
}

static void gs_case_cells(const struct gs_case *row,
			  const struct gs_backing *b,
			  const char * const *caller_names, int ncallers)
{
	int ci, d;

	for (ci = 0; ci < ncallers; ci++) {
		if (!(row->callers & GS_BIT(ci)))
			continue;
		for (d = 0; d < GS_NR_DISTURBS; d++)
			if (row->disturbs & GS_BIT(d))
				gs_case_add(row, b, caller_names[ci], ci, d);
	}
}

void gs_add_cases(const struct gs_case *rows, int n,
		  const char * const *caller_names, int ncallers)
{
	int i, j;

	for (j = 0; j < n; j++)
		if (rows[j].backings && !strcmp(rows[j].backings, "stack"))
			gs_case_cells(&rows[j], NULL, caller_names, ncallers);
	for (i = 0; i < gs_nr_backings; i++)
		for (j = 0; j < n; j++)
			if (!(rows[j].backings &&
			      !strcmp(rows[j].backings, "stack")) &&
			    gs_case_takes(&rows[j], &gs_backings[i]))
				gs_case_cells(&rows[j], &gs_backings[i],
					      caller_names, ncallers);
}
