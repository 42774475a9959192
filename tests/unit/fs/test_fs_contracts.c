/* SPDX-License-Identifier: MIT */
/* The contracts the daemon and strata share: the stats xattr protocol and
 * where ECR tokens are kept. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/cache.h"
#include "fs/stats_xattr.h"
#include "tap.h"

static void test_stats_xattr(void)
{
	char name[FS_STATS_NAME_MAX];
	size_t chunks = 0, size = 0, no = 0, len = 0;
	uint64_t snap = 0;
	bool head = false;
	char *h = fs_stats_head(100001, 65536, 42, &len);

	is_str(h, "{\"stratafs_stats_chunks\":2,\"size\":100001,\"snapshot\":42}",
	       "the head as published");
	is_int(len, strlen(h ? h : ""), "with its length");
	is_int(fs_stats_head_parse(h, &chunks, &size, &snap), 0, "the head parses");
	ok(chunks == 2 && size == 100001 && snap == 42, "to its chunk count, size and snapshot");
	free(h);
	is_int(fs_stats_head_parse("{\"mount\":{}}", &chunks, &size, &snap), -ENOENT,
	       "the stats themselves are no head");
	is_int(fs_stats_head_parse("not json", &chunks, &size, &snap), -ENOENT, "nor is garbage");
	is_int(fs_stats_head_parse("{\"stratafs_stats_chunks\":2,\"size\":9}", &chunks, &size,
				   &snap), 0, "a head of a daemon before snapshots parses");
	ok(chunks == 2 && size == 9 && snap == 0, "... as snapshot 0");
	fs_stats_chunk_name(name, 0, 3);
	is_str(name, "user.stratafs.stats.3", "... whose chunks have the names of then");
	fs_stats_chunk_name(name, 42, 7);
	is_str(name, "user.stratafs.stats.42.7", "chunk 7 of snapshot 42's attribute");
	ok(fs_stats_name_parse(FS_STATS_XATTR, &head, &snap, &no) == 0 && head, "the head's name");
	ok(fs_stats_name_parse(name, &head, &snap, &no) == 0 && !head && snap == 42 && no == 7,
	   "a chunk's name");
	fs_stats_chunk_name(name, UINT64_MAX, SIZE_MAX);
	ok(fs_stats_name_parse(name, &head, &snap, &no) == 0 && snap == UINT64_MAX && no == SIZE_MAX,
	   "the longest name fits and parses (%s)", name);
	is_int(fs_stats_name_parse("user.stratafs.stats.4.7x", &head, &snap, &no), -ENODATA,
	       "junk after");
	ok(fs_stats_name_parse("user.stratafs.stats.7", &head, &snap, &no) == 0 && !head &&
	   snap == 0 && no == 7, "a chunk name of a strata before snapshots: the newest's chunk 7");
	is_int(fs_stats_name_parse("user.stratafs.stats.0.7", &head, &snap, &no), -ENODATA,
	       "snapshot 0 is never named");
	is_int(fs_stats_name_parse("user.stratafs.stats.4.", &head, &snap, &no), -ENODATA,
	       "no number");
	is_int(fs_stats_name_parse("user.stratafs.stats.4.-1", &head, &snap, &no), -ENODATA,
	       "a sign");
	is_int(fs_stats_name_parse("user.stratafs.statsx", &head, &snap, &no), -ENODATA,
	       "another name");
	is_int(fs_stats_name_parse("user.other", &head, &snap, &no), -ENODATA, "an unrelated name");
}

static void test_token_dir(void)
{
	char buf[64];

	is_int(fs_cache_token_dir("/c", buf, sizeof(buf)), 0, "a cache dir");
	is_str(buf, "/c/tokens", "its tokens/");
	is_int(fs_cache_token_dir("/c///", buf, sizeof(buf)), 0, "trailing slashes");
	is_str(buf, "/c/tokens", "are dropped");
	is_int(fs_cache_token_dir("/", buf, sizeof(buf)), 0, "the root");
	is_str(buf, "//tokens", "keeps its slash");
	is_int(fs_cache_token_dir("/0123456789012345678901234567890123456789012345678901234567", buf,
				  sizeof(buf)),
	       -ENAMETOOLONG, "too long is refused, never replaced by the default");
	setenv("HOME", "/home/u", 1);
	unsetenv("XDG_CACHE_HOME");
	if (geteuid() == 0) {
		is_int(fs_cache_token_dir(NULL, buf, sizeof(buf)), 0, "root's default");
		is_str(buf, "/var/cache/stratafs/tokens", "under /var/cache");
	} else {
		is_int(fs_cache_token_dir(NULL, buf, sizeof(buf)), 0, "the default");
		is_str(buf, "/home/u/.cache/stratafs/tokens", "under $HOME");
	}
}

int main(void)
{
	test_stats_xattr();
	test_token_dir();
	return tap_done();
}
