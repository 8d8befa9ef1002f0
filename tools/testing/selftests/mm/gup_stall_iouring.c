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

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT	21
#endif
#define THP_SIZE	(2UL << 20)

enum caller { REGISTER, REGISTER2, UPDATE };
enum stall { ST_NONE, ST_MISSING, ST_WP, ST_MINOR, ST_SWAPIN };
enum disturb {
	D_NONE, D_MUNMAP_STALLED, D_MUNMAP_TAIL, D_MREMAP_STALLED,
	D_MREMAP_TAIL, D_MPROTECT_STALLED, D_MPROTECT_TAIL,
	D_DONTNEED_STALLED, D_DONTNEED_TAIL, D_SIGKILL, D_REPEAT,
	D_PAGEOUT, D_MIGRATE, D_MBIND, D_MIGRATE_PINNED, D_MIGRATE_BEFORE,
	D_MEMLOCK,
};

static const char * const caller_names[] = {
	"io_uring-register", "io_uring-register2", "io_uring-update",
};

static const char * const stall_names[] = {
	"none", "missing", "wp", "minor", "swapin",
};

static const char * const disturb_names[] = {
	"none", "munmap-stalled", "munmap-tail", "mremap-stalled",
	"mremap-tail", "mprotect-stalled", "mprotect-tail",
	"dontneed-stalled", "dontneed-tail", "sigkill", "repeat", "pageout",
	"migrate", "mbind", "migrate-pinned", "migrate-before", "memlock",
};

/* The stalled page; pages before it are resolved at once. */
#define HELD		1
#define SEED_MEM	0x31	/* what the memory holds before I/O */
#define SEED_IO		0x32	/* what READ_FIXED puts into the buffer */
#define ROUNDS		3	/* registrations in a repeat cell */
#define TAG		0x7a6	/* the tag of a registered buffer */
#define IO_DATA		0x10	/* user_data of fixed-buffer I/O */

/* Memories that may not be pinned writable long-term. */
enum forbidden { F_EXT4_SHARED, F_EXT4_SHARED_RO, F_READONLY, F_PROTNONE,
		 F_SECRET };
static const char * const forbidden_names[] = {
	"ext4-shared", "ext4-shared-readonly", "anon-readonly",
	"anon-protnone", "memfd-secret",
};

/* One registration, made by a thread of the cell process. */
struct reg {
	struct io_uring *ring;
	int caller;
	struct iovec iov;
	pid_t tid;
	int ret;
	int done;
	bool stalled;		/* it reached the held page */
	pthread_t thread;
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

static void *reg_thread(void *arg)
{
	struct reg *k = arg;

	__atomic_store_n(&k->tid, gettid(), __ATOMIC_RELEASE);
	k->ret = do_register(k->ring, k->caller, &k->iov);
	__atomic_store_n(&k->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void reg_start(struct reg *k, struct io_uring *ring, int caller,
		      void *addr, size_t len)
{
	struct timespec t0;

	memset(k, 0, sizeof(*k));
	k->ring = ring;
	k->caller = caller;
	k->iov.iov_base = addr;
	k->iov.iov_len = len;
	if (pthread_create(&k->thread, NULL, reg_thread, k))
		gs_fail("pthread_create failed");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!__atomic_load_n(&k->tid, __ATOMIC_ACQUIRE) &&
	       gs_ms_since(&t0) < GS_WAIT_MS)
		usleep(100);
	gs_watch_pid(k->tid);
}

static bool reg_done(struct reg *k)
{
	return __atomic_load_n(&k->done, __ATOMIC_ACQUIRE);
}

/* Wait (bounded) for the registering thread; it must not hang. */
static void reg_wait(struct reg *k, const char *when)
{
	struct timespec t0;

	gs_phase("waiting for %s to return %s", caller_names[k->caller], when);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!reg_done(k)) {
		if (gs_ms_since(&t0) > GS_WAIT_MS)
			gs_fail("%s still blocked %d ms %s",
				caller_names[k->caller], GS_WAIT_MS, when);
		usleep(200);
	}
	pthread_join(k->thread, NULL);
	/*
	 * An unknown register opcode is EINVAL; the arguments are valid.
	 * A kernel without the opcode never faults: after a stall, EINVAL
	 * is a failure, not a missing feature.
	 */
	if (k->ret == -EINVAL && k->caller == REGISTER2 && k->stalled)
		gs_fail("%s returned EINVAL after it stalled on the buffer",
			caller_names[k->caller]);
	if (k->ret == -EINVAL && k->caller == REGISTER2)
		gs_skip("no IORING_REGISTER_BUFFERS2 in this kernel (EINVAL)");
}

/* Expect the registration to have failed cleanly with EFAULT. */
static void reg_check_efault(struct reg *k)
{
	gs_check_err(caller_names[k->caller], k->ret < 0 ? -1 : k->ret,
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

/*
 * Pin detector for a 2M THP range of small pages: MADV_COLLAPSE must
 * refuse (EAGAIN) while a subpage is pinned and succeed when none is.
 */
static bool pin_detectable(const struct gs_cell *c)
{
	/* shmem files: a 2M alias of the file finds pins on its pages */
	if (c->b && (c->b->kind == GS_MEMFD || c->b->kind == GS_TMPFS))
		return true;
	return c->b && c->b->thp &&
	       (c->stall != ST_NONE || c->disturb == D_PAGEOUT);
}

/*
 * Fill a THP region with small pages, so that the pin detector has
 * something to collapse: a PMD-mapped THP is already collapsed.
 */
static void fill_small(struct gs_region *r, __u64 seed)
{
	if (madvise(r->map, r->map_len, MADV_NOHUGEPAGE))
		gs_fail("MADV_NOHUGEPAGE: %s", strerror(errno));
	gs_fill(r->addr, r->len, seed, 0);
	if (madvise(r->map, r->map_len, MADV_HUGEPAGE))
		gs_fail("MADV_HUGEPAGE: %s", strerror(errno));
}

/*
 * MADV_COLLAPSE of the 2M range that holds the region's pages; returns 0
 * or its errno. A shmem file is seen through a 2M aligned alias of its first
 * 2M, grown to that size, so that the region's own mapping (changed or
 * not by the cell) does not matter: the pins are on the file's pages.
 */
static int collapse(struct gs_region *r)
{
	char *p, *alias;
	int ret, err;

	if (r->b->thp)
		return madvise(r->map, THP_SIZE, MADV_COLLAPSE) ? errno : 0;
	if (ftruncate(r->fd, THP_SIZE))
		gs_fail("growing the file to 2M: %s", strerror(errno));
	p = mmap(NULL, 2 * THP_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		gs_fail("mmap: %s", strerror(errno));
	alias = (char *)(((unsigned long)p + THP_SIZE - 1) & ~(THP_SIZE - 1));
	if (mmap(alias, THP_SIZE, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, r->fd, 0) == MAP_FAILED)
		gs_fail("2M alias of the file: %s", strerror(errno));
	/* EINVAL without THP (PREEMPT_RT): the pin counters still work */
	ret = madvise(alias, THP_SIZE, MADV_HUGEPAGE);
	if (!ret)
		ret = madvise(alias, THP_SIZE, MADV_COLLAPSE);
	err = errno;
	munmap(p, 2 * THP_SIZE);
	return ret ? err : 0;
}

/*
 * The detector is only as good as MADV_COLLAPSE on this kernel: before
 * 6.2 it cannot collapse shmem, for instance. Try it once on unpinned
 * memory of the same kind; where that fails, the detector is n/a.
 */
static bool detector_works(const struct gs_cell *c)
{
	static int works = -1;
	struct gs_region t;
	int err;

	if (works >= 0)
		return works;
	/*
	 * MADV_HUGEPAGE and MADV_COLLAPSE need THP in the kernel (never
	 * with PREEMPT_RT): no detector there, and the cell says so.
	 */
	if (access("/sys/kernel/mm/transparent_hugepage", F_OK)) {
		gs_note("%s",
			"pin detector n/a: it collapses a 2M range, and CONFIG_TRANSPARENT_HUGEPAGE is off (no /sys/kernel/mm/transparent_hugepage)");
		works = 0;
		return works;
	}
	gs_region_map(&t, c->b, c->npages);
	if (t.b->thp)
		fill_small(&t, SEED_MEM);
	else
		gs_fill(t.addr, t.len, SEED_MEM, 0);
	err = collapse(&t);
	gs_region_unmap(&t);
	works = !err;
	if (err)
		gs_note("pin detector n/a: MADV_COLLAPSE gives %s on unpinned %s memory",
			strerrorname_np(err), c->b->name);
	return works;
}

static void check_pinned(const struct gs_cell *c, struct gs_region *r)
{
	int err;

	if (!pin_detectable(c) || !detector_works(c))
		return;
	err = collapse(r);
	if (!err)
		gs_fail("MADV_COLLAPSE replaced registered pages: the pin is not the mapped page");
	if (err != EAGAIN)
		gs_fail("pin detector: MADV_COLLAPSE %s, want EAGAIN while pinned",
			strerrorname_np(err));
}

static void check_unpinned(const struct gs_cell *c, struct gs_region *r)
{
	static bool noted;
	int err;

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
	err = collapse(r);
	if (err == EAGAIN)
		gs_fail("pin left behind: MADV_COLLAPSE of the 2M range gives EAGAIN");
	if (err)
		gs_fail("pin detector: MADV_COLLAPSE failed with %s",
			strerrorname_np(err));
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

static unsigned int uffd_mode(int stall)
{
	return stall == ST_WP ? GS_UFFD_WP :
	       stall == ST_MINOR ? GS_UFFD_MINOR : GS_UFFD_MISSING;
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
	if (msg.ptid != (__u32)k->tid)
		gs_fail("fault came from task %u, not from the registering thread %d",
			msg.ptid, k->tid);
	k->stalled = true;
	gs_wait_state(k->tid, "D", caller_names[k->caller]);
	return true;
}

static bool hits_stalled(int d)
{
	return d == D_MUNMAP_STALLED || d == D_MREMAP_STALLED ||
	       d == D_MPROTECT_STALLED || d == D_DONTNEED_STALLED;
}

/* First page the disturbance touches. */
static int disturbed_page(int d)
{
	return hits_stalled(d) ? HELD : HELD + 1;
}

static void disturb(const struct gs_cell *c, struct gs_region *r)
{
	int first = disturbed_page(c->disturb);
	char *start = r->addr + first * r->psize;
	size_t len = (hits_stalled(c->disturb) ? 1 : r->npages - first) *
		     r->psize;
	int ret = 0;

	switch (c->disturb) {
	case D_MUNMAP_STALLED:
	case D_MUNMAP_TAIL:
		ret = munmap(start, len);
		break;
	case D_MREMAP_STALLED:
	case D_MREMAP_TAIL:
		gs_region_move(r, start, len);
		break;
	case D_MPROTECT_STALLED:
	case D_MPROTECT_TAIL:
		ret = mprotect(start, len, PROT_NONE);
		break;
	case D_DONTNEED_STALLED:
	case D_DONTNEED_TAIL:
		ret = madvise(start, len, MADV_DONTNEED);
		break;
	}
	if (ret)
		gs_fail("%s during the stall: %s", disturb_names[c->disturb],
			strerror(errno));
}

/*
 * Give a THP range its single VMA back after the disturbance split it,
 * keeping the pages before the disturbed ones: those are the pages a
 * failed registration pinned and had to unpin.
 */
static void rebuild_thp(const struct gs_cell *c, struct gs_region *r)
{
	int first = disturbed_page(c->disturb);
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

/* Does the disturbance leave every page registrable? */
static bool disturb_harmless(int d)
{
	return d == D_NONE || d == D_DONTNEED_STALLED ||
	       d == D_DONTNEED_TAIL || d == D_MIGRATE || d == D_MBIND;
}

/*
 * NUMA. Registration pins page by page, so page 0 is pinned while the
 * registration waits for page HELD; once registered, every page is.
 * FOLL_LONGTERM moves pages out of ZONE_MOVABLE and CMA only, never to
 * another node: pinned pages stay where they are, and move_pages()
 * must fail on them until they are unregistered.
 */
static int numa_src, numa_dst;

static void numa_pick(struct gs_region *r)
{
	numa_src = gs_page_node(r->addr);
	numa_dst = gs_numa_other(numa_src);
}

static void migrate_stalled(const struct gs_cell *c, struct gs_region *r)
{
	numa_pick(r);
	if (c->disturb == D_MIGRATE)
		gs_migrate(r, 0, r->npages, numa_dst, 1);
	else
		gs_mbind(r, numa_dst);
	gs_check_node(r, 0, 1, numa_src, "the page pinned so far");
}

/* Registered: nothing moves; where mbind placed later faults, they are. */
static void check_registered_numa(const struct gs_cell *c, struct gs_region *r)
{
	unsigned long long all = (1ULL << r->npages) - 1;

	if (c->disturb == D_MBIND)
		gs_check_node(r, HELD, r->npages - HELD, numa_dst,
			      "pages faulted in after mbind");
	gs_migrate(r, 0, r->npages, numa_dst, all);
}

/*
 * Unregistered: every page moves, and keeps what the fixed I/O wrote.
 * The data is checked first: that maps the pages again where the pin
 * detector's collapse unmapped them.
 */
static void check_unregistered_numa(struct gs_region *r)
{
	gs_check_data("the mapping after unregistering", r->addr, r->len,
		      SEED_IO, 0);
	gs_migrate(r, 0, r->npages, numa_dst, 0);
	gs_check_data("the mapping after its migration", r->addr, r->len,
		      SEED_IO, 0);
}

static bool numa_cell(const struct gs_cell *c)
{
	return c->disturb >= D_MIGRATE;
}

/*
 * Registration of a region stalled by userfaultfd and resolved late,
 * with the address space changed during the stall or not.
 */
static void run_stall(const struct gs_cell *c)
{
	struct gs_staller *st;
	struct io_uring ring;
	struct gs_region r;
	struct reg k;
	int err, last;

	gs_region_map(&r, c->b, c->npages);
	if (c->stall == ST_WP && c->b->thp)
		fill_small(&r, SEED_MEM);
	else if (c->stall == ST_WP)
		gs_fill(r.addr, r.len, SEED_MEM, 0);
	if (c->stall == ST_MINOR)
		gs_region_fill_cache(&r, SEED_MEM);
	ring_init(&ring);
	ring_prepare(&ring, c->caller);
	st = gs_staller_start(&r, uffd_mode(c->stall), SEED_MEM, 1ULL << HELD);
	reg_start(&k, &ring, c->caller, r.addr, r.len);
	if (!wait_stalled(st, &k)) {
		gs_staller_release_all(st);
		gs_staller_stop(st);
		return;
	}
	gs_lockdrop_probe(k.tid, "D");
	if (numa_cell(c))
		migrate_stalled(c, &r);
	else
		disturb(c, &r);

	err = gs_staller_release(st, HELD);
	if (err)
		gs_note("resolving the stalled page: %s, woken",
			strerrorname_np(err));
	gs_staller_release_all(st);
	reg_wait(&k, "after the release");
	if (disturb_harmless(c->disturb)) {
		gs_check_ret(caller_names[c->caller], k.ret, 0);
		gs_note("blocked, then registered");
		last = r.npages - 1;
	} else {
		reg_check_efault(&k);
		last = HELD;
	}
	gs_staller_check_msgs(st, 0, last, true);
	/* an armed uffd keeps MADV_COLLAPSE away from empty entries */
	gs_staller_stop(st);
	if (!k.ret) {
		check_fixed_io(&ring, &r, SEED_MEM);
		if (numa_cell(c))
			check_registered_numa(c, &r);
		unregister(c, &ring, &r);
		if (numa_cell(c))
			check_unregistered_numa(&r);
	} else {
		rebuild_thp(c, &r);
		/* as if the failed registration kept what it had pinned */
		inject_pin(&r, HELD * r.psize);
		check_unpinned(c, &r);
	}
	io_uring_queue_exit(&ring);
	gs_region_unmap(&r);
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
		fill_small(r, SEED_MEM);
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
	if (c->stall == ST_SWAPIN)
		gs_region_pageout(&r);
	ring_init(&ring);
	ring_prepare(&ring, c->caller);
	gs_phase("registering %s", c->b->name);
	ret = do_register(&ring, c->caller, &(struct iovec){ r.addr, r.len });
	if (c->stall == ST_SWAPIN && gs_pagemap_swapped(r.addr, r.npages,
							r.psize))
		gs_fail("registered pages are still swapped out");
	gs_check_ret(caller_names[c->caller], ret, 0);
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
	unsigned long long all = (1ULL << c->npages) - 1;
	struct io_uring ring;
	struct gs_region r;
	int ret;

	gs_region_map(&r, c->b, c->npages);
	fill_region(c, &r);
	numa_pick(&r);
	if (c->disturb == D_MIGRATE_BEFORE) {
		gs_migrate(&r, 0, r.npages, numa_dst, 0);
		numa_src = numa_dst;
		numa_dst = gs_numa_other(numa_src);
	}
	ring_init(&ring);
	gs_phase("registering %s", c->b->name);
	ret = do_register(&ring, c->caller, &(struct iovec){ r.addr, r.len });
	gs_check_ret(caller_names[c->caller], ret, 0);
	gs_check_node(&r, 0, r.npages, numa_src, "registered pages");
	gs_migrate(&r, 0, r.npages, numa_dst, all);
	check_fixed_io(&ring, &r, SEED_MEM);
	unregister(c, &ring, &r);
	check_unregistered_numa(&r);
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
	gs_check_ret(caller_names[c->caller], ret, 0);
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

/* Map the memory of a forbidden cell, holding the pattern where it can. */
static void map_forbidden(const struct gs_cell *c, struct gs_region *r)
{
	size_t len = c->npages * getpagesize();
	int fd, prot = PROT_READ;

	switch (c->disturb) {
	case F_EXT4_SHARED:
	case F_EXT4_SHARED_RO:
		gs_region_map(r, gs_find_backing("ext4-shared"), c->npages);
		gs_region_fill_cache(r, SEED_MEM);
		if (c->disturb == F_EXT4_SHARED_RO &&
		    mprotect(r->addr, r->len, PROT_READ))
			gs_fail("mprotect: %s", strerror(errno));
		return;
	case F_SECRET:
		fd = syscall(__NR_memfd_secret, O_CLOEXEC);
		if (fd < 0)
			gs_skip("memfd_secret: %s (%s)", strerrorname_np(errno),
				"needs CONFIG_SECRETMEM and secretmem.enable=1 on the command line");
		if (ftruncate(fd, len))
			gs_fail("ftruncate memfd_secret: %s", strerror(errno));
		r->addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
			       fd, 0);
		break;
	default:
		if (c->disturb == F_PROTNONE)
			prot = PROT_NONE;
		r->addr = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
	}
	if (r->addr == MAP_FAILED)
		gs_fail("mmap %s: %s", forbidden_names[c->disturb],
			strerror(errno));
	r->len = len;
}

/*
 * Memory that may not be pinned writable long-term (file pages that
 * writeback must see written, no write permission, memory the kernel
 * must not touch): a clean EFAULT, never a pin.
 */
static void run_forbidden(const struct gs_cell *c)
{
	struct io_uring ring;
	struct gs_region r = { 0 };
	int ret;

	map_forbidden(c, &r);
	ring_init(&ring);
	gs_phase("registering %s", forbidden_names[c->disturb]);
	ret = do_register(&ring, c->caller, &(struct iovec){ r.addr, r.len });
	gs_check_err(caller_names[c->caller], ret < 0 ? -1 : ret, -ret,
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
		st = gs_staller_start(&r, GS_UFFD_MISSING, SEED_MEM + i,
				      1ULL << HELD);
		reg_start(&k, &ring, c->caller, r.addr, r.len);
		if (!wait_stalled(st, &k)) {
			gs_staller_release_all(st);
			gs_staller_stop(st);
			return;
		}
		gs_staller_release_all(st);
		reg_wait(&k, "after the release");
		gs_check_ret(caller_names[c->caller], k.ret, 0);
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

/* Shared between the cell and the process it kills. */
struct victim {
	pid_t tid;
	int fd;			/* the victim's memfd, if any */
	int stalled;
};

/* Runs in the process to be killed: it owns region, staller and ring. */
static void victim_fn(void *arg)
{
	const struct gs_cell *c = arg;
	struct victim *v = (struct victim *)((char *)arg + sizeof(*c));
	struct gs_staller *st;
	struct io_uring ring;
	struct gs_region r;
	struct reg k;

	gs_region_map(&r, c->b, c->npages);
	ring_init(&ring);
	st = gs_staller_start(&r, GS_UFFD_MISSING, SEED_MEM, 1ULL << HELD);
	reg_start(&k, &ring, c->caller, r.addr, r.len);
	if (!wait_stalled(st, &k))
		gs_pass();
	v->tid = k.tid;
	v->fd = r.fd;
	__atomic_store_n(&v->stalled, 1, __ATOMIC_RELEASE);
	pause();
}

/*
 * The ring of a killed process is torn down by a kernel worker, which may
 * finish after the process is reaped: the pins must be gone within a bound.
 */
static void check_unpinned_after_kill(const struct gs_cell *c, int fd)
{
	struct gs_region r = { .b = c->b, .fd = fd };
	struct timespec t0;
	int err;

	if (fd < 0) {
		gs_note("pin detector n/a: the memory died with the process");
		return;
	}
	if (!detector_works(c))
		return;
	gs_phase("waiting for the killed ring to drop its pins");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while ((err = collapse(&r)) == EAGAIN && gs_ms_since(&t0) < GS_REAP_MS)
		usleep(1000);
	if (err == EAGAIN)
		gs_fail("pin left behind: %s %d ms after the kill",
			"MADV_COLLAPSE of the 2M range gives EAGAIN",
			GS_REAP_MS);
	if (err)
		gs_fail("pin detector: MADV_COLLAPSE failed with %s",
			strerrorname_np(err));
	gs_note("no pin left %ld ms after the reap", gs_ms_since(&t0));
	close(r.fd);
}

/* SIGKILL of the process whose thread is stalled in registration. */
static void run_sigkill(const struct gs_cell *c)
{
	char *shared = gs_shared_alloc(sizeof(*c) + sizeof(struct victim));
	struct victim *v = (struct victim *)(shared + sizeof(*c));
	struct timespec t0;
	int status, fd = -1;
	char path[64];
	pid_t pid;

	memcpy(shared, c, sizeof(*c));
	pid = gs_spawn(victim_fn, shared);
	gs_phase("waiting for the victim's registration to stall");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!__atomic_load_n(&v->stalled, __ATOMIC_ACQUIRE)) {
		/*
		 * A victim that did not stall reported its outcome itself
		 * (the matrix's immediate EFAULT, or a failure); one that
		 * died of a signal before the kill proves nothing.
		 */
		if (!gs_wait_exit(pid, 0, &status)) {
			if (WIFSIGNALED(status))
				gs_fail("the victim died of signal %d before it stalled",
					WTERMSIG(status));
			return;
		}
		if (gs_ms_since(&t0) > GS_WAIT_MS)
			gs_fail("the victim's registration did not stall in %d ms",
				GS_WAIT_MS);
		usleep(200);
	}
	gs_watch_pid(v->tid);
	if (c->b->kind == GS_MEMFD) {
		/* keep the victim's memfd, to look for its pins afterwards */
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, v->fd);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			gs_fail("open %s: %s", path, strerror(errno));
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	kill(pid, SIGKILL);
	gs_phase("waiting for the SIGKILLed victim to be reaped");
	if (gs_wait_exit(pid, GS_REAP_MS, &status))
		gs_fail("SIGKILLed registering process not reaped within %d ms",
			GS_REAP_MS);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		gs_fail("victim ended with status %#x, not by SIGKILL", status);
	gs_note("reaped %ld ms after SIGKILL", gs_ms_since(&t0));
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
	st = gs_staller_start(&r, GS_UFFD_MISSING, SEED_MEM, 1ULL << HELD);
	reg_start(&k, &ring, c->caller, r.addr, r.len);
	if (!wait_stalled(st, &k)) {
		gs_staller_release_all(st);
		gs_staller_stop(st);
		return;
	}
	gs_staller_release_all(st);
	reg_wait(&k, "after the release");
	gs_check_err(caller_names[c->caller], k.ret < 0 ? -1 : k.ret, -k.ret,
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

static struct gs_cell *add(gs_cell_fn fn, const struct gs_backing *b,
			   int caller, int stall, int dist, unsigned int needs)
{
	struct gs_cell *c;

	c = gs_add_cell(fn, b, needs | gs_backing_needs(b), "%s %s %s %s",
			caller_names[caller], b->name, stall_names[stall],
			disturb_names[dist]);
	c->caller = caller;
	c->stall = stall;
	c->disturb = dist;
	if (stall == ST_SWAPIN || dist == D_PAGEOUT)
		c->npages = 16;
	return c;
}

static void add_stall_cells(void)
{
	static const char * const disturbed[] = {
		"anon", "thp", "memfd", "hugetlb",
	};
	int i, d;

	for (i = 0; i < gs_nr_backings; i++) {
		const struct gs_backing *b = &gs_backings[i];

		if (b->uffd & GS_UFFD_MISSING)
			add(run_stall, b, REGISTER, ST_MISSING, D_NONE,
			    GS_NEED_UFFD);
		if (b->uffd & GS_UFFD_WP)
			add(run_stall, b, REGISTER, ST_WP, D_NONE,
			    GS_NEED_UFFD);
		if (b->uffd & GS_UFFD_MINOR)
			add(run_stall, b, REGISTER, ST_MINOR, D_NONE,
			    GS_NEED_UFFD);
	}
	for (i = 0; i < (int)ARRAY_SIZE(disturbed); i++) {
		const struct gs_backing *b = gs_find_backing(disturbed[i]);

		for (d = D_MUNMAP_STALLED; d <= D_DONTNEED_TAIL; d++)
			add(run_stall, b, REGISTER, ST_MISSING, d,
			    GS_NEED_UFFD);
		add(run_sigkill, b, REGISTER, ST_MISSING, D_SIGKILL,
		    GS_NEED_UFFD);
	}
}

static void add_other_callers(void)
{
	static const char * const names[] = { "anon", "thp", "memfd" };
	int i, caller;

	for (i = 0; i < (int)ARRAY_SIZE(names); i++) {
		const struct gs_backing *b = gs_find_backing(names[i]);

		for (caller = REGISTER; caller <= UPDATE; caller++) {
			if (caller != REGISTER)
				add(run_stall, b, caller, ST_MISSING, D_NONE,
				    GS_NEED_UFFD);
			add(run_repeat, b, caller, ST_MISSING, D_REPEAT,
			    GS_NEED_UFFD);
		}
	}
}

static void add_plain_cells(void)
{
	static const char * const swapped[] = {
		"anon", "thp", "anon-shared", "memfd", "tmpfs",
	};
	struct gs_cell *c;
	int i;

	for (i = 0; i < gs_nr_backings; i++)
		if (!(gs_backings[i].kind == GS_EXT4 && gs_backings[i].shared))
			add(run_plain, &gs_backings[i], REGISTER, ST_NONE,
			    D_NONE, 0);
	for (i = 0; i < (int)ARRAY_SIZE(swapped); i++)
		add(run_plain, gs_find_backing(swapped[i]), REGISTER, ST_SWAPIN,
		    D_NONE, GS_NEED_SWAP);
	add(run_pageout, gs_find_backing("anon"), REGISTER, ST_NONE, D_PAGEOUT,
	    GS_NEED_SWAP);
	add(run_pageout, gs_find_backing("thp"), REGISTER, ST_NONE, D_PAGEOUT,
	    GS_NEED_SWAP);
	add(run_pageout, gs_find_backing("memfd"), REGISTER, ST_NONE, D_PAGEOUT,
	    GS_NEED_SWAP);
	for (i = 0; i < (int)ARRAY_SIZE(forbidden_names); i++) {
		c = gs_add_cell(run_forbidden, NULL, 0, "%s %s none none",
				caller_names[REGISTER], forbidden_names[i]);
		c->caller = REGISTER;
		c->disturb = i;
	}
}

static void add_numa_cells(void)
{
	static const char * const names[] = { "anon", "thp", "memfd" };
	int i;

	for (i = 0; i < (int)ARRAY_SIZE(names); i++) {
		const struct gs_backing *b = gs_find_backing(names[i]);

		add(run_stall, b, REGISTER, ST_MISSING, D_MIGRATE,
		    GS_NEED_UFFD | GS_NEED_NUMA);
		add(run_stall, b, REGISTER, ST_MISSING, D_MBIND,
		    GS_NEED_UFFD | GS_NEED_NUMA);
		add(run_numa, b, REGISTER, ST_NONE, D_MIGRATE_PINNED,
		    GS_NEED_NUMA);
		add(run_numa, b, REGISTER, ST_NONE, D_MIGRATE_BEFORE,
		    GS_NEED_NUMA);
	}
}

int main(int argc, char **argv)
{
	gs_init(argc, argv, NULL);
	add_stall_cells();
	add_other_callers();
	add_plain_cells();
	add_numa_cells();
	add(run_memlock, gs_find_backing("anon"), REGISTER, ST_MISSING,
	    D_MEMLOCK, GS_NEED_UFFD);
	return gs_run();
}

#endif /* LOCAL_CONFIG_HAVE_LIBURING */
