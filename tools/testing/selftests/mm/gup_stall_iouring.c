// SPDX-License-Identifier: GPL-2.0
/*
 * gup_stall_iouring: io_uring buffer registration, which pins user memory
 * long-term (FOLL_LONGTERM), on memory that is stalled by userfaultfd,
 * swapped out or changed while the registering thread waits.
 *
 * Registration pins with the caller's mmap_lock droppable: a fault that
 * waits for userfaultfd must not block writers of the mm, and the address
 * space may change before the pinning goes on. The outcome must then be
 * either a registration whose pins are the pages the process sees, or a
 * clean error with every partial pin dropped; never a hang, never a leak.
 * Kernels that pin under mmap_read_lock (the matrix lists them, key
 * iouring-register-pin) fail such a registration at once with EFAULT
 * instead: each kernel gets the one outcome it has.
 *
 * The registering caller is a thread of the cell process, because pinning
 * works on the caller's own mm. A leaked pin is found with MADV_COLLAPSE:
 * it fails with EAGAIN while a subpage of the 2M range is pinned.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <linux/capability.h>

#include "../kselftest.h"
/* the tree's check_config.sh (or our Makefile) says if liburing is here */
#if __has_include("local_config.h")
#include "local_config.h"
#endif
#include "gup_stall.h"

#ifndef LOCAL_CONFIG_HAVE_LIBURING

int main(int argc, char **argv)
{
	ksft_print_header();
	ksft_exit_skip("liburing not available at build time\n");
}

#else

#include <liburing.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT	21
#endif

enum caller { REGISTER, REGISTER2, UPDATE, NR_CALLERS };

static const struct gs_caller callers[] = {
	[REGISTER] = { "io_uring-register", GS_SEM_ALL_OR_EFAULT },
	[REGISTER2] = { "io_uring-register2", GS_SEM_ALL_OR_EFAULT },
	[UPDATE] = { "io_uring-update", GS_SEM_ALL_OR_EFAULT },
};

#define HELD		GS_HELD
#define SEED_MEM	0x31	/* what the memory holds before I/O */
#define SEED_IO		0x32	/* what READ_FIXED puts into the buffer */
#define ROUNDS		3	/* registrations in a repeat cell */
#define TAG		0x7a6	/* the tag of a registered buffer */
#define IO_DATA		0x10	/* user_data of fixed-buffer I/O */

/* One registration, made by a thread of the cell process. */
struct reg {
	struct gs_job job;	/* the registering thread */
	struct io_uring *ring;
	int caller;
	struct iovec iov;
	int ret;
	bool stalled;		/* it reached the held page */
};

/* The machine's pin balance when the cell set up its first ring. */
static long long pins0;
static bool pins_known;

/* kernel.io_uring_disabled as text, for a skip reason. */
static const char *uring_disabled_sysctl(void)
{
	static const char sysctl[] = "/proc/sys/kernel/io_uring_disabled";
	static char v[32];
	FILE *f = fopen(sysctl, "r");

	snprintf(v, sizeof(v), "absent");
	if (f) {
		if (fgets(v, sizeof(v), f))
			v[strcspn(v, "\n")] = 0;
		fclose(f);
	}
	return v;
}

static void ring_init(struct io_uring *ring)
{
	int ret = io_uring_queue_init(8, ring, 0);

	if (!pins_known)
		pins_known = gs_pin_balance(&pins0);

	/*
	 * No io_uring_setup() in the kernel, io_uring_disabled set, or no
	 * memory for a ring: the premise of every cell is missing.
	 */
	if (ret == -EPERM)
		gs_skip("io_uring_setup: EPERM: kernel.io_uring_disabled is %s",
			uring_disabled_sysctl());
	if (ret)
		gs_skip("io_uring_setup: %s (CONFIG_IO_URING, kernel.io_uring_disabled is %s)",
			strerrorname_np(-ret), uring_disabled_sysctl());
}

/* Prepare the ring for a caller: the update caller needs empty slots. */
static void ring_prepare(struct io_uring *ring, int caller)
{
	int ret;

	if (caller != UPDATE)
		return;
	ret = io_uring_register_buffers_sparse(ring, 2);
	if (ret == -EINVAL)
		gs_skip("no sparse buffer tables (IORING_REGISTER_BUFFERS2)");
	if (ret)
		gs_fail("io_uring_register_buffers_sparse: %s", strerror(-ret));
}

static int do_register(struct io_uring *ring, int caller,
		       const struct iovec *iov)
{
	__u64 tag = TAG;
	int ret;

	switch (caller) {
	case REGISTER:
		return io_uring_register_buffers(ring, iov, 1);
	case REGISTER2:
		return io_uring_register_buffers_tags(ring, iov, &tag, 1);
	default:
		ret = io_uring_register_buffers_update_tag(ring, 0, iov, &tag,
							   1);
		/* the update call returns how many slots it updated */
		return ret == 1 ? 0 : ret;
	}
}

static int do_unregister(struct io_uring *ring, int caller)
{
	struct iovec none = { NULL, 0 };
	__u64 tag = 0;
	int ret;

	if (caller != UPDATE)
		return io_uring_unregister_buffers(ring);
	/* an empty iovec clears the slot and drops its pins */
	ret = io_uring_register_buffers_update_tag(ring, 0, &none, &tag, 1);
	return ret == 1 ? 0 : ret;
}

static void do_reg(struct gs_job *j)
{
	struct reg *k = j->ctx;

	k->ret = do_register(k->ring, k->caller, &k->iov);
}

static void reg_start(struct reg *k, struct io_uring *ring, int caller,
		      void *addr, size_t len)
{
	memset(k, 0, sizeof(*k));
	k->ring = ring;
	k->caller = caller;
	k->iov.iov_base = addr;
	k->iov.iov_len = len;
	gs_job_start(&k->job, do_reg, k, 0);
}

static bool reg_done(struct reg *k)
{
	return gs_job_done(&k->job);
}

/* Wait (bounded) for the registering thread; it must not hang. */
static void reg_wait(struct reg *k, const char *when)
{
	gs_phase("waiting for %s to return %s", callers[k->caller].name, when);
	if (!gs_job_wait(&k->job, GS_WAIT_MS))
		gs_fail("%s still blocked %d ms %s", callers[k->caller].name,
			GS_WAIT_MS, when);
	/*
	 * An unknown register opcode is EINVAL; the arguments are valid.
	 * A kernel without the opcode never faults: after a stall, EINVAL
	 * is a failure, not a missing feature.
	 */
	if (k->ret == -EINVAL && k->caller == REGISTER2 && k->stalled)
		gs_fail("%s returned EINVAL after it stalled on the buffer",
			callers[k->caller].name);
	if (k->ret == -EINVAL && k->caller == REGISTER2)
		gs_skip("no IORING_REGISTER_BUFFERS2 in this kernel (EINVAL)");
}

/* Expect the registration to have failed cleanly with EFAULT. */
static void reg_check_efault(struct reg *k)
{
	gs_check_err(callers[k->caller].name, k->ret < 0 ? -1 : k->ret,
		     -k->ret, EFAULT);
}

/* Run one fixed-buffer read or write of the whole buffer, bounded. */
static void fixed_io(struct io_uring *ring, bool write, int fd, void *buf,
		     size_t len)
{
	struct __kernel_timespec ts = { .tv_sec = GS_WAIT_MS / 1000 };
	const char *what = write ? "WRITE_FIXED" : "READ_FIXED";
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	int ret;

	sqe = io_uring_get_sqe(ring);
	if (!sqe)
		gs_fail("no free sqe");
	if (write)
		io_uring_prep_write_fixed(sqe, fd, buf, len, 0, 0);
	else
		io_uring_prep_read_fixed(sqe, fd, buf, len, 0, 0);
	io_uring_sqe_set_data64(sqe, IO_DATA);
	ret = io_uring_submit(ring);
	if (ret != 1)
		gs_fail("io_uring_submit of %s: %d", what, ret);
	gs_phase("waiting for the completion of %s", what);
	ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
	if (ret)
		gs_fail("%s did not complete: %s", what, strerror(-ret));
	if (cqe->user_data != IO_DATA)
		gs_fail("completion with user_data %#llx, want that of %s",
			(unsigned long long)cqe->user_data, what);
	ret = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	if (ret < 0)
		gs_fail("%s of %zu bytes failed: %s", what, len, strerror(-ret));
	gs_check_ret(what, ret, len);
}

/*
 * The registered buffer must be the memory the process sees: the kernel
 * writes out what the mapping holds (seed), and what the kernel reads
 * into the buffer appears in the mapping.
 */
static void check_fixed_io(struct io_uring *ring, struct gs_region *r,
			   __u64 seed)
{
	int fd = memfd_create("iouring-scratch", MFD_CLOEXEC);
	char *file;

	if (fd < 0 || ftruncate(fd, r->len))
		gs_fail("scratch memfd: %s", strerror(errno));
	file = mmap(NULL, r->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (file == MAP_FAILED)
		gs_fail("mmap scratch: %s", strerror(errno));
	fixed_io(ring, true, fd, r->addr, r->len);
	gs_check_data("what WRITE_FIXED wrote from the buffer", file, r->len,
		      seed, 0);
	gs_fill(file, r->len, SEED_IO, 0);
	fixed_io(ring, false, fd, r->addr, r->len);
	gs_check_data("the mapping after READ_FIXED into the buffer",
		      r->addr, r->len, SEED_IO, 0);
	munmap(file, r->len);
	close(fd);
}

/* The pin detector (gup_stall_collapse.c) sees small pages in a THP range. */
static bool pin_detectable(const struct gs_cell *c)
{
	return gs_collapse_applies(c->b, c->stall != GS_STALL_NONE ||
				   c->disturb == GS_D_PAGEOUT);
}

static bool detector_works(const struct gs_cell *c)
{
	return gs_collapse_works(c->b, c->npages);
}

static void check_pinned(const struct gs_cell *c, struct gs_region *r)
{
	if (pin_detectable(c) && detector_works(c))
		gs_check_collapse_pinned(r);
}

static void check_unpinned(const struct gs_cell *c, struct gs_region *r)
{
	static bool noted;

	/* every backing: the kernel's own count of pins taken and dropped */
	if (pins_known)
		gs_check_pins(pins0, "after the buffer was released");
	if (pins_known && !noted)
		gs_note("pin balance back (nr_foll_pin_*)");
	/* and where THP can show it, that the pins were on these pages */
	if (!pin_detectable(c)) {
		if (!noted && !pins_known)
			gs_note("pin detector n/a");
		noted = true;
		return;
	}
	if (!detector_works(c))
		return;
	gs_check_collapse_unpinned(r, 0);
	if (!noted)
		gs_note("MADV_COLLAPSE 0");
	noted = true;
}

/* The negative control: pin the buffer on a ring that outlives the check. */
static void inject_pin(struct gs_region *r, size_t len)
{
	static struct io_uring keep;
	struct iovec iov = { r->addr, len };

	if (gs_inject != GS_INJECT_PIN)
		return;
	ring_init(&keep);
	if (io_uring_register_buffers(&keep, &iov, 1))
		gs_fail("negative control could not pin the buffer");
}

/*
 * A tagged buffer (IORING_REGISTER_BUFFERS2 and the update call) posts a
 * completion carrying its tag once the kernel has let go of it.
 */
static void wait_tag_cqe(struct io_uring *ring)
{
	struct __kernel_timespec ts = { .tv_sec = GS_WAIT_MS / 1000 };
	struct io_uring_cqe *cqe;
	__u64 data, want;
	int ret;

	gs_phase("waiting for the tag completion of the released buffer");
	ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
	/* the unpin check and later rounds still run (6.12 posts none) */
	if (ret) {
		gs_fail_later("tag CQE: no tag completion after unregistering: %s",
			      strerror(-ret));
		return;
	}
	data = cqe->user_data;
	io_uring_cqe_seen(ring, cqe);
	want = gs_inject == GS_INJECT_TAG ? TAG + 1 : TAG;
	if (data != want)
		gs_fail("tag CQE: user_data %#llx after unregistering, want the tag %#llx",
			(unsigned long long)data, (unsigned long long)want);
}

/* Unregister a buffer seen pinned before. */
static void release(const struct gs_cell *c, struct io_uring *ring,
		    struct gs_region *r)
{
	int ret;

	check_pinned(c, r);
	inject_pin(r, r->len);
	ret = do_unregister(ring, c->caller);
	if (ret)
		gs_fail("unregistering: %s", strerror(-ret));
	if (c->caller != REGISTER)
		wait_tag_cqe(ring);
}

/* Unregister; the pins must go with it. */
static void unregister(const struct gs_cell *c, struct io_uring *ring,
		       struct gs_region *r)
{
	release(c, ring, r);
	check_unpinned(c, r);
}

/*
 * Registration pins through pin_user_pages_fast(), whose slow path may
 * drop mmap_lock and so waits on the userfaultfd. Kernels the matrix
 * lists pin under mmap_read_lock instead, where handle_userfault() gets
 * no FAULT_FLAG_ALLOW_RETRY and the registration fails at once.
 */
static bool pin_unlockable(const char **why)
{
	return !strcmp(gs_expect("iouring-register-pin", "unlockable", why),
		       "unlockable");
}

/* The matrix's kernel: EFAULT at once, before any userfaultfd message. */
static void expect_efault_at_once(struct gs_staller *st, struct reg *k,
				  const char *why)
{
	struct timespec t0;

	gs_phase("waiting for the registration to fail at once");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!reg_done(k) && gs_ms_since(&t0) < GS_WAIT_MS)
		usleep(100);
	if (!reg_done(k) || gs_staller_total(st))
		gs_fail("%s, but it %s (%d messages; %s)",
			"registration under mmap_lock must fail at once with EFAULT and no userfaultfd message",
			reg_done(k) ? "returned" : "waits", gs_staller_total(st),
			why);
	reg_wait(k, "without a stall");
	reg_check_efault(k);
	gs_note("failed with EFAULT without waiting (kernel matrix: %s)",
		"iouring-register-pin under-mmap-lock");
}

/*
 * Wait until the registering thread is stalled on the held page; on the
 * kernels the matrix lists, see it fail at once instead. Returns true
 * when it stalled.
 */
static bool wait_stalled(struct gs_staller *st, struct reg *k)
{
	struct timespec t0;
	struct gs_msg msg;
	const char *why;

	if (!pin_unlockable(&why)) {
		expect_efault_at_once(st, k, why);
		return false;
	}
	gs_phase("waiting for the uffd message of page %d", HELD);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!gs_staller_count(st, HELD) && !reg_done(k)) {
		if (gs_ms_since(&t0) > GS_WAIT_MS)
			gs_fail("neither a uffd message for page %d nor a return within %d ms",
				HELD, GS_WAIT_MS);
		usleep(100);
	}
	if (!gs_staller_count(st, HELD))
		gs_fail("registration returned %ld before a userfaultfd message for page %d: %s",
			reg_done(k) ? k->ret : 0L, HELD,
			"pin_user_pages_fast() must wait on it, mmap_lock dropped");
	gs_staller_wait_held(st, HELD, &msg);
	if (msg.ptid != (__u32)k->job.tid)
		gs_fail("fault came from task %u, not from the registering thread %d",
			msg.ptid, k->job.tid);
	k->stalled = true;
	gs_wait_state(k->job.tid, "D", callers[k->caller].name);
	return true;
}

/*
 * NUMA. Registration pins page by page, so page 0 is pinned while the
 * registration waits for page HELD (the flow's gs_disturb_memory() with
 * .pins); once registered, every page is. FOLL_LONGTERM moves pages out
 * of ZONE_MOVABLE and CMA only, never to another node: pinned pages stay
 * where they are, and move_pages() must fail on them until they are
 * unregistered.
 */

/* Registered: nothing moves; where mbind placed later faults, they are. */
static void check_registered_numa(const struct gs_cell *c, struct gs_region *r,
				  int dst)
{
	unsigned long long all = GS_BIT(r->npages) - 1;

	if (c->disturb == GS_D_MBIND)
		gs_check_node(r, HELD, r->npages - HELD, dst,
			      "pages faulted in after mbind");
	gs_migrate(r, 0, r->npages, dst, all);
}

/*
 * Unregistered: every page moves, and keeps what the fixed I/O wrote.
 * The data is checked first: that maps the pages again where the pin
 * detector's collapse unmapped them.
 */
static void check_unregistered_numa(struct gs_region *r, int dst)
{
	gs_check_data("the mapping after unregistering", r->addr, r->len,
		      SEED_IO, 0);
	gs_migrate(r, 0, r->npages, dst, 0);
	gs_check_data("the mapping after its migration", r->addr, r->len,
		      SEED_IO, 0);
}

static bool numa_cell(const struct gs_cell *c)
{
	return c->disturb == GS_D_MIGRATE || c->disturb == GS_D_MBIND;
}

/*
 * Give a THP range its single VMA back after the disturbance split it,
 * keeping the pages before the disturbed ones: those are the pages a
 * failed registration pinned and had to unpin.
 */
static void rebuild_thp(const struct gs_cell *c, struct gs_region *r)
{
	int first = c->disturb == GS_D_MUNMAP_STALLED ||
		    c->disturb == GS_D_MREMAP_STALLED ||
		    c->disturb == GS_D_MPROTECT_STALLED ? HELD : HELD + 1;
	char *start = r->addr + first * r->psize;
	size_t len = r->map + r->map_len - start;

	if (!r->b->thp || !pin_detectable(c))
		return;
	if (mmap(start, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		gs_fail("mmap over the disturbed part: %s", strerror(errno));
	if (madvise(r->map, r->map_len, MADV_HUGEPAGE))
		gs_fail("MADV_HUGEPAGE: %s", strerror(errno));
}

/* The hooks of the stalled-cell flow (gup_stall_flow.c) */

struct stalled_reg {
	struct io_uring ring;
	struct reg k;
};

/* WP on THP: small pages, so that the pin detector can collapse them. */
static void prepare_reg(struct gs_stalled *s)
{
	struct stalled_reg *sr = calloc(1, sizeof(*sr));

	if (!sr)
		gs_fail("out of memory");
	s->call = sr;
	if (s->c->stall == GS_STALL_WP && s->c->b->thp)
		gs_fill_small(&s->r, SEED_MEM);
	else if (s->c->stall == GS_STALL_WP)
		gs_fill(s->r.addr, s->r.len, SEED_MEM, 0);
	ring_init(&sr->ring);
	ring_prepare(&sr->ring, s->c->caller);
}

static void start_reg(struct gs_stalled *s)
{
	struct stalled_reg *sr = s->call;

	reg_start(&sr->k, &sr->ring, s->c->caller, s->r.addr, s->r.len);
	s->tid = sr->k.job.tid;
}

static bool reg_stalls(struct gs_stalled *s)
{
	struct stalled_reg *sr = s->call;

	return wait_stalled(s->st, &sr->k);
}

static void finish_reg(struct gs_stalled *s)
{
	struct stalled_reg *sr = s->call;

	reg_wait(&sr->k, "after the release");
	if (s->want.err) {
		reg_check_efault(&sr->k);
		return;
	}
	gs_check_ret(callers[s->c->caller].name, sr->k.ret, 0);
	gs_note("blocked, then registered");
}

/* The uffd is gone: it kept MADV_COLLAPSE away from empty entries. */
static void after_reg(struct gs_stalled *s)
{
	const struct gs_cell *c = s->c;
	struct stalled_reg *sr = s->call;

	if (!sr->k.ret) {
		check_fixed_io(&sr->ring, &s->r, SEED_MEM);
		if (numa_cell(c))
			check_registered_numa(c, &s->r, s->node_dst);
		unregister(c, &sr->ring, &s->r);
		if (numa_cell(c))
			check_unregistered_numa(&s->r, s->node_dst);
	} else {
		rebuild_thp(c, &s->r);
		/* as if the failed registration kept what it had pinned */
		inject_pin(&s->r, HELD * s->r.psize);
		check_unpinned(c, &s->r);
	}
	io_uring_queue_exit(&sr->ring);
}

static bool reg_writes(const struct gs_cell *c)
{
	return true;
}

static const struct gs_flow iouring_flow = {
	.seed = SEED_MEM,
	.callers = callers,
	.pins = true,
	.prepare = prepare_reg,
	.start = start_reg,
	.stalls = reg_stalls,
	.finish = finish_reg,
	.after = after_reg,
	.writes = reg_writes,
};

/*
 * Registration of a region stalled by userfaultfd and resolved late,
 * with the address space changed during the stall or not.
 */
static void run_stall(const struct gs_cell *c)
{
	gs_stalled_cell(c, &iouring_flow);
}

/*
 * Make the region's memory hold the pattern, without any stall; in small
 * pages where the pin detector will look, else as the backing gives it.
 */
static void fill_region(const struct gs_cell *c, struct gs_region *r)
{
	if (r->b->kind == GS_EXT4)
		gs_region_fill_cache(r, SEED_MEM);
	else if (r->b->thp && pin_detectable(c))
		gs_fill_small(r, SEED_MEM);
	else
		gs_fill(r->addr, r->len, SEED_MEM, 0);
}

/* Registration of ordinary or swapped-out memory. */
static void run_plain(const struct gs_cell *c)
{
	struct io_uring ring;
	struct gs_region r;
	int ret;

	gs_region_map(&r, c->b, c->npages);
	fill_region(c, &r);
	if (c->stall == GS_STALL_SWAPIN)
		gs_region_pageout(&r);
	ring_init(&ring);
	ring_prepare(&ring, c->caller);
	gs_phase("registering %s", c->b->name);
	ret = do_register(&ring, c->caller, &(struct iovec){ r.addr, r.len });
	if (c->stall == GS_STALL_SWAPIN &&
	    gs_pagemap_swapped(r.addr, r.npages, r.psize))
		gs_fail("registered pages are still swapped out");
	gs_check_ret(callers[c->caller].name, ret, 0);
	check_fixed_io(&ring, &r, SEED_MEM);
	unregister(c, &ring, &r);
	io_uring_queue_exit(&ring);
	gs_region_unmap(&r);
}

/*
 * Registration of pages on another node than the caller's (moved there
 * before), or moved after: long-term pins hold pages where they are.
 */
static void run_numa(const struct gs_cell *c)
{
	unsigned long long all = GS_BIT(c->npages) - 1;
	struct io_uring ring;
	struct gs_region r;
	int ret, src, dst;

	gs_region_map(&r, c->b, c->npages);
	fill_region(c, &r);
	src = gs_page_node(r.addr);
	dst = gs_numa_other(src);
	if (c->disturb == GS_D_MIGRATE_BEFORE) {
		gs_migrate(&r, 0, r.npages, dst, 0);
		src = dst;
		dst = gs_numa_other(src);
	}
	ring_init(&ring);
	gs_phase("registering %s", c->b->name);
	ret = do_register(&ring, c->caller, &(struct iovec){ r.addr, r.len });
	gs_check_ret(callers[c->caller].name, ret, 0);
	gs_check_node(&r, 0, r.npages, src, "registered pages");
	gs_migrate(&r, 0, r.npages, dst, all);
	check_fixed_io(&ring, &r, SEED_MEM);
	unregister(c, &ring, &r);
	check_unregistered_numa(&r, dst);
	io_uring_queue_exit(&ring);
	gs_region_unmap(&r);
}

/* Pages of the region not resident: pagemap for anon, mincore otherwise. */
static int nonresident(struct gs_region *r)
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

/* Pinned pages stay resident under MADV_PAGEOUT, and swap after. */
static void run_pageout(const struct gs_cell *c)
{
	struct io_uring ring;
	struct gs_region r;
	int ret, n;

	gs_region_map(&r, c->b, c->npages);
	fill_region(c, &r);
	ring_init(&ring);
	ret = do_register(&ring, c->caller, &(struct iovec){ r.addr, r.len });
	gs_check_ret(callers[c->caller].name, ret, 0);
	if (madvise(r.addr, r.len, MADV_PAGEOUT))
		gs_fail("MADV_PAGEOUT: %s", strerror(errno));
	n = nonresident(&r);
	if (n)
		gs_fail("%d of %d pinned pages paged out", n, r.npages);
	check_fixed_io(&ring, &r, SEED_MEM);
	release(c, &ring, &r);
	/*
	 * A THP range is checked for pins before it is paged out (some
	 * kernels will not collapse over swap entries); a shmem file after
	 * (a collapse makes its pages one huge folio that paging out a part
	 * of it cannot reclaim).
	 */
	if (c->b->thp)
		check_unpinned(c, &r);
	/* unpinned, they can go: fails the cell if they do not */
	gs_region_pageout(&r);
	gs_check_data("the mapping after swap-in", r.addr, r.len, SEED_IO, 0);
	if (!c->b->thp)
		check_unpinned(c, &r);
	io_uring_queue_exit(&ring);
	gs_region_unmap(&r);
}

/* Memories that may not be pinned writable long-term. */
enum forbidden { F_EXT4_SHARED, F_EXT4_SHARED_RO, F_READONLY, F_PROTNONE,
		 F_SECRET };
static const char * const forbidden_names[] = {
	[F_EXT4_SHARED] = "ext4-shared",
	[F_EXT4_SHARED_RO] = "ext4-shared-readonly",
	[F_READONLY] = "anon-readonly",
	[F_PROTNONE] = "anon-protnone",
	[F_SECRET] = "memfd-secret",
};

static int forbidden_kind(const struct gs_cell *c)
{
	const char *name = c->b ? c->b->name : c->target;
	int i;

	for (i = 0; i < (int)ARRAY_SIZE(forbidden_names); i++)
		if (!strcmp(forbidden_names[i], name))
			return i;
	gs_fail("no forbidden memory named %s", name);
	return 0;
}

static void *map_secret(size_t len)
{
	int fd = syscall(__NR_memfd_secret, O_CLOEXEC);

	if (fd < 0)
		gs_skip("memfd_secret: %s (%s)", strerrorname_np(errno),
			"needs CONFIG_SECRETMEM and secretmem.enable=1 on the command line");
	if (ftruncate(fd, len))
		gs_fail("ftruncate memfd_secret: %s", strerror(errno));
	return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
}

/* Map the memory of a forbidden cell, holding the pattern where it can. */
static void map_forbidden(const struct gs_cell *c, int kind,
			  struct gs_region *r)
{
	size_t len = c->npages * getpagesize();

	switch (kind) {
	case F_EXT4_SHARED:
	case F_EXT4_SHARED_RO:
		gs_region_map(r, gs_find_backing("ext4-shared"), c->npages);
		gs_region_fill_cache(r, SEED_MEM);
		if (kind == F_EXT4_SHARED_RO &&
		    mprotect(r->addr, r->len, PROT_READ))
			gs_fail("mprotect: %s", strerror(errno));
		return;
	case F_SECRET:
		r->addr = map_secret(len);
		break;
	default:
		r->addr = mmap(NULL, len,
			       kind == F_PROTNONE ? PROT_NONE : PROT_READ,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	}
	if (r->addr == MAP_FAILED)
		gs_fail("mmap %s: %s", forbidden_names[kind], strerror(errno));
	r->len = len;
}

/*
 * Memory that may not be pinned writable long-term (file pages that
 * writeback must see written, no write permission, memory the kernel
 * must not touch): a clean EFAULT, never a pin.
 */
static void run_forbidden(const struct gs_cell *c)
{
	int kind = forbidden_kind(c);
	struct io_uring ring;
	struct gs_region r = { 0 };
	int ret;

	map_forbidden(c, kind, &r);
	ring_init(&ring);
	gs_phase("registering %s", forbidden_names[kind]);
	ret = do_register(&ring, c->caller, &(struct iovec){ r.addr, r.len });
	gs_check_err(callers[c->caller].name, ret < 0 ? -1 : ret, -ret,
		     EFAULT);
	io_uring_queue_exit(&ring);
}

/*
 * Register r stalled on page HELD, resolve the stall and wait for the
 * registration; NULL (staller gone) where this kernel fails at once.
 */
static struct gs_staller *stall_register(struct gs_region *r,
					 struct io_uring *ring, int caller,
					 __u64 seed, struct reg *k)
{
	struct gs_staller *st;

	st = gs_staller_start(r, GS_UFFD_MISSING, seed, GS_BIT(HELD));
	reg_start(k, ring, caller, r->addr, r->len);
	if (!wait_stalled(st, k)) {
		gs_staller_release_all(st);
		gs_staller_stop(st);
		return NULL;
	}
	gs_staller_release_all(st);
	reg_wait(k, "after the release");
	return st;
}

/* Register, unregister and register again, each time under a stall. */
static void run_repeat(const struct gs_cell *c)
{
	struct gs_staller *st;
	struct io_uring ring;
	struct gs_region r;
	struct reg k;
	int i;

	gs_region_map(&r, c->b, c->npages);
	ring_init(&ring);
	ring_prepare(&ring, c->caller);
	for (i = 0; i < ROUNDS; i++) {
		st = stall_register(&r, &ring, c->caller, SEED_MEM + i, &k);
		if (!st)
			return;
		gs_check_ret(callers[c->caller].name, k.ret, 0);
		gs_staller_check_msgs(st, 0, r.npages - 1, true);
		gs_staller_stop(st);
		check_fixed_io(&ring, &r, SEED_MEM + i);
		unregister(c, &ring, &r);
		/* empty the region so that the next round stalls again */
		if (r.fd >= 0 && fallocate(r.fd, FALLOC_FL_PUNCH_HOLE |
					   FALLOC_FL_KEEP_SIZE, 0, r.len))
			gs_fail("punching the file: %s", strerror(errno));
		if (madvise(r.map, r.map_len, MADV_DONTNEED))
			gs_fail("MADV_DONTNEED: %s", strerror(errno));
	}
	gs_note("%d rounds", ROUNDS);
	io_uring_queue_exit(&ring);
	gs_region_unmap(&r);
}

/*
 * Runs in a child with its own mm, to be killed: it owns region, staller
 * and ring, and tells the cell its memfd, if any.
 */
static void victim_fn(struct gs_child *ch)
{
	const struct gs_cell *c = ch->c;
	struct gs_staller *st;
	struct io_uring ring;
	struct gs_region r;
	struct reg k;

	gs_region_map(&r, c->b, c->npages);
	ring_init(&ring);
	st = gs_staller_start(&r, GS_UFFD_MISSING, SEED_MEM, GS_BIT(HELD));
	reg_start(&k, &ring, c->caller, r.addr, r.len);
	/* the matrix's immediate EFAULT is checked and reported there */
	if (!wait_stalled(st, &k))
		gs_pass();
	*(int *)ch->own = r.fd;
	gs_child_ready(ch, k.job.tid);
}

/*
 * The ring of a killed process is torn down by a kernel worker, which may
 * finish after the process is reaped: the pins must be gone within a bound.
 */
static void check_unpinned_after_kill(const struct gs_cell *c, int fd)
{
	struct gs_region r = { .b = c->b, .fd = fd };
	struct timespec t0;

	if (fd < 0) {
		gs_note("pin detector n/a: the memory died with the process");
		return;
	}
	if (!detector_works(c))
		return;
	gs_phase("waiting for the killed ring to drop its pins");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	gs_check_collapse_unpinned(&r, GS_REAP_MS);
	gs_note("no pin left %ld ms after the reap", gs_ms_since(&t0));
	close(r.fd);
}

/* SIGKILL of the process whose thread is stalled in registration. */
static void run_sigkill(const struct gs_cell *c)
{
	struct gs_child *ch = gs_child_start(c, victim_fn, sizeof(int));
	char path[64];
	int fd = -1;

	if (!gs_child_wait_ready(ch, GS_WAIT_MS, "the registration's stall"))
		return;
	if (c->b->kind == GS_MEMFD) {
		/* keep the victim's memfd, to look for its pins afterwards */
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", ch->pid,
			 *(int *)ch->own);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			gs_fail("open %s: %s", path, strerror(errno));
	}
	gs_note("reaped %ld ms after SIGKILL",
		gs_child_kill(ch, "registering process"));
	check_unpinned_after_kill(c, fd);
}

/* Clear CAP_IPC_LOCK from the effective set of the cell process. */
static void drop_ipc_lock(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &h, d))
		gs_fail("capget: %s", strerror(errno));
	d[CAP_TO_INDEX(CAP_IPC_LOCK)].effective &= ~CAP_TO_MASK(CAP_IPC_LOCK);
	if (syscall(SYS_capset, &h, d))
		gs_fail("capset: %s", strerror(errno));
}

/*
 * A ring set up without CAP_IPC_LOCK charges its buffers to the user's
 * RLIMIT_MEMLOCK, and it does so after pinning them. A buffer one page
 * over the limit, stalled on userfaultfd while it is pinned, must fail
 * with ENOMEM once the stall ends, and every page pinned by then must be
 * unpinned again.
 */
static void run_memlock(const struct gs_cell *c)
{
	struct gs_staller *st;
	struct io_uring ring;
	struct gs_region r;
	struct rlimit old, rl;
	struct reg k;

	gs_region_map(&r, c->b, c->npages);
	drop_ipc_lock();
	ring_init(&ring);
	if (getrlimit(RLIMIT_MEMLOCK, &old))
		gs_fail("getrlimit: %s", strerror(errno));
	rl = old;
	rl.rlim_cur = r.len - r.psize;
	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		gs_fail("setrlimit RLIMIT_MEMLOCK: %s", strerror(errno));
	st = stall_register(&r, &ring, c->caller, SEED_MEM, &k);
	if (!st)
		return;
	gs_check_err(callers[c->caller].name, k.ret < 0 ? -1 : k.ret, -k.ret,
		     ENOMEM);
	gs_staller_check_msgs(st, 0, r.npages - 1, true);
	gs_staller_stop(st);
	if (setrlimit(RLIMIT_MEMLOCK, &old))
		gs_fail("setrlimit RLIMIT_MEMLOCK back: %s", strerror(errno));
	/* as if the failed registration kept what it had pinned */
	inject_pin(&r, r.len);
	if (pins_known)
		gs_check_pins(pins0, "after the registration failed over RLIMIT_MEMLOCK");
	gs_note("ENOMEM over RLIMIT_MEMLOCK%s", pins_known ?
		", pin balance back (nr_foll_pin_*)" : "");
	io_uring_queue_exit(&ring);
	gs_region_unmap(&r);
}

/* The cells */

#define ALL_CALLERS	(GS_BIT(REGISTER) | GS_BIT(REGISTER2) | GS_BIT(UPDATE))
#define CHANGES		(GS_BIT(GS_D_MUNMAP_STALLED) | GS_BIT(GS_D_MUNMAP_TAIL) | \
			 GS_BIT(GS_D_MREMAP_STALLED) | GS_BIT(GS_D_MREMAP_TAIL) | \
			 GS_BIT(GS_D_MPROTECT_STALLED) | \
			 GS_BIT(GS_D_MPROTECT_TAIL) | \
			 GS_BIT(GS_D_DONTNEED_STALLED) | GS_BIT(GS_D_DONTNEED_TAIL))
#define REG		GS_BIT(REGISTER)

static const struct gs_case stall_cases[] = {
	{
		.purpose =
			"registration waits on a missing page with mmap_lock dropped; the buffer is the mapped memory",
		.run = run_stall, .callers = REG, .uffd = GS_UFFD_MISSING,
		.stall = GS_STALL_MISSING, .disturbs = GS_UNDISTURBED,
		.needs = GS_NEED_UFFD,
	}, {
		.purpose = "registration waits on a write-protected page",
		.run = run_stall, .callers = REG, .uffd = GS_UFFD_WP,
		.stall = GS_STALL_WP, .disturbs = GS_UNDISTURBED, .needs = GS_NEED_UFFD,
	}, {
		.purpose = "registration waits on a minor fault of page cache",
		.run = run_stall, .callers = REG, .uffd = GS_UFFD_MINOR,
		.stall = GS_STALL_MINOR, .disturbs = GS_UNDISTURBED,
		.needs = GS_NEED_UFFD,
	},
};

static const struct gs_case changed_cases[] = {
	{
		.purpose =
			"the range changes while registration waits: all registered, or EFAULT and no pin left",
		.run = run_stall, .callers = REG,
		.backings = "anon thp memfd hugetlb",
		.stall = GS_STALL_MISSING, .disturbs = CHANGES,
		.needs = GS_NEED_UFFD,
	}, {
		.purpose = "the registering process is killed: it dies, its ring's pins go",
		.run = run_sigkill, .callers = REG,
		.backings = "anon thp memfd hugetlb",
		.stall = GS_STALL_MISSING, .disturbs = GS_BIT(GS_D_SIGKILL),
		.needs = GS_NEED_UFFD,
	},
};

static const struct gs_case caller_cases[] = {
	{
		.purpose = "the tagged and the update registrations wait the same way",
		.run = run_stall,
		.callers = GS_BIT(REGISTER2) | GS_BIT(UPDATE),
		.backings = "anon thp memfd", .stall = GS_STALL_MISSING,
		.disturbs = GS_UNDISTURBED, .needs = GS_NEED_UFFD,
	}, {
		.purpose = "register, unregister, register again, each under a stall",
		.run = run_repeat, .callers = ALL_CALLERS,
		.backings = "anon thp memfd", .stall = GS_STALL_MISSING,
		.disturbs = GS_BIT(GS_D_REPEAT), .needs = GS_NEED_UFFD,
	},
};

static const struct gs_case plain_cases[] = {
	{
		.purpose = "registration of present memory, fixed I/O through it",
		.run = run_plain, .callers = REG,
		.backings = "anon thp anon-shared memfd hugetlb tmpfs ext4-private",
		.stall = GS_STALL_NONE, .disturbs = GS_UNDISTURBED,
	}, {
		.purpose = "registration swaps the pages in, and they stay in",
		.run = run_plain, .callers = REG,
		.backings = "anon thp anon-shared memfd tmpfs",
		.stall = GS_STALL_SWAPIN, .disturbs = GS_UNDISTURBED,
		.needs = GS_NEED_SWAP, .npages = 16,
	}, {
		.purpose = "pinned pages stay resident under MADV_PAGEOUT, and swap once unpinned",
		.run = run_pageout, .callers = REG, .backings = "anon thp memfd",
		.stall = GS_STALL_NONE, .disturbs = GS_BIT(GS_D_PAGEOUT),
		.needs = GS_NEED_SWAP, .npages = 16,
	}, {
		.purpose = "memory that may not be pinned writable long-term: EFAULT, no pin",
		.run = run_forbidden, .callers = REG,
		.backings =
			"ext4-shared ext4-shared-readonly anon-readonly anon-protnone memfd-secret",
		.stall = GS_STALL_NONE, .disturbs = GS_UNDISTURBED,
	},
};

static const struct gs_case memlock_cases[] = {
	{
		.purpose =
			"registration over RLIMIT_MEMLOCK fails with ENOMEM after the stall and unpins what it pinned",
		.run = run_memlock, .callers = REG, .backings = "anon",
		.stall = GS_STALL_MISSING, .disturbs = GS_BIT(GS_D_MEMLOCK),
		.needs = GS_NEED_UFFD,
	},
};

static const struct gs_case numa_cases[] = {
	{
		.purpose = "pages move while registration waits: the pinned ones stay",
		.run = run_stall, .callers = REG, .backings = "anon thp memfd",
		.stall = GS_STALL_MISSING,
		.disturbs = GS_BIT(GS_D_MIGRATE) | GS_BIT(GS_D_MBIND),
		.needs = GS_NEED_UFFD | GS_NEED_NUMA,
	}, {
		.purpose = "registered pages cannot move; before registration they can",
		.run = run_numa, .callers = REG, .backings = "anon thp memfd",
		.stall = GS_STALL_NONE,
		.disturbs = GS_BIT(GS_D_MIGRATE_PINNED) |
			    GS_BIT(GS_D_MIGRATE_BEFORE),
		.needs = GS_NEED_NUMA,
	},
};

static const struct gs_table tables[] = {
	{ stall_cases, ARRAY_SIZE(stall_cases) },
	{ changed_cases, ARRAY_SIZE(changed_cases) },
	{ caller_cases, ARRAY_SIZE(caller_cases) },
	{ plain_cases, ARRAY_SIZE(plain_cases) },
	{ numa_cases, ARRAY_SIZE(numa_cases) },
	{ memlock_cases, ARRAY_SIZE(memlock_cases) },
};

int main(int argc, char **argv)
{
	return gs_main(argc, argv, NULL, callers, NR_CALLERS, tables,
		       ARRAY_SIZE(tables));
}

#endif /* LOCAL_CONFIG_HAVE_LIBURING */
