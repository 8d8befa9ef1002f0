// SPDX-License-Identifier: GPL-2.0
/*
 * gup_stall_remote: remote GUP into memory that is stalled, swapped out
 * or changed while the caller waits.
 *
 * process_vm_readv/writev pin the target's pages with
 * pin_user_pages_remote() and a "locked" argument: the kernel may drop
 * the target's mmap_lock while a fault waits (VM_FAULT_RETRY with
 * FOLL_UNLOCKABLE), so a userfaultfd stall must not block writers of the
 * target mm, and the address space may change before the call goes on.
 * The call then has to return what it really copied: a short count with
 * the right prefix, never stale or foreign data, never a hang.
 *
 * /proc/pid/mem and PTRACE_PEEKDATA use GUP without "locked": they cannot
 * retry, so a fault that would wait on a userfaultfd fails at once (EIO)
 * and must not reach the handler.
 *
 * The cell process owns the memory and the staller; the caller is a
 * child process that reads or writes the cell process.
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
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "../kselftest.h"
#include "gup_stall.h"

enum caller { READV, WRITEV, PROCMEM, PEEKDATA, NR_CALLERS };

static const struct gs_caller callers[] = {
	[READV] = { "process_vm_readv", GS_SEM_SHORT },
	[WRITEV] = { "process_vm_writev", GS_SEM_SHORT },
	/* GUP without "locked": no retry, so no short count either */
	[PROCMEM] = { "proc-pid-mem", GS_SEM_SHORT },
	[PEEKDATA] = { "ptrace-peekdata", GS_SEM_SHORT },
};

#define SEED_MEM	0x11	/* what the target memory holds */
#define SEED_CALLER	0x22	/* what process_vm_writev writes */
#define FILL_BYTE	0xaa	/* reader's buffer before the call */

/* Shared between the cell process and its caller process. */
struct call {
	int caller;
	pid_t target;
	pid_t tid;		/* the stopped thread for PEEKDATA */
	unsigned long addr;
	size_t len;
	char *buf;
	bool catch_usr1;
	bool write;		/* PROCMEM: pwrite instead of pread */
	long ret;
	int err;
	int handled;
};

static struct call *the_call;

static void on_usr1(int sig)
{
	the_call->handled++;
}

static long proc_mem_rw(struct call *k)
{
	char path[64];
	long ret;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", k->target);
	fd = open(path, k->write ? O_RDWR : O_RDONLY);
	if (fd < 0)
		return -1;
	if (k->write)
		ret = pwrite(fd, k->buf, k->len, k->addr);
	else
		ret = pread(fd, k->buf, k->len, k->addr);
	close(fd);
	return ret;
}

static long peek_data(struct call *k)
{
	long v;
	int st;

	if (ptrace(PTRACE_SEIZE, k->tid, 0, 0) ||
	    ptrace(PTRACE_INTERRUPT, k->tid, 0, 0) ||
	    waitpid(k->tid, &st, __WALL) != k->tid)
		return -2;
	errno = 0;
	v = ptrace(PTRACE_PEEKDATA, k->tid, k->addr, 0);
	k->err = errno;
	ptrace(PTRACE_DETACH, k->tid, 0, 0);
	errno = k->err;
	if (v == -1 && errno)
		return -1;
	memcpy(k->buf, &v, sizeof(v));
	return sizeof(v);
}

/* Runs in the caller process. */
static void do_call(void *arg)
{
	struct call *k = arg;
	struct iovec local = { k->buf, k->len };
	struct iovec remote = { (void *)k->addr, k->len };

	the_call = k;
	if (k->catch_usr1) {
		struct sigaction sa = { .sa_handler = on_usr1 };

		/* no SA_RESTART: an interrupted call would show EINTR */
		sigaction(SIGUSR1, &sa, NULL);
	}
	errno = 0;
	switch (k->caller) {
	case READV:
		k->ret = process_vm_readv(k->target, &local, 1, &remote, 1, 0);
		break;
	case WRITEV:
		k->ret = process_vm_writev(k->target, &local, 1, &remote, 1, 0);
		break;
	case PROCMEM:
		k->ret = proc_mem_rw(k);
		break;
	case PEEKDATA:
		k->ret = peek_data(k);
		break;
	}
	k->err = errno;
}

static struct call *new_call(const struct gs_cell *c, unsigned long addr,
			     size_t len)
{
	struct call *k = gs_shared_alloc(sizeof(*k));

	k->caller = c->caller;
	k->target = getpid();
	k->addr = addr;
	k->len = len;
	k->buf = gs_shared_alloc(len);
	k->write = c->caller == PROCMEM && c->disturb == GS_D_FORCE_WRITE;
	if (c->caller == WRITEV || k->write)
		gs_fill(k->buf, len, SEED_CALLER, 0);
	else
		memset(k->buf, FILL_BYTE, len);
	k->catch_usr1 = c->disturb == GS_D_SIGUSR1;
	return k;
}

static const char *cname(const struct gs_cell *c)
{
	return callers[c->caller].name;
}

static void wait_caller(const struct gs_cell *c, pid_t pid, const char *when)
{
	gs_phase("waiting for %s to return %s", cname(c), when);
	if (gs_wait_exit(pid, GS_WAIT_MS, NULL))
		gs_fail("%s still blocked %d ms %s", cname(c), GS_WAIT_MS,
			when);
}

/*
 * What the caller must have moved: the first n bytes hold the target's
 * (reads) or the caller's (writes) pattern; a reader's buffer beyond
 * them is untouched.
 */
static void check_transfer(const struct gs_cell *c, struct gs_region *r,
			   struct call *k, size_t n)
{
	if (n == 0)
		gs_check_err(cname(c), k->ret, k->err, EFAULT);
	else
		gs_check_ret(cname(c), k->ret, n);
	if (c->caller == READV) {
		gs_check_data("the bytes read", k->buf, n, SEED_MEM, 0);
		gs_check_bytes("the reader's buffer past the count",
			       k->buf + n, k->len - n, FILL_BYTE);
	} else {
		gs_check_data("the target after the write", r->addr, n,
			      SEED_CALLER, 0);
	}
}

static void signal_caller(const struct gs_cell *c, pid_t pid)
{
	gs_signal_sleeper(pid, SIGUSR1, cname(c));
	gs_note("SIGUSR1 pending while stalled");
}

/*
 * NUMA disturbances (gs_disturb_memory()): process_vm_readv/writev pin
 * every page of the call before they copy, so page 0 is pinned while the
 * caller waits for page GS_HELD: it must not move, and must move once
 * the call has returned.
 *
 * The caller is a forked child: private pages it inherits are shared
 * with it, so its pins would unshare (copy) them, and move_pages() with
 * MPOL_MF_MOVE refuses them (EACCES). Keep the region out of the child,
 * so that the pages the cell moves are the ones the caller reaches.
 */
static void keep_from_caller(const struct gs_cell *c, struct gs_region *r)
{
	if (c->disturb < GS_D_MIGRATE)
		return;
	if (madvise(r->map, r->map_len, MADV_DONTFORK))
		gs_fail("MADV_DONTFORK: %s", strerror(errno));
}

/* The hooks of the stalled-cell flow (gup_stall_flow.c) */

static void start_call(struct gs_stalled *s)
{
	struct call *k = new_call(s->c, (unsigned long)s->r.addr, s->r.len);

	keep_from_caller(s->c, &s->r);
	s->call = k;
	s->tid = gs_spawn(do_call, k);
}

static void signal_call(struct gs_stalled *s)
{
	signal_caller(s->c, s->tid);
}

static void kill_call(struct gs_stalled *s)
{
	gs_note("reaped %ld ms after SIGKILL",
		gs_kill_reap(s->tid, cname(s->c)));
}

/* A short count of exactly the pages the disturbance left. */
static void finish_call(struct gs_stalled *s)
{
	const struct gs_cell *c = s->c;
	struct call *k = s->call;
	int left = s->want.pages;

	wait_caller(c, s->tid, "after the release");
	check_transfer(c, &s->r, k, left * s->r.psize);
	if (left < c->npages)
		gs_note("short count %ld/%zu", k->ret, s->r.len);
	if (c->disturb == GS_D_SIGUSR1 && k->handled != 1)
		gs_fail("SIGUSR1 handler ran %d times, want once", k->handled);
	gs_check_migrated(s, c->caller == WRITEV ? SEED_CALLER : SEED_MEM);
}

static bool call_writes(const struct gs_cell *c)
{
	return c->caller == WRITEV;
}

static const struct gs_flow remote_flow = {
	.seed = SEED_MEM, .callers = callers, .pins = true,
	.start = start_call, .signal = signal_call, .kill = kill_call,
	.finish = finish_call, .writes = call_writes,
};

/* Remote read or write into a region stalled by userfaultfd. */
static void run_stall(const struct gs_cell *c)
{
	gs_stalled_cell(c, &remote_flow);
}

/* Remote read or write of memory that is swapped out or on disk only. */
static void run_plain(const struct gs_cell *c)
{
	struct gs_region r;
	struct call *k;
	int numa_dst = 0;
	pid_t pid;

	gs_region_map(&r, c->b, c->npages);
	if (c->b->kind == GS_EXT4)
		gs_region_fill_cache(&r, SEED_MEM);
	else
		gs_fill(r.addr, r.len, SEED_MEM, 0);
	if (c->stall == GS_STALL_SWAPIN)
		gs_region_pageout(&r);
	if (c->stall == GS_STALL_IO)
		gs_region_evict(&r);
	if (c->disturb == GS_D_MIGRATE_BEFORE) {
		numa_dst = gs_numa_other(gs_page_node(r.addr));
		gs_migrate(&r, 0, r.npages, numa_dst, 0);
	}
	k = new_call(c, (unsigned long)r.addr, r.len);
	keep_from_caller(c, &r);
	pid = gs_spawn(do_call, k);
	wait_caller(c, pid, "");
	check_transfer(c, &r, k, r.len);
	if (c->disturb == GS_D_MIGRATE_BEFORE)
		gs_check_node(&r, 0, r.npages, numa_dst, "after the call");
	gs_region_unmap(&r);
}

static void *idle_thread(void *arg)
{
	pid_t *tid = arg;

	__atomic_store_n(tid, gettid(), __ATOMIC_RELEASE);
	for (;;)
		pause();
	return NULL;
}

/*
 * /proc/pid/mem and PTRACE_PEEKDATA on a page that would wait for
 * userfaultfd: GUP without "locked" cannot drop mmap_lock, so the fault
 * must fail at once (EIO) without queuing a message.
 */
static void run_nolock(const struct gs_cell *c)
{
	struct gs_staller *st;
	struct gs_region r;
	pid_t tid = 0;
	struct call *k;
	pthread_t thr;
	pid_t pid;

	gs_region_map(&r, c->b, c->npages);
	st = gs_staller_start(&r, GS_UFFD_MISSING, SEED_MEM, ~0ULL);
	k = new_call(c, (unsigned long)r.addr, 8);
	if (c->caller == PEEKDATA) {
		if (pthread_create(&thr, NULL, idle_thread, &tid))
			gs_fail("pthread_create failed");
		gs_wait_flag(&tid, 0, "the idle thread to start");
		k->tid = tid;
	}
	pid = gs_spawn(do_call, k);
	gs_phase("waiting for %s, which must not wait", cname(c));
	if (gs_wait_exit(pid, GS_WAIT_MS, NULL)) {
		gs_staller_release_all(st);
		gs_fail("%s blocked on a userfaultfd page for %d ms; %s",
			cname(c), GS_WAIT_MS,
			"it cannot drop mmap_lock and must fail at once");
	}
	if (k->ret == -2)
		gs_fail("ptrace attach to thread %d: %s", k->tid,
			strerror(k->err));
	gs_check_err(cname(c), k->ret, k->err, EIO);
	if (gs_staller_total(st))
		gs_fail("%d userfaultfd message(s) from a caller that cannot wait",
			gs_staller_total(st));
	gs_staller_stop(st);
	gs_region_unmap(&r);
}

static unsigned long stack_start(void)
{
	unsigned long start = 0, s, e;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		gs_fail("open maps: %s", strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "[stack]") &&
		    sscanf(line, "%lx-%lx", &s, &e) == 2)
			start = s;
	fclose(f);
	if (!start)
		gs_skip("no [stack] in /proc/self/maps");
	return start;
}

/*
 * A remote access just below the target's stack VMA. Since 6.5 (StackRot)
 * GUP itself never grows the stack: process_vm_readv fails with EFAULT
 * and the stack stays as it is. /proc/pid/mem (__access_remote_vm) grows
 * the stack on purpose, with mmap_lock held for writing, and reads the
 * new page's zeros. The kernel may log its once-an-hour notice that GUP
 * no longer grows the stack; nothing else.
 */
static void run_below_stack(const struct gs_cell *c)
{
	unsigned long start = stack_start();
	size_t ps = getpagesize();
	struct call *k;
	pid_t pid;

	k = new_call(c, start - ps, ps);
	pid = gs_spawn(do_call, k);
	wait_caller(c, pid, "");
	if (c->caller == READV) {
		gs_check_err(cname(c), k->ret, k->err, EFAULT);
		if (stack_start() != start)
			gs_fail("process_vm_readv grew the stack from %#lx to %#lx",
				start, stack_start());
		return;
	}
	gs_check_ret(cname(c), k->ret, ps);
	gs_check_bytes("the new stack page", k->buf, ps, 0);
	if (stack_start() != start - ps)
		gs_fail("the stack starts at %#lx, want %#lx after the access",
			stack_start(), start - ps);
}

/*
 * A write through /proc/pid/mem (FOLL_FORCE) into a read-only private
 * file mapping whose pages are mapped: it succeeds, the mapping sees the
 * new bytes from then on, and the file does not. GUP must not follow the
 * read-only pte of the page cache page for the write: it breaks COW and
 * writes the private anonymous copy (Dirty COW and its 6.0 sequel were
 * writes that reached the page cache).
 */
static void run_force_write(const struct gs_cell *c)
{
	struct gs_region r;
	struct call *k;
	char *file;
	pid_t pid;

	gs_region_map(&r, c->b, c->npages);
	gs_region_fill_cache(&r, SEED_MEM);
	if (mprotect(r.addr, r.len, PROT_READ))
		gs_fail("mprotect PROT_READ: %s", strerror(errno));
	/* map the page cache pages read-only: reading them does */
	gs_check_data("the mapping before the write", r.addr, r.len,
		      SEED_MEM, 0);
	k = new_call(c, (unsigned long)r.addr, r.len);
	pid = gs_spawn(do_call, k);
	wait_caller(c, pid, "");
	gs_check_ret(cname(c), k->ret, r.len);
	file = mmap(NULL, r.len, PROT_READ, MAP_SHARED, r.fd, 0);
	if (file == MAP_FAILED)
		gs_fail("mmap of the file: %s", strerror(errno));
	/* a FOLL_FORCE write must go to a COW copy, never to the file */
	gs_check_data("the file behind the read-only private mapping", file,
		      r.len, SEED_MEM, 0);
	munmap(file, r.len);
	gs_check_data("the private mapping after the write", r.addr, r.len,
		      SEED_CALLER, 0);
	gs_region_unmap(&r);
}

/* The cells */

#define RW	(GS_BIT(READV) | GS_BIT(WRITEV))
#define NOLOCK	(GS_BIT(PROCMEM) | GS_BIT(PEEKDATA))
#define CHANGES	(GS_BIT(GS_D_NONE) | GS_BIT(GS_D_MUNMAP_TAIL) |		\
		 GS_BIT(GS_D_MUNMAP_STALLED) | GS_BIT(GS_D_MREMAP_TAIL) |	\
		 GS_BIT(GS_D_MPROTECT_TAIL) | GS_BIT(GS_D_FORK) |		\
		 GS_BIT(GS_D_SIGUSR1) | GS_BIT(GS_D_SIGKILL))
#define MOVES	(GS_BIT(GS_D_MIGRATE) | GS_BIT(GS_D_MIGRATE_STALLED) |	\
		 GS_BIT(GS_D_MBIND))

static const struct gs_case stall_cases[] = {
	{
		.purpose =
			"the call sleeps on a missing page with mmap_lock dropped and returns exactly the pages the change, signal or kill left",
		.run = run_stall, .callers = RW, .uffd = GS_UFFD_MISSING,
		.stall = GS_STALL_MISSING, .disturbs = CHANGES,
		.needs = GS_NEED_UFFD,
	}, {
		.purpose =
			"a write waits on a write-protected page, then writes all of it",
		.run = run_stall, .callers = GS_BIT(WRITEV), .uffd = GS_UFFD_WP,
		.stall = GS_STALL_WP, .disturbs = GS_UNDISTURBED,
		.needs = GS_NEED_UFFD,
	}, {
		.purpose =
			"the page is zapped again before the FOLL_TRIED retry: it faults twice, and the retry may drop the lock again",
		.run = run_stall, .callers = RW, .backings = "anon",
		.stall = GS_STALL_MISSING, .disturbs = GS_BIT(GS_D_REFAULT),
		.needs = GS_NEED_UFFD,
	}, {
		.purpose = "a minor fault on page cache waits for UFFDIO_CONTINUE",
		.run = run_stall, .callers = RW, .uffd = GS_UFFD_MINOR,
		.stall = GS_STALL_MINOR, .disturbs = GS_UNDISTURBED,
		.needs = GS_NEED_UFFD,
	},
};

static const struct gs_case plain_cases[] = {
	{
		.purpose = "the whole range, with nothing in the way",
		.run = run_plain, .callers = RW, .stall = GS_STALL_NONE,
		.disturbs = GS_UNDISTURBED,
	}, {
		.purpose = "pages dropped from the page cache are read from disk",
		.run = run_plain, .callers = RW,
		.backings = "ext4-private ext4-shared",
		.stall = GS_STALL_IO, .disturbs = GS_UNDISTURBED,
	}, {
		.purpose = "pages swapped out to zram come back with their data",
		.run = run_plain, .callers = RW, .backings = "anon memfd",
		.no_thp = true, .stall = GS_STALL_SWAPIN,
		.disturbs = GS_UNDISTURBED, .needs = GS_NEED_SWAP,
		.npages = 16,
	},
};

/* a page under migration is one more wait for GUP; the data must follow */
static const struct gs_case numa_cases[] = {
	{
		.purpose = "pages move to another NUMA node while the call waits",
		.run = run_stall, .callers = RW, .backings = "anon thp memfd",
		.stall = GS_STALL_MISSING, .disturbs = MOVES,
		.needs = GS_NEED_UFFD | GS_NEED_NUMA,
	}, {
		.purpose = "pages moved to another node before the call",
		.run = run_plain, .callers = RW, .backings = "anon thp memfd",
		.stall = GS_STALL_NONE, .disturbs = GS_BIT(GS_D_MIGRATE_BEFORE),
		.needs = GS_NEED_NUMA,
	}, {
		.purpose = "a present, write-protected page moves under the writer",
		.run = run_stall, .callers = GS_BIT(WRITEV),
		.backings = "anon memfd",
		.stall = GS_STALL_WP, .disturbs = GS_BIT(GS_D_MIGRATE_STALLED),
		.needs = GS_NEED_UFFD | GS_NEED_NUMA,
	},
};

static const struct gs_case nolock_cases[] = {
	{
		.purpose =
			"GUP without \"locked\" cannot wait on userfaultfd: EIO at once, no message",
		.run = run_nolock, .callers = NOLOCK, .backings = "anon memfd",
		.stall = GS_STALL_MISSING, .disturbs = GS_UNDISTURBED,
		.needs = GS_NEED_UFFD,
		.kmsg_allow = "FAULT_FLAG_ALLOW_RETRY missing",
	}, {
		.purpose =
			"just below the stack: GUP does not grow it, /proc/pid/mem does under the write lock",
		.run = run_below_stack, .callers = GS_BIT(READV) | GS_BIT(PROCMEM),
		.backings = "stack", .stall = GS_STALL_NONE,
		.disturbs = GS_BIT(GS_D_BELOW_STACK),
		.kmsg_allow = "GUP no longer grows the stack",
	}, {
		.purpose =
			"a FOLL_FORCE write into a read-only private file mapping breaks COW: the file stays",
		.run = run_force_write, .callers = GS_BIT(PROCMEM),
		.backings = "ext4-private", .stall = GS_STALL_NONE,
		.disturbs = GS_BIT(GS_D_FORCE_WRITE),
	},
};

static const struct gs_table tables[] = {
	{ stall_cases, ARRAY_SIZE(stall_cases) },
	{ plain_cases, ARRAY_SIZE(plain_cases) },
	{ numa_cases, ARRAY_SIZE(numa_cases) },
	{ nolock_cases, ARRAY_SIZE(nolock_cases) },
};

int main(int argc, char **argv)
{
	return gs_main(argc, argv, NULL, callers, NR_CALLERS, tables,
		       ARRAY_SIZE(tables));
}
