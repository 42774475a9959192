/* SPDX-License-Identifier: MIT */
/*
 * Manifest bytes -> struct reg_manifest. Accepts OCI image manifest and
 * index, Docker v2 schema 2 manifest and manifest list (a BuildKit legacy
 * cache is an index whose entries are blobs: accepted, entries are plain
 * descriptors). Rejects schema 1, unknown media types, malformed
 * descriptors. The type comes from the body's mediaType, else the
 * Content-Type, else the shape (OCI allows omitting mediaType).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/log.h"
#include "registry/registry_int.h"

#define MAX_DESCRIPTORS 100000

static void reg_descriptor_release(struct reg_descriptor *d)
{
	free(d->media_type);
	free(d->artifact_type);
	reg_platform_release(&d->platform);
	free(d->annotations_json);
	free(d->uncompressed);
	free(d->stratafs_layer);
	free(d->stratafs_index);
	free(d->stratafs_indexes);
	for (size_t i = 0; i < d->n_annotations; i++) {
		free(d->annotations[i].key);
		free(d->annotations[i].value);
	}
	free(d->annotations);
	free(d->stratafs_profile);
	memset(d, 0, sizeof(*d));
}

static void free_descs(struct reg_descriptor *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		reg_descriptor_release(&d[i]);
	free(d);
}

void reg_manifest_free(struct reg_manifest *m)
{
	if (!m)
		return;
	free(m->media_type);
	free(m->raw);
	free(m->artifact_type);
	reg_descriptor_release(&m->config);
	free_descs(m->layers, m->n_layers);
	free_descs(m->manifests, m->n_manifests);
	reg_descriptor_release(&m->subject);
	free(m);
}

/* An optional string member: absent -> 0 and *out untouched, not a string -> -EBADMSG. */
int reg_json_opt_str(json_t *o, const char *key, char **out)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		return 0;
	if (!json_is_string(v))
		return -EBADMSG;
	*out = strdup(json_string_value(v));
	return *out ? 0 : -ENOMEM;
}

static int parse_platform(json_t *p, struct reg_platform *out)
{
	if (!json_is_object(p) || !json_is_string(json_object_get(p, "os")) ||
	    !json_is_string(json_object_get(p, "architecture")))
		return -EBADMSG;
	out->os = strdup(json_string_value(json_object_get(p, "os")));
	out->arch = strdup(json_string_value(json_object_get(p, "architecture")));
	if (!out->os || !out->arch)
		return -ENOMEM;
	return reg_json_opt_str(p, "variant", &out->variant);
}

/* A pin must be a digest: a manifest with a malformed one is refused, not half-trusted. */
static int opt_digest(json_t *a, const char *key, char **out)
{
	int r = reg_json_opt_str(a, key, out);

	if (r == 0 && *out && !digest_is_valid(*out)) {
		log_err("invalid annotation %s: '%.80s' is not a sha256 digest", key, *out);
		return -EBADMSG;
	}
	return r;
}

const char *reg_descriptor_annotation(const struct reg_descriptor *d, const char *key)
{
	for (size_t i = 0; d && key && i < d->n_annotations; i++)
		if (strcmp(d->annotations[i].key, key) == 0)
			return d->annotations[i].value;
	return NULL;
}

/* Every annotation, kept for reg_descriptor_annotation(). */
static int keep_annotations(json_t *a, struct reg_descriptor *d)
{
	const char *key;
	json_t *v;

	d->annotations = calloc(json_object_size(a) + 1, sizeof(*d->annotations));
	if (!d->annotations)
		return -ENOMEM;
	json_object_foreach(a, key, v) {
		struct reg_annotation *x = &d->annotations[d->n_annotations];

		if (!json_is_string(v))
			return -EBADMSG;
		x->key = strdup(key);
		x->value = strdup(json_string_value(v));
		d->n_annotations++;
		if (!x->key || !x->value)
			return -ENOMEM;
	}
	return 0;
}

static int parse_annotations(json_t *a, struct reg_descriptor *d)
{
	int r;

	if (!a)
		return 0;
	if (!json_is_object(a))
		return -EBADMSG;
	r = keep_annotations(a, d);
	if (r < 0)
		return r;
	d->annotations_json = json_dumps(a, JSON_COMPACT);
	if (!d->annotations_json)
		return -ENOMEM;
	r = reg_json_opt_str(a, "containerd.io/uncompressed", &d->uncompressed);
	if (r == 0)
		r = reg_json_opt_str(a, REG_ANNOT_STRATAFS_LAYER, &d->stratafs_layer);
	if (r == 0)
		r = opt_digest(a, REG_ANNOT_STRATAFS_INDEX, &d->stratafs_index);
	if (r == 0)
		r = opt_digest(a, REG_ANNOT_STRATAFS_INDEXES, &d->stratafs_indexes);
	if (r == 0)
		r = opt_digest(a, REG_ANNOT_STRATAFS_PROFILE, &d->stratafs_profile);
	return r;
}

static int descriptor_parse(json_t *o, struct reg_descriptor *d)
{
	json_t *mt = json_object_get(o, "mediaType");
	json_t *dg = json_object_get(o, "digest");
	json_t *sz = json_object_get(o, "size");
	int r;

	if (!json_is_object(o) || !json_is_string(mt) || !json_is_string(dg) ||
	    !json_is_integer(sz) || json_integer_value(sz) < 0 ||
	    !digest_is_valid(json_string_value(dg)) || !*json_string_value(mt))
		return -EBADMSG;
	d->media_type = strdup(json_string_value(mt));
	if (!d->media_type)
		return -ENOMEM;
	memcpy(d->digest, json_string_value(dg), strlen(json_string_value(dg)) + 1);
	d->size = (uint64_t)json_integer_value(sz);
	r = reg_json_opt_str(o, "artifactType", &d->artifact_type);
	if (r == 0 && json_object_get(o, "platform")) {
		d->has_platform = true;
		r = parse_platform(json_object_get(o, "platform"), &d->platform);
	}
	if (r == 0)
		r = parse_annotations(json_object_get(o, "annotations"), d);
	return r;
}

static int parse_list(json_t *arr, struct reg_descriptor **out, size_t *n)
{
	size_t count;
	int r;

	if (!json_is_array(arr))
		return -EBADMSG;
	count = json_array_size(arr);
	if (count > MAX_DESCRIPTORS)
		return -EFBIG;
	*out = calloc(count ? count : 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (size_t i = 0; i < count; i++) {
		r = descriptor_parse(json_array_get(arr, i), &(*out)[i]);
		*n = i + 1;
		if (r < 0)
			return r;
	}
	*n = count;
	return 0;
}

static int kind_of(const char *mt, json_t *root, enum reg_manifest_kind *kind)
{
	if (mt && (strcmp(mt, REG_MT_OCI_MANIFEST) == 0 || strcmp(mt, REG_MT_DOCKER_MANIFEST) == 0)) {
		*kind = REG_MANIFEST_IMAGE;
		return 0;
	}
	if (mt && (strcmp(mt, REG_MT_OCI_INDEX) == 0 || strcmp(mt, REG_MT_DOCKER_LIST) == 0)) {
		*kind = REG_MANIFEST_INDEX;
		return 0;
	}
	if (mt)
		return -EBADMSG;
	if (json_object_get(root, "manifests")) {
		*kind = REG_MANIFEST_INDEX;
		return 0;
	}
	if (json_object_get(root, "config") && json_object_get(root, "layers")) {
		*kind = REG_MANIFEST_IMAGE;
		return 0;
	}
	return -EBADMSG;
}

/* The media type: body field, else a specific Content-Type, else inferred. */
static int media_type(json_t *root, const char *content_type, struct reg_manifest *m)
{
	json_t *mt = json_object_get(root, "mediaType");
	const char *s = NULL;
	char *ct = NULL;
	int r;

	if (mt && !json_is_string(mt))
		return -EBADMSG;
	if (mt) {
		s = json_string_value(mt);
	} else if (content_type) {
		ct = reg_media_type_clean(content_type);
		if (!ct)
			return -ENOMEM;
		if (kind_of(ct, root, &m->kind) == 0)
			s = ct;
	}
	r = kind_of(s, root, &m->kind);
	if (r == 0) {
		m->media_type = strdup(s ? s : m->kind == REG_MANIFEST_INDEX ? REG_MT_OCI_INDEX :
									    REG_MT_OCI_MANIFEST);
		r = m->media_type ? 0 : -ENOMEM;
	}
	free(ct);
	return r;
}

/* SOCI v2: the manifest names its SOCI index. Another tool's annotation: never fatal. */
static void soci_index(json_t *root, struct reg_manifest *m)
{
	const char *v = json_string_value(
		json_object_get(json_object_get(root, "annotations"), REG_ANNOT_SOCI_INDEX));

	if (v && digest_is_valid(v))
		snprintf(m->soci_index, sizeof(m->soci_index), "%s", v);
	else if (v)
		log_warn("ignoring annotation %s: '%.80s' is not a sha256 digest",
			 REG_ANNOT_SOCI_INDEX, v);
}

static int parse_body(json_t *root, const char *content_type, struct reg_manifest *m)
{
	json_t *sv = json_object_get(root, "schemaVersion");
	int r;

	if (!json_is_object(root))
		return -EBADMSG;
	if (!json_is_integer(sv) || json_integer_value(sv) != 2) {
		log_err("unsupported manifest schema version (schema 1 is not supported)");
		return -EBADMSG;
	}
	r = media_type(root, content_type, m);
	if (r == 0)
		r = reg_json_opt_str(root, "artifactType", &m->artifact_type);
	if (r == 0 && json_object_get(root, "subject")) {
		m->has_subject = true;
		r = descriptor_parse(json_object_get(root, "subject"), &m->subject);
	}
	if (r < 0)
		return r;
	if (m->kind == REG_MANIFEST_INDEX)
		return parse_list(json_object_get(root, "manifests"), &m->manifests, &m->n_manifests);
	r = descriptor_parse(json_object_get(root, "config"), &m->config);
	if (r == 0)
		r = parse_list(json_object_get(root, "layers"), &m->layers, &m->n_layers);
	if (r == 0)
		soci_index(root, m);
	return r;
}

int reg_manifest_parse(const char *raw, size_t len, const char *content_type,
		       struct reg_manifest **out)
{
	struct reg_manifest *m;
	uint8_t h[DIGEST_SHA256_LEN];
	json_t *root;
	int r;

	if (len > REG_MAX_MANIFEST_SIZE)
		return -EFBIG;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->raw = malloc(len + 1);
	if (!m->raw) {
		r = -ENOMEM;
		goto out_free;
	}
	if (len)
		memcpy(m->raw, raw, len);
	m->raw[len] = '\0';
	m->raw_len = len;
	digest_sha256(m->raw, len, h);
	digest_format(h, m->digest);
	root = json_loadb(m->raw, len, JSON_REJECT_DUPLICATES, NULL);
	r = root ? parse_body(root, content_type, m) : -EBADMSG;
	json_decref(root);
	if (r < 0)
		goto out_free;
	*out = m;
	return 0;
out_free:
	reg_manifest_free(m);
	return r == -EFBIG || r == -ENOMEM ? r : -EBADMSG;
}

int reg_manifest_new_empty_index(struct reg_manifest **out)
{
	static const char body[] = "{\"schemaVersion\":2,\"mediaType\":\"" REG_MT_OCI_INDEX
				   "\",\"manifests\":[]}";

	return reg_manifest_parse(body, sizeof(body) - 1, NULL, out);
}

bool reg_manifest_is_buildkit_cache(const struct reg_manifest *m)
{
	if (m->kind == REG_MANIFEST_IMAGE)
		return m->config.media_type && strcmp(m->config.media_type, REG_MT_BUILDKIT_CACHE) == 0;
	for (size_t i = 0; i < m->n_manifests; i++)
		if (strcmp(m->manifests[i].media_type, REG_MT_BUILDKIT_CACHE) == 0)
			return true;
	return false;
}

int reg_buildkit_parts(const struct reg_manifest *m, const struct reg_descriptor **config,
		       const struct reg_descriptor **layers, size_t *n_layers)
{
	size_t n = 0, cfg = SIZE_MAX;

	if (!reg_manifest_is_buildkit_cache(m))
		return -EBADMSG;
	if (m->kind == REG_MANIFEST_IMAGE) {
		*config = &m->config;
		*layers = m->layers;
		*n_layers = m->n_layers;
		return 0;
	}
	/* index form: the config is matched by type (BuildKit puts it last) */
	for (size_t i = 0; i < m->n_manifests; i++) {
		if (strcmp(m->manifests[i].media_type, REG_MT_BUILDKIT_CACHE) == 0) {
			if (cfg != SIZE_MAX)
				return -EBADMSG;
			cfg = i;
		} else {
			n++;
		}
	}
	/* the layers are borrowed as one array: the config must be last (BuildKit) or first */
	if (cfg != m->n_manifests - 1 && cfg != 0)
		return -EBADMSG;
	*config = &m->manifests[cfg];
	*layers = cfg == 0 ? m->manifests + 1 : m->manifests;
	*n_layers = n;
	return 0;
}
