// SPDX-License-Identifier: GPL-2.0
/*
 * Where kernels legitimately differ, a cell takes the one outcome it
 * accepts from here, and from nowhere else: the kernel matrix
 * (gup_stall_kernels.txt) may give the kernel under test another
 * behaviour than the newest upstream one, in a line
 *
 *   KERNEL | expect | KEY | VALUE | WHY
 *
 * whose WHY names the upstream commit and the release that changed it.
 * Without such a line the cell expects the newest behaviour, which the
 * program names as the default. The kernel under test is named by the
 * environment (GS_KERNEL, as scripts/vmtest.sh sets it; "host" if
 * unset), the matrix is found next to the program or in GS_MATRIX.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gup_stall.h"

#define GS_MAX_EXPECT	32

struct gs_expect_line {
	char key[48];
	char value[32];
	char why[400];
};

static struct gs_expect_line gs_expects[GS_MAX_EXPECT];
static int gs_nr_expects;
static const char *gs_kernel = "host";

/* Copy one " | "-separated field of s into buf; return the rest or NULL. */
static char *field(char *s, char *buf, size_t len)
{
	char *bar = strstr(s, " | ");
	size_t n = bar ? (size_t)(bar - s) : strcspn(s, "\n");

	snprintf(buf, len, "%.*s", (int)n, s);
	return bar ? bar + 3 : NULL;
}

static void matrix_path(char *path, size_t len)
{
	const char *env = getenv("GS_MATRIX");
	char exe[PATH_MAX];
	ssize_t n;

	if (env) {
		snprintf(path, len, "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	if (strrchr(exe, '/'))
		*strrchr(exe, '/') = '\0';
	snprintf(path, len, "%s/gup_stall_kernels.txt", n > 0 ? exe : ".");
}

static void add_line(char *rest)
{
	struct gs_expect_line *e = &gs_expects[gs_nr_expects];

	rest = field(rest, e->key, sizeof(e->key));
	if (!rest)
		return;
	rest = field(rest, e->value, sizeof(e->value));
	if (!rest)
		return;
	field(rest, e->why, sizeof(e->why));
	if (gs_nr_expects < GS_MAX_EXPECT - 1)
		gs_nr_expects++;
}

/*
 * Whether the matrix describes kernel k (a "# kernel k ..." line); the
 * kernel it inherits lines from ("inherits P" on that line) goes to
 * parent, "" when none.
 */
static bool described(FILE *f, const char *k, char *parent, size_t len)
{
	char line[512], head[80];
	const char *inh;

	snprintf(head, sizeof(head), "# kernel %s ", k);
	parent[0] = '\0';
	rewind(f);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, head, strlen(head)))
			continue;
		inh = strstr(line, "inherits ");
		if (inh)
			snprintf(parent, len, "%.*s", (int)strcspn(inh + 9, "\n ;,"),
				 inh + 9);
		return true;
	}
	return false;
}

/* Add the "k | expect | KEY | VALUE | WHY" lines of the matrix. */
static void read_expects(FILE *f, const char *k)
{
	char line[512], word[64];
	char *rest;

	rewind(f);
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#')
			continue;
		rest = field(line, word, sizeof(word));
		if (!rest || strcmp(word, k))
			continue;
		rest = field(rest, word, sizeof(word));
		if (rest && !strcmp(word, "expect"))
			add_line(rest);
	}
}

/*
 * Read the matrix lines of the kernel under test, then those of the
 * kernel it inherits from (a flavour of the same release), so that its
 * own lines win; exit 2 on bad input.
 */
void gs_expect_init(const char *prog)
{
	char path[PATH_MAX + 32], parent[64], grand[64];
	FILE *f;

	if (getenv("GS_KERNEL") && *getenv("GS_KERNEL"))
		gs_kernel = getenv("GS_KERNEL");
	matrix_path(path, sizeof(path));
	f = fopen(path, "r");
	if (!f) {
		if (!strcmp(gs_kernel, "host") && !getenv("GS_MATRIX"))
			return;	/* the newest behaviour everywhere */
		fprintf(stderr, "%s: GS_KERNEL=%s needs the kernel matrix: %s: %s\n",
			prog, gs_kernel, path, strerror(errno));
		exit(2);
	}
	if (!described(f, gs_kernel, parent, sizeof(parent))) {
		fprintf(stderr, "%s: GS_KERNEL=%s is not described in %s (a '# kernel %s' line)\n",
			prog, gs_kernel, path, gs_kernel);
		exit(2);
	}
	read_expects(f, gs_kernel);
	if (parent[0] && strcmp(parent, gs_kernel) &&
	    described(f, parent, grand, sizeof(grand)))
		read_expects(f, parent);
	fclose(f);
}

const char *gs_expect(const char *key, const char *newest, const char **why)
{
	int i;

	for (i = 0; i < gs_nr_expects; i++) {
		if (!strcmp(gs_expects[i].key, key)) {
			if (why)
				*why = gs_expects[i].why;
			return gs_expects[i].value;
		}
	}
	if (why)
		*why = "newest upstream";
	return newest;
}

bool gs_expect_is(const char *key, const char *newest, const char *value)
{
	return !strcmp(gs_expect(key, newest, NULL), value);
}

const char *gs_kernel_name(void)
{
	return gs_kernel;
}
