/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gup_stall: the kernel log reader of the health check. It reads the log
 * as reports, not as lines: only a report's header line says what the
 * report is, and the lines after it (the stack, registers, lock lists)
 * belong to it whatever symbols they name.
 */
#ifndef GUP_STALL_KMSG_H
#define GUP_STALL_KMSG_H

#include <stdbool.h>
#include <stddef.h>

struct gs_kmsg_reader {
	const char *allow;	/* a header that is expected here, or NULL */
	int bad;		/* reports that mean the kernel is unwell */
	bool in_bad;		/* the current report is one of them */
	char first[256];	/* the header of the first bad report */
};

void gs_kmsg_start(struct gs_kmsg_reader *r, const char *allow);
/* One line of kernel log text, without its newline and record prefix. */
void gs_kmsg_line(struct gs_kmsg_reader *r, const char *line);
/* The last error logged by a subsystem (prefix "kvm"), for a skip reason. */
bool gs_kmsg_last_error(const char *prefix, char *out, size_t len);

/* The health check around each cell */
unsigned long gs_read_taint(void);
/* /dev/kmsg, positioned at its end: what comes is the cell's. */
int gs_kmsg_open(void);
/*
 * Read what the kernel logged since gs_kmsg_open() as reports; count the
 * bad ones and keep the first header in first[].
 */
int gs_kmsg_scan(int fd, const char *allow, char *first, size_t len);
/* Negative control: a bad line planted in the kernel log. */
void gs_plant_kmsg(void);

#endif /* GUP_STALL_KMSG_H */
