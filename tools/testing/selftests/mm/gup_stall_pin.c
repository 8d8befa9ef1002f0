// SPDX-License-Identifier: GPL-2.0
/*
 * Pin-leak detection that works on every backing and without THP: the
 * kernel counts every FOLL_PIN reference it takes and drops, per page
 * (nr_foll_pin_acquired and nr_foll_pin_released in /proc/vmstat). A
 * cell's pins are all dropped when the difference of the two is back
 * where it was before the cell.
 *
 * The counters are machine-wide and folded from per-CPU deltas lazily:
 * each reading first writes /proc/sys/vm/stat_refresh (root), and the
 * balance is polled until it settles, so that another pinner on the
 * machine, or an io_uring ring whose teardown runs in a worker after
 * the cell, is not taken for a leak. A leak never settles.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gup_stall.h"

/* How long the pin balance may take to come back inside a cell. */
#define GS_PIN_SETTLE_MS	3000

/* Fold the per-CPU counters; without that (not root) they are useless. */
static bool fold_vmstat(void)
{
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY);

	if (fd < 0)
		return false;
	/* the fold is done even when EINVAL reports a negative counter */
	if (write(fd, "1", 1) < 0 && errno != EINVAL) {
		close(fd);
		return false;
	}
	close(fd);
	return true;
}

/* acquired - released pins machine-wide; false when the kernel lacks them */
bool gs_pin_balance(long long *balance)
{
	long long acq = -1, rel = -1, v;
	char name[64];
	FILE *f;

	if (!fold_vmstat())
		return false;
	f = fopen("/proc/vmstat", "r");
	if (!f)
		return false;
	while (fscanf(f, "%63s %lld", name, &v) == 2) {
		if (!strcmp(name, "nr_foll_pin_acquired"))
			acq = v;
		else if (!strcmp(name, "nr_foll_pin_released"))
			rel = v;
	}
	fclose(f);
	if (acq < 0 || rel < 0)
		return false;
	*balance = acq - rel;
	return true;
}

/*
 * Pins still held beyond the balance "before", after waiting up to ms
 * for it to come back; 0 when it did (or when the kernel has no pin
 * counters: *known is then false).
 */
long long gs_pin_residue(long long before, int ms, bool *known)
{
	struct timespec t0;
	long long now = before;

	*known = gs_pin_balance(&now);
	if (!*known)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* fewer pins than before: another pinner let go, not a leak */
	while (now > before && gs_ms_since(&t0) < ms) {
		usleep(20000);
		gs_pin_balance(&now);
	}
	return now > before ? now - before : 0;
}

/* In a cell: fail when pins taken since "before" are still held. */
void gs_check_pins(long long before, const char *what)
{
	bool known;
	long long left = gs_pin_residue(before, GS_PIN_SETTLE_MS, &known);

	if (!known)
		return;
	if (left > 0)
		gs_fail("pin left behind %s: %lld more pins %s for %d ms",
			what, left, "acquired than released (nr_foll_pin_*)",
			GS_PIN_SETTLE_MS);
}
