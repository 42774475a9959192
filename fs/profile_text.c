/* SPDX-License-Identifier: MIT */
/*
 * The text form of an access profile (fs/profile.h): a strict parser (a
 * profile comes from the registry, so every line is checked and every
 * count bounded before anything is allocated for it) and the pinned
 * profile of an image, fetched by the digest its manifest names.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/fdio.h"
#include "common/log.h"
#include "fs/image.h"
#include "fs/profile.h"

#define HEADER "stratafs-profile 1"

/* A decimal number without sign, leading zeros or overflow, ending at @end. */
static int parse_u64(const char *p, const char *end, uint64_t *out)
{
	uint64_t v = 0;

	if (p == end || (*p == '0' && end - p > 1))
		return -EBADMSG;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
			return -EBADMSG;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*out = v;
	return 0;
}

/* Split a line into at most 4 space-separated words; their count. */
static size_t words(const char *p, const char *end, const char *w[4], const char *we[4])
{
	size_t n = 0;

	while (p < end && n < 4) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));

		w[n] = p;
		we[n] = sp ? sp : end;
		n++;
		if (!sp)
			return n;
		p = sp + 1;
		if (p == end)
			return 5; /* trailing space */
	}
	return p < end ? 5 : n;
}

static int add_layer(struct fs_profile_doc *d, const char *w, const char *we)
{
	size_t n = (size_t)(we - w);

	if (d->n_spans || n >= DIGEST_STR_LEN)
		return -EBADMSG;
	if (d->n_layers == FS_PROFILE_MAX_LAYERS)
		return -EFBIG;
	memcpy(d->digests[d->n_layers], w, n);
	d->digests[d->n_layers][n] = '\0';
	if (!digest_is_valid(d->digests[d->n_layers]))
		return -EBADMSG;
	d->n_layers++;
	return 0;
}

static int add_span(struct fs_profile_doc *d, const char *const w[4], const char *const we[4])
{
	struct fs_profile_span sp;
	uint64_t layer;

	if (parse_u64(w[1], we[1], &layer) < 0 || layer >= d->n_layers ||
	    parse_u64(w[2], we[2], &sp.u_start) < 0 || parse_u64(w[3], we[3], &sp.u_len) < 0 ||
	    sp.u_len == 0 || sp.u_start + sp.u_len < sp.u_start)
		return -EBADMSG;
	if (d->n_spans == FS_PROFILE_MAX_SPANS)
		return -EFBIG;
	sp.layer = (uint32_t)layer;
	d->spans[d->n_spans++] = sp;
	return 0;
}

static int parse_line(struct fs_profile_doc *d, const char *p, const char *end)
{
	const char *w[4], *we[4];
	size_t n = words(p, end, w, we);

	if (n == 2 && we[0] - w[0] == 5 && memcmp(w[0], "layer", 5) == 0)
		return add_layer(d, w[1], we[1]);
	if (n == 4 && we[0] - w[0] == 4 && memcmp(w[0], "span", 4) == 0)
		return add_span(d, w, we);
	return -EBADMSG;
}

/* Lines in @text: bounds the allocations before parsing. */
static size_t count_lines(const char *text, size_t len)
{
	size_t n = 0;

	for (const char *p = text; (p = memchr(p, '\n', len - (size_t)(p - text))); p++)
		n++;
	return n;
}

int fs_profile_parse(const char *text, size_t len, struct fs_profile_doc *out)
{
	size_t hl = strlen(HEADER), lines;
	const char *p, *end = text + len;
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (len > FS_PROFILE_MAX_BYTES)
		return -EFBIG;
	if (len < hl + 1 || memcmp(text, HEADER "\n", hl + 1) != 0 || text[len - 1] != '\n' ||
	    memchr(text, '\0', len))
		return -EBADMSG;
	lines = count_lines(text, len) - 1;
	if (lines > FS_PROFILE_MAX_SPANS + FS_PROFILE_MAX_LAYERS)
		return -EFBIG;
	out->digests = calloc(lines < FS_PROFILE_MAX_LAYERS ? lines + 1 : FS_PROFILE_MAX_LAYERS,
			      sizeof(*out->digests));
	out->spans = calloc(lines + 1, sizeof(*out->spans));
	if (!out->digests || !out->spans)
		r = -ENOMEM;
	for (p = text + hl + 1; r == 0 && p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		r = parse_line(out, p, nl);
		p = nl + 1;
	}
	if (r < 0)
		fs_profile_doc_release(out);
	return r;
}

void fs_profile_doc_release(struct fs_profile_doc *d)
{
	free(d->digests);
	free(d->spans);
	memset(d, 0, sizeof(*d));
}

int fs_image_profile_pinned(struct fs_image *img, char **text, size_t *len)
{
	const struct reg_manifest *m = img->manifest;
	const char *pin = NULL;
	int r;

	for (size_t i = m->n_layers; i-- > 0 && !pin;)
		pin = m->layers[i].stratafs_profile;
	if (!pin)
		return -ENOENT;
	r = reg_blob_get(img->client, pin, FS_PROFILE_MAX_BYTES, text, len);
	if (r < 0)
		log_warn("the profile '%s' the manifest pins is unavailable: %s; no profile "
			 "prefetch", pin, strerror(-r));
	return r;
}

int fs_profile_read_file(const char *path, char **text, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;
	size_t got = 0;
	ssize_t n = 1;
	char *buf = NULL;

	if (fd < 0)
		return -errno;
	buf = malloc(FS_PROFILE_MAX_BYTES + 2);
	while (buf && n > 0 && got <= FS_PROFILE_MAX_BYTES) {
		n = read(fd, buf + got, FS_PROFILE_MAX_BYTES + 1 - got);
		got += n > 0 ? (size_t)n : 0;
	}
	r = !buf ? -ENOMEM : n < 0 ? -errno : got > FS_PROFILE_MAX_BYTES ? -EFBIG : 0;
	close(fd);
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[got] = '\0';
	*text = buf;
	*len = got;
	return 0;
}

int fs_store_profile_save(struct fs_store *s, const char *path)
{
	size_t len = 0, tl = strlen(path) + 16;
	char *text = fs_store_profile_text(s, &len), *tmp = malloc(tl);
	int fd = -1, r = text && tmp ? 0 : -ENOMEM;

	/*
	 * A name nobody can have taken (a leftover of a killed daemon with our
	 * pid, a file another user made in a shared dir), then on disk before
	 * the rename: a crash never leaves an empty profile under @path.
	 */
	for (int tries = 0; r == 0 && fd < 0 && tries < 8; tries++) {
		uint64_t rnd = 0;

		if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			r = -EIO;
			break;
		}
		snprintf(tmp, tl, "%s.%012llx", path, (unsigned long long)(rnd & 0xffffffffffffull));
		/* 0644 less the umask, as the file's own name would get */
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0 && errno != EEXIST)
			r = -errno;
	}
	if (r == 0 && fd < 0)
		r = -EEXIST;
	if (r == 0)
		r = fd_write_all(fd, text, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (fd >= 0 && close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0 && fd >= 0)
		unlink(tmp);
	if (r < 0)
		log_err("cannot write the access profile to '%s': %s", path, strerror(-r));
	else
		log_info("access profile written to '%s' (%zu bytes)", path, len);
	free(text);
	free(tmp);
	return r;
}
