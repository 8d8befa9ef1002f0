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
#include "gup_stall_int.h"
#include "gup_stall_kmsg.h"

static struct gs_cell gs_cells[GS_MAX_CELLS];
static int gs_ncells;
static pid_t gs_runner_pid;
/* the process group of the cell that runs now, for the signal handler */
static pid_t gs_cell_pgid;
/* a task of a cell cannot be killed: no later cell can be trusted */
static bool gs_bail;
static const char *gs_filters[16];
static int gs_nfilters;
static bool gs_list_only;
static bool gs_verbose;
static int gs_cell_timeout = 30;
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
	[GS_INJECT_UNHELD] = "unheld",
	[GS_INJECT_UNRELEASED] = "unreleased",
	[GS_INJECT_UNSIGNALLED] = "unsignalled",
};

static void print_usage(int code)
{
	FILE *f = code ? stderr : stdout;
	int i;

	fprintf(f, "usage: %s [-l [-v]] [-f PATTERN]... [-t SECONDS] [-d DIR] [-n CONTROL]\n"
		"  -l          list the cells and exit\n"
		"  -v          with -l: each cell's purpose after its name\n"
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
	gs_set_test_dir(arg);
}

void gs_init(int argc, char **argv, const char *usage_extra)
{
	int opt;

	gs_prog = argv[0];
	gs_usage_extra = usage_extra;
	opterr = 0;
	while ((opt = getopt(argc, argv, ":lvf:t:d:n:h")) != -1) {
		switch (opt) {
		case 'l':
			gs_list_only = true;
			break;
		case 'v':
			gs_verbose = true;
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

/* Wait for the cell process, at most the watchdog's time. */
static void gs_wait_cell(pid_t pid)
{
	struct pollfd pfd;
	int ret, st = 0;

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
		waitpid(pid, &st, 0);
		snprintf(gs_res->msg, sizeof(gs_res->msg),
			 "cell process died without a verdict (%s %d) in: %s",
			 WIFSIGNALED(st) ? "signal" : "exit",
			 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st),
			 gs_res->phase);
		gs_res->code = KSFT_FAIL;
	}
}

static int gs_run_cell(const struct gs_cell *c, char *why, size_t len)
{
	unsigned long taint0, taint1;
	long long pins0 = 0;
	bool pins_known;
	char first[256];
	int kfd, bad;
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

	gs_wait_cell(pid);
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

static void gs_report_cell(const struct gs_cell *c, int code, const char *why)
{
	if (gs_res->note[0])
		ksft_print_msg("%s: %s\n", c->name, gs_res->note);
	if (code == KSFT_FAIL)
		ksft_print_msg("%s: FAIL: %s\n", c->name, why);
	gs_result_line(code, c->name, why);
}

/*
 * What a cell may need of the machine, in the order the runner checks
 * it: ready() says whether the need is met, making it so where the
 * library can (a zram swap device, more huge pages), or why not;
 * restore() gives back what ready() set up, at the end of the run and
 * on a signal (gup_stall_env.c repairs it after a SIGKILL). A program's
 * own needs come first, so that a cell skips before any setting is
 * changed for it.
 */
struct gs_need {
	unsigned int need;
	bool (*ready)(const struct gs_cell *c, char *why, size_t len);
	const char *(*unmet)(void);	/* a program's own need */
	void (*restore)(void);
};

static bool gs_ready_uffd(const struct gs_cell *c, char *why, size_t len)
{
	return gs_uffd_usable(why, len);
}

static bool gs_ready_swap(const struct gs_cell *c, char *why, size_t len)
{
	return gs_swap_ready(why, len);
}

static bool gs_ready_hugetlb(const struct gs_cell *c, char *why, size_t len)
{
	return gs_hugetlb_ready(c->npages, why, len);
}

static bool gs_ready_thp(const struct gs_cell *c, char *why, size_t len)
{
	return gs_thp_ready(why, len);
}

static bool gs_ready_numa(const struct gs_cell *c, char *why, size_t len)
{
	return gs_numa_ready(why, len);
}

#define GS_LIB_NEEDS	5
static struct gs_need gs_needs[GS_LIB_NEEDS + 4] = {
	{ .need = GS_NEED_UFFD, .ready = gs_ready_uffd },
	{ .need = GS_NEED_SWAP, .ready = gs_ready_swap,
	  .restore = gs_swap_restore },
	{ .need = GS_NEED_HUGETLB, .ready = gs_ready_hugetlb,
	  .restore = gs_hugetlb_restore },
	{ .need = GS_NEED_THP, .ready = gs_ready_thp },
	{ .need = GS_NEED_NUMA, .ready = gs_ready_numa },
};

static int gs_nneeds = GS_LIB_NEEDS;

void gs_program_need(unsigned int need, const char *(*unmet)(void))
{
	if (gs_nneeds == (int)ARRAY_SIZE(gs_needs))
		ksft_exit_fail_msg("more than %d program needs\n",
				   gs_nneeds - GS_LIB_NEEDS);
	memmove(&gs_needs[1], &gs_needs[0], gs_nneeds * sizeof(gs_needs[0]));
	gs_needs[0] = (struct gs_need){ .need = need, .unmet = unmet };
	gs_nneeds++;
}

/* Why a cell cannot run here, or NULL. */
static const char *gs_unmet(const struct gs_cell *c, char *why, size_t len)
{
	const struct gs_need *n;
	const char *unmet;

	for (n = gs_needs; n < gs_needs + gs_nneeds; n++) {
		if (!(c->needs & n->need))
			continue;
		unmet = n->unmet ? n->unmet() : NULL;
		if (unmet)
			snprintf(why, len, "%s", unmet);
		if (unmet || (n->ready && !n->ready(c, why, len)))
			return why;
	}
	return NULL;
}

/* Give back every setting the needs made, under the settings lock. */
static void gs_restore_needs(void)
{
	bool locked = gs_env_lock();
	int i;

	/* without the lock, still give back: a stuck run must not keep them */
	for (i = 0; i < gs_nneeds; i++)
		if (gs_needs[i].restore)
			gs_needs[i].restore();
	if (locked)
		gs_env_unlock();
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
	gs_restore_needs();
	gs_env_end();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void gs_at_exit(void)
{
	if (getpid() == gs_runner_pid) {
		gs_restore_needs();
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
			if (gs_verbose && gs_cells[i].purpose)
				printf("%s: %s\n", gs_cells[i].name,
				       gs_cells[i].purpose);
			else
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
			gs_report_cell(c, KSFT_SKIP, why);
			continue;
		}
		code = gs_run_cell(c, why, sizeof(why));
		gs_report_cell(c, code, why);
		if (gs_bail) {
			gs_restore_needs();
			printf("Bail out! %s: %s\n", c->name,
			       "a task of it cannot be killed, later cells would wait on it");
			ksft_print_cnts();
			return KSFT_FAIL;
		}
	}
	gs_restore_needs();
	if (!ksft_get_fail_cnt() && !ksft_get_xpass_cnt() &&
	    ksft_get_xskip_cnt() == gs_ncells) {
		ksft_print_cnts();
		return KSFT_SKIP;
	}
	ksft_finished();
	return KSFT_FAIL;	/* older kselftest.h: not marked noreturn */
}
