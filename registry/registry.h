/* SPDX-License-Identifier: MIT */
/*
 * registry/: the OCI distribution client, reads and uploads. References,
 * one HTTP transport (libcurl) and one retry driver, auth (anonymous, Basic,
 * Bearer, docker config.json and credential helpers, Amazon ECR), manifests,
 * blobs (ranged, streamed, verified), referrers, the BuildKit cache config,
 * blob and manifest uploads. Knows nothing of tar or FUSE.
 *
 * Thread-safety: a struct reg_client may be used from any number of threads
 * at once (a pool of connections per client; DNS and TLS sessions shared
 * through a curl share handle). Parsed objects (reg_ref, reg_manifest, reg_cache_config) are plain
 * data owned by the caller.
 *
 * Errors: -errno, mapped once at the room edge: 404 -> -ENOENT, 401/403 ->
 * -EACCES, 429/5xx after retries -> -EAGAIN, timeout -> -ETIMEDOUT,
 * connect/resolve -> -EHOSTUNREACH, digest mismatch / bad JSON / wrong media
 * type -> -EBADMSG, over a ceiling -> -EFBIG, 416 -> -ERANGE, bad argument
 * -> -EINVAL, anything else -> -EIO. The detail (URL, HTTP status, the
 * registry's error code and message) is logged once where it is detected;
 * credentials never are.
 */
#ifndef REGISTRY_REGISTRY_H
#define REGISTRY_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/digest.h"

#define REG_MAX_MANIFEST_SIZE (4u << 20)
#define REG_MAX_CONFIG_SIZE (4u << 20)
/* The layers of all chains of a BuildKit cache config together (a mount views each chain). */
#define REG_MAX_CACHE_CHAIN_ENTRIES (1u << 20)
#define REG_MAX_TOKEN_SIZE (64u << 10)

/* Media types. */
#define REG_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define REG_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define REG_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define REG_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define REG_MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define REG_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define REG_MT_BUILDKIT_CACHE "application/vnd.buildkit.cacheconfig.v0"
#define REG_MT_OCI_EMPTY "application/vnd.oci.empty.v1+json"
/* The stratafs index artifact (see index/FORMAT.md, "In the registry"). */
#define REG_MT_STRATAFS_INDEX_ARTIFACT "application/vnd.stratafs.index.v1"
#define REG_MT_STRATAFS_INDEX_BLOB "application/vnd.stratafs.index.v1+zstd"
/*
 * An access profile (fs/profile.h) in the index artifact's layers: listed
 * there only so that registries keep the blob (their garbage collectors
 * keep what some manifest references); the image manifest pins it.
 */
#define REG_MT_STRATAFS_PROFILE "application/vnd.stratafs.profile.v1"
/* Annotation on each index blob naming the layer it indexes. */
#define REG_ANNOT_STRATAFS_LAYER "dev.stratafs.layer.digest"
/*
 * Pins (see index/FORMAT.md, "Trust"). On a layer descriptor of an image
 * manifest: the digest of that layer's stratafs index blob, which the
 * manifest's digest then vouches for (strata push and commit write it).
 */
#define REG_ANNOT_STRATAFS_INDEX "dev.stratafs.index.digest"
/*
 * On an entry of a pinning index (reg_pinning_index_push()): the digest of
 * the stratafs index artifact manifest holding the indexes of that entry's
 * layers, which the pinning index's digest then vouches for.
 */
#define REG_ANNOT_STRATAFS_INDEXES "dev.stratafs.index.manifest"
/*
 * SOCI (soci-snapshotter; docs/formats.md, "SOCI"). v1: a SOCI index
 * manifest (config media type = artifact type SOCI_V1) is a referrer of
 * the image manifest. v2: the image manifest itself names its SOCI index
 * manifest (artifact type SOCI_V2, in the same image index) with the
 * annotation below, which the manifest's digest then vouches for. The
 * SOCI index's layers are zTOCs, each naming its image layer.
 */
#define REG_MT_SOCI_INDEX_V1 "application/vnd.amazon.soci.index.v1+json"
#define REG_MT_SOCI_INDEX_V2 "application/vnd.amazon.soci.index.v2+json"
#define REG_ANNOT_SOCI_INDEX "com.amazon.soci.index-digest"
#define REG_ANNOT_SOCI_LAYER "com.amazon.soci.image-layer-digest"
/*
 * On a layer descriptor of an image manifest (strata commit writes it on
 * the layer it adds): the digest of the access profile blob (fs/profile.h)
 * recorded by the build that made the layer; the manifest vouches for it.
 */
#define REG_ANNOT_STRATAFS_PROFILE "dev.stratafs.profile.digest"

/* ---- references ------------------------------------------------------ */

struct reg_ref {
	char *host;   /* "registry-1.docker.io", "127.0.0.1:5000" */
	char *repo;   /* "library/alpine" */
	char *tag;    /* NULL when the reference has only a digest */
	char *digest; /* NULL when the reference has only a tag */
};

/*
 * Parse the full docker grammar: [host[:port]/]name[:tag][@digest].
 * "docker.io" and no host -> "registry-1.docker.io" with "library/" for a
 * one-component name; no tag and no digest -> tag "latest".
 * -EINVAL with a logged reason for an invalid reference.
 */
int reg_ref_parse(const char *s, struct reg_ref *out);
void reg_ref_release(struct reg_ref *ref);
/* "host/repo[:tag][@digest]"; caller frees. NULL on ENOMEM. */
char *reg_ref_format(const struct reg_ref *ref);
/* The tag if there is no digest, else the digest: what goes in /manifests/<x>. */
const char *reg_ref_reference(const struct reg_ref *ref);

/* ---- client ---------------------------------------------------------- */

struct reg_opts {
	const char *ca_file;      /* trust this CA bundle (PEM) in addition to none else */
	bool insecure;            /* allow plain HTTP and unverified TLS for this registry */
	const char *username;     /* explicit Basic credentials; override config.json */
	const char *password;
	const char *docker_config; /* path of config.json; NULL: $DOCKER_CONFIG or ~/.docker */
	unsigned connect_timeout_ms; /* default 10000 */
	unsigned io_timeout_ms;      /* bound on one operation, retries included; default 30000 */
	unsigned retries;            /* attempts after the first; default 4 */
	unsigned max_parallel;       /* concurrent requests to the registry; default 8 */
	/* ECR token cache directory, created 0700, files 0600; NULL: no
	 * on-disk cache (the token is still kept in memory by the client) */
	const char *token_cache_dir;
	/* the User-Agent of every request; NULL: STRATAFS_USER_AGENT (common/version.h) */
	const char *user_agent;
};

/* Fill @o with the defaults above. */
void reg_opts_init(struct reg_opts *o);

struct reg_client; /* opaque, thread-safe */

/* A client bound to one registry host and repository of @ref. Strings are copied. */
int reg_client_new(const struct reg_opts *opts, const struct reg_ref *ref, struct reg_client **out);
void reg_client_free(struct reg_client *c);

struct reg_stats {
	uint64_t requests;  /* HTTP requests sent, retries included */
	uint64_t retries;
	uint64_t bytes_in;  /* response body bytes received */
	uint64_t errors;    /* operations that failed for good */
};
void reg_client_get_stats(struct reg_client *c, struct reg_stats *out);

/* ---- manifests ------------------------------------------------------- */

struct reg_platform {
	char *os;
	char *arch;
	char *variant; /* may be NULL */
};

/* "os/arch[/variant]"; NULL or "" -> the host's platform. */
int reg_platform_parse(const char *s, struct reg_platform *out);
void reg_platform_release(struct reg_platform *p);

/* One annotation of a descriptor (both strings owned by it). */
struct reg_annotation {
	char *key, *value;
};

struct reg_descriptor {
	char *media_type;
	char digest[DIGEST_STR_LEN];
	uint64_t size;
	char *artifact_type;          /* may be NULL */
	bool has_platform;
	struct reg_platform platform; /* index entries */
	char *annotations_json;       /* compact JSON object or NULL */
	char *uncompressed;           /* "containerd.io/uncompressed" or NULL */
	char *stratafs_layer;         /* REG_ANNOT_STRATAFS_LAYER or NULL */
	char *stratafs_index;         /* REG_ANNOT_STRATAFS_INDEX (a valid digest) or NULL */
	char *stratafs_indexes;       /* REG_ANNOT_STRATAFS_INDEXES (a valid digest) or NULL */
	struct reg_annotation *annotations; /* all of them, in document order */
	size_t n_annotations;
	char *stratafs_profile;       /* REG_ANNOT_STRATAFS_PROFILE (a valid digest) or NULL */
};

/*
 * The value of annotation @key of @d, or NULL when it has none. Valid as
 * long as @d. Linear: descriptors carry a handful of annotations.
 */
const char *reg_descriptor_annotation(const struct reg_descriptor *d, const char *key);

enum reg_manifest_kind { REG_MANIFEST_IMAGE, REG_MANIFEST_INDEX };

struct reg_manifest {
	enum reg_manifest_kind kind;
	char *media_type;            /* from the body, else the Content-Type */
	char digest[DIGEST_STR_LEN]; /* sha256 of raw */
	char *raw;                   /* the exact bytes */
	size_t raw_len;
	char *artifact_type;         /* may be NULL */
	struct reg_descriptor config;        /* IMAGE */
	struct reg_descriptor *layers;       /* IMAGE: layers */
	size_t n_layers;
	struct reg_descriptor *manifests;    /* INDEX: entries (for a BuildKit
					      * legacy cache these are blobs) */
	size_t n_manifests;
	bool has_subject;
	struct reg_descriptor subject;
	/*
	 * Set by reg_resolve() when the reference named a pinning index: the
	 * stratafs index artifact it pins for this manifest; "" otherwise.
	 */
	char pinned_artifact[DIGEST_STR_LEN];
	/* IMAGE: its REG_ANNOT_SOCI_INDEX annotation (a valid digest), or "". */
	char soci_index[DIGEST_STR_LEN];
};

/*
 * Parse and validate manifest bytes. @content_type may be NULL. Rejects
 * schema 1, unknown media types, bad digests, negative sizes: -EBADMSG.
 */
int reg_manifest_parse(const char *raw, size_t len, const char *content_type,
		       struct reg_manifest **out);
void reg_manifest_free(struct reg_manifest *m);

/*
 * GET /v2/<repo>/manifests/<reference> (tag or digest) with the full Accept
 * list; verifies the body against the digest asked for, or against
 * Docker-Content-Digest; REG_MAX_MANIFEST_SIZE ceiling.
 */
int reg_manifest_get(struct reg_client *c, const char *reference, struct reg_manifest **out);

/* The index entry for @platform (NULL: host); -ENOENT if none matches. */
int reg_index_select(const struct reg_manifest *index, const struct reg_platform *platform,
		     const struct reg_descriptor **out);

/*
 * Resolve @ref to an image manifest: GET it, and when it is an index of
 * images follow the entry for @platform. A BuildKit legacy cache index is
 * returned as is (kind INDEX). A pinning index (an entry annotated
 * REG_ANNOT_STRATAFS_INDEXES) resolves to the entry it wraps: the one for
 * @platform, or its only non-artifact entry when that has no platform (a
 * BuildKit cache), with (*out)->pinned_artifact set. *top_out, when not NULL, receives the
 * top-level object if it was an index (else NULL).
 */
int reg_resolve(struct reg_client *c, const struct reg_ref *ref, const struct reg_platform *platform,
		struct reg_manifest **out, struct reg_manifest **top_out);

/* Is @m a pinning index (an index with an entry annotated REG_ANNOT_STRATAFS_INDEXES)? */
bool reg_is_pinning_index(const struct reg_manifest *m);
/*
 * The entry of pinning index @top that reg_resolve() follows: the one for
 * @platform (NULL: the host's), or its only entry that is not an index
 * artifact when that has no platform. Never an index artifact. -ENOENT.
 */
int reg_pinning_select(const struct reg_manifest *top, const struct reg_platform *platform,
		       const struct reg_descriptor **out);

/* ---- BuildKit registry cache ------------------------------------------ */

/*
 * True for both forms: an image manifest whose config is
 * REG_MT_BUILDKIT_CACHE, or an index with an entry of that media type.
 */
bool reg_manifest_is_buildkit_cache(const struct reg_manifest *m);

/*
 * The cache config descriptor and the layer descriptors of a BuildKit cache
 * manifest of either form (borrowed from @m). -EBADMSG if @m is not one.
 */
int reg_buildkit_parts(const struct reg_manifest *m, const struct reg_descriptor **config,
		       const struct reg_descriptor **layers, size_t *n_layers);

struct reg_cache_layer {
	char blob[DIGEST_STR_LEN];
	int parent; /* index into layers, -1 = none; a missing key means 0 */
	char *media_type; /* from annotations when present, else NULL */
	char *diff_id;
};

struct reg_cache_result {
	int layer;
	char *created_at;
};

struct reg_cache_input {
	char *selector; /* may be NULL */
	int link;
};

struct reg_cache_record {
	char *digest;
	struct reg_cache_result *results; /* JSON key "layers" */
	size_t n_results;
	int **chains; /* each chain: layer indexes; lengths in chain_lens */
	size_t *chain_lens;
	size_t n_chains;
	struct reg_cache_input **inputs; /* inputs[i]: alternatives for slot i */
	size_t *input_lens;
	size_t n_inputs;
};

struct reg_cache_config {
	struct reg_cache_layer *layers;
	size_t n_layers;
	struct reg_cache_record *records;
	size_t n_records;
};

/*
 * Parse and validate (indexes in range, no parent loops): -EBADMSG otherwise;
 * -EFBIG over REG_MAX_CONFIG_SIZE or REG_MAX_CACHE_CHAIN_ENTRIES.
 */
int reg_cache_config_parse(const char *json, size_t len, struct reg_cache_config **out);
void reg_cache_config_free(struct reg_cache_config *cfg);

/* ---- image config ----------------------------------------------------- */

/*
 * The rootfs.diff_ids of an image config blob (REG_MT_OCI_CONFIG or
 * REG_MT_DOCKER_CONFIG), in layer order: *ids is an array of *n strings
 * ("sha256:..."), free it with reg_strv_free(). -EBADMSG when @json is not
 * an image config with valid diff_ids, -EFBIG over REG_MAX_CONFIG_SIZE.
 */
int reg_image_config_diff_ids(const char *json, size_t len, char ***ids, size_t *n);
void reg_strv_free(char **v, size_t n);

/* ---- blobs ------------------------------------------------------------ */

/* HEAD: the blob's size; -ENOENT if absent. */
int reg_blob_head(struct reg_client *c, const char *digest, uint64_t *size);

/*
 * GET a small blob (config, index artifact) whole, verified against @digest,
 * at most @max bytes (-EFBIG). *buf is NUL-terminated; caller frees.
 */
int reg_blob_get(struct reg_client *c, const char *digest, size_t max, char **buf, size_t *len);

/*
 * Read @len bytes at @off of the blob with one Range request (206; a 200
 * that ignored the range is handled by skipping). Follows redirects with
 * the Range kept and credentials dropped for another host, reuses the
 * redirect target until it expires, re-resolves it on 400/403. Returns the
 * byte count (short only at the end of the blob) or -errno; -ERANGE for 416.
 * The bytes are NOT verified here (a range has no digest): callers verify.
 */
ssize_t reg_blob_read(struct reg_client *c, const char *digest, void *buf, size_t len, uint64_t off);

/* Receives consecutive chunks of a stream; return < 0 to abort with that code. */
typedef int (*reg_sink_fn)(void *ctx, const void *buf, size_t n);

/*
 * Bytes [@off, @off + @len) of the blob as ONE streaming GET, handed to
 * @sink as they arrive: only stalls time out (as reg_blob_stream()), a
 * dropped connection resumes from the byte reached. Not verified. 0 once
 * all were delivered (fewer only at the end of the blob), or -errno.
 */
int reg_blob_read_stream(struct reg_client *c, const char *digest, uint64_t off, uint64_t len,
			 reg_sink_fn sink, void *ctx);

/*
 * Stream the whole blob to @sink while hashing it; returns -EBADMSG when the
 * sha256 does not match @digest (the sink has then seen unverified bytes and
 * must discard what it built). A retry after a dropped connection resumes
 * with Range from the byte reached.
 */
int reg_blob_stream(struct reg_client *c, const char *digest, reg_sink_fn sink, void *ctx);

/* ---- referrers -------------------------------------------------------- */

/*
 * The referrers of manifest @digest as an index (kind INDEX, possibly empty),
 * filtered to @artifact_type when not NULL (client-side if the registry did
 * not apply the filter). Falls back to the "sha256-<hex>" tag when the API
 * answers 404.
 */
int reg_referrers(struct reg_client *c, const char *digest, const char *artifact_type,
		  struct reg_manifest **out);

/* ---- uploads ---------------------------------------------------------- */

/*
 * The write side (strata push). A struct reg_pusher wraps a client whose
 * token scope is "repository:<repo>:pull,push"; one pusher per thread.
 * Retries (the room's one retry driver: transient errors, HTTP/2 stream
 * resets included, and 408/429/5xx, after the server's Retry-After) only
 * for idempotent steps: a failed blob upload starts a new session (the old
 * one is cancelled with DELETE, errors ignored); manifest PUTs are retried
 * as they are. Credentials are never logged.
 */
struct reg_pusher;

int reg_pusher_new(const struct reg_opts *opts, const struct reg_ref *ref, struct reg_pusher **out);
void reg_pusher_free(struct reg_pusher *p);
/* The pusher's client (push scope), for GETs; valid until reg_pusher_free(). */
struct reg_client *reg_pusher_client(struct reg_pusher *p);

/*
 * A re-readable blob: @size bytes of @buf, or of @fd from offset 0 (pread).
 * fd -1 and buf NULL: no data, mount only (reg_blob_upload gives -ENOENT
 * when the registry does not mount it).
 */
struct reg_blob_src {
	int fd;          /* -1: use buf */
	const void *buf;
	uint64_t size;
};

/* Bytes of the current request body sent so far, of @total. */
typedef void (*reg_progress_fn)(void *ctx, uint64_t sent, uint64_t total);

struct reg_upload_opts {
	const char *mount_from;   /* try a cross-repository mount from this repo first, or NULL */
	reg_progress_fn progress; /* may be NULL */
	void *progress_ctx;
};

enum reg_upload_how { REG_UPLOAD_EXISTED, REG_UPLOAD_MOUNTED, REG_UPLOAD_SENT };

/*
 * Upload @src as blob @digest unless the registry has it (HEAD): a mount
 * when @o->mount_from is set (201 done, 202 continue in that session, 401
 * or 404 retry without), then one monolithic PUT below 32 MiB, else one
 * streamed PATCH and a PUT ?digest= with no body (never small chunks:
 * ECR). @how (may be NULL) says which happened. -EBADMSG when the
 * registry names another digest, else the mapped HTTP/transport error.
 */
int reg_blob_upload(struct reg_pusher *p, const char *digest, const struct reg_blob_src *src,
		    const struct reg_upload_opts *o, enum reg_upload_how *how);

/*
 * PUT /manifests/@reference with Content-Type @media_type; checks the
 * returned Docker-Content-Digest against sha256(@raw) (-EBADMSG). @digest
 * (may be NULL) receives it; @subject_ok (may be NULL) is true when the
 * registry answered OCI-Subject (it processed a subject).
 */
int reg_manifest_put(struct reg_pusher *p, const char *reference, const char *media_type,
		     const void *raw, size_t len, char digest[DIGEST_STR_LEN], bool *subject_ok);

/* One blob of the artifact: already uploaded. */
struct reg_index_blob {
	char digest[DIGEST_STR_LEN]; /* of the index blob */
	uint64_t size;
	char layer[DIGEST_STR_LEN];  /* the layer it indexes */
	const char *media_type;      /* NULL: an index blob; else e.g. REG_MT_STRATAFS_PROFILE (no layer) */
};

/*
 * Push the stratafs index artifact of image manifest @subject: an OCI image
 * manifest, artifactType REG_MT_STRATAFS_INDEX_ARTIFACT, config the empty
 * descriptor (its "{}" blob uploaded), layers @blobs (REG_MT_STRATAFS_INDEX_BLOB,
 * annotated REG_ANNOT_STRATAFS_LAYER, or their own media type, not
 * annotated: readers of indexes skip them), pushed by digest. Without OCI-Subject
 * in the answer, the fallback tag "sha256-<hex>" is updated (GET, 404 ->
 * empty index, add unless present, PUT), so reg_referrers() finds it;
 * with @replace, the tag then lists no other stratafs index artifact.
 * @digest and @size (each may be NULL) receive the artifact's.
 * @digest (may be NULL) receives the artifact manifest's digest.
 */
int reg_index_artifact_push(struct reg_pusher *p, const struct reg_descriptor *subject,
			    const struct reg_index_blob *blobs, size_t n, bool replace,
			    char digest[DIGEST_STR_LEN], uint64_t *size);

/*
 * Push, under @tag, a pinning index for manifest @subject (its media type,
 * digest, size and platform, if any): an OCI image index whose entries are
 * @subject, annotated REG_ANNOT_STRATAFS_INDEXES = @artifact, and the index
 * artifact @artifact itself (so that registries keep it). Its digest
 * (*@digest) vouches for the indexes as the subject's digest vouches for
 * the image; OCI clients pulling it by platform get the subject.
 */
int reg_pinning_index_push(struct reg_pusher *p, const char *tag,
			   const struct reg_descriptor *subject, const char *artifact,
			   uint64_t artifact_size, char digest[DIGEST_STR_LEN]);

#endif
