/* SPDX-License-Identifier: MIT */
/*
 * The access profile a commit pushes with its layer (fs/profile.h): the
 * one the --base mount recorded while the build read it, or a file
 * (`stratafs -o record=FILE`, `strata stats --profile`). It is validated
 * here as a mount would, uploaded as a blob and pinned by the new
 * manifest (REG_ANNOT_STRATAFS_PROFILE on the new layer's descriptor), so
 * a mount of the result trusts it as much as the manifest's digest. A
 * profile that cannot be had is logged and the commit goes on without.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "fs/profile.h"
#include "tools/image_int.h"
#include "tools/mount_stats.h"

int image_profile_load(struct image_push *ip, const char *spec, const char *base)
{
	struct fs_profile_doc d;
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	int r;

	if (spec && strcmp(spec, "none") == 0)
		return 0;
	if (spec)
		r = fs_profile_read_file(spec, &text, &len);
	else if (base && stat(base, &st) == 0 && S_ISDIR(st.st_mode))
		r = mount_profile_read(base, &text, &len);
	else
		return 0; /* no mount, no file: nothing was recorded */
	if (r == 0)
		r = fs_profile_parse(text, len, &d);
	if (r < 0) {
		log_warn("no access profile pushed: cannot read %s '%s': %s", spec ? "file" : "mount",
			 spec ? spec : base, r == -EBADMSG ? "malformed" : strerror(-r));
		free(text);
		return spec ? r : 0; /* a file the user named must be right */
	}
	if (d.n_spans == 0) {
		log_info("the access profile names no span (the build read nothing): not pushed");
		free(text);
		text = NULL;
		len = 0;
	}
	fs_profile_doc_release(&d);
	ip->profile = text;
	ip->profile_len = len;
	return 0;
}

int image_profile_upload(struct image_push *ip)
{
	struct reg_blob_src src = { .fd = -1, .buf = ip->profile, .size = ip->profile_len };
	uint8_t sha[DIGEST_SHA256_LEN];
	int r;

	if (!ip->profile)
		return 0;
	if (ip->squashed) { /* it names the base's layers, which the new image no longer has */
		log_info("squashed: the access profile names layers the new image does not have; "
			 "not pushed");
		return 0;
	}
	digest_sha256(ip->profile, ip->profile_len, sha);
	digest_format(sha, ip->profile_digest);
	r = reg_blob_upload(ip->p, ip->profile_digest, &src, NULL, NULL);
	if (r < 0) {
		log_err("cannot upload the access profile: %s", strerror(-r));
		ip->profile_digest[0] = '\0';
	}
	return r;
}
