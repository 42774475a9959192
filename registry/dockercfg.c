/* SPDX-License-Identifier: MIT */
/*
 * Credentials from docker's config.json, in docker's order for host H:
 * credHelpers[H] -> credsStore -> auths[H] (keys may be URLs such as
 * "https://index.docker.io/v1/": compared by host[:port]). Helpers speak
 * the docker-credential-helpers protocol (cred_helper.c). Docker Hub's key
 * is "https://index.docker.io/v1/" for every Hub host name.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "common/base64.h"
#include "common/fdio.h"
#include "common/log.h"
#include "common/secret.h"
#include "registry/registry_int.h"

#define HUB_KEY "https://index.docker.io/v1/"
/* An "auth" that decodes to at most 8 KiB of user:pass. */
#define MAX_AUTH_FIELD (8192 / 3 * 4)

void reg_cred_release(struct reg_cred *cr)
{
	char **f[] = { &cr->username, &cr->password, &cr->identity_token, &cr->registry_token };

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		secret_free_str(*f[i]);
		*f[i] = NULL;
	}
}

static bool is_hub(const char *host)
{
	return strcmp(host, "registry-1.docker.io") == 0 || strcmp(host, "docker.io") == 0 ||
	       strcmp(host, "index.docker.io") == 0;
}

/* "https://host:port/v1/" -> "host:port" compared with @host. */
static bool key_matches(const char *key, const char *host)
{
	const char *s = strstr(key, "://");
	size_t n;

	s = s ? s + 3 : key;
	n = strcspn(s, "/");
	if (is_hub(host)) {
		return (n == 15 && strncmp(s, "index.docker.io", 15) == 0) ||
		       (n == 9 && strncmp(s, "docker.io", 9) == 0) ||
		       (n == 20 && strncmp(s, "registry-1.docker.io", 20) == 0);
	}
	return strlen(host) == n && strncasecmp(s, host, n) == 0;
}

static int dup_field(json_t *o, const char *key, char **out)
{
	const char *v = json_string_value(json_object_get(o, key));

	if (!v || !*v)
		return 0;
	*out = strdup(v);
	return *out ? 0 : -ENOMEM;
}

/*
 * "user:pass" from an auths entry's base64 "auth" into a new string of
 * @cap bytes (NUL-terminated, trailing NULs dropped); NULL when malformed.
 */
static char *decode_auth(const char *auth, size_t *cap)
{
	size_t n = strlen(auth);
	ssize_t got;
	char *plain;

	while (n && (auth[n - 1] == '\n' || auth[n - 1] == ' '))
		n--;
	if (n > MAX_AUTH_FIELD)
		return NULL;
	*cap = b64_decoded_max(n) + 1;
	plain = malloc(*cap);
	if (!plain)
		return NULL;
	got = b64_decode(auth, n, plain, *cap - 1, B64_PADDED);
	while (got > 0 && plain[got - 1] == '\0')
		got--;
	if (got >= 0)
		plain[got] = '\0';
	if (got < 0 || !strchr(plain, ':')) {
		secret_free(plain, *cap);
		return NULL;
	}
	return plain;
}

/* One auths entry: auth (base64 user:pass), username/password, tokens. */
static int from_entry(json_t *e, struct reg_cred *out)
{
	const char *auth = json_string_value(json_object_get(e, "auth"));
	char *plain, *colon;
	size_t cap;
	int r = 0;

	if (auth && *auth) {
		plain = decode_auth(auth, &cap);
		if (plain) {
			colon = strchr(plain, ':');
			out->username = strndup(plain, (size_t)(colon - plain));
			out->password = strdup(colon + 1);
			secret_free(plain, cap);
		} else {
			log_warn("ignoring a malformed 'auth' entry in the docker config");
		}
	}
	if (!out->username && (r = dup_field(e, "username", &out->username)) == 0)
		r = dup_field(e, "password", &out->password);
	if (r == 0)
		r = dup_field(e, "identitytoken", &out->identity_token);
	if (r == 0)
		r = dup_field(e, "registrytoken", &out->registry_token);
	return r;
}

static int from_helper(reg_cred_helper_fn run, const char *helper, const char *host,
		       struct reg_cred *out)
{
	int r = run(helper, is_hub(host) ? HUB_KEY : host, out);

	if (r == -ENOENT)
		return 1; /* not found: try the next source */
	if (r < 0)
		log_warn("credential helper 'docker-credential-%s' failed for '%s': going on anonymous",
			 helper, host);
	return r < 0 ? 1 : 0;
}

static int lookup(json_t *root, const char *host, reg_cred_helper_fn run, struct reg_cred *out)
{
	json_t *helpers = json_object_get(root, "credHelpers");
	json_t *auths = json_object_get(root, "auths");
	const char *store = json_string_value(json_object_get(root, "credsStore"));
	const char *key;
	json_t *v;
	int r;

	json_object_foreach(helpers, key, v) {
		if (json_is_string(v) && key_matches(key, host)) {
			r = from_helper(run, json_string_value(v), host, out);
			if (r <= 0)
				return r;
		}
	}
	if (store && *store) {
		r = from_helper(run, store, host, out);
		if (r <= 0)
			return r;
	}
	json_object_foreach(auths, key, v) {
		if (json_is_object(v) && key_matches(key, host))
			return from_entry(v, out);
	}
	return 0;
}

int reg_cred_parse(const char *json, size_t len, const char *name, const char *host,
		   reg_cred_helper_fn run, struct reg_cred *out)
{
	json_t *root;
	int r;

	memset(out, 0, sizeof(*out));
	root = json_loadb(json, len, 0, NULL);
	if (!json_is_object(root)) {
		log_err("cannot parse docker config '%s'", name);
		json_decref(root);
		return -EBADMSG;
	}
	r = lookup(root, host, run, out);
	json_decref(root);
	if (r < 0)
		reg_cred_release(out);
	return r;
}

static char *default_path(void)
{
	const char *dir = getenv("DOCKER_CONFIG");
	const char *home = getenv("HOME");
	struct dbuf b;

	dbuf_init(&b, 4096);
	if (dir && *dir)
		dbuf_printf(&b, "%s/config.json", dir);
	else if (home && *home)
		dbuf_printf(&b, "%s/.docker/config.json", home);
	if (!b.len) {
		dbuf_release(&b);
		return NULL;
	}
	return dbuf_take(&b, NULL);
}

int reg_cred_lookup(const char *path, const char *host, struct reg_cred *out)
{
	char *def = path ? NULL : default_path();
	struct dbuf b;
	int r;

	memset(out, 0, sizeof(*out));
	if (!path)
		path = def;
	if (!path)
		return 0;
	dbuf_init(&b, REG_MAX_DOCKER_CONFIG);
	r = file_read_dbuf(path, &b);
	if (r == -ENOENT) {
		r = 0;
		goto out_release;
	}
	if (r < 0) {
		log_err("cannot read docker config '%s': %s", path, strerror(-r));
		goto out_release;
	}
	r = reg_cred_parse(b.data, b.len, path, host, reg_cred_helper_get, out);
out_release:
	secret_dbuf_release(&b);
	free(def);
	return r;
}
