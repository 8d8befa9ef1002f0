/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gup_stall_populate: what its two files share. gup_stall_populate.c has
 * the callers, the populate call, the stalled-cell flow and the case
 * rows; gup_stall_populate_fuse.c the cells on FUSE files.
 */
#ifndef __GUP_STALL_POPULATE_H
#define __GUP_STALL_POPULATE_H

#include "gup_stall.h"

enum caller {
	C_PREAD, C_PWRITE, C_MLOCK, C_ONFAULT, C_MMAP_POP, C_MLOCKALL,
	C_MLOCKALL_FUTURE, C_PROC_MEM, NR_CALLERS
};

/* gup_stall_populate.c: the callers, by enum caller */
extern const struct gs_caller callers[NR_CALLERS];

#define SEED		0x33	/* what the memory holds */
/* A call that must end promptly gets this long before it counts as stuck. */
#define PROMPT_MS	1000

/* One populate call; in gs_shared_alloc() memory when a sub-process makes it. */
struct call {
	struct gs_job job;	/* a caller thread of the cell process */
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

const char *cname(const struct gs_cell *c);
/* A call of the cell's caller on len bytes at addr, in shared memory. */
struct call *new_call(const struct gs_cell *c, char *addr, size_t len);
/* Make the call in the current task and publish the result. */
void call_now(struct call *k);
/* The first npages pages are present and hold the pattern of seed. */
void check_populated(const char *what, const char *addr, int npages,
		     size_t psize, __u64 seed);

/* gup_stall_populate_fuse.c */
void run_fuse(const struct gs_cell *c);
void run_fuse_kill(const struct gs_cell *c);
void run_fuse_held(const struct gs_cell *c);

#endif /* __GUP_STALL_POPULATE_H */
