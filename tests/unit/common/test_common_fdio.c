/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/dbuf.h"
#include "common/fdio.h"
#include "common/le.h"
#include "common/xarray.h"
#include "tap.h"

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	ok(fd >= 0 && fd_write_all(fd, s, strlen(s)) == 0, "wrote %s", path);
	close(fd);
}

static void test_read(const char *dir)
{
	char path[512];
	struct dbuf b;

	snprintf(path, sizeof(path), "%s/f", dir);
	write_file(path, "secret\n");
	dbuf_init(&b, 16);
	is_int(file_read_dbuf(path, &b), 0, "a small file reads whole");
	is_str(b.data, "secret\n", "with its bytes");
	dbuf_release(&b);
	dbuf_init(&b, 4);
	is_int(file_read_dbuf(path, &b), -EFBIG, "past the limit is -EFBIG");
	dbuf_release(&b);
	snprintf(path, sizeof(path), "%s/missing", dir);
	dbuf_init(&b, 16);
	is_int(file_read_dbuf(path, &b), -ENOENT, "a missing file is -ENOENT");
	dbuf_release(&b);
}

static void test_dir(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	int fd;

	is_int(dir_open_at(dfd, "sub", O_RDONLY, false), -ENOENT, "missing without create");
	fd = dir_open_at(dfd, "sub", O_RDONLY, true);
	ok(fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700,
	   "created 0700 and opened");
	close(fd);
	fd = dir_open_at(dfd, "sub", O_PATH, true);
	ok(fd >= 0, "an existing one opens");
	close(fd);
	ok(symlinkat("sub", dfd, "link") == 0, "symlink made");
	fd = dir_open_at(dfd, "link", O_RDONLY, true);
	ok(fd == -ELOOP || fd == -ENOTDIR, "a symlink is not followed (%d)", fd);
	unlinkat(dfd, "link", 0);
	unlinkat(dfd, "sub", AT_REMOVEDIR);
	close(dfd);
}

static void test_xarray_le(void)
{
	uint8_t b[8];
	size_t cap = 0;
	uint32_t cap32 = 0;
	int *v = NULL;

	is_int(xarray_grow_size((void **)&v, &cap, 0, sizeof(*v), 4, 10), 0, "first growth");
	is_int((long long)cap, 4, "to @first");
	is_int(xarray_grow_size((void **)&v, &cap, 4, sizeof(*v), 4, 10), 0, "doubles");
	is_int((long long)cap, 8, "to 8");
	is_int(xarray_grow_size((void **)&v, &cap, 8, sizeof(*v), 4, 10), 0, "clamped");
	is_int((long long)cap, 10, "to max");
	is_int(xarray_grow_size((void **)&v, &cap, 10, sizeof(*v), 4, 10), -EFBIG, "max reached");
	free(v);
	v = NULL;
	is_int(xarray_grow((void **)&v, &cap32, 0, sizeof(*v), 2, 3), 0, "uint32_t form");
	is_int(cap32, 2, "to @first");
	free(v);
	le64_put(b, 0x0102030405060708ull);
	ok(b[0] == 8 && b[7] == 1, "le64 puts the low byte first");
	ok(le64_get(b) == 0x0102030405060708ull && le32_get(b) == 0x05060708u && le16_get(b) == 0x0708,
	   "and reads back");
}

int main(void)
{
	char dir[] = "/tmp/test_fdio.XXXXXX";

	if (!mkdtemp(dir))
		return 1;
	test_read(dir);
	test_dir(dir);
	test_xarray_le();
	{
		char path[512];

		snprintf(path, sizeof(path), "%s/f", dir);
		unlink(path);
	}
	rmdir(dir);
	return tap_done();
}
