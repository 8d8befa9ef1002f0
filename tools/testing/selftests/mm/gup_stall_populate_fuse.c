// SPDX-License-Identifier: GPL-2.0
/*
 * gup_stall_populate, FUSE files: the populate callers on files whose
 * reads fail (they must end promptly, not retry for ever), on a server
 * killed while a caller loops, and /proc/pid/mem held in a READ while a
 * writer of the mm must wait (the lock is not droppable there).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>

#include "../kselftest.h"
#include "gup_stall_populate.h"

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
void run_fuse(const struct gs_cell *c)
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
/* The child killed mid-way: it mounts, serves and calls mlock. */
struct server {
	pid_t caller;
	unsigned int conn;	/* /sys/fs/fuse/connections/<conn> */
	struct gs_fuse *fs;	/* the child's server */
	struct call k;
};

static bool reads_or_done(void *arg)
{
	struct server *s = arg;

	return gs_fuse_reads(s->fs) >= 2 ||
	       __atomic_load_n(&s->k.done, __ATOMIC_ACQUIRE);
}

static void server_fn(struct gs_child *ch)
{
	struct server *s = ch->own;

	s->k.caller = ch->c->caller;
	s->k.fd = -1;
	s->fs = gs_fuse_start();
	s->conn = gs_fuse_conn();
	s->caller = spawn_fuse_caller(&s->k, gs_fuse_file("fuse-eio"));
	/* the caller is in its retry loop once READs keep coming */
	gs_wait_until(reads_or_done, s, 0, "READ requests of the mlock caller");
	gs_child_ready(ch, s->caller);
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
void run_fuse_kill(const struct gs_cell *c)
{
	struct gs_child *ch;
	struct server *s;
	struct timespec t0;
	char path[64];

	mount_fusectl();
	/* the caller, orphaned by the kill, is reaped here */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	ch = gs_child_start(c, server_fn, sizeof(*s));
	s = ch->own;
	gs_child_wait_ready(ch, GS_WAIT_MS, "READ requests from the FUSE server");
	if (!conn_exists(s->conn))
		gs_fail("no FUSE connection %u while mounted", s->conn);
	snprintf(path, sizeof(path), "/proc/%d/mounts", ch->pid);
	if (!gs_fuse_mounted(path, GS_FUSE_DIR))
		gs_fail("the FUSE mount is not in the server's namespace");
	if (gs_fuse_mounted("/proc/self/mounts", GS_FUSE_DIR))
		gs_fail("the FUSE mount leaked into the cell's namespace");
	gs_note("%s %s when the server was killed", cname(c),
		s->k.done ? "had returned" : "was looping");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	gs_child_kill(ch, "FUSE server");
	gs_phase("waiting for the caller of the killed FUSE server to go");
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

void run_fuse_held(const struct gs_cell *c)
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
