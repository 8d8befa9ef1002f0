// SPDX-License-Identifier: GPL-2.0
/*
 * gup_stall: a pin detector for 2M ranges. MADV_COLLAPSE must refuse
 * (EAGAIN) while a subpage of the range is pinned and succeed when none
 * is, so a collapse after a caller let go proves that its pins were on
 * these pages and are gone. It needs THP (never with PREEMPT_RT) and a
 * kernel that can collapse the kind of memory (shmem only since 6.2):
 * gs_collapse_works() tries once on unpinned memory of the kind, and the
 * cells then say "n/a" rather than fail. The machine-wide FOLL_PIN
 * counters (gup_stall_pin.c) work everywhere.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#include "../kselftest.h"
#include "gup_stall.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif
#define GS_THP_SIZE	(2UL << 20)

bool gs_collapse_applies(const struct gs_backing *b, bool small)
{
	/* shmem files: a 2M alias of the file finds pins on its pages */
	if (b && (b->kind == GS_MEMFD || b->kind == GS_TMPFS))
		return true;
	return b && b->thp && small;
}

void gs_fill_small(struct gs_region *r, __u64 seed)
{
	if (madvise(r->map, r->map_len, MADV_NOHUGEPAGE))
		gs_fail("MADV_NOHUGEPAGE: %s", strerror(errno));
	gs_fill(r->addr, r->len, seed, 0);
	if (madvise(r->map, r->map_len, MADV_HUGEPAGE))
		gs_fail("MADV_HUGEPAGE: %s", strerror(errno));
}

/*
 * A shmem file is seen through a 2M aligned alias of its first 2M, grown
 * to that size, so that the region's own mapping (changed or not by the
 * cell) does not matter: the pins are on the file's pages.
 */
static int gs_collapse_file(int fd)
{
	char *p, *alias;
	int ret, err;

	if (ftruncate(fd, GS_THP_SIZE))
		gs_fail("growing the file to 2M: %s", strerror(errno));
	p = mmap(NULL, 2 * GS_THP_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		gs_fail("mmap: %s", strerror(errno));
	alias = (char *)(((unsigned long)p + GS_THP_SIZE - 1) &
			 ~(GS_THP_SIZE - 1));
	if (mmap(alias, GS_THP_SIZE, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED)
		gs_fail("2M alias of the file: %s", strerror(errno));
	ret = madvise(alias, GS_THP_SIZE, MADV_HUGEPAGE);
	if (!ret)
		ret = madvise(alias, GS_THP_SIZE, MADV_COLLAPSE);
	err = errno;
	munmap(p, 2 * GS_THP_SIZE);
	return ret ? err : 0;
}

int gs_collapse(struct gs_region *r)
{
	if (r->b->thp)
		return madvise(r->map, GS_THP_SIZE, MADV_COLLAPSE) ? errno : 0;
	return gs_collapse_file(r->fd);
}

bool gs_collapse_works(const struct gs_backing *b, int npages)
{
	static int works = -1;
	struct gs_region t;
	int err;

	if (works >= 0)
		return works;
	if (access("/sys/kernel/mm/transparent_hugepage", F_OK)) {
		gs_note("%s",
			"pin detector n/a: it collapses a 2M range, and CONFIG_TRANSPARENT_HUGEPAGE is off (no /sys/kernel/mm/transparent_hugepage)");
		works = 0;
		return works;
	}
	gs_region_map(&t, b, npages);
	if (t.b->thp)
		gs_fill_small(&t, 0);
	else
		gs_fill(t.addr, t.len, 0, 0);
	err = gs_collapse(&t);
	gs_region_unmap(&t);
	works = !err;
	if (err)
		gs_note("pin detector n/a: MADV_COLLAPSE gives %s on unpinned %s memory",
			strerrorname_np(err), b->name);
	return works;
}

void gs_check_collapse_pinned(struct gs_region *r)
{
	int err = gs_collapse(r);

	if (!err)
		gs_fail("MADV_COLLAPSE replaced registered pages: the pin is not the mapped page");
	if (err != EAGAIN)
		gs_fail("pin detector: MADV_COLLAPSE %s, want EAGAIN while pinned",
			strerrorname_np(err));
}

void gs_check_collapse_unpinned(struct gs_region *r, int ms)
{
	struct timespec t0;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while ((err = gs_collapse(r)) == EAGAIN && gs_ms_since(&t0) < ms)
		usleep(1000);
	if (err == EAGAIN)
		gs_fail("pin left behind: MADV_COLLAPSE of the 2M range gives EAGAIN%s",
			ms ? " after the bound" : "");
	if (err)
		gs_fail("pin detector: MADV_COLLAPSE failed with %s",
			strerrorname_np(err));
}
