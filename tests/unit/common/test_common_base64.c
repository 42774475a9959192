/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "common/base64.h"
#include "common/dbuf.h"
#include "tap.h"

static ssize_t dec(const char *s, char *out, size_t cap, enum b64_strictness m)
{
	ssize_t n = b64_decode(s, strlen(s), out, cap, m);

	if (n >= 0 && (size_t)n < cap)
		out[n] = '\0';
	return n;
}

static void encode(void)
{
	struct dbuf b;

	dbuf_init(&b, 16);
	is_int(b64_encode_dbuf(&b, "user:pass", 9), 0, "encode");
	is_str(b.data, "dXNlcjpwYXNz", "base64 of user:pass");
	dbuf_reset(&b);
	is_int(b64_encode_dbuf(&b, "a", 1), 0, "encode one byte");
	is_str(b.data, "YQ==", "two '=' of padding");
	dbuf_reset(&b);
	is_int(b64_encode_dbuf(&b, "ab", 2), 0, "encode two bytes");
	is_str(b.data, "YWI=", "one '=' of padding");
	dbuf_reset(&b);
	is_int(b64_encode_dbuf(&b, "", 0), 0, "encode nothing");
	is_int((long long)b.len, 0, "to nothing");
	is_int(b64_encode_dbuf(&b, "abc", 3), 0, "encode one group");
	is_int(b64_encode_dbuf(&b, "0123456789", 10), -EFBIG, "past the ceiling is -EFBIG");
	is_str(b.data, "YWJj", "and leaves the buffer as it was");
	dbuf_release(&b);
}

int main(void)
{
	char out[64];

	is_int(dec("aGVsbG8=", out, sizeof(out), B64_PADDED), 5, "padded decodes");
	is_str(out, "hello", "to the right bytes");
	is_int(dec("dXNlcjpwYXNz", out, sizeof(out), B64_PADDED), 9, "no padding needed");
	is_str(out, "user:pass", "decodes user:pass");
	is_int(dec("abc", out, sizeof(out), B64_PADDED), -EBADMSG, "padded mode refuses a bad length");
	is_int(dec("aGk=", out, sizeof(out), B64_PADDED), 2, "one '=' of padding");
	is_int(dec("aA==", out, sizeof(out), B64_PADDED), 1, "two '=' of padding");
	is_int(dec("aGVsbG8", out, sizeof(out), B64_PADDED), -EBADMSG, "padded mode refuses no padding");
	is_int(dec("aGVsbG8", out, sizeof(out), B64_PAD_OPTIONAL), 5, "optional mode accepts it");
	is_str(out, "hello", "unpadded decodes the same bytes");
	is_int(dec("aGVsbG8=", out, sizeof(out), B64_PAD_OPTIONAL), 5, "optional mode accepts padding");
	is_int(dec("aG=k", out, sizeof(out), B64_PADDED), -EBADMSG, "'=' inside is refused");
	is_int(dec("a===", out, sizeof(out), B64_PADDED), -EBADMSG, "three '=' are refused");
	is_int(dec("aGV*", out, sizeof(out), B64_PAD_OPTIONAL), -EBADMSG, "a foreign character is refused");
	is_int(dec("aGVsb", out, sizeof(out), B64_PAD_OPTIONAL), -EBADMSG, "a lone 6-bit tail is refused");
	is_int(dec("aGVsbG8=", out, 4, B64_PADDED), -EFBIG, "more than cap is -EFBIG");
	is_int(dec("aGVsbG8=", out, 5, B64_PADDED), 5, "exactly cap fits");
	is_int(dec("", out, sizeof(out), B64_PADDED), 0, "empty is empty");
	is_int((long long)b64_decoded_max(8), 6, "bound of 8 characters");
	encode();
	return tap_done();
}
