// SPDX-License-Identifier: GPL-2.0
/*
 * gup_stall machine settings made on demand: a zram swap device of the
 * library's own, huge page reservations, THP; every one is given back by
 * its restore function, which the runner's table of needs names (and by
 * the next run after a SIGKILL, gup_stall_env.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/swap.h>

#include "../kselftest.h"
#include "gup_stall.h"

#define GS_SWAP_SIZE	(256UL << 20)

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
	gs_swap_restore();
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

void gs_swap_restore(void)
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
long gs_huge_free(void)
{
	char path[160];
	long v;

	snprintf(path, sizeof(path),
		 "/sys/kernel/mm/hugepages/hugepages-%zukB/free_hugepages",
		 gs_huge_page_size() >> 10);
	return gs_read_long(path, &v) ? -1 : v;
}

void gs_hugetlb_restore(void)
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
