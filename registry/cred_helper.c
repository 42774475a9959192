/* SPDX-License-Identifier: MIT */
/*
 * docker-credential-helpers protocol: run "docker-credential-<name> get"
 * (PATH lookup, posix_spawnp), write the server URL to its stdin, read
 * {"ServerURL","Username","Secret"} from its stdout. On failure the helper
 * prints its message on stdout and exits 1; "credentials not found" means
 * anonymous. Username "<token>" means Secret is an identity token.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "common/fdio.h"
#include "common/log.h"
#include "common/secret.h"
#include "registry/registry_int.h"

extern char **environ;

int reg_cred_helper_parse(const char *json, size_t len, struct reg_cred *cr)
{
	json_t *root = json_loadb(json, len, 0, NULL);
	const char *user, *secret;
	int r = -EBADMSG;

	if (!json_is_object(root))
		goto out_decref;
	user = json_string_value(json_object_get(root, "Username"));
	secret = json_string_value(json_object_get(root, "Secret"));
	if (!secret)
		goto out_decref;
	r = -ENOMEM;
	if (user && strcmp(user, "<token>") == 0) {
		cr->identity_token = strdup(secret);
		if (!cr->identity_token)
			goto out_decref;
	} else {
		cr->username = strdup(user ? user : "");
		cr->password = strdup(secret);
		if (!cr->username || !cr->password)
			goto out_decref;
	}
	r = 0;
out_decref:
	json_decref(root);
	return r;
}

/* Write @s to @fd without dying of SIGPIPE if the helper exited early. */
static void write_all_nosig(int fd, const char *s)
{
	sigset_t pipe_set, old;
	size_t n = strlen(s);
	struct timespec zero = { 0 };

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	(void)fd_write_all(fd, s, n); /* a helper that does not read its stdin fails on its own */
	sigtimedwait(&pipe_set, NULL, &zero);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static int spawn(const char *prog, int in_fd, int out_fd, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	char *argv[] = { (char *)prog, "get", NULL };
	int r;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in_fd, STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
	r = posix_spawnp(pid, prog, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return -r;
}

static int finish(const char *prog, int status, struct dbuf *out, struct reg_cred *cr)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		int r = reg_cred_helper_parse(out->data, out->len, cr);

		if (r < 0)
			log_warn("credential helper '%s' printed no usable credentials", prog);
		return r;
	}
	if (out->len && strstr(out->data, "credentials not found"))
		return -ENOENT;
	/* helpers print their error message (never a secret) on stdout */
	log_warn("credential helper '%s' failed: %.200s", prog, out->len ? out->data : "(no output)");
	return -EACCES;
}

int reg_cred_helper_get(const char *helper, const char *server, struct reg_cred *out)
{
	int in[2] = { -1, -1 }, outp[2] = { -1, -1 }, status = 0, r;
	char prog[256];
	struct dbuf b;
	pid_t pid;

	if (strchr(helper, '/') || snprintf(prog, sizeof(prog), "docker-credential-%s", helper) >=
					   (int)sizeof(prog))
		return -EINVAL;
	dbuf_init(&b, REG_MAX_HELPER_OUTPUT);
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0) {
		r = -errno;
		goto out_close;
	}
	r = spawn(prog, in[0], outp[1], &pid);
	if (r < 0) {
		log_warn("cannot run credential helper '%s': %s", prog, strerror(-r));
		r = -ENOENT;
		goto out_close;
	}
	close(in[0]);
	close(outp[1]);
	in[0] = outp[1] = -1;
	write_all_nosig(in[1], server);
	close(in[1]);
	in[1] = -1;
	r = fd_read_dbuf(outp[0], &b);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (r == 0)
		r = finish(prog, status, &b, out);
out_close:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (outp[i] >= 0)
			close(outp[i]);
	}
	secret_dbuf_release(&b);
	return r;
}
