/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gup_stall library internals: the result a cell's processes write and
 * the runner reads. Programs include gup_stall.h only.
 */
#ifndef __GUP_STALL_INT_H
#define __GUP_STALL_INT_H

#include <sys/types.h>

struct gs_result {
	int code;		/* KSFT_*, or -1 while the cell runs */
	char msg[512];		/* why it failed, skipped or xfailed */
	char note[512];		/* details for the report */
	char phase[256];	/* what the cell waits for right now */
	pid_t watch[8];
	int nwatch;
};

/* In memory shared by the runner and the processes of a cell. */
extern struct gs_result *gs_res;

#endif /* __GUP_STALL_INT_H */
