// SPDX-License-Identifier: GPL-2.0
/*
 * gup_stall: reporting from inside a cell (pass, fail, skip, XFAIL,
 * notes, phases) and the checkers of data, return values and errnos.
 * The bottom layer of the library: it calls nothing else of it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../kselftest.h"
#include "gup_stall.h"
#include "gup_stall_int.h"

enum gs_inject gs_inject;
struct gs_result *gs_res;

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

/* The cell's result with its reason; the process ends here. */
static GS_NORETURN void gs_vend(int code, const char *fmt, va_list ap)
{
	gs_vset(gs_res->msg, sizeof(gs_res->msg), fmt, ap);
	gs_end(code);
}

void gs_pass(void)
{
	gs_end(KSFT_PASS);
}

void gs_report(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	gs_vend(code, fmt, ap);
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
