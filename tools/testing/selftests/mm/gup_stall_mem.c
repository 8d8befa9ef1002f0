// SPDX-License-Identifier: GPL-2.0
/*
 * gup_stall backings and memory pressure: the memory types a cell maps
 * (rows of gs_backings[]), the address-space changes made under a
 * stalled caller, page cache and swap-out of a region.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/swap.h>

#include "../kselftest.h"
#include "gup_stall.h"

#define GS_THP_SIZE	(2UL << 20)

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT	21
#endif

/* name, kind, shared, thp, userfaultfd modes */
const struct gs_backing gs_backings[] = {
	{ "anon", GS_ANON, false, false, GS_UFFD_MISSING | GS_UFFD_WP },
	{ "thp", GS_ANON, false, true, GS_UFFD_MISSING | GS_UFFD_WP },
	{ "anon-shared", GS_ANON_SHARED, true, false,
	  GS_UFFD_MISSING | GS_UFFD_WP | GS_UFFD_MINOR },
	{ "memfd", GS_MEMFD, true, false,
	  GS_UFFD_MISSING | GS_UFFD_WP | GS_UFFD_MINOR },
	{ "hugetlb", GS_HUGETLB, true, false,
	  GS_UFFD_MISSING | GS_UFFD_WP | GS_UFFD_MINOR },
	{ "tmpfs", GS_TMPFS, true, false,
	  GS_UFFD_MISSING | GS_UFFD_WP | GS_UFFD_MINOR },
	{ "ext4-private", GS_EXT4, false, false, 0 },
	{ "ext4-shared", GS_EXT4, true, false, 0 },
};

const int gs_nr_backings = ARRAY_SIZE(gs_backings);

const struct gs_backing *gs_find_backing(const char *name)
{
	int i;

	for (i = 0; i < gs_nr_backings; i++)
		if (!strcmp(gs_backings[i].name, name))
			return &gs_backings[i];
	ksft_exit_fail_msg("no backing named %s\n", name);
	return NULL;	/* older kselftest.h: not marked noreturn */
}

/* What the runner must provide before a cell can map this backing. */
unsigned int gs_backing_needs(const struct gs_backing *b)
{
	unsigned int needs = 0;

	if (b && b->kind == GS_HUGETLB)
		needs |= GS_NEED_HUGETLB;
	if (b && b->thp)
		needs |= GS_NEED_THP;
	return needs;
}

/* An unlinked file on a filesystem of the given type. */
static int gs_tmpfile(const char *dir, long magic, const char *fsname)
{
	struct statfs sfs;
	int fd;

	if (statfs(dir, &sfs))
		gs_skip("statfs(%s): %s", dir, strerror(errno));
	if (sfs.f_type != magic)
		gs_skip("%s is not on %s (choose a directory with -d)", dir,
			fsname);
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		gs_fail("O_TMPFILE in %s: %s", dir, strerror(errno));
	return fd;
}

static int gs_backing_fd(const struct gs_backing *b)
{
	int fd = -1;

	switch (b->kind) {
	case GS_ANON:
	case GS_ANON_SHARED:
		return -1;
	case GS_MEMFD:
		fd = memfd_create("gup_stall", MFD_CLOEXEC);
		break;
	case GS_HUGETLB:
		fd = memfd_create("gup_stall", MFD_CLOEXEC | MFD_HUGETLB);
		break;
	case GS_TMPFS:
		return gs_tmpfile("/dev/shm", TMPFS_MAGIC, "tmpfs");
	case GS_EXT4:
		return gs_tmpfile(gs_test_dir(), EXT4_SUPER_MAGIC, "ext4");
	}
	if (fd < 0)
		gs_fail("memfd_create for %s: %s", b->name, strerror(errno));
	return fd;
}

/*
 * mmap of hugetlb memory failed with ENOMEM. The cell's huge pages were
 * free when it started; if another user has taken them since (another
 * run of the suite, a database), that is a machine without memory for
 * huge pages and the cell skips. With enough still free, the kernel
 * refused for its own reasons (a reservation leak): that is a failure.
 */
static void gs_hugetlb_enomem(const struct gs_region *r)
{
	long free_pages = gs_huge_free();

	if (free_pages >= 0 && free_pages < r->npages)
		gs_skip("mmap %s: ENOMEM: %ld free huge pages, %d needed: %s",
			r->b->name, free_pages, r->npages,
			"another user took them (no memory for huge pages)");
}

/* Map npages of backing b; the cell is skipped or failed on trouble. */
void gs_region_map(struct gs_region *r, const struct gs_backing *b,
		   int npages)
{
	int flags = b->shared ? MAP_SHARED : MAP_PRIVATE;
	size_t extra = 0;
	char *p;

	memset(r, 0, sizeof(*r));
	r->b = b;
	r->npages = npages;
	r->psize = b->kind == GS_HUGETLB ? gs_huge_page_size() : getpagesize();
	r->len = r->psize * npages;
	r->fd = gs_backing_fd(b);
	if (r->fd < 0)
		flags |= MAP_ANONYMOUS;
	else if (ftruncate(r->fd, r->len))
		gs_fail("ftruncate %s to %zu: %s", b->name, r->len,
			strerror(errno));
	/* A THP region is one 2M aligned VMA, so its faults go huge. */
	r->map_len = b->thp ? GS_THP_SIZE : r->len;
	if (b->thp)
		extra = GS_THP_SIZE;
	p = mmap(NULL, r->map_len + extra, PROT_READ | PROT_WRITE, flags,
		 r->fd, 0);
	if (p == MAP_FAILED) {
		int err = errno;

		if (err == ENOMEM && b->kind == GS_HUGETLB)
			gs_hugetlb_enomem(r);
		gs_fail("mmap %s (%zu bytes): %s", b->name, r->map_len,
			strerror(err));
	}
	if (b->thp) {
		char *a = (char *)(((unsigned long)p + extra - 1) & ~(extra - 1));

		if (a > p)
			munmap(p, a - p);
		munmap(a + r->map_len, p + extra - a);
		p = a;
		if (madvise(p, r->map_len, MADV_HUGEPAGE))
			gs_fail("MADV_HUGEPAGE: %s", strerror(errno));
	} else if (b->kind == GS_ANON) {
		madvise(p, r->map_len, MADV_NOHUGEPAGE);
	}
	r->map = p;
	r->addr = p;
}

void gs_region_unmap(struct gs_region *r)
{
	if (r->map)
		munmap(r->map, r->map_len);
	if (r->fd >= 0)
		close(r->fd);
	r->map = NULL;
	r->fd = -1;
}

/*
 * Move [start, start + len) of the region elsewhere with mremap(), as a
 * disturbance while a caller waits: the old range becomes a hole.
 */
void gs_region_move(struct gs_region *r, char *start, size_t len)
{
	size_t ps = r->psize;
	char *dst, *p;

	/* a free, suitably aligned place to move to */
	p = mmap(NULL, len + ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		gs_fail("mmap: %s", strerror(errno));
	dst = (char *)(((unsigned long)p + ps - 1) & ~(ps - 1));
	if (mremap(start, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst) ==
	    MAP_FAILED)
		gs_fail("mremap of pages during the stall: %s", strerror(errno));
}

void gs_region_change(struct gs_region *r, enum gs_change how, int held)
{
	bool tail = how == GS_MUNMAP_TAIL || how == GS_MREMAP_TAIL ||
		    how == GS_MPROTECT_TAIL || how == GS_DONTNEED_TAIL;
	char *start = r->addr + (held + tail) * r->psize;
	size_t len = tail ? r->len - (held + 1) * r->psize : r->psize;
	int ret = 0;

	switch (how) {
	case GS_MUNMAP_TAIL:
	case GS_MUNMAP_STALLED:
		ret = munmap(start, len);
		break;
	case GS_MREMAP_TAIL:
	case GS_MREMAP_STALLED:
		gs_region_move(r, start, len);
		break;
	case GS_MPROTECT_TAIL:
	case GS_MPROTECT_STALLED:
		ret = mprotect(start, len, PROT_NONE);
		break;
	case GS_DONTNEED_TAIL:
	case GS_DONTNEED_STALLED:
		ret = madvise(start, len, MADV_DONTNEED);
		break;
	}
	if (ret)
		gs_fail("%s of %s: %s",
			how == GS_MUNMAP_TAIL || how == GS_MUNMAP_STALLED ? "munmap" :
			how == GS_MPROTECT_TAIL || how == GS_MPROTECT_STALLED ?
			"mprotect" : "MADV_DONTNEED",
			tail ? "the tail" : "the stalled page", strerror(errno));
}

/*
 * Put the pattern of seed into the region's page cache, leaving no page
 * table entry behind: the next access takes a minor fault.
 */
void gs_region_fill_cache(struct gs_region *r, __u64 seed)
{
	char *alias;

	if (r->b->shared) {
		gs_fill(r->addr, r->len, seed, 0);
		if (madvise(r->addr, r->len, MADV_DONTNEED))
			gs_fail("MADV_DONTNEED: %s", strerror(errno));
		return;
	}
	if (r->fd < 0)
		gs_fail("%s has no page cache to fill", r->b->name);
	/* a private file mapping: write the file through a shared alias */
	alias = mmap(NULL, r->len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	if (alias == MAP_FAILED)
		gs_fail("alias mmap of %s: %s", r->b->name, strerror(errno));
	gs_fill(alias, r->len, seed, 0);
	munmap(alias, r->len);
}

/* Write the file back and drop it from the page cache. */
void gs_region_evict(struct gs_region *r)
{
	unsigned char vec[GS_MAX_PAGES];
	int i, tries;

	for (tries = 0; tries < 10; tries++) {
		if (fsync(r->fd))
			gs_fail("fsync: %s", strerror(errno));
		posix_fadvise(r->fd, 0, r->len, POSIX_FADV_DONTNEED);
		if (mincore(r->addr, r->len, vec))
			gs_fail("mincore: %s", strerror(errno));
		for (i = 0; i < r->npages; i++)
			if (vec[i] & 1)
				break;
		if (i == r->npages)
			return;
	}
	gs_fail("page %d of %s stays in the page cache after POSIX_FADV_DONTNEED",
		i, r->b->name);
}

/* Pages swapped out according to pagemap (anon) or mincore (shmem). */
/* Pages of [addr, addr + npages * psize) whose pagemap entry has bit. */
static int gs_pagemap_count(const void *addr, int npages, size_t psize,
			    __u64 bit, unsigned long long *mask)
{
	int fd, i, n = 0;

	fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0)
		gs_fail("open pagemap: %s", strerror(errno));
	for (i = 0; i < npages; i++) {
		unsigned long vpn = ((unsigned long)addr + i * psize) /
				    getpagesize();
		__u64 e;

		if (pread(fd, &e, sizeof(e), vpn * sizeof(e)) != sizeof(e))
			gs_fail("read pagemap: %s", strerror(errno));
		if (!(e & bit))
			continue;
		n++;
		if (mask && i < 64)
			*mask |= 1ULL << i;
	}
	close(fd);
	return n;
}

int gs_pagemap_swapped(const void *addr, int npages, size_t psize)
{
	return gs_pagemap_count(addr, npages, psize, GS_PM_SWAPPED, NULL);
}

int gs_pages_present(const void *addr, int npages, size_t psize)
{
	return gs_pagemap_count(addr, npages, psize, GS_PM_PRESENT, NULL);
}

unsigned long long gs_present_mask(const void *addr, int npages, size_t psize)
{
	unsigned long long mask = 0;

	if (addr)
		gs_pagemap_count(addr, npages, psize, GS_PM_PRESENT, &mask);
	return mask;
}

static int gs_shmem_nonresident(struct gs_region *r)
{
	unsigned char vec[GS_MAX_PAGES];
	int i, n = 0;

	if (mincore(r->addr, r->len, vec))
		gs_fail("mincore: %s", strerror(errno));
	for (i = 0; i < r->npages; i++)
		n += !(vec[i] & 1);
	return n;
}

static cpu_set_t gs_cpus;

/*
 * Before another MADV_PAGEOUT: pages the cell's threads faulted on another
 * CPU may wait in that CPU's LRU batch, where reclaim cannot isolate
 * them, and MADV_PAGEOUT drains only the batch of the CPU it runs on; a
 * busy machine moves threads between CPUs often. So the next try runs on
 * the next CPU, after a pause for pins that go asynchronously.
 */
static void gs_pageout_retry(int tries)
{
	cpu_set_t one;
	int cpu, n = 0;

	if (tries == 1 && sched_getaffinity(0, sizeof(gs_cpus), &gs_cpus))
		CPU_ZERO(&gs_cpus);
	usleep(tries * 10000);
	if (!CPU_COUNT(&gs_cpus))
		return;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &gs_cpus) || n++ != tries % CPU_COUNT(&gs_cpus))
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		sched_setaffinity(0, sizeof(one), &one);
		return;
	}
}

/* Swap every page of the region out; fail the cell if that cannot be done. */
void gs_region_pageout(struct gs_region *r)
{
	bool anon = r->b->kind == GS_ANON;
	int out = 0, tries, hold;

	/* no swapoff by another run until the pages are counted */
	hold = gs_env_swap_hold();
	for (tries = 0; tries < 5 && out < r->npages; tries++) {
		if (tries)
			gs_pageout_retry(tries);
		if (madvise(r->addr, r->len, MADV_PAGEOUT))
			gs_fail("MADV_PAGEOUT: %s", strerror(errno));
		out = anon ? gs_pagemap_swapped(r->addr, r->npages, r->psize) :
			     gs_shmem_nonresident(r);
	}
	gs_env_swap_release(hold);
	if (tries > 1 && CPU_COUNT(&gs_cpus))
		sched_setaffinity(0, sizeof(gs_cpus), &gs_cpus);
	if (out < r->npages)
		gs_fail("only %d of %d pages of %s swapped out", out,
			r->npages, r->b->name);
}

/* Pages of the region not resident: pagemap for anon, mincore otherwise. */
int gs_region_nonresident(struct gs_region *r)
{
	unsigned char vec[GS_MAX_PAGES];
	int i, n = 0;

	if (r->b->kind == GS_ANON)
		return gs_pagemap_swapped(r->addr, r->npages, r->psize);
	if (mincore(r->addr, r->len, vec))
		gs_fail("mincore: %s", strerror(errno));
	for (i = 0; i < r->npages; i++)
		n += !(vec[i] & 1);
	return n;
}
