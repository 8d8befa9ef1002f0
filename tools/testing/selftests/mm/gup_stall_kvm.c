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
#include <sys/wait.h>

#include "../kselftest.h"
#include "gup_stall.h"
#include "gup_stall_kmsg.h"

#ifndef KVM_EXIT_MEMORY_FAULT
#define KVM_EXIT_MEMORY_FAULT	39	/* uapi since 6.8 */
#endif

enum caller { K_READ, K_WRITE, K_MEMSLOT };

enum stall { ST_NONE, ST_MISSING, ST_WP, ST_SWAPIN };

enum disturb {
	D_NONE, D_SIGUSR1, D_SLOT_DELETE, D_SLOT_MOVE, D_MUNMAP,
	D_CLOSE_FDS, D_SIGKILL, D_EXIT,
	/* bad KVM_SET_USER_MEMORY_REGION input */
	D_BAD_SIZE, D_BAD_GPA, D_BAD_HVA, D_BAD_SLOT, D_BAD_AS, D_BAD_FLAGS,
	D_TOO_LARGE, D_GPA_WRAP, D_KERNEL_HVA, D_OVERLAP, D_RESIZE,
	D_NEW_HVA, D_DELETE_ABSENT,
};

static const char * const caller_names[] = {
	"kvm-guest-read", "kvm-guest-write", "kvm-set-memslot",
};

static const char * const stall_names[] = {
	"none", "missing", "wp", "swapin",
};

static const char * const disturb_names[] = {
	"none", "sigusr1", "slot-delete", "slot-move", "munmap",
	"close-fds", "sigkill", "exit",
	"unaligned-size", "unaligned-gpa", "unaligned-hva", "bad-slot",
	"bad-address-space", "bad-flags", "too-large", "gpa-wrap",
	"kernel-hva", "overlap", "resize", "new-hva", "delete-absent",
};

/* The stalled page; pages before it are resolved at once. */
#define HELD		1
#define SEED_MEM	0x31	/* what the memslot under test holds */
#define SEED_GUEST	0x42	/* what a guest write puts there */
#define FILL_BYTE	0xaa	/* the result area before a guest read */

/*
 * Guest-physical layout. Slot 0 is plain anonymous memory holding the
 * code, the pattern a guest write copies and the result of a guest read;
 * slot 1 is the memory under test, 1 GiB up so any huge page fits.
 */
#define LOW_SLOT	0
#define MEM_SLOT	1
#define CODE_GPA	0x1000UL
#define SRC_GPA		0x400000UL
#define RES_GPA		0x800000UL
#define LOW_SIZE	0xc00000UL
#define MEM_GPA		0x40000000UL
#define MOVED_GPA	0x80000000UL

/* The port the guest reports on; see guest_code[]. */
#define REPORT_PORT	0xf0

/*
 * 32-bit code, entered with ESI = source, EDI = destination, ECX = dword
 * count, interrupts off.
 */
static const unsigned char guest_code[] = {
	0xfc,			/* cld: copy upwards */
	0xf3, 0xa5,		/* rep movsd: ECX dwords from [ESI] to [EDI] */
	0x89, 0xc8,		/* mov eax, ecx: what is left, 0 when done */
	0xe7, REPORT_PORT,	/* out REPORT_PORT, eax: report it */
	0xf4,			/* hlt */
	0xeb, 0xfd,		/* jmp back to hlt, should it ever resume */
};

struct vm {
	int kvm;
	int fd;
	int vcpu;
	struct kvm_run *run;
	size_t run_size;
	char *low;
	struct gs_region *r;	/* backs MEM_SLOT */
};

/* A blocking call made in a thread of its own, so that waits are bounded. */
struct job {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	void (*fn)(struct job *j);
	struct vm *vm;
	unsigned long arg;
	pid_t tid;
	bool done;
	long ret;
	int err;
};

static int handled_usr1;

static void on_usr1(int sig)
{
	handled_usr1++;
}

static void *job_thread(void *arg)
{
	struct job *j = arg;

	__atomic_store_n(&j->tid, gettid(), __ATOMIC_RELEASE);
	j->fn(j);
	pthread_mutex_lock(&j->lock);
	j->done = true;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

static void job_start(struct job *j, void (*fn)(struct job *j), struct vm *vm,
		      unsigned long arg)
{
	memset(j, 0, sizeof(*j));
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cond, NULL);
	j->fn = fn;
	j->vm = vm;
	j->arg = arg;
	if (pthread_create(&j->thread, NULL, job_thread, j))
		gs_fail("pthread_create failed");
	while (!__atomic_load_n(&j->tid, __ATOMIC_ACQUIRE))
		usleep(50);
	gs_watch_pid(j->tid);
}

/* Wait up to ms for the job; true when it is done (and joined). */
static bool job_wait(struct job *j, int ms)
{
	struct timespec deadline;
	int ret = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += ms / 1000;
	deadline.tv_nsec += (ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&j->lock);
	while (!j->done && ret != ETIMEDOUT)
		ret = pthread_cond_timedwait(&j->cond, &j->lock, &deadline);
	pthread_mutex_unlock(&j->lock);
	if (!j->done)
		return false;
	pthread_join(j->thread, NULL);
	return true;
}

static bool job_done(struct job *j)
{
	return __atomic_load_n(&j->done, __ATOMIC_ACQUIRE);
}

/* KVM setup */

/*
 * Why /dev/kvm cannot be opened: what the kernel said when KVM failed to
 * come up (e.g. "kvm: RT requires X86_FEATURE_CONSTANT_TSC"), else which
 * piece is missing.
 */
static const char *kvm_missing_why(char *why, size_t len, int err)
{
	char msg[256];

	if (gs_kmsg_last_error("kvm", msg, sizeof(msg)))
		snprintf(why, len, "no usable /dev/kvm (%s); kernel log: %s",
			 strerror(err), msg);
	else if (access("/sys/module/kvm", F_OK))
		snprintf(why, len,
			 "no usable /dev/kvm (%s): the kvm module is not loaded (CONFIG_KVM, then CONFIG_KVM_AMD or CONFIG_KVM_INTEL and modprobe)",
			 strerror(err));
	else if (access("/sys/module/kvm_amd", F_OK) &&
		 access("/sys/module/kvm_intel", F_OK))
		snprintf(why, len,
			 "no usable /dev/kvm (%s): kvm is loaded but neither kvm_amd nor kvm_intel (CONFIG_KVM_AMD or CONFIG_KVM_INTEL, and SVM or VMX in the CPU)",
			 strerror(err));
	else
		snprintf(why, len, "no usable /dev/kvm (%s)", strerror(err));
	return why;
}

static const char *need_kvm(void)
{
	static char why[400];
	int fd, v;

	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return kvm_missing_why(why, sizeof(why), errno);
	v = ioctl(fd, KVM_GET_API_VERSION, 0);
	close(fd);
	/*
	 * Only VMX and SVM map guest memory with hva_to_pfn() on a fault;
	 * other KVM flavours (kvm_pvm) emulate the guest's accesses with
	 * uaccess, which is not what the cells check.
	 */
	if (access("/sys/module/kvm_amd", F_OK) &&
	    access("/sys/module/kvm_intel", F_OK)) {
		snprintf(why, sizeof(why),
			 "/dev/kvm is not kvm_amd or kvm_intel (no /sys/module/kvm_amd or kvm_intel); scripts/vmtest.sh provides kvm_amd");
		return why;
	}
	if (v != KVM_API_VERSION) {
		snprintf(why, sizeof(why),
			 "/dev/kvm answers KVM_GET_API_VERSION with %d, want %d",
			 v, KVM_API_VERSION);
		return why;
	}
	return NULL;
}

static int set_slot(struct vm *vm, __u32 slot, __u64 gpa, void *hva,
		    __u64 size, __u32 flags)
{
	struct kvm_userspace_memory_region mr = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (unsigned long)hva,
	};

	return ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &mr);
}

/* Flat 4 GiB segments, as if loaded from a GDT with these selectors. */
static void flat_segment(struct kvm_segment *s, __u16 sel, __u8 type)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->db = 1;
	s->s = 1;
	s->g = 1;
}

static void vm_init_sregs(struct vm *vm)
{
	struct kvm_sregs sregs;

	if (ioctl(vm->vcpu, KVM_GET_SREGS, &sregs))
		gs_fail("KVM_GET_SREGS: %s", strerror(errno));
	flat_segment(&sregs.cs, 0x08, 0xb);	/* code, execute/read */
	flat_segment(&sregs.ds, 0x10, 0x3);	/* data, read/write */
	sregs.es = sregs.ds;
	sregs.ss = sregs.ds;
	sregs.fs = sregs.ds;
	sregs.gs = sregs.ds;
	sregs.cr0 = 0x11;			/* PE, ET; paging off */
	sregs.cr4 = 0;
	sregs.efer = 0;
	if (ioctl(vm->vcpu, KVM_SET_SREGS, &sregs))
		gs_fail("KVM_SET_SREGS: %s", strerror(errno));
}

/*
 * A VM with one vCPU and slot 0; no in-kernel irqchip, so no async page
 * faults: a fault that waits, waits in the vCPU thread.
 */
static void vm_create(struct vm *vm)
{
	const char *why = need_kvm();
	int n;

	if (why)
		gs_skip("%s", why);
	memset(vm, 0, sizeof(*vm));
	vm->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	vm->fd = ioctl(vm->kvm, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		gs_fail("KVM_CREATE_VM: %s", strerror(errno));
	vm->low = mmap(NULL, LOW_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->low == MAP_FAILED)
		gs_fail("mmap of guest memory: %s", strerror(errno));
	memcpy(vm->low + CODE_GPA, guest_code, sizeof(guest_code));
	if (set_slot(vm, LOW_SLOT, 0, vm->low, LOW_SIZE, 0))
		gs_fail("KVM_SET_USER_MEMORY_REGION slot 0: %s",
			strerror(errno));
	vm->vcpu = ioctl(vm->fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu < 0)
		gs_fail("KVM_CREATE_VCPU: %s", strerror(errno));
	n = ioctl(vm->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (n < (int)sizeof(struct kvm_run))
		gs_fail("KVM_GET_VCPU_MMAP_SIZE: %d (%s)", n, strerror(errno));
	vm->run_size = n;
	vm->run = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu,
		       0);
	if (vm->run == MAP_FAILED)
		gs_fail("mmap of kvm_run: %s", strerror(errno));
	vm_init_sregs(vm);
}

/* Put the memory under test into the guest at MEM_GPA. */
static void vm_add_region(struct vm *vm, struct gs_region *r)
{
	vm->r = r;
	if (set_slot(vm, MEM_SLOT, MEM_GPA, r->map, r->map_len, 0))
		gs_fail("KVM_SET_USER_MEMORY_REGION of %s (%zu bytes): %s",
			r->b->name, r->map_len, strerror(errno));
}

static void vm_destroy(struct vm *vm)
{
	munmap(vm->run, vm->run_size);
	close(vm->vcpu);
	close(vm->fd);
	close(vm->kvm);
	munmap(vm->low, LOW_SIZE);
}

/* Point the vCPU at the copy loop: len bytes from src to dst. */
static void vm_set_copy(struct vm *vm, __u64 src, __u64 dst, size_t len)
{
	struct kvm_regs regs = {
		.rip = CODE_GPA,
		.rflags = 0x2,		/* IF clear: no async page faults */
		.rsi = src,
		.rdi = dst,
		.rcx = len / 4,
	};

	if (ioctl(vm->vcpu, KVM_SET_REGS, &regs))
		gs_fail("KVM_SET_REGS: %s", strerror(errno));
}

/* The guest copy a cell's caller makes: read the slot, or write it. */
static void vm_set_access(struct vm *vm, int caller)
{
	size_t len = vm->r->len;

	if (caller == K_WRITE) {
		gs_fill(vm->low + SRC_GPA, len, SEED_GUEST, 0);
		vm_set_copy(vm, SRC_GPA, MEM_GPA, len);
	} else {
		memset(vm->low + RES_GPA, FILL_BYTE, len);
		vm_set_copy(vm, MEM_GPA, RES_GPA, len);
	}
}

static void do_kvm_run(struct job *j)
{
	j->ret = ioctl(j->vm->vcpu, KVM_RUN, 0);
	j->err = errno;
}

static const char *exit_name(__u32 reason)
{
	switch (reason) {
	case KVM_EXIT_IO:
		return "KVM_EXIT_IO";
	case KVM_EXIT_HLT:
		return "KVM_EXIT_HLT";
	case KVM_EXIT_MMIO:
		return "KVM_EXIT_MMIO";
	case KVM_EXIT_INTR:
		return "KVM_EXIT_INTR";
	case KVM_EXIT_SHUTDOWN:
		return "KVM_EXIT_SHUTDOWN";
	case KVM_EXIT_FAIL_ENTRY:
		return "KVM_EXIT_FAIL_ENTRY";
	case KVM_EXIT_INTERNAL_ERROR:
		return "KVM_EXIT_INTERNAL_ERROR";
	default:
		return "another exit";
	}
}

/* The guest's report: the copy finished with nothing left. */
static void check_report(struct vm *vm, struct job *j)
{
	struct kvm_run *run = vm->run;
	__u32 left;

	if (j->ret)
		gs_fail("KVM_RUN failed: %s (exit reason %u)",
			strerrorname_np(j->err) ?: "?", run->exit_reason);
	if (run->exit_reason != KVM_EXIT_IO || run->io.port != REPORT_PORT ||
	    run->io.direction != KVM_EXIT_IO_OUT || run->io.size != 4)
		gs_fail("guest stopped with %s (%u), not its report on port %#x",
			exit_name(run->exit_reason), run->exit_reason,
			REPORT_PORT);
	memcpy(&left, (char *)run + run->io.data_offset, sizeof(left));
	if (left)
		gs_fail("guest reports %u dwords left to copy", left);
}

/* Run the guest until it reports, bounded. */
static void vm_run(struct vm *vm, const char *what)
{
	struct job j;

	job_start(&j, do_kvm_run, vm, 0);
	gs_phase("waiting for KVM_RUN (%s)", what);
	if (!job_wait(&j, GS_WAIT_MS))
		gs_fail("KVM_RUN (%s) did not return in %d ms", what,
			GS_WAIT_MS);
	check_report(vm, &j);
}

/* What the guest must have seen or left behind. */
static void check_access(struct vm *vm, int caller)
{
	struct gs_region *r = vm->r;

	if (caller == K_WRITE)
		gs_check_data("the host mapping after the guest's write",
			      r->addr, r->len, SEED_GUEST, 0);
	else
		gs_check_data("what the guest read", vm->low + RES_GPA, r->len,
			      SEED_MEM, 0);
}

/* Stalls */

/* How long a vCPU in an interruptible wait may take to answer a signal. */
#define SIGNAL_MS	1000
/* How long a killable wait must visibly keep a signal pending. */
#define PENDING_MS	500

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

/*
 * The vCPU's fault reached the handler for the held page from the vCPU
 * thread itself, and the thread sleeps there in the one state this
 * kernel's KVM waits in.
 */
static char wait_stalled(struct gs_staller *st, struct job *vcpu)
{
	struct gs_msg msg;
	char s;

	gs_staller_wait_held(st, HELD, &msg);
	if (msg.ptid != (__u32)vcpu->tid)
		gs_fail("fault came from task %u, not from the vCPU thread %d",
			msg.ptid, vcpu->tid);
	gs_wait_state(vcpu->tid, fault_state(), wait_interruptible(NULL) ?
		      "the vCPU (kvm-fault-wait interruptible)" :
		      "the vCPU (kvm-fault-wait killable, kernel matrix)");
	s = gs_task_state(vcpu->tid);
	if (job_done(vcpu))
		gs_fail("KVM_RUN returned while its page was held: %s",
			strerrorname_np(vcpu->err) ?: "0");
	gs_note("vCPU waits in state %s", state_name(s));
	return s;
}

/* A writer of this mm finishes while the vCPU stays in its fault. */
static void lockdrop_probe(struct job *vcpu)
{
	gs_lockdrop_probe(vcpu->tid, fault_state());
	if (job_done(vcpu))
		gs_fail("the vCPU left its fault while the writer ran");
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

static struct gs_staller *start_stall(const struct gs_cell *c,
				      struct gs_region *r)
{
	unsigned int mode = c->stall == ST_WP ? GS_UFFD_WP : GS_UFFD_MISSING;

	if (c->stall == ST_WP)
		gs_fill(r->addr, r->len, SEED_MEM, 0);
	return gs_staller_start(r, mode, SEED_MEM, 1ULL << HELD);
}

/*
 * A VM whose memslot is the cell's region under the staller, and a vCPU
 * thread whose KVM_RUN waits in its fault; *state gets its sleep state.
 */
static struct gs_staller *stall_vcpu(const struct gs_cell *c, struct vm *vm,
				     struct gs_region *r, struct job *vcpu,
				     char *state)
{
	struct gs_staller *st;
	char s;

	vm_create(vm);
	gs_region_map(r, c->b, c->npages);
	st = start_stall(c, r);
	vm_add_region(vm, r);
	vm_set_access(vm, c->caller);
	job_start(vcpu, do_kvm_run, vm, 0);
	s = wait_stalled(st, vcpu);
	if (state)
		*state = s;
	return st;
}

/*
 * A guest read or write stalled on one page: the vCPU waits in the
 * fault, the lock is dropped, the page is resolved late, and the guest
 * sees exactly the resolved data with one message per page.
 */
static void run_stall(const struct gs_cell *c)
{
	struct gs_staller *st;
	struct gs_region r;
	struct job vcpu;
	struct vm vm;
	char *held;

	st = stall_vcpu(c, &vm, &r, &vcpu, NULL);
	lockdrop_probe(&vcpu);
	check_one_msg(st, HELD, "while stalled");
	held = r.addr + HELD * r.psize;
	if (c->stall == ST_WP)
		gs_check_data("the write-protected page while the guest waits",
			      held, r.psize, SEED_MEM, HELD * r.psize);
	gs_staller_release(st, HELD);
	gs_staller_release_all(st);
	gs_phase("waiting for KVM_RUN after the release");
	if (!job_wait(&vcpu, GS_WAIT_MS))
		gs_fail("KVM_RUN still blocked %d ms after the release",
			GS_WAIT_MS);
	check_report(&vm, &vcpu);
	check_access(&vm, c->caller);
	gs_staller_check_msgs(st, 0, r.npages - 1, c->caller == K_WRITE);
	gs_staller_stop(st);
	vm_destroy(&vm);
	gs_region_unmap(&r);
}

static void check_usr1_handled(const char *when)
{
	int want = 1 + (gs_inject == GS_INJECT_SIGNAL);

	if (handled_usr1 != want)
		gs_fail("signal count: SIGUSR1 handler ran %d times %s, want %d",
			handled_usr1, when, want);
}

/* KVM_RUN ended by the signal: EINTR with KVM_EXIT_INTR. */
static void check_intr_exit(struct vm *vm, struct job *vcpu, const char *when)
{
	if (vcpu->ret != -1 || vcpu->err != EINTR)
		gs_fail("KVM_RUN answered SIGUSR1 %s with %ld (%s), want EINTR",
			when, vcpu->ret, strerrorname_np(vcpu->err) ?: "0");
	if (vm->run->exit_reason != KVM_EXIT_INTR)
		gs_fail("EINTR %s with %s (%u), want KVM_EXIT_INTR", when,
			exit_name(vm->run->exit_reason), vm->run->exit_reason);
	check_usr1_handled(when);
}

/*
 * Interruptible wait (KVM_PFN_ERR_SIGPENDING): KVM_RUN returns EINTR
 * with KVM_EXIT_INTR within SIGNAL_MS, while the page is still held.
 */
static void signal_interrupts(struct vm *vm, struct job *vcpu)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	gs_phase("waiting for KVM_RUN to answer SIGUSR1 (interruptible wait)");
	if (!job_wait(vcpu, SIGNAL_MS))
		gs_fail("vCPU in state '%c' ignored SIGUSR1 for %d ms (%d handled): %s",
			gs_task_state(vcpu->tid) ?: '?', SIGNAL_MS,
			handled_usr1,
			"an interruptible fault wait must end KVM_RUN with EINTR");
	check_intr_exit(vm, vcpu, "while the page was held");
	gs_note("EINTR, KVM_EXIT_INTR %ld ms after SIGUSR1, page unresolved",
		gs_ms_since(&t0));
}

/*
 * Killable wait: the signal stays pending and KVM_RUN stays in its
 * fault for PENDING_MS; once the page comes, KVM_RUN returns EINTR with
 * KVM_EXIT_INTR before it enters the guest again.
 */
static void signal_pends(struct gs_staller *st, struct vm *vm,
			 struct job *vcpu)
{
	usleep(PENDING_MS * 1000);
	if (job_done(vcpu) || gs_task_state(vcpu->tid) != 'D' ||
	    !gs_sig_pending(vcpu->tid, SIGUSR1))
		gs_fail("%s: after %d ms KVM_RUN %s, state '%c', SIGUSR1 %spending",
			"a killable fault wait must keep SIGUSR1 pending",
			PENDING_MS, job_done(vcpu) ? "returned" : "waits",
			gs_task_state(vcpu->tid) ?: '?',
			gs_sig_pending(vcpu->tid, SIGUSR1) ? "" : "not ");
	gs_staller_release(st, HELD);
	gs_staller_release_all(st);
	gs_phase("waiting for KVM_RUN after the release");
	if (!job_wait(vcpu, GS_WAIT_MS))
		gs_fail("KVM_RUN still blocked %d ms after the release",
			GS_WAIT_MS);
	check_intr_exit(vm, vcpu, "after the release");
	gs_note("SIGUSR1 pending while stalled, EINTR after the release");
}

/*
 * A signal to the stalled vCPU thread, answered the one way this
 * kernel's fault wait allows; the handler runs once, and a later
 * KVM_RUN completes the guest's access with the right data.
 */
static void run_signal(const struct gs_cell *c)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct gs_staller *st;
	struct gs_region r;
	struct job vcpu;
	struct vm vm;

	/* no SA_RESTART: KVM_RUN is never restarted anyway */
	sigaction(SIGUSR1, &sa, NULL);
	st = stall_vcpu(c, &vm, &r, &vcpu, NULL);
	pthread_kill(vcpu.thread, SIGUSR1);
	if (wait_interruptible(NULL)) {
		signal_interrupts(&vm, &vcpu);
		check_one_msg(st, HELD, "after the signal");
		gs_staller_release(st, HELD);
		gs_staller_release_all(st);
	} else {
		check_one_msg(st, HELD, "with the signal pending");
		signal_pends(st, &vm, &vcpu);
	}
	vm_run(&vm, "again after EINTR");
	check_access(&vm, c->caller);
	gs_staller_check_msgs(st, 0, r.npages - 1, c->caller == K_WRITE);
	gs_staller_stop(st);
	vm_destroy(&vm);
	gs_region_unmap(&r);
}

/* Slot changes while the vCPU waits */

static void do_slot_change(struct job *j)
{
	struct vm *vm = j->vm;
	struct gs_region *r = vm->r;

	if (j->arg == D_SLOT_DELETE)
		j->ret = set_slot(vm, MEM_SLOT, MEM_GPA, r->map, 0, 0);
	else
		j->ret = set_slot(vm, MEM_SLOT, MOVED_GPA, r->map, r->map_len,
				  0);
	j->err = errno;
}

/*
 * The vCPU's access ends in a KVM_EXIT_MMIO for a guest address that no
 * longer has memory: the slot it stalled on is gone from there. What the
 * guest copied before that point is right; a write exit carries the
 * guest's next dword.
 */
static void check_mmio_exit(const struct gs_cell *c, struct vm *vm,
			    struct job *vcpu)
{
	bool write = c->caller == K_WRITE;
	struct kvm_run *run = vm->run;
	__u64 a = run->mmio.phys_addr;
	size_t done = a - MEM_GPA;
	__u64 want;

	if (vcpu->ret)
		gs_fail("KVM_RUN after the slot change failed: %s",
			strerrorname_np(vcpu->err) ?: "?");
	if (run->exit_reason == KVM_EXIT_IO) {
		check_report(vm, vcpu);
		gs_fail("the guest finished its copy through a slot that was gone");
	}
	if (run->exit_reason != KVM_EXIT_MMIO)
		gs_fail("KVM_RUN after the slot change: %s (%u), want KVM_EXIT_MMIO",
			exit_name(run->exit_reason), run->exit_reason);
	if (run->mmio.is_write != write || run->mmio.len != 4 ||
	    a < MEM_GPA + HELD * vm->r->psize || a >= MEM_GPA + vm->r->len)
		gs_fail("KVM_EXIT_MMIO %s of %u bytes at %#llx, want a 4-byte %s %s",
			run->mmio.is_write ? "write" : "read", run->mmio.len,
			(unsigned long long)a, write ? "write" : "read",
			"in the held page or after");
	if (write) {
		gs_check_data("the host mapping before the exit", vm->r->addr,
			      done & ~7UL, SEED_GUEST, 0);
		gs_fill(&want, sizeof(want), SEED_GUEST, done & ~7UL);
		if (memcmp(run->mmio.data, (char *)&want + (done & 7), 4))
			gs_fail("KVM_EXIT_MMIO write data is not the guest's");
	} else {
		gs_check_data("what the guest read before the exit",
			      vm->low + RES_GPA, done & ~7UL, SEED_MEM, 0);
	}
	gs_note("KVM_EXIT_MMIO %s at %#llx", write ? "write" : "read",
		(unsigned long long)a);
}

/*
 * A memslot update waits (synchronize_srcu_expedited in
 * kvm_swap_active_memslots) for every vCPU inside its kvm->srcu read
 * side, and a vCPU waiting in a fault is inside (vcpu_run holds it): the
 * update must not finish before the page is resolved, and must finish
 * after.
 */
static void slot_change(const struct gs_cell *c, struct vm *vm,
			struct gs_staller *st, struct job *vcpu)
{
	bool want_early = gs_inject == GS_INJECT_ORDER;
	const char *what = disturb_names[c->disturb];
	struct job slot;
	bool early;

	job_start(&slot, do_slot_change, vm, c->disturb);
	gs_phase("waiting for the slot change while the vCPU is stalled");
	early = job_wait(&slot, PENDING_MS);
	if (early != want_early)
		gs_fail("memslot order: %s %s the stalled vCPU let go (kvm->srcu), want %s",
			what, early ? "completed before" : "waited for",
			want_early ? "done before" : "after the release");
	gs_staller_release(st, HELD);
	gs_staller_release_all(st);
	gs_phase("waiting for the slot change after the release");
	if (!early && !job_wait(&slot, GS_WAIT_MS))
		gs_fail("%s still blocked %d ms after the release", what,
			GS_WAIT_MS);
	if (slot.ret)
		gs_fail("%s of the stalled slot: %s", what,
			strerrorname_np(slot.err) ?: "?");
	gs_note("%s waited for the stalled vCPU (SRCU)", what);
	gs_phase("waiting for KVM_RUN after the slot change");
	if (!job_wait(vcpu, GS_WAIT_MS))
		gs_fail("KVM_RUN still blocked %d ms after the slot change",
			GS_WAIT_MS);
	check_mmio_exit(c, vm, vcpu);
}

/*
 * munmap of the host range behind the slot: the writer of mmap_lock gets
 * in because the vCPU dropped it; the vCPU, woken, finds no VMA and
 * KVM_RUN fails with EFAULT.
 */
static void slot_munmap(struct vm *vm, struct gs_region *r,
			struct gs_staller *st, struct job *vcpu)
{
	int err;

	if (munmap(r->map, r->map_len))
		gs_fail("munmap behind the stalled slot: %s", strerror(errno));
	r->map = NULL;
	err = gs_staller_release(st, HELD);
	gs_note("resolving the unmapped page: %s, woken",
		err ? strerrorname_np(err) : "done");
	gs_staller_release_all(st);
	gs_phase("waiting for KVM_RUN after the munmap");
	if (!job_wait(vcpu, GS_WAIT_MS))
		gs_fail("KVM_RUN still blocked %d ms after the munmap",
			GS_WAIT_MS);
	gs_check_err("KVM_RUN on an unmapped slot", vcpu->ret, vcpu->err,
		     EFAULT);
	gs_note("KVM_RUN failed with EFAULT (%s)",
		vm->run->exit_reason == KVM_EXIT_MEMORY_FAULT ?
		"KVM_EXIT_MEMORY_FAULT" : "no exit information");
}

/*
 * Closing every fd of the VM while KVM_RUN waits: the running ioctl
 * keeps the vCPU and VM alive, finishes once the page is resolved, and
 * the VM goes away with it.
 */
static void close_fds(struct vm *vm, struct gs_staller *st, struct job *vcpu)
{
	close(vm->vcpu);
	close(vm->fd);
	close(vm->kvm);
	gs_staller_release(st, HELD);
	gs_staller_release_all(st);
	gs_phase("waiting for KVM_RUN after closing the VM's fds");
	if (!job_wait(vcpu, GS_WAIT_MS))
		gs_fail("KVM_RUN still blocked %d ms after close and release",
			GS_WAIT_MS);
	check_report(vm, vcpu);
	munmap(vm->run, vm->run_size);
	vm->run = NULL;
}

static void run_slot(const struct gs_cell *c)
{
	struct gs_staller *st;
	struct gs_region r;
	struct job vcpu;
	struct vm vm;

	st = stall_vcpu(c, &vm, &r, &vcpu, NULL);
	switch (c->disturb) {
	case D_SLOT_DELETE:
	case D_SLOT_MOVE:
		slot_change(c, &vm, st, &vcpu);
		break;
	case D_MUNMAP:
		slot_munmap(&vm, &r, st, &vcpu);
		break;
	case D_CLOSE_FDS:
		close_fds(&vm, st, &vcpu);
		check_access(&vm, c->caller);
		gs_staller_check_msgs(st, 0, r.npages - 1,
				      c->caller == K_WRITE);
		munmap(vm.low, LOW_SIZE);
		gs_staller_stop(st);
		gs_region_unmap(&r);
		return;
	}
	gs_staller_stop(st);
	vm_destroy(&vm);
	gs_region_unmap(&r);
}

/* The VMM process ends while its vCPU waits */

struct vmm {
	pid_t vcpu_tid;
	char state;
	bool ready;
};

/* Runs in the VMM child: stall the vCPU, say so, then wait for the end. */
static void vmm_main(void *arg)
{
	const struct gs_cell *c = arg;
	struct vmm *v = (struct vmm *)(c + 1);
	struct gs_region r;
	struct job vcpu;
	struct vm vm;

	/* the staller lives until this process ends, holding the fault */
	stall_vcpu(c, &vm, &r, &vcpu, &v->state);
	v->vcpu_tid = vcpu.tid;
	__atomic_store_n(&v->ready, true, __ATOMIC_RELEASE);
	if (c->disturb == D_EXIT)
		_exit(0);	/* exit_group kills the waiting vCPU thread */
	for (;;)
		pause();
}

/*
 * SIGKILL of the VMM, or its exit, while the vCPU waits in the fault:
 * the wait is at least killable, so the process goes promptly and the
 * VM, the userfaultfd and the memory with it.
 */
static void run_teardown(const struct gs_cell *c)
{
	struct gs_cell *arg;
	struct timespec t0;
	struct vmm *v;
	int status;
	pid_t pid;

	/* the cell and the report from the child, in shared memory */
	arg = gs_shared_alloc(sizeof(*arg) + sizeof(*v));
	*arg = *c;
	v = (struct vmm *)(arg + 1);
	pid = gs_spawn(vmm_main, arg);
	gs_phase("waiting for the VMM child's vCPU to stall");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!__atomic_load_n(&v->ready, __ATOMIC_ACQUIRE) &&
	       gs_ms_since(&t0) < 2 * GS_WAIT_MS) {
		siginfo_t info = { 0 };

		/* look, do not reap: gs_wait_exit() reaps it below */
		waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT);
		if (info.si_pid && !__atomic_load_n(&v->ready, __ATOMIC_ACQUIRE))
			gs_fail("the VMM child ended before its vCPU stalled");
		usleep(1000);
	}
	if (!v->ready)
		gs_fail("the VMM child's vCPU did not stall in %d ms",
			2 * GS_WAIT_MS);
	gs_watch_pid(v->vcpu_tid);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (c->disturb == D_SIGKILL)
		kill(pid, SIGKILL);
	gs_phase("waiting for the VMM child to be reaped");
	if (gs_wait_exit(pid, GS_REAP_MS, &status))
		gs_fail("VMM child with a stalled vCPU (state %s) not gone %d ms after %s",
			state_name(v->state), GS_REAP_MS,
			disturb_names[c->disturb]);
	if (c->disturb == D_SIGKILL &&
	    (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL))
		gs_fail("VMM child ended with status %#x, not by SIGKILL",
			status);
	if (c->disturb == D_EXIT && (!WIFEXITED(status) || WEXITSTATUS(status)))
		gs_fail("VMM child ended with status %#x, not exit(0)", status);
	gs_note("vCPU waited in %s; VMM reaped %ld ms after %s",
		state_name(v->state), gs_ms_since(&t0),
		disturb_names[c->disturb]);
}

/*
 * Guest memory swapped out under KVM: a guest access, then
 * MADV_PAGEOUT (which must zap KVM's mappings through the MMU notifier),
 * then a guest read must see the same data again from swap.
 */
static void run_swap(const struct gs_cell *c)
{
	struct gs_region r;
	struct vm vm;

	vm_create(&vm);
	gs_region_map(&r, c->b, c->npages);
	gs_fill(r.addr, r.len, SEED_MEM, 0);
	vm_add_region(&vm, &r);
	vm_set_access(&vm, c->caller);
	vm_run(&vm, "before the pageout");
	check_access(&vm, c->caller);
	gs_region_pageout(&r);
	vm_set_access(&vm, K_READ);
	vm_run(&vm, "swapped-out memory");
	gs_check_data("what the guest read from swap", vm.low + RES_GPA, r.len,
		      c->caller == K_WRITE ? SEED_GUEST : SEED_MEM, 0);
	vm_destroy(&vm);
	gs_region_unmap(&r);
}

/* KVM_SET_USER_MEMORY_REGION with bad input */

struct bad_slot {
	__u32 slot;
	__u32 flags;
	__u64 gpa;
	__u64 size;
	unsigned long hva;
	int err;
	const char *why;
};

static struct bad_slot bad_input(const struct gs_cell *c, struct vm *vm)
{
	unsigned long hva = (unsigned long)vm->r->map;
	__u64 size = vm->r->map_len;
	int nslots = ioctl(vm->kvm, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
	struct bad_slot b = { 2, 0, MOVED_GPA, size, hva, EINVAL, NULL };

	switch (c->disturb) {
	case D_BAD_SIZE:
		b.size = size - 512;
		b.why = "memory_size not page aligned";
		break;
	case D_BAD_GPA:
		b.gpa += 2048;
		b.why = "guest_phys_addr not page aligned";
		break;
	case D_BAD_HVA:
		b.hva += 2048;
		b.why = "userspace_addr not page aligned";
		break;
	case D_BAD_SLOT:
		b.slot = nslots > 0 ? nslots : 0xffff;
		b.why = "slot id at KVM_CAP_NR_MEMSLOTS";
		break;
	case D_BAD_AS:
		/* x86 has two address spaces (normal, SMM) at most */
		b.slot |= 2 << 16;
		b.why = "address space 2";
		break;
	case D_BAD_FLAGS:
		b.flags = 1U << 30;
		b.why = "unknown flag";
		break;
	case D_TOO_LARGE:
		/* more pages than KVM_MEM_MAX_NR_PAGES (2^31 - 1) */
		b.size = 1ULL << 43;
		b.gpa = 0;
		b.why = "2^31 pages";
		break;
	case D_GPA_WRAP:
		b.gpa = -(__u64)getpagesize();
		b.why = "guest_phys_addr + memory_size wraps";
		break;
	case D_KERNEL_HVA:
		b.hva = 0xffff888000000000UL;
		b.why = "userspace_addr in the kernel half";
		break;
	case D_OVERLAP:
		b.gpa = MEM_GPA + size - getpagesize();
		b.err = EEXIST;
		b.why = "guest range overlaps slot 1";
		break;
	case D_RESIZE:
		b.slot = MEM_SLOT;
		b.gpa = MEM_GPA;
		b.size = size - getpagesize();
		b.why = "a new size for slot 1";
		break;
	case D_NEW_HVA:
		b.slot = MEM_SLOT;
		b.gpa = MEM_GPA;
		b.hva = (unsigned long)vm->low;
		b.why = "a new userspace_addr for slot 1";
		break;
	case D_DELETE_ABSENT:
		b.slot = 5;
		b.size = 0;
		b.why = "deleting a slot that does not exist";
		break;
	}
	return b;
}

/*
 * One bad KVM_SET_USER_MEMORY_REGION: the documented error, and the VM
 * still runs the guest over the slots it had.
 */
static void run_memslot(const struct gs_cell *c)
{
	struct gs_region r;
	struct bad_slot b;
	char what[160];
	struct vm vm;
	long ret;

	vm_create(&vm);
	gs_region_map(&r, c->b, c->npages);
	gs_fill(r.addr, r.len, SEED_MEM, 0);
	vm_add_region(&vm, &r);
	b = bad_input(c, &vm);
	ret = set_slot(&vm, b.slot, b.gpa, (void *)b.hva, b.size, b.flags);
	snprintf(what, sizeof(what), "KVM_SET_USER_MEMORY_REGION (%s)", b.why);
	gs_check_err(what, ret, errno, b.err);
	vm_set_access(&vm, K_READ);
	vm_run(&vm, "after the bad memslot call");
	check_access(&vm, K_READ);
	vm_destroy(&vm);
	gs_region_unmap(&r);
}

/* The cell table */

static struct gs_cell *add(gs_cell_fn fn, const char *backing, int caller,
			   int stall, int dist)
{
	const struct gs_backing *b = gs_find_backing(backing);
	unsigned int needs = 0;
	struct gs_cell *c;

	if (stall == ST_MISSING || stall == ST_WP)
		needs |= GS_NEED_UFFD;
	if (stall == ST_SWAPIN)
		needs |= GS_NEED_SWAP;
	if (b->kind == GS_HUGETLB)
		needs |= GS_NEED_HUGETLB;
	if (b->thp)
		needs |= GS_NEED_THP;
	/* without KVM, skip at once rather than set up swap or huge pages */
	if (need_kvm())
		needs = 0;
	c = gs_add_cell(fn, b, needs, "%s %s %s %s", caller_names[caller],
			b->name, stall_names[stall], disturb_names[dist]);
	c->caller = caller;
	c->stall = stall;
	c->disturb = dist;
	/* two huge pages are enough to hold one and pass another */
	if (b->kind == GS_HUGETLB)
		c->npages = 2;
	if (stall == ST_SWAPIN)
		c->npages = 16;
	return c;
}

static void add_stall_cells(void)
{
	static const char * const missing[] = {
		"anon", "thp", "anon-shared", "memfd", "hugetlb",
	};
	static const char * const wp[] = { "anon", "memfd", "hugetlb" };
	int i, caller;

	for (i = 0; i < (int)ARRAY_SIZE(missing); i++)
		for (caller = K_READ; caller <= K_WRITE; caller++)
			add(run_stall, missing[i], caller, ST_MISSING, D_NONE);
	for (i = 0; i < (int)ARRAY_SIZE(wp); i++)
		add(run_stall, wp[i], K_WRITE, ST_WP, D_NONE);
	add(run_signal, "anon", K_READ, ST_MISSING, D_SIGUSR1);
	add(run_signal, "memfd", K_WRITE, ST_MISSING, D_SIGUSR1);
	add(run_signal, "hugetlb", K_READ, ST_MISSING, D_SIGUSR1);
}

static void add_disturb_cells(void)
{
	int d;

	for (d = D_SLOT_DELETE; d <= D_CLOSE_FDS; d++)
		add(run_slot, "anon", K_READ, ST_MISSING, d);
	add(run_slot, "memfd", K_WRITE, ST_MISSING, D_SLOT_DELETE);
	add(run_slot, "memfd", K_WRITE, ST_MISSING, D_MUNMAP);
	add(run_teardown, "anon", K_READ, ST_MISSING, D_SIGKILL);
	add(run_teardown, "memfd", K_WRITE, ST_MISSING, D_SIGKILL);
	add(run_teardown, "hugetlb", K_READ, ST_MISSING, D_SIGKILL);
	add(run_teardown, "anon", K_READ, ST_MISSING, D_EXIT);
	add(run_teardown, "anon", K_WRITE, ST_WP, D_SIGKILL);
}

static void add_other_cells(void)
{
	int d;

	add(run_swap, "anon", K_READ, ST_SWAPIN, D_NONE);
	add(run_swap, "anon", K_WRITE, ST_SWAPIN, D_NONE);
	add(run_swap, "memfd", K_READ, ST_SWAPIN, D_NONE);
	add(run_swap, "memfd", K_WRITE, ST_SWAPIN, D_NONE);
	for (d = D_BAD_SIZE; d <= D_DELETE_ABSENT; d++)
		add(run_memslot, "anon", K_MEMSLOT, ST_NONE, d);
}

int main(int argc, char **argv)
{
	gs_init(argc, argv,
		"Needs /dev/kvm (x86); scripts/vmtest.sh runs it under nested SVM.\n");
	add_stall_cells();
	add_disturb_cells();
	add_other_cells();
	return gs_run();
}
