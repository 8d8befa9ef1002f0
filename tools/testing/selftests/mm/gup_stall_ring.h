/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gup_stall_iouring: the io_uring caller (gup_stall_ring.c) as the
 * program's cells (gup_stall_iouring.c) use it. Built with liburing
 * only.
 */
#ifndef __GUP_STALL_RING_H
#define __GUP_STALL_RING_H

#include <sys/uio.h>
#include <liburing.h>

#include "gup_stall.h"

enum caller { REGISTER, REGISTER2, UPDATE, NR_CALLERS };

/* gup_stall_iouring.c: the callers, by enum caller */
extern const struct gs_caller callers[NR_CALLERS];

#define HELD		GS_HELD
#define SEED_MEM	0x31	/* what the memory holds before I/O */
#define SEED_IO		0x32	/* what READ_FIXED puts into the buffer */
#define TAG		0x7a6	/* the tag of a registered buffer */

/* One registration, made by a thread of the cell process. */
struct reg {
	struct gs_job job;	/* the registering thread */
	struct io_uring *ring;
	int caller;
	struct iovec iov;
	int ret;
	bool stalled;		/* it reached the held page */
};

/* A ring of 8 entries; skips where io_uring is missing or disabled. */
void ring_init(struct io_uring *ring);
/* Prepare the ring for a caller: the update caller needs empty slots. */
void ring_prepare(struct io_uring *ring, int caller);
/* Register (or update) one buffer; 0 or a negative errno. */
int do_register(struct io_uring *ring, int caller, const struct iovec *iov);
int do_unregister(struct io_uring *ring, int caller);

/* A registration in a thread of its own (struct reg) */
void reg_start(struct reg *k, struct io_uring *ring, int caller,
	       void *addr, size_t len);
bool reg_done(struct reg *k);
/* Wait (bounded) for the registering thread; it must not hang. */
void reg_wait(struct reg *k, const char *when);
/* Expect the registration to have failed cleanly with EFAULT. */
void reg_check_efault(struct reg *k);
/*
 * Wait until the registering thread is stalled on the held page; on the
 * kernels the matrix lists, see it fail at once instead (checked there).
 * Returns true when it stalled.
 */
bool wait_stalled(struct gs_staller *st, struct reg *k);

/* The registered buffer is the memory the process sees (fixed I/O). */
void check_fixed_io(struct io_uring *ring, struct gs_region *r, __u64 seed);

/* Pins */
bool pin_detectable(const struct gs_cell *c);
bool detector_works(const struct gs_cell *c);
void check_pinned(const struct gs_cell *c, struct gs_region *r);
void check_unpinned(const struct gs_cell *c, struct gs_region *r);
bool check_pin_balance(const char *when);
/* The negative control: pin the buffer on a ring that outlives the check. */
void inject_pin(struct gs_region *r, size_t len);
/* Unregister a buffer seen pinned before (and its tag completion). */
void release(const struct gs_cell *c, struct io_uring *ring,
	     struct gs_region *r);
/* Unregister; the pins must go with it. */
void unregister(const struct gs_cell *c, struct io_uring *ring,
		struct gs_region *r);
/*
 * The ring of a killed process is torn down by a kernel worker, which may
 * finish after the process is reaped: the pins on the memfd fd (-1: the
 * memory died with the process) must be gone within GS_REAP_MS.
 */
void check_unpinned_after_kill(const struct gs_cell *c, int fd);
/*
 * Register r stalled on page HELD, resolve the stall and wait for the
 * registration; NULL (staller gone) where this kernel fails at once.
 */
struct gs_staller *stall_register(struct gs_region *r, struct io_uring *ring,
				  int caller, __u64 seed, struct reg *k);

#endif /* __GUP_STALL_RING_H */
