// SPDX-License-Identifier: GPL-2.0
/*
 * gup_stall: the processes of a cell: spawning, bounded waits, task
 * states, signals and SIGKILL with a reap bound.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "../kselftest.h"
#include "gup_stall.h"
#include "gup_stall_int.h"

void gs_deadline(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

long gs_ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 +
	       (t.tv_nsec - t0->tv_nsec) / 1000000;
}

void *gs_shared_alloc(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		gs_fail("mmap of %zu shared bytes: %s", len, strerror(errno));
	return p;
}

/*
 * A forked process of a cell must not outlive the process that forked
 * it: PR_SET_PDEATHSIG, and a check of getppid() for a parent that died
 * before the prctl() took effect. Call right after fork() in the child.
 */
void gs_die_with_parent(pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL))
		_exit(1);
	if (getppid() != parent)
		_exit(1);
}

pid_t gs_spawn(void (*fn)(void *arg), void *arg)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid < 0)
		gs_fail("fork: %s", strerror(errno));
	if (!pid) {
		gs_die_with_parent(parent);
		fn(arg);
		_exit(0);
	}
	gs_watch_pid(pid);
	return pid;
}

/*
 * Wait up to timeout_ms for pid (a child) to exit and reap it.
 * Returns 0 when reaped, -1 on timeout.
 */
int gs_wait_exit(pid_t pid, int timeout_ms, int *status)
{
	struct pollfd pfd;
	int fd, ret, st;

	fd = syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		gs_fail("pidfd_open(%d): %s", pid, strerror(errno));
	pfd.fd = fd;
	pfd.events = POLLIN;
	do {
		ret = poll(&pfd, 1, timeout_ms);
	} while (ret < 0 && errno == EINTR);
	close(fd);
	if (ret == 0)
		return -1;
	if (waitpid(pid, &st, 0) != pid)
		gs_fail("waitpid(%d): %s", pid, strerror(errno));
	if (status)
		*status = st;
	return 0;
}

long gs_kill_reap(pid_t pid, const char *what)
{
	struct timespec t0;
	int status;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	kill(pid, SIGKILL);
	gs_phase("waiting for the SIGKILLed %s to be reaped", what);
	if (gs_wait_exit(pid, GS_REAP_MS, &status))
		gs_fail("SIGKILLed %s not reaped within %d ms", what,
			GS_REAP_MS);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		gs_fail("%s ended with status %#x, not by SIGKILL", what,
			status);
	return gs_ms_since(&t0);
}

/* The state letter of /proc/<tid>/stat (R, S, D, ...), 0 when gone. */
char gs_task_state(pid_t tid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", tid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/*
 * Wait until task tid sleeps in one of the given states ("D" for a
 * killable wait in the kernel): the event that says the caller is blocked.
 */
void gs_wait_state(pid_t tid, const char *states, const char *what)
{
	struct timespec t0;
	char s = 0;

	if (gs_inject == GS_INJECT_STATE)
		states = strcmp(states, "D") ? "D" : "S";
	clock_gettime(CLOCK_MONOTONIC, &t0);
	gs_phase("waiting for %s (task %d) to sleep in state %s", what, tid,
		 states);
	while (gs_ms_since(&t0) < GS_WAIT_MS) {
		s = gs_task_state(tid);
		if (s && strchr(states, s))
			return;
		usleep(200);
	}
	gs_fail("task state: %s (task %d) is in state '%c', not %s, after %d ms", what, tid,
		s ? s : '?', states, GS_WAIT_MS);
}

bool gs_sig_pending(pid_t tid, int sig)
{
	char path[64], line[256];
	bool pending = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long mask;

		if (sscanf(line, "SigPnd: %llx", &mask) == 1 ||
		    sscanf(line, "ShdPnd: %llx", &mask) == 1)
			if (mask & (1ULL << (sig - 1)))
				pending = true;
	}
	fclose(f);
	return pending;
}

void gs_wait_until(bool (*cond)(void *arg), void *arg, pid_t pid,
		   const char *what)
{
	struct timespec t0;
	int status;

	gs_phase("waiting for %s", what);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!cond(arg)) {
		if (pid && !gs_wait_exit(pid, 0, &status))
			gs_fail("process %d ended (status %#x) before %s", pid,
				status, what);
		if (gs_ms_since(&t0) > GS_WAIT_MS)
			gs_fail("no %s within %d ms", what, GS_WAIT_MS);
		usleep(200);
	}
}

struct gs_sig_wait {
	pid_t tid;
	int sig;
};

static bool gs_sig_is_pending(void *arg)
{
	struct gs_sig_wait *w = arg;

	return gs_sig_pending(w->tid, w->sig);
}

void gs_signal_sleeper(pid_t tid, int sig, const char *what)
{
	struct gs_sig_wait w = { tid, sig };
	char event[128];

	/* a thread of this process, else a process of the cell */
	if (gs_inject != GS_INJECT_UNSIGNALLED &&
	    syscall(SYS_tgkill, getpid(), tid, sig) && kill(tid, sig))
		gs_fail("signal %d to %s (task %d): %s", sig, what, tid,
			strerror(errno));
	snprintf(event, sizeof(event), "signal %d pending at %s", sig, what);
	gs_wait_until(gs_sig_is_pending, &w, 0, event);
	/* a killable sleep stays asleep, and the signal stays pending */
	gs_wait_state(tid, "D", what);
	if (!gs_sig_pending(tid, sig))
		gs_fail("signal %d taken by %s, which must sleep killable with it pending",
			sig, what);
}

static bool gs_flag_set(void *arg)
{
	return __atomic_load_n((int *)arg, __ATOMIC_ACQUIRE);
}

void gs_wait_flag(int *flag, pid_t pid, const char *what)
{
	gs_wait_until(gs_flag_set, flag, pid, what);
}

/* A blocking call in a thread of its own */

static void *gs_job_thread(void *arg)
{
	struct gs_job *j = arg;

	__atomic_store_n(&j->tid, gettid(), __ATOMIC_RELEASE);
	j->fn(j);
	pthread_mutex_lock(&j->lock);
	j->done = true;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

void gs_job_start(struct gs_job *j, void (*fn)(struct gs_job *j), void *ctx,
		  unsigned long arg)
{
	memset(j, 0, sizeof(*j));
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cond, NULL);
	j->fn = fn;
	j->ctx = ctx;
	j->arg = arg;
	if (pthread_create(&j->thread, NULL, gs_job_thread, j))
		gs_fail("pthread_create failed");
	gs_wait_flag(&j->tid, 0, "the job's thread to start");
	gs_watch_pid(j->tid);
}

bool gs_job_wait(struct gs_job *j, int ms)
{
	struct timespec deadline;
	int ret = 0;

	gs_deadline(&deadline, ms);
	pthread_mutex_lock(&j->lock);
	while (!j->done && ret != ETIMEDOUT)
		ret = pthread_cond_timedwait(&j->cond, &j->lock, &deadline);
	pthread_mutex_unlock(&j->lock);
	if (!j->done)
		return false;
	if (!j->joined)
		pthread_join(j->thread, NULL);
	j->joined = true;
	return true;
}

bool gs_job_done(struct gs_job *j)
{
	return __atomic_load_n(&j->done, __ATOMIC_ACQUIRE);
}

/* A child with its own mm */

static void gs_child_main(void *arg)
{
	struct gs_child *ch = arg;

	ch->fn(ch);
	if (!__atomic_load_n(&ch->ready, __ATOMIC_ACQUIRE))
		gs_fail("the child process returned before it was ready");
	for (;;)
		pause();
}

struct gs_child *gs_child_start(const struct gs_cell *c,
				void (*fn)(struct gs_child *ch), size_t own)
{
	size_t head = (sizeof(struct gs_child) + 63) & ~63UL;
	struct gs_child *ch = gs_shared_alloc(head + own);

	ch->c = c;
	ch->fn = fn;
	ch->own = (char *)ch + head;
	ch->pid = gs_spawn(gs_child_main, ch);
	return ch;
}

void gs_child_ready(struct gs_child *ch, pid_t tid)
{
	ch->tid = tid;
	__atomic_store_n(&ch->ready, 1, __ATOMIC_RELEASE);
}

bool gs_child_wait_ready(struct gs_child *ch, int ms, const char *what)
{
	struct timespec t0;
	int status;

	gs_phase("waiting for %s in the child process", what);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!__atomic_load_n(&ch->ready, __ATOMIC_ACQUIRE)) {
		if (!gs_wait_exit(ch->pid, 0, &status)) {
			ch->pid = 0;
			if (WIFEXITED(status) && !WEXITSTATUS(status) &&
			    gs_res->code >= 0)
				return false;
			gs_fail("the child process ended (status %#x) before %s",
				status, what);
		}
		if (gs_ms_since(&t0) > ms)
			gs_fail("no %s in the child process within %d ms", what,
				ms);
		usleep(200);
	}
	gs_watch_pid(ch->tid);
	return true;
}

long gs_child_kill(struct gs_child *ch, const char *what)
{
	return gs_kill_reap(ch->pid, what);
}

long gs_child_wait_gone(struct gs_child *ch, const char *what)
{
	struct timespec t0;
	int status;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	gs_phase("waiting for the exited %s to be reaped", what);
	if (gs_wait_exit(ch->pid, GS_REAP_MS, &status))
		gs_fail("%s that exited not reaped within %d ms", what,
			GS_REAP_MS);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		gs_fail("%s ended with status %#x, not exit(0)", what, status);
	return gs_ms_since(&t0);
}
