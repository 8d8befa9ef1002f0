// SPDX-License-Identifier: GPL-2.0
/*
 * gup_stall NUMA placement: which nodes have memory, where a page is,
 * and moving pages between nodes with move_pages() and mbind().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

#include "../kselftest.h"
#include "gup_stall.h"

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
