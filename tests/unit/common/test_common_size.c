/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>

#include "common/size.h"
#include "tap.h"

static void good(const char *s, uint64_t want)
{
	uint64_t v = 0;
	int r = size_parse(s, &v);

	ok(r == 0 && v == want, "'%s' is %llu", s, (unsigned long long)want);
}

static void bad(const char *s)
{
	uint64_t v = 0;

	is_int(size_parse(s, &v), -EINVAL, "'%s' is refused", s);
}

int main(void)
{
	good("0", 0);
	good("4096", 4096);
	good("64K", 64ull << 10);
	good("64k", 64ull << 10);
	good("13M", 13ull << 20);
	good("2MiB", 2ull << 20);
	good("10G", 10ull << 30);
	good("1T", 1ull << 40);
	good("100B", 100);
	good("16777215T", 16777215ull << 40);
	bad("");
	bad("M");
	bad("-1");
	bad(" 1");
	bad("+1");
	bad("1X");
	bad("1KK");
	bad("1iB");
	bad("16777216T");
	bad("99999999999999999999");
	return tap_done();
}
