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
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "../kselftest.h"
#include "gup_stall.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ	22
#define MADV_POPULATE_WRITE	23
#endif

enum caller {
	C_PREAD, C_PWRITE, C_MLOCK, C_ONFAULT, C_MMAP_POP, C_MLOCKALL,
	C_MLOCKALL_FUTURE, C_PROC_MEM, NR_CALLERS
};

static const struct gs_caller callers[] = {
	[C_PREAD] = { "madv_populate_read", GS_SEM_FIRST_ERROR },
	[C_PWRITE] = { "madv_populate_write", GS_SEM_FIRST_ERROR },
	[C_MLOCK] = { "mlock", GS_SEM_VMA_WALK },
	[C_ONFAULT] = { "mlock_onfault", GS_SEM_VMA_WALK },
	[C_MMAP_POP] = { "map_populate", GS_SEM_VMA_WALK },
	[C_MLOCKALL] = { "mlockall_current", GS_SEM_VMA_WALK },
	[C_MLOCKALL_FUTURE] = { "mlockall_future", GS_SEM_VMA_WALK },
	[C_PROC_MEM] = { "proc-pid-mem", GS_SEM_SHORT },
};

#define SEED		0x33	/* what the memory holds */
/* A call that must end promptly gets this long before it counts as stuck. */
#define PROMPT_MS	1000

/* the upstream fix a kernel lacks when MADV_POPULATE retries for ever */
#define FIX_POPULATE \
	"\"mm/madvise: make MADV_POPULATE_(READ|WRITE) handle VM_FAULT_RETRY properly\""
/* the bug still open upstream behind mlock and MAP_POPULATE */
#define BUG_MM_POPULATE							\
	"live retry loop in __mm_populate() (populate_vma_page_range "	\
	"without FOLL_TRIED), still open upstream"
/* this project's fix for it, scripts/fixes/ */
#define FIX_MM_POPULATE							\
	"\"mm/gup: retry a populate fault that dropped mmap_lock with "	\
	"FOLL_TRIED\""

/* One populate call; in gs_shared_alloc() memory when a sub-process makes it. */
struct call {
	int caller;
	char *addr;
	size_t len;
	int fd;			/* the file map_populate maps */
	const struct gs_fuse_file *file;	/* FUSE cells */
	int mflags;		/* MAP_SHARED or MAP_PRIVATE for map_populate */
	char *mapped;		/* what map_populate returned */
	pid_t tid;
	int done;
	long ret;
	int err;
	long ms;		/* how long the call took */
	int handled;		/* SIGUSR1 handler runs */
	unsigned int present;	/* FUSE cells: bit i = page i mapped after */
};

static struct call *the_call;

static const char *cname(const struct gs_cell *c)
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
static void call_now(struct call *k)
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

static void *call_thread(void *arg)
{
	call_now(arg);
	return NULL;
}

static struct call *new_call(const struct gs_cell *c, char *addr, size_t len)
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
	pthread_t thr;

	if (c->disturb == GS_D_SIGUSR1) {
		struct sigaction sa = { .sa_handler = on_usr1 };

		/* no SA_RESTART: an interrupted call would show EINTR */
		sigaction(SIGUSR1, &sa, NULL);
	}
	if (pthread_create(&thr, NULL, call_thread, k))
		gs_fail("pthread_create failed");
	pthread_detach(thr);
	gs_wait_flag(&k->tid, 0, "the caller thread to start");
}

static void wait_done(const struct gs_cell *c, struct call *k, int ms,
		      const char *when)
{
	struct timespec t0;

	gs_phase("waiting for %s to return %s", cname(c), when);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!__atomic_load_n(&k->done, __ATOMIC_ACQUIRE)) {
		if (gs_ms_since(&t0) > ms)
			gs_fail("%s still blocked %d ms %s", cname(c), ms, when);
		usleep(100);
	}
}

/* The first npages pages are present and hold the pattern of seed. */
static void check_populated(const char *what, const char *addr, int npages,
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
	struct timespec t0;

	syscall(SYS_tgkill, getpid(), k->tid, SIGUSR1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!gs_sig_pending(k->tid, SIGUSR1) &&
	       !__atomic_load_n(&k->handled, __ATOMIC_RELAXED) &&
	       gs_ms_since(&t0) < GS_WAIT_MS)
		usleep(100);
	/* a killable sleep stays asleep with the signal pending */
	gs_wait_state(k->tid, "D", cname(c));
	gs_note("SIGUSR1 %s while stalled",
		gs_sig_pending(k->tid, SIGUSR1) ? "pending" : "taken");
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
	pthread_t thr;

	gs_region_map(&r, c->b, c->npages);
	st = gs_staller_start(&r, GS_UFFD_MISSING, SEED, GS_BIT(GS_HELD));
	s->k.caller = c->caller;
	s->k.addr = r.addr;
	s->k.len = r.len;
	if (pthread_create(&thr, NULL, call_thread, &s->k))
		gs_fail("pthread_create failed");
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

/* FUSE files */

/*
 * A kernel that gives up on a failed read sends a handful of READs (3 for
 * MADV_POPULATE_READ of the "eio" file on 6.18: readahead, the read of
 * the faulting page, the retry); one that retries for ever sends tens of
 * thousands a second.
 */
#define MAX_EIO_READS	16
/*
 * How long a caller still running after PROMPT_MS is watched for a new
 * READ; a retry loop sends one within microseconds, but a loaded machine
 * may not run it for a while.
 */
#define RISE_MS		2000

/* The callers that create the mapping themselves. */
static bool maps_itself(int caller)
{
	return caller == C_MMAP_POP || caller == C_MLOCKALL_FUTURE;
}

/* Runs in the caller sub-process: map the file and populate it. */
static void fuse_caller(void *arg)
{
	struct call *k = arg;
	const char *addr;
	int fd;

	char path[64];

	gs_fuse_path(k->file, path, sizeof(path));
	fd = open(path, O_RDONLY);
	if (fd < 0)
		gs_fail("open %s: %s", path, strerror(errno));
	k->fd = fd;
	if (!maps_itself(k->caller)) {
		k->addr = mmap(NULL, k->len, PROT_READ |
			       (k->mflags == MAP_PRIVATE ? PROT_WRITE : 0),
			       k->mflags, fd, 0);
		if (k->addr == MAP_FAILED)
			gs_fail("mmap the FUSE file: %s", strerror(errno));
	}
	call_now(k);
	addr = maps_itself(k->caller) ? k->mapped : k->addr;
	k->present = gs_present_mask(addr, GS_FUSE_PAGES, getpagesize());
	if (k->file->good < 0 && !k->ret && k->caller != C_ONFAULT)
		check_populated(callers[k->caller].name, addr, GS_FUSE_PAGES,
				getpagesize(), GS_FUSE_SEED);
	if (k->file->good > 0 && (k->present & 1))
		gs_check_data(callers[k->caller].name, addr, getpagesize(),
			      GS_FUSE_SEED, 0);
}

static pid_t spawn_fuse_caller(struct call *k,
			       const struct gs_fuse_file *file)
{
	k->len = gs_fuse_len();
	k->mflags = k->caller == C_PWRITE ? MAP_PRIVATE : MAP_SHARED;
	k->file = file;
	return gs_spawn(fuse_caller, k);
}

/* How a call on a FUSE file ended, seen from the cell. */
struct fuse_end {
	bool ended;		/* within PROMPT_MS */
	bool slow;		/* only after PROMPT_MS */
	bool rising;		/* still running, and READs kept coming */
	unsigned long reads;	/* READ requests in all */
};

/* Wait for the caller; watch one still running for READs, then kill it. */
static void await_fuse_caller(const struct gs_cell *c, struct gs_fuse *fs,
			      struct call *k, pid_t pid, struct fuse_end *e)
{
	unsigned long before;
	int status = 0, i;

	gs_phase("waiting for %s on the FUSE file", cname(c));
	e->ended = !gs_wait_exit(pid, PROMPT_MS, &status);
	if (!e->ended) {
		before = gs_fuse_reads(fs);
		gs_phase("watching the READ requests of the running %s",
			 cname(c));
		for (i = 0; i < RISE_MS / 10 && !e->rising && !e->slow; i++) {
			e->slow = !gs_wait_exit(pid, 10, &status);
			e->rising = gs_fuse_reads(fs) > before;
		}
	}
	e->reads = gs_fuse_reads(fs);
	if (!e->ended && !e->slow) {
		kill(pid, SIGKILL);
		gs_phase("waiting for the SIGKILLed %s to be reaped", cname(c));
		if (gs_wait_exit(pid, GS_REAP_MS, &status))
			gs_fail("%s not reaped %d ms after SIGKILL", cname(c),
				GS_REAP_MS);
	} else if (!k->done) {
		gs_fail("the caller sub-process ended without a result (status %#x)",
			status);
	}
}

/* __mm_populate() callers: mlock, mlockall, MAP_POPULATE, MCL_FUTURE. */
static bool mm_populate_caller(int caller)
{
	return caller != C_PREAD && caller != C_PWRITE && caller != C_ONFAULT;
}

/* A call on a file whose reads fail that never returned. */
static void eio_never_returned(const struct gs_cell *c,
			       const struct fuse_end *e)
{
	static const char rising[] = "READ requests after %d ms, still rising";
	char seen[80];

	snprintf(seen, sizeof(seen), rising, PROMPT_MS);
	if (!e->rising)
		gs_fail("%s blocked for %d ms, no new READ request in %d ms (%lu in all): %s",
			cname(c), PROMPT_MS, RISE_MS, e->reads,
			"a hang, not a retry loop");
	if (mm_populate_caller(c->caller))
		gs_xfail("%s never returns on a file whose reads fail: %s; %lu %s, killed",
			 cname(c), BUG_MM_POPULATE, e->reads, seen);
	if (c->caller == C_ONFAULT)
		gs_fail("%s never returned, %lu %s: %s", cname(c), e->reads,
			seen, "MLOCK_ONFAULT must not fault pages in");
	gs_fail("%s never returned, %lu %s, killed: %s %s", cname(c),
		e->reads, seen, "the endless retry fixed upstream in 6.9 by",
		FIX_POPULATE);
}

/*
 * What a call on a file whose reads fail returns, where it returns at
 * all: MADV_POPULATE EFAULT; mlock ENOMEM (the EFAULT of the failed page,
 * as POSIX wants it); the callers that ignore errors succeed; mlock2
 * with MLOCK_ONFAULT never faults and succeeds.
 */
static void check_eio_result(const struct gs_cell *c, const struct call *k)
{
	switch (c->caller) {
	case C_PREAD:
	case C_PWRITE:
		gs_check_err(cname(c), k->ret, k->err, EFAULT);
		return;
	case C_MLOCK:
		gs_check_err(cname(c), k->ret, k->err, ENOMEM);
		return;
	default:
		if (k->ret)
			gs_fail("%s failed with %s, want success: errors of populating are ignored",
				cname(c), strerrorname_np(k->err));
	}
}

/* The verdict for the "eio" and "eio-tail" files. */
static void fuse_eio_verdict(const struct gs_cell *c, const struct call *k,
			     const struct fuse_end *e)
{
	unsigned long max_reads = MAX_EIO_READS;
	unsigned int want = 0;

	if (gs_inject == GS_INJECT_READS)
		max_reads = 0;
	if (!e->ended)
		eio_never_returned(c, e);
	check_eio_result(c, k);
	if (c->caller == C_ONFAULT && e->reads)
		gs_fail("%lu READ requests: MLOCK_ONFAULT must not fault pages in",
			e->reads);
	if (e->reads > max_reads)
		gs_fail("%lu READ requests for %d pages, want at most %lu: %s",
			e->reads, GS_FUSE_PAGES, max_reads,
			"the failed read was retried");
	if (gs_fuse_file(c->target)->good > 0)
		want = GS_BIT(gs_fuse_file(c->target)->good) - 1;
	if (k->present != want)
		gs_fail("pages mapped afterwards %#x, want %#x: %s", k->present,
			want, "the readable head, nothing after the failed page");
	if (mm_populate_caller(c->caller))
		gs_xpass("%s: %s in %ld ms, %lu READ requests, pages %#x mapped: %s (%s)",
			 cname(c), k->ret ? strerrorname_np(k->err) : "success",
			 k->ms, e->reads, k->present,
			 "the __mm_populate() retry loop is fixed here",
			 FIX_MM_POPULATE);
	gs_note("%s in %ld ms after %lu READ requests, pages %#x mapped",
		k->ret ? strerrorname_np(k->err) : "0", k->ms, e->reads,
		k->present);
}

/* Populate a mapping of a FUSE file, killing a caller that never returns. */
static void run_fuse(const struct gs_cell *c)
{
	const struct gs_fuse_file *file = gs_fuse_file(c->target);
	struct fuse_end e = { 0 };
	struct gs_fuse *fs;
	struct call *k;
	pid_t pid;

	fs = gs_fuse_start();
	k = new_call(c, NULL, 0);
	pid = spawn_fuse_caller(k, file);
	await_fuse_caller(c, fs, k, pid, &e);
	gs_fuse_stop(fs);
	if (e.slow)
		gs_fail("%s returned only after more than %d ms (%lu READ requests)",
			cname(c), PROMPT_MS, e.reads);
	if (file->good >= 0) {
		fuse_eio_verdict(c, k, &e);
		return;
	}
	if (!e.ended)
		gs_fail("%s on the readable FUSE file did not return within %d ms",
			cname(c), PROMPT_MS);
	gs_check_ret(cname(c), k->ret, 0);
	gs_note("%ld ms, %lu READ requests", k->ms, e.reads);
}

/* The sub-process killed mid-way: it mounts, serves and calls mlock. */
struct server {
	int ready;
	pid_t caller;
	unsigned int conn;	/* /sys/fs/fuse/connections/<conn> */
	struct call k;
};

static void server_fn(void *arg)
{
	struct server *s = arg;
	struct gs_fuse *fs;

	fs = gs_fuse_start();
	s->conn = gs_fuse_conn();
	s->caller = spawn_fuse_caller(&s->k, gs_fuse_file("fuse-eio"));
	/* the caller is in its retry loop once READs keep coming */
	while (gs_fuse_reads(fs) < 2 && !s->k.done)
		usleep(200);
	__atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
	for (;;)
		pause();
}

static bool conn_exists(unsigned int conn)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/fs/fuse/connections/%u", conn);
	return !access(path, F_OK);
}

/* fusectl, in this cell's own namespace, shows which connections live. */
static void mount_fusectl(void)
{
	gs_private_mounts();
	if (mount("fusectl", "/sys/fs/fuse/connections", "fusectl", 0, NULL) &&
	    errno != EBUSY)
		gs_skip("cannot mount fusectl to watch FUSE connections: %s",
			strerror(errno));
}

/*
 * SIGKILL the process that owns the FUSE mount, serves it and has a
 * caller looping in mlock(): the caller must die with it (its parent-death
 * signal) and the connection must go away with the namespace.
 */
static void run_fuse_kill(const struct gs_cell *c)
{
	struct server *s = gs_shared_alloc(sizeof(*s));
	char path[64];
	struct timespec t0;
	pid_t pid;

	mount_fusectl();
	/* the caller, orphaned by the kill, is reaped here */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	s->k.caller = c->caller;
	s->k.fd = -1;
	pid = gs_spawn(server_fn, s);
	gs_wait_flag(&s->ready, pid, "READ requests from the FUSE server process");
	gs_watch_pid(s->caller);
	if (!conn_exists(s->conn))
		gs_fail("no FUSE connection %u while mounted", s->conn);
	snprintf(path, sizeof(path), "/proc/%d/mounts", pid);
	if (!gs_fuse_mounted(path, GS_FUSE_DIR))
		gs_fail("the FUSE mount is not in the server's namespace");
	if (gs_fuse_mounted("/proc/self/mounts", GS_FUSE_DIR))
		gs_fail("the FUSE mount leaked into the cell's namespace");
	gs_note("%s %s when the server was killed", cname(c),
		s->k.done ? "had returned" : "was looping");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	kill(pid, SIGKILL);
	gs_phase("waiting for the killed FUSE server and its caller to go");
	if (gs_wait_exit(pid, GS_REAP_MS, NULL))
		gs_fail("the FUSE server not reaped %d ms after SIGKILL",
			GS_REAP_MS);
	if (gs_wait_exit(s->caller, GS_REAP_MS, NULL))
		gs_fail("the caller %d outlived its FUSE server by %d ms",
			s->caller, GS_REAP_MS);
	while (conn_exists(s->conn)) {
		if (gs_ms_since(&t0) > GS_REAP_MS)
			gs_fail("FUSE connection %u left behind %d ms after the kill",
				s->conn, GS_REAP_MS);
		usleep(1000);
	}
	gs_note("mount gone %ld ms after SIGKILL", gs_ms_since(&t0));
}

/*
 * /proc/pid/mem reads through __access_remote_vm(), whose GUP passes no
 * "locked" (6.12: get_user_page_vma_remote()): its fault gets no
 * FAULT_FLAG_ALLOW_RETRY, so a READ the FUSE server holds keeps the
 * reader asleep with mmap_lock held for reading. The target process owns
 * the mm and the lock-drop probe's writer; the cell process serves FUSE.
 */
struct holder {
	pid_t target;		/* maps the file; its mm is the locked one */
	pid_t reader;		/* reads /proc/<target>/mem */
	char *addr;		/* the target's mapping of the data file */
	int ready;		/* the target mapped the file */
	int go;			/* the target may run its probe */
	int probed;		/* the probe has its verdict */
	long ret;		/* the reader's pread() */
	int err;
};

static void target_fn(void *arg)
{
	struct holder *h = arg;
	char path[64];
	int fd;

	/* Yama: the reader is a sibling, not an ancestor */
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY);
	gs_lockdrop_arm();
	/*
	 * While the reader holds mmap_lock and the writer waits for it, a
	 * page fault of this process would wait too: without per-VMA locks
	 * (before 6.4) every fault takes mmap_lock. fork() did not copy the
	 * page tables of file and shared mappings, so fault everything in
	 * now, before the FUSE file is mapped.
	 */
	if (mlockall(MCL_CURRENT))
		gs_fail("mlockall(MCL_CURRENT) of the target: %s",
			strerror(errno));
	gs_fuse_path(gs_fuse_file("fuse-data"), path, sizeof(path));
	fd = open(path, O_RDONLY);
	if (fd < 0)
		gs_fail("open %s: %s", path, strerror(errno));
	h->addr = mmap(NULL, gs_fuse_len(), PROT_READ, MAP_SHARED, fd, 0);
	if (h->addr == MAP_FAILED)
		gs_fail("mmap the FUSE file: %s", strerror(errno));
	__atomic_store_n(&h->ready, 1, __ATOMIC_RELEASE);
	gs_wait_flag(&h->go, getppid(), "the go for the writer");
	/* negative control: judge a real lock holder as a dropper */
	if (gs_inject == GS_INJECT_LOCKDROP)
		gs_lockdrop_probe(h->reader, "D");
	else
		gs_lockheld_probe(h->reader, "D");
	__atomic_store_n(&h->probed, 1, __ATOMIC_RELEASE);
	gs_lockheld_end();
}

static void reader_fn(void *arg)
{
	struct holder *h = arg;
	size_t psize = getpagesize();
	char path[64], *buf = malloc(psize);
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", h->target);
	fd = open(path, O_RDONLY);
	if (fd < 0 || !buf)
		gs_fail("open %s: %s", path, strerror(errno));
	h->ret = pread(fd, buf, psize, (off_t)(unsigned long)h->addr);
	h->err = errno;
	if (h->ret == (long)psize)
		gs_check_data("/proc/pid/mem of the FUSE page", buf, psize,
			      GS_FUSE_SEED, 0);
}

static void run_fuse_held(const struct gs_cell *c)
{
	struct holder *h = gs_shared_alloc(sizeof(*h));
	struct gs_fuse *fs = gs_fuse_start();
	size_t size;
	long off;

	gs_fuse_hold(fs);
	h->target = gs_spawn(target_fn, h);
	gs_wait_flag(&h->ready, h->target, "the target's mapping of the file");
	h->reader = gs_spawn(reader_fn, h);
	gs_wait_until(gs_fuse_has_held, fs, h->reader,
		      "the reader's READ request at the FUSE server");
	gs_wait_state(h->reader, "D", "the /proc/pid/mem reader");
	/* negative control: a task that cannot die yet meets the reap bound */
	if (gs_inject == GS_INJECT_REAP)
		gs_kill_reap(h->reader, "/proc/pid/mem reader");
	/* negative control: the held-lock probe sees a lock already free */
	if (gs_inject == GS_INJECT_UNHELD) {
		gs_fuse_answer(fs, &size, &off);
		if (gs_wait_exit(h->reader, GS_WAIT_MS, NULL))
			gs_fail("/proc/pid/mem read still blocked after its READ was answered");
	}
	__atomic_store_n(&h->go, 1, __ATOMIC_RELEASE);
	gs_wait_flag(&h->probed, h->target, "the writer's verdict");
	/* negative control: the writer's end is judged while still held */
	if (gs_inject == GS_INJECT_UNRELEASED)
		gs_wait_exit(h->target, 2 * GS_WAIT_MS, NULL);
	if (gs_inject != GS_INJECT_UNHELD)
		gs_fuse_answer(fs, &size, &off);
	gs_phase("waiting for the reader once its READ was answered");
	if (gs_wait_exit(h->reader, GS_WAIT_MS, NULL))
		gs_fail("/proc/pid/mem read still blocked %d ms after its READ was answered",
			GS_WAIT_MS);
	if (h->ret < 0)
		gs_fail("pread of /proc/pid/mem failed with %s, want %d bytes",
			strerrorname_np(h->err) ?: "?", getpagesize());
	gs_check_ret("pread of /proc/pid/mem", h->ret, getpagesize());
	gs_phase("waiting for the target and its writer");
	if (gs_wait_exit(h->target, GS_WAIT_MS, NULL))
		gs_fail("target still running %d ms after the READ was answered",
			GS_WAIT_MS);
	gs_fuse_stop(fs);
	gs_note("READ of %zu bytes at %ld held", size, off);
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
