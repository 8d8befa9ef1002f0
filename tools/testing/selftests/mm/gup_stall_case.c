// SPDX-License-Identifier: GPL-2.0
/*
 * gup_stall cases: the axes of a cell (stall, disturbance) as library
 * types, what each disturbance leaves of a region, and the rows of a
 * program's table turned into cells.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../kselftest.h"
#include "gup_stall.h"

/* in the order of enum gs_stall */
const char * const gs_stall_names[] = {
	"none", "missing", "wp", "minor", "swapin", "io", "held-read",
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
	[GS_D_PROT_NONE] = "prot-none",
	[GS_D_PROT_READ] = "prot-read",
	[GS_D_HOLE] = "hole",
	[GS_D_KILL_SERVER] = "kill-server",
	[GS_D_MREMAP_STALLED] = "mremap-stalled",
	[GS_D_MPROTECT_STALLED] = "mprotect-stalled",
	[GS_D_DONTNEED_STALLED] = "dontneed-stalled",
	[GS_D_DONTNEED_TAIL] = "dontneed-tail",
	[GS_D_REPEAT] = "repeat",
	[GS_D_PAGEOUT] = "pageout",
	[GS_D_MIGRATE_PINNED] = "migrate-pinned",
	[GS_D_SLOT_DELETE] = "slot-delete",
	[GS_D_SLOT_MOVE] = "slot-move",
	[GS_D_MUNMAP] = "munmap",
	[GS_D_CLOSE_FDS] = "close-fds",
	[GS_D_EXIT] = "exit",
	[GS_D_BAD_SIZE] = "unaligned-size",
	[GS_D_BAD_GPA] = "unaligned-gpa",
	[GS_D_BAD_HVA] = "unaligned-hva",
	[GS_D_BAD_SLOT] = "bad-slot",
	[GS_D_BAD_AS] = "bad-address-space",
	[GS_D_BAD_FLAGS] = "bad-flags",
	[GS_D_TOO_LARGE] = "too-large",
	[GS_D_GPA_WRAP] = "gpa-wrap",
	[GS_D_KERNEL_HVA] = "kernel-hva",
	[GS_D_OVERLAP] = "overlap",
	[GS_D_RESIZE] = "resize",
	[GS_D_NEW_HVA] = "new-hva",
	[GS_D_DELETE_ABSENT] = "delete-absent",
	[GS_D_MEMLOCK] = "memlock",
	[GS_D_FORCE_WRITE] = "force-write",
};

bool gs_disturb_harmless(int d)
{
	return d == GS_D_NONE || d == GS_D_FORK || d == GS_D_SIGUSR1 ||
	       d == GS_D_MIGRATE || d == GS_D_MIGRATE_STALLED ||
	       d == GS_D_MBIND || d == GS_D_REFAULT ||
	       d == GS_D_DONTNEED_STALLED || d == GS_D_DONTNEED_TAIL;
}

/* The pages before the first one the disturbance took away. */
static int gs_pages_before(int d, int npages)
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

static unsigned long long gs_first_pages(int n)
{
	return n >= 64 ? ~0ULL : GS_BIT(n) - 1;
}

/*
 * __mm_populate() after a lock drop goes on from the first page not
 * done: an unmapped held page is skipped and the pages after it are
 * populated (6.12 mm/gup.c), a tail unmapped, moved or made PROT_NONE
 * ends it, PROT_NONE with EFAULT that mlock reports as ENOMEM.
 */
static void gs_outcome_vma_walk(int d, int npages, struct gs_outcome *o)
{
	o->err = d == GS_D_MPROTECT_TAIL ? ENOMEM : 0;
	o->present = gs_first_pages(npages);
	if (d == GS_D_MUNMAP_STALLED)
		o->present &= ~GS_BIT(GS_HELD);
	else if (!gs_disturb_harmless(d))
		o->present = gs_first_pages(GS_HELD + 1);
	o->pages = npages;
	o->last_faulted = gs_disturb_harmless(d) ||
			  d == GS_D_MUNMAP_STALLED ? npages - 1 : GS_HELD;
}

void gs_outcome(enum gs_sem sem, int d, int npages, struct gs_outcome *o)
{
	int before = gs_pages_before(d, npages);

	memset(o, 0, sizeof(*o));
	switch (sem) {
	case GS_SEM_SHORT:
		o->pages = before;
		o->err = before ? 0 : EFAULT;
		o->last_faulted = d == GS_D_SIGKILL || before <= GS_HELD ?
				  GS_HELD : before - 1;
		break;
	case GS_SEM_FIRST_ERROR:
		o->pages = before;
		o->err = gs_disturb_harmless(d) ? 0 :
			 d == GS_D_MPROTECT_TAIL ? EINVAL : ENOMEM;
		o->last_faulted = before == npages ? npages - 1 : GS_HELD;
		break;
	case GS_SEM_VMA_WALK:
		gs_outcome_vma_walk(d, npages, o);
		return;
	case GS_SEM_ALL_OR_EFAULT:
		o->pages = gs_disturb_harmless(d) ? npages : 0;
		o->err = o->pages ? 0 : EFAULT;
		o->last_faulted = o->pages ? npages - 1 : GS_HELD;
		break;
	}
	o->present = gs_first_pages(o->pages);
}

/* Is name one of the words of list? */
static bool gs_word_in(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	while ((p = strstr(p, name))) {
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return true;
		p += n;
	}
	return false;
}

/* Is backing b one of the row's? */
static bool gs_case_takes(const struct gs_case *row,
			  const struct gs_backing *b)
{
	if ((b->uffd & row->uffd) != row->uffd || (row->no_thp && b->thp))
		return false;
	return !row->backings || gs_word_in(row->backings, b->name);
}

static void gs_case_add(const struct gs_case *row, const struct gs_backing *b,
			const char *target, const struct gs_caller *caller,
			int ci, int d)
{
	struct gs_cell *c;

	c = gs_add_cell(row->run, b, row->needs | gs_backing_needs(b),
			"%s %s %s %s", caller->name, b ? b->name : target,
			gs_stall_names[row->stall], gs_disturb_names[d]);
	c->caller = ci;
	c->stall = row->stall;
	c->disturb = d;
	c->purpose = row->purpose;
	c->target = target;
	c->kmsg_allow = row->kmsg_allow;
	if (row->npages)
		c->npages = row->npages;
	if (row->huge_npages && b && b->kind == GS_HUGETLB)
		c->npages = row->huge_npages;
}

static void gs_case_cells(const struct gs_case *row, const struct gs_backing *b,
			  const char *target, const struct gs_caller *callers,
			  int ncallers)
{
	int ci, d;

	for (ci = 0; ci < ncallers; ci++) {
		if (!(row->callers & GS_BIT(ci)))
			continue;
		for (d = 0; d < GS_NR_DISTURBS; d++)
			if (row->disturbs & GS_BIT(d))
				gs_case_add(row, b, target, &callers[ci], ci,
					    d);
	}
}

/* The words of the row's backings that name no backing, in order. */
static void gs_case_targets(const struct gs_case *row,
			    const struct gs_caller *callers, int ncallers)
{
	char word[32];
	const char *p = row->backings;
	int i, n;

	while (p && *p) {
		n = strcspn(p, " ");
		snprintf(word, sizeof(word), "%.*s", n, p);
		for (i = 0; i < gs_nr_backings; i++)
			if (!strcmp(gs_backings[i].name, word))
				break;
		if (n && i == gs_nr_backings)
			gs_case_cells(row, NULL, strndup(p, n), callers,
				      ncallers);
		p += n + !!p[n];
	}
}

void gs_add_cases(const struct gs_case *rows, int n,
		  const struct gs_caller *callers, int ncallers)
{
	int i, j;

	for (j = 0; j < n; j++)
		gs_case_targets(&rows[j], callers, ncallers);
	for (i = 0; i < gs_nr_backings; i++)
		for (j = 0; j < n; j++)
			if (gs_case_takes(&rows[j], &gs_backings[i]))
				gs_case_cells(&rows[j], &gs_backings[i], NULL,
					      callers, ncallers);
}

int gs_main(int argc, char **argv, const char *usage,
	    const struct gs_caller *callers, int ncallers,
	    const struct gs_table *tables, int ntables)
{
	int i;

	gs_init(argc, argv, usage);
	for (i = 0; i < ntables; i++)
		gs_add_cases(tables[i].rows, tables[i].n, callers, ncallers);
	return gs_run();
}
