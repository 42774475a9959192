/* SPDX-License-Identifier: MIT */
/* The kernel's readahead on a FUSE mount (kernel_ra.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fdio.h"
#include "fs/kernel_ra.h"

/* mountinfo escapes ' ', '\t', '\n' and '\\' as \ooo: undo it in place. */
static void unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

/* "MAJ:MIN", decimal: the only device name a sysfs path is built from. */
static bool is_dev(const char *s)
{
	size_t a = strspn(s, "0123456789"), b;

	if (a == 0 || s[a] != ':')
		return false;
	b = strspn(s + a + 1, "0123456789");
	return b > 0 && s[a + 1 + b] == '\0';
}

/*
 * A mountinfo line: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - FSTYPE SRC SUPER".
 * True when it is a FUSE mount on @mnt; its device into @dev.
 */
static bool fuse_mount_on(char *line, const char *mnt, char *dev, size_t dev_len)
{
	char *save = NULL, *f[5], *sep = strstr(line, " - ");
	int i;

	if (!sep || strncmp(sep + 3, "fuse", 4) != 0)
		return false;
	*sep = '\0';
	for (i = 0; i < 5; i++) {
		f[i] = strtok_r(i ? NULL : line, " ", &save);
		if (!f[i])
			return false;
	}
	unescape(f[4]);
	if (strcmp(f[4], mnt) != 0 || !is_dev(f[2]) || strlen(f[2]) >= dev_len)
		return false;
	memcpy(dev, f[2], strlen(f[2]) + 1);
	return true;
}

int fs_kernel_ra_dev(FILE *mountinfo, const char *mountpoint, char *dev, size_t len)
{
	char *line = NULL;
	size_t cap = 0;

	if (len)
		dev[0] = '\0';
	while (getline(&line, &cap, mountinfo) > 0)
		fuse_mount_on(line, mountpoint, dev, len); /* the last one is the newest */
	free(line);
	return len && dev[0] ? 0 : -ENOENT;
}

int fs_kernel_ra_set(const char *mountpoint, uint64_t bytes)
{
	char dev[32], path[96], val[32];
	FILE *mi = fopen("/proc/self/mountinfo", "re");
	int fd, n, r;

	if (!mi)
		return -errno;
	r = fs_kernel_ra_dev(mi, mountpoint, dev, sizeof(dev));
	fclose(mi);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", dev);
	n = snprintf(val, sizeof(val), "%" PRIu64 "\n", bytes >> 10);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = fd_write_all(fd, val, (size_t)n);
	close(fd);
	return r;
}
