// SPDX-License-Identifier: GPL-2.0
/*
 * gup_stall runner: cells in processes of their own, a watchdog, KTAP
 * lines through kselftest.h, checkers and a kernel health check.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "../kselftest.h"
#include "gup_stall.h"
#include "gup_stall_kmsg.h"

enum gs_inject gs_inject;

struct gs_result {
	int code;		/* KSFT_*, or -1 while the cell runs */
	char msg[512];		/* why it failed, skipped or xfailed */
	char note[512];		/* details for the report */
	char phase[256];	/* what the cell waits for right now */
	pid_t watch[8];
	int nwatch;
};

static struct gs_cell gs_cells[GS_MAX_CELLS];
static int gs_ncells;
static struct gs_result *gs_res;
static pid_t gs_runner_pid;
/* the process group of the cell that runs now, for the signal handler */
static pid_t gs_cell_pgid;
/* a task of a cell cannot be killed: no later cell can be trusted */
static bool gs_bail;
static const char *gs_filters[16];
static int gs_nfilters;
static bool gs_list_only;
static int gs_cell_timeout = 30;
static const char *gs_dir = ".";
static const char *gs_prog;
static const char *gs_usage_extra;

static const char * const gs_inject_names[] = {
	[GS_INJECT_NONE] = "none",
	[GS_INJECT_PATTERN] = "pattern",
	[GS_INJECT_ERRNO] = "errno",
	[GS_INJECT_LOCKDROP] = "lockdrop",
	[GS_INJECT_KMSG] = "kmsg",
	[GS_INJECT_HANG] = "hang",
	[GS_INJECT_MSGS] = "msgs",
	[GS_INJECT_PIN] = "pin",
	[GS_INJECT_READS] = "reads",
	[GS_INJECT_STUCK_READ] = "stuck-read",
	[GS_INJECT_STATE] = "state",
	[GS_INJECT_SIGNAL] = "signal",
	[GS_INJECT_ORDER] = "order",
	[GS_INJECT_NODE] = "node",
	[GS_INJECT_TAG] = "tag",
	[GS_INJECT_PRESENT] = "present",
	[GS_INJECT_LOCKED] = "locked",
	[GS_INJECT_RET] = "ret",
	[GS_INJECT_PTID] = "ptid",
	[GS_INJECT_TAINT] = "taint",
	[GS_INJECT_WATCHDOG] = "watchdog",
	[GS_INJECT_UNKILLABLE] = "unkillable",
	[GS_INJECT_REAP] = "reap",
};

static void print_usage(int code)
{
	FILE *f = code ? stderr : stdout;
	int i;

	fprintf(f, "usage: %s [-l] [-f PATTERN]... [-t SECONDS] [-d DIR] [-n CONTROL]\n"
		"  -l          list the cells and exit\n"
		"  -f PATTERN  run only cells whose name contains PATTERN\n"
		"              (a glob when it has * ? or [); may repeat\n"
		"  -t SECONDS  watchdog for one cell (default %d)\n"
		"  -d DIR      directory for files on disk (default: .)\n"
		"  -n CONTROL  negative control: break one checker on purpose:\n"
		"             ", gs_prog, gs_cell_timeout);
	for (i = 1; i < (int)ARRAY_SIZE(gs_inject_names); i++)
		fprintf(f, " %s", gs_inject_names[i]);
	fprintf(f, "\n%s", gs_usage_extra ? gs_usage_extra : "");
	exit(code);
}

/* Bad input: one line that says what is wrong, exit 2 before any work. */
static GS_NORETURN GS_PRINTF(1, 2) void gs_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", gs_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (%s -h for help)\n", gs_prog);
	exit(2);
}

static void parse_inject(const char *arg)
{
	int i;

	for (i = 1; i < (int)ARRAY_SIZE(gs_inject_names); i++) {
		if (!strcmp(arg, gs_inject_names[i])) {
			gs_inject = i;
			return;
		}
	}
	gs_usage_error("-n: unknown negative control '%s'", arg);
}

static int parse_seconds(const char *arg)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < 1 || v > 3600)
		gs_usage_error("-t wants seconds from 1 to 3600, not '%s'", arg);
	return v;
}

/*
 * A glob whose "[" has no "]" matches nothing with fnmatch(), silently:
 * say so instead. "]" right after "[" or "[!" is a member, not the end.
 */
static void parse_filter(const char *arg)
{
	const char *p = arg;

	if (!*arg)
		gs_usage_error("-f wants a pattern, not an empty string");
	while ((p = strchr(p, '['))) {
		p += 1 + (p[1] == '!' || p[1] == '^');
		if (*p == ']')
			p++;
		p = strchr(p, ']');
		if (!p)
			gs_usage_error("-f '%s': a '[' without its ']' in the glob",
				       arg);
	}
	if (gs_nfilters == ARRAY_SIZE(gs_filters))
		gs_usage_error("at most %zu -f", ARRAY_SIZE(gs_filters));
	gs_filters[gs_nfilters++] = arg;
}

/* The directory for files on disk must be one, and writable. */
static void parse_dir(const char *arg)
{
	struct stat st;

	if (stat(arg, &st))
		gs_usage_error("-d %s: %s", arg, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		gs_usage_error("-d %s: not a directory", arg);
	if (access(arg, W_OK | X_OK))
		gs_usage_error("-d %s: cannot create files there: %s", arg,
			       strerror(errno));
	gs_dir = arg;
}

void gs_init(int argc, char **argv, const char *usage_extra)
{
	int opt;

	gs_prog = argv[0];
	gs_usage_extra = usage_extra;
	opterr = 0;
	while ((opt = getopt(argc, argv, ":lf:t:d:n:h")) != -1) {
		switch (opt) {
		case 'l':
			gs_list_only = true;
			break;
		case 'f':
			parse_filter(optarg);
			break;
		case 't':
			gs_cell_timeout = parse_seconds(optarg);
			break;
		case 'd':
			parse_dir(optarg);
			break;
		case 'n':
			parse_inject(optarg);
			/* the watchdog must fire before any bounded wait */
			if (gs_inject == GS_INJECT_WATCHDOG)
				gs_cell_timeout = 1;
			break;
		case 'h':
			print_usage(0);
		case ':':
			gs_usage_error("-%c wants an argument", optopt);
		default:
			gs_usage_error("unknown option -%c", optopt);
		}
	}
	if (optind < argc)
		gs_usage_error("unexpected argument '%s'", argv[optind]);
	gs_expect_init(gs_prog);
}

const char *gs_test_dir(void)
{
	return gs_dir;
}

static bool gs_selected(const char *name)
{
	int i;

	if (!gs_nfilters)
		return true;
	for (i = 0; i < gs_nfilters; i++) {
		const char *p = gs_filters[i];

		if (strpbrk(p, "*?[") ? !fnmatch(p, name, 0) : !!strstr(name, p))
			return true;
	}
	return false;
}

struct gs_cell *gs_add_cell(gs_cell_fn run, const struct gs_backing *b,
			    unsigned int needs, const char *fmt, ...)
{
	static struct gs_cell dropped;
	struct gs_cell *c;
	va_list ap;
	int i;

	if (gs_ncells == GS_MAX_CELLS)
		ksft_exit_fail_msg("more than %d cells\n", GS_MAX_CELLS);
	c = &gs_cells[gs_ncells];
	memset(c, 0, sizeof(*c));
	va_start(ap, fmt);
	vsnprintf(c->name, sizeof(c->name), fmt, ap);
	va_end(ap);
	c->run = run;
	c->b = b;
	c->needs = needs;
	c->npages = 4;
	for (i = 0; i < gs_ncells; i++)
		if (!strcmp(gs_cells[i].name, c->name))
			ksft_exit_fail_msg("duplicate cell name '%s'\n", c->name);
	if (!gs_selected(c->name)) {
		dropped = *c;
		return &dropped;
	}
	gs_ncells++;
	return c;
}

/* Reporting from inside the cell process */

/* The first report of a cell wins, from whichever of its processes. */
static void gs_vset(char *dst, size_t len, const char *fmt, va_list ap)
{
	if (gs_res->code < 0)
		vsnprintf(dst, len, fmt, ap);
}

/* The first failure of gs_fail_later(), reported when the cell ends. */
static char gs_later[256];

static GS_NORETURN void gs_end(int code)
{
	char msg[sizeof(gs_res->msg)];

	/* a pass, skip or XFAIL after a failure is that failure */
	if (gs_later[0] && code != KSFT_FAIL) {
		snprintf(gs_res->msg, sizeof(gs_res->msg), "%s", gs_later);
		code = KSFT_FAIL;
	} else if (gs_later[0]) {
		snprintf(msg, sizeof(msg), "%s", gs_res->msg);
		snprintf(gs_res->msg, sizeof(gs_res->msg), "%s; then: %.200s",
			 gs_later, msg);
	}
	if (gs_res->code < 0)
		gs_res->code = code;
	_exit(0);
}

void gs_fail_later(const char *fmt, ...)
{
	va_list ap;

	if (gs_later[0])
		return;
	va_start(ap, fmt);
	gs_vset(gs_later, sizeof(gs_later), fmt, ap);
	va_end(ap);
	gs_note("FAIL (the remaining checks go on): %s", gs_later);
}

void gs_pass(void)
{
	gs_end(KSFT_PASS);
}

void gs_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	gs_vset(gs_res->msg, sizeof(gs_res->msg), fmt, ap);
	va_end(ap);
	gs_end(KSFT_FAIL);
}

void gs_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	gs_vset(gs_res->msg, sizeof(gs_res->msg), fmt, ap);
	va_end(ap);
	gs_end(KSFT_SKIP);
}

void gs_xfail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	gs_vset(gs_res->msg, sizeof(gs_res->msg), fmt, ap);
	va_end(ap);
	gs_end(KSFT_XFAIL);
}

void gs_xpass(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	gs_vset(gs_res->msg, sizeof(gs_res->msg), fmt, ap);
	va_end(ap);
	gs_end(KSFT_XPASS);
}

void gs_note(const char *fmt, ...)
{
	size_t used = strlen(gs_res->note);
	va_list ap;

	if (used && used < sizeof(gs_res->note) - 2) {
		strcat(gs_res->note, "; ");
		used += 2;
	}
	va_start(ap, fmt);
	gs_vset(gs_res->note + used, sizeof(gs_res->note) - used, fmt, ap);
	va_end(ap);
}

void gs_phase(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	gs_vset(gs_res->phase, sizeof(gs_res->phase), fmt, ap);
	va_end(ap);
}

void gs_watch_pid(pid_t pid)
{
	if (gs_res->nwatch < (int)ARRAY_SIZE(gs_res->watch))
		gs_res->watch[gs_res->nwatch++] = pid;
}

/* Checkers */

static __u64 gs_word(__u64 seed, size_t off)
{
	__u64 v = (seed + 1) * 0x9e3779b97f4a7c15ULL;

	return v ^ ((__u64)off * 0xff51afd7ed558ccdULL) ^ (off >> 12);
}

/* Fill len bytes at buf with the pattern of seed at byte offset off. */
void gs_fill(void *buf, size_t len, __u64 seed, size_t off)
{
	__u64 *w = buf;
	size_t i;

	for (i = 0; i < len / 8; i++)
		w[i] = gs_word(seed, off + i * 8);
}

void gs_check_data(const char *what, const void *buf, size_t len,
		   __u64 seed, size_t off)
{
	const __u64 *w = buf;
	size_t i;

	if (gs_inject == GS_INJECT_PATTERN)
		seed ^= 0x5a;
	for (i = 0; i < len / 8; i++) {
		__u64 want = gs_word(seed, off + i * 8);

		if (w[i] != want)
			gs_fail("data mismatch in %s at byte %zu: got %#llx, want %#llx",
				what, i * 8, (unsigned long long)w[i],
				(unsigned long long)want);
	}
}

void gs_check_bytes(const char *what, const void *buf, size_t len, int byte)
{
	const unsigned char *p = buf;
	size_t i;

	if (gs_inject == GS_INJECT_PATTERN)
		byte ^= 0x5a;
	for (i = 0; i < len; i++)
		if (p[i] != (unsigned char)byte)
			gs_fail("data mismatch in %s at byte %zu: got %#x, want %#x",
				what, i, p[i], byte);
}

void gs_check_ret(const char *what, long ret, long want)
{
	if (gs_inject == GS_INJECT_RET)
		want++;
	if (ret != want)
		gs_fail("%s returned %ld, want %ld", what, ret, want);
}

void gs_check_err(const char *what, long ret, int err, int want)
{
	if (gs_inject == GS_INJECT_ERRNO)
		want = want == EIO ? EFAULT : EIO;
	if (ret != -1)
		gs_fail("%s returned %ld, want -1 with %s", what, ret,
			strerrorname_np(want));
	if (err != want)
		gs_fail("%s failed with %s, want %s", what,
			strerrorname_np(err) ?: "?", strerrorname_np(want));
}

/* Processes */

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
		/*
		 * A caller that kept the cell's userfaultfd open would keep
		 * its own stalled fault waiting for ever once the cell died:
		 * the fd outlives the staller thread, which fork() does not
		 * copy. O_CLOEXEC does not help across fork().
		 */
		gs_staller_close_inherited();
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

/* The state letter of /proc/<tid>/stat (R, S, D, ...), 0 when gone. */
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

/* Lock-drop proof */

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

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += ms / 1000;
	deadline.tv_nsec += (ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
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

/* Kernel health: taint bits and new kernel log lines */

static unsigned long gs_read_taint(void)
{
	unsigned long t = 0;
	FILE *f = fopen("/proc/sys/kernel/tainted", "r");

	if (f) {
		if (fscanf(f, "%lu", &t) != 1)
			t = 0;
		fclose(f);
	}
	return t;
}

static int gs_kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/*
 * Read what the kernel logged since gs_kmsg_open() as reports (see
 * gup_stall_kmsg.c); count the bad ones and keep the first header in
 * first[].
 */
static int gs_kmsg_scan(int fd, const char *allow, char *first, size_t len)
{
	struct gs_kmsg_reader r;
	char rec[2048];
	ssize_t n;

	if (fd < 0)
		return 0;
	gs_kmsg_start(&r, allow);
	for (;;) {
		char *msg, *nl;

		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* records were overwritten */
		if (n <= 0)
			break;
		rec[n] = 0;
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		nl = strchr(msg, '\n');
		if (nl)
			*nl = 0;
		gs_kmsg_line(&r, msg);
	}
	snprintf(first, len, "%s", r.first);
	return r.bad;
}

static void gs_plant_kmsg(void)
{
	static const char line[] =
		"WARNING: gup_stall negative control, planted from userspace\n";
	int fd = open("/dev/kmsg", O_WRONLY);

	if (fd >= 0) {
		if (write(fd, line, sizeof(line) - 1) < 0)
			perror("write /dev/kmsg");
		close(fd);
	}
}

/* Watchdog: show where the cell's tasks are stuck. */

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

static void gs_report_stuck(pid_t cell)
{
	int i;

	ksft_print_msg("cell process %d stuck: %s\n", cell,
		       gs_res->phase[0] ? gs_res->phase : "(no phase)");
	gs_print_stack(cell);
	for (i = 0; i < gs_res->nwatch; i++)
		gs_print_stack(gs_res->watch[i]);
}

/* The kernel stacks of the tasks left in process group pgid. */
static void gs_print_group(pid_t pgid)
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
static bool gs_reap_group(pid_t pgid)
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
static void gs_plant_unkillable(void)
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

static void gs_cell_process(const struct gs_cell *c)
{
	setpgid(0, 0);
	gs_die_with_parent(gs_runner_pid);
	gs_env_forget();
	/* let the cell's own children read this process's memory */
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (gs_inject == GS_INJECT_KMSG)
		gs_plant_kmsg();
	gs_lockdrop_arm();
	if (gs_inject == GS_INJECT_UNKILLABLE)
		gs_plant_unkillable();
	c->run(c);
	gs_pass();
}

/*
 * Every pin a cell took is dropped once its processes are gone: checked
 * after every cell, whatever its caller and backing. The counters are
 * machine-wide: another pinner's pins may take a while to go, so the
 * runner gives the balance longer than a cell does.
 */
#define GS_CELL_PIN_SETTLE_MS	10000

static void gs_check_cell_pins(bool known, long long pins0)
{
	long long left;

	if (!known || gs_res->code == KSFT_FAIL)
		return;
	left = gs_pin_residue(pins0, GS_CELL_PIN_SETTLE_MS, &known);
	if (left > 0) {
		snprintf(gs_res->msg, sizeof(gs_res->msg),
			 "pin left behind after the cell: %lld more pins acquired than released (nr_foll_pin_*)",
			 left);
		gs_res->code = KSFT_FAIL;
	}
}

/* A failure (a hang first of all) names what the kernel logged meanwhile. */
static void gs_prefix_kmsg(int bad, const char *first)
{
	bool then = gs_res->code == KSFT_FAIL;
	char old[sizeof(gs_res->msg)];

	snprintf(old, sizeof(old), "%s", gs_res->msg);
	snprintf(gs_res->msg, sizeof(gs_res->msg),
		 "kernel log: %d bad report(s), first: %.160s%s%.280s", bad, first,
		 then ? "; then: " : "", then ? old : "");
	gs_res->code = KSFT_FAIL;
}

static int gs_run_cell(const struct gs_cell *c, char *why, size_t len)
{
	unsigned long taint0, taint1;
	long long pins0 = 0;
	bool pins_known;
	struct pollfd pfd;
	int kfd, ret, bad;
	char first[256];
	pid_t pid;

	memset(gs_res, 0, sizeof(*gs_res));
	gs_res->code = -1;
	taint0 = gs_read_taint();
	kfd = gs_kmsg_open();
	pins_known = gs_pin_balance(&pins0);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!pid)
		gs_cell_process(c);
	setpgid(pid, pid);
	__atomic_store_n(&gs_cell_pgid, pid, __ATOMIC_RELEASE);

	pfd.fd = syscall(SYS_pidfd_open, pid, 0);
	pfd.events = POLLIN;
	do {
		ret = poll(&pfd, 1, gs_cell_timeout * 1000);
	} while (ret < 0 && errno == EINTR);
	close(pfd.fd);
	if (ret == 0) {
		gs_report_stuck(pid);
		snprintf(gs_res->msg, sizeof(gs_res->msg),
			 "stuck for %d s: %s", gs_cell_timeout, gs_res->phase);
		gs_res->code = KSFT_FAIL;
	} else if (gs_res->code < 0) {
		int st = 0;

		waitpid(pid, &st, 0);
		snprintf(gs_res->msg, sizeof(gs_res->msg),
			 "cell process died without a verdict (%s %d) in: %s",
			 WIFSIGNALED(st) ? "signal" : "exit",
			 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st),
			 gs_res->phase);
		gs_res->code = KSFT_FAIL;
	}
	if (!gs_reap_group(pid)) {
		/* every later cell would wait on it too: stop the program */
		ksft_print_msg("tasks of the cell survive SIGKILL for %d ms:\n",
			       GS_UNKILLABLE_MS);
		gs_print_group(pid);
		snprintf(why, len, "%s", gs_res->msg);
		snprintf(gs_res->msg, sizeof(gs_res->msg),
			 "tasks of the cell survive SIGKILL for %d ms%s%.*s",
			 GS_UNKILLABLE_MS, why[0] ? " after: " : "",
			 (int)(sizeof(gs_res->msg) - 64), why);
		gs_res->code = KSFT_FAIL;
		gs_bail = true;
	}
	__atomic_store_n(&gs_cell_pgid, 0, __ATOMIC_RELEASE);

	gs_check_cell_pins(pins_known, pins0);
	bad = gs_kmsg_scan(kfd, c->kmsg_allow, first, sizeof(first));
	if (kfd >= 0)
		close(kfd);
	taint1 = gs_read_taint();
	if (gs_inject == GS_INJECT_TAINT)
		taint1 |= 1UL << 6;	/* as if TAINT_USER appeared */
	if (bad)
		gs_prefix_kmsg(bad, first);
	if ((taint1 & ~taint0) && gs_res->code != KSFT_FAIL) {
		snprintf(gs_res->msg, sizeof(gs_res->msg),
			 "kernel taint changed %#lx -> %#lx", taint0, taint1);
		gs_res->code = KSFT_FAIL;
	}
	snprintf(why, len, "%s", gs_res->msg);
	return gs_res->code;
}

/*
 * One KTAP result line; written here rather than with
 * ksft_test_result_code(), which older trees' kselftest.h lacks.
 */
static void gs_result_line(int code, const char *name, const char *why)
{
	static const char * const directive[] = {
		[KSFT_XFAIL] = "XFAIL", [KSFT_XPASS] = "XPASS",
		[KSFT_SKIP] = "SKIP",
	};

	switch (code) {
	case KSFT_PASS:
		ksft_inc_pass_cnt();
		break;
	case KSFT_XFAIL:
		ksft_inc_xfail_cnt();
		break;
	case KSFT_XPASS:
		ksft_inc_xpass_cnt();
		break;
	case KSFT_SKIP:
		ksft_inc_xskip_cnt();
		break;
	default:
		code = KSFT_FAIL;
		ksft_inc_fail_cnt();
	}
	printf("%s %u %s", code == KSFT_FAIL ? "not ok" : "ok",
	       ksft_test_num(), name);
	if (code != KSFT_PASS && code != KSFT_FAIL)
		printf(" # %s %s", directive[code], why);
	printf("\n");
}

static void gs_report(const struct gs_cell *c, int code, const char *why)
{
	if (gs_res->note[0])
		ksft_print_msg("%s: %s\n", c->name, gs_res->note);
	if (code == KSFT_FAIL)
		ksft_print_msg("%s: FAIL: %s\n", c->name, why);
	gs_result_line(code, c->name, why);
}

/*
 * SIGINT, SIGTERM or SIGHUP of the runner: end the running cell's
 * process group first, so that nothing of the cell uses the swap device
 * or the huge pages given back below, then die of the same signal.
 */
static void gs_on_signal(int sig)
{
	pid_t pgid = __atomic_load_n(&gs_cell_pgid, __ATOMIC_ACQUIRE);
	struct timespec t0;

	if (pgid > 0) {
		kill(-pgid, SIGKILL);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		while (gs_ms_since(&t0) < GS_REAP_MS) {
			while (waitpid(-1, NULL, WNOHANG | __WALL) > 0)
				;
			if (kill(-pgid, 0) && errno == ESRCH)
				break;
			usleep(1000);
		}
	}
	gs_restore_all();
	gs_env_end();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void gs_at_exit(void)
{
	if (getpid() == gs_runner_pid) {
		gs_restore_all();
		gs_env_end();
	}
}

static void gs_runner_setup(void)
{
	struct sigaction sa = { .sa_handler = gs_on_signal };

	gs_runner_pid = getpid();
	gs_env_start();
	atexit(gs_at_exit);
	/* one handler at a time: it gives the settings back */
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaddset(&sa.sa_mask, SIGHUP);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	gs_res = mmap(NULL, sizeof(*gs_res), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (gs_res == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	gs_res->code = -1;
}

/* Why a cell cannot run here, or NULL. */
static const char *gs_unmet(const struct gs_cell *c, char *why, size_t len)
{
	if ((c->needs & GS_NEED_UFFD) && !gs_uffd_usable(why, len))
		return why;
	if ((c->needs & GS_NEED_SWAP) && !gs_swap_ready(why, len))
		return why;
	if ((c->needs & GS_NEED_HUGETLB) &&
	    !gs_hugetlb_ready(c->npages, why, len))
		return why;
	if ((c->needs & GS_NEED_THP) && !gs_thp_ready(why, len))
		return why;
	if ((c->needs & GS_NEED_NUMA) && !gs_numa_ready(why, len))
		return why;
	return NULL;
}

int gs_run(void)
{
	char why[512];
	int i;

	if (gs_nfilters && !gs_ncells) {
		fprintf(stderr, "%s: no cell matches -f; -l lists the cells\n",
			gs_prog);
		return 2;
	}
	if (gs_list_only) {
		for (i = 0; i < gs_ncells; i++)
			printf("%s\n", gs_cells[i].name);
		return 0;
	}
	ksft_print_header();
	if (gs_inject != GS_INJECT_NONE)
		ksft_print_msg("negative control '%s': the checker must fail\n",
			       gs_inject_names[gs_inject]);
	ksft_set_plan(gs_ncells);
	if (geteuid()) {
		for (i = 0; i < gs_ncells; i++)
			gs_result_line(KSFT_SKIP, gs_cells[i].name,
				       "needs root (kernel-mode userfaultfd, zram swap, kernel log)");
		ksft_print_cnts();
		return KSFT_SKIP;
	}
	gs_runner_setup();
	for (i = 0; i < gs_ncells; i++) {
		const struct gs_cell *c = &gs_cells[i];
		int code;

		if (gs_unmet(c, why, sizeof(why))) {
			gs_res->note[0] = 0;
			gs_report(c, KSFT_SKIP, why);
			continue;
		}
		code = gs_run_cell(c, why, sizeof(why));
		gs_report(c, code, why);
		if (gs_bail) {
			gs_restore_all();
			printf("Bail out! %s: %s\n", c->name,
			       "a task of it cannot be killed, later cells would wait on it");
			ksft_print_cnts();
			return KSFT_FAIL;
		}
	}
	gs_restore_all();
	if (!ksft_get_fail_cnt() && !ksft_get_xpass_cnt() &&
	    ksft_get_xskip_cnt() == gs_ncells) {
		ksft_print_cnts();
		return KSFT_SKIP;
	}
	ksft_finished();
	return KSFT_FAIL;	/* older kselftest.h: not marked noreturn */
}
