// SPDX-License-Identifier: GPL-2.0
/*
 * gup_stall: the lock-drop probe. A writer thread in the stalled mm must
 * finish while the caller sleeps when GUP dropped mmap_lock, and must
 * wait when the caller sleeps holding it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#include "../kselftest.h"
#include "gup_stall.h"

/*
 * The writer is a thread of the cell process started before any stall:
 * creating it inside the stall window would mmap its stack and block
 * on the very lock under test, before the probe could time it.
 */
struct gs_writer {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pid_t owner;		/* the process the thread lives in */
	bool go;
	bool done;
	int err;
};

static struct gs_writer gs_w;

static void gs_writer_write(struct gs_writer *w)
{
	void *p;

	/* mmap and munmap take mmap_lock for writing. */
	p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || munmap(p, 4096))
		w->err = errno;
}

static void *gs_writer_fn(void *arg)
{
	struct gs_writer *w = arg;

	for (;;) {
		pthread_mutex_lock(&w->lock);
		while (!w->go)
			pthread_cond_wait(&w->cond, &w->lock);
		w->go = false;
		pthread_mutex_unlock(&w->lock);
		gs_writer_write(w);
		pthread_mutex_lock(&w->lock);
		w->done = true;
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->lock);
	}
	return NULL;
}

/* Start this process's writer thread, once, before anything stalls. */
void gs_lockdrop_arm(void)
{
	pthread_t thr;

	if (gs_w.owner == getpid())
		return;
	pthread_mutex_init(&gs_w.lock, NULL);
	pthread_cond_init(&gs_w.cond, NULL);
	gs_w.go = false;
	gs_w.done = false;
	gs_w.owner = getpid();
	if (pthread_create(&thr, NULL, gs_writer_fn, &gs_w))
		gs_fail("pthread_create of the lock-drop writer failed");
	pthread_detach(thr);
}

/* Wait up to ms for the writer's round; true when it finished. */
static bool gs_writer_wait(int ms)
{
	struct timespec deadline;
	int ret = 0;
	bool done;

	gs_deadline(&deadline, ms);
	pthread_mutex_lock(&gs_w.lock);
	while (!gs_w.done && ret != ETIMEDOUT)
		ret = pthread_cond_timedwait(&gs_w.cond, &gs_w.lock, &deadline);
	done = gs_w.done;
	pthread_mutex_unlock(&gs_w.lock);
	return done;
}

/* Let the writer go; true when it finished within GS_WRITER_MS. */
static bool gs_writer_run(void)
{
	pthread_mutex_lock(&gs_w.lock);
	gs_w.done = false;
	gs_w.err = 0;
	gs_w.go = true;
	pthread_cond_broadcast(&gs_w.cond);
	pthread_mutex_unlock(&gs_w.lock);
	return gs_writer_wait(GS_WRITER_MS);
}

void gs_lockdrop_probe(pid_t tid, const char *states)
{
	struct timespec t0;

	gs_lockdrop_arm();	/* a no-op in a cell process */
	gs_phase("waiting for a writer in the stalled mm (mmap_lock)");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!gs_writer_run())
		gs_fail("mmap_lock not dropped: %s in %d ms",
			"a writer in the stalled mm made no progress",
			GS_WRITER_MS);
	if (gs_w.err)
		gs_fail("writer's mmap/munmap failed: %s", strerror(gs_w.err));
	if (!gs_task_state(tid) || !strchr(states, gs_task_state(tid)))
		gs_fail("caller %d was not stalled while the writer ran (state '%c', want %s)",
			tid, gs_task_state(tid) ?: '?', states);
	gs_note("writer done in %ld ms while stalled", gs_ms_since(&t0));
}

void gs_lockheld_probe(pid_t tid, const char *states)
{
	gs_lockdrop_arm();
	gs_phase("checking that a writer in the stalled mm waits (mmap_lock held)");
	if (gs_writer_run())
		gs_fail("mmap_lock dropped: a writer in the mm finished while task %d %s",
			tid, "should sleep holding it");
	if (!gs_task_state(tid) || !strchr(states, gs_task_state(tid)))
		gs_fail("caller %d was not stalled while the writer waited (state '%c', want %s)",
			tid, gs_task_state(tid) ?: '?', states);
	gs_note("writer blocked for %d ms", GS_WRITER_MS);
}

void gs_lockheld_end(void)
{
	struct timespec t0;

	gs_phase("waiting for the blocked writer once the lock holder let go");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!gs_writer_wait(GS_WAIT_MS))
		gs_fail("writer still blocked %d ms after the holder of mmap_lock let go",
			GS_WAIT_MS);
	if (gs_w.err)
		gs_fail("writer's mmap/munmap failed: %s", strerror(gs_w.err));
	gs_note("writer done %ld ms after the release", gs_ms_since(&t0));
}
