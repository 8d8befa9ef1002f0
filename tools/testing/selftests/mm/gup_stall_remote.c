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

enum caller { READV, WRITEV, PROCMEM, PEEKDATA };

enum stall { ST_NONE, ST_MISSING, ST_WP, ST_MINOR, ST_SWAPIN, ST_IO };

enum disturb {
	D_NONE, D_MUNMAP_TAIL, D_MUNMAP_STALLED, D_MREMAP_TAIL,
	D_MPROTECT_TAIL, D_FORK, D_SIGUSR1, D_SIGKILL, D_BELOW_STACK,
	D_MIGRATE, D_MIGRATE_STALLED, D_MBIND, D_MIGRATE_BEFORE, D_REFAULT,
	D_FORCE_WRITE,
};

static const char * const caller_names[] = {
	"process_vm_readv", "process_vm_writev", "proc-pid-mem",
	"ptrace-peekdata",
};

static const char * const stall_names[] = {
	"none", "missing", "wp", "minor", "swapin", "io",
};

static const char * const disturb_names[] = {
	"none", "munmap-tail", "munmap-stalled", "mremap-tail",
	"mprotect-tail", "fork", "sigusr1", "sigkill", "below-stack",
	"migrate", "migrate-stalled", "mbind", "migrate-before", "refault",
	"force-write",
};

/* The stalled page; pages before it are resolved at once. */
#define HELD		1
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
	k->write = c->caller == PROCMEM && c->disturb == D_FORCE_WRITE;
	if (c->caller == WRITEV || k->write)
		gs_fill(k->buf, len, SEED_CALLER, 0);
	else
		memset(k->buf, FILL_BYTE, len);
	k->catch_usr1 = c->disturb == D_SIGUSR1;
	return k;
}

static const char *cname(const struct gs_cell *c)
{
	return caller_names[c->caller];
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

/* Pages the call must still move after the disturbance. */
static int pages_left(const struct gs_cell *c)
{
	switch (c->disturb) {
	case D_MUNMAP_TAIL:
	case D_MREMAP_TAIL:
	case D_MPROTECT_TAIL:
		return HELD + 1;
	case D_MUNMAP_STALLED:
		return HELD;
	default:
		return c->npages;
	}
}

/* The last page that faults: the stalled one, or the last one moved. */
static int last_faulted(const struct gs_cell *c)
{
	if (c->disturb == D_SIGKILL || pages_left(c) <= HELD)
		return HELD;
	return pages_left(c) - 1;
}

static void fork_in_target(void)
{
	pid_t pid = fork();

	if (pid < 0)
		gs_fail("fork during the stall: %s", strerror(errno));
	if (!pid)
		_exit(0);
	gs_phase("waiting for fork() in the stalled mm");
	if (gs_wait_exit(pid, GS_WAIT_MS, NULL))
		gs_fail("fork's child not done in %d ms", GS_WAIT_MS);
}

static void signal_caller(const struct gs_cell *c, pid_t pid)
{
	struct timespec t0;

	kill(pid, SIGUSR1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!gs_sig_pending(pid, SIGUSR1) && gs_ms_since(&t0) < GS_WAIT_MS)
		usleep(100);
	/* a killable sleep stays asleep with the signal pending */
	gs_wait_state(pid, "D", cname(c));
	gs_note("SIGUSR1 %s while stalled",
		gs_sig_pending(pid, SIGUSR1) ? "pending" : "taken");
}

static void kill_caller(const struct gs_cell *c, pid_t pid)
{
	struct timespec t0;
	int status;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	kill(pid, SIGKILL);
	gs_phase("waiting for the SIGKILLed %s to be reaped", cname(c));
	if (gs_wait_exit(pid, GS_REAP_MS, &status))
		gs_fail("SIGKILLed %s not reaped within %d ms", cname(c),
			GS_REAP_MS);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		gs_fail("caller ended with status %#x, not by SIGKILL", status);
	gs_note("reaped %ld ms after SIGKILL", gs_ms_since(&t0));
}

/*
 * NUMA disturbances. process_vm_readv/writev pin every page of the call
 * before they copy, so page 0 is pinned while the caller waits for page
 * HELD: it must not move, and must move once the call has returned.
 */
static int numa_src, numa_dst;

static void migrate(const struct gs_cell *c, struct gs_region *r)
{
	numa_src = gs_page_node(r->addr);
	numa_dst = gs_numa_other(numa_src);
	switch (c->disturb) {
	case D_MIGRATE:
		gs_migrate(r, 0, r->npages, numa_dst, 1);
		break;
	case D_MIGRATE_STALLED:
		gs_migrate(r, HELD, 1, numa_dst, 0);
		break;
	case D_MBIND:
		gs_mbind(r, numa_dst);
		gs_check_node(r, 0, 1, numa_src, "the pinned page after mbind");
		break;
	}
}

/*
 * The caller is a forked child: private pages it inherits are shared
 * with it, so its pins would unshare (copy) them, and move_pages() with
 * MPOL_MF_MOVE refuses them (EACCES). Keep the region out of the child,
 * so that the pages the cell moves are the ones the caller reaches.
 */
static void keep_from_caller(const struct gs_cell *c, struct gs_region *r)
{
	if (c->disturb < D_MIGRATE)
		return;
	if (madvise(r->map, r->map_len, MADV_DONTFORK))
		gs_fail("MADV_DONTFORK: %s", strerror(errno));
}

/* After the call: where the pages are, and that nothing pins them now. */
static void check_migrated(const struct gs_cell *c, struct gs_region *r)
{
	unsigned long long seed = c->caller == WRITEV ? SEED_CALLER : SEED_MEM;

	switch (c->disturb) {
	case D_MIGRATE_STALLED:
		if (c->stall == ST_WP)
			gs_check_node(r, HELD, 1, numa_dst,
				      "the page written after its migration");
		break;
	case D_MBIND:
		/* faulted in after mbind: allocated by the new policy */
		gs_check_node(r, HELD, r->npages - HELD, numa_dst,
			      "pages faulted in after mbind");
		break;
	default:
		return;
	}
	gs_migrate(r, 0, r->npages, numa_dst, 0);
	gs_check_data("the target after the migration", r->addr, r->len,
		      seed, 0);
}

static void disturb(const struct gs_cell *c, struct gs_region *r, pid_t pid)
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
	case D_FORK:
		fork_in_target();
		break;
	case D_SIGUSR1:
		signal_caller(c, pid);
		break;
	case D_SIGKILL:
		kill_caller(c, pid);
		break;
	case D_MIGRATE:
	case D_MIGRATE_STALLED:
	case D_MBIND:
		migrate(c, r);
		break;
	}
}

static unsigned int uffd_mode(int stall)
{
	return stall == ST_WP ? GS_UFFD_WP :
	       stall == ST_MINOR ? GS_UFFD_MINOR : GS_UFFD_MISSING;
}

/* Remote read or write into a region stalled by userfaultfd. */
static void run_stall(const struct gs_cell *c)
{
	struct gs_staller *st;
	struct gs_region r;
	struct gs_msg msg;
	struct call *k;
	int err, left;
	pid_t pid;

	gs_region_map(&r, c->b, c->npages);
	if (c->stall == ST_WP)
		gs_fill(r.addr, r.len, SEED_MEM, 0);
	if (c->stall == ST_MINOR)
		gs_region_fill_cache(&r, SEED_MEM);
	st = gs_staller_start(&r, uffd_mode(c->stall), SEED_MEM, 1ULL << HELD);
	k = new_call(c, (unsigned long)r.addr, r.len);
	keep_from_caller(c, &r);
	pid = gs_spawn(do_call, k);

	gs_staller_wait_held(st, HELD, &msg);
	if (msg.ptid != (__u32)pid)
		gs_fail("fault came from task %u, not from the caller %d",
			msg.ptid, pid);
	gs_wait_state(pid, "D", cname(c));
	gs_lockdrop_probe(pid, "D");
	disturb(c, &r, pid);

	if (c->disturb == D_REFAULT)
		err = gs_staller_release_zapped(st, HELD);
	else
		err = gs_staller_release(st, HELD);
	if (err)
		gs_note("resolving the stalled page: %s, woken",
			strerrorname_np(err));
	gs_staller_release_all(st);
	if (c->disturb != D_SIGKILL) {
		wait_caller(c, pid, "after the release");
		left = pages_left(c);
		check_transfer(c, &r, k, left * r.psize);
		if (left < c->npages)
			gs_note("short count %ld/%zu", k->ret, r.len);
		if (c->disturb == D_SIGUSR1 && k->handled != 1)
			gs_fail("SIGUSR1 handler ran %d times, want once",
				k->handled);
		check_migrated(c, &r);
	}
	gs_staller_check_msgs(st, 0, last_faulted(c), c->caller == WRITEV);
	gs_staller_stop(st);
	gs_region_unmap(&r);
}

/* Remote read or write of memory that is swapped out or on disk only. */
static void run_plain(const struct gs_cell *c)
{
	struct gs_region r;
	struct call *k;
	pid_t pid;

	gs_region_map(&r, c->b, c->npages);
	if (c->b->kind == GS_EXT4)
		gs_region_fill_cache(&r, SEED_MEM);
	else
		gs_fill(r.addr, r.len, SEED_MEM, 0);
	if (c->stall == ST_SWAPIN)
		gs_region_pageout(&r);
	if (c->stall == ST_IO)
		gs_region_evict(&r);
	if (c->disturb == D_MIGRATE_BEFORE) {
		numa_dst = gs_numa_other(gs_page_node(r.addr));
		gs_migrate(&r, 0, r.npages, numa_dst, 0);
	}
	k = new_call(c, (unsigned long)r.addr, r.len);
	keep_from_caller(c, &r);
	pid = gs_spawn(do_call, k);
	wait_caller(c, pid, "");
	check_transfer(c, &r, k, r.len);
	if (c->disturb == D_MIGRATE_BEFORE)
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
		while (!__atomic_load_n(&tid, __ATOMIC_ACQUIRE))
			usleep(100);
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

static void add(gs_cell_fn fn, const struct gs_backing *b, int caller,
		int stall, int dist, unsigned int needs)
{
	struct gs_cell *c;

	c = gs_add_cell(fn, b, needs | gs_backing_needs(b), "%s %s %s %s",
			caller_names[caller], b ? b->name : "stack",
			stall_names[stall], disturb_names[dist]);
	c->caller = caller;
	c->stall = stall;
	c->disturb = dist;
	if (fn == run_nolock)
		c->kmsg_allow = "FAULT_FLAG_ALLOW_RETRY missing";
	if (fn == run_below_stack)
		c->kmsg_allow = "GUP no longer grows the stack";
	if (stall == ST_SWAPIN)
		c->npages = 16;
}

static void add_stall_cells(void)
{
	int i, caller, d;

	for (i = 0; i < gs_nr_backings; i++) {
		const struct gs_backing *b = &gs_backings[i];

		if (!(b->uffd & GS_UFFD_MISSING))
			continue;
		for (caller = READV; caller <= WRITEV; caller++)
			for (d = D_NONE; d <= D_SIGKILL; d++)
				add(run_stall, b, caller, ST_MISSING, d,
				    GS_NEED_UFFD);
		if (b->uffd & GS_UFFD_WP)
			add(run_stall, b, WRITEV, ST_WP, D_NONE, GS_NEED_UFFD);
		/* the page zapped again before the retry: it faults twice */
		if (!strcmp(b->name, "anon"))
			for (caller = READV; caller <= WRITEV; caller++)
				add(run_stall, b, caller, ST_MISSING, D_REFAULT,
				    GS_NEED_UFFD);
		if (b->uffd & GS_UFFD_MINOR)
			for (caller = READV; caller <= WRITEV; caller++)
				add(run_stall, b, caller, ST_MINOR, D_NONE,
				    GS_NEED_UFFD);
	}
}

static void add_plain_cells(void)
{
	int i, caller;

	for (i = 0; i < gs_nr_backings; i++) {
		const struct gs_backing *b = &gs_backings[i];

		for (caller = READV; caller <= WRITEV; caller++) {
			add(run_plain, b, caller, ST_NONE, D_NONE, 0);
			if (b->kind == GS_EXT4)
				add(run_plain, b, caller, ST_IO, D_NONE, 0);
			if (b->kind == GS_ANON && !b->thp)
				add(run_plain, b, caller, ST_SWAPIN, D_NONE,
				    GS_NEED_SWAP);
			if (b->kind == GS_MEMFD)
				add(run_plain, b, caller, ST_SWAPIN, D_NONE,
				    GS_NEED_SWAP);
		}
	}
}

/*
 * Pages moved to another node during the stall, or before the call: a
 * page under migration is one more wait for GUP, the data must follow.
 */
static void add_numa_cells(void)
{
	static const char * const names[] = { "anon", "thp", "memfd" };
	const unsigned int needs = GS_NEED_UFFD | GS_NEED_NUMA;
	int i, caller;

	for (i = 0; i < (int)ARRAY_SIZE(names); i++) {
		const struct gs_backing *b = gs_find_backing(names[i]);

		for (caller = READV; caller <= WRITEV; caller++) {
			add(run_stall, b, caller, ST_MISSING, D_MIGRATE, needs);
			add(run_stall, b, caller, ST_MISSING,
			    D_MIGRATE_STALLED, needs);
			add(run_stall, b, caller, ST_MISSING, D_MBIND, needs);
			add(run_plain, b, caller, ST_NONE, D_MIGRATE_BEFORE,
			    GS_NEED_NUMA);
		}
		/* a present, write-protected page moves under the writer */
		if (!b->thp)
			add(run_stall, b, WRITEV, ST_WP, D_MIGRATE_STALLED,
			    needs);
	}
}

int main(int argc, char **argv)
{
	gs_init(argc, argv, NULL);
	add_stall_cells();
	add_plain_cells();
	add_numa_cells();
	add(run_nolock, gs_find_backing("anon"), PROCMEM, ST_MISSING, D_NONE,
	    GS_NEED_UFFD);
	add(run_nolock, gs_find_backing("memfd"), PROCMEM, ST_MISSING, D_NONE,
	    GS_NEED_UFFD);
	add(run_nolock, gs_find_backing("anon"), PEEKDATA, ST_MISSING, D_NONE,
	    GS_NEED_UFFD);
	add(run_nolock, gs_find_backing("memfd"), PEEKDATA, ST_MISSING, D_NONE,
	    GS_NEED_UFFD);
	add(run_below_stack, NULL, READV, ST_NONE, D_BELOW_STACK, 0);
	add(run_below_stack, NULL, PROCMEM, ST_NONE, D_BELOW_STACK, 0);
	add(run_force_write, gs_find_backing("ext4-private"), PROCMEM, ST_NONE,
	    D_FORCE_WRITE, 0);
	return gs_run();
}
