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

#include "fs/als_int.h"
#include "tap.h"

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
