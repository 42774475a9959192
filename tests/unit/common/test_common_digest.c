/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "common/digest.h"
#include "tap.h"

int main(void)
{
	uint8_t raw[DIGEST_SHA256_LEN], raw2[DIGEST_SHA256_LEN];
	char s[DIGEST_STR_LEN];
	struct digest_ctx *ctx = NULL;

	digest_sha256("", 0, raw);
	digest_format(raw, s);
	is_str(s, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	       "sha256 of the empty string");
	digest_sha256("{}", 2, raw);
	digest_format(raw, s);
	is_str(s, "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
	       "sha256 of {} (the OCI empty descriptor)");
	is_int(digest_ctx_new(&ctx), 0, "context");
	digest_ctx_update(ctx, "{", 1);
	digest_ctx_update(ctx, "}", 1);
	is_int(digest_ctx_final(ctx, raw2), 0, "final");
	ok(memcmp(raw, raw2, sizeof(raw)) == 0, "streaming equals one-shot");
	digest_ctx_free(ctx);
	is_int(digest_parse(s, raw2), 0, "parse a formatted digest");
	ok(memcmp(raw, raw2, sizeof(raw)) == 0, "parse round-trips");
	is_int(digest_parse("sha256:44136FA355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", NULL),
	       -EINVAL, "uppercase hex rejected");
	is_int(digest_parse("sha512:abcd", NULL), -EINVAL, "other algorithms rejected");
	is_int(digest_parse("sha256:44136fa3", NULL), -EINVAL, "short encoding rejected");
	is_int(digest_parse("sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a0", NULL),
	       -EINVAL, "long encoding rejected");
	ok(!digest_is_valid(""), "empty string is not a digest");
	ok(digest_sha256_is("{}", 2, s), "digest_sha256_is: the bytes of a digest");
	ok(!digest_sha256_is("{ }", 3, s) && !digest_sha256_is("{}", 2, "sha256:44"),
	   "digest_sha256_is: other bytes, a malformed digest");
	return tap_done();
}
