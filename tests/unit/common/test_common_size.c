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

/* count_parse: a plain decimal count of at most max */
static void counts(void)
{
	const char *refused[] = { "", "-1", " 1", "+1", "10s", "1K", "0x10", "101", "18446744073709551616" };
	uint64_t v = 7;

	is_int(count_parse("0", 100, &v), 0, "count '0'");
	is_int((int)v, 0, "... is 0");
	is_int(count_parse("100", 100, &v), 0, "count '100' (the max)");
	is_int((int)v, 100, "... is 100");
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		is_int(count_parse(refused[i], 100, &v), -EINVAL, "count '%s' is refused", refused[i]);
	is_int(count_parse("18446744073709551615", UINT64_MAX, &v), 0, "count UINT64_MAX with that max");
}

int main(void)
{
	counts();
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
