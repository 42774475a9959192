/* SPDX-License-Identifier: MIT */
/*
 * Access profiles: which spans a build read, in the order it first needed
 * them, so the next mount of the same cache can fetch them before they are
 * asked for (fs/profile.c records and replays, fs/profile_text.c reads and
 * writes the text form).
 *
 * The text form, one record a line, '\n' ended, nothing else allowed:
 *
 *     stratafs-profile 1
 *     layer sha256:<64 hex>            (every layer line before any span line)
 *     span <layer line no> <u_start> <u_len>
 *
 * A span is named by the layer's blob digest and its uncompressed range in
 * the layer's tar, as the layer's index cuts it: a replay uses only spans
 * the mounted image's indexes have with exactly that range, and ignores
 * the others (counted as stale, logged once). A profile is a hint for the
 * order of prefetching, nothing is served from it; still it must come from
 * a document something trusted vouches for (the manifest's pin,
 * REG_ANNOT_STRATAFS_PROFILE, or a file the user names), and it is bounded
 * (FS_PROFILE_MAX_BYTES, FS_PROFILE_MAX_SPANS) and validated as a whole.
 */
#ifndef FS_PROFILE_H
#define FS_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/digest.h"

struct fs_store;
struct fs_image;

#define FS_PROFILE_MAX_BYTES (8u << 20)
#define FS_PROFILE_MAX_SPANS (1u << 17)
#define FS_PROFILE_MAX_LAYERS 1024u

struct fs_profile_span {
	uint32_t layer; /* into digests[] */
	uint64_t u_start, u_len;
};

struct fs_profile_doc {
	char (*digests)[DIGEST_STR_LEN];
	size_t n_layers;
	struct fs_profile_span *spans;
	size_t n_spans;
};

/* Parse and validate the text form: 0, -EBADMSG (malformed), -EFBIG (over a bound), -ENOMEM. */
int fs_profile_parse(const char *text, size_t len, struct fs_profile_doc *out);
void fs_profile_doc_release(struct fs_profile_doc *d);

/* Record every span fs_store_read() reads from now on (the daemon does; tools do not). */
int fs_store_record_start(struct fs_store *s);
/* The recorded profile in text form (caller frees); NULL on ENOMEM or when not recording. */
char *fs_store_profile_text(struct fs_store *s, size_t *len);

/*
 * Replay @text (from @source: "pinned", "file"): mark its spans and let
 * the store's background workers fetch them, in its order, neighbouring
 * spans in one Range request. 0 (stale spans are only counted), or
 * -errno when the text is refused (logged).
 */
int fs_store_profile_replay(struct fs_store *s, const char *text, size_t len, const char *source);

/* Write the recorded profile to @path (a temporary file renamed over it); -errno, logged. */
int fs_store_profile_save(struct fs_store *s, const char *path);
/* Read the profile file @path, at most FS_PROFILE_MAX_BYTES: 0 and *text (caller frees), -errno. */
int fs_profile_read_file(const char *path, char **text, size_t *len);

/*
 * The profile @img's manifest pins (REG_ANNOT_STRATAFS_PROFILE on a layer
 * descriptor, the topmost wins), fetched by digest and verified: 0 and
 * *text (caller frees), -ENOENT when none is pinned, or -errno.
 */
int fs_image_profile_pinned(struct fs_image *img, char **text, size_t *len);

#endif
