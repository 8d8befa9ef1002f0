// SPDX-License-Identifier: GPL-2.0
/*
 * gup_stall: the stalled-cell flow. Every cell that holds a caller's
 * fault goes through the same steps; a program gives only the call's
 * side (start it, signal or kill it, check what it returned).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "../kselftest.h"
#include "gup_stall.h"

static unsigned int gs_stall_uffd(int stall)
{
	return stall == GS_STALL_WP ? GS_UFFD_WP :
	       stall == GS_STALL_MINOR ? GS_UFFD_MINOR : GS_UFFD_MISSING;
}

static void gs_fork_in_mm(void)
{
	pid_t pid = fork();

	if (pid < 0)
		gs_fail("fork during the stall: %s", strerror(errno));
	if (!pid)
		_exit(0);
	gs_phase("waiting for fork() in the stalled mm");
	if (gs_wait_exit(pid, GS_WAIT_MS, NULL))
		gs_fail("fork's child not done in %d ms", GS_WAIT_MS);
}

/*
 * Pages move to another node while the call waits for page GS_HELD. A
 * call that pins (process_vm_rw) holds the pages before it: they must
 * stay where they are. One that only faults in (populate) holds none:
 * they must move.
 */
static void gs_migrate_stalled(struct gs_stalled *s)
{
	unsigned long long pinned = s->f->pins ? GS_BIT(GS_HELD) - 1 : 0;
	struct gs_region *r = &s->r;

	s->node_src = gs_page_node(r->addr);
	s->node_dst = gs_numa_other(s->node_src);
	switch (s->c->disturb) {
	case GS_D_MIGRATE:
		gs_migrate(r, 0, r->npages, s->node_dst, pinned);
		break;
	case GS_D_MIGRATE_STALLED:
		gs_migrate(r, GS_HELD, 1, s->node_dst, 0);
		break;
	case GS_D_MBIND:
		gs_mbind(r, s->node_dst);
		break;
	}
	if (s->c->disturb != GS_D_MIGRATE_STALLED)
		gs_check_node(r, 0, 1, pinned ? s->node_src : s->node_dst,
			      pinned ? "the pinned page after the move" :
			      "the populated page after the move");
}

void gs_disturb_memory(struct gs_stalled *s)
{
	static const enum gs_change changes[] = {
		[GS_D_MUNMAP_TAIL] = GS_MUNMAP_TAIL,
		[GS_D_MUNMAP_STALLED] = GS_MUNMAP_STALLED,
		[GS_D_MREMAP_TAIL] = GS_MREMAP_TAIL,
		[GS_D_MREMAP_STALLED] = GS_MREMAP_STALLED,
		[GS_D_MPROTECT_TAIL] = GS_MPROTECT_TAIL,
		[GS_D_MPROTECT_STALLED] = GS_MPROTECT_STALLED,
		[GS_D_DONTNEED_TAIL] = GS_DONTNEED_TAIL,
		[GS_D_DONTNEED_STALLED] = GS_DONTNEED_STALLED,
	};

	switch (s->c->disturb) {
	case GS_D_MUNMAP_TAIL:
	case GS_D_MUNMAP_STALLED:
	case GS_D_MREMAP_TAIL:
	case GS_D_MREMAP_STALLED:
	case GS_D_MPROTECT_TAIL:
	case GS_D_MPROTECT_STALLED:
	case GS_D_DONTNEED_TAIL:
	case GS_D_DONTNEED_STALLED:
		gs_region_change(&s->r, changes[s->c->disturb], GS_HELD);
		break;
	case GS_D_FORK:
		gs_fork_in_mm();
		break;
	case GS_D_MIGRATE:
	case GS_D_MIGRATE_STALLED:
	case GS_D_MBIND:
		gs_migrate_stalled(s);
		break;
	}
}

/*
 * After the call: pages faulted in after mbind follow the new policy;
 * a pinning call's pins are gone, so every page moves now and keeps its
 * data.
 */
void gs_check_migrated(struct gs_stalled *s, __u64 seed)
{
	struct gs_region *r = &s->r;

	if (!s->f->pins) {
		if (s->c->disturb == GS_D_MIGRATE)
			gs_note("pages faulted in after the move on node %d",
				gs_page_node(r->addr + GS_HELD * r->psize));
		if (s->c->disturb == GS_D_MBIND)
			gs_check_node(r, 0, r->npages, s->node_dst,
				      "after the call");
		return;
	}
	switch (s->c->disturb) {
	case GS_D_MIGRATE_STALLED:
		if (s->c->stall == GS_STALL_WP)
			gs_check_node(r, GS_HELD, 1, s->node_dst,
				      "the page written after its migration");
		break;
	case GS_D_MBIND:
		/* faulted in after mbind: allocated by the new policy */
		gs_check_node(r, GS_HELD, r->npages - GS_HELD, s->node_dst,
			      "pages faulted in after mbind");
		break;
	default:
		return;
	}
	gs_migrate(r, 0, r->npages, s->node_dst, 0);
	gs_check_data("the region after the migration", r->addr, r->len,
		      seed, 0);
}

static void gs_disturb(struct gs_stalled *s, const struct gs_flow *f)
{
	if (s->c->disturb == GS_D_SIGUSR1)
		f->signal(s);
	else if (s->c->disturb == GS_D_SIGKILL)
		f->kill(s);
	else
		gs_disturb_memory(s);
}

static void gs_release(struct gs_stalled *s)
{
	int err;

	if (s->c->disturb == GS_D_REFAULT)
		err = gs_staller_release_zapped(s->st, GS_HELD);
	else
		err = gs_staller_release(s->st, GS_HELD);
	if (err)
		gs_note("resolving the stalled page: %s, woken",
			strerrorname_np(err));
	gs_staller_release_all(s->st);
}

/*
 * The held fault came from the caller's task, which sleeps in the state
 * its wait must have, and mmap_lock is free meanwhile.
 */
static void gs_check_stalled(struct gs_stalled *s, __u32 ptid)
{
	const char *what = s->f->callers[s->c->caller].name;
	const char *state = "D";

	if (ptid != (__u32)s->tid)
		gs_fail("fault came from task %u, not from the caller %d",
			ptid, s->tid);
	if (s->f->state)
		state = s->f->state(s->c, &what);
	gs_wait_state(s->tid, state, what);
	gs_lockdrop_probe(s->tid, state);
	if (s->f->stalled)
		s->f->stalled(s);
}

void gs_stalled_cell(const struct gs_cell *c, const struct gs_flow *f)
{
	struct gs_stalled s = { .c = c, .f = f };
	struct gs_msg msg;

	gs_outcome(f->callers[c->caller].sem, c->disturb, c->npages, &s.want);

	gs_region_map(&s.r, c->b, c->npages);
	if (f->prepare)
		f->prepare(&s);
	else if (c->stall == GS_STALL_WP)
		gs_fill(s.r.addr, s.r.len, f->seed, 0);
	if (c->stall == GS_STALL_MINOR)
		gs_region_fill_cache(&s.r, f->seed);
	s.st = gs_staller_start(&s.r, gs_stall_uffd(c->stall), f->seed,
				GS_BIT(GS_HELD));
	f->start(&s);
	if (f->stalls && !f->stalls(&s)) {
		gs_staller_release_all(s.st);
		gs_staller_stop(s.st);
		return;
	}
	gs_staller_wait_held(s.st, GS_HELD, &msg);
	gs_check_stalled(&s, msg.ptid);
	gs_disturb(&s, f);
	gs_release(&s);
	if (c->disturb != GS_D_SIGKILL)
		f->finish(&s);
	gs_staller_check_msgs(s.st, 0, s.want.last_faulted, f->writes(c));
	gs_staller_stop(s.st);
	if (f->after)
		f->after(&s);
	gs_region_unmap(&s.r);
}
