/* SPDX-License-Identifier: MIT */
/*
 * idx_span_decode() on hostile compressed bytes, for valid indexes of
 * layers made at start-up: gzip one member (mid-member checkpoints with
 * bits and windows), gzip many members, zstd many frames, zstd one frame
 * (spans decoded from the frame start), plain tar. Input: byte 0 picks the
 * layer, byte 1 the span, byte 2 the mode: even = the span's real bytes
 * XOR the rest of the input (deep, valid-looking corruption), odd = the
 * rest of the input itself, zero-padded. A decode that succeeds must give
 * exactly the span's true bytes: the span digest is the last line of
 * defence, this checks it holds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "index/index.h"
#include "../../unit/index/test_index_span_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_LAYERS 5

static struct {
	struct su_buf blob;
	struct idx_layer *l;
} layers[N_LAYERS];
static struct tw tar;

static void setup(void)
{
	su_make_tar(&tar, 24, 30000, 77);
	layers[0].blob = su_gzip(tar.buf, tar.len, 1, 0);
	layers[1].blob = su_gzip(tar.buf, tar.len, 5, 0);
	layers[2].blob = su_zstd(tar.buf, tar.len, 6);
	layers[3].blob = su_zstd(tar.buf, tar.len, 1);
	layers[4].blob.p = malloc(tar.len);
	memcpy(layers[4].blob.p, tar.buf, tar.len);
	layers[4].blob.len = tar.len;
	for (int i = 0; i < N_LAYERS; i++)
		if (su_build(layers[i].blob.p, layers[i].blob.len, 64 << 10, &layers[i].l, NULL) != 0)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct idx_layer *l;
	struct idx_span sp;
	uint8_t *c, *out;
	size_t clen;
	uint32_t id;

	if (!layers[0].l)
		setup();
	if (size < 3)
		return 0;
	l = layers[data[0] % N_LAYERS].l;
	id = data[1] % idx_span_count(l);
	if (idx_span_get(l, id, &sp) != 0)
		abort();
	clen = sp.c_end - sp.c_start;
	c = calloc(1, clen);
	out = malloc(sp.u_len);
	if (!c || !out)
		abort();
	if (data[2] % 2 == 0) {
		memcpy(c, layers[data[0] % N_LAYERS].blob.p + sp.c_start, clen);
		for (size_t i = 3; i < size; i++)
			c[(i - 3) % clen] ^= data[i];
	} else {
		memcpy(c, data + 3, size - 3 < clen ? size - 3 : clen);
	}
	if (idx_span_decode(l, id, c, clen, out, sp.u_len) == 0 &&
	    memcmp(out, tar.buf + sp.u_start, sp.u_len) != 0)
		abort();
	free(c);
	free(out);
	return 0;
}
