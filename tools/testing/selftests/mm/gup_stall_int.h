/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gup_stall library internals: the result a cell's processes write and
 * the runner reads. Programs include gup_stall.h only.
 */
#ifndef __GUP_STALL_INT_H
#define __GUP_STALL_INT_H

#include <stdbool.h>
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

/* The runner's watchdog side (gup_stall_watch.c) */
void gs_report_stuck(pid_t cell);
/* The kernel stacks of the tasks left in process group pgid. */
void gs_print_group(pid_t pgid);
/* Kill and reap what is left of a cell's process group, bounded. */
bool gs_reap_group(pid_t pgid);
/* Negative control: a task of the cell that outlives SIGKILL. */
void gs_plant_unkillable(void);

#endif /* __GUP_STALL_INT_H */
