/* SPDX-License-Identifier: MIT */
/*
 * Test driver for tests/integration/aws: runs the credential chain and
 * GetAuthorizationToken for an ECR host through struct reg_ecr_auth (the
 * path the registry client takes) and prints the decoded user and password
 * on stdout, one per line. On failure prints "error: <ERRNO NAME>" to
 * stdout and exits 1.
 *
 *   ecr_token_get [-d] [--cache DIR] [--endpoint URL] [--ca FILE]
 *                 [--profile P] [--times N] [--invalidate] HOST
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "registry/aws/aws.h"

static const char *errname(int e)
{
	switch (e) {
	case EACCES: return "EACCES";
	case EAGAIN: return "EAGAIN";
	case ENOENT: return "ENOENT";
	case EBADMSG: return "EBADMSG";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EHOSTUNREACH: return "EHOSTUNREACH";
	case EINVAL: return "EINVAL";
	case EFBIG: return "EFBIG";
	default: return "EIO";
	}
}

static int print_header(const char *hdr)
{
	char *user = NULL, *pw = NULL;
	int r;

	if (strncmp(hdr, "Basic ", 6) != 0)
		return -EBADMSG;
	r = reg_ecr_token_decode(hdr + 6, &user, &pw);
	if (r == 0)
		printf("%s\n%s\n", user, pw);
	free(user);
	free(pw);
	return r;
}

int main(int argc, char **argv)
{
	struct reg_aws_opts o = { .timeout_ms = 5000 };
	struct reg_ecr_auth *a = NULL;
	struct reg_ecr_host h;
	bool invalidate = false, refuse = false;
	char *hdr = NULL;
	int i, times = 1, r;

	log_set_prog("ecr_token_get");
	for (i = 1; i < argc - 1; i++) {
		if (strcmp(argv[i], "-d") == 0)
			log_set_level(LOG_LVL_DEBUG);
		else if (strcmp(argv[i], "--cache") == 0)
			o.cache_dir = argv[++i];
		else if (strcmp(argv[i], "--endpoint") == 0)
			o.ecr_endpoint = argv[++i];
		else if (strcmp(argv[i], "--ca") == 0)
			o.ca_file = argv[++i];
		else if (strcmp(argv[i], "--profile") == 0)
			o.profile = argv[++i];
		else if (strcmp(argv[i], "--times") == 0)
			times = (int)strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--invalidate") == 0)
			invalidate = true;
		else if (strcmp(argv[i], "--refuse") == 0)
			refuse = true; /* as the registry client: the header it sent was refused */
		else
			break;
	}
	if (i != argc - 1) {
		fprintf(stderr, "usage: ecr_token_get [options] HOST\n");
		return 2;
	}
	if (!reg_ecr_host_detect(argv[i], &h)) {
		printf("error: not-ecr\n");
		return 1;
	}
	r = reg_ecr_auth_new(&o, &h, &a);
	for (; r == 0 && times > 0; times--) {
		free(hdr);
		hdr = NULL;
		r = reg_ecr_auth_header(a, &hdr);
		if (r == 0 && invalidate && times > 1)
			reg_ecr_auth_invalidate(a, NULL);
		if (r == 0 && refuse && times > 1)
			reg_ecr_auth_invalidate(a, hdr);
	}
	if (r == 0)
		r = print_header(hdr);
	if (r < 0)
		printf("error: %s\n", errname(-r));
	free(hdr);
	reg_ecr_auth_free(a);
	return r < 0 ? 1 : 0;
}
