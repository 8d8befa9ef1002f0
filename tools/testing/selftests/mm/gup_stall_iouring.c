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

#include "gup_stall_ring.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT	21
#endif

const struct gs_caller callers[NR_CALLERS] = {
	[REGISTER] = { "io_uring-register", GS_SEM_ALL_OR_EFAULT },
	[REGISTER2] = { "io_uring-register2", GS_SEM_ALL_OR_EFAULT },
	[UPDATE] = { "io_uring-update", GS_SEM_ALL_OR_EFAULT },
};

#define ROUNDS		3	/* registrations in a repeat cell */

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
	n = gs_region_nonresident(&r);
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
	gs_drop_cap(CAP_IPC_LOCK);
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
	gs_note("ENOMEM over RLIMIT_MEMLOCK%s",
		check_pin_balance("after the registration failed over RLIMIT_MEMLOCK") ?
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
