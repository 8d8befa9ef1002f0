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
#include <sched.h>
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
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifdef HAVE_LIBFUSE3
#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>
#endif

#include "../kselftest.h"
#include "gup_stall.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ	22
#define MADV_POPULATE_WRITE	23
#endif

enum caller {
	C_PREAD, C_PWRITE, C_MLOCK, C_ONFAULT, C_MMAP_POP, C_MLOCKALL,
	C_MLOCKALL_FUTURE, C_PROC_MEM,
};

enum stall { ST_NONE, ST_MISSING, ST_WP, ST_SWAPIN };
enum disturb {
	D_NONE, D_MUNMAP_TAIL, D_MUNMAP_STALLED, D_MREMAP_TAIL,
	D_MPROTECT_TAIL, D_SIGUSR1, D_SIGKILL, D_PROT_NONE, D_PROT_READ,
	D_HOLE, D_KILL_SERVER, D_MIGRATE, D_MBIND,
};

static const char * const caller_names[] = {
	"madv_populate_read", "madv_populate_write", "mlock", "mlock_onfault",
	"map_populate", "mlockall_current", "mlockall_future", "proc-pid-mem",
};

static const char * const stall_names[] = {
	"none", "missing", "wp", "swapin",
};

static const char * const disturb_names[] = {
	"none", "munmap-tail", "munmap-stalled", "mremap-tail",
	"mprotect-tail", "sigusr1", "sigkill", "prot-none", "prot-read",
	"hole", "kill-server", "migrate", "mbind",
};

/* Special memory a cell maps itself rather than through gs_backings[]. */
enum special { SP_NONE, SP_VVAR, SP_FUSE_EIO, SP_FUSE_DATA, SP_FUSE_TAIL };
static const char * const special_names[] = {
	"", "vvar", "fuse-eio", "fuse-data", "fuse-eio-tail",
};

#define HELD		1	/* the stalled page; earlier ones resolve at once */
#define SEED		0x33	/* what the memory holds */
#define SEED_FUSE	0x44	/* what the readable FUSE file holds */
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
	int file;		/* enum special: which FUSE file */
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
	return caller_names[c->caller];
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

static void wait_tid(struct call *k)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!__atomic_load_n(&k->tid, __ATOMIC_ACQUIRE)) {
		if (gs_ms_since(&t0) > GS_WAIT_MS)
			gs_fail("the caller thread did not start in %d ms",
				GS_WAIT_MS);
		usleep(100);
	}
}

/* Start the caller as a thread of this process: it shares the mm. */
static void start_thread(const struct gs_cell *c, struct call *k)
{
	pthread_t thr;

	if (c->disturb == D_SIGUSR1) {
		struct sigaction sa = { .sa_handler = on_usr1 };

		/* no SA_RESTART: an interrupted call would show EINTR */
		sigaction(SIGUSR1, &sa, NULL);
	}
	if (pthread_create(&thr, NULL, call_thread, k))
		gs_fail("pthread_create failed");
	pthread_detach(thr);
	wait_tid(k);
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

/* Pages of [addr, addr + npages * psize) mapped present (pagemap bit 63). */
static int pages_present(const char *addr, int npages, size_t psize)
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
		if (e & (1ULL << 63))
			n++;
	}
	close(fd);
	return n;
}

/* The first npages pages are present and hold the pattern of seed. */
static void check_populated(const char *what, const char *addr, int npages,
			    size_t psize, __u64 seed)
{
	int n = pages_present(addr, npages, psize);

	if (n != npages)
		gs_fail("%d of %d pages present after %s", n, npages, what);
	gs_check_data(what, addr, npages * psize, seed, 0);
}

/* Private writable mappings make mlock fault for writing (to break COW). */
static bool faults_write(const struct gs_cell *c)
{
	return c->caller == C_PWRITE || (c->caller == C_MLOCK && !c->b->shared);
}

/* userfaultfd stalls */

static unsigned int uffd_mode(int stall)
{
	return stall == ST_WP ? GS_UFFD_WP : GS_UFFD_MISSING;
}

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

/*
 * NUMA disturbances. The populate callers fault pages in without taking
 * references to them, so page 0, already populated, is free to move
 * while the caller waits for page HELD.
 */
static int numa_dst;

static void migrate(const struct gs_cell *c, struct gs_region *r)
{
	numa_dst = gs_numa_other(gs_page_node(r->addr));
	if (c->disturb == D_MIGRATE)
		gs_migrate(r, 0, r->npages, numa_dst, 0);
	else
		gs_mbind(r, numa_dst);
	gs_check_node(r, 0, 1, numa_dst, "the populated page");
}

/* After the call: the moved page stayed, later faults followed mbind. */
static void check_migrated(const struct gs_cell *c, struct gs_region *r)
{
	if (c->disturb == D_MIGRATE) {
		gs_check_node(r, 0, 1, numa_dst, "after the call");
		gs_note("pages faulted in after the move on node %d",
			gs_page_node(r->addr + HELD * r->psize));
	} else if (c->disturb == D_MBIND) {
		gs_check_node(r, 0, r->npages, numa_dst, "after the call");
	}
}

/* Change the address space while the caller waits for the held page. */
static void disturb(const struct gs_cell *c, struct gs_region *r,
		    struct call *k)
{
	switch (c->disturb) {
	case D_MUNMAP_TAIL:
		gs_region_change(r, GS_MUNMAP_TAIL, HELD);
		break;
	case D_MUNMAP_STALLED:
		gs_region_change(r, GS_MUNMAP_STALLED, HELD);
		break;
	case D_MREMAP_TAIL:
		gs_region_change(r, GS_MREMAP_TAIL, HELD);
		break;
	case D_MPROTECT_TAIL:
		gs_region_change(r, GS_MPROTECT_TAIL, HELD);
		break;
	case D_SIGUSR1:
		signal_caller(c, k);
		break;
	case D_MIGRATE:
	case D_MBIND:
		migrate(c, r);
		break;
	}
}

/* Disturbances after which every page can still be populated. */
static bool disturb_harmless(int d)
{
	return d == D_NONE || d == D_SIGUSR1 || d == D_MIGRATE || d == D_MBIND;
}

/* Pages that stay mapped and populated in front of the disturbance. */
static int pages_kept(const struct gs_cell *c)
{
	if (disturb_harmless(c->disturb))
		return c->npages;
	switch (c->disturb) {
	case D_MUNMAP_STALLED:
		return HELD;
	default:
		return HELD + 1;
	}
}

/*
 * MADV_POPULATE stops at the first page it cannot fault in: the pages
 * before it faulted once each, and the error says why it stopped.
 */
static void check_madvise(const struct gs_cell *c, struct gs_region *r,
			  struct gs_staller *st, struct call *k)
{
	int kept = pages_kept(c);

	if (disturb_harmless(c->disturb))
		gs_check_ret(cname(c), k->ret, 0);
	else if (c->disturb == D_MPROTECT_TAIL)
		gs_check_err(cname(c), k->ret, k->err, EINVAL);
	else
		gs_check_err(cname(c), k->ret, k->err, ENOMEM);
	check_populated(cname(c), r->addr, kept, r->psize, SEED);
	gs_staller_check_msgs(st, 0, kept == c->npages ? kept - 1 : HELD,
			      faults_write(c));
}

/*
 * mlock() sets VM_LOCKED on the range, then __mm_populate() faults it
 * in; after each mmap_lock drop it looks the VMAs up again from the
 * first page not done (6.12 mm/gup.c). So a VMA unmapped or moved away
 * ends the range (0), a hole is skipped and what follows is populated
 * (0), and a PROT_NONE VMA fails populate_vma_page_range() with EFAULT,
 * which mlock reports as ENOMEM. One return per disturbance.
 */
static int mlock_errno(const struct gs_cell *c)
{
	return c->disturb == D_MPROTECT_TAIL ? ENOMEM : 0;
}

/* Whether mlock leaves page i of the region present. */
static bool mlock_present(const struct gs_cell *c, int i)
{
	switch (c->disturb) {
	case D_MUNMAP_TAIL:
	case D_MREMAP_TAIL:
	case D_MPROTECT_TAIL:
		return i <= HELD;
	case D_MUNMAP_STALLED:
		return i != HELD;
	default:
		return true;
	}
}

/* Whether page i is still mapped where it was (present or not). */
static bool mlock_mapped(const struct gs_cell *c, int i)
{
	return mlock_present(c, i) ||
	       (c->disturb == D_MPROTECT_TAIL && i > HELD);
}

/* Every page present or absent as want says, nothing else. */
static void check_presence(const char *what, struct gs_region *r,
			   const struct gs_cell *c,
			   bool (*want)(const struct gs_cell *c, int i))
{
	int i;

	for (i = 0; i < r->npages; i++) {
		bool w = want(c, i) != (gs_inject == GS_INJECT_PRESENT && !i);
		bool p = pages_present(r->addr + i * r->psize, 1, r->psize);

		if (p != w)
			gs_fail("page presence: page %d %s after %s, want %s",
				i, p ? "present" : "absent", what,
				w ? "present" : "absent");
	}
}

/*
 * VM_LOCKED ("lo") on every VMA still in the range; mlock never sets
 * it on hugetlb VMAs (mlock_fixup() skips them).
 */
static void check_locked(const struct gs_cell *c, struct gs_region *r,
			 const char *flag)
{
	bool want = c->b->kind != GS_HUGETLB;
	int i, has;

	if (gs_inject == GS_INJECT_LOCKED)
		want = !want;
	for (i = 0; i < r->npages; i++) {
		if (c->caller == C_MLOCK && !mlock_mapped(c, i))
			continue;
		has = gs_vma_flag(r->addr + i * r->psize, flag);
		if (has != want)
			gs_fail("VM_LOCKED: the VMA of page %d %s VmFlags '%s' after %s, want %s",
				i, has < 0 ? "is gone, no" : has ? "has" : "lacks",
				flag, cname(c), want ? "it" : "none");
	}
}

static void check_mlock(const struct gs_cell *c, struct gs_region *r,
			struct gs_staller *st, struct call *k)
{
	int i, n, want;

	if (mlock_errno(c))
		gs_check_err(cname(c), k->ret, k->err, mlock_errno(c));
	else
		gs_check_ret(cname(c), k->ret, 0);
	check_presence(cname(c), r, c, mlock_present);
	gs_check_data(cname(c), r->addr, HELD * r->psize, SEED, 0);
	check_locked(c, r, "lo");
	if (disturb_harmless(c->disturb)) {
		gs_check_data(cname(c), r->addr, r->len, SEED, 0);
		gs_staller_check_msgs(st, 0, c->npages - 1, faults_write(c));
		return;
	}
	/* pages faulted exactly once, pages never reached not at all */
	for (i = 0; i < c->npages; i++) {
		n = gs_staller_count(st, i) + (gs_inject == GS_INJECT_MSGS);
		want = i <= HELD || mlock_present(c, i);
		if (n != want)
			gs_fail("userfaultfd messages: page %d got %d, want %d",
				i, n, want);
	}
	gs_note("mlock returned %s", k->ret ? "ENOMEM" : "0");
}

/* Populate a region stalled by userfaultfd, disturbed during the stall. */
static void run_stall(const struct gs_cell *c)
{
	struct gs_staller *st;
	struct gs_region r;
	struct gs_msg msg;
	int err, want_usr1;
	struct call *k;

	gs_region_map(&r, c->b, c->npages);
	if (c->stall == ST_WP)
		gs_fill(r.addr, r.len, SEED, 0);
	st = gs_staller_start(&r, uffd_mode(c->stall), SEED, 1ULL << HELD);
	k = new_call(c, r.addr, r.len);
	start_thread(c, k);

	gs_staller_wait_held(st, HELD, &msg);
	if (msg.ptid != (__u32)k->tid)
		gs_fail("fault came from task %u, not from the caller %d",
			msg.ptid, k->tid);
	gs_wait_state(k->tid, "D", cname(c));
	gs_lockdrop_probe(k->tid, "D");
	disturb(c, &r, k);

	err = gs_staller_release(st, HELD);
	if (err)
		gs_note("resolving the stalled page: %s, woken",
			strerrorname_np(err));
	gs_staller_release_all(st);
	wait_done(c, k, GS_WAIT_MS, "after the release");
	if (c->caller == C_MLOCK)
		check_mlock(c, &r, st, k);
	else
		check_madvise(c, &r, st, k);
	want_usr1 = gs_inject == GS_INJECT_SIGNAL ? 2 : 1;
	if (c->disturb == D_SIGUSR1 && k->handled != want_usr1)
		gs_fail("signal count: SIGUSR1 handler ran %d times, want %d",
			k->handled, want_usr1);
	check_migrated(c, &r);
	gs_staller_stop(st);
	gs_region_unmap(&r);
}

static bool onfault_present(const struct gs_cell *c, int i)
{
	return false;
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
	check_presence(cname(c), &r, c, onfault_present);
	/*
	 * MLOCK_ONFAULT sets VM_LOCKED with VM_LOCKONFAULT; smaps names
	 * the latter ("lf") only on newer kernels, not on 6.1
	 */
	check_locked(c, &r, "lo");
	gs_note("0 in %ld ms, no fault", k->ms);
	gs_staller_release_all(st);
	gs_staller_stop(st);
	gs_region_unmap(&r);
}

/* SIGKILL: the caller lives in a sub-process with mapping and staller. */
struct killee {
	struct call k;
	const struct gs_backing *b;
	int npages;
	int held;
	__u32 ptid;
};

static void killee_fn(void *arg)
{
	struct killee *s = arg;
	struct gs_staller *st;
	struct gs_region r;
	struct gs_msg msg;
	pthread_t thr;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	gs_region_map(&r, s->b, s->npages);
	st = gs_staller_start(&r, GS_UFFD_MISSING, SEED, 1ULL << HELD);
	s->k.addr = r.addr;
	s->k.len = r.len;
	if (pthread_create(&thr, NULL, call_thread, &s->k))
		gs_fail("pthread_create failed");
	gs_staller_wait_held(st, HELD, &msg);
	s->ptid = msg.ptid;
	__atomic_store_n(&s->held, 1, __ATOMIC_RELEASE);
	for (;;)
		pause();
}

static void run_sigkill(const struct gs_cell *c)
{
	struct killee *s = gs_shared_alloc(sizeof(*s));
	struct timespec t0;
	int status;
	pid_t pid;
	long ms;

	s->k.caller = c->caller;
	s->b = c->b;
	s->npages = c->npages;
	pid = gs_spawn(killee_fn, s);
	gs_phase("waiting for %s in the sub-process to stall", cname(c));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!__atomic_load_n(&s->held, __ATOMIC_ACQUIRE)) {
		if (!gs_wait_exit(pid, 0, &status))
			gs_fail("the sub-process ended before the stall (status %#x)",
				status);
		if (gs_ms_since(&t0) > GS_WAIT_MS)
			gs_fail("%s did not stall within %d ms", cname(c),
				GS_WAIT_MS);
		usleep(200);
	}
	if (s->ptid != (__u32)s->k.tid)
		gs_fail("fault came from task %u, not from the caller %d",
			s->ptid, s->k.tid);
	gs_wait_state(s->k.tid, "D", cname(c));
	ms = gs_kill_reap(pid, cname(c));
	if (s->k.done)
		gs_fail("%s returned %ld before the kill", cname(c), s->k.ret);
	gs_note("reaped %ld ms after SIGKILL", ms);
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
	if (c->disturb == D_PROT_NONE && mprotect(p, len, PROT_NONE))
		gs_fail("mprotect PROT_NONE: %s", strerror(errno));
	if (c->disturb == D_PROT_READ && mprotect(p, len, PROT_READ))
		gs_fail("mprotect PROT_READ: %s", strerror(errno));
	if (c->disturb == D_HOLE) {
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

#ifdef HAVE_LIBFUSE3

/*
 * A FUSE filesystem of three files served by a thread of the process that
 * mounts it: "eio" answers every READ with EIO, "data" with the pattern
 * of SEED_FUSE, "eio-tail" with that pattern for its first TAIL_GOOD
 * pages and with EIO for a READ that reaches further. It is mounted in a
 * private mount namespace of that process, on a tmpfs of that namespace,
 * so mount and mount point vanish with the process even when it is
 * killed.
 */
#define INO_EIO		2
#define INO_DATA	3
#define INO_TAIL	4
#define FUSE_PAGES	4
#define TAIL_GOOD	2
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

static const char * const fuse_files[] = {
	[SP_FUSE_EIO] = "/tmp/fuse/eio",
	[SP_FUSE_DATA] = "/tmp/fuse/data",
	[SP_FUSE_TAIL] = "/tmp/fuse/eio-tail",
};

struct fusefs {
	struct fuse_session *se;
	pthread_t thread;
	char mnt[64];
	unsigned long *reads;	/* READ requests, in shared memory */
	bool hold;		/* keep the first READ of "data" unanswered */
	fuse_req_t held;	/* that READ, once it came */
	off_t held_off;
	size_t held_size;
	char data[FUSE_PAGES * 4096];
};

static struct fusefs *the_fs;

static size_t fuse_len(void)
{
	return FUSE_PAGES * getpagesize();
}

static void fs_stat(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = fuse_len();
	}
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = { 0 };

	if (parent == FUSE_ROOT_ID && !strcmp(name, "eio"))
		e.ino = INO_EIO;
	else if (parent == FUSE_ROOT_ID && !strcmp(name, "data"))
		e.ino = INO_DATA;
	else if (parent == FUSE_ROOT_ID && !strcmp(name, "eio-tail"))
		e.ino = INO_TAIL;
	if (!e.ino) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	e.attr_timeout = 3600;
	e.entry_timeout = 3600;
	fs_stat(e.ino, &e.attr);
	fuse_reply_entry(req, &e);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct stat st;

	if (ino != FUSE_ROOT_ID && ino != INO_EIO && ino != INO_DATA &&
	    ino != INO_TAIL) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fs_stat(ino, &st);
	fuse_reply_attr(req, &st, 3600);
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino == FUSE_ROOT_ID)
		fuse_reply_err(req, EISDIR);
	else
		fuse_reply_open(req, fi);
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	size_t len = fuse_len();

	__atomic_add_fetch(the_fs->reads, 1, __ATOMIC_RELAXED);
	/* negative control: a call stuck on a READ is no retry loop */
	if (gs_inject == GS_INJECT_STUCK_READ)
		return;
	if ((size_t)off >= len)
		size = 0;
	else if (size > len - off)
		size = len - off;
	if (ino == INO_DATA && the_fs->hold &&
	    !__atomic_load_n(&the_fs->held, __ATOMIC_ACQUIRE)) {
		the_fs->held_off = off;
		the_fs->held_size = size;
		__atomic_store_n(&the_fs->held, req, __ATOMIC_RELEASE);
		return;
	}
	if (ino == INO_EIO ||
	    (ino == INO_TAIL && off + size > TAIL_GOOD * (size_t)getpagesize())) {
		fuse_reply_err(req, EIO);
		return;
	}
	fuse_reply_buf(req, the_fs->data + off, size);
}

static const struct fuse_lowlevel_ops fs_ops = {
	.lookup = fs_lookup,
	.getattr = fs_getattr,
	.open = fs_open,
	.read = fs_read,
};

static void *fs_loop(void *arg)
{
	struct fusefs *fs = arg;

	fuse_session_loop(fs->se);
	return NULL;
}

/* Leave the runner's mount namespace: what is mounted now dies with us. */
static void private_mounts(void)
{
	if (unshare(CLONE_NEWNS))
		gs_fail("unshare(CLONE_NEWNS): %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		gs_fail("making / private: %s", strerror(errno));
}

static void fs_start(struct fusefs *fs)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);

	if (access("/dev/fuse", R_OK | W_OK))
		gs_skip("no /dev/fuse (%s): CONFIG_FUSE_FS, modprobe fuse",
			strerror(errno));
	the_fs = fs;
	fs->reads = gs_shared_alloc(sizeof(*fs->reads));
	gs_fill(fs->data, fuse_len(), SEED_FUSE, 0);
	private_mounts();
	/* the mount point lives on a tmpfs only this namespace sees */
	if (mount("gup_stall", "/tmp", "tmpfs", 0, "size=64k,mode=0700"))
		gs_fail("tmpfs on /tmp in the private namespace: %s",
			strerror(errno));
	snprintf(fs->mnt, sizeof(fs->mnt), "/tmp/fuse");
	if (mkdir(fs->mnt, 0700))
		gs_fail("mkdir %s: %s", fs->mnt, strerror(errno));
	if (fuse_opt_add_arg(&args, "gup_stall_populate"))
		gs_fail("fuse_opt_add_arg failed");
	fs->se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), NULL);
	fuse_opt_free_args(&args);
	if (!fs->se)
		gs_fail("fuse_session_new failed");
	if (fuse_session_mount(fs->se, fs->mnt))
		gs_fail("mounting the FUSE filesystem on %s failed", fs->mnt);
	if (pthread_create(&fs->thread, NULL, fs_loop, fs))
		gs_fail("pthread_create failed");
}

static bool fs_mounted(const char *mounts, const char *mnt)
{
	char line[512], dev[128], dir[256], type[64];
	bool found = false;
	FILE *f;

	f = fopen(mounts, "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%127s %255s %63s", dev, dir, type) == 3 &&
		    !strcmp(dir, mnt) && strstr(type, "fuse"))
			found = true;
	fclose(f);
	return found;
}

/* Unmount, stop the server thread (bounded), and prove the mount is gone. */
static void fs_stop(struct fusefs *fs)
{
	struct timespec deadline;

	gs_phase("unmounting the FUSE filesystem and stopping its server");
	fuse_session_exit(fs->se);
	fuse_session_unmount(fs->se);
	if (fs_mounted("/proc/self/mounts", fs->mnt))
		gs_fail("%s still mounted after fuse_session_unmount", fs->mnt);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += GS_REAP_MS / 1000;
	if (pthread_timedjoin_np(fs->thread, NULL, &deadline))
		gs_fail("FUSE server thread still running %d ms after the unmount",
			GS_REAP_MS);
	fuse_session_destroy(fs->se);
}

/* Bit i set: page i of [addr, addr + npages pages) is mapped. */
static unsigned int present_mask(const char *addr, int npages)
{
	size_t psize = getpagesize();
	unsigned int mask = 0;
	int i;

	for (i = 0; addr && i < npages; i++)
		if (pages_present(addr + i * psize, 1, psize))
			mask |= 1u << i;
	return mask;
}

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

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* only the server may hold /dev/fuse: its death must end the mount */
	close(fuse_session_fd(the_fs->se));
	fd = open(fuse_files[k->file], O_RDONLY);
	if (fd < 0)
		gs_fail("open %s: %s", fuse_files[k->file], strerror(errno));
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
	k->present = present_mask(addr, FUSE_PAGES);
	if (k->file == SP_FUSE_DATA && !k->ret && k->caller != C_ONFAULT)
		check_populated(caller_names[k->caller], addr, FUSE_PAGES,
				getpagesize(), SEED_FUSE);
	if (k->file == SP_FUSE_TAIL && (k->present & 1))
		gs_check_data(caller_names[k->caller], addr, getpagesize(),
			      SEED_FUSE, 0);
}

static pid_t spawn_fuse_caller(struct call *k, int file)
{
	k->len = fuse_len();
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

static unsigned long reads_of(struct fusefs *fs)
{
	return __atomic_load_n(fs->reads, __ATOMIC_RELAXED);
}

/* Wait for the caller; watch one still running for READs, then kill it. */
static void await_fuse_caller(const struct gs_cell *c, struct fusefs *fs,
			      struct call *k, pid_t pid, struct fuse_end *e)
{
	unsigned long before;
	int status = 0, i;

	gs_phase("waiting for %s on the FUSE file", cname(c));
	e->ended = !gs_wait_exit(pid, PROMPT_MS, &status);
	if (!e->ended) {
		before = reads_of(fs);
		gs_phase("watching the READ requests of the running %s",
			 cname(c));
		for (i = 0; i < RISE_MS / 10 && !e->rising && !e->slow; i++) {
			e->slow = !gs_wait_exit(pid, 10, &status);
			e->rising = reads_of(fs) > before;
		}
	}
	e->reads = reads_of(fs);
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
			e->reads, FUSE_PAGES, max_reads,
			"the failed read was retried");
	if (c->stall == SP_FUSE_TAIL)
		want = (1u << TAIL_GOOD) - 1;
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
	struct fusefs *fs = calloc(1, sizeof(*fs));
	struct fuse_end e = { 0 };
	struct call *k;
	pid_t pid;

	if (!fs)
		gs_fail("out of memory");
	fs_start(fs);
	k = new_call(c, NULL, 0);
	pid = spawn_fuse_caller(k, c->stall);
	await_fuse_caller(c, fs, k, pid, &e);
	fs_stop(fs);
	if (e.slow)
		gs_fail("%s returned only after more than %d ms (%lu READ requests)",
			cname(c), PROMPT_MS, e.reads);
	if (c->stall != SP_FUSE_DATA) {
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
	struct fusefs *fs = calloc(1, sizeof(*fs));
	struct stat st;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (!fs)
		gs_fail("out of memory");
	fs_start(fs);
	if (stat(fs->mnt, &st))
		gs_fail("stat %s: %s", fs->mnt, strerror(errno));
	s->conn = minor(st.st_dev);
	s->caller = spawn_fuse_caller(&s->k, SP_FUSE_EIO);
	/* the caller is in its retry loop once READs keep coming */
	while (__atomic_load_n(fs->reads, __ATOMIC_RELAXED) < 2 && !s->k.done)
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
	private_mounts();
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
	int status;
	pid_t pid;

	mount_fusectl();
	/* the caller, orphaned by the kill, is reaped here */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	s->k.caller = c->caller;
	s->k.fd = -1;
	pid = gs_spawn(server_fn, s);
	gs_phase("waiting for the FUSE server process to mount and serve");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE)) {
		if (!gs_wait_exit(pid, 0, &status))
			gs_fail("the FUSE server process ended early (status %#x)",
				status);
		if (gs_ms_since(&t0) > GS_WAIT_MS)
			gs_fail("no FUSE READ requests within %d ms", GS_WAIT_MS);
		usleep(200);
	}
	gs_watch_pid(s->caller);
	if (!conn_exists(s->conn))
		gs_fail("no FUSE connection %u while mounted", s->conn);
	snprintf(path, sizeof(path), "/proc/%d/mounts", pid);
	if (!fs_mounted(path, "/tmp/fuse"))
		gs_fail("the FUSE mount is not in the server's namespace");
	if (fs_mounted("/proc/self/mounts", "/tmp/fuse"))
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

/* Wait for *flag set by the child pid, which must stay alive meanwhile. */
static void await_flag(int *flag, pid_t pid, const char *what)
{
	struct timespec t0;
	int status;

	gs_phase("waiting for %s", what);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE)) {
		if (!gs_wait_exit(pid, 0, &status))
			gs_fail("process %d ended (status %#x) before %s", pid,
				status, what);
		if (gs_ms_since(&t0) > GS_WAIT_MS)
			gs_fail("no %s within %d ms", what, GS_WAIT_MS);
		usleep(200);
	}
}

static void target_fn(void *arg)
{
	struct holder *h = arg;
	int fd;

	close(fuse_session_fd(the_fs->se));
	/* Yama: the reader is a sibling, not an ancestor */
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY);
	fd = open(fuse_files[SP_FUSE_DATA], O_RDONLY);
	if (fd < 0)
		gs_fail("open %s: %s", fuse_files[SP_FUSE_DATA], strerror(errno));
	h->addr = mmap(NULL, fuse_len(), PROT_READ, MAP_SHARED, fd, 0);
	if (h->addr == MAP_FAILED)
		gs_fail("mmap the FUSE file: %s", strerror(errno));
	gs_lockdrop_arm();
	__atomic_store_n(&h->ready, 1, __ATOMIC_RELEASE);
	await_flag(&h->go, getppid(), "the go for the writer");
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

	/* only the server may hold /dev/fuse: its death must end the mount */
	close(fuse_session_fd(the_fs->se));
	snprintf(path, sizeof(path), "/proc/%d/mem", h->target);
	fd = open(path, O_RDONLY);
	if (fd < 0 || !buf)
		gs_fail("open %s: %s", path, strerror(errno));
	h->ret = pread(fd, buf, psize, (off_t)(unsigned long)h->addr);
	h->err = errno;
	if (h->ret == (long)psize)
		gs_check_data("/proc/pid/mem of the FUSE page", buf, psize,
			      SEED_FUSE, 0);
}

static void run_fuse_held(const struct gs_cell *c)
{
	struct holder *h = gs_shared_alloc(sizeof(*h));
	struct fusefs *fs = calloc(1, sizeof(*fs));

	if (!fs)
		gs_fail("out of memory");
	fs_start(fs);
	fs->hold = true;
	h->target = gs_spawn(target_fn, h);
	await_flag(&h->ready, h->target, "the target's mapping of the file");
	h->reader = gs_spawn(reader_fn, h);
	await_flag((int *)&fs->held, h->reader,
		   "the reader's READ request at the FUSE server");
	gs_wait_state(h->reader, "D", "the /proc/pid/mem reader");
	/* negative control: a task that cannot die yet meets the reap bound */
	if (gs_inject == GS_INJECT_REAP)
		gs_kill_reap(h->reader, "/proc/pid/mem reader");
	__atomic_store_n(&h->go, 1, __ATOMIC_RELEASE);
	await_flag(&h->probed, h->target, "the writer's verdict");
	fuse_reply_buf(fs->held, fs->data + fs->held_off, fs->held_size);
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
	fs_stop(fs);
	gs_note("READ of %zu bytes at %ld held", fs->held_size,
		(long)fs->held_off);
}

#else /* !HAVE_LIBFUSE3 */

static void run_fuse(const struct gs_cell *c)
{
	gs_skip("built without libfuse3 (install libfuse3-dev and rebuild)");
}

static void run_fuse_kill(const struct gs_cell *c)
{
	run_fuse(c);
}

static void run_fuse_held(const struct gs_cell *c)
{
	run_fuse(c);
}

#endif /* HAVE_LIBFUSE3 */

/* Cell table */

static struct gs_cell *add(gs_cell_fn fn, const struct gs_backing *b,
			   int caller, const char *stall, int dist,
			   unsigned int needs)
{
	struct gs_cell *c;

	c = gs_add_cell(fn, b, needs | gs_backing_needs(b), "%s %s %s %s",
			caller_names[caller], b ? b->name : stall,
			b ? stall : "none", disturb_names[dist]);
	c->caller = caller;
	c->disturb = dist;
	return c;
}

static void add_uffd(gs_cell_fn fn, const struct gs_backing *b, int caller,
		     int stall, int dist)
{
	add(fn, b, caller, stall_names[stall], dist, GS_NEED_UFFD)->stall =
		stall;
}

static void add_stall_cells(void)
{
	const struct gs_backing *anon = gs_find_backing("anon");
	int i, caller, d;

	for (i = 0; i < gs_nr_backings; i++) {
		const struct gs_backing *b = &gs_backings[i];

		if (!(b->uffd & GS_UFFD_MISSING))
			continue;
		for (caller = C_PREAD; caller <= C_MLOCK; caller++)
			add_uffd(run_stall, b, caller, ST_MISSING, D_NONE);
	}
	add_uffd(run_stall, anon, C_PWRITE, ST_WP, D_NONE);
	add_uffd(run_stall, gs_find_backing("memfd"), C_PWRITE, ST_WP, D_NONE);
	/* private writable: mlock breaks COW with a write fault, WP sees it */
	add_uffd(run_stall, anon, C_MLOCK, ST_WP, D_NONE);
	for (caller = C_PREAD; caller <= C_MLOCK; caller++) {
		for (d = D_MUNMAP_TAIL; d <= D_SIGUSR1; d++)
			add_uffd(run_stall, anon, caller, ST_MISSING, d);
		add_uffd(run_sigkill, anon, caller, ST_MISSING, D_SIGKILL);
	}
	add_uffd(run_stall, gs_find_backing("memfd"), C_PREAD, ST_MISSING, D_MUNMAP_TAIL);
	add_uffd(run_sigkill, gs_find_backing("memfd"), C_PREAD, ST_MISSING, D_SIGKILL);
	add_uffd(run_onfault, anon, C_ONFAULT, ST_MISSING, D_NONE);
}

/* Populated pages moved to another node while the caller waits. */
static void add_numa_cells(void)
{
	static const char * const names[] = { "anon", "memfd" };
	int i, caller;

	for (i = 0; i < (int)ARRAY_SIZE(names); i++)
		for (caller = C_PREAD; caller <= C_MLOCK; caller++) {
			add(run_stall, gs_find_backing(names[i]), caller, "missing",
			    D_MIGRATE, GS_NEED_UFFD | GS_NEED_NUMA)->stall =
				ST_MISSING;
			add(run_stall, gs_find_backing(names[i]), caller, "missing",
			    D_MBIND, GS_NEED_UFFD | GS_NEED_NUMA)->stall =
				ST_MISSING;
		}
}

static void add_swap_cells(void)
{
	const struct gs_backing *anon = gs_find_backing("anon");
	const struct gs_backing *memfd = gs_find_backing("memfd");
	int caller;

	for (caller = C_PREAD; caller <= C_MLOCK; caller++) {
		add(run_swap, anon, caller, "swapin", D_NONE,
		    GS_NEED_SWAP)->npages = 16;
		add(run_swap, memfd, caller, "swapin", D_NONE,
		    GS_NEED_SWAP)->npages = 16;
	}
	add(run_swap, memfd, C_MMAP_POP, "swapin", D_NONE,
	    GS_NEED_SWAP)->npages = 16;
}

static void add_error_cells(void)
{
	const struct gs_backing *anon = gs_find_backing("anon");
	int caller;

	for (caller = C_PREAD; caller <= C_PWRITE; caller++) {
		add(run_error, anon, caller, "none", D_PROT_NONE, 0);
		add(run_error, anon, caller, "none", D_HOLE, 0);
		add(run_error, NULL, caller, special_names[SP_VVAR], D_NONE, 0);
	}
	add(run_error, anon, C_PWRITE, "none", D_PROT_READ, 0);
	add(run_error, anon, C_MLOCK, "none", D_HOLE, 0);
}

static void add_fuse(int caller, int file)
{
	add(run_fuse, NULL, caller, special_names[file], D_NONE, 0)->stall =
		file;
}

static void add_fuse_cells(void)
{
	static const int eio[] = { C_PREAD, C_PWRITE, C_MLOCK, C_MMAP_POP,
				   C_ONFAULT };
	static const int data[] = { C_PREAD, C_MLOCK, C_MMAP_POP };
	/* added with the __mm_populate() fix: each path of its own */
	static const int more[] = { C_MLOCKALL, C_MLOCKALL_FUTURE };
	static const int tail[] = { C_PREAD, C_MLOCK, C_MMAP_POP };
	int i;

	for (i = 0; i < (int)ARRAY_SIZE(eio); i++)
		add_fuse(eio[i], SP_FUSE_EIO);
	for (i = 0; i < (int)ARRAY_SIZE(data); i++)
		add_fuse(data[i], SP_FUSE_DATA);
	add(run_fuse_kill, NULL, C_MLOCK, special_names[SP_FUSE_EIO],
	    D_KILL_SERVER, 0);
	for (i = 0; i < (int)ARRAY_SIZE(more); i++)
		add_fuse(more[i], SP_FUSE_EIO);
	for (i = 0; i < (int)ARRAY_SIZE(tail); i++)
		add_fuse(tail[i], SP_FUSE_TAIL);
	/* a caller that sleeps holding mmap_lock: the probe's other side */
	gs_add_cell(run_fuse_held, NULL, 0, "%s %s held-read none",
		    caller_names[C_PROC_MEM], special_names[SP_FUSE_DATA]);
}

int main(int argc, char **argv)
{
	gs_init(argc, argv, NULL);
	add_stall_cells();
	add_numa_cells();
	add_swap_cells();
	add_error_cells();
	add_fuse_cells();
	return gs_run();
}
