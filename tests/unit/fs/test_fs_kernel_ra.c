/* SPDX-License-Identifier: MIT */
/*
 * fs_kernel_ra_dev(): the device of a FUSE mount from mountinfo text, the
 * one name a sysfs path is built from. Escaped mount points, the newest of
 * several mounts, other filesystems, and lines that are malformed or whose
 * device field is not MAJ:MIN (a path, "..", too long, missing).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fs/kernel_ra.h"
#include "tap.h"

/* fs_kernel_ra_dev() over @text; the device, or "-errno" */
static const char *dev_of(const char *text, const char *mnt, size_t len)
{
	static char dev[64], err[16];
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int r;

	if (!f)
		return "fmemopen";
	r = fs_kernel_ra_dev(f, mnt, dev, len);
	fclose(f);
	if (r < 0) {
		snprintf(err, sizeof(err), "%d", r);
		return err;
	}
	return dev;
}

#define ENOENT_S "-2"

struct ra_case {
	const char *text, *mnt;
	size_t len;
	const char *want, *what;
};

static const char two[] =
	"22 1 8:1 / / rw - ext4 /dev/vda rw\n"
	"45 27 0:40 / /tmp/m ro,nosuid,nodev - fuse.stratafs reg/a:1 ro\n"
	"46 45 0:41 / /tmp/m ro,nosuid,nodev shared:3 - fuse.stratafs reg/b:1 ro\n";
#define LINE(dev, mnt, rest) "47 1 " dev " / " mnt " ro" rest "\n"

static const struct ra_case cases[] = {
	{ two, "/tmp/m", 64, "0:41", "two mounts on one path: the newest" },
	{ two, "/", 64, ENOENT_S, "ext4 is not a FUSE mount" },
	{ two, "/tmp", 64, ENOENT_S, "a prefix of a mount point is not it" },
	{ LINE("0:42", "/tmp/a\\040b\\134c", " - fuse.stratafs x ro"), "/tmp/a b\\c", 64, "0:42",
	  "an octal-escaped mount point (space, backslash) matches its plain path" },
	{ LINE("0:42", "/tmp/ab", " - fuseblk x ro"), "/tmp/ab", 64, "0:42", "fuseblk counts as FUSE" },
	{ "47 1 0:42 / /tmp/ab ro - fuse x ro", "/tmp/ab", 64, "0:42", "a last line without a newline" },
	{ LINE("0:42", "/tmp/ab", " - fuse x ro"), "/tmp/ab", 4, ENOENT_S,
	  "a device that does not fit is refused" },
	{ LINE("0:42", "/tmp/ab", " - fuse x ro"), "/tmp/ab", 0, ENOENT_S,
	  "no room at all: refused, nothing written" },
	{ LINE("../../x", "/tmp/ab", " - fuse x ro"), "/tmp/ab", 64, ENOENT_S,
	  "a device field that is a path is refused" },
	{ LINE("0:4a", "/tmp/ab", " - fuse x ro"), "/tmp/ab", 64, ENOENT_S,
	  "a device that is not decimal is refused" },
	{ LINE(":42", "/tmp/ab", " - fuse x ro"), "/tmp/ab", 64, ENOENT_S,
	  "a device without its major is refused" },
	{ LINE("0:42", "/tmp/ab", " fuse x ro"), "/tmp/ab", 64, ENOENT_S,
	  "a line without the ' - ' separator is skipped" },
	{ "47 1 0:42 - fuse x\n", "/tmp/ab", 64, ENOENT_S, "a line cut short is skipped" },
	{ LINE("0:42", "/tmp/ab\\0", " - fuse x"), "/tmp/ab\\0", 64, "0:42",
	  "a backslash not followed by three octal digits stays as it is" },
	{ "", "/tmp/ab", 64, ENOENT_S, "empty mountinfo" },
};

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is_str(dev_of(cases[i].text, cases[i].mnt, cases[i].len), cases[i].want, "%s",
		       cases[i].what);
	return tap_done();
}
