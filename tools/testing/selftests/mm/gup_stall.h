/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Library of the gup_stall selftests: drive get_user_pages() from
 * userspace while the memory is stalled by a kernel-mode userfaultfd,
 * swapped out or changed under the caller, and check every outcome.
 *
 * A program builds a table of cells (caller x backing x stall x
 * disturbance), and the runner executes each cell in a process of its
 * own, bounded by a watchdog, with a kernel health check around it.
 */
#ifndef __GUP_STALL_H
#define __GUP_STALL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

#include "../kselftest.h"

/* Older trees' kselftest.h (6.1) has neither annotation. */
#ifdef __printf
#define GS_PRINTF(a, b)	__printf(a, b)
#else
#define GS_PRINTF(...)
#endif
#ifdef __noreturn
#define GS_NORETURN	__noreturn
#else
#define GS_NORETURN
#endif

#define GS_MAX_CELLS	1024
#define GS_MAX_MSGS	256
#define GS_MAX_PAGES	64

/* How long a cell waits for one event before it calls the caller stuck. */
#define GS_WAIT_MS	5000
/* How long a writer in the stalled mm may take to prove the lock dropped. */
#define GS_WRITER_MS	2000
/* How long a SIGKILLed caller may take to be reaped. */
#define GS_REAP_MS	2000
/* Tasks of a cell that outlive SIGKILL this long stop the program. */
#define GS_UNKILLABLE_MS	10000

/* Negative controls: break one checker on purpose, see it fail. */
enum gs_inject {
	GS_INJECT_NONE,
	GS_INJECT_PATTERN,	/* data checker expects other bytes */
	GS_INJECT_ERRNO,	/* errno checker expects another errno */
	GS_INJECT_LOCKDROP,	/* a caller that holds mmap_lock is judged as one that drops it */
	GS_INJECT_KMSG,		/* a bad line is planted in the kernel log */
	GS_INJECT_HANG,		/* the staller never resolves a held fault */
	GS_INJECT_MSGS,		/* the message counter expects one more */
	GS_INJECT_PIN,		/* a pin is deliberately kept past the cell */
	GS_INJECT_READS,	/* the FUSE READ bound is 0 */
	GS_INJECT_STUCK_READ,	/* the FUSE server never answers a READ */
	GS_INJECT_STATE,	/* the task state checker wants the other sleep */
	GS_INJECT_SIGNAL,	/* the signal handler count expects one more */
	GS_INJECT_ORDER,	/* an ordering checker expects the other order */
	GS_INJECT_NODE,		/* the NUMA node checker wants the other node */
	GS_INJECT_TAG,		/* the tag completion checker wants another tag */
	GS_INJECT_PRESENT,	/* the page presence checker flips one page */
	GS_INJECT_LOCKED,	/* the VM_LOCKED checker wants the opposite */
	GS_INJECT_RET,		/* the return value checker wants another value */
	GS_INJECT_PTID,		/* the fault's thread id is reported off by one */
	GS_INJECT_TAINT,	/* the taint checker sees a bit set in the cell */
	GS_INJECT_WATCHDOG,	/* a held fault is never resolved, 1 s watchdog */
	GS_INJECT_UNKILLABLE,	/* a task of the cell outlives SIGKILL */
	GS_INJECT_REAP,		/* a task that cannot die yet gets SIGKILL and the reap bound */
	GS_INJECT_UNHELD,	/* the lock holder lets go before the held-lock probe */
	GS_INJECT_UNRELEASED,	/* the lock holder never lets go of the waiting writer */
	GS_INJECT_UNSIGNALLED,	/* the signal for the sleeper is never sent */
};

extern enum gs_inject gs_inject;

/* What a backing needs from the machine before a cell can use it. */
#define GS_NEED_UFFD	0x1	/* a kernel-mode userfaultfd */
#define GS_NEED_SWAP	0x2	/* the library's zram swap device */
#define GS_NEED_HUGETLB	0x4	/* free huge pages */
#define GS_NEED_THP	0x8	/* transparent huge pages enabled */
#define GS_NEED_NUMA	0x10	/* two or more NUMA nodes with memory */
#define GS_NEED_KVM	0x20	/* kvm_amd or kvm_intel (gs_need_kvm()) */

/* userfaultfd modes */
#define GS_UFFD_MISSING	0x1
#define GS_UFFD_WP	0x2
#define GS_UFFD_MINOR	0x4

enum gs_kind {
	GS_ANON,		/* private anonymous */
	GS_ANON_SHARED,		/* shared anonymous (shmem inside) */
	GS_MEMFD,		/* memfd_create() shmem */
	GS_HUGETLB,		/* memfd_create(MFD_HUGETLB) */
	GS_TMPFS,		/* a file on tmpfs (/dev/shm) */
	GS_EXT4,		/* a file on ext4 in the test directory */
};

/* A backing is a row of data, not a function. */
struct gs_backing {
	const char *name;
	enum gs_kind kind;
	bool shared;		/* MAP_SHARED rather than MAP_PRIVATE */
	bool thp;		/* 2M aligned, MADV_HUGEPAGE */
	unsigned int uffd;	/* userfaultfd modes it can be stalled with */
};

extern const struct gs_backing gs_backings[];
extern const int gs_nr_backings;

const struct gs_backing *gs_find_backing(const char *name);
unsigned int gs_backing_needs(const struct gs_backing *b);

/* One mapping under test: npages pages of psize bytes at addr. */
struct gs_region {
	const struct gs_backing *b;
	char *addr;
	size_t psize;
	int npages;
	size_t len;
	char *map;		/* the whole mapping, for munmap */
	size_t map_len;
	int fd;
};

struct timespec;
struct gs_cell;
typedef void (*gs_cell_fn)(const struct gs_cell *c);

struct gs_cell {
	char name[128];
	gs_cell_fn run;
	const struct gs_backing *b;
	int caller;		/* index into the program's callers */
	int stall;		/* enum gs_stall (program-defined in older programs) */
	int disturb;		/* enum gs_disturb (likewise) */
	const char *purpose;	/* one line, printed by -l -v */
	const char *target;	/* what the cell maps when b is NULL */
	unsigned int needs;	/* GS_NEED_* */
	int npages;		/* pages the cell works on */
	const char *kmsg_allow;	/* a kernel log line this cell may cause */
};

/* What holds the caller's page, in cell names ("missing", "swapin"). */
enum gs_stall {
	GS_STALL_NONE,		/* nothing: the page is there */
	GS_STALL_MISSING,	/* userfaultfd, missing page */
	GS_STALL_WP,		/* userfaultfd, write-protected page */
	GS_STALL_MINOR,		/* userfaultfd, minor fault on page cache */
	GS_STALL_SWAPIN,	/* swapped out to the library's zram */
	GS_STALL_IO,		/* dropped from the page cache, read from disk */
	GS_STALL_HELD_READ,	/* a FUSE READ the server keeps unanswered */
	GS_NR_STALLS
};

extern const char * const gs_stall_names[];

/* What happens while the caller waits, in cell names ("munmap-tail"). */
enum gs_disturb {
	GS_D_NONE,
	GS_D_MUNMAP_TAIL,	/* the pages after the held one unmapped */
	GS_D_MUNMAP_STALLED,	/* the held page itself unmapped */
	GS_D_MREMAP_TAIL,	/* the pages after it moved away */
	GS_D_MPROTECT_TAIL,	/* the pages after it made PROT_NONE */
	GS_D_FORK,		/* fork() in the stalled mm */
	GS_D_SIGUSR1,		/* a signal the caller handles */
	GS_D_SIGKILL,		/* the caller killed */
	GS_D_BELOW_STACK,	/* (no stall) an access below the stack VMA */
	GS_D_MIGRATE,		/* all pages moved to another NUMA node */
	GS_D_MIGRATE_STALLED,	/* the held page moved */
	GS_D_MBIND,		/* the region's policy set to another node */
	GS_D_MIGRATE_BEFORE,	/* (no stall) pages moved before the call */
	GS_D_REFAULT,		/* the held page zapped again before the retry */
	GS_D_PROT_NONE,		/* (no stall) the range is PROT_NONE */
	GS_D_PROT_READ,		/* (no stall) the range is read-only */
	GS_D_HOLE,		/* (no stall) a page of the range is unmapped */
	GS_D_KILL_SERVER,	/* the FUSE server is killed */
	GS_D_MREMAP_STALLED,	/* the held page moved away */
	GS_D_MPROTECT_STALLED,	/* the held page made PROT_NONE */
	GS_D_DONTNEED_STALLED,	/* MADV_DONTNEED of the held page */
	GS_D_DONTNEED_TAIL,	/* MADV_DONTNEED of the pages after it */
	GS_D_REPEAT,		/* the call made again, each time stalled */
	GS_D_PAGEOUT,		/* (no stall) MADV_PAGEOUT of the pinned range */
	GS_D_MIGRATE_PINNED,	/* (no stall) pinned pages moved: they stay */
	GS_D_SLOT_DELETE,	/* the KVM memslot deleted */
	GS_D_SLOT_MOVE,		/* the KVM memslot moved to another address */
	GS_D_MUNMAP,		/* the whole region unmapped */
	GS_D_CLOSE_FDS,		/* the VMM closes its KVM file descriptors */
	GS_D_EXIT,		/* the VMM process exits */
	/* (no stall) bad KVM_SET_USER_MEMORY_REGION input */
	GS_D_BAD_SIZE, GS_D_BAD_GPA, GS_D_BAD_HVA, GS_D_BAD_SLOT,
	GS_D_BAD_AS, GS_D_BAD_FLAGS, GS_D_TOO_LARGE, GS_D_GPA_WRAP,
	GS_D_KERNEL_HVA, GS_D_OVERLAP, GS_D_RESIZE, GS_D_NEW_HVA,
	GS_D_DELETE_ABSENT,
	GS_D_MEMLOCK,		/* the call goes over RLIMIT_MEMLOCK */
	GS_D_FORCE_WRITE,	/* (no stall) a FOLL_FORCE write, read-only map */
	GS_NR_DISTURBS
};

extern const char * const gs_disturb_names[];

#define GS_BIT(x)	(1ULL << (x))
/* the disturbances of a row that disturbs nothing */
#define GS_UNDISTURBED	GS_BIT(GS_D_NONE)
/* the stalled page of a region; the pages before it resolve at once */
#define GS_HELD		1

/*
 * The expectation model: how a caller reports a range it could not
 * finish, crossed with what a disturbance did to the range, gives the
 * one outcome a correct kernel has.
 */
enum gs_sem {
	/* the bytes done before the first failure, EFAULT for none */
	GS_SEM_SHORT,
	/* stops at the first page it cannot fault in; errno says why */
	GS_SEM_FIRST_ERROR,
	/*
	 * looks the VMAs up again after each lock drop (__mm_populate()):
	 * what went away ends or is skipped, PROT_NONE fails (ENOMEM)
	 */
	GS_SEM_VMA_WALK,
	/* pins the whole range or nothing: EFAULT, every partial pin dropped */
	GS_SEM_ALL_OR_EFAULT,
};

struct gs_outcome {
	int err;		/* 0 for success */
	int pages;		/* pages done from the start */
	unsigned long long present;	/* pages mapped afterwards */
	int last_faulted;	/* pages 0..last_faulted fault once each */
};

void gs_outcome(enum gs_sem sem, int d, int npages, struct gs_outcome *o);
/* Disturbances after which every page can still be reached. */
bool gs_disturb_harmless(int d);

/* A caller, as a row of a program's table. */
struct gs_caller {
	const char *name;
	enum gs_sem sem;
};

/*
 * A case: a row of a program's table, one cell per backing (named in
 * backings, or all of them; those that lack the userfaultfd modes in
 * uffd are left out), caller (bit in callers) and disturbance (bit in
 * disturbs), added backing by backing in the order of gs_backings[].
 * backings "stack" means no backing: the cell maps nothing itself.
 */
struct gs_case {
	const char *purpose;
	gs_cell_fn run;
	unsigned long long callers;	/* GS_BIT(caller index) */
	const char *backings;	/* "anon memfd", NULL for all */
	unsigned int uffd;	/* GS_UFFD_* the backing must offer */
	bool no_thp;		/* leave THP backings out */
	enum gs_stall stall;
	unsigned long long disturbs;
	unsigned int needs;	/* GS_NEED_* beyond the backing's own */
	int npages;		/* 0: the runner's default */
	int huge_npages;	/* for hugetlb backings, if not npages */
	const char *kmsg_allow;
};

/*
 * Add the cells of n rows, backing by backing. A word of backings that
 * names no backing ("stack", "vvar", "fuse-eio") is a target the cell
 * maps itself: its cells come first, with c->b NULL and c->target set.
 */
void gs_add_cases(const struct gs_case *rows, int n,
		  const struct gs_caller *callers, int ncallers);

/* A table of cases: { rows, ARRAY_SIZE(rows) } */
struct gs_table {
	const struct gs_case *rows;
	int n;
};

/*
 * A program's main(): gs_init() (usage: more lines for -h, or NULL), the
 * cells of every table with the program's callers, gs_run().
 */
int gs_main(int argc, char **argv, const char *usage,
	    const struct gs_caller *callers, int ncallers,
	    const struct gs_table *tables, int ntables);

/*
 * The stalled-cell flow: map the region, stall page GS_HELD, start the
 * call, check that the fault came from it and that it sleeps with
 * mmap_lock dropped, disturb, release, and let the program check what
 * the call did. The program gives the call's side as hooks.
 */
struct gs_flow;

struct gs_stalled {
	const struct gs_cell *c;
	const struct gs_flow *f;
	struct gs_outcome want;	/* what the model expects of the call */
	struct gs_region r;
	struct gs_staller *st;
	pid_t tid;		/* the task that faults */
	int node_src, node_dst;	/* NUMA disturbances */
	void *call;		/* the program's own state */
};

struct gs_flow {
	__u64 seed;		/* what the staller fills pages with */
	const struct gs_caller *callers;	/* the program's callers */
	bool pins;		/* the call pins the pages it reached */
	/* start the call on s->r; set s->tid (and s->call) */
	void (*start)(struct gs_stalled *s);
	/* disturbances that act on the caller itself (signals, kill) */
	void (*signal)(struct gs_stalled *s);
	void (*kill)(struct gs_stalled *s);
	/* optional: fill the region before the staller starts */
	void (*prepare)(struct gs_stalled *s);
	/*
	 * optional: wait until the call stalls on the held page; false when
	 * this kernel's expected outcome is to fail at once (checked there)
	 */
	bool (*stalls)(struct gs_stalled *s);
	/*
	 * optional: the sleep state of the stalled call ("D", killable,
	 * when NULL) and, in *what, whose state it is and why
	 */
	const char *(*state)(const struct gs_cell *c, const char **what);
	/* optional: checks while the call waits, after the lock-drop probe */
	void (*stalled)(struct gs_stalled *s);
	/* the call returned (not for a killed one): check its outcome */
	void (*finish)(struct gs_stalled *s);
	/* optional: checks after the staller stopped (userfaultfd gone) */
	void (*after)(struct gs_stalled *s);
	/* whether the call writes: which userfaultfd messages are right */
	bool (*writes)(const struct gs_cell *c);
};

void gs_stalled_cell(const struct gs_cell *c, const struct gs_flow *f);
/* The address-space and NUMA disturbances, also for programs' own flows. */
void gs_disturb_memory(struct gs_stalled *s);
void gs_check_migrated(struct gs_stalled *s, __u64 seed);

/* Runner */
/*
 * A need the program checks itself (GS_NEED_KVM): unmet() says why it is
 * not met, or NULL; it joins the runner's table of needs before the
 * library's, so that a cell skips before any setting is changed for it.
 */
void gs_program_need(unsigned int need, const char *(*unmet)(void));
void gs_init(int argc, char **argv, const char *usage_extra);
GS_PRINTF(4, 5)
struct gs_cell *gs_add_cell(gs_cell_fn run, const struct gs_backing *b,
			    unsigned int needs, const char *fmt, ...);
int gs_run(void);
/* Where cells put files on disk (-d DIR; gup_stall_env.c). */
const char *gs_test_dir(void);
void gs_set_test_dir(const char *dir);

/*
 * Inside a cell: report the result (KSFT_FAIL, ...) with its reason and
 * end the cell process; the first report of a cell wins.
 */
GS_NORETURN void gs_pass(void);
GS_NORETURN GS_PRINTF(2, 3) void gs_report(int code, const char *fmt, ...);
#define gs_fail(...)	gs_report(KSFT_FAIL, __VA_ARGS__)
#define gs_skip(...)	gs_report(KSFT_SKIP, __VA_ARGS__)
/* A known kernel bug, still open upstream: XFAIL while it shows, XPASS once fixed. */
#define gs_xfail(...)	gs_report(KSFT_XFAIL, __VA_ARGS__)
#define gs_xpass(...)	gs_report(KSFT_XPASS, __VA_ARGS__)
/* A failure that must not stop the cell's remaining checks. */
GS_PRINTF(1, 2) void gs_fail_later(const char *fmt, ...);
/* Add a detail to the cell's report line. */
GS_PRINTF(1, 2) void gs_note(const char *fmt, ...);
/* Say what the cell waits for, for the watchdog's report. */
GS_PRINTF(1, 2) void gs_phase(const char *fmt, ...);
/* Name a process of the cell whose kernel stack a watchdog should show. */
void gs_watch_pid(pid_t pid);

/* Checkers: each fails the cell with a precise message. */
void gs_fill(void *buf, size_t len, __u64 seed, size_t off);
void gs_check_data(const char *what, const void *buf, size_t len,
		   __u64 seed, size_t off);
void gs_check_bytes(const char *what, const void *buf, size_t len, int byte);
void gs_check_ret(const char *what, long ret, long want);
void gs_check_err(const char *what, long ret, int err, int want);

/*
 * Per-kernel expectations (gup_stall_expect.c): the value the kernel
 * matrix gives KEY for the kernel under test, else newest; *why (if not
 * NULL) gets the matrix line's reason.
 */
void gs_expect_init(const char *prog);
const char *gs_expect(const char *key, const char *newest, const char **why);
bool gs_expect_is(const char *key, const char *newest, const char *value);
const char *gs_kernel_name(void);

/* Pin leaks, machine-wide FOLL_PIN counters (gup_stall_pin.c) */
bool gs_pin_balance(long long *balance);
long long gs_pin_residue(long long before, int ms, bool *known);
void gs_check_pins(long long before, const char *what);

/*
 * Pins seen on the pages themselves (gup_stall_collapse.c): MADV_COLLAPSE
 * of the 2M range fails with EAGAIN while a subpage is pinned. Applies to
 * shmem files, and to THP ranges holding small pages (small).
 */
bool gs_collapse_applies(const struct gs_backing *b, bool small);
/* Fill a THP region with small pages, for the detector to collapse. */
void gs_fill_small(struct gs_region *r, __u64 seed);
int gs_collapse(struct gs_region *r);
/* Whether MADV_COLLAPSE works on unpinned memory of this kind here. */
bool gs_collapse_works(const struct gs_backing *b, int npages);
void gs_check_collapse_pinned(struct gs_region *r);
/* No pin within ms ("pin left behind" otherwise). */
void gs_check_collapse_unpinned(struct gs_region *r, int ms);

/* VmFlags of the VMA holding addr (gup_stall_smaps.c): 1, 0, -1 unmapped */
int gs_vma_flag(const void *addr, const char *flag);

/* Processes and threads */
pid_t gs_spawn(void (*fn)(void *arg), void *arg);
void gs_die_with_parent(pid_t parent);
int gs_wait_exit(pid_t pid, int timeout_ms, int *status);
/*
 * Wait until cond(arg) holds, at most GS_WAIT_MS; the child pid (0 for
 * none) must stay alive meanwhile. what names the event for the report.
 */
void gs_wait_until(bool (*cond)(void *arg), void *arg, pid_t pid,
		   const char *what);
/* The same for a flag in shared memory that becomes non-zero. */
void gs_wait_flag(int *flag, pid_t pid, const char *what);
/* SIGKILL a child; it must die of it within GS_REAP_MS. Returns the ms. */
long gs_kill_reap(pid_t pid, const char *what);
char gs_task_state(pid_t tid);
void gs_wait_state(pid_t tid, const char *states, const char *what);
bool gs_sig_pending(pid_t tid, int sig);
/*
 * Signal and observe a task that waits in a killable sleep: send sig to
 * tid (a thread of this process, or a process of the cell); the kernel
 * must hold it pending (bounded wait) while the task stays asleep in D,
 * no handler runs.
 */
void gs_signal_sleeper(pid_t tid, int sig, const char *what);
void *gs_shared_alloc(size_t len);
long gs_ms_since(const struct timespec *t0);
/* CLOCK_REALTIME ms from now, for pthread_cond_timedwait(). */
void gs_deadline(struct timespec *ts, int ms);

/* A blocking call in a thread of its own, so that every wait is bounded. */
struct gs_job {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	void (*fn)(struct gs_job *j);
	void *ctx;
	unsigned long arg;
	pid_t tid;
	bool done;
	bool joined;
	long ret;
	int err;
};

void gs_job_start(struct gs_job *j, void (*fn)(struct gs_job *j), void *ctx,
		  unsigned long arg);
/* Wait up to ms for the job; true when it is done (and joined, once). */
bool gs_job_wait(struct gs_job *j, int ms);
bool gs_job_done(struct gs_job *j);

/*
 * A child with its own mm: a forked process that maps its memory and
 * starts its blocked call itself, says so with gs_child_ready(), and then
 * waits to be killed (or exits, from its fn). It lives in shared memory
 * with own bytes of the program's state behind it (ch->own).
 */
struct gs_child {
	const struct gs_cell *c;
	void (*fn)(struct gs_child *ch);
	pid_t pid;
	pid_t tid;		/* the child's blocked task */
	int ready;
	void *own;
};

struct gs_child *gs_child_start(const struct gs_cell *c,
				void (*fn)(struct gs_child *ch), size_t own);
/* In the child: task tid now waits as the cell wants. */
void gs_child_ready(struct gs_child *ch, pid_t tid);
/*
 * Wait up to ms for the child to be ready: true when it is; false when
 * the child reported the cell's outcome itself and ended. Any other end
 * of the child fails the cell.
 */
bool gs_child_wait_ready(struct gs_child *ch, int ms, const char *what);
/* SIGKILL the ready child; it must be reaped within GS_REAP_MS. */
long gs_child_kill(struct gs_child *ch, const char *what);
/* The child exits by itself: exit(0), reaped within GS_REAP_MS. */
long gs_child_wait_gone(struct gs_child *ch, const char *what);

/*
 * A small VMM, x86 only (gup_stall_vmm.c). Guest-physical layout: slot 0
 * is plain anonymous memory holding the code, the pattern a guest write
 * copies and the result of a guest read; the memory under test is
 * GS_VM_MEM_SLOT, 1 GiB up so any huge page fits.
 */
#define GS_VM_LOW_SLOT		0
#define GS_VM_MEM_SLOT		1
#define GS_VM_CODE_GPA		0x1000UL
#define GS_VM_SRC_GPA		0x400000UL
#define GS_VM_RES_GPA		0x800000UL
#define GS_VM_LOW_SIZE		0xc00000UL
#define GS_VM_MEM_GPA		0x40000000UL
#define GS_VM_MOVED_GPA		0x80000000UL
/* the port the guest reports what is left of its copy on */
#define GS_VM_REPORT_PORT	0xf0

struct gs_vm {
	int kvm;
	int fd;
	int vcpu;
	struct kvm_run *run;
	size_t run_size;
	char *low;
	struct gs_region *r;	/* backs GS_VM_MEM_SLOT */
};

/* Why the KVM cells cannot run here (no usable kvm_amd/kvm_intel), or NULL. */
const char *gs_need_kvm(void);
int gs_vm_set_slot(struct gs_vm *vm, __u32 slot, __u64 gpa, void *hva,
		   __u64 size, __u32 flags);
void gs_vm_create(struct gs_vm *vm);
void gs_vm_add_region(struct gs_vm *vm, struct gs_region *r);
void gs_vm_destroy(struct gs_vm *vm);
/* Point the vCPU at the copy loop: len bytes from src to dst. */
void gs_vm_set_copy(struct gs_vm *vm, __u64 src, __u64 dst, size_t len);
/* A gs_job: KVM_RUN of the vm in ctx. */
void gs_vm_run_job(struct gs_job *j);
const char *gs_kvm_exit_name(__u32 reason);
/* The guest's report: the copy finished with nothing left. */
void gs_vm_check_report(struct gs_vm *vm, struct gs_job *j);
/* Run the guest until it reports, bounded. */
void gs_vm_run(struct gs_vm *vm, const char *what);

/*
 * Lock-drop proof: a writer in this mm must finish while tid stays asleep
 * in one of the given states ("D" killable, "S" interruptible).
 */
void gs_lockdrop_probe(pid_t tid, const char *states);
/* Start the probe's writer thread (the runner does, before each cell). */
void gs_lockdrop_arm(void);
/*
 * The opposite proof, for a caller that sleeps holding mmap_lock: a
 * writer in this mm must make no progress for GS_WRITER_MS while tid
 * sleeps; gs_lockheld_end() then wants it done once the holder let go.
 */
void gs_lockheld_probe(pid_t tid, const char *states);
void gs_lockheld_end(void);

/* Backings */
void gs_region_map(struct gs_region *r, const struct gs_backing *b,
		   int npages);
void gs_region_unmap(struct gs_region *r);
void gs_region_move(struct gs_region *r, char *start, size_t len);

/* Address-space changes made while a caller waits on page "held". */
enum gs_change {
	GS_MUNMAP_TAIL,		/* unmap the pages after the held one */
	GS_MUNMAP_STALLED,	/* unmap the held page itself */
	GS_MREMAP_TAIL,		/* move the pages after it elsewhere */
	GS_MREMAP_STALLED,	/* move the held page elsewhere */
	GS_MPROTECT_TAIL,	/* make the pages after it PROT_NONE */
	GS_MPROTECT_STALLED,	/* make the held page PROT_NONE */
	GS_DONTNEED_TAIL,	/* MADV_DONTNEED the pages after it */
	GS_DONTNEED_STALLED,	/* MADV_DONTNEED the held page */
};

void gs_region_change(struct gs_region *r, enum gs_change how, int held);
/* Fill the region's page cache through a second mapping (for MINOR). */
void gs_region_fill_cache(struct gs_region *r, __u64 seed);
void gs_region_evict(struct gs_region *r);
size_t gs_huge_page_size(void);
/* Free huge pages of the default size, -1 when unknown. */
long gs_huge_free(void);

/* Machine settings the runner changes on demand and always restores */
bool gs_swap_ready(char *why, size_t len);
bool gs_hugetlb_ready(int npages, char *why, size_t len);
bool gs_thp_ready(char *why, size_t len);
/* Give back what gs_swap_ready() and gs_hugetlb_ready() set up. */
void gs_swap_restore(void);
void gs_hugetlb_restore(void);

/* Settings shared with other runs, and leftovers of killed ones */
/* Clear capability cap (CAP_IPC_LOCK, ...) from the effective set. */
void gs_drop_cap(int cap);
void gs_env_start(void);
void gs_env_end(void);
void gs_env_forget(void);
bool gs_env_lock(void);
void gs_env_unlock(void);
int gs_env_others(void);
void gs_env_set_zram(int id);
void gs_env_set_huge(unsigned long kb, long pages);
long gs_env_huge_put(unsigned long kb, long pages);
int gs_env_swap_hold(void);
void gs_env_swap_release(int fd);
int gs_read_long(const char *path, long *v);
int gs_read_line(const char *path, char *buf, size_t len);
int gs_write_str(const char *path, const char *s);
int gs_write_long(const char *path, long v);

/* NUMA placement, through move_pages() */
bool gs_numa_ready(char *why, size_t len);
int gs_numa_other(int node);
int gs_page_node(const void *addr);
long gs_move_pages(const struct gs_region *r, int first, int n, int node,
		   int *status);
void gs_note_status(const char *what, int first, const int *status, int n);
long gs_migrate(const struct gs_region *r, int first, int n, int dst,
		unsigned long long busy);
void gs_mbind(const struct gs_region *r, int node);
void gs_check_node(const struct gs_region *r, int first, int n, int node,
		   const char *what);

/* Memory pressure */
void gs_region_pageout(struct gs_region *r);
/* Residency through /proc/self/pagemap, by its named bits */
#define GS_PM_PRESENT	GS_BIT(63)
#define GS_PM_SWAPPED	GS_BIT(62)
int gs_pagemap_swapped(const void *addr, int npages, size_t psize);
int gs_pages_present(const void *addr, int npages, size_t psize);
/* Pages of r not resident: pagemap for anon, mincore otherwise. */
int gs_region_nonresident(struct gs_region *r);
/* Bit i set: page i present (the first 64 pages). */
unsigned long long gs_present_mask(const void *addr, int npages,
				   size_t psize);

/*
 * FUSE files whose reads fail, succeed or wait (gup_stall_fuse.c), in
 * GS_FUSE_DIR of a private mount namespace of the serving process.
 */
#define GS_FUSE_DIR	"/tmp/fuse"
#define GS_FUSE_PAGES	4
#define GS_FUSE_SEED	0x44	/* what the readable pages hold */

struct gs_fuse_file {
	const char *name;
	int good;		/* pages readable from the start, -1 all */
};

extern const struct gs_fuse_file gs_fuse_files[];
extern const int gs_nr_fuse_files;

struct gs_fuse;

const struct gs_fuse_file *gs_fuse_file(const char *target);
size_t gs_fuse_len(void);
void gs_fuse_path(const struct gs_fuse_file *f, char *path, size_t len);
void gs_private_mounts(void);
bool gs_fuse_mounted(const char *mounts, const char *mnt);
/*
 * Mount and serve in this process; skips the cell without FUSE. Children
 * forked afterwards do not keep /dev/fuse open.
 */
struct gs_fuse *gs_fuse_start(void);
void gs_fuse_stop(struct gs_fuse *fs);
unsigned long gs_fuse_reads(struct gs_fuse *fs);
/* Keep the next READ of a readable file unanswered until answered. */
void gs_fuse_hold(struct gs_fuse *fs);
bool gs_fuse_has_held(void *fs);
void gs_fuse_answer(struct gs_fuse *fs, size_t *size, long *off);
unsigned int gs_fuse_conn(void);

/* The kernel-mode userfaultfd staller */
struct gs_msg {
	__u64 addr;
	__u64 flags;
	__u32 ptid;
};

struct gs_staller;

bool gs_uffd_usable(char *why, size_t len);
struct gs_staller *gs_staller_start(struct gs_region *r, unsigned int mode,
				    __u64 seed, __u64 hold);
int gs_staller_wait_held(struct gs_staller *st, int page, struct gs_msg *msg);
int gs_staller_release(struct gs_staller *st, int page);
int gs_staller_release_zapped(struct gs_staller *st, int page);
void gs_staller_release_all(struct gs_staller *st);
int gs_staller_count(struct gs_staller *st, int page);
int gs_staller_total(struct gs_staller *st);
void gs_staller_check_msgs(struct gs_staller *st, int first, int last,
			   bool write);
void gs_staller_stop(struct gs_staller *st);

#endif /* __GUP_STALL_H */
