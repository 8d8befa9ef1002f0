// SPDX-License-Identifier: GPL-2.0
/*
 * gup_stall_iouring, the io_uring caller: a ring, a buffer registration
 * in a thread of its own (which pins with FOLL_LONGTERM), the wait for
 * its stall, fixed-buffer I/O through the registered buffer, and the
 * checks that its pins are there and gone again.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "../kselftest.h"
#if __has_include("local_config.h")
#include "local_config.h"
#endif

#ifdef LOCAL_CONFIG_HAVE_LIBURING

#include "gup_stall_ring.h"

#define IO_DATA		0x10	/* user_data of fixed-buffer I/O */

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

void ring_init(struct io_uring *ring)
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
void ring_prepare(struct io_uring *ring, int caller)
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

int do_register(struct io_uring *ring, int caller,
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

int do_unregister(struct io_uring *ring, int caller)
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

void reg_start(struct reg *k, struct io_uring *ring, int caller,
	       void *addr, size_t len)
{
	memset(k, 0, sizeof(*k));
	k->ring = ring;
	k->caller = caller;
	k->iov.iov_base = addr;
	k->iov.iov_len = len;
	gs_job_start(&k->job, do_reg, k, 0);
}

bool reg_done(struct reg *k)
{
	return gs_job_done(&k->job);
}

/* Wait (bounded) for the registering thread; it must not hang. */
void reg_wait(struct reg *k, const char *when)
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
void reg_check_efault(struct reg *k)
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
void check_fixed_io(struct io_uring *ring, struct gs_region *r,
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
bool pin_detectable(const struct gs_cell *c)
{
	return gs_collapse_applies(c->b, c->stall != GS_STALL_NONE ||
				   c->disturb == GS_D_PAGEOUT);
}

bool detector_works(const struct gs_cell *c)
{
	return gs_collapse_works(c->b, c->npages);
}

void check_pinned(const struct gs_cell *c, struct gs_region *r)
{
	if (pin_detectable(c) && detector_works(c))
		gs_check_collapse_pinned(r);
}

void check_unpinned(const struct gs_cell *c, struct gs_region *r)
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
void inject_pin(struct gs_region *r, size_t len)
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
void release(const struct gs_cell *c, struct io_uring *ring,
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
void unregister(const struct gs_cell *c, struct io_uring *ring,
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
struct held_wait {
	struct gs_staller *st;
	struct reg *k;
};

static bool held_or_done(void *arg)
{
	struct held_wait *w = arg;

	return gs_staller_count(w->st, HELD) || reg_done(w->k);
}

bool wait_stalled(struct gs_staller *st, struct reg *k)
{
	struct held_wait w;
	struct gs_msg msg;
	const char *why;

	if (!pin_unlockable(&why)) {
		expect_efault_at_once(st, k, why);
		return false;
	}
	w.st = st;
	w.k = k;
	gs_wait_until(held_or_done, &w, 0,
		      "a uffd message for the held page or a return");
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
 * The machine's pin balance is back where the cell found it; false when
 * this kernel has no counters for it.
 */
bool check_pin_balance(const char *when)
{
	if (pins_known)
		gs_check_pins(pins0, when);
	return pins_known;
}

/*
 * Register r stalled on page HELD, resolve the stall and wait for the
 * registration; NULL (staller gone) where this kernel fails at once.
 */
struct gs_staller *stall_register(struct gs_region *r,
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

/*
 * The ring of a killed process is torn down by a kernel worker, which may
 * finish after the process is reaped: the pins must be gone within a bound.
 */
void check_unpinned_after_kill(const struct gs_cell *c, int fd)
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

#endif /* LOCAL_CONFIG_HAVE_LIBURING */
