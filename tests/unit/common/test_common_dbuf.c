/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>

#include "common/dbuf.h"
#include "tap.h"

int main(void)
{
	struct dbuf b;
	char *p;
	size_t n;

	dbuf_init(&b, 10);
	is_int(dbuf_add(&b, "hello", 5), 0, "add within ceiling");
	is_int(dbuf_printf(&b, "%d", 1234), 0, "printf within ceiling");
	is_str(b.data, "hello1234", "contents NUL-terminated");
	is_int(dbuf_add(&b, "xy", 2), -EFBIG, "growing past the ceiling is -EFBIG");
	is_int((long long)b.len, 9, "failed add leaves the buffer unchanged");
	is_int(dbuf_printf(&b, "%s", "ab"), -EFBIG, "printf past the ceiling is -EFBIG");
	is_int(dbuf_add(&b, "z", 1), 0, "exactly at the ceiling is fine");
	p = dbuf_take(&b, &n);
	is_str(p, "hello1234z", "take hands the bytes over");
	is_int((long long)n, 10, "take reports the length");
	ok(b.data == NULL && b.len == 0, "take empties the buffer");
	free(p);
	dbuf_release(&b);
	dbuf_release(&b);
	ok(1, "release twice is harmless");
	return tap_done();
}
