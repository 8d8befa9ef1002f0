// SPDX-License-Identifier: GPL-2.0
/*
 * gup_stall: read the kernel log as reports.
 *
 * A report ("splat") starts with a header at the start of a line, e.g.
 * "WARNING: possible circular locking dependency detected" or
 * "FAULT_FLAG_ALLOW_RETRY missing 881", and goes on with indented or
 * framework lines: "CPU: 1 PID: ..", "Call Trace:", " ? sym+0x1/0x2",
 * register dumps, lockdep's lock lists. Matching words anywhere in a line
 * (the reader's first version) takes a frame such as
 * " ? lockdep_hardirqs_on_prepare+0xda/0x1a0" inside an expected
 * dump_stack() for a lockdep report; here only a header decides, and
 * each bad report is counted once.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "../kselftest.h"
#include "gup_stall_kmsg.h"

/*
 * Headers of reports that mean the kernel is unwell. Lockdep's reports
 * all start with "WARNING:" (circular or recursive locking, bad unlock
 * balance, inconsistent lock state, suspicious RCU usage), hung tasks
 * with "INFO: task", RCU stalls with "INFO: rcu_" behind the "rcu: "
 * prefix, soft lockups with "BUG:" behind "watchdog: ".
 */
static const char * const gs_kmsg_headers[] = {
	"WARNING:", "BUG:", "BUG ", "kernel BUG at", "Oops", "general protection fault",
	"INFO: task ", "INFO: rcu_", "Watchdog detected hard LOCKUP",
	"UBSAN:", "Kernel panic", "FAULT_FLAG_ALLOW_RETRY missing",
	"GUP no longer grows the stack", "Bad page", "page dumped because",
};

static bool gs_starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static bool gs_is_bad_header(const char *s)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(gs_kmsg_headers); i++)
		if (gs_starts(s, gs_kmsg_headers[i]))
			return true;
	return false;
}

/*
 * The header text of a line: the line itself, or what follows a
 * subsystem prefix ("rcu: ", "watchdog: ", "NMI watchdog: ").
 */
static const char *gs_header_text(const char *line)
{
	const char *p = line;

	if (gs_is_bad_header(line))
		return line;
	while (*p && (isalnum((unsigned char)*p) || *p == '_' || *p == ' ') &&
	       p - line < 24 && *p != ':')
		p++;
	if (p > line && p[0] == ':' && p[1] == ' ' && gs_is_bad_header(p + 2))
		return p + 2;
	return NULL;
}

void gs_kmsg_start(struct gs_kmsg_reader *r, const char *allow)
{
	memset(r, 0, sizeof(*r));
	r->allow = allow;
}

/*
 * A bad header at column 0 starts a bad report, unless it is the header
 * this cell expects; the report lasts until its "---[ end" line or the
 * next expected header, and a bad header inside it (the "Oops:" line
 * after "BUG: unable to handle page fault") is the same report. Other
 * lines (frames, registers, lock lists, unrelated messages) never start
 * one, so a symbol in a frame never counts.
 */
void gs_kmsg_line(struct gs_kmsg_reader *r, const char *line)
{
	const char *h;

	if (isspace((unsigned char)line[0]))
		return;
	if (gs_starts(line, "---[ end ")) {
		r->in_bad = false;
		return;
	}
	h = gs_header_text(line);
	if (!h)
		return;
	if (r->allow && gs_starts(h, r->allow)) {
		r->in_bad = false;
		return;
	}
	if (r->in_bad)
		return;
	r->in_bad = true;
	if (!r->bad++)
		snprintf(r->first, sizeof(r->first), "%.200s", line);
}

/*
 * The next record of /dev/kmsg opened non-blocking: its text without
 * the "PRIO,SEQ,TIME,FLAGS;" prefix and newline, in rec; *level gets
 * the record's log level. NULL at the end.
 */
static char *gs_kmsg_next(int fd, char *rec, size_t len, int *level)
{
	char *msg, *nl;
	ssize_t n;

	for (;;) {
		n = read(fd, rec, len - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* records were overwritten */
		if (n <= 0)
			return NULL;
		rec[n] = 0;
		*level = strtol(rec, NULL, 10) & 7;
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		nl = strchr(msg, '\n');
		if (nl)
			*nl = 0;
		return msg;
	}
}

/*
 * The last error (KERN_ERR or worse) that the kernel logged since boot
 * from a subsystem whose messages start with prefix ("kvm" matches
 * "kvm: " and "kvm_amd: "): why a module did not come up, for a skip
 * reason. Returns false when there is none or the log is unreadable.
 */
bool gs_kmsg_last_error(const char *prefix, char *out, size_t len)
{
	char rec[2048], *msg;
	bool found = false;
	int fd, level;

	fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return false;
	while ((msg = gs_kmsg_next(fd, rec, sizeof(rec), &level))) {
		if (level > 3 || !gs_starts(msg, prefix))
			continue;
		snprintf(out, len, "%.200s", msg);
		found = true;
	}
	close(fd);
	return found;
}

/* Kernel health: taint bits and new kernel log lines */

unsigned long gs_read_taint(void)
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

int gs_kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

int gs_kmsg_scan(int fd, const char *allow, char *first, size_t len)
{
	struct gs_kmsg_reader r;
	char rec[2048], *msg;
	int level;

	if (fd < 0)
		return 0;
	gs_kmsg_start(&r, allow);
	while ((msg = gs_kmsg_next(fd, rec, sizeof(rec), &level)))
		gs_kmsg_line(&r, msg);
	snprintf(first, len, "%s", r.first);
	return r.bad;
}

void gs_plant_kmsg(void)
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
