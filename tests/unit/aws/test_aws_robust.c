/* SPDX-License-Identifier: MIT */
/*
 * Robustness of the parsers of registry/aws against hostile input: random
 * and mutated bytes into the token answer, credentials JSON, AWS error
 * bodies, ECR host names, ISO 8601 times, and SigV4 requests with odd
 * paths, queries and headers. Deterministic (fixed seed); the assertion is
 * that every call returns a defined code and (under ASan/UBSan/valgrind)
 * touches no byte it should not.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "registry/aws/aws.h"
#include "tap.h"

static uint64_t seed = 0x5eed5eed5eedULL;

static uint32_t rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return (uint32_t)seed;
}

static const char *const seeds[] = {
	"{\"authorizationData\":[{\"authorizationToken\":\"QVdTOnB3\",\"expiresAt\":1.7E9}]}",
	"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\",\"Token\":\"t\",\"Expiration\":\"2026-01-01T00:00:00Z\"}",
	"{\"__type\":\"com.amazonaws.ecr#ThrottlingException\",\"message\":\"Rate exceeded\"}",
	"123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
	"2026-11-28T05:00:00.123+01:30",
	"/a/./b/../c//d/%E1%88%B4 x",
	"a=b&c=%zz&%E1=&&=x&k",
};

/* A seed string with random bytes flipped, inserted, or cut. */
static size_t mutate(const char *s, char *out, size_t cap)
{
	size_t n = strlen(s), i, k;

	if (n >= cap)
		n = cap - 1;
	memcpy(out, s, n);
	for (k = rnd() % 6; k > 0; k--) {
		i = n ? rnd() % n : 0;
		switch (rnd() % 4) {
		case 0:
			out[i] = (char)(rnd() & 0xff);
			break;
		case 1:
			n = i;
			break;
		case 2:
			if (n + 1 < cap) {
				memmove(out + i + 1, out + i, n - i);
				out[i] = "{}[]\":,#%./=&0Ee-+ \t\n\\"[rnd() % 23];
				n++;
			}
			break;
		default:
			out[i] = '\0';
			break;
		}
	}
	out[n] = '\0';
	return n;
}

static void one_round(char *buf, size_t cap)
{
	const char *s = seeds[rnd() % (sizeof(seeds) / sizeof(seeds[0]))];
	size_t n = mutate(s, buf, cap), len = strlen(buf);
	struct reg_aws_creds c;
	struct reg_ecr_host h;
	char *tok = NULL, t[32];
	time_t e;
	int r;

	r = reg_ecr_token_parse(buf, n, &tok, &e);
	if (r == 0)
		free(tok);
	reg_aws_creds_parse_json(buf, n, "fuzz", &c);
	reg_aws_error_map(400 + (long)(rnd() % 200), (rnd() & 1) ? buf : NULL, buf, n, t,
			  sizeof(t));
	reg_ecr_host_parse(buf, &h);
	reg_aws_parse_iso8601(buf, &e);
	{
		struct reg_aws_creds k = { .access_key_id = "AKID", .secret_access_key = "s" };
		struct reg_sigv4_header hd[3] = {
			{ "Host", "example.com" }, { buf, buf }, { "X-Amz-Date", "20150830T123600Z" },
		};
		struct reg_sigv4_req req = {
			.method = "GET", .path = buf, .query = buf, .headers = hd,
			.n_headers = len ? 3 : 2, .payload = buf, .payload_len = n,
			.normalize_path = rnd() & 1,
		};
		struct reg_sigv4_out out;

		if (reg_sigv4_sign(&k, "us-east-1", "svc", "20150830T123600Z", &req, &out) == 0)
			reg_sigv4_out_release(&out);
	}
}

int main(void)
{
	char *buf = malloc(512);
	int i;

	log_set_level(LOG_LVL_ERR); /* the warnings about bad input are expected */
	for (i = 0; i < 20000; i++)
		one_round(buf, 512);
	ok(1, "20000 hostile inputs through every parser without a crash");
	{
		/* Header values far past any buffer of the signer. */
		char *big = malloc(70000);
		struct reg_aws_creds k = { .access_key_id = "AKID", .secret_access_key = "s" };
		struct reg_sigv4_header hd[2] = { { "Host", "h" }, { "X-Big", big } };
		struct reg_sigv4_req req = { .method = "GET", .path = "/", .headers = hd,
					     .n_headers = 2 };
		struct reg_sigv4_out out;

		memset(big, 'a', 69999);
		big[69999] = '\0';
		is_int(reg_sigv4_sign(&k, "r", "s", "20150830T123600Z", &req, &out), -EFBIG,
		       "a 70 KB header is refused with EFBIG");
		free(big);
	}
	free(buf);
	return tap_done();
}
