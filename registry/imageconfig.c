/* SPDX-License-Identifier: MIT */
/* The image config's rootfs.diff_ids: the layers' uncompressed digests. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "registry/registry_int.h"

void reg_strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int reg_image_config_diff_ids(const char *json, size_t len, char ***ids, size_t *n)
{
	json_t *root, *rootfs, *arr;
	char **v = NULL;
	size_t count = 0;
	int r = -EBADMSG;

	if (len > REG_MAX_CONFIG_SIZE)
		return -EFBIG;
	root = json_loadb(json, len, 0, NULL);
	rootfs = json_object_get(root, "rootfs");
	arr = json_object_get(rootfs, "diff_ids");
	if (!json_is_array(arr))
		goto out_decref;
	count = json_array_size(arr);
	v = calloc(count ? count : 1, sizeof(*v));
	if (!v) {
		r = -ENOMEM;
		goto out_decref;
	}
	for (size_t i = 0; i < count; i++) {
		const char *s = json_string_value(json_array_get(arr, i));

		if (!s || !digest_is_valid(s))
			goto out_free;
		v[i] = strdup(s);
		if (!v[i]) {
			r = -ENOMEM;
			goto out_free;
		}
	}
	*ids = v;
	*n = count;
	json_decref(root);
	return 0;
out_free:
	reg_strv_free(v, count);
out_decref:
	json_decref(root);
	return r;
}
