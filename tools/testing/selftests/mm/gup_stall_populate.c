// SPDX-License-Identifier: GPL-2.0
/*
 * gup_stall_populate: the populate callers of GUP on memory that is
 * stalled, swapped out, changed under the caller or unreadable.
 *
 * MADV_POPULATE_READ/WRITE fault pages in through faultin_page_range()
 * (faultin_vma_page_range() before 6.9); mlock(), mlock2(MLOCK_ONFAULT)
 * and mmap(MAP_POPULATE) through __mm_populate(). Both may drop mmap_lock
 * while a fault waits and retry, so a userfaultfd stall must not block
 * writers of the mm, a change of the address space during the stall must
 * end in the documented error (ENOMEM for a hole, EINVAL for a mapping
 * MADV_POPULATE cannot fault in), and a file whose reads fail must end
 * the call promptly instead of retrying for ever.
 *
 * The caller runs in the mm that owns the memory: a thread of the cell
 * process, or a forked sub-process with a mapping (and staller) of its
 * own when it is to be killed or may never return.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "../kselftest.h"
#include "gup_stall_populate.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ	22
#define MADV_POPULATE_WRITE	23
#endif

const struct gs_caller callers[NR_CALLERS] = {
	[C_PREAD] = { "madv_populate_read", GS_SEM_FIRST_ERROR },
	[C_PWRITE] = { "madv_populate_write", GS_SEM_FIRST_ERROR },
	[C_MLOCK] = { "mlock", GS_SEM_VMA_WALK },
	[C_ONFAULT] = { "mlock_onfault", GS_SEM_VMA_WALK },
	[C_MMAP_POP] = { "map_populate", GS_SEM_VMA_WALK },
	[C_MLOCKALL] = { "mlockall_current", GS_SEM_VMA_WALK },
	[C_MLOCKALL_FUTURE] = { "mlockall_future", GS_SEM_VMA_WALK },
	[C_PROC_MEM] = { "proc-pid-mem", GS_SEM_SHORT },
};

static struct call *the_call;

const char *cname(const struct gs_cell *c)
{
	return callers[c->caller].name;
}

static void on_usr1(int sig)
{
	__atomic_add_fetch(&the_call->handled, 1, __ATOMIC_RELAXED);
}

static long do_populate(struct call *k)
{
	char *p;

	switch (k->caller) {
	case C_PREAD:
		return madvise(k->addr, k->len, MADV_POPULATE_READ);
	case C_PWRITE:
		return madvise(k->addr, k->len, MADV_POPULATE_WRITE);
	case C_MLOCK:
		return mlock(k->addr, k->len);
	case C_ONFAULT:
		return mlock2(k->addr, k->len, MLOCK_ONFAULT);
	case C_MMAP_POP:
		p = mmap(NULL, k->len, PROT_READ, k->mflags | MAP_POPULATE,
			 k->fd, 0);
		if (p == MAP_FAILED)
			return -1;
		k->mapped = p;
		return 0;
	case C_MLOCKALL:
		return mlockall(MCL_CURRENT);
	case C_MLOCKALL_FUTURE:
		/* the mmap of a VM_LOCKED mapping populates it */
		if (mlockall(MCL_FUTURE))
			return -1;
		p = mmap(NULL, k->len, PROT_READ, k->mflags, k->fd, 0);
		if (p == MAP_FAILED)
			return -1;
		k->mapped = p;
		return 0;
	}
	errno = EINVAL;
	return -1;
}

/* Make the call in the current task and publish the result. */
void call_now(struct call *k)
{
	struct timespec t0;

	__atomic_store_n(&k->tid, gettid(), __ATOMIC_RELEASE);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	errno = 0;
	k->ret = do_populate(k);
	k->err = errno;
	k->ms = gs_ms_since(&t0);
	__atomic_store_n(&k->done, 1, __ATOMIC_RELEASE);
}

/* A gs_job: the call of ctx in a thread of this process. */
static void do_call(struct gs_job *j)
{
	call_now(j->ctx);
}

struct call *new_call(const struct gs_cell *c, char *addr, size_t len)
{
	struct call *k = gs_shared_alloc(sizeof(*k));

	k->caller = c->caller;
	k->addr = addr;
	k->len = len;
	k->fd = -1;
	the_call = k;
	return k;
}

/* Start the caller as a thread of this process: it shares the mm. */
static void start_thread(const struct gs_cell *c, struct call *k)
{
	if (c->disturb == GS_D_SIGUSR1) {
		struct sigaction sa = { .sa_handler = on_usr1 };

		/* no SA_RESTART: an interrupted call would show EINTR */
		sigaction(SIGUSR1, &sa, NULL);
	}
	gs_job_start(&k->job, do_call, k, 0);
	k->tid = k->job.tid;
}

static void wait_done(const struct gs_cell *c, struct call *k, int ms,
		      const char *when)
{
	gs_phase("waiting for %s to return %s", cname(c), when);
	if (!gs_job_wait(&k->job, ms))
		gs_fail("%s still blocked %d ms %s", cname(c), ms, when);
}

/* The first npages pages are present and hold the pattern of seed. */
void check_populated(const char *what, const char *addr, int npages,
		     size_t psize, __u64 seed)
{
	int n = gs_pages_present(addr, npages, psize);

	if (n != npages)
		gs_fail("%d of %d pages present after %s", n, npages, what);
	gs_check_data(what, addr, npages * psize, seed, 0);
}

/* Private writable mappings make mlock fault for writing (to break COW). */
static bool faults_write(const struct gs_cell *c)
{
	return c->caller == C_PWRITE || (c->caller == C_MLOCK && !c->b->shared);
}

/* userfaultfd stalls, through the library's stalled-cell flow */

static void signal_caller(const struct gs_cell *c, struct call *k)
{
	gs_signal_sleeper(k->tid, SIGUSR1, cname(c));
	gs_note("SIGUSR1 pending while stalled");
}

/* Every page present or absent as the mask says, nothing else. */
static void check_presence(const char *what, struct gs_region *r,
			   unsigned long long want)
{
	int i;

	if (gs_inject == GS_INJECT_PRESENT)
		want ^= 1;
	for (i = 0; i < r->npages; i++) {
		bool w = want & GS_BIT(i);
		bool p = gs_pages_present(r->addr + i * r->psize, 1, r->psize);

		if (p != w)
			gs_fail("page presence: page %d %s after %s, want %s",
				i, p ? "present" : "absent", what,
				w ? "present" : "absent");
	}
}

/*
 * VM_LOCKED ("lo") on every VMA still in the range (the pages of mapped);
 * mlock never sets it on hugetlb VMAs (mlock_fixup() skips them).
 */
static void check_locked(const struct gs_cell *c, struct gs_region *r,
			 unsigned long long mapped)
{
	bool want = c->b->kind != GS_HUGETLB;
	int i, has;

	if (gs_inject == GS_INJECT_LOCKED)
		want = !want;
	for (i = 0; i < r->npages; i++) {
		if (!(mapped & GS_BIT(i)))
			continue;
		has = gs_vma_flag(r->addr + i * r->psize, "lo");
		if (has != want)
			gs_fail("VM_LOCKED: the VMA of page %d %s VmFlags 'lo' after %s, want %s",
				i, has < 0 ? "is gone, no" : has ? "has" : "lacks",
				cname(c), want ? "it" : "none");
	}
}

/* The return value the model wants: 0, or -1 with its errno. */
static void check_result(const struct gs_cell *c, const struct call *k,
			 const struct gs_outcome *want)
{
	if (want->err)
		gs_check_err(cname(c), k->ret, k->err, want->err);
	else
		gs_check_ret(cname(c), k->ret, 0);
}

/*
 * MADV_POPULATE stops at the first page it cannot fault in: the pages
 * before it are there, and the error says why it stopped.
 */
static void check_madvise(struct gs_stalled *s, struct call *k)
{
	check_result(s->c, k, &s->want);
	check_populated(cname(s->c), s->r.addr, s->want.pages, s->r.psize,
			SEED);
}

/*
 * mlock() sets VM_LOCKED on the range, then __mm_populate() faults it in
 * (the model's GS_SEM_VMA_WALK): one return per disturbance, the pages
 * it reached present, every VMA still in the range locked, even one
 * made PROT_NONE.
 */
static void check_mlock(struct gs_stalled *s, struct call *k)
{
	const struct gs_cell *c = s->c;
	unsigned long long mapped = s->want.present;

	if (c->disturb == GS_D_MPROTECT_TAIL)
		mapped |= ~(GS_BIT(GS_HELD + 1) - 1);
	check_result(c, k, &s->want);
	check_presence(cname(c), &s->r, s->want.present);
	gs_check_data(cname(c), s->r.addr, GS_HELD * s->r.psize, SEED, 0);
	check_locked(c, &s->r, mapped);
	if (gs_disturb_harmless(c->disturb))
		gs_check_data(cname(c), s->r.addr, s->r.len, SEED, 0);
	gs_note("mlock returned %s", k->ret ? strerrorname_np(k->err) : "0");
}

static void start_call(struct gs_stalled *s)
{
	struct call *k = new_call(s->c, s->r.addr, s->r.len);

	start_thread(s->c, k);
	s->tid = k->tid;
	s->call = k;
}

static void signal_call(struct gs_stalled *s)
{
	signal_caller(s->c, s->call);
}

static void finish_call(struct gs_stalled *s)
{
	const struct gs_cell *c = s->c;
	struct call *k = s->call;
	int want_usr1 = gs_inject == GS_INJECT_SIGNAL ? 2 : 1;

	wait_done(c, k, GS_WAIT_MS, "after the release");
	if (c->caller == C_MLOCK)
		check_mlock(s, k);
	else
		check_madvise(s, k);
	if (c->disturb == GS_D_SIGUSR1 && k->handled != want_usr1)
		gs_fail("signal count: SIGUSR1 handler ran %d times, want %d",
			k->handled, want_usr1);
	gs_check_migrated(s, SEED);
}

static const struct gs_flow populate_flow = {
	.seed = SEED, .callers = callers, .start = start_call,
	.signal = signal_call, .finish = finish_call, .writes = faults_write,
};

/* Populate a region stalled by userfaultfd, disturbed during the stall. */
static void run_stall(const struct gs_cell *c)
{
	gs_stalled_cell(c, &populate_flow);
}

/* mlock2(MLOCK_ONFAULT) locks what is faulted later: it must not fault. */
static void run_onfault(const struct gs_cell *c)
{
	struct gs_staller *st;
	struct gs_region r;
	struct call *k;
	int n;

	gs_region_map(&r, c->b, c->npages);
	st = gs_staller_start(&r, GS_UFFD_MISSING, SEED, ~0ULL);
	k = new_call(c, r.addr, r.len);
	start_thread(c, k);
	wait_done(c, k, GS_WAIT_MS, "(it must not wait for a fault)");
	gs_check_ret(cname(c), k->ret, 0);
	n = gs_staller_total(st) + !!(gs_inject == GS_INJECT_MSGS);
	if (n)
		gs_fail("%d userfaultfd messages from MLOCK_ONFAULT, want 0", n);
	check_presence(cname(c), &r, 0);
	/*
	 * MLOCK_ONFAULT sets VM_LOCKED with VM_LOCKONFAULT; smaps names
	 * the latter ("lf") only on newer kernels, not on 6.1
	 */
	check_locked(c, &r, ~0ULL);
	gs_note("0 in %ld ms, no fault", k->ms);
	gs_staller_release_all(st);
	gs_staller_stop(st);
	gs_region_unmap(&r);
}

/*
 * SIGKILL: the caller is a thread of a child process with its own mm,
 * which maps the region and runs its staller.
 */
struct killee {
	struct call k;
	__u32 ptid;		/* the task the held fault came from */
};

static void killee_fn(struct gs_child *ch)
{
	const struct gs_cell *c = ch->c;
	struct killee *s = ch->own;
	struct gs_staller *st;
	struct gs_region r;
	struct gs_msg msg;

	gs_region_map(&r, c->b, c->npages);
	st = gs_staller_start(&r, GS_UFFD_MISSING, SEED, GS_BIT(GS_HELD));
	s->k.caller = c->caller;
	s->k.addr = r.addr;
	s->k.len = r.len;
	gs_job_start(&s->k.job, do_call, &s->k, 0);
	s->k.tid = s->k.job.tid;
	gs_staller_wait_held(st, GS_HELD, &msg);
	s->ptid = msg.ptid;
	gs_child_ready(ch, s->k.tid);
}

static void run_sigkill(const struct gs_cell *c)
{
	struct gs_child *ch = gs_child_start(c, killee_fn, sizeof(struct killee));
	struct killee *s = ch->own;

	gs_child_wait_ready(ch, GS_WAIT_MS, "the stall of the caller");
	if (s->ptid != (__u32)s->k.tid)
		gs_fail("fault came from task %u, not from the caller %d",
			s->ptid, s->k.tid);
	gs_wait_state(s->k.tid, "D", cname(c));
	gs_note("reaped %ld ms after SIGKILL", gs_child_kill(ch, cname(c)));
	if (s->k.done)
		gs_fail("%s returned %ld before the kill", cname(c), s->k.ret);
}

/* Swapped-out memory comes back with its data. */
static void run_swap(const struct gs_cell *c)
{
	struct gs_region r;
	struct call *k;
	char *addr;

	gs_region_map(&r, c->b, c->npages);
	gs_fill(r.addr, r.len, SEED, 0);
	gs_region_pageout(&r);
	k = new_call(c, r.addr, r.len);
	if (c->caller == C_MMAP_POP) {
		/* a new mapping of the swapped-out shmem, populated by mmap */
		k->fd = r.fd;
		k->mflags = MAP_SHARED;
	}
	start_thread(c, k);
	wait_done(c, k, GS_WAIT_MS, "from swap-in");
	gs_check_ret(cname(c), k->ret, 0);
	addr = c->caller == C_MMAP_POP ? k->mapped : r.addr;
	check_populated(cname(c), addr, r.npages, r.psize, SEED);
	gs_note("%d ms for %d swapped-out pages", (int)k->ms, r.npages);
	gs_region_unmap(&r);
}

/* The [vvar] mapping: VM_PFNMAP | VM_IO, reachable in every process. */
static char *find_vvar(size_t *len)
{
	char line[512], flags[256] = "";
	unsigned long s = 0, e = 0;
	bool in = false;
	FILE *f;

	f = fopen("/proc/self/smaps", "r");
	if (!f)
		gs_fail("open smaps: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b;

		if (sscanf(line, "%lx-%lx", &a, &b) == 2 && strchr(line, ' ')) {
			in = !s && strstr(line, "[vvar]");
			if (in) {
				s = a;
				e = b;
			}
		} else if (in && !strncmp(line, "VmFlags:", 8)) {
			snprintf(flags, sizeof(flags), "%.200s", line + 8);
		}
	}
	fclose(f);
	if (!s)
		gs_skip("no [vvar] mapping: no VM_PFNMAP/VM_IO mapping reachable");
	if (!strstr(flags, " pf") && !strstr(flags, " io"))
		gs_skip("[vvar] is neither VM_PFNMAP nor VM_IO here (VmFlags:%s)",
			flags);
	*len = e - s;
	return (char *)s;
}

/* Ranges MADV_POPULATE or mlock must refuse: the documented errors. */
static void run_error(const struct gs_cell *c)
{
	size_t ps = getpagesize(), len = c->npages * ps;
	int want = EINVAL;
	struct call *k;
	char *p;

	/* before the mappings: its own page must not land in the hole */
	k = new_call(c, NULL, 0);
	if (c->b) {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			gs_fail("mmap: %s", strerror(errno));
	} else {
		p = find_vvar(&len);
	}
	if (c->disturb == GS_D_PROT_NONE && mprotect(p, len, PROT_NONE))
		gs_fail("mprotect PROT_NONE: %s", strerror(errno));
	if (c->disturb == GS_D_PROT_READ && mprotect(p, len, PROT_READ))
		gs_fail("mprotect PROT_READ: %s", strerror(errno));
	if (c->disturb == GS_D_HOLE) {
		/* a hole in the middle of the range */
		if (munmap(p + 2 * ps, ps))
			gs_fail("munmap: %s", strerror(errno));
		want = ENOMEM;
	}
	k->addr = p;
	k->len = len;
	start_thread(c, k);
	wait_done(c, k, GS_WAIT_MS, "on a range it must refuse");
	gs_check_err(cname(c), k->ret, k->err, want);
	gs_note("%s", strerrorname_np(k->err));
}

/* The cells */

#define POPULATE	(GS_BIT(C_PREAD) | GS_BIT(C_PWRITE) | GS_BIT(C_MLOCK))
#define MADVISE		(GS_BIT(C_PREAD) | GS_BIT(C_PWRITE))
#define CHANGES		(GS_BIT(GS_D_MUNMAP_TAIL) | GS_BIT(GS_D_MUNMAP_STALLED) | \
			 GS_BIT(GS_D_MREMAP_TAIL) | GS_BIT(GS_D_MPROTECT_TAIL) | \
			 GS_BIT(GS_D_SIGUSR1))

static const struct gs_case stall_cases[] = {
	{
		.purpose =
			"the call waits on a missing page with mmap_lock dropped, then populates all",
		.run = run_stall, .callers = POPULATE, .uffd = GS_UFFD_MISSING,
		.stall = GS_STALL_MISSING, .disturbs = GS_UNDISTURBED,
		.needs = GS_NEED_UFFD,
	}, {
		.purpose = "a write fault waits on a write-protected page",
		.run = run_stall, .callers = GS_BIT(C_PWRITE),
		.backings = "anon memfd", .stall = GS_STALL_WP,
		.disturbs = GS_UNDISTURBED, .needs = GS_NEED_UFFD,
	}, {
		.purpose = "mlock of private memory breaks COW with a write fault, which WP sees",
		.run = run_stall, .callers = GS_BIT(C_MLOCK), .backings = "anon",
		.stall = GS_STALL_WP, .disturbs = GS_UNDISTURBED, .needs = GS_NEED_UFFD,
	}, {
		.purpose =
			"the range changes while the call waits: the model's one error and pages",
		.run = run_stall, .callers = POPULATE, .backings = "anon",
		.stall = GS_STALL_MISSING, .disturbs = CHANGES,
		.needs = GS_NEED_UFFD,
	}, {
		.purpose = "the caller's process is killed while it waits: it dies at once",
		.run = run_sigkill, .callers = POPULATE, .backings = "anon",
		.stall = GS_STALL_MISSING, .disturbs = GS_BIT(GS_D_SIGKILL),
		.needs = GS_NEED_UFFD,
	}, {
		.purpose = "the tail of a shmem range goes away while the call waits",
		.run = run_stall, .callers = GS_BIT(C_PREAD), .backings = "memfd",
		.stall = GS_STALL_MISSING, .disturbs = GS_BIT(GS_D_MUNMAP_TAIL),
		.needs = GS_NEED_UFFD,
	}, {
		.purpose = "the caller's process is killed while it waits on shmem",
		.run = run_sigkill, .callers = GS_BIT(C_PREAD), .backings = "memfd",
		.stall = GS_STALL_MISSING, .disturbs = GS_BIT(GS_D_SIGKILL),
		.needs = GS_NEED_UFFD,
	}, {
		.purpose = "MLOCK_ONFAULT locks without faulting: no message, nothing present",
		.run = run_onfault, .callers = GS_BIT(C_ONFAULT), .backings = "anon",
		.stall = GS_STALL_MISSING, .disturbs = GS_UNDISTURBED,
		.needs = GS_NEED_UFFD,
	}, {
		.purpose = "populated pages move to another node while the call waits",
		.run = run_stall, .callers = POPULATE, .backings = "anon memfd",
		.stall = GS_STALL_MISSING,
		.disturbs = GS_BIT(GS_D_MIGRATE) | GS_BIT(GS_D_MBIND),
		.needs = GS_NEED_UFFD | GS_NEED_NUMA,
	},
};

static const struct gs_case plain_cases[] = {
	{
		.purpose = "swapped-out pages come back with their data",
		.run = run_swap, .callers = POPULATE, .backings = "anon memfd",
		.stall = GS_STALL_SWAPIN, .disturbs = GS_UNDISTURBED,
		.needs = GS_NEED_SWAP, .npages = 16,
	}, {
		.purpose = "MAP_POPULATE of swapped-out shmem swaps it in",
		.run = run_swap, .callers = GS_BIT(C_MMAP_POP),
		.backings = "memfd", .stall = GS_STALL_SWAPIN, .disturbs = GS_UNDISTURBED,
		.needs = GS_NEED_SWAP, .npages = 16,
	}, {
		.purpose = "ranges MADV_POPULATE must refuse, with the documented errno",
		.run = run_error, .callers = MADVISE, .backings = "anon",
		.stall = GS_STALL_NONE,
		.disturbs = GS_BIT(GS_D_PROT_NONE) | GS_BIT(GS_D_HOLE),
	}, {
		.purpose = "a VM_PFNMAP/VM_IO mapping cannot be populated: EINVAL",
		.run = run_error, .callers = MADVISE, .backings = "vvar",
		.stall = GS_STALL_NONE, .disturbs = GS_UNDISTURBED,
	}, {
		.purpose = "MADV_POPULATE_WRITE on a read-only range: EINVAL",
		.run = run_error, .callers = GS_BIT(C_PWRITE), .backings = "anon",
		.stall = GS_STALL_NONE, .disturbs = GS_BIT(GS_D_PROT_READ),
	}, {
		.purpose = "mlock of a range with a hole: ENOMEM",
		.run = run_error, .callers = GS_BIT(C_MLOCK), .backings = "anon",
		.stall = GS_STALL_NONE, .disturbs = GS_BIT(GS_D_HOLE),
	},
};

#define ALL_POPULATE	(POPULATE | GS_BIT(C_MMAP_POP) | GS_BIT(C_ONFAULT) | \
			 GS_BIT(C_MLOCKALL) | GS_BIT(C_MLOCKALL_FUTURE))
#define READ_LOCK_MAP	(GS_BIT(C_PREAD) | GS_BIT(C_MLOCK) | GS_BIT(C_MMAP_POP))

static const struct gs_case fuse_cases[] = {
	{
		.purpose = "every READ fails: the call ends at once with its error, no retry loop",
		.run = run_fuse, .callers = ALL_POPULATE, .backings = "fuse-eio",
		.stall = GS_STALL_NONE, .disturbs = GS_UNDISTURBED,
	}, {
		.purpose = "a readable FUSE file is populated with its data",
		.run = run_fuse, .callers = READ_LOCK_MAP,
		.backings = "fuse-data", .stall = GS_STALL_NONE, .disturbs = GS_UNDISTURBED,
	}, {
		.purpose =
			"the server dies under a caller in a retry loop: both go, so does the mount",
		.run = run_fuse_kill, .callers = GS_BIT(C_MLOCK),
		.backings = "fuse-eio", .stall = GS_STALL_NONE,
		.disturbs = GS_BIT(GS_D_KILL_SERVER),
	}, {
		.purpose = "reads fail after two pages: those two mapped, nothing after",
		.run = run_fuse, .callers = READ_LOCK_MAP, .backings = "fuse-eio-tail",
		.stall = GS_STALL_NONE, .disturbs = GS_UNDISTURBED,
	}, {
		.purpose = "GUP without \"locked\" sleeps on a held READ with mmap_lock held",
		.run = run_fuse_held, .callers = GS_BIT(C_PROC_MEM),
		.backings = "fuse-data", .stall = GS_STALL_HELD_READ,
		.disturbs = GS_UNDISTURBED,
	},
};

static const struct gs_table tables[] = {
	{ stall_cases, ARRAY_SIZE(stall_cases) },
	{ plain_cases, ARRAY_SIZE(plain_cases) },
	{ fuse_cases, ARRAY_SIZE(fuse_cases) },
};

int main(int argc, char **argv)
{
	return gs_main(argc, argv, NULL, callers, NR_CALLERS, tables,
		       ARRAY_SIZE(tables));
}
