/* SPDX-License-Identifier: MIT */
/* Manifest parsing: OCI, Docker v2s2, indexes, BuildKit caches of both forms, rejections. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "registry/registry.h"
#include "tap.h"

#define DA "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DB "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DC "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define CFG "sha256:b39b28b531b1f1ebccec5b7aa8e2977f4ea28ee9adc1a8d1f0304564c38d81d5"
#define L0 "sha256:5fd38625b5de25a78135af50fb74ad54ea3dd798b92deeca08eaa4fffe5e81dd"
#define L1 "sha256:fd73fde60ec17fee00a96ee28988d47745350d0b1dce6ecae87c767467414600"

static int parse(const char *s, const char *ct, struct reg_manifest **m)
{
	*m = NULL;
	return reg_manifest_parse(s, strlen(s), ct, m);
}

static void oci_image(void)
{
	const char *s = "{\"schemaVersion\":2,\"mediaType\":\"" REG_MT_OCI_MANIFEST "\","
			"\"config\":{\"mediaType\":\"" REG_MT_OCI_CONFIG "\",\"digest\":\"" DA
			"\",\"size\":292},"
			"\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
			"\"digest\":\"" DB "\",\"size\":302146,\"annotations\":"
			"{\"containerd.io/uncompressed\":\"" DC "\",\"" REG_ANNOT_STRATAFS_LAYER
			"\":\"" DA "\"}}],"
			"\"subject\":{\"mediaType\":\"" REG_MT_OCI_MANIFEST "\",\"digest\":\"" DC
			"\",\"size\":3},\"artifactType\":\"" REG_MT_STRATAFS_INDEX_ARTIFACT "\"}";
	struct reg_manifest *m;

	if (!ok(parse(s, NULL, &m) == 0, "OCI image manifest parses"))
		return;
	is_int(m->kind, REG_MANIFEST_IMAGE, "kind image");
	is_str(m->media_type, REG_MT_OCI_MANIFEST, "media type");
	is_str(m->config.digest, DA, "config digest");
	is_int(m->config.size, 292, "config size");
	is_int(m->n_layers, 1, "one layer");
	is_int(m->layers[0].size, 302146, "layer size");
	is_str(m->layers[0].uncompressed, DC, "uncompressed annotation");
	is_str(m->layers[0].stratafs_layer, DA, "stratafs layer annotation");
	ok(m->layers[0].annotations_json && strstr(m->layers[0].annotations_json, DC),
	   "annotations kept as JSON");
	is_str(reg_descriptor_annotation(&m->layers[0], "containerd.io/uncompressed"), DC,
	       "annotation lookup by key");
	ok(reg_descriptor_annotation(&m->layers[0], "no.such.key") == NULL &&
		   reg_descriptor_annotation(&m->config, "containerd.io/uncompressed") == NULL,
	   "absent annotation: NULL");
	ok(m->has_subject && strcmp(m->subject.digest, DC) == 0, "subject");
	is_str(m->artifact_type, REG_MT_STRATAFS_INDEX_ARTIFACT, "artifactType");
	is_int(m->raw_len, strlen(s), "raw bytes kept");
	ok(memcmp(m->raw, s, m->raw_len) == 0, "raw bytes exact");
	ok(strncmp(m->digest, "sha256:", 7) == 0 && strlen(m->digest) == 71, "digest computed");
	ok(!reg_manifest_is_buildkit_cache(m), "not a BuildKit cache");
	reg_manifest_free(m);
}

static void docker_and_content_type(void)
{
	const char *v2 = "{\"schemaVersion\":2,\"mediaType\":\"" REG_MT_DOCKER_MANIFEST "\","
			 "\"config\":{\"mediaType\":\"" REG_MT_DOCKER_CONFIG "\",\"digest\":\"" DA
			 "\",\"size\":1},\"layers\":[]}";
	const char *bare = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" REG_MT_OCI_CONFIG
			   "\",\"digest\":\"" DA "\",\"size\":1},\"layers\":[]}";
	const char *bare_idx = "{\"schemaVersion\":2,\"manifests\":[]}";
	struct reg_manifest *m;

	ok(parse(v2, NULL, &m) == 0 && m->kind == REG_MANIFEST_IMAGE, "Docker v2s2 parses");
	reg_manifest_free(m);
	ok(parse(bare, "application/vnd.oci.image.manifest.v1+json; charset=utf-8", &m) == 0 &&
		   strcmp(m->media_type, REG_MT_OCI_MANIFEST) == 0,
	   "no mediaType: Content-Type used (parameters stripped)");
	reg_manifest_free(m);
	ok(parse(bare, "application/json", &m) == 0 && m->kind == REG_MANIFEST_IMAGE,
	   "no mediaType, generic Content-Type: shape decides");
	reg_manifest_free(m);
	ok(parse(bare_idx, NULL, &m) == 0 && m->kind == REG_MANIFEST_INDEX &&
		   strcmp(m->media_type, REG_MT_OCI_INDEX) == 0,
	   "bare index inferred");
	reg_manifest_free(m);
}

static void index_with_platforms(void)
{
	const char *s = "{\"schemaVersion\":2,\"mediaType\":\"" REG_MT_DOCKER_LIST "\",\"manifests\":["
			"{\"mediaType\":\"" REG_MT_DOCKER_MANIFEST "\",\"digest\":\"" DA "\",\"size\":7,"
			"\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
			"{\"mediaType\":\"" REG_MT_DOCKER_MANIFEST "\",\"digest\":\"" DB "\",\"size\":8,"
			"\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}}]}";
	struct reg_manifest *m;

	if (!ok(parse(s, NULL, &m) == 0, "manifest list parses"))
		return;
	is_int(m->kind, REG_MANIFEST_INDEX, "kind index");
	is_int(m->n_manifests, 2, "two entries");
	ok(m->manifests[0].has_platform, "platform present");
	is_str(m->manifests[0].platform.os, "linux", "os");
	is_str(m->manifests[1].platform.arch, "arm64", "arch");
	is_str(m->manifests[1].platform.variant, "v8", "variant");
	ok(m->manifests[0].platform.variant == NULL, "no variant");
	reg_manifest_free(m);
}

static const char bk_image[] =
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	"\"config\":{\"mediaType\":\"application/vnd.buildkit.cacheconfig.v0\",\"digest\":\"" CFG
	"\",\"size\":532},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
	"\"digest\":\"" L0 "\",\"size\":3623807,\"annotations\":{\"buildkit/createdat\":"
	"\"2024-06-20T17:21:33.123456789Z\",\"containerd.io/uncompressed\":\"sha256:"
	"2823b861d7c113129fa71463655459923116668cbf1952b58683724cb3fc3ad5\"}},{\"mediaType\":"
	"\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" L1 "\",\"size\":2841103,"
	"\"annotations\":{\"buildkit/createdat\":\"2025-03-04T10:15:02.481516231Z\","
	"\"containerd.io/uncompressed\":\"sha256:"
	"b9a7adcad815a64faf8af9a15c2b6743a05566fbf5488849e4bd6993d4dd489f\"}}]}";

static void buildkit(void)
{
	const char *idx = "{\"schemaVersion\":2,\"mediaType\":\"" REG_MT_DOCKER_LIST "\",\"manifests\":["
			  "{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\","
			  "\"digest\":\"" L0 "\",\"size\":3623807},"
			  "{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\","
			  "\"digest\":\"" L1 "\",\"size\":2841103},"
			  "{\"mediaType\":\"" REG_MT_BUILDKIT_CACHE "\",\"digest\":\"" CFG
			  "\",\"size\":532}]}";
	const struct reg_descriptor *cfg, *layers;
	struct reg_manifest *m;
	size_t n;

	is_int(sizeof(bk_image) - 1, 908, "PROTOCOLS example manifest is 908 bytes");
	if (ok(parse(bk_image, NULL, &m) == 0, "BuildKit image-manifest form parses")) {
		ok(reg_manifest_is_buildkit_cache(m), "detected as a BuildKit cache");
		ok(reg_buildkit_parts(m, &cfg, &layers, &n) == 0, "parts");
		is_str(cfg->digest, CFG, "config descriptor");
		is_int(n, 2, "two layers");
		is_str(layers[1].digest, L1, "second layer");
		reg_manifest_free(m);
	}
	if (ok(parse(idx, NULL, &m) == 0, "BuildKit index form parses")) {
		ok(reg_manifest_is_buildkit_cache(m), "index form detected");
		ok(reg_buildkit_parts(m, &cfg, &layers, &n) == 0, "index parts");
		is_str(cfg->digest, CFG, "config found by media type");
		is_int(n, 2, "layers exclude the config");
		is_str(layers[0].digest, L0, "first layer");
		reg_manifest_free(m);
	}
	parse("{\"schemaVersion\":2,\"mediaType\":\"" REG_MT_OCI_INDEX "\",\"manifests\":[]}", NULL, &m);
	is_int(reg_buildkit_parts(m, &cfg, &layers, &n), -EBADMSG, "plain index: not a cache");
	reg_manifest_free(m);
}

static const char *const bad[] = {
	"",
	"null",
	"[]",
	"{\"schemaVersion\":1,\"name\":\"x\",\"tag\":\"t\",\"fsLayers\":[]}",
	"{\"schemaVersion\":\"2\",\"manifests\":[]}",
	"{\"mediaType\":\"" REG_MT_OCI_INDEX "\",\"manifests\":[]}",
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v1+json\"}",
	"{\"schemaVersion\":2,\"mediaType\":\"text/plain\",\"manifests\":[]}",
	"{\"schemaVersion\":2,\"mediaType\":5,\"manifests\":[]}",
	"{\"schemaVersion\":2,\"mediaType\":\"" REG_MT_OCI_INDEX "\"}",
	"{\"schemaVersion\":2,\"mediaType\":\"" REG_MT_OCI_INDEX "\",\"manifests\":{}}",
	"{\"schemaVersion\":2,\"mediaType\":\"" REG_MT_OCI_MANIFEST "\",\"layers\":[]}",
	"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"" DA "\",\"size\":-1}]}",
	"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"" DA "\",\"size\":\"1\"}]}",
	"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"sha256:abc\",\"size\":1}]}",
	"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"sha512:"
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"\",\"size\":1}]}",
	"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"\",\"digest\":\"" DA "\",\"size\":1}]}",
	"{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"" DA "\",\"size\":1}]}",
	"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"" DA "\",\"size\":1,"
	"\"platform\":{\"os\":\"linux\"}}]}",
	"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"" DA "\",\"size\":1,"
	"\"annotations\":{\"k\":1}}]}",
	"{\"schemaVersion\":2,\"manifests\":[5]}",
	"{\"schemaVersion\":2,\"schemaVersion\":2,\"manifests\":[]}",
};

/* Pins: a layer's index digest, a pinning index and which entry it resolves to. */
static void pins(void)
{
	const char *img = "{\"schemaVersion\":2,\"mediaType\":\"" REG_MT_OCI_MANIFEST "\","
			  "\"config\":{\"mediaType\":\"" REG_MT_OCI_CONFIG "\",\"digest\":\"" DA
			  "\",\"size\":2},\"layers\":[{\"mediaType\":"
			  "\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" DB
			  "\",\"size\":3,\"annotations\":{\"" REG_ANNOT_STRATAFS_INDEX "\":\"" DC
			  "\"}}]}";
	const char *bad_pin = "{\"schemaVersion\":2,\"mediaType\":\"" REG_MT_OCI_MANIFEST "\","
			  "\"config\":{\"mediaType\":\"" REG_MT_OCI_CONFIG "\",\"digest\":\"" DA
			  "\",\"size\":2},\"layers\":[{\"mediaType\":"
			  "\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" DB
			  "\",\"size\":3,\"annotations\":{\"" REG_ANNOT_STRATAFS_INDEX
			  "\":\"sha256:1234\"}}]}";
#define ENTRY(plat, annot) \
	"{\"mediaType\":\"" REG_MT_OCI_MANIFEST "\",\"digest\":\"" DA "\",\"size\":3" plat annot "}"
#define ART(plat) \
	"{\"mediaType\":\"" REG_MT_OCI_MANIFEST "\",\"digest\":\"" DB "\",\"size\":4," \
	"\"artifactType\":\"" REG_MT_STRATAFS_INDEX_ARTIFACT "\"" plat "}"
#define AMD64 ",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}"
#define PIN ",\"annotations\":{\"" REG_ANNOT_STRATAFS_INDEXES "\":\"" DB "\"}"
#define INDEX(e) "{\"schemaVersion\":2,\"mediaType\":\"" REG_MT_OCI_INDEX "\",\"manifests\":[" e "]}"
	const char *wrap = INDEX(ENTRY(AMD64, PIN) "," ART(""));
	const char *wrap_cache = INDEX(ENTRY("", PIN) "," ART(""));
	const char *art_plat = INDEX(ENTRY(",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}", PIN)
				     "," ART(AMD64));
	const char *plain = INDEX(ENTRY(AMD64, ""));
	struct reg_platform amd64 = { .os = "linux", .arch = "amd64" };
	const struct reg_descriptor *d;
	struct reg_manifest *m;

	if (ok(parse(img, NULL, &m) == 0, "a layer pin parses")) {
		is_str(m->layers[0].stratafs_index, DC, "the layer's index digest");
		is_str(m->pinned_artifact, "", "no pinned artifact from parsing alone");
		reg_manifest_free(m);
	}
	is_int(parse(bad_pin, NULL, &m), -EBADMSG, "a pin that is not a digest: the manifest is refused");
	if (ok(parse(wrap, NULL, &m) == 0, "a pinning index parses")) {
		ok(reg_is_pinning_index(m), "it is a pinning index");
		is_int(reg_pinning_select(m, &amd64, &d), 0, "amd64 selects an entry");
		is_str(d->digest, DA, "the subject, not the artifact");
		is_str(d->stratafs_indexes, DB, "with its pin");
		reg_manifest_free(m);
	}
	if (ok(parse(wrap_cache, NULL, &m) == 0, "a pinning index of a BuildKit cache parses")) {
		is_int(reg_pinning_select(m, &amd64, &d), 0, "its one subject has no platform: taken");
		is_str(d->digest, DA, "the subject");
		reg_manifest_free(m);
	}
	if (ok(parse(art_plat, NULL, &m) == 0, "an artifact entry given a platform parses")) {
		is_int(reg_pinning_select(m, &amd64, &d), -ENOENT,
		       "an artifact is never resolved as the image");
		reg_manifest_free(m);
	}
	if (ok(parse(plain, NULL, &m) == 0, "a plain index parses"))
		ok(!reg_is_pinning_index(m), "without pins it is no pinning index");
	reg_manifest_free(m);
}

/* SOCI v2: the manifest names its SOCI index; the SOCI index entry of the image index is no image. */
static void soci(void)
{
#define SOCI_IMG(annot)                                                                    \
	"{\"schemaVersion\":2,\"mediaType\":\"" REG_MT_OCI_MANIFEST "\",\"config\":{\"mediaType\":\"" \
	REG_MT_OCI_CONFIG "\",\"digest\":\"" DA "\",\"size\":2},\"layers\":[],"            \
	"\"annotations\":{\"" REG_ANNOT_SOCI_INDEX "\":\"" annot "\"}}"
#define SOCI_PLAT ",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}"
	const char *img = SOCI_IMG(DB), *not_digest = SOCI_IMG("sha256:nothex");
	/* as soci convert writes it: the SOCI index after the image, same platform; here first */
	const char *index = "{\"schemaVersion\":2,\"mediaType\":\"" REG_MT_OCI_INDEX "\",\"manifests\":["
			    "{\"mediaType\":\"" REG_MT_OCI_MANIFEST "\",\"digest\":\"" DB "\",\"size\":5,"
			    "\"artifactType\":\"" REG_MT_SOCI_INDEX_V2 "\"" SOCI_PLAT "},"
			    "{\"mediaType\":\"" REG_MT_OCI_MANIFEST "\",\"digest\":\"" DA "\",\"size\":5"
			    SOCI_PLAT "}]}";
	struct reg_platform amd64 = { .os = "linux", .arch = "amd64" };
	const struct reg_descriptor *d;
	struct reg_manifest *m;

	if (ok(parse(img, NULL, &m) == 0, "a SOCI v2 image manifest parses")) {
		is_str(m->soci_index, DB, "its SOCI index digest");
		reg_manifest_free(m);
	}
	if (ok(parse(not_digest, NULL, &m) == 0, "a SOCI annotation that is no digest: still parses")) {
		is_str(m->soci_index, "", "and names no SOCI index");
		reg_manifest_free(m);
	}
	if (ok(parse(index, NULL, &m) == 0, "a SOCI v2 image index parses")) {
		is_int(reg_index_select(m, &amd64, &d), 0, "amd64 selects an entry");
		is_str(d->digest, DA, "the image, not the SOCI index listed first");
		reg_manifest_free(m);
	}
}

int main(void)
{
	struct reg_manifest *m;
	char *big;

	oci_image();
	docker_and_content_type();
	index_with_platforms();
	buildkit();
	pins();
	soci();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		is_int(parse(bad[i], NULL, &m), -EBADMSG, "bad %zu rejected: %.70s", i, bad[i]);
		ok(m == NULL, "bad %zu: no output", i);
	}
	big = malloc(REG_MAX_MANIFEST_SIZE + 1);
	memset(big, ' ', REG_MAX_MANIFEST_SIZE + 1);
	m = NULL;
	is_int(reg_manifest_parse(big, REG_MAX_MANIFEST_SIZE + 1, NULL, &m), -EFBIG,
	       "over 4 MiB: -EFBIG");
	free(big);
	reg_manifest_free(NULL);
	return tap_done();
}
