// SPDX-License-Identifier: GPL-2.0
/*
 * check-kmsg [-a ALLOW] FILE: feed FILE, kernel log text one record a
 * line, to the health check's report reader (gup_stall_kmsg.c) and
 * print "N bad: FIRST HEADER". make check runs it on the canned logs of
 * scripts/kmsg/ to prove the reader both ignores an expected report's
 * frames and still catches every kind of bad report.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gup_stall_kmsg.h"

int main(int argc, char **argv)
{
	struct gs_kmsg_reader r;
	const char *allow = NULL;
	char line[2048];
	FILE *f;
	int opt;

	while ((opt = getopt(argc, argv, "a:")) != -1) {
		if (opt != 'a')
			goto usage;
		allow = optarg;
	}
	if (optind != argc - 1)
		goto usage;
	f = fopen(argv[optind], "r");
	if (!f) {
		perror(argv[optind]);
		return 2;
	}
	gs_kmsg_start(&r, allow);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		gs_kmsg_line(&r, line);
	}
	fclose(f);
	printf("%d bad: %s\n", r.bad, r.first);
	return r.bad ? 1 : 0;
usage:
	fprintf(stderr, "usage: %s [-a ALLOW] FILE\n", argv[0]);
	return 2;
}
