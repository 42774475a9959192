/* SPDX-License-Identifier: MIT */
/*
 * stratafs REF MOUNTPOINT [-o opt,...] [-f] [-d]: mount a registry
 * reference read-only. stratafs --store MOUNTPOINT: an Additional Layer
 * Store for podman/buildah (fs/als.c), which resolves images only when asked. Options are parsed here, the reference is resolved
 * and every layer index opened BEFORE the kernel mount, so a bad reference,
 * an auth failure or a dead registry exits 1 with nothing mounted.
 *
 * Daemonizing: the data path starts threads (fetchers, layer openers), and
 * threads do not survive fork(). So the process forks first, before any
 * work; the parent waits on a pipe for the child's verdict ("mounted" or
 * not) and exits 0 or 1 accordingly, as mount(8) and fstab expect. The
 * child keeps stderr for its error messages until the mount is up, then
 * switches the log to syslog and detaches.
 */
#define FUSE_USE_VERSION 312

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
#include "common/size.h"
#include "fs/als_ll.h"
#include "fs/cache.h"
#include "fs/ll_int.h"
#include "fs/profile.h"

#ifndef STRATAFS_VERSION
#define STRATAFS_VERSION "0.1.0"
#endif

#define ENTRY_TIMEOUT 86400.0
#define PASSWORD_MAX (64u << 10)

struct fs_cli {
	char *ref;
	int n_nonopt;
	char *cache, *cache_max, *platform, *ca_file, *config, *username, *password_file;
	char *prefetch, *log, *mem_max, *unpinned;
	char *record;        /* -o record=FILE: the access profile, written at unmount */
	char *token_dir;     /* <cache dir>/tokens (not an option) */
	int insecure, layers, push_index, debug, store;
	unsigned io_timeout;
	unsigned retries; /* UINT_MAX: not given */
	unsigned stats_chunk;
	char *password;      /* from password_file; wiped once the client has it */
	size_t password_cap;
};

enum { KEY_HELP, KEY_VERSION, KEY_DISCARD, KEY_DEBUG, KEY_STORE };

#define STORE_USER_AGENT "stratafs-store/0.1"

#define OPT(t, f) { t, offsetof(struct fs_cli, f), 1 }
static const struct fuse_opt cli_opts[] = {
	OPT("cache=%s", cache),
	OPT("cache_max=%s", cache_max),
	OPT("mem_max=%s", mem_max),
	OPT("platform=%s", platform),
	OPT("ca_file=%s", ca_file),
	OPT("config=%s", config),
	OPT("username=%s", username),
	OPT("password_file=%s", password_file),
	OPT("prefetch=%s", prefetch),
	OPT("record=%s", record),
	OPT("unpinned=%s", unpinned),
	OPT("log=%s", log),
	OPT("insecure", insecure),
	OPT("layers", layers),
	OPT("push_index", push_index),
	OPT("io_timeout=%u", io_timeout),
	OPT("retries=%u", retries),
	OPT("stats_chunk=%u", stats_chunk),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_KEY("--store", KEY_STORE),
	FUSE_OPT_KEY("-d", KEY_DEBUG),
	FUSE_OPT_KEY("debug", KEY_DEBUG),
	/* always ro,nosuid,nodev: what mount(8) or fstab add is overridden */
	FUSE_OPT_KEY("rw", KEY_DISCARD),
	FUSE_OPT_KEY("ro", KEY_DISCARD),
	FUSE_OPT_KEY("dev", KEY_DISCARD),
	FUSE_OPT_KEY("nodev", KEY_DISCARD),
	FUSE_OPT_KEY("suid", KEY_DISCARD),
	FUSE_OPT_KEY("nosuid", KEY_DISCARD),
	FUSE_OPT_KEY("auto", KEY_DISCARD),
	FUSE_OPT_KEY("noauto", KEY_DISCARD),
	FUSE_OPT_KEY("user", KEY_DISCARD),
	FUSE_OPT_KEY("nouser", KEY_DISCARD),
	FUSE_OPT_KEY("users", KEY_DISCARD),
	FUSE_OPT_KEY("defaults", KEY_DISCARD),
	FUSE_OPT_KEY("_netdev", KEY_DISCARD),
	FUSE_OPT_KEY("nofail", KEY_DISCARD),
	FUSE_OPT_KEY("default_permissions", KEY_DISCARD),
	FUSE_OPT_END
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: stratafs REF MOUNTPOINT [-o opt,...] [-f] [-d]\n"
		"       stratafs --store MOUNTPOINT [-o opt,...] [-f] [-d]\n"
		"\n"
		"Mount a registry reference (image, image index, BuildKit registry cache)\n"
		"read-only; file data is fetched lazily, by byte ranges, when read.\n"
		"Always mounted ro,nosuid,nodev with default_permissions.\n"
		"--store: an Additional Layer Store for podman/buildah (containers-storage\n"
		"additionallayerstores = [\"MOUNTPOINT:ref\"]): any image, resolved on demand\n"
		"(nosuid,nodev; read-write only for the runtime's use/release signals).\n"
		"\n"
		"stratafs options:\n"
		"    -o cache=DIR           local cache (default /var/cache/stratafs for root,\n"
		"                           $XDG_CACHE_HOME/stratafs otherwise)\n"
		"    -o cache_max=SIZE      cache size bound, K/M/G/T suffixes (default 10G)\n"
		"    -o mem_max=SIZE        memory for file data: decoded spans kept in memory\n"
		"                           and fetches in flight (default 13M; at least one\n"
		"                           span and its compressed bytes are always allowed)\n"
		"    -o platform=OS/ARCH[/VARIANT]  image of an index to mount (default: host)\n"
		"    -o insecure            allow plain HTTP / unverified TLS for this registry\n"
		"    -o ca_file=FILE        trust this CA bundle (PEM)\n"
		"    -o config=FILE         docker config.json with credentials\n"
		"    -o username=USER       registry user name ...\n"
		"    -o password_file=FILE  ... and a file holding the password (never logged)\n"
		"    -o layers              layers/NN-<digest>/ per layer plus merged/\n"
		"    -o allow_other         let other users access the mount\n"
		"    -o prefetch=MODE       profile (default): fetch in the background what the\n"
		"                           build that made the image read, as its manifest pins;\n"
		"                           FILE: the access profile in FILE; all: that, then\n"
		"                           everything; none: nothing\n"
		"    -o record=FILE         write the access profile of this mount to FILE at unmount\n"
		"    -o io_timeout=SECONDS  a read returns EIO after this (default 30)\n"
		"    -o retries=N           registry retries per request (default 4)\n"
		"    -o push_index          push the indexes built here to the registry (in the\n"
		"                           background once mounted; needs push access)\n"
		"    -o unpinned=tag|never|always  use indexes that no digest pins (referrers,\n"
		"                           the fallback tag): for references by tag only\n"
		"                           (default; whoever can write them can move the tag),\n"
		"                           never (repositories with immutable tags), or\n"
		"                           always (RISK: anyone with push rights to the\n"
		"                           repository then decides what a digest mount shows)\n"
		"    -o log=LEVEL           err|warn|info|debug (default info)\n"
		"    -o stats_chunk=BYTES   (testing) serve the stats xattr in pieces above\n"
		"                           this size (default and maximum 65536)\n"
		"    -f                     stay in the foreground, log to stderr\n"
		"    -d                     debug: foreground, FUSE requests traced\n"
		"    -V, --version          print the version\n"
		"\n"
		"Unmount with 'fusermount3 -u MOUNTPOINT', 'umount MOUNTPOINT' or SIGTERM.\n"
		"Stats: 'strata stats MOUNTPOINT [--json]'.\n"
		"\n");
}

static int cli_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct fs_cli *c = data;

	switch (key) {
	case KEY_HELP:
		usage(stdout);
		printf("FUSE options:\n");
		fuse_cmdline_help();
		fuse_lowlevel_help();
		exit(0);
	case KEY_VERSION:
		printf("stratafs %s (libfuse %s)\n", STRATAFS_VERSION, fuse_pkgversion());
		exit(0);
	case KEY_DISCARD:
		return 0;
	case KEY_DEBUG:
		c->debug = 1;
		return 1;
	case KEY_STORE:
		c->store = 1;
		return 0;
	case FUSE_OPT_KEY_OPT:
		/* fstab/systemd comments ("x-systemd.automount", "comment=..") */
		return strncmp(arg, "x-", 2) == 0 || strncmp(arg, "comment=", 8) == 0 ? 0 : 1;
	case FUSE_OPT_KEY_NONOPT:
		if (c->store)
			return 1; /* the mountpoint */
		if (c->n_nonopt++ == 0) {
			c->ref = strdup(arg);
			return c->ref ? 0 : -1;
		}
		return 1;
	default:
		return 1;
	}
}

/* Add the options we always mount with; fsname shows the reference in /proc/mounts. */
static int add_fixed_opts(struct fuse_args *args, const char *ref, bool store)
{
	char opt[1200] = "-oro,nosuid,nodev,default_permissions,subtype=stratafs,fsname=";
	size_t len;

	/* the store: rw, or the kernel answers the runtime's signals with EROFS itself */
	if (store)
		snprintf(opt, sizeof(opt), "-orw,nosuid,nodev,default_permissions,subtype=stratafs,fsname=");
	len = strlen(opt);

	for (; *ref && len + 3 < sizeof(opt); ref++) {
		if (*ref == ',' || *ref == '\\')
			opt[len++] = '\\';
		opt[len++] = *ref;
	}
	opt[len] = '\0';
	return fuse_opt_add_arg(args, opt) == 0 ? 0 : -ENOMEM;
}

static void forget_password(struct fs_cli *c)
{
	if (c->password)
		explicit_bzero(c->password, c->password_cap);
	free(c->password);
	c->password = NULL;
	c->password_cap = 0;
}

static void fs_cli_release(struct fs_cli *c)
{
	char **strs[] = { &c->ref, &c->cache, &c->cache_max, &c->platform, &c->ca_file, &c->config,
			  &c->username, &c->password_file, &c->prefetch, &c->log,
			  &c->mem_max, &c->unpinned, &c->token_dir, &c->record };

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
	forget_password(c);
}

/* The daemon runs in "/" once detached: make a relative path option absolute. */
static int absolutize(char **path)
{
	char cwd[4096], *abs;
	size_t len;

	if (!*path || (*path)[0] == '/')
		return 0;
	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	len = strlen(cwd) + strlen(*path) + 2;
	abs = malloc(len);
	if (!abs)
		return -ENOMEM;
	snprintf(abs, len, "%s/%s", cwd, *path);
	free(*path);
	*path = abs;
	return 0;
}

/* 0 ok, 1 done (help), -EINVAL usage error. */
static int fs_cli_parse(struct fuse_args *args, struct fs_cli *c)
{
	enum log_level lvl = LOG_LVL_INFO;

	memset(c, 0, sizeof(*c));
	c->retries = UINT_MAX;
	if (fuse_opt_parse(args, c, cli_opts, cli_proc) != 0)
		return -EINVAL;
	if (c->store && c->ref) {
		log_err("--store takes no REF (usage: stratafs --store MOUNTPOINT [-o opt,...])");
		return -EINVAL;
	}
	if (!c->ref && !c->store) {
		log_err("missing REF (usage: stratafs REF MOUNTPOINT [-o opt,...])");
		return -EINVAL;
	}
	if (c->store && c->layers) {
		log_err("-o layers is not supported with --store");
		return -EINVAL;
	}
	if (c->log && log_level_parse(c->log, &lvl) < 0) {
		log_err("invalid log level '%s'", c->log);
		return -EINVAL;
	}
	log_set_level(c->debug ? LOG_LVL_DEBUG : lvl);
	if (absolutize(&c->cache) < 0 || absolutize(&c->ca_file) < 0 ||
	    absolutize(&c->config) < 0 || absolutize(&c->password_file) < 0) {
		log_err("cannot resolve a relative path option: %s", strerror(errno));
		return -EINVAL;
	}
	/* none, all, profile, or else the file of an access profile */
	if (c->prefetch && !*c->prefetch) {
		log_err("invalid prefetch mode '' (none, all, profile or a profile FILE)");
		return -EINVAL;
	}
	if (c->prefetch && strcmp(c->prefetch, "none") != 0 && strcmp(c->prefetch, "all") != 0 &&
	    strcmp(c->prefetch, "profile") != 0 && absolutize(&c->prefetch) < 0) {
		log_err("cannot resolve the prefetch profile path: %s", strerror(errno));
		return -EINVAL;
	}
	if (c->record && (c->store || absolutize(&c->record) < 0)) {
		log_err(c->store ? "-o record is not supported with --store" :
				   "cannot resolve the record path");
		return -EINVAL;
	}
	return add_fixed_opts(args, c->store ? "stratafs-store" : c->ref, c->store);
}

/* The password file's first line; registry tokens (ECR) run to kilobytes. */
static int read_password(struct fs_cli *c)
{
	FILE *f = fopen(c->password_file, "r");
	size_t n;

	int err = errno;

	if (!f) {
		log_err("cannot open password file '%s': %s", c->password_file, strerror(err));
		return -err;
	}
	c->password_cap = PASSWORD_MAX + 1;
	c->password = calloc(1, c->password_cap);
	n = c->password ? fread(c->password, 1, PASSWORD_MAX, f) : 0;
	fclose(f);
	if (!c->password)
		return -ENOMEM;
	if (n == PASSWORD_MAX) {
		log_err("password file '%s' is larger than %u bytes", c->password_file, PASSWORD_MAX);
		return -EFBIG;
	}
	c->password[strcspn(c->password, "\r\n")] = '\0';
	return 0;
}

/* ECR tokens are cached under the resolved cache dir: <cache>/tokens. */
static int set_token_cache(struct fs_cli *c, struct fs_mount_opts *mo)
{
	char dir[PATH_MAX];
	size_t len;

	if (c->cache) {
		len = strlen(c->cache);
		if (len + sizeof("/tokens") > sizeof(dir)) {
			log_err("cache dir '%s' is too long", c->cache);
			return -ENAMETOOLONG;
		}
		memcpy(dir, c->cache, len + 1);
	} else if (fs_cache_default_dir(dir, sizeof(dir) - sizeof("/tokens")) < 0) {
		log_warn("no cache dir (neither XDG_CACHE_HOME nor HOME set): tokens are not cached");
		return 0;
	}
	len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		dir[--len] = '\0';
	memcpy(dir + len, "/tokens", sizeof("/tokens"));
	c->token_dir = strdup(dir);
	if (!c->token_dir)
		return -ENOMEM;
	mo->reg.token_cache_dir = c->token_dir;
	return 0;
}

static int fs_cli_mount_opts(struct fs_cli *c, struct fs_mount_opts *mo)
{
	int r;

	memset(mo, 0, sizeof(*mo));
	mo->ref = c->ref;
	mo->platform = c->platform;
	mo->layers = c->layers;
	reg_opts_init(&mo->reg);
	fs_store_opts_init(&mo->store);
	mo->reg.insecure = c->insecure;
	mo->reg.ca_file = c->ca_file;
	mo->reg.docker_config = c->config;
	mo->reg.username = c->username;
	if (c->retries != UINT_MAX)
		mo->reg.retries = c->retries;
	if (c->io_timeout) {
		mo->reg.io_timeout_ms = c->io_timeout * 1000;
		mo->store.io_timeout_ms = c->io_timeout * 1000;
	}
	mo->store.cache_dir = c->cache;
	mo->store.prefetch_all = c->prefetch && strcmp(c->prefetch, "all") == 0;
	mo->profile = c->prefetch;
	if (c->unpinned && fs_unpinned_parse(c->unpinned, &mo->unpinned) < 0) {
		log_err("invalid unpinned mode '%s' (tag, never or always)", c->unpinned);
		return -EINVAL;
	}
	if (c->cache_max && size_parse(c->cache_max, &mo->store.cache_max) < 0) {
		log_err("invalid cache_max '%s' (a size like 512M or 10G)", c->cache_max);
		return -EINVAL;
	}
	if (c->mem_max && size_parse(c->mem_max, &mo->store.mem_max) < 0) {
		log_err("invalid mem_max '%s' (a size like 12M or 64M)", c->mem_max);
		return -EINVAL;
	}
	if (c->password_file) {
		r = read_password(c);
		if (r < 0)
			return r;
		mo->reg.password = c->password;
	}
	return set_token_cache(c, mo);
}

/* The registry client has copied what it needs (and so has the pusher). */
static void fs_cli_forget_secrets(struct fs_cli *c, struct fs_mount_opts *mo)
{
	forget_password(c);
	mo->reg.password = NULL;
}

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
		 int notify_fd, struct fs_mount_push *push)
{
	int r = -EIO;

	if (fuse_set_signal_handlers(se) != 0)
		return r;
	if (fuse_session_mount(se, copts->mountpoint) != 0) {
		log_err("cannot mount on '%s'", copts->mountpoint);
		goto out_remove_handlers;
	}
	if (m)
		log_info("mounted '%s' (%s, %s view, %zu layers, %llu inodes) on '%s' in %.0f ms",
			 m->img->ref_str, m->img->manifest->digest, fs_view_kind_name(m->kind),
			 m->img->n_layers, (unsigned long long)m->n_inodes, copts->mountpoint,
			 m->open_ms);
	else
		log_info("additional layer store mounted on '%s'", copts->mountpoint);
	if (notify_fd >= 0)
		detach(notify_fd);
	fs_mount_push_start(push); /* NULL: nothing to push */
	r = loop(se, copts);
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
		r = fs_als_new(&io, c->push_index, &d.als);
		if (r < 0)
			log_err("cannot start the store: %s", strerror(-r));
	}
	if (r == 0)
		r = serve(se, NULL, copts, notify_fd, NULL);
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
	status = serve(se, m, &copts, notify_fd, push) < 0 ? 1 : 0;
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
	free(d.stats_snap);
	pthread_mutex_destroy(&d.stats_lock);
	pthread_mutex_destroy(&d.fail_lock);
	return status;
}
