/* SPDX-License-Identifier: MIT */
/*
 * Credentials from docker config.json: auths (base64 auth, username/password,
 * identitytoken, URL keys), credHelpers and credsStore through a real helper
 * process (docker-credential-stratatest, a shell script beside this test,
 * put on PATH here).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "registry/registry_int.h"
#include "tap.h"

static char dir[] = "/tmp/test_dockercfg.XXXXXX";
static char path[256];

static void write_config(const char *json)
{
	FILE *f = fopen(path, "w");

	fputs(json, f);
	fclose(f);
}

static void expect(const char *host, int ret, const char *user, const char *pass,
		   const char *idtok, const char *what)
{
	struct reg_cred cr = { 0 };
	int r = reg_cred_lookup(path, host, &cr);

	is_int(r, ret, "%s: result", what);
	is_str(cr.username, user, "%s: username", what);
	is_str(cr.password, pass, "%s: password", what);
	is_str(cr.identity_token, idtok, "%s: identity token", what);
	reg_cred_release(&cr);
}

static void auths(void)
{
	write_config("{\"auths\":{"
		     "\"https://index.docker.io/v1/\":{\"auth\":\"aHViOmh1YnB3\"},"
		     "\"ghcr.io\":{\"auth\":\"dXNlcjpwYTpzcw==\"},"
		     "\"https://old.example.com/v1/\":{\"username\":\"u2\",\"password\":\"p2\"},"
		     "\"reg.example.com:5000\":{\"identitytoken\":\"refresh-me\"},"
		     "\"bad.example.com\":{\"auth\":\"!!!notbase64\"}}}");
	expect("registry-1.docker.io", 0, "hub", "hubpw", NULL, "Docker Hub key");
	expect("ghcr.io", 0, "user", "pa:ss", NULL, "auth split at the first colon");
	expect("old.example.com", 0, "u2", "p2", NULL, "URL key, plain username/password");
	expect("reg.example.com:5000", 0, NULL, NULL, "refresh-me", "identitytoken");
	expect("reg.example.com", 0, NULL, NULL, NULL, "port must match");
	expect("bad.example.com", 0, NULL, NULL, NULL, "malformed auth ignored");
	expect("nowhere.example.com", 0, NULL, NULL, NULL, "no entry: anonymous");
}

static void helpers(void)
{
	write_config("{\"auths\":{\"fallback.example.com\":{\"auth\":\"ZmI6ZmI=\"}},"
		     "\"credHelpers\":{\"helper.example.com\":\"stratatest\","
		     "\"token.example.com\":\"stratatest\","
		     "\"broken.example.com\":\"stratatest\","
		     "\"garbage.example.com\":\"stratatest\","
		     "\"fallback.example.com\":\"stratatest\","
		     "\"missing.example.com\":\"does-not-exist\"}}");
	expect("helper.example.com", 0, "hu", "hs", NULL, "credHelpers");
	expect("token.example.com", 0, NULL, NULL, "idtok", "helper <token> user");
	expect("broken.example.com", 0, NULL, NULL, NULL, "failing helper: anonymous");
	expect("garbage.example.com", 0, NULL, NULL, NULL, "helper printing junk: anonymous");
	expect("fallback.example.com", 0, "fb", "fb", NULL, "helper not found: auths");
	expect("missing.example.com", 0, NULL, NULL, NULL, "helper not on PATH: anonymous");

	write_config("{\"credsStore\":\"stratatest\","
		     "\"auths\":{\"other.example.com\":{\"auth\":\"bzpw\"}}}");
	expect("store.example.com:5000", 0, "su", "s:with:colons", NULL, "credsStore");
	expect("registry-1.docker.io", 0, "hub", "hubsecret", NULL, "credsStore for Docker Hub");
	expect("other.example.com", 0, "o", "p", NULL, "credsStore miss falls back to auths");
}

static void files(void)
{
	struct reg_cred cr = { 0 };
	char env[300];

	write_config("{\"auths\":");
	is_int(reg_cred_lookup(path, "x.io", &cr), -EBADMSG, "broken config.json");
	is_int(reg_cred_lookup("/nonexistent/config.json", "x.io", &cr), 0, "missing file");
	ok(!cr.username, "missing file: anonymous");
	write_config("{\"auths\":{\"env.example.com\":{\"auth\":\"ZTpl\"}}}");
	snprintf(env, sizeof(env), "%s", dir);
	setenv("DOCKER_CONFIG", env, 1);
	is_int(reg_cred_lookup(NULL, "env.example.com", &cr), 0, "$DOCKER_CONFIG");
	is_str(cr.username, "e", "$DOCKER_CONFIG: username");
	reg_cred_release(&cr);
}

int main(void)
{
	const char *src = getenv("TEST_SRCDIR");
	const char *old = getenv("PATH");
	char newpath[4096];

	if (!src || !mkdtemp(dir)) {
		printf("Bail out! TEST_SRCDIR not set or no temp dir\n");
		return 1;
	}
	snprintf(newpath, sizeof(newpath), "%s:%s", src, old ? old : "/usr/bin:/bin");
	setenv("PATH", newpath, 1);
	snprintf(path, sizeof(path), "%s/config.json", dir);
	auths();
	helpers();
	files();
	unlink(path);
	rmdir(dir);
	return tap_done();
}
