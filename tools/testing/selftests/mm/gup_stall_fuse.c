// SPDX-License-Identifier: GPL-2.0
/*
 * gup_stall FUSE files: a small FUSE filesystem served by a thread of the
 * process that mounts it, whose reads fail, succeed or wait on demand.
 *
 * Its files are rows of gs_fuse_files[]: "eio" answers every READ with
 * EIO, "data" with the pattern of GS_FUSE_SEED, "eio-tail" with that
 * pattern for its first two pages and with EIO for a READ that reaches
 * further. It is mounted in a private mount namespace of the process, on
 * a tmpfs of that namespace, so mount and mount point vanish with the
 * process even when it is killed.
 *
 * Built with libfuse3 only (HAVE_LIBFUSE3); without it gs_fuse_start()
 * skips the cell.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#ifdef HAVE_LIBFUSE3
#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>
#endif

#include "../kselftest.h"
#include "gup_stall.h"

/* name, pages readable from the start (-1: all) */
const struct gs_fuse_file gs_fuse_files[] = {
	{ "eio", 0 },
	{ "data", -1 },
	{ "eio-tail", 2 },
};

const int gs_nr_fuse_files = ARRAY_SIZE(gs_fuse_files);

/* The file of a cell target named "fuse-NAME", or NULL. */
const struct gs_fuse_file *gs_fuse_file(const char *target)
{
	int i;

	if (!target || strncmp(target, "fuse-", 5))
		return NULL;
	for (i = 0; i < gs_nr_fuse_files; i++)
		if (!strcmp(gs_fuse_files[i].name, target + 5))
			return &gs_fuse_files[i];
	return NULL;
}

size_t gs_fuse_len(void)
{
	return GS_FUSE_PAGES * getpagesize();
}

void gs_fuse_path(const struct gs_fuse_file *f, char *path, size_t len)
{
	snprintf(path, len, "%s/%s", GS_FUSE_DIR, f->name);
}

/* Leave the runner's mount namespace: what is mounted now dies with us. */
void gs_private_mounts(void)
{
	if (unshare(CLONE_NEWNS))
		gs_fail("unshare(CLONE_NEWNS): %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		gs_fail("making / private: %s", strerror(errno));
}

/* Is a FUSE filesystem mounted on mnt according to the mounts file? */
bool gs_fuse_mounted(const char *mounts, const char *mnt)
{
	char line[512], dev[128], dir[256], type[64];
	bool found = false;
	FILE *f;

	f = fopen(mounts, "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%127s %255s %63s", dev, dir, type) == 3 &&
		    !strcmp(dir, mnt) && strstr(type, "fuse"))
			found = true;
	fclose(f);
	return found;
}

#ifdef HAVE_LIBFUSE3

struct gs_fuse {
	struct fuse_session *se;
	pthread_t thread;
	unsigned long *reads;	/* READ requests, in shared memory */
	bool hold;		/* keep the first READ of "data" unanswered */
	fuse_req_t held;	/* that READ, once it came */
	off_t held_off;
	size_t held_size;
	char *data;
};

static struct gs_fuse *gs_the_fs;

/* inode numbers: 1 is the root, the files follow in gs_fuse_files[] order */
static const struct gs_fuse_file *gs_fuse_ino_file(fuse_ino_t ino)
{
	if (ino < 2 || ino >= 2 + (fuse_ino_t)gs_nr_fuse_files)
		return NULL;
	return &gs_fuse_files[ino - 2];
}

static void gs_fuse_stat(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = gs_fuse_len();
	}
}

static void gs_fuse_lookup(fuse_req_t req, fuse_ino_t parent,
			   const char *name)
{
	struct fuse_entry_param e = { 0 };
	int i;

	for (i = 0; parent == FUSE_ROOT_ID && i < gs_nr_fuse_files; i++)
		if (!strcmp(name, gs_fuse_files[i].name))
			e.ino = 2 + i;
	if (!e.ino) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	e.attr_timeout = 3600;
	e.entry_timeout = 3600;
	gs_fuse_stat(e.ino, &e.attr);
	fuse_reply_entry(req, &e);
}

static void gs_fuse_getattr(fuse_req_t req, fuse_ino_t ino,
			    struct fuse_file_info *fi)
{
	struct stat st;

	if (ino != FUSE_ROOT_ID && !gs_fuse_ino_file(ino)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	gs_fuse_stat(ino, &st);
	fuse_reply_attr(req, &st, 3600);
}

static void gs_fuse_open(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	if (ino == FUSE_ROOT_ID)
		fuse_reply_err(req, EISDIR);
	else
		fuse_reply_open(req, fi);
}

static void gs_fuse_read(fuse_req_t req, fuse_ino_t ino, size_t size,
			 off_t off, struct fuse_file_info *fi)
{
	const struct gs_fuse_file *f = gs_fuse_ino_file(ino);
	struct gs_fuse *fs = gs_the_fs;
	size_t len = gs_fuse_len();

	__atomic_add_fetch(fs->reads, 1, __ATOMIC_RELAXED);
	/* negative control: a call stuck on a READ is no retry loop */
	if (gs_inject == GS_INJECT_STUCK_READ)
		return;
	if ((size_t)off >= len)
		size = 0;
	else if (size > len - off)
		size = len - off;
	if (f && f->good < 0 && fs->hold &&
	    !__atomic_load_n(&fs->held, __ATOMIC_ACQUIRE)) {
		fs->held_off = off;
		fs->held_size = size;
		__atomic_store_n(&fs->held, req, __ATOMIC_RELEASE);
		return;
	}
	if (!f || (f->good >= 0 &&
		   off + size > (size_t)f->good * getpagesize())) {
		fuse_reply_err(req, EIO);
		return;
	}
	fuse_reply_buf(req, fs->data + off, size);
}

static const struct fuse_lowlevel_ops gs_fuse_ops = {
	.lookup = gs_fuse_lookup,
	.getattr = gs_fuse_getattr,
	.open = gs_fuse_open,
	.read = gs_fuse_read,
};

static void *gs_fuse_loop(void *arg)
{
	struct gs_fuse *fs = arg;

	fuse_session_loop(fs->se);
	return NULL;
}

/*
 * In every process forked from the server's: only the server may hold
 * /dev/fuse, so that its death ends the mount and wakes every caller.
 */
static void gs_fuse_forget(void)
{
	if (gs_the_fs && gs_the_fs->se)
		close(fuse_session_fd(gs_the_fs->se));
}

struct gs_fuse *gs_fuse_start(void)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct gs_fuse *fs = calloc(1, sizeof(*fs));

	if (fs)
		fs->data = malloc(gs_fuse_len());
	if (!fs || !fs->data)
		gs_fail("out of memory");
	if (access("/dev/fuse", R_OK | W_OK))
		gs_skip("no /dev/fuse (%s): CONFIG_FUSE_FS, modprobe fuse",
			strerror(errno));
	gs_the_fs = fs;
	fs->reads = gs_shared_alloc(sizeof(*fs->reads));
	gs_fill(fs->data, gs_fuse_len(), GS_FUSE_SEED, 0);
	gs_private_mounts();
	/* the mount point lives on a tmpfs only this namespace sees */
	if (mount("gup_stall", "/tmp", "tmpfs", 0, "size=64k,mode=0700"))
		gs_fail("tmpfs on /tmp in the private namespace: %s",
			strerror(errno));
	if (mkdir(GS_FUSE_DIR, 0700))
		gs_fail("mkdir %s: %s", GS_FUSE_DIR, strerror(errno));
	if (fuse_opt_add_arg(&args, "gup_stall"))
		gs_fail("fuse_opt_add_arg failed");
	fs->se = fuse_session_new(&args, &gs_fuse_ops, sizeof(gs_fuse_ops),
				  NULL);
	fuse_opt_free_args(&args);
	if (!fs->se)
		gs_fail("fuse_session_new failed");
	if (fuse_session_mount(fs->se, GS_FUSE_DIR))
		gs_fail("mounting the FUSE filesystem on %s failed",
			GS_FUSE_DIR);
	if (pthread_create(&fs->thread, NULL, gs_fuse_loop, fs))
		gs_fail("pthread_create failed");
	if (pthread_atfork(NULL, NULL, gs_fuse_forget))
		gs_fail("pthread_atfork failed");
	return fs;
}

/* Unmount, stop the server thread (bounded), and prove the mount is gone. */
void gs_fuse_stop(struct gs_fuse *fs)
{
	struct timespec deadline;

	gs_phase("unmounting the FUSE filesystem and stopping its server");
	fuse_session_exit(fs->se);
	fuse_session_unmount(fs->se);
	if (gs_fuse_mounted("/proc/self/mounts", GS_FUSE_DIR))
		gs_fail("%s still mounted after fuse_session_unmount",
			GS_FUSE_DIR);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += GS_REAP_MS / 1000;
	if (pthread_timedjoin_np(fs->thread, NULL, &deadline))
		gs_fail("FUSE server thread still running %d ms after the unmount",
			GS_REAP_MS);
	fuse_session_destroy(fs->se);
}

unsigned long gs_fuse_reads(struct gs_fuse *fs)
{
	return __atomic_load_n(fs->reads, __ATOMIC_RELAXED);
}

void gs_fuse_hold(struct gs_fuse *fs)
{
	fs->hold = true;
}

bool gs_fuse_has_held(void *arg)
{
	struct gs_fuse *fs = arg;

	return __atomic_load_n(&fs->held, __ATOMIC_ACQUIRE);
}

void gs_fuse_answer(struct gs_fuse *fs, size_t *size, long *off)
{
	fuse_reply_buf(fs->held, fs->data + fs->held_off, fs->held_size);
	*size = fs->held_size;
	*off = fs->held_off;
}

/* The connection number of the mount, as /sys/fs/fuse/connections shows it. */
unsigned int gs_fuse_conn(void)
{
	struct stat st;

	if (stat(GS_FUSE_DIR, &st))
		gs_fail("stat %s: %s", GS_FUSE_DIR, strerror(errno));
	return minor(st.st_dev);
}

#else /* !HAVE_LIBFUSE3: every cell skips in gs_fuse_start() */

struct gs_fuse *gs_fuse_start(void)
{
	gs_skip("built without libfuse3 (install libfuse3-dev and rebuild)");
	return NULL;
}

void gs_fuse_stop(struct gs_fuse *fs)
{
}

unsigned long gs_fuse_reads(struct gs_fuse *fs)
{
	return 0;
}

void gs_fuse_hold(struct gs_fuse *fs)
{
}

bool gs_fuse_has_held(void *arg)
{
	return false;
}

void gs_fuse_answer(struct gs_fuse *fs, size_t *size, long *off)
{
}

unsigned int gs_fuse_conn(void)
{
	return 0;
}

#endif /* HAVE_LIBFUSE3 */
