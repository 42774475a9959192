/* SPDX-License-Identifier: MIT */
/* stratafs's options: the -o table, --help, checks and fs_mount_opts (main_opts.h). */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fuse_lowlevel.h>

#include "common/dbuf.h"
#include "common/fdio.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/size.h"
#include "common/version.h"
#include "fs/cache.h"
#include "fs/kernel_ra.h"
#include "fs/main_opts.h"

#define PASSWORD_MAX (64u << 10)
#define IO_TIMEOUT_MAX 86400u /* a day, as strata --timeout */
#define RETRIES_MAX 100u

enum { KEY_HELP, KEY_VERSION, KEY_DISCARD, KEY_DEBUG, KEY_STORE };

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
	OPT("registry=%s", registry),
	OPT("kernel_readahead=%s", kernel_readahead),
	OPT("unpinned=%s", unpinned),
	OPT("log=%s", log),
	OPT("insecure", insecure),
	OPT("layers", layers),
	OPT("push_index", push_index),
	OPT("io_timeout=%s", io_timeout_arg),
	OPT("retries=%s", retries_arg),
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
		"    -o registry=HOST[:PORT]  --store: the registry username, password_file,\n"
		"                           insecure and ca_file are for (required with them;\n"
		"                           other registries' images are resolved without them)\n"
		"    -o layers              layers/NN-<digest>/ per layer plus merged/\n"
		"    -o allow_other         let other users access the mount\n"
		"    -o prefetch=MODE       profile (default): fetch in the background what the\n"
		"                           build that made the image read, as its manifest pins;\n"
		"                           FILE: the access profile in FILE; all: that, then\n"
		"                           everything; none: nothing\n"
		"    -o record=FILE         write the access profile of this mount to FILE at unmount\n"
		"    -o kernel_readahead=SIZE  how far ahead the kernel reads a file read in\n"
		"                           order, in FUSE requests of up to 1 MiB (default 512K,\n"
		"                           root only; 0: the kernel's 128K)\n"
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
	secret_free(c->password, c->password_cap);
	c->password = NULL;
	c->password_cap = 0;
}

void fs_cli_release(struct fs_cli *c)
{
	char **strs[] = { &c->ref, &c->cache, &c->cache_max, &c->platform, &c->ca_file, &c->config,
			  &c->username, &c->password_file, &c->prefetch, &c->log,
			  &c->mem_max, &c->unpinned, &c->token_dir, &c->record,
			  &c->kernel_readahead, &c->io_timeout_arg, &c->retries_arg, &c->registry };

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

/* -o io_timeout and retries: plain counts in range ("-1", "10s" or 2^32 are errors). */
static int parse_counts(struct fs_cli *c)
{
	uint64_t v;

	if (c->io_timeout_arg) {
		if (count_parse(c->io_timeout_arg, IO_TIMEOUT_MAX, &v) < 0 || v == 0) {
			log_err("invalid io_timeout '%s' (seconds, 1 to %u)", c->io_timeout_arg,
				IO_TIMEOUT_MAX);
			return -EINVAL;
		}
		c->io_timeout = (unsigned)v;
	}
	if (c->retries_arg) {
		if (count_parse(c->retries_arg, RETRIES_MAX, &v) < 0) {
			log_err("invalid retries '%s' (0 to %u)", c->retries_arg, RETRIES_MAX);
			return -EINVAL;
		}
		c->retries = (unsigned)v;
	}
	return 0;
}

/* 0 ok, 1 done (help), -EINVAL usage error. */
int fs_cli_parse(struct fuse_args *args, struct fs_cli *c)
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
	/*
	 * A mount talks to the one registry its REF names; a store to any
	 * registry a runtime asks for (a Dockerfile's FROM). Credentials and
	 * plain HTTP given for one registry must not go to the others.
	 */
	if (c->store && !c->registry &&
	    (c->username || c->password_file || c->insecure || c->ca_file)) {
		log_err("--store: -o username, password_file, insecure and ca_file need "
			"-o registry=HOST[:PORT], the registry they are for (a runtime may name any "
			"registry); per-registry credentials also come from -o config=FILE (docker "
			"config.json)");
		return -EINVAL;
	}
	if (!c->store && c->registry) {
		log_err("-o registry is for --store (a mount's REF names its registry)");
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
	if (parse_counts(c) < 0)
		return -EINVAL;
	c->kernel_ra = FS_KERNEL_RA_DEFAULT;
	if (c->kernel_readahead && (size_parse(c->kernel_readahead, &c->kernel_ra) < 0 ||
				    c->kernel_ra > FS_KERNEL_RA_MAX)) {
		log_err("invalid kernel_readahead '%s' (a size like 1M, at most 64M; 0: the kernel's)",
			c->kernel_readahead);
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
	struct dbuf b;
	int r;

	dbuf_init(&b, PASSWORD_MAX);
	r = file_read_dbuf(c->password_file, &b);
	if (r == -EFBIG)
		log_err("password file '%s' is larger than %u bytes", c->password_file, PASSWORD_MAX);
	else if (r < 0)
		log_err("cannot read password file '%s': %s", c->password_file, strerror(-r));
	if (r < 0) {
		secret_dbuf_release(&b);
		return r;
	}
	c->password_cap = b.cap;
	c->password = dbuf_take(&b, NULL);
	if (!c->password)
		return -ENOMEM;
	c->password[strcspn(c->password, "\r\n")] = '\0';
	return 0;
}

/* ECR tokens are cached under the resolved cache dir (fs_cache_token_dir). */
static int set_token_cache(struct fs_cli *c, struct fs_mount_opts *mo)
{
	char dir[PATH_MAX];
	int r = fs_cache_token_dir(c->cache, dir, sizeof(dir));

	if (r == -ENOENT)
		log_warn("no cache dir (neither XDG_CACHE_HOME nor HOME set): tokens are not cached");
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	c->token_dir = strdup(dir);
	if (!c->token_dir)
		return -ENOMEM;
	mo->reg.token_cache_dir = c->token_dir;
	return 0;
}

int fs_cli_mount_opts(struct fs_cli *c, struct fs_mount_opts *mo)
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

void fs_cli_forget_secrets(struct fs_cli *c, struct fs_mount_opts *mo)
{
	forget_password(c);
	mo->reg.password = NULL;
}
