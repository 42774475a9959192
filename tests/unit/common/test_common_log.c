/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "common/log.h"
#include "tap.h"

static int evaluated;

static const char *side_effect(void)
{
	evaluated++;
	return "x";
}

int main(void)
{
	enum log_level l;

	is_int(log_level_parse("debug", &l), 0, "parse debug");
	is_int(l, LOG_LVL_DEBUG, "debug level");
	is_int(log_level_parse("WARNING", &l), 0, "parse is case-insensitive");
	is_int(l, LOG_LVL_WARN, "warning level");
	is_int(log_level_parse("loud", &l), -EINVAL, "unknown level rejected");
	log_set_level(LOG_LVL_ERR);
	log_debug("%s", side_effect());
	is_int(evaluated, 0, "arguments of a disabled level are not evaluated");
	log_set_level(LOG_LVL_DEBUG);
	log_debug("%s", side_effect());
	is_int(evaluated, 1, "arguments of an enabled level are evaluated");
	return tap_done();
}
