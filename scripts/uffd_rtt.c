// SPDX-License-Identifier: GPL-2.0
/*
 * uffd_rtt: the bare cost of one userfaultfd round trip, for scripts/bench.sh.
 *
 *   uffd_rtt [ITERATIONS]
 *
 * A handler thread answers MISSING faults on one anonymous page with
 * UFFDIO_COPY. Measured per iteration (the page is zapped with
 * MADV_DONTNEED before each):
 *   user   a user-mode read of the page (fault, message, copy, wake)
 *   gup    process_vm_readv of the page from this process: the fault is
 *          raised by GUP on the caller's behalf (kernel mode, lock dropped)
 * Prints "user_us MEDIAN" and "gup_us MEDIAN" (microseconds) and min/max.
 * Needs a uffd that handles kernel-mode faults (root).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static int uffd;
static long psz;
static char *src;

static void *handler(void *arg)
{
	struct uffd_msg msg;

	(void)arg;
	for (;;) {
		struct uffdio_copy copy;

		if (read(uffd, &msg, sizeof(msg)) != sizeof(msg)) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return NULL;
		}
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		copy.dst = msg.arg.pagefault.address & ~(psz - 1);
		copy.src = (unsigned long)src;
		copy.len = psz;
		copy.mode = 0;
		copy.copy = 0;
		if (ioctl(uffd, UFFDIO_COPY, &copy) && errno != EEXIST) {
			perror("UFFDIO_COPY");
			exit(1);
		}
	}
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void report(const char *what, double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp);
	printf("%s_us %.1f min %.1f max %.1f n %d\n", what, v[n / 2], v[0],
	       v[n - 1], n);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { 0 };
	double *user = calloc(n, sizeof(double)), *gup = calloc(n, sizeof(double));
	char *page;
	char buf[64];
	pthread_t th;
	int i;

	psz = sysconf(_SC_PAGESIZE);
	uffd = syscall(__NR_userfaultfd, O_CLOEXEC);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api)) {
		perror("userfaultfd");
		return 4;
	}
	src = mmap(NULL, psz, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	page = mmap(NULL, psz, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (src == MAP_FAILED || page == MAP_FAILED || !user || !gup)
		return 1;
	memset(src, 0x5a, psz);
	reg.range.start = (unsigned long)page;
	reg.range.len = psz;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		perror("UFFDIO_REGISTER");
		return 1;
	}
	pthread_create(&th, NULL, handler, NULL);

	for (i = 0; i < n; i++) {
		double t0;

		madvise(page, psz, MADV_DONTNEED);
		t0 = now_us();
		/* an atomic load: the read must really happen */
		if (__atomic_load_n(page, __ATOMIC_RELAXED) != 0x5a)
			return 1;
		user[i] = now_us() - t0;
	}
	for (i = 0; i < n; i++) {
		struct iovec l = { buf, sizeof(buf) };
		struct iovec r = { page, sizeof(buf) };
		double t0;

		madvise(page, psz, MADV_DONTNEED);
		t0 = now_us();
		if (process_vm_readv(getpid(), &l, 1, &r, 1, 0) != sizeof(buf) ||
		    buf[0] != 0x5a) {
			fprintf(stderr, "process_vm_readv: %s (%s)\n",
				strerror(errno),
				"a uffd that does not handle kernel faults?");
			return 1;
		}
		gup[i] = now_us() - t0;
	}
	report("user", user, n);
	report("gup", gup, n);
	return 0;
}
