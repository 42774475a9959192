/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: ECR GetAuthorizationToken answers (the 200 body, the
 * base64 "user:password" token inside, AWS JSON errors) and the token
 * cache file that keeps them on disk.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "registry/aws/aws_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_token(const char *tok, time_t exp)
{
	char *user = NULL, *pw = NULL;

	if (exp < 1000000000 || exp > 100000000000LL)
		abort();
	if (reg_ecr_token_decode(tok, &user, &pw) != 0 || !*user)
		abort(); /* accepted tokens decode */
	free(user);
	free(pw);
}

static void check_error(const char *body, size_t size, const char *s)
{
	static const long statuses[] = { 400, 403, 429, 500 };
	char type[128];

	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		int r = reg_aws_error_map(statuses[i], NULL, body, size, type, sizeof(type));

		if (r != -EACCES && r != -EAGAIN && r != -EINVAL && r != -EIO)
			abort();
	}
	(void)reg_aws_error_map(400, s, NULL, 0, type, sizeof(type));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reg_ecr_cached cached = { 0 };
	char *tok = NULL, *user = NULL, *pw = NULL, *s;
	time_t exp = 0;

	log_set_level(LOG_LVL_ERR);
	if (reg_ecr_token_parse((const char *)data, size, &tok, &exp) == 0) {
		check_token(tok, exp);
		free(tok);
	}
	if (reg_ecr_cache_parse((const char *)data, size, &cached) == 0)
		reg_ecr_cached_release(&cached);
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_error((const char *)data, size, s);
	if (reg_ecr_token_decode(s, &user, &pw) == 0) {
		free(user);
		free(pw);
	}
	free(s);
	return 0;
}
