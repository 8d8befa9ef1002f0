// SPDX-License-Identifier: GPL-2.0
/*
 * gup_stall backings and memory pressure: the memory types a cell maps,
 * a zram swap device of the library's own, huge page reservations; every
 * machine setting changed here is restored by gs_restore_all().
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if __has_include("local_config.h")
#include "local_config.h"
#endif
#ifdef LOCAL_CONFIG_HAVE_LIBNUMA
#include <numaif.h>
#else
#include <sys/syscall.h>
#include <linux/mempolicy.h>
#endif
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/swap.h>

#include "../kselftest.h"
#include "gup_stall.h"

#define GS_THP_SIZE	(2UL << 20)
#define GS_SWAP_SIZE	(256UL << 20)

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

int gs_read_long(const char *path, long *v)
{
	FILE *f = fopen(path, "r");
	int ok;

	if (!f)
		return -1;
	ok = fscanf(f, "%ld", v) == 1;
	fclose(f);
	return ok ? 0 : -1;
}

/* The first line of a file, or -1. */
int gs_read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	int ok;

	if (!f)
		return -1;
	ok = !!fgets(buf, len, f);
	fclose(f);
	return ok ? 0 : -1;
}

int gs_write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

int gs_write_long(const char *path, long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld", v);
	return gs_write_str(path, buf);
}

size_t gs_huge_page_size(void)
{
	static size_t size;
	char line[128];
	FILE *f;

	if (size)
		return size;
	f = fopen("/proc/meminfo", "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long kb;

		if (sscanf(line, "Hugepagesize: %lu kB", &kb) == 1)
			size = kb << 10;
	}
	fclose(f);
	return size;
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

static long gs_huge_free(void);

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
	char *tail = r->addr + (held + 1) * r->psize;
	size_t tail_len = r->len - (held + 1) * r->psize;

	switch (how) {
	case GS_MUNMAP_TAIL:
		if (munmap(tail, tail_len))
			gs_fail("munmap of the tail: %s", strerror(errno));
		break;
	case GS_MUNMAP_STALLED:
		if (munmap(r->addr + held * r->psize, r->psize))
			gs_fail("munmap of the stalled page: %s",
				strerror(errno));
		break;
	case GS_MREMAP_TAIL:
		gs_region_move(r, tail, tail_len);
		break;
	case GS_MPROTECT_TAIL:
		if (mprotect(tail, tail_len, PROT_NONE))
			gs_fail("mprotect of the tail: %s", strerror(errno));
		break;
	}
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
int gs_pagemap_swapped(const void *addr, int npages, size_t psize)
{
	int fd, i, n = 0;

	fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0)
		gs_fail("open pagemap: %s", strerror(errno));
	for (i = 0; i < npages; i++) {
		unsigned long vpn = ((unsigned long)addr + i * psize) / getpagesize();
		__u64 e;

		if (pread(fd, &e, sizeof(e), vpn * sizeof(e)) != sizeof(e))
			gs_fail("read pagemap: %s", strerror(errno));
		if (e & (1ULL << 62))
			n++;
	}
	close(fd);
	return n;
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

/* zram swap device of our own */

static struct {
	int state;		/* 0 untried, 1 on, -1 unavailable */
	int id;
	char dev[32];
	char why[256];
} gs_swap = { .id = -1 };

static void gs_zram_attr(const char *attr, char *path, size_t len)
{
	snprintf(path, len, "/sys/block/zram%d/%s", gs_swap.id, attr);
}

static int gs_write_swap_header(const char *dev, size_t size)
{
	size_t psize = getpagesize();
	__u32 *words;
	char *page;
	int fd, ret = -1;

	page = calloc(1, psize);
	if (!page)
		return -1;
	/* struct swap_header: version, last_page, nr_badpages at 1024 */
	words = (__u32 *)(page + 1024);
	words[0] = 1;
	words[1] = size / psize - 1;
	words[2] = 0;
	memcpy(page + psize - 10, "SWAPSPACE2", 10);
	fd = open(dev, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (pwrite(fd, page, psize, 0) == (ssize_t)psize && !fsync(fd))
			ret = 0;
		close(fd);
	}
	free(page);
	return ret;
}

static bool gs_swap_fail(const char *what)
{
	snprintf(gs_swap.why, sizeof(gs_swap.why), "zram swap: %s: %s", what,
		 strerror(errno));
	gs_swap.state = -1;
	gs_restore_all();
	return false;
}

static bool gs_swap_setup(void)
{
	char path[64];
	struct timespec t0;
	long id;

	if (gs_read_long("/sys/class/zram-control/hot_add", &id))
		return gs_swap_fail("no /sys/class/zram-control (CONFIG_ZRAM, modprobe zram)");
	gs_swap.id = id;
	/* recorded at once: a run that finds it after a SIGKILL removes it */
	gs_env_set_zram(id);
	snprintf(gs_swap.dev, sizeof(gs_swap.dev), "/dev/zram%ld", id);
	gs_zram_attr("disksize", path, sizeof(path));
	if (gs_write_long(path, GS_SWAP_SIZE))
		return gs_swap_fail("setting disksize");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (access(gs_swap.dev, F_OK) && gs_ms_since(&t0) < 2000)
		usleep(1000);
	if (gs_write_swap_header(gs_swap.dev, GS_SWAP_SIZE))
		return gs_swap_fail("writing the swap header");
	if (swapon(gs_swap.dev, SWAP_FLAG_PREFER | 32767))
		return gs_swap_fail("swapon");
	gs_swap.state = 1;
	ksft_print_msg("swap on %s (%lu MiB) until the end of the run\n",
		       gs_swap.dev, GS_SWAP_SIZE >> 20);
	return true;
}

static void gs_swap_teardown(void)
{
	char path[64];

	if (gs_swap.id < 0)
		return;
	if (gs_swap.state == 1 && swapoff(gs_swap.dev))
		ksft_print_msg("swapoff %s: %s\n", gs_swap.dev, strerror(errno));
	gs_zram_attr("reset", path, sizeof(path));
	if (gs_write_str(path, "1"))
		ksft_print_msg("reset zram%d: %s\n", gs_swap.id, strerror(errno));
	if (gs_write_long("/sys/class/zram-control/hot_remove", gs_swap.id))
		ksft_print_msg("hot_remove zram%d: %s\n", gs_swap.id,
			       strerror(errno));
	gs_swap.id = -1;
	gs_env_set_zram(-1);
	if (gs_swap.state == 1)
		gs_swap.state = 0;
}

bool gs_swap_ready(char *why, size_t len)
{
	if (!gs_swap.state) {
		if (!gs_env_lock()) {
			snprintf(why, len, "another gup_stall run holds its settings lock");
			return false;
		}
		gs_swap_setup();
		gs_env_unlock();
	}
	if (gs_swap.state < 0)
		snprintf(why, len, "%s", gs_swap.why);
	return gs_swap.state > 0;
}

/*
 * Huge pages: raise nr_hugepages when too few are free, by an increment
 * of the run's own, recorded and given back as that increment (other
 * runs may have raised it too, or lowered it, meanwhile).
 */

static struct {
	long added;		/* huge pages this run added */
	char dir[96];
} gs_huge;

static void gs_huge_path(const char *attr, char *path, size_t len)
{
	snprintf(path, len, "%s/%s", gs_huge.dir, attr);
}

/* Under the settings lock: make npages free huge pages available. */
static bool gs_hugetlb_raise(int npages, char *why, size_t len)
{
	char path[160];
	long free_pages, nr, now, want;

	gs_huge_path("free_hugepages", path, sizeof(path));
	if (gs_read_long(path, &free_pages)) {
		snprintf(why, len, "cannot read %s", path);
		return false;
	}
	want = npages - free_pages;
	/* free pages may be another live run's: have npages of our own */
	if (gs_env_others() && npages - gs_huge.added > want)
		want = npages - gs_huge.added;
	if (want <= 0)
		return true;
	gs_huge_path("nr_hugepages", path, sizeof(path));
	if (gs_read_long(path, &nr) || gs_write_long(path, nr + want) ||
	    gs_read_long(path, &now)) {
		snprintf(why, len, "need %d free huge pages, have %ld; raising %s failed: %s",
			 npages, free_pages, path, strerror(errno));
		return false;
	}
	if (now > nr) {
		gs_huge.added += now - nr;
		gs_env_set_huge(gs_huge_page_size() >> 10, gs_huge.added);
	}
	gs_huge_path("free_hugepages", path, sizeof(path));
	if (gs_read_long(path, &free_pages) || free_pages < npages) {
		snprintf(why, len,
			 "need %d free huge pages, only %ld after raising nr_hugepages to %ld (no memory for huge pages)",
			 npages, free_pages, now);
		return false;
	}
	return true;
}

bool gs_hugetlb_ready(int npages, char *why, size_t len)
{
	bool ok;

	if (!gs_huge_page_size()) {
		snprintf(why, len, "no Hugepagesize in /proc/meminfo: CONFIG_HUGETLBFS is off");
		return false;
	}
	snprintf(gs_huge.dir, sizeof(gs_huge.dir),
		 "/sys/kernel/mm/hugepages/hugepages-%zukB",
		 gs_huge_page_size() >> 10);
	if (!gs_env_lock()) {
		snprintf(why, len, "another gup_stall run holds its settings lock");
		return false;
	}
	ok = gs_hugetlb_raise(npages, why, len);
	gs_env_unlock();
	return ok;
}

/* free_hugepages of the default size now, or -1 when unreadable */
static long gs_huge_free(void)
{
	char path[160];
	long v;

	snprintf(path, sizeof(path),
		 "/sys/kernel/mm/hugepages/hugepages-%zukB/free_hugepages",
		 gs_huge_page_size() >> 10);
	return gs_read_long(path, &v) ? -1 : v;
}

static void gs_hugetlb_restore(void)
{
	long gone;

	if (gs_huge.added <= 0)
		return;
	gone = gs_env_huge_put(gs_huge_page_size() >> 10, gs_huge.added);
	if (gone != gs_huge.added)
		ksft_print_msg("gave back %ld of the %ld huge pages this run added\n",
			       gone, gs_huge.added);
	gs_huge.added = 0;
	gs_env_set_huge(gs_huge_page_size() >> 10, 0);
}

bool gs_thp_ready(char *why, size_t len)
{
	char buf[128] = "";
	FILE *f;

	f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (!f) {
		snprintf(why, len, "%s",
			 "no /sys/kernel/mm/transparent_hugepage: CONFIG_TRANSPARENT_HUGEPAGE is off (never on with PREEMPT_RT)");
		return false;
	}
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	if (strstr(buf, "[never]")) {
		snprintf(why, len, "%s",
			 "transparent huge pages off: /sys/kernel/mm/transparent_hugepage/enabled is [never]");
		return false;
	}
	return true;
}

#ifndef LOCAL_CONFIG_HAVE_LIBNUMA
/* libnuma's two calls used here are thin system call wrappers. */
static long move_pages(int pid, unsigned long count, void **pages,
		       const int *nodes, int *status, int flags)
{
	return syscall(__NR_move_pages, pid, count, pages, nodes, status,
		       flags);
}

static long mbind(void *addr, unsigned long len, int mode,
		  const unsigned long *nodemask, unsigned long maxnode,
		  unsigned int flags)
{
	return syscall(__NR_mbind, addr, len, mode, nodemask, maxnode, flags);
}
#endif

/* NUMA nodes: which ones have memory, and where a page is */

#define GS_NODE_LIST	"/sys/devices/system/node/has_memory"
#define GS_MAX_NODES	64
/* not a node, not an errno: a move_pages() status left unset */
#define GS_UNSET	(-4095)

/*
 * The nodes with memory as a bit mask, from the kernel's list ("0",
 * "0-1", "0,2-3"); list[] keeps the text for the skip reason.
 */
static unsigned long long gs_numa_mask(char *list, size_t len)
{
	unsigned long long mask = 0;
	char *p, *end;
	FILE *f;

	snprintf(list, len, "no %s", GS_NODE_LIST);
	f = fopen(GS_NODE_LIST, "r");
	if (!f)
		return 0;
	if (!fgets(list, len, f))
		list[0] = 0;
	fclose(f);
	list[strcspn(list, "\n")] = 0;
	for (p = list; *p; p = end + (*end == ',')) {
		long lo = strtol(p, &end, 10), hi = lo;

		if (end == p)
			break;
		if (*end == '-')
			hi = strtol(end + 1, &end, 10);
		for (; lo <= hi && lo < GS_MAX_NODES; lo++)
			mask |= 1ULL << lo;
	}
	return mask;
}

/* Migration between nodes needs two of them with memory. */
bool gs_numa_ready(char *why, size_t len)
{
	char list[128];

	if (__builtin_popcountll(gs_numa_mask(list, sizeof(list))) >= 2)
		return true;
	if (access(GS_NODE_LIST, F_OK)) {
		snprintf(why, len, "no %s: CONFIG_NUMA is off", GS_NODE_LIST);
		return false;
	}
	snprintf(why, len, "one NUMA node (has_memory: %s), migration needs two",
		 list);
	return false;
}

/* A node with memory other than node. */
int gs_numa_other(int node)
{
	char list[128];
	unsigned long long mask = gs_numa_mask(list, sizeof(list)) &
				  ~(1ULL << node);

	if (!mask)
		gs_fail("no NUMA node with memory besides node %d (%s)", node,
			list);
	return __builtin_ctzll(mask);
}

/*
 * Where the page at addr is: its node, or a negative errno from
 * move_pages() (-ENOENT when no page is mapped there).
 */
int gs_page_node(const void *addr)
{
	void *page = (void *)addr;
	int status = -1;

	if (move_pages(0, 1, &page, NULL, &status, 0))
		gs_fail("move_pages query of %p: %s", addr, strerror(errno));
	return status;
}

/*
 * move_pages() pages [first, first + n) of the region to node, status
 * per page into status[]. Returns what move_pages() returned: 0, the
 * number of pages it could not move, or -1 with errno.
 */
long gs_move_pages(const struct gs_region *r, int first, int n, int node,
		   int *status)
{
	void *pages[GS_MAX_PAGES];
	int nodes[GS_MAX_PAGES];
	int i;

	if (n > GS_MAX_PAGES)
		gs_fail("moving %d pages, at most %d", n, GS_MAX_PAGES);
	for (i = 0; i < n; i++) {
		pages[i] = r->addr + (first + i) * r->psize;
		nodes[i] = node;
		status[i] = GS_UNSET;
	}
	return move_pages(0, n, pages, nodes, status, MPOL_MF_MOVE);
}

/* Note move_pages() statuses of pages first...: "0:n1 1:ENOENT". */
void gs_note_status(const char *what, int first, const int *status, int n)
{
	char buf[256];
	size_t used = 0;
	int i;

	buf[0] = 0;
	for (i = 0; i < n && used < sizeof(buf); i++) {
		if (status[i] >= 0)
			used += snprintf(buf + used, sizeof(buf) - used,
					 " %d:n%d", first + i, status[i]);
		else if (status[i] == GS_UNSET)
			used += snprintf(buf + used, sizeof(buf) - used,
					 " %d:unset", first + i);
		else
			used += snprintf(buf + used, sizeof(buf) - used,
					 " %d:%s", first + i,
					 strerrorname_np(-status[i]) ?: "?");
	}
	gs_note("%s%s", what, buf);
}

static void *gs_page(const struct gs_region *r, int page)
{
	return r->addr + page * r->psize;
}

/* Check one page after gs_migrate(); returns true when it was not moved. */
static bool gs_migrated_page(const struct gs_region *r, int page, int before,
			     int status, int dst, bool busy)
{
	int now = gs_page_node(gs_page(r, page));

	if (before < 0) {
		if (now != before || (status != before && status != GS_UNSET))
			gs_fail("page %d, not present (%s), got status %d and is now %d",
				page, strerrorname_np(-before), status, now);
		return status == GS_UNSET;
	}
	if (busy && now != before)
		gs_fail("page %d, pinned by the caller, moved from node %d to %d",
			page, before, now);
	if (status == GS_UNSET) {
		if (now != before)
			gs_fail("page %d moved to node %d without a status",
				page, now);
		return true;
	}
	/* a pinned page already on dst reports dst: it need not move */
	if (busy) {
		if (status != -EBUSY && status != before)
			gs_fail("page %d, pinned by the caller on node %d, got status %d",
				page, before, status);
		return false;
	}
	/* a sibling page of the same folio may have taken it along */
	if (status == -EBUSY && now == dst) {
		gs_note("page %d: EBUSY, moved with its folio", page);
		return false;
	}
	if (status != dst || now != dst)
		gs_fail("page %d: move_pages status %d, now on node %d, want node %d",
			page, status, now, dst);
	return false;
}

/*
 * Move pages [first, first + n) to node dst while (or before) a GUP
 * caller uses them, and check page by page what move_pages() did:
 * - a page not present is reported -ENOENT and stays absent;
 * - a page in busy is pinned by the caller: its refcount is not the
 *   one migration expects, so it must stay where it is (-EBUSY, or no
 *   status, below); a pinned page that moved would leave the caller
 *   with a stale page, and its writes would be lost;
 * - every other page moves to dst.
 * move_pages() stops at the first batch that fails: the return value
 * counts the pages it did not move, and their statuses stay unset.
 * Returns that count.
 */
long gs_migrate(const struct gs_region *r, int first, int n, int dst,
		unsigned long long busy)
{
	int before[GS_MAX_PAGES], status[GS_MAX_PAGES];
	int i, unmoved = 0;
	long ret;

	for (i = 0; i < n; i++)
		before[i] = gs_page_node(gs_page(r, first + i));
	gs_phase("moving pages %d-%d to node %d", first, first + n - 1, dst);
	ret = gs_move_pages(r, first, n, dst, status);
	if (ret < 0)
		gs_fail("move_pages to node %d: %s", dst, strerror(errno));
	gs_note_status(ret ? "move_pages not all moved," : "move_pages",
		       first, status, n);
	for (i = 0; i < n; i++)
		unmoved += gs_migrated_page(r, first + i, before[i], status[i],
					    dst, busy & (1ULL << (first + i)));
	if (ret != unmoved)
		gs_fail("move_pages returned %ld, but %d pages have no status",
			ret, unmoved);
	return ret;
}

/*
 * Bind the region's whole mapping to node with MPOL_MF_MOVE: present
 * pages that can move do, pages faulted later are allocated there. The
 * whole mapping, so that a THP range stays one VMA (MADV_COLLAPSE, the
 * pin detector, needs that).
 */
void gs_mbind(const struct gs_region *r, int node)
{
	unsigned long mask = 1UL << node;

	gs_phase("mbind to node %d", node);
	if (mbind(r->map, r->map_len, MPOL_BIND, &mask, sizeof(mask) * 8,
		  MPOL_MF_MOVE))
		gs_fail("mbind MPOL_BIND node %d, MPOL_MF_MOVE: %s", node,
			strerror(errno));
}

/* Pages [first, first + n) are present on node. */
void gs_check_node(const struct gs_region *r, int first, int n, int node,
		   const char *what)
{
	int i;

	if (gs_inject == GS_INJECT_NODE)
		node = gs_numa_other(node);
	for (i = first; i < first + n; i++) {
		int now = gs_page_node(gs_page(r, i));

		if (now < 0)
			gs_fail("%s: page %d not present (%s), want it on node %d",
				what, i, strerrorname_np(-now) ?: "?", node);
		if (now != node)
			gs_fail("NUMA node: %s: page %d is on node %d, want node %d", what,
				i, now, node);
	}
}

void gs_restore_all(void)
{
	bool locked = gs_env_lock();

	/* without the lock, still give back: a stuck run must not keep them */
	gs_swap_teardown();
	gs_hugetlb_restore();
	if (locked)
		gs_env_unlock();
}
