/* SPDX-License-Identifier: MIT */
/*
 * fs_kernel_ra_dev() on arbitrary mountinfo text: it finds no device, or
 * one that fits its buffer and is MAJ:MIN in decimal (a sysfs path is
 * built from it), for a plain mount point and for one with escapes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/kernel_ra.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *data, size_t size, const char *mnt)
{
	char dev[16];
	FILE *f = size ? fmemopen((void *)data, size, "r") : NULL;
	size_t a, b;

	if (!f)
		return;
	if (fs_kernel_ra_dev(f, mnt, dev, sizeof(dev)) == 0) {
		if (memchr(dev, '\0', sizeof(dev)) == NULL)
			abort();
		a = strspn(dev, "0123456789");
		b = a && dev[a] == ':' ? strspn(dev + a + 1, "0123456789") : 0;
		if (!b || dev[a + 1 + b] != '\0')
			abort();
	}
	fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size, "/tmp/m");
	check(data, size, "/tmp/a b\\c");
	return 0;
}
