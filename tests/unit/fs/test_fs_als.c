/* SPDX-License-Identifier: MIT */
/*
 * The Additional Layer Store without a registry: the root, names that are
 * not a base64 reference (ENOENT before any request), a reference nothing
 * answers (ENOENT, not cached), inodes that do not exist, the empty stats.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/als_impl.h"
#include "fs/als_int.h"
#include "tap.h"

/*
 * -o username, password_file, insecure and ca_file go to the registry -o
 * registry names, never to another a runtime asks for.
 */
static void test_registry_scope(void)
{
	static const struct {
		const char *ref;
		bool theirs;
	} refs[] = {
		{ "127.0.0.1:5000/app:1", true },
		{ "127.0.0.1:5001/app:1", false },      /* another port */
		{ "localhost:5000/app:1", false },      /* another name of it: not the one given */
		{ "docker.io/library/alpine", false },
		{ "alpine", false },
		{ "evil.example/127.0.0.1:5000/x", false },
	};
	static const char *const bad[] = { "myregistry", "127.0.0.1:5000/x", "", "a b" };
	struct fs_image_opts o = { 0 };
	struct fs_als *a = NULL;
	struct reg_opts r;

	reg_opts_init(&o.reg);
	o.reg.username = "alice";
	o.reg.password = "s3cret";
	o.reg.insecure = true;
	o.reg.ca_file = "/etc/private-ca.pem";
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		a = NULL;
		ok(fs_als_new(&o, false, bad[i], &a) < 0 && !a,
		   "-o registry='%s' is refused (a bare name is a Docker Hub repository)", bad[i]);
		fs_als_free(a);
	}
	is_int(fs_als_new(&o, false, "docker.io", &a), 0, "-o registry=docker.io");
	fs_als_reg_opts(a, "library/alpine:3", &r);
	ok(r.username && r.password, "... Docker Hub's images get the credentials");
	fs_als_free(a);
	is_int(fs_als_new(&o, false, "127.0.0.1:5000", &a), 0, "-o registry=127.0.0.1:5000");
	for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
		fs_als_reg_opts(a, refs[i].ref, &r);
		ok(refs[i].theirs ? r.username && r.password && r.insecure && r.ca_file
				  : !r.username && !r.password && !r.insecure && !r.ca_file,
		   "%s: %s", refs[i].ref, refs[i].theirs ? "credentials, insecure, CA" : "none of them");
	}
	fs_als_free(a);
}

int main(void)
{
	static const char *const bad[] = {
		"",                     /* empty */
		"abc",                  /* not a multiple of 4 */
		"not base64!",          /* alphabet */
		"YQ=a",                 /* padding inside */
		"YSBi",                 /* "a b": a space is no reference */
		"AAEC",                 /* control bytes */
	};
	struct fs_image_opts o = { 0 };
	struct fs_als_node root, n;
	struct fs_als *a = NULL;
	struct stat st;
	char *stats;
	size_t len = 0;

	reg_opts_init(&o.reg);
	fs_store_opts_init(&o.store);
	o.reg.retries = 0;
	o.reg.connect_timeout_ms = 2000;
	o.store.cache_dir = "/nonexistent/stratafs-test-cache"; /* never reached */
	test_registry_scope();
	is_int(fs_als_new(&o, false, NULL, &a), 0, "new store");
	is_int(fs_als_get(a, FS_ALS_ROOT_INO, &root), 0, "root exists");
	is_int(root.kind, FS_ALS_ROOT, "root kind");
	fs_als_stat(a, &root, &st);
	ok(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0755, "root is a 0755 dir");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(fs_als_lookup(a, &root, bad[i], &n), -ENOENT, "'%s' is ENOENT", bad[i]);
	/* "127.0.0.1:1/x/y:y": port 1 refuses at once */
	is_int(fs_als_lookup(a, &root, "MTI3LjAuMC4xOjEveC95Onk=", &n), -ENOENT,
	       "a registry that does not answer: ENOENT");
	is_int(fs_als_lookup(a, &root, "MTI3LjAuMC4xOjEveC95Onk=", &n), -ENOENT,
	       "asked again: ENOENT again (failures are not cached)");
	is_int(fs_als_child(a, &root, 0, &n, &(const char *){ NULL }), -ENOENT,
	       "the root lists nothing");
	is_int(fs_als_get(a, 2, &n), -ENOENT, "inode 2: none");
	is_int(fs_als_get(a, (UINT64_C(1) << 32) | 1, &n), -ENOENT, "slot 1 not taken: none");
	is_int(fs_als_get(a, (UINT64_C(7) << 32) | 0xFFFFFFF0u, &n), -ENOENT,
	       "an image dir inode of no image: none");
	stats = fs_als_stats_json(a, &len);
	ok(stats && strcmp(stats, "{\"store\":{\"images\":[]}}") == 0 && len == strlen(stats),
	   "stats of an empty store (%s)", stats ? stats : "NULL");
	free(stats);
	fs_als_free(a);
	fs_als_free(NULL);
	return tap_done();
}
