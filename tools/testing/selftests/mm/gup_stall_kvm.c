// SPDX-License-Identifier: GPL-2.0
/*
 * gup_stall_kvm: KVM's page pinning (hva_to_pfn) into guest memory that
 * is stalled by userfaultfd, swapped out, or changed while a vCPU waits.
 *
 * On a guest fault KVM first asks GUP with FOLL_NOWAIT: that attempt
 * must neither sleep nor drop mmap_lock nor queue a userfaultfd message
 * (FAULT_FLAG_RETRY_NOWAIT). Without async page faults it then pins
 * again, blocking, with mmap_lock droppable and (since 6.2)
 * FOLL_INTERRUPTIBLE, which queues exactly one message per page. The VM
 * here has no in-kernel local APIC and runs with interrupts off, so KVM
 * cannot hand the fault to its async-PF worker: the vCPU thread itself
 * waits in the fault, and the message names it.
 *
 * The guest is a few instructions in 32-bit protected mode without
 * paging, set up through KVM_SET_SREGS alone (no GDT, no firmware):
 * guest addresses are guest-physical addresses. It copies ECX dwords
 * from ESI to EDI, reports what is left of ECX on an I/O port and halts.
 * A guest read copies the memslot under test into a result area the
 * host checks; a guest write copies a known pattern into it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "../kselftest.h"
#include "gup_stall.h"

#include "gup_stall_kvm.h"

/* a guest copy of the whole slot: done, or not at all */
static const struct gs_caller callers[] = {
	[K_READ] = { "kvm-guest-read", GS_SEM_ALL_OR_EFAULT },
	[K_WRITE] = { "kvm-guest-write", GS_SEM_ALL_OR_EFAULT },
	[K_MEMSLOT] = { "kvm-set-memslot", GS_SEM_ALL_OR_EFAULT },
};

static int handled_usr1;

static void on_usr1(int sig)
{
	handled_usr1++;
}

void vm_set_access(struct gs_vm *vm, int caller)
{
	size_t len = vm->r->len;

	if (caller == K_WRITE) {
		gs_fill(vm->low + GS_VM_SRC_GPA, len, SEED_GUEST, 0);
		gs_vm_set_copy(vm, GS_VM_SRC_GPA, GS_VM_MEM_GPA, len);
	} else {
		memset(vm->low + GS_VM_RES_GPA, FILL_BYTE, len);
		gs_vm_set_copy(vm, GS_VM_MEM_GPA, GS_VM_RES_GPA, len);
	}
}

void check_access(struct gs_vm *vm, int caller)
{
	struct gs_region *r = vm->r;

	if (caller == K_WRITE)
		gs_check_data("the host mapping after the guest's write",
			      r->addr, r->len, SEED_GUEST, 0);
	else
		gs_check_data("what the guest read", vm->low + GS_VM_RES_GPA, r->len,
			      SEED_MEM, 0);
}

/* Stalls */

/* How long a vCPU in an interruptible wait may take to answer a signal. */
#define SIGNAL_MS	1000

static const char *state_name(char s)
{
	return s == 'S' ? "S (interruptible)" :
	       s == 'D' ? "D (uninterruptible/killable)" : "?";
}

/*
 * The vCPU's blocking attempt sleeps interruptibly where hva_to_pfn()
 * passes FOLL_INTERRUPTIBLE (upstream since 6.2), killable before: one
 * of the two per kernel, from the kernel matrix (gup_stall_expect.c).
 */
static bool wait_interruptible(const char **why)
{
	return !strcmp(gs_expect("kvm-fault-wait", "interruptible", why),
		       "interruptible");
}

static const char *fault_state(void)
{
	return wait_interruptible(NULL) ? "S" : "D";
}

/* The flow's state hook: the state, and where the expectation comes from. */
static const char *vcpu_state(const struct gs_cell *c, const char **what)
{
	*what = wait_interruptible(NULL) ?
		"the vCPU (kvm-fault-wait interruptible)" :
		"the vCPU (kvm-fault-wait killable, kernel matrix)";
	return fault_state();
}

/* KVM_RUN is still in its fault: say in which state it sleeps. */
static char vcpu_waits(struct gs_job *vcpu)
{
	char s = gs_task_state(vcpu->tid);

	if (gs_job_done(vcpu))
		gs_fail("KVM_RUN returned while its page was held: %s",
			strerrorname_np(vcpu->err) ?: "0");
	gs_note("vCPU waits in state %s", state_name(s));
	return s;
}

/*
 * One message for the held page: the FOLL_NOWAIT attempt before the
 * blocking one must not queue any (FAULT_FLAG_RETRY_NOWAIT).
 */
static void check_one_msg(struct gs_staller *st, int page, const char *when)
{
	int want = 1 + (gs_inject == GS_INJECT_MSGS);
	int n = gs_staller_count(st, page);

	if (n != want)
		gs_fail("userfaultfd messages: page %d has %d %s, want %d%s",
			page, n, when, want,
			n > 1 ? " (the FOLL_NOWAIT attempt queued one)" : "");
}

/* A VM whose memslot is region r, and a vCPU thread in KVM_RUN on it. */
static void start_vcpu(const struct gs_cell *c, struct gs_vm *vm,
		       struct gs_region *r, struct gs_job *vcpu)
{
	gs_vm_create(vm);
	gs_vm_add_region(vm, r);
	vm_set_access(vm, c->caller);
	gs_job_start(vcpu, gs_vm_run_job, vm, 0);
}

/*
 * For the cells that change the VM while the vCPU waits: the cell's
 * region under a staller, a vCPU whose fault reached the handler for the
 * held page from its own thread and sleeps there in the one state this
 * kernel's KVM waits in; *state gets that state.
 */
struct gs_staller *stall_vcpu(const struct gs_cell *c, struct gs_vm *vm,
			      struct gs_region *r, struct gs_job *vcpu,
			      char *state)
{
	unsigned int mode = c->stall == GS_STALL_WP ? GS_UFFD_WP : GS_UFFD_MISSING;
	struct gs_staller *st;
	struct gs_msg msg;
	const char *what = NULL;
	char s;

	gs_region_map(r, c->b, c->npages);
	if (c->stall == GS_STALL_WP)
		gs_fill(r->addr, r->len, SEED_MEM, 0);
	st = gs_staller_start(r, mode, SEED_MEM, GS_BIT(HELD));
	start_vcpu(c, vm, r, vcpu);
	gs_staller_wait_held(st, HELD, &msg);
	if (msg.ptid != (__u32)vcpu->tid)
		gs_fail("fault came from task %u, not from the vCPU thread %d",
			msg.ptid, vcpu->tid);
	gs_wait_state(vcpu->tid, vcpu_state(c, &what), what);
	s = vcpu_waits(vcpu);
	if (state)
		*state = s;
	return st;
}

/* Stalled guest accesses, through the library's stalled-cell flow */

/* the guest of the cell: one per cell process */
static struct {
	struct gs_vm vm;
	struct gs_job vcpu;
} guest;

static void start_guest(struct gs_stalled *s)
{
	struct sigaction sa = { .sa_handler = on_usr1 };

	/* no SA_RESTART: KVM_RUN is never restarted anyway */
	if (s->c->disturb == GS_D_SIGUSR1)
		sigaction(SIGUSR1, &sa, NULL);
	start_vcpu(s->c, &guest.vm, &s->r, &guest.vcpu);
	s->tid = guest.vcpu.tid;
}

/* While the vCPU waits: one message, and a WP page still unwritten. */
static void guest_stalled(struct gs_stalled *s)
{
	struct gs_region *r = &s->r;

	vcpu_waits(&guest.vcpu);
	check_one_msg(s->st, HELD, "while stalled");
	if (s->c->stall == GS_STALL_WP)
		gs_check_data("the write-protected page while the guest waits",
			      r->addr + HELD * r->psize, r->psize, SEED_MEM,
			      HELD * r->psize);
}

static void check_usr1_handled(const char *when)
{
	int want = 1 + (gs_inject == GS_INJECT_SIGNAL);

	if (handled_usr1 != want)
		gs_fail("signal count: SIGUSR1 handler ran %d times %s, want %d",
			handled_usr1, when, want);
}

/* KVM_RUN ended by the signal: EINTR with KVM_EXIT_INTR. */
static void check_intr_exit(struct gs_vm *vm, struct gs_job *vcpu, const char *when)
{
	if (vcpu->ret != -1 || vcpu->err != EINTR)
		gs_fail("KVM_RUN answered SIGUSR1 %s with %ld (%s), want EINTR",
			when, vcpu->ret, strerrorname_np(vcpu->err) ?: "0");
	if (vm->run->exit_reason != KVM_EXIT_INTR)
		gs_fail("EINTR %s with %s (%u), want KVM_EXIT_INTR", when,
			gs_kvm_exit_name(vm->run->exit_reason), vm->run->exit_reason);
	check_usr1_handled(when);
}

/*
 * Interruptible wait (KVM_PFN_ERR_SIGPENDING): KVM_RUN returns EINTR
 * with KVM_EXIT_INTR within SIGNAL_MS, while the page is still held.
 */
static void signal_interrupts(void)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	gs_phase("waiting for KVM_RUN to answer SIGUSR1 (interruptible wait)");
	if (!gs_job_wait(&guest.vcpu, SIGNAL_MS))
		gs_fail("vCPU in state '%c' ignored SIGUSR1 for %d ms (%d handled): %s",
			gs_task_state(guest.vcpu.tid) ?: '?', SIGNAL_MS,
			handled_usr1,
			"an interruptible fault wait must end KVM_RUN with EINTR");
	check_intr_exit(&guest.vm, &guest.vcpu, "while the page was held");
	gs_note("EINTR, KVM_EXIT_INTR %ld ms after SIGUSR1, page unresolved",
		gs_ms_since(&t0));
}

/* Killable wait: the signal stays pending, KVM_RUN in its fault. */
static void signal_pends(void)
{
	pid_t tid = guest.vcpu.tid;

	usleep(PENDING_MS * 1000);
	if (gs_job_done(&guest.vcpu) || gs_task_state(tid) != 'D' ||
	    !gs_sig_pending(tid, SIGUSR1))
		gs_fail("%s: after %d ms KVM_RUN %s, state '%c', SIGUSR1 %spending",
			"a killable fault wait must keep SIGUSR1 pending",
			PENDING_MS, gs_job_done(&guest.vcpu) ? "returned" : "waits",
			gs_task_state(tid) ?: '?',
			gs_sig_pending(tid, SIGUSR1) ? "" : "not ");
}

/*
 * A signal to the stalled vCPU thread, answered the one way this
 * kernel's fault wait allows.
 */
static void signal_guest(struct gs_stalled *s)
{
	pthread_kill(guest.vcpu.thread, SIGUSR1);
	if (wait_interruptible(NULL)) {
		signal_interrupts();
		check_one_msg(s->st, HELD, "after the signal");
	} else {
		check_one_msg(s->st, HELD, "with the signal pending");
		signal_pends();
	}
}

/*
 * After the release KVM_RUN completes the guest's access; a signalled
 * one first returns EINTR with KVM_EXIT_INTR (at once, or after the
 * release for a killable wait), the handler ran once, and a later
 * KVM_RUN completes the access. The guest sees exactly the data.
 */
static void finish_guest(struct gs_stalled *s)
{
	gs_phase("waiting for KVM_RUN after the release");
	if (!gs_job_wait(&guest.vcpu, GS_WAIT_MS))
		gs_fail("KVM_RUN still blocked %d ms after the release",
			GS_WAIT_MS);
	if (s->c->disturb != GS_D_SIGUSR1) {
		gs_vm_check_report(&guest.vm, &guest.vcpu);
	} else {
		if (!wait_interruptible(NULL)) {
			check_intr_exit(&guest.vm, &guest.vcpu,
					"after the release");
			gs_note("SIGUSR1 pending while stalled, EINTR after the release");
		}
		gs_vm_run(&guest.vm, "again after EINTR");
	}
	check_access(&guest.vm, s->c->caller);
}

static void after_guest(struct gs_stalled *s)
{
	gs_vm_destroy(&guest.vm);
}

static bool guest_writes(const struct gs_cell *c)
{
	return c->caller == K_WRITE;
}

static const struct gs_flow kvm_flow = {
	.seed = SEED_MEM, .callers = callers, .start = start_guest,
	.state = vcpu_state, .stalled = guest_stalled,
	.signal = signal_guest, .finish = finish_guest, .after = after_guest,
	.writes = guest_writes,
};

/*
 * A guest read or write stalled on one page: the vCPU waits in the
 * fault, the lock is dropped, a signal is answered as this kernel's wait
 * allows, the page is resolved late, and the guest sees exactly the
 * resolved data with one message per page.
 */
static void run_stall(const struct gs_cell *c)
{
	gs_stalled_cell(c, &kvm_flow);
}

/* The VMM process ends while its vCPU waits */

/*
 * Runs in a child with its own mm, the VMM: stall the vCPU, say so with
 * its sleep state, then wait for the end.
 */
static void vmm_main(struct gs_child *ch)
{
	struct gs_region r;
	struct gs_job vcpu;
	struct gs_vm vm;

	/* the staller lives until this process ends, holding the fault */
	stall_vcpu(ch->c, &vm, &r, &vcpu, ch->own);
	gs_child_ready(ch, vcpu.tid);
	if (ch->c->disturb == GS_D_EXIT)
		_exit(0);	/* exit_group kills the waiting vCPU thread */
}

/*
 * SIGKILL of the VMM, or its exit, while the vCPU waits in the fault:
 * the wait is at least killable, so the process goes promptly and the
 * VM, the userfaultfd and the memory with it.
 */
static void run_teardown(const struct gs_cell *c)
{
	struct gs_child *ch = gs_child_start(c, vmm_main, sizeof(char));
	const char *state = ch->own;
	long ms;

	/* VM creation and a first guest entry under TCG: a longer bound */
	gs_child_wait_ready(ch, 2 * GS_WAIT_MS, "the VMM's vCPU stall");
	if (c->disturb == GS_D_SIGKILL)
		ms = gs_child_kill(ch, "VMM with a stalled vCPU");
	else
		ms = gs_child_wait_gone(ch, "VMM with a stalled vCPU");
	gs_note("vCPU waited in %s; VMM reaped %ld ms after %s",
		state_name(*state), ms, gs_disturb_names[c->disturb]);
}

/*
 * Guest memory swapped out under KVM: a guest access, then
 * MADV_PAGEOUT (which must zap KVM's mappings through the MMU notifier),
 * then a guest read must see the same data again from swap.
 */
static void run_swap(const struct gs_cell *c)
{
	struct gs_region r;
	struct gs_vm vm;

	gs_vm_create(&vm);
	gs_region_map(&r, c->b, c->npages);
	gs_fill(r.addr, r.len, SEED_MEM, 0);
	gs_vm_add_region(&vm, &r);
	vm_set_access(&vm, c->caller);
	gs_vm_run(&vm, "before the pageout");
	check_access(&vm, c->caller);
	gs_region_pageout(&r);
	vm_set_access(&vm, K_READ);
	gs_vm_run(&vm, "swapped-out memory");
	gs_check_data("what the guest read from swap", vm.low + GS_VM_RES_GPA, r.len,
		      c->caller == K_WRITE ? SEED_GUEST : SEED_MEM, 0);
	gs_vm_destroy(&vm);
	gs_region_unmap(&r);
}

/* The cells */

#define RW		(GS_BIT(K_READ) | GS_BIT(K_WRITE))
#define STALLED		(GS_NEED_KVM | GS_NEED_UFFD)
/* two huge pages are enough to hold one and pass another */
#define HUGE_PAGES	2
#define SLOT_CHANGES	(GS_BIT(GS_D_SLOT_DELETE) | GS_BIT(GS_D_SLOT_MOVE) | \
			 GS_BIT(GS_D_MUNMAP) | GS_BIT(GS_D_CLOSE_FDS))
#define BAD_INPUT	(GS_BIT(GS_D_BAD_SIZE) | GS_BIT(GS_D_BAD_GPA) |	\
			 GS_BIT(GS_D_BAD_HVA) | GS_BIT(GS_D_BAD_SLOT) |	\
			 GS_BIT(GS_D_BAD_AS) | GS_BIT(GS_D_BAD_FLAGS) |	\
			 GS_BIT(GS_D_TOO_LARGE) | GS_BIT(GS_D_GPA_WRAP) |	\
			 GS_BIT(GS_D_KERNEL_HVA) | GS_BIT(GS_D_OVERLAP) |	\
			 GS_BIT(GS_D_RESIZE) | GS_BIT(GS_D_NEW_HVA) |	\
			 GS_BIT(GS_D_DELETE_ABSENT))

static const struct gs_case stall_cases[] = {
	{
		.purpose =
			"the vCPU waits in its fault (one message, lock dropped), then the guest sees the data",
		.run = run_stall, .callers = RW,
		.backings = "anon thp anon-shared memfd hugetlb",
		.huge_npages = HUGE_PAGES,
		.stall = GS_STALL_MISSING, .disturbs = GS_UNDISTURBED, .needs = STALLED,
	}, {
		.purpose = "a guest write waits on a write-protected page",
		.run = run_stall, .callers = GS_BIT(K_WRITE),
		.backings = "anon memfd hugetlb", .huge_npages = HUGE_PAGES,
		.stall = GS_STALL_WP,
		.disturbs = GS_UNDISTURBED, .needs = STALLED,
	}, {
		.purpose =
			"SIGUSR1 to the waiting vCPU: EINTR and KVM_EXIT_INTR where the wait is interruptible",
		.run = run_stall, .callers = GS_BIT(K_READ),
		.backings = "anon hugetlb", .huge_npages = HUGE_PAGES,
		.stall = GS_STALL_MISSING,
		.disturbs = GS_BIT(GS_D_SIGUSR1), .needs = STALLED,
	}, {
		.purpose = "SIGUSR1 to a vCPU waiting for a guest write",
		.run = run_stall, .callers = GS_BIT(K_WRITE),
		.backings = "memfd", .stall = GS_STALL_MISSING,
		.disturbs = GS_BIT(GS_D_SIGUSR1), .needs = STALLED,
	},
};

static const struct gs_case disturb_cases[] = {
	{
		.purpose =
			"the memslot or its memory changes while the vCPU waits (memslot updates wait for it)",
		.run = run_slot, .callers = GS_BIT(K_READ), .backings = "anon",
		.stall = GS_STALL_MISSING, .disturbs = SLOT_CHANGES,
		.needs = STALLED,
	}, {
		.purpose = "the memslot of a guest write deleted or unmapped while it waits",
		.run = run_slot, .callers = GS_BIT(K_WRITE), .backings = "memfd",
		.stall = GS_STALL_MISSING,
		.disturbs = GS_BIT(GS_D_SLOT_DELETE) | GS_BIT(GS_D_MUNMAP),
		.needs = STALLED,
	}, {
		.purpose = "the VMM is killed, or exits, while its vCPU waits: all goes",
		.run = run_teardown, .callers = GS_BIT(K_READ),
		.backings = "anon", .stall = GS_STALL_MISSING,
		.disturbs = GS_BIT(GS_D_SIGKILL) | GS_BIT(GS_D_EXIT),
		.needs = STALLED,
	}, {
		.purpose = "the VMM is killed while its vCPU waits on a huge page",
		.run = run_teardown, .callers = GS_BIT(K_READ),
		.backings = "hugetlb", .huge_npages = HUGE_PAGES,
		.stall = GS_STALL_MISSING, .disturbs = GS_BIT(GS_D_SIGKILL),
		.needs = STALLED,
	}, {
		.purpose = "the VMM of a waiting guest write is killed",
		.run = run_teardown, .callers = GS_BIT(K_WRITE),
		.backings = "memfd", .stall = GS_STALL_MISSING,
		.disturbs = GS_BIT(GS_D_SIGKILL), .needs = STALLED,
	}, {
		.purpose = "the VMM is killed while a guest write waits on WP",
		.run = run_teardown, .callers = GS_BIT(K_WRITE),
		.backings = "anon", .stall = GS_STALL_WP,
		.disturbs = GS_BIT(GS_D_SIGKILL), .needs = STALLED,
	},
};

static const struct gs_case other_cases[] = {
	{
		.purpose = "the guest reaches swapped-out memory and sees its data",
		.run = run_swap, .callers = RW, .backings = "anon memfd",
		.stall = GS_STALL_SWAPIN, .disturbs = GS_UNDISTURBED,
		.needs = GS_NEED_KVM | GS_NEED_SWAP, .npages = 16,
	}, {
		.purpose = "bad KVM_SET_USER_MEMORY_REGION input: its errno, the VM unharmed",
		.run = run_memslot, .callers = GS_BIT(K_MEMSLOT),
		.backings = "anon", .stall = GS_STALL_NONE,
		.disturbs = BAD_INPUT, .needs = GS_NEED_KVM,
	},
};

static const struct gs_table tables[] = {
	{ stall_cases, ARRAY_SIZE(stall_cases) },
	{ disturb_cases, ARRAY_SIZE(disturb_cases) },
	{ other_cases, ARRAY_SIZE(other_cases) },
};

static const char usage[] =
	"Needs /dev/kvm (x86); scripts/vmtest.sh runs it under nested SVM.\n";

int main(int argc, char **argv)
{
	gs_program_need(GS_NEED_KVM, gs_need_kvm);
	return gs_main(argc, argv, usage, callers, NR_CALLERS, tables,
		       ARRAY_SIZE(tables));
}
