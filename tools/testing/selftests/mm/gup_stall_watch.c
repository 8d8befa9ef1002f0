// SPDX-License-Identifier: GPL-2.0
/*
 * gup_stall: the runner's watchdog side. Where a cell's tasks are stuck
 * (their kernel stacks), and the end of a cell: its process group killed
 * and reaped within a bound, or the tasks that survive SIGKILL named.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "../kselftest.h"
#include "gup_stall.h"
#include "gup_stall_int.h"

static void gs_print_stack(pid_t pid)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stack", pid);
	f = fopen(path, "r");
	if (!f)
		return;
	ksft_print_msg("  task %d state %c, kernel stack:\n", pid,
		       gs_task_state(pid) ?: '?');
	while (fgets(line, sizeof(line), f))
		ksft_print_msg("    %s", line);
	fclose(f);
}

void gs_report_stuck(pid_t cell)
{
	int i;

	ksft_print_msg("cell process %d stuck: %s\n", cell,
		       gs_res->phase[0] ? gs_res->phase : "(no phase)");
	gs_print_stack(cell);
	for (i = 0; i < gs_res->nwatch; i++)
		gs_print_stack(gs_res->watch[i]);
}

/* The kernel stacks of the tasks left in process group pgid. */
void gs_print_group(pid_t pgid)
{
	char path[64], buf[512], *p;
	struct dirent *de;
	int pid, grp;
	DIR *d;

	d = opendir("/proc");
	if (!d)
		return;
	while ((de = readdir(d))) {
		pid = atoi(de->d_name);
		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		if (gs_read_line(path, buf, sizeof(buf)))
			continue;
		p = strrchr(buf, ')');
		/* after ")": state, ppid, pgrp */
		if (p && sscanf(p + 2, "%*c %*d %d", &grp) == 1 && grp == pgid)
			gs_print_stack(pid);
	}
	closedir(d);
}

/*
 * Kill what is left of a cell's process group and reap it, bounded.
 * The runner is a child subreaper, so orphans of the cell come here.
 */
bool gs_reap_group(pid_t pgid)
{
	struct timespec t0;

	kill(-pgid, SIGKILL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (gs_ms_since(&t0) < GS_UNKILLABLE_MS) {
		while (waitpid(-1, NULL, WNOHANG | __WALL) > 0)
			;
		if (kill(-pgid, 0) && errno == ESRCH)
			return true;
		usleep(1000);
	}
	return false;
}

/*
 * Negative control of the bail-out: a task of the cell that SIGKILL does
 * not remove from its process group. A kernel would need a bug for that;
 * ptrace gives the same picture: a task killed while traced by a process
 * outside the group stays there, a zombie, until its tracer reaps it.
 * The tracer does not, for longer than the runner waits, then goes.
 */
void gs_plant_unkillable(void)
{
	pid_t victim, tracer;
	int pfd[2];
	char c;

	if (pipe(pfd))
		gs_fail("pipe: %s", strerror(errno));
	victim = fork();
	if (!victim) {
		for (;;)
			pause();
	}
	tracer = fork();
	if (!tracer) {
		setpgid(0, 0);
		c = !ptrace(PTRACE_SEIZE, victim, 0, 0);
		if (write(pfd[1], &c, 1) != 1)
			_exit(1);
		usleep((GS_UNKILLABLE_MS + 3000) * 1000);
		_exit(0);
	}
	if (victim < 0 || tracer < 0 || read(pfd[0], &c, 1) != 1 || !c)
		gs_fail("planting a task that outlives SIGKILL failed");
	close(pfd[0]);
	close(pfd[1]);
}
