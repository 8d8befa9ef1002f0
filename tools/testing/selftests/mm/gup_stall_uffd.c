// SPDX-License-Identifier: GPL-2.0
/*
 * gup_stall staller: a kernel-mode userfaultfd (not UFFD_USER_MODE_ONLY,
 * so faults the kernel takes on a process's behalf, GUP among them, reach
 * it) serviced by a thread that holds the faults the cell asks it to hold
 * and resolves all others with a known pattern.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/userfaultfd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "../kselftest.h"
#include "gup_stall.h"

struct gs_staller {
	int uffd;
	int evfd;		/* tells the thread to stop */
	struct gs_region *r;
	unsigned int mode;
	__u64 seed;
	__u64 hold;		/* pages whose faults wait for a release */
	bool release_all;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	__u64 pending;	/* held faults not yet released */
	__u64 refault;	/* pages zapped after their copy: two messages */
	int nmsgs;
	struct gs_msg msgs[GS_MAX_MSGS];
	char *src;		/* one page of pattern for UFFDIO_COPY */
};

/*
 * The userfaultfds this process's stallers hold. A process forked from
 * the cell that kept one open would keep its own stalled fault waiting
 * for ever once the cell died: the fd outlives the staller thread, which
 * fork() does not copy, and O_CLOEXEC does not help across fork(). So
 * every child forked while a staller exists closes them first.
 */
static int gs_uffds[16];
static int gs_nuffds;

static void gs_staller_close_inherited(void)
{
	while (gs_nuffds)
		close(gs_uffds[--gs_nuffds]);
}

static void gs_uffd_track(int fd)
{
	static bool registered;

	if (!registered &&
	    pthread_atfork(NULL, NULL, gs_staller_close_inherited))
		gs_fail("pthread_atfork failed");
	registered = true;
	if (gs_nuffds == (int)ARRAY_SIZE(gs_uffds))
		gs_fail("more than %d stallers at once", gs_nuffds);
	gs_uffds[gs_nuffds++] = fd;
}

static void gs_uffd_untrack(int fd)
{
	int i;

	for (i = 0; i < gs_nuffds; i++)
		if (gs_uffds[i] == fd)
			gs_uffds[i] = gs_uffds[--gs_nuffds];
}

static int gs_uffd_new(void)
{
	int fd, dev;

	fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0 || errno != EPERM)
		return fd;
	/* Without the sysctl, /dev/userfaultfd can still hand one out. */
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -1;
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
	close(dev);
	return fd;
}

static __u64 gs_uffd_features(void)
{
	static __u64 features = ~0ULL;
	struct uffdio_api api = { .api = UFFD_API };
	int fd;

	if (features != ~0ULL)
		return features;
	features = 0;
	fd = gs_uffd_new();
	if (fd < 0)
		return 0;
	if (!ioctl(fd, UFFDIO_API, &api))
		features = api.features;
	close(fd);
	return features;
}

bool gs_uffd_usable(char *why, size_t len)
{
	int fd = gs_uffd_new();

	/* the sysctl exists exactly when the syscall does */
	if (fd < 0 && access("/proc/sys/vm/unprivileged_userfaultfd", F_OK)) {
		snprintf(why, len, "userfaultfd: %s: CONFIG_USERFAULTFD is off",
			 strerror(errno));
		return false;
	}
	if (fd < 0) {
		snprintf(why, len,
			 "no kernel-mode userfaultfd (%s): needs root (CAP_SYS_PTRACE), %s or %s",
			 strerror(errno), "vm.unprivileged_userfaultfd=1",
			 "/dev/userfaultfd access");
		return false;
	}
	close(fd);
	if (!(gs_uffd_features() & UFFD_FEATURE_THREAD_ID)) {
		snprintf(why, len, "userfaultfd lacks UFFD_FEATURE_THREAD_ID");
		return false;
	}
	return true;
}

static __u64 gs_wanted_features(const struct gs_region *r, unsigned int mode)
{
	bool huge = r->b->kind == GS_HUGETLB;
	bool shm = r->b->kind != GS_ANON && !huge;
	__u64 f = UFFD_FEATURE_THREAD_ID;

	if (mode & GS_UFFD_MISSING)
		f |= huge ? UFFD_FEATURE_MISSING_HUGETLBFS :
		     shm ? UFFD_FEATURE_MISSING_SHMEM : 0;
	if (mode & GS_UFFD_MINOR)
		f |= huge ? UFFD_FEATURE_MINOR_HUGETLBFS : UFFD_FEATURE_MINOR_SHMEM;
	if (mode & GS_UFFD_WP)
		f |= UFFD_FEATURE_PAGEFAULT_FLAG_WP;
	if ((mode & GS_UFFD_WP) && r->b->kind != GS_ANON)
		f |= UFFD_FEATURE_WP_HUGETLBFS_SHMEM;
	return f;
}

static const char *gs_mode_name(unsigned int mode)
{
	return mode == GS_UFFD_MISSING ? "MISSING" :
	       mode == GS_UFFD_WP ? "WP" : "MINOR";
}

/*
 * A skip reason for features the kernel lacks: their names and the
 * kernel configuration that provides them.
 */
static void gs_uffd_skip_missing(__u64 missing, unsigned int mode,
				 const char *backing)
{
	static const struct {
		__u64 bit;
		const char *what;
	} names[] = {
		{ UFFD_FEATURE_THREAD_ID,
		  "UFFD_FEATURE_THREAD_ID (4.14)" },
		{ UFFD_FEATURE_MISSING_HUGETLBFS,
		  "UFFD_FEATURE_MISSING_HUGETLBFS (CONFIG_HUGETLBFS)" },
		{ UFFD_FEATURE_MISSING_SHMEM,
		  "UFFD_FEATURE_MISSING_SHMEM (CONFIG_SHMEM)" },
		{ UFFD_FEATURE_PAGEFAULT_FLAG_WP,
		  "UFFD_FEATURE_PAGEFAULT_FLAG_WP (CONFIG_HAVE_ARCH_USERFAULTFD_WP)" },
		{ UFFD_FEATURE_WP_HUGETLBFS_SHMEM,
		  "UFFD_FEATURE_WP_HUGETLBFS_SHMEM (CONFIG_PTE_MARKER_UFFD_WP, 6.0)" },
		{ UFFD_FEATURE_MINOR_HUGETLBFS,
		  "UFFD_FEATURE_MINOR_HUGETLBFS (CONFIG_HAVE_ARCH_USERFAULTFD_MINOR)" },
		{ UFFD_FEATURE_MINOR_SHMEM,
		  "UFFD_FEATURE_MINOR_SHMEM (CONFIG_HAVE_ARCH_USERFAULTFD_MINOR, 5.14)" },
	};
	char list[400] = "";
	size_t i, n = 0;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if ((missing & names[i].bit) && n < sizeof(list))
			n += snprintf(list + n, sizeof(list) - n, "%s%s",
				      n ? ", " : "", names[i].what);
	gs_skip("userfaultfd %s on %s needs %s, which this kernel lacks",
		gs_mode_name(mode), backing, list);
}

static int gs_uffd_open(struct gs_region *r, unsigned int mode)
{
	__u64 want = gs_wanted_features(r, mode);
	__u64 have = gs_uffd_features();
	struct uffdio_api api = { .api = UFFD_API };
	int fd;

	if ((want & have) != want)
		gs_uffd_skip_missing(want & ~have, mode, r->b->name);
	fd = gs_uffd_new();
	if (fd < 0)
		gs_fail("userfaultfd: %s", strerror(errno));
	api.features = want;
	if (ioctl(fd, UFFDIO_API, &api))
		gs_fail("UFFDIO_API %#llx: %s", (unsigned long long)want,
			strerror(errno));
	return fd;
}

static void gs_uffd_register(struct gs_staller *st)
{
	struct uffdio_register reg = { 0 };
	struct gs_region *r = st->r;

	reg.range.start = (unsigned long)r->map;
	reg.range.len = r->map_len;
	reg.mode = (st->mode & GS_UFFD_MISSING ? UFFDIO_REGISTER_MODE_MISSING : 0) |
		   (st->mode & GS_UFFD_WP ? UFFDIO_REGISTER_MODE_WP : 0) |
		   (st->mode & GS_UFFD_MINOR ? UFFDIO_REGISTER_MODE_MINOR : 0);
	if (ioctl(st->uffd, UFFDIO_REGISTER, &reg))
		gs_fail("UFFDIO_REGISTER %s on %s: %s", gs_mode_name(st->mode),
			r->b->name, strerror(errno));
	if (st->mode & GS_UFFD_WP) {
		struct uffdio_writeprotect wp = {
			.range = { (unsigned long)r->addr, r->len },
			.mode = UFFDIO_WRITEPROTECT_MODE_WP,
		};

		if (ioctl(st->uffd, UFFDIO_WRITEPROTECT, &wp))
			gs_fail("UFFDIO_WRITEPROTECT: %s", strerror(errno));
	}
}

static int gs_page_of(struct gs_staller *st, __u64 addr)
{
	__u64 base = (unsigned long)st->r->addr;

	if (addr < base || addr >= base + st->r->len)
		return -1;
	return (addr - base) / st->r->psize;
}

/* Start of the page (of the region's page size) that holds addr. */
static unsigned long gs_page_start(struct gs_staller *st, __u64 addr)
{
	return addr & ~(__u64)(st->r->psize - 1);
}

static unsigned long gs_page_addr(struct gs_staller *st, int page)
{
	return (unsigned long)st->r->addr + page * st->r->psize;
}

static void gs_wake(struct gs_staller *st, unsigned long addr)
{
	struct uffdio_range range = { addr, st->r->psize };

	ioctl(st->uffd, UFFDIO_WAKE, &range);
}

/*
 * Resolve the fault on one page; returns 0 or the errno of the resolving
 * ioctl. When the page cannot be resolved (it was unmapped or moved), the
 * waiter is woken so the caller retries and sees the change.
 */
static int gs_resolve(struct gs_staller *st, unsigned long addr)
{
	size_t off = addr - (unsigned long)st->r->addr;
	int ret, tries = 0;

	do {
		if (st->mode == GS_UFFD_MISSING) {
			struct uffdio_copy copy = {
				.dst = addr, .src = (unsigned long)st->src,
				.len = st->r->psize,
			};

			gs_fill(st->src, st->r->psize, st->seed, off);
			ret = ioctl(st->uffd, UFFDIO_COPY, &copy);
		} else if (st->mode == GS_UFFD_MINOR) {
			struct uffdio_continue cont = {
				.range = { addr, st->r->psize },
			};

			ret = ioctl(st->uffd, UFFDIO_CONTINUE, &cont);
		} else {
			struct uffdio_writeprotect wp = {
				.range = { addr, st->r->psize },
			};

			ret = ioctl(st->uffd, UFFDIO_WRITEPROTECT, &wp);
		}
	} while (ret && errno == EAGAIN && ++tries < 1000);
	if (!ret)
		return 0;
	ret = errno;
	gs_wake(st, addr);
	return ret;
}

static void gs_staller_read(struct gs_staller *st)
{
	struct uffd_msg msg;

	while (read(st->uffd, &msg, sizeof(msg)) == sizeof(msg)) {
		__u64 addr = msg.arg.pagefault.address;
		int page = gs_page_of(st, addr);
		bool hold;

		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		pthread_mutex_lock(&st->lock);
		if (st->nmsgs < GS_MAX_MSGS) {
			struct gs_msg *m = &st->msgs[st->nmsgs];

			m->addr = addr;
			m->flags = msg.arg.pagefault.flags;
			m->ptid = msg.arg.pagefault.feat.ptid;
		}
		st->nmsgs++;
		hold = page >= 0 && !st->release_all &&
		       (st->hold & (1ULL << page));
		if (hold)
			st->pending |= 1ULL << page;
		pthread_cond_broadcast(&st->cond);
		pthread_mutex_unlock(&st->lock);
		if (!hold)
			gs_resolve(st, gs_page_start(st, addr));
	}
}

static void *gs_staller_fn(void *arg)
{
	struct gs_staller *st = arg;
	struct pollfd pfd[2] = {
		{ .fd = st->uffd, .events = POLLIN },
		{ .fd = st->evfd, .events = POLLIN },
	};

	for (;;) {
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		if (pfd[0].revents & POLLIN)
			gs_staller_read(st);
		if (pfd[0].revents & (POLLERR | POLLHUP))
			break;
	}
	return NULL;
}

/*
 * Register the region with userfaultfd in the given mode and serve its
 * faults: pages in the hold mask wait for gs_staller_release(), all other
 * pages are resolved at once with the pattern of seed (MISSING), with
 * what the page cache holds (MINOR) or by unprotecting them (WP).
 */
struct gs_staller *gs_staller_start(struct gs_region *r, unsigned int mode,
				    __u64 seed, __u64 hold)
{
	struct gs_staller *st = calloc(1, sizeof(*st));

	if (!st)
		gs_fail("out of memory");
	st->r = r;
	st->mode = mode;
	st->seed = seed;
	st->hold = hold;
	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->cond, NULL);
	st->src = mmap(NULL, r->psize, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (st->src == MAP_FAILED)
		gs_fail("mmap: %s", strerror(errno));
	st->uffd = gs_uffd_open(r, mode);
	gs_uffd_track(st->uffd);
	st->evfd = eventfd(0, EFD_CLOEXEC);
	gs_uffd_register(st);
	if (pthread_create(&st->thread, NULL, gs_staller_fn, st))
		gs_fail("pthread_create failed");
	return st;
}

/*
 * Wait (bounded) until the fault on a held page has arrived; copy its
 * message to *msg. Returns 0, or fails the cell on timeout.
 */
int gs_staller_wait_held(struct gs_staller *st, int page, struct gs_msg *msg)
{
	struct timespec deadline;
	int ret = 0, i;

	gs_phase("waiting for the uffd message of page %d", page);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += GS_WAIT_MS / 1000;
	pthread_mutex_lock(&st->lock);
	while (!(st->pending & (1ULL << page)) && ret != ETIMEDOUT)
		ret = pthread_cond_timedwait(&st->cond, &st->lock, &deadline);
	for (i = 0; i < st->nmsgs && i < GS_MAX_MSGS; i++)
		if (gs_page_of(st, st->msgs[i].addr) == page)
			*msg = st->msgs[i];
	pthread_mutex_unlock(&st->lock);
	if (ret == ETIMEDOUT)
		gs_fail("no userfaultfd message for page %d within %d ms (%d messages)",
			page, GS_WAIT_MS, st->nmsgs);
	if (gs_inject == GS_INJECT_PTID)
		msg->ptid++;
	return 0;
}

int gs_staller_release(struct gs_staller *st, int page)
{
	if (gs_inject == GS_INJECT_HANG || gs_inject == GS_INJECT_WATCHDOG)
		return 0;
	pthread_mutex_lock(&st->lock);
	st->pending &= ~(1ULL << page);
	st->hold &= ~(1ULL << page);
	pthread_mutex_unlock(&st->lock);
	return gs_resolve(st, gs_page_addr(st, page));
}

/*
 * Resolve a held MISSING fault without waking its waiter, zap the page
 * again and only then wake: the woken GUP retries with FOLL_TRIED and
 * faults on the same page once more. That second fault must be allowed
 * to wait (FAULT_FLAG_ALLOW_RETRY with FAULT_FLAG_TRIED, since 5.7) and
 * queues a second message, which the staller resolves at once.
 */
int gs_staller_release_zapped(struct gs_staller *st, int page)
{
	unsigned long addr = gs_page_addr(st, page);
	struct uffdio_copy copy = {
		.dst = addr, .src = (unsigned long)st->src,
		.len = st->r->psize, .mode = UFFDIO_COPY_MODE_DONTWAKE,
	};

	if (st->mode != GS_UFFD_MISSING)
		gs_fail("a zapped release needs a MISSING staller");
	pthread_mutex_lock(&st->lock);
	st->pending &= ~(1ULL << page);
	st->hold &= ~(1ULL << page);
	st->refault |= 1ULL << page;
	pthread_mutex_unlock(&st->lock);
	gs_fill(st->src, st->r->psize, st->seed, addr - (unsigned long)st->r->addr);
	if (ioctl(st->uffd, UFFDIO_COPY, &copy))
		gs_fail("UFFDIO_COPY without wake: %s", strerror(errno));
	if (madvise((void *)addr, st->r->psize, MADV_DONTNEED))
		gs_fail("MADV_DONTNEED of the copied page: %s", strerror(errno));
	gs_wake(st, addr);
	return 0;
}

void gs_staller_release_all(struct gs_staller *st)
{
	__u64 pending;
	int page;

	if (gs_inject == GS_INJECT_HANG || gs_inject == GS_INJECT_WATCHDOG)
		return;
	pthread_mutex_lock(&st->lock);
	st->release_all = true;
	pending = st->pending;
	st->pending = 0;
	st->hold = 0;
	pthread_mutex_unlock(&st->lock);
	for (page = 0; page < GS_MAX_PAGES; page++)
		if (pending & (1ULL << page))
			gs_resolve(st, gs_page_addr(st, page));
}

int gs_staller_count(struct gs_staller *st, int page)
{
	int i, n = 0;

	pthread_mutex_lock(&st->lock);
	for (i = 0; i < st->nmsgs && i < GS_MAX_MSGS; i++)
		if (gs_page_of(st, st->msgs[i].addr) == page)
			n++;
	pthread_mutex_unlock(&st->lock);
	return n;
}

int gs_staller_total(struct gs_staller *st)
{
	int n;

	pthread_mutex_lock(&st->lock);
	n = st->nmsgs;
	pthread_mutex_unlock(&st->lock);
	return n;
}

/*
 * Every page in [first, last] faulted exactly once, no other page did,
 * and each message has the expected write flag.
 */
void gs_staller_check_msgs(struct gs_staller *st, int first, int last,
			   bool write)
{
	int i, total = gs_staller_total(st);
	int extra = gs_inject == GS_INJECT_MSGS;

	for (i = 0; i < st->r->npages; i++) {
		int n = gs_staller_count(st, i);
		int want = (i >= first && i <= last) + extra +
			   !!(st->refault & (1ULL << i));

		if (n != want)
			gs_fail("page %d got %d userfaultfd messages, want %d",
				i, n, want);
	}
	if (total != last - first + 1 + __builtin_popcountll(st->refault))
		gs_fail("%d userfaultfd messages, want %d", total,
			last - first + 1 + __builtin_popcountll(st->refault));
	for (i = 0; i < total && i < GS_MAX_MSGS; i++) {
		bool w = st->msgs[i].flags & UFFD_PAGEFAULT_FLAG_WRITE;

		if (st->mode == GS_UFFD_WP &&
		    !(st->msgs[i].flags & UFFD_PAGEFAULT_FLAG_WP))
			gs_fail("message %d lacks the WP flag (flags %#llx)", i,
				(unsigned long long)st->msgs[i].flags);
		if (w != write)
			gs_fail("message %d has flags %#llx, want a %s fault", i,
				(unsigned long long)st->msgs[i].flags,
				write ? "write" : "read");
	}
}

void gs_staller_stop(struct gs_staller *st)
{
	__u64 one = 1;

	if (write(st->evfd, &one, sizeof(one)) != sizeof(one))
		gs_fail("eventfd write: %s", strerror(errno));
	pthread_join(st->thread, NULL);
	gs_uffd_untrack(st->uffd);
	close(st->uffd);
	close(st->evfd);
	munmap(st->src, st->r->psize);
	free(st);
}
