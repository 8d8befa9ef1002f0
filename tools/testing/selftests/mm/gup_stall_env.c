// SPDX-License-Identifier: GPL-2.0
/*
 * gup_stall machine settings shared between runs: several runs of the
 * suite may change the same settings at once (nr_hugepages, zram devices)
 * and a run may be SIGKILLed before it gives anything back.
 *
 * Every change is made under an flock on GS_RUN_DIR/lock and recorded
 * in a file of the run's own there (GS_RUN_DIR/<pid>): the run's process
 * start time, the zram device it swaps on, the huge pages it added. A run
 * gives back only what it added, and a run that starts finds the records
 * of runs that are gone and removes what they left behind.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <linux/capability.h>

#include "../kselftest.h"
#include "gup_stall.h"

#define GS_RUN_DIR	"/run/gup_stall"
#define GS_LOCK_MS	10000
#define GS_MAX_RUNS	64

struct gs_run_rec {
	pid_t pid;
	unsigned long long start;	/* /proc/<pid>/stat starttime */
	int zram;			/* zram device id, or -1 */
	unsigned long huge_kb;		/* huge page size of huge */
	long huge;			/* huge pages the run added */
};

static struct {
	int lockfd;		/* -1: no shared records (no /run) */
	int depth;		/* gs_env_lock() calls not yet undone */
	sigset_t saved;
	struct gs_run_rec own;
} gs_env = { .lockfd = -1, .own = { .zram = -1 } };

/* Field 22 of /proc/<pid>/stat: tells a live run from a reused pid. */
static unsigned long long gs_start_time(pid_t pid)
{
	unsigned long long start = 0;
	char path[64], buf[1024], *p;
	int i;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	p = strrchr(buf, ')');
	/* the space after ")" opens field 3; starttime is field 22 */
	for (i = 0; p && i < 20; i++)
		p = strchr(p + 1, ' ');
	if (p)
		start = strtoull(p + 1, NULL, 10);
	return start;
}

static bool gs_rec_alive(const struct gs_run_rec *r)
{
	if (r->pid == gs_env.own.pid)
		return true;
	return r->start && gs_start_time(r->pid) == r->start;
}

static void gs_rec_path(pid_t pid, char *path, size_t len)
{
	snprintf(path, len, GS_RUN_DIR "/%d", pid);
}

static bool gs_rec_read(const char *name, struct gs_run_rec *r)
{
	char path[64];
	FILE *f;
	int n;

	memset(r, 0, sizeof(*r));
	r->pid = strtol(name, NULL, 10);
	if (r->pid <= 0)
		return false;
	gs_rec_path(r->pid, path, sizeof(path));
	f = fopen(path, "r");
	if (!f)
		return false;
	n = fscanf(f, "start %llu zram %d huge %lu %ld", &r->start, &r->zram,
		   &r->huge_kb, &r->huge);
	fclose(f);
	return n == 4;
}

/* Write the run's own record; a rename, so readers see all or nothing. */
static void gs_rec_save(void)
{
	const struct gs_run_rec *r = &gs_env.own;
	char path[64], tmp[80];
	FILE *f;

	if (gs_env.lockfd < 0)
		return;
	gs_rec_path(r->pid, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f) {
		ksft_print_msg("cannot record settings in %s: %s\n", tmp,
			       strerror(errno));
		return;
	}
	fprintf(f, "start %llu\nzram %d\nhuge %lu %ld\n", r->start, r->zram,
		r->huge_kb, r->huge);
	if (fclose(f) || rename(tmp, path))
		ksft_print_msg("cannot record settings in %s: %s\n", path,
			       strerror(errno));
}

/*
 * Take the lock of the shared settings, bounded. SIGINT, SIGTERM and
 * SIGHUP wait until it is given back, so that the handler, which gives
 * settings back too, never finds a change half made.
 */
bool gs_env_lock(void)
{
	struct timespec t0;
	sigset_t set;

	if (gs_env.lockfd < 0)
		return true;
	if (gs_env.depth++)
		return true;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, &gs_env.saved);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (flock(gs_env.lockfd, LOCK_EX | LOCK_NB)) {
		if (gs_ms_since(&t0) > GS_LOCK_MS) {
			gs_env.depth = 0;
			sigprocmask(SIG_SETMASK, &gs_env.saved, NULL);
			return false;
		}
		usleep(10000);
	}
	return true;
}

void gs_env_unlock(void)
{
	if (gs_env.lockfd < 0 || !gs_env.depth || --gs_env.depth)
		return;
	flock(gs_env.lockfd, LOCK_UN);
	sigprocmask(SIG_SETMASK, &gs_env.saved, NULL);
}

/* Other runs alive now; their free huge pages may be spoken for. */
int gs_env_others(void)
{
	struct gs_run_rec r;
	struct dirent *de;
	int n = 0;
	DIR *d;

	if (gs_env.lockfd < 0)
		return 0;
	d = opendir(GS_RUN_DIR);
	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (gs_rec_read(de->d_name, &r) && r.pid != gs_env.own.pid &&
		    gs_rec_alive(&r))
			n++;
	closedir(d);
	return n;
}

void gs_env_set_zram(int id)
{
	gs_env.own.zram = id;
	gs_rec_save();
}

void gs_env_set_huge(unsigned long kb, long pages)
{
	gs_env.own.huge_kb = kb;
	gs_env.own.huge = pages;
	gs_rec_save();
}

/* Swap off, reset and remove a zram device of a run that is gone. */
static void gs_zram_remove(int id)
{
	char path[64];

	snprintf(path, sizeof(path), "/dev/zram%d", id);
	if (swapoff(path) && errno != EINVAL && errno != ENOENT)
		ksft_print_msg("swapoff %s: %s\n", path, strerror(errno));
	snprintf(path, sizeof(path), "/sys/block/zram%d/reset", id);
	if (!access(path, F_OK) && gs_write_str(path, "1"))
		ksft_print_msg("reset zram%d: %s\n", id, strerror(errno));
	if (!access(path, F_OK) &&
	    gs_write_long("/sys/class/zram-control/hot_remove", id))
		ksft_print_msg("hot_remove zram%d: %s\n", id, strerror(errno));
}

/* Give back pages huge pages of kb kB; returns how many went. */
long gs_env_huge_put(unsigned long kb, long pages)
{
	char path[128];
	long nr, now;

	snprintf(path, sizeof(path),
		 "/sys/kernel/mm/hugepages/hugepages-%lukB/nr_hugepages", kb);
	if (gs_read_long(path, &nr))
		return 0;
	if (pages > nr)
		pages = nr;
	if (gs_write_long(path, nr - pages))
		ksft_print_msg("lowering %s by %ld: %s\n", path, pages,
			       strerror(errno));
	if (gs_read_long(path, &now))
		return 0;
	return nr - now;
}

static bool gs_zram_claimed(const struct gs_run_rec *recs, int n, int id)
{
	int i;

	for (i = 0; i < n; i++)
		if (recs[i].zram == id && gs_rec_alive(&recs[i]))
			return true;
	return false;
}

/* Remove what a run that is gone left behind, and its record. */
static void gs_reclaim(const struct gs_run_rec *r, const struct gs_run_rec *all,
		       int n)
{
	char path[64];

	/* a device id a live run uses now was given back and reused */
	if (r->zram >= 0 && !gs_zram_claimed(all, n, r->zram)) {
		gs_zram_remove(r->zram);
		ksft_print_msg("run %d is gone: removed its swap on zram%d\n",
			       r->pid, r->zram);
	}
	if (r->huge > 0)
		ksft_print_msg("run %d is gone: gave back %ld of its %ld huge pages of %lu kB\n",
			       r->pid, gs_env_huge_put(r->huge_kb, r->huge),
			       r->huge, r->huge_kb);
	gs_rec_path(r->pid, path, sizeof(path));
	unlink(path);
}

static void gs_reclaim_all(void)
{
	struct gs_run_rec recs[GS_MAX_RUNS];
	struct dirent *de;
	int i, n = 0;
	DIR *d;

	d = opendir(GS_RUN_DIR);
	if (!d)
		return;
	while ((de = readdir(d)) && n < GS_MAX_RUNS)
		if (gs_rec_read(de->d_name, &recs[n]))
			n++;
	closedir(d);
	for (i = 0; i < n; i++)
		if (!gs_rec_alive(&recs[i]))
			gs_reclaim(&recs[i], recs, n);
}

/*
 * At the start of a run: register it, and clean up after runs that were
 * killed before they could. Without /run (or write access) the run goes
 * on alone, as before.
 */
void gs_env_start(void)
{
	gs_env.own.pid = getpid();
	gs_env.own.start = gs_start_time(gs_env.own.pid);
	if (mkdir(GS_RUN_DIR, 0755) && errno != EEXIST)
		return;
	gs_env.lockfd = open(GS_RUN_DIR "/lock", O_RDWR | O_CREAT | O_CLOEXEC,
			     0644);
	if (gs_env.lockfd < 0)
		return;
	if (!gs_env_lock()) {
		ksft_print_msg("%s/lock is held for %d ms: settings not shared\n",
			       GS_RUN_DIR, GS_LOCK_MS);
		close(gs_env.lockfd);
		gs_env.lockfd = -1;
		return;
	}
	gs_reclaim_all();
	gs_rec_save();
	gs_env_unlock();
}

/*
 * In a cell, around putting pages to swap and counting them: the kernel
 * spreads swap over all devices of the top priority, so pages may go to
 * another run's zram device, and that run's swapoff would bring them
 * back in before they are counted. A shared lock keeps such swapoffs
 * (made under the exclusive one) out for that moment; bounded, and
 * without /run the cell goes on unprotected. Returns an fd for
 * gs_env_swap_release(), or -1.
 */
int gs_env_swap_hold(void)
{
	struct timespec t0;
	int fd;

	fd = open(GS_RUN_DIR "/lock", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (flock(fd, LOCK_SH | LOCK_NB)) {
		if (gs_ms_since(&t0) > GS_LOCK_MS) {
			close(fd);
			return -1;
		}
		usleep(1000);
	}
	return fd;
}

void gs_env_swap_release(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* At the end of a run, with everything given back. */
void gs_env_end(void)
{
	char path[64];

	if (gs_env.lockfd < 0 || gs_env.own.pid != getpid())
		return;
	gs_rec_path(gs_env.own.pid, path, sizeof(path));
	unlink(path);
}

/* In a cell process: a task that outlived the run must not hold the lock. */
void gs_env_forget(void)
{
	if (gs_env.lockfd >= 0)
		close(gs_env.lockfd);
	gs_env.lockfd = -1;
}

/* Where cells put their files on disk (-d DIR). */
static const char *gs_dir = ".";

void gs_set_test_dir(const char *dir)
{
	gs_dir = dir;
}

const char *gs_test_dir(void)
{
	return gs_dir;
}

/* Small files of /proc and /sys */

int gs_read_long(const char *path, long *v)
{
	FILE *f = fopen(path, "r");
	int ok;

	if (!f)
		return -1;
	ok = fscanf(f, "%ld", v) == 1;
	fclose(f);
	return ok ? 0 : -1;
}

/* The first line of a file, or -1. */
int gs_read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	int ok;

	if (!f)
		return -1;
	ok = !!fgets(buf, len, f);
	fclose(f);
	return ok ? 0 : -1;
}

int gs_write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

int gs_write_long(const char *path, long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld", v);
	return gs_write_str(path, buf);
}

/* Clear cap from the effective set of the cell process. */
void gs_drop_cap(int cap)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &h, d))
		gs_fail("capget: %s", strerror(errno));
	d[CAP_TO_INDEX(cap)].effective &= ~CAP_TO_MASK(cap);
	if (syscall(SYS_capset, &h, d))
		gs_fail("capset: %s", strerror(errno));
}
