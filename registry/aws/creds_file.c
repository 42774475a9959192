/* SPDX-License-Identifier: MIT */
/*
 * The shared-files provider: ~/.aws/credentials ([name]) and ~/.aws/config
 * ([profile name], [default]), keys in the credentials file winning, and
 * credential_process (run with sh -c; its JSON read from stdout, at most
 * REG_AWS_MAX_RESPONSE bytes, killed after 30 s without output). role_arn/sso profiles are not supported: a
 * warning says so and the chain goes on.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fdio.h"
#include "common/log.h"
#include "common/secret.h"
#include "registry/aws/aws_int.h"

#define PROCESS_TIMEOUT_S 30

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* Is "[...]" header @h the profile @name in this kind of file? */
static bool section_matches(char *h, const char *name, bool config)
{
	if (!config)
		return strcmp(h, name) == 0;
	if (strcmp(name, "default") == 0 && strcmp(h, "default") == 0)
		return true;
	if (strncmp(h, "profile", 7) != 0 || (h[7] != ' ' && h[7] != '\t'))
		return false;
	return strcmp(trim(h + 8), name) == 0;
}

static void set_key(struct reg_aws_profile *p, const char *k, const char *v)
{
	if (strcmp(k, "aws_access_key_id") == 0)
		reg_aws_strlcpy(p->key_id, v, sizeof(p->key_id));
	else if (strcmp(k, "aws_secret_access_key") == 0)
		reg_aws_strlcpy(p->secret, v, sizeof(p->secret));
	else if (strcmp(k, "aws_session_token") == 0)
		reg_aws_strlcpy(p->token, v, sizeof(p->token));
	else if (strcmp(k, "credential_process") == 0)
		reg_aws_strlcpy(p->process, v, sizeof(p->process));
	else if (strcmp(k, "role_arn") == 0 || strncmp(k, "sso_", 4) == 0)
		p->role = true;
}

void reg_aws_ini_scan(char *buf, const char *name, bool config, struct reg_aws_profile *p)
{
	bool in = false;
	char *line, *next;

	for (line = buf; line; line = next) {
		char *l, *eq;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		l = trim(line);
		if (*l == '#' || *l == ';' || !*l)
			continue;
		if (*l == '[') {
			char *rb = strchr(l, ']');

			if (rb)
				*rb = '\0';
			in = rb && section_matches(trim(l + 1), name, config);
			if (in)
				p->found = true;
			continue;
		}
		eq = strchr(l, '=');
		if (!in || !eq)
			continue;
		*eq = '\0';
		set_key(p, trim(l), trim(eq + 1));
	}
}

static int load_profile(const char *path, const char *name, bool config,
			struct reg_aws_profile *p)
{
	struct dbuf b;
	int r;

	dbuf_init(&b, REG_AWS_MAX_CONFIG_FILE);
	r = file_read_dbuf(path, &b);
	if (r < 0 && r != -ENOENT)
		log_warn("cannot read AWS %s file '%s': %s", config ? "config" : "credentials",
			 path, strerror(-r));
	if (r == 0)
		reg_aws_ini_scan(b.data ? b.data : "", name, config, p);
	secret_dbuf_release(&b);
	return r == -ENOENT ? 0 : r;
}

int reg_aws_file_path(const char *env, const char *leaf, char *out, size_t n)
{
	const char *v = reg_aws_env(env), *home;
	int len;

	if (v)
		return reg_aws_strlcpy(out, v, n);
	home = reg_aws_env("HOME");
	if (!home)
		return -ENOENT;
	len = snprintf(out, n, "%s/.aws/%s", home, leaf);
	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

/* Read the child's stdout into @out until EOF, the ceiling or the deadline. */
static int read_child(int fd, struct dbuf *out)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[4096];
	int waited = 0, r = 0, pr;
	ssize_t n;

	for (;;) {
		pr = poll(&p, 1, 1000);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0 && ++waited < PROCESS_TIMEOUT_S)
			continue;
		if (pr <= 0) {
			r = pr == 0 ? -ETIMEDOUT : -EIO;
			break;
		}
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -EIO : 0;
			break;
		}
		r = dbuf_add(out, buf, (size_t)n);
		if (r < 0)
			break;
	}
	explicit_bzero(buf, sizeof(buf));
	return r;
}

/* Run @cmd with sh -c, its stdout into @out (bounded, PROCESS_TIMEOUT_S of silence at most). */
static int run_process(const char *cmd, struct dbuf *out)
{
	int fds[2], status = 0, r;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(fds[0]);
		close(fds[1]);
		return r;
	}
	if (pid == 0) {
		dup2(fds[1], 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	r = read_child(fds[0], out);
	close(fds[0]);
	if (r < 0)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (r == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
		r = -EIO;
	return r;
}

static int from_process(const char *cmd, struct reg_aws_creds *out)
{
	struct dbuf b;
	int r;

	dbuf_init(&b, REG_AWS_MAX_RESPONSE);
	r = run_process(cmd, &b);
	if (r < 0) {
		log_err("AWS credential_process failed (%s)", strerror(-r));
		goto out_release;
	}
	r = reg_aws_creds_parse_json(b.data ? b.data : "", b.len, "process", out);
out_release:
	secret_dbuf_release(&b);
	return r;
}

static int from_loaded(const struct reg_aws_profile *cred, const struct reg_aws_profile *conf,
		       const char *name, struct reg_aws_creds *out)
{
	const struct reg_aws_profile *p = *cred->key_id ? cred : conf;
	struct reg_aws_creds c = { 0 };

	if (!*p->key_id || !*p->secret) {
		if (*conf->process)
			return from_process(conf->process, out);
		if (cred->role || conf->role)
			log_warn("AWS profile '%s' uses role_arn/sso, which stratafs does not "
				 "support; trying the next provider", name);
		return -ENOENT;
	}
	memcpy(c.access_key_id, p->key_id, sizeof(c.access_key_id));
	memcpy(c.secret_access_key, p->secret, sizeof(c.secret_access_key));
	memcpy(c.session_token, p->token, sizeof(c.session_token));
	snprintf(c.source, sizeof(c.source), "profile:%s", name);
	*out = c;
	reg_aws_creds_wipe(&c);
	return 0;
}

int reg_aws_creds_from_profile(const char *profile, bool explicit_profile,
			       const struct reg_aws_opts *o, struct reg_aws_creds *out)
{
	struct reg_aws_profile *cred, *conf;
	char path[1024];
	int r;

	(void)o;
	cred = calloc(2, sizeof(*cred));
	if (!cred)
		return -ENOMEM;
	conf = cred + 1;
	if (reg_aws_file_path("AWS_SHARED_CREDENTIALS_FILE", "credentials", path, sizeof(path)) == 0)
		load_profile(path, profile, false, cred);
	if (reg_aws_file_path("AWS_CONFIG_FILE", "config", path, sizeof(path)) == 0)
		load_profile(path, profile, true, conf);
	if (!cred->found && !conf->found)
		r = explicit_profile ? -ESRCH : -ENOENT;
	else
		r = from_loaded(cred, conf, profile, out);
	explicit_bzero(cred, 2 * sizeof(*cred));
	free(cred);
	return r;
}
