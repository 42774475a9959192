/* SPDX-License-Identifier: MIT */
/*
 * stratafs REF MOUNTPOINT [-o opt,...] [-f] [-d]: mount a registry
 * reference read-only. stratafs --store MOUNTPOINT: an Additional Layer
 * Store for podman/buildah (fs/als.c), which resolves images only when
 * asked. Options are parsed (fs/main_opts.c), the reference is resolved
 * and every layer index opened BEFORE the kernel mount, so a bad reference,
 * an auth failure or a dead registry exits 1 with nothing mounted.
 *
 * Daemonizing: the data path starts threads (fetchers, layer openers), and
 * threads do not survive fork(). So the process forks first, before any
 * work; the parent waits on a pipe for the child's verdict ("mounted" or
 * not) and exits 0 or 1 accordingly, as mount(8) and fstab expect. The
 * child keeps stderr for its error messages until the mount is up, then
 * switches the log to syslog and detaches. "Up" means answering: the
 * verdict is sent once the session loop has replied to the kernel's INIT
 * and the mount's kernel readahead is set (ready_main()), so a reader
 * started when `stratafs` returns never sees the readahead change under
 * its first reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fuse_lowlevel.h>

#include "common/log.h"
#include "common/version.h"
#include "fs/als_ll.h"
#include "fs/kernel_ra.h"
#include "fs/ll_int.h"
#include "fs/main_opts.h"
#include "fs/profile.h"

#define ENTRY_TIMEOUT 86400.0
#define STORE_USER_AGENT "stratafs-store/" STRATAFS_VERSION

__attribute__((format(printf, 2, 0))) static void fuse_log_sink(enum fuse_log_level level, const char *fmt, va_list ap)
{
	enum log_level l = LOG_LVL_DEBUG;
	char msg[1024];
	size_t n;

	if (level <= FUSE_LOG_ERR)
		l = LOG_LVL_ERR;
	else if (level == FUSE_LOG_WARNING)
		l = LOG_LVL_WARN;
	else if (level <= FUSE_LOG_INFO)
		l = LOG_LVL_INFO;
	if (!log_enabled(l))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_msg(l, "%s", msg);
}

/*
 * glibc malloc for a long-running multithreaded daemon (measured: the peak
 * RSS of a find + read of 20k files fell from 56 to 28 MiB with the span
 * budget unchanged). A fixed mmap threshold turns off glibc's dynamic one,
 * which rises to 4 MiB at the first free of a span buffer, after which
 * span and compressed buffers stay in the arenas, resident and fragmented,
 * instead of going back to the kernel at free(). Two arenas instead of 8
 * per core: each fetch worker and FUSE thread would keep its own.
 * Smaller blocks (FUSE read buffers, 256 KiB at most as measured) stay
 * in the arenas.
 */
static void tune_malloc(void)
{
#ifdef __GLIBC__
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	mallopt(M_ARENA_MAX, 2);
#endif
}

/* Fork now; the parent waits for the child's verdict and never returns. */
static int daemonize_early(int *notify_fd)
{
	int pfd[2];
	char verdict = 1;
	pid_t pid;

	if (pipe(pfd) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(pfd[1]);
		if (read(pfd[0], &verdict, 1) != 1)
			verdict = 1;
		_exit(verdict == 0 ? 0 : 1);
	}
	close(pfd[0]);
	setsid();
	*notify_fd = pfd[1];
	return 0;
}

/* The mount is up: log to syslog, let go of the terminal, tell the parent. */
static void detach(int notify_fd)
{
	char ok = 0;
	int fd = open("/dev/null", O_RDWR);

	log_use_syslog(true, "stratafs");
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	if (chdir("/") < 0)
		log_warn("cannot chdir to '/': %s", strerror(errno));
	if (write(notify_fd, &ok, 1) != 1)
		log_warn("cannot notify the parent process");
	close(notify_fd);
}

/*
 * Set once the session loop has returned: the mount is gone, and a
 * verdict not sent by then must not say "mounted" (ready_main()).
 */
static pthread_mutex_t ready_lock = PTHREAD_MUTEX_INITIALIZER;
static bool loop_ended;

/* What is left to do once the session loop has answered INIT. */
struct ready {
	uint64_t kernel_ra; /* 0: leave the kernel's readahead */
	int notify_fd;      /* -1: foreground, nobody waits */
	char mnt[];
};

/*
 * A stat() of the mount point returns once the kernel has the reply to
 * INIT (it holds every request until then). Only after that can the
 * readahead be raised: INIT's reply lowers it again (fs/kernel_ra.h).
 * Then the parent may report the mount ready, unless the loop has ended
 * meanwhile (a signal, or an error, before INIT was answered): then it
 * gets no verdict, reads end of file and exits 1.
 */
static void *ready_main(void *arg)
{
	struct ready *rd = arg;
	struct stat st;
	int r = stat(rd->mnt, &st) < 0 ? -errno : 0;

	if (r == 0 && rd->kernel_ra)
		r = fs_kernel_ra_set(rd->mnt, rd->kernel_ra);
	if (r < 0 && rd->kernel_ra)
		log_debug("kernel readahead on '%s' stays the kernel's: %s", rd->mnt, strerror(-r));
	else if (rd->kernel_ra)
		log_debug("kernel readahead on '%s': %llu KiB", rd->mnt,
			  (unsigned long long)(rd->kernel_ra >> 10));
	pthread_mutex_lock(&ready_lock);
	if (rd->notify_fd >= 0 && !loop_ended)
		detach(rd->notify_fd);
	else if (rd->notify_fd >= 0)
		close(rd->notify_fd);
	pthread_mutex_unlock(&ready_lock);
	free(rd);
	return NULL;
}

/* Start ready_main() beside the session loop; without a thread, just detach. */
static void when_ready(const char *mnt, uint64_t kernel_ra, int notify_fd)
{
	size_t len = strlen(mnt) + 1;
	struct ready *rd;
	pthread_attr_t a;
	pthread_t th;
	int r = -1;

	if (!kernel_ra && notify_fd < 0)
		return;
	rd = malloc(sizeof(*rd) + len);
	if (rd) {
		rd->kernel_ra = kernel_ra;
		rd->notify_fd = notify_fd;
		memcpy(rd->mnt, mnt, len);
		r = pthread_attr_init(&a);
		if (r == 0) {
			pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
			r = pthread_create(&th, &a, ready_main, rd);
			pthread_attr_destroy(&a);
		}
	}
	if (r != 0) {
		free(rd);
		if (kernel_ra)
			log_debug("kernel readahead stays the kernel's: no thread");
		if (notify_fd >= 0)
			detach(notify_fd);
	}
}

/* Run the session loop until unmounted or signalled. */
static int loop(struct fuse_session *se, struct fuse_cmdline_opts *copts)
{
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	int r;

	if (!cfg)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(cfg, (unsigned)copts->clone_fd);
	if (copts->max_idle_threads != UINT_MAX) /* UINT_MAX: not given */
		fuse_loop_cfg_set_idle_threads(cfg, copts->max_idle_threads);
	/* reads block on the network: allow more workers than libfuse's default 10 */
	fuse_loop_cfg_set_max_threads(cfg, copts->max_threads && copts->max_threads <= 100000
						   ? copts->max_threads
						   : 64);
	r = copts->singlethread ? fuse_session_loop(se) : fuse_session_loop_mt(se, cfg);
	r = r < 0 ? r : 0; /* > 0: ended by a signal, a clean exit */
	fuse_loop_cfg_destroy(cfg);
	return r;
}

/* Mount on the kernel side, detach, run the loop until unmounted or signalled. */
static int serve(struct fuse_session *se, struct fs_mount *m, struct fuse_cmdline_opts *copts,
		 int notify_fd, struct fs_mount_push *push, uint64_t kernel_ra)
{
	int r = -EIO;

	if (fuse_set_signal_handlers(se) != 0)
		return r;
	if (fuse_session_mount(se, copts->mountpoint) != 0) {
		log_err("cannot mount on '%s'", copts->mountpoint);
		goto out_remove_handlers;
	}
	if (m)
		log_info("mounted '%s' (%s, %s view, %zu layers, %llu entries) on '%s' in %.0f ms",
			 m->img->ref_str, m->img->manifest->digest, fs_view_kind_name(m->kind),
			 m->img->n_layers, (unsigned long long)m->n_entries, copts->mountpoint,
			 m->open_ms);
	else
		log_info("additional layer store mounted on '%s'", copts->mountpoint);
	/* libfuse made copts->mountpoint canonical, as mountinfo shows it */
	when_ready(copts->mountpoint, kernel_ra, notify_fd);
	fs_mount_push_start(push); /* NULL: nothing to push */
	r = loop(se, copts);
	pthread_mutex_lock(&ready_lock);
	loop_ended = true;
	pthread_mutex_unlock(&ready_lock);
	fuse_session_unmount(se);
out_remove_handlers:
	fuse_remove_signal_handlers(se);
	return r;
}

/*
 * stratafs --store: the Additional Layer Store. Images are resolved while
 * the daemon runs, so the password stays in memory (never logged) for
 * as long. 0 ok, 1 failure, 2 usage.
 */
static int run_store(struct fuse_args *args, struct fs_cli *c, struct fuse_cmdline_opts *copts)
{
	struct fs_als_daemon d = { .timeout = ENTRY_TIMEOUT };
	struct fs_image_opts io = { 0 };
	struct fuse_session *se;
	struct fs_mount_opts mo;
	int notify_fd = -1, r;

	se = fuse_session_new(args, fs_als_ll_ops(), sizeof(struct fuse_lowlevel_ops), &d);
	if (!se)
		return 2;
	r = 0;
	if (!copts->foreground && daemonize_early(&notify_fd) < 0) {
		log_err("cannot fork: %s", strerror(errno));
		r = -EIO;
	}
	if (r == 0)
		r = fs_cli_mount_opts(c, &mo);
	if (r == 0) {
		mo.reg.user_agent = STORE_USER_AGENT;
		io.platform = mo.platform;
		io.reg = mo.reg;
		io.store = mo.store;
		io.unpinned = mo.unpinned;
		r = fs_als_new(&io, c->push_index, c->registry, &d.als);
		if (r < 0)
			log_err("cannot start the store: %s", strerror(-r));
	}
	if (r == 0)
		r = serve(se, NULL, copts, notify_fd, NULL, c->kernel_ra);
	fuse_session_destroy(se);
	fs_als_free(d.als);
	return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts copts = { 0 };
	struct fs_daemon d = { .timeout = ENTRY_TIMEOUT, .stats_chunk = FS_STATS_CHUNK_MAX };
	struct fuse_session *se = NULL;
	struct fs_cli cli;
	struct fs_mount_opts mo;
	struct fs_mount *m = NULL;
	struct fs_mount_push *push = NULL;
	int notify_fd = -1, r, status = 1;

	tune_malloc();
	log_set_prog("stratafs");
	fuse_set_log_func(fuse_log_sink);
	pthread_mutex_init(&d.stats_lock, NULL);
	pthread_mutex_init(&d.fail_lock, NULL);
	r = fs_cli_parse(&args, &cli);
	if (r != 0) {
		status = r > 0 ? 0 : (r == -EINVAL ? 2 : 1);
		goto out_free_args;
	}
	if (cli.stats_chunk && cli.stats_chunk < FS_STATS_CHUNK_MAX)
		d.stats_chunk = cli.stats_chunk;
	status = 2;
	if (fuse_parse_cmdline(&args, &copts) != 0 || !copts.mountpoint) {
		log_err("usage: stratafs REF MOUNTPOINT [-o opt,...] [-f] [-d] (see --help)");
		goto out_free_cli;
	}
	if (cli.store) {
		status = run_store(&args, &cli, &copts);
		goto out_free_cli;
	}
	/* FUSE options are checked here, before any network work; libfuse says what is wrong */
	se = fuse_session_new(&args, fs_ll_ops(), sizeof(struct fuse_lowlevel_ops), &d);
	if (!se)
		goto out_free_cli;
	status = 1;
	if (!copts.foreground && daemonize_early(&notify_fd) < 0) {
		log_err("cannot fork: %s", strerror(errno));
		goto out_destroy_session;
	}
	r = fs_cli_mount_opts(&cli, &mo);
	if (r == 0)
		r = fs_mount_open(&mo, &m);
	if (r == 0 && cli.push_index && fs_mount_push_new(m, &mo.reg, &push) < 0)
		log_warn("push_index: built indexes stay in the local cache");
	fs_cli_forget_secrets(&cli, &mo);
	if (r < 0) {
		log_err("cannot mount '%s': %s", cli.ref, strerror(-r));
		goto out_destroy_session;
	}
	d.mount = m;
	malloc_trim(0); /* what opening the layers freed (indexes built or parsed) */
	status = serve(se, m, &copts, notify_fd, push, cli.kernel_ra) < 0 ? 1 : 0;
	if (cli.record && fs_store_profile_save(m->img->store, cli.record) < 0)
		status = 1;
out_destroy_session:
	fuse_session_destroy(se);
	fs_mount_push_free(push);
	fs_mount_free(m);
out_free_cli:
	free(copts.mountpoint);
out_free_args:
	fs_cli_release(&cli); /* zeroed first thing by fs_cli_parse() */
	fuse_opt_free_args(&args);
	for (size_t i = 0; i < 2 * FS_STATS_SNAPSHOTS; i++)
		free(d.snaps[i].buf);
	pthread_mutex_destroy(&d.stats_lock);
	pthread_mutex_destroy(&d.fail_lock);
	return status;
}
