// SPDX-License-Identifier: GPL-2.0
/*
 * vmtest-exit STATUS: end the test VM of scripts/vmtest.sh with STATUS
 * through QEMU's isa-debug-exit device at I/O port 0xf4 (QEMU exits with
 * (STATUS << 1) | 1).
 *
 * A kernel without CONFIG_DEVPORT (Debian's cloud flavour) has no
 * /dev/port to write the port through, so the byte is written with outb
 * after ioperm(), which only needs CAP_SYS_RAWIO. Built static: the
 * initramfs has no C library.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>

#define DEBUG_EXIT_PORT 0xf4

int main(int argc, char **argv)
{
	char *end;
	long v;

	if (argc != 2) {
		fprintf(stderr, "usage: %s STATUS (0-255)\n", argv[0]);
		return 2;
	}
	v = strtol(argv[1], &end, 10);
	if (*argv[1] == '\0' || *end != '\0' || v < 0 || v > 255) {
		fprintf(stderr, "%s: bad status '%s' (0-255)\n", argv[0], argv[1]);
		return 2;
	}
	if (ioperm(DEBUG_EXIT_PORT, 1, 1)) {
		fprintf(stderr, "%s: ioperm(0x%x): %s\n", argv[0],
			DEBUG_EXIT_PORT, strerror(errno));
		return 1;
	}
	outb((unsigned char)v, DEBUG_EXIT_PORT);
	/* Still here: no isa-debug-exit device at that port. */
	fprintf(stderr, "%s: port 0x%x did not end the VM\n", argv[0],
		DEBUG_EXIT_PORT);
	return 1;
}
