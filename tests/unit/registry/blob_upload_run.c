/* SPDX-License-Identifier: MIT */
/*
 * Driver of tests/integration/registry/h2_upload_reset.sh (not a test
 * itself): upload FILE as a blob to HOST/REPO with reg_blob_upload() and
 * print how ("sent", "existed", "mounted") and the client's retry count.
 *
 *   blob_upload_run [-d] [--ca FILE] [--retries N] HOST/REPO FILE
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/digest.h"
#include "common/log.h"
#include "registry/registry.h"

static int file_digest(int fd, char out[DIGEST_STR_LEN])
{
	struct digest_ctx *ctx = NULL;
	uint8_t sha[DIGEST_SHA256_LEN];
	char buf[65536];
	ssize_t n;
	int r = digest_ctx_new(&ctx);

	while (r == 0 && (n = read(fd, buf, sizeof(buf))) > 0)
		r = digest_ctx_update(ctx, buf, (size_t)n);
	if (r == 0)
		r = digest_ctx_final(ctx, sha);
	digest_ctx_free(ctx);
	if (r == 0)
		digest_format(sha, out);
	return r;
}

int main(int argc, char **argv)
{
	static const char *const how_names[] = { "existed", "mounted", "sent" };
	struct reg_opts o;
	struct reg_ref ref = { 0 };
	struct reg_pusher *p = NULL;
	struct reg_blob_src src = { .fd = -1 };
	struct reg_stats stats;
	enum reg_upload_how how;
	char digest[DIGEST_STR_LEN], refs[1024];
	struct stat sb;
	int i, r;

	log_set_prog("blob_upload_run");
	reg_opts_init(&o);
	o.docker_config = "/nonexistent/config.json";
	for (i = 1; i < argc - 2; i++) {
		if (strcmp(argv[i], "-d") == 0)
			log_set_level(LOG_LVL_DEBUG);
		else if (strcmp(argv[i], "--ca") == 0)
			o.ca_file = argv[++i];
		else if (strcmp(argv[i], "--retries") == 0)
			o.retries = (unsigned)strtoul(argv[++i], NULL, 10);
		else
			break;
	}
	if (i != argc - 2) {
		fprintf(stderr, "usage: blob_upload_run [-d] [--ca FILE] [--retries N] HOST/REPO FILE\n");
		return 2;
	}
	snprintf(refs, sizeof(refs), "%s:upload", argv[i]);
	src.fd = open(argv[i + 1], O_RDONLY | O_CLOEXEC);
	if (src.fd < 0 || fstat(src.fd, &sb) < 0 || file_digest(src.fd, digest) < 0) {
		perror(argv[i + 1]);
		return 1;
	}
	src.size = (uint64_t)sb.st_size;
	r = reg_ref_parse(refs, &ref);
	if (r == 0)
		r = reg_pusher_new(&o, &ref, &p);
	if (r == 0)
		r = reg_blob_upload(p, digest, &src, NULL, &how);
	if (r == 0) {
		reg_client_get_stats(reg_pusher_client(p), &stats);
		printf("%s %s retries=%llu\n", how_names[how], digest,
		       (unsigned long long)stats.retries);
	} else {
		printf("error: %s\n", strerror(-r));
	}
	reg_pusher_free(p);
	reg_ref_release(&ref);
	close(src.fd);
	return r == 0 ? 0 : 1;
}
