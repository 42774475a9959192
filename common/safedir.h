/* SPDX-License-Identifier: MIT */
/*
 * Directories only we control: the local cache and the ECR token cache are
 * trusted because nobody else can have written them. The rule (the one ssh
 * applies to ~/.ssh, with /tmp's sticky bit allowed on the way):
 *
 *   - the directory itself is owned by our euid and is not writable by
 *     group or others;
 *   - each directory from / down to it is owned by root or our euid, and is
 *     not writable by group or others unless it has the sticky bit (as
 *     /tmp), where others may add entries but not rename or remove ours;
 *   - no component is a symlink: the walk is an openat() chain with
 *     O_NOFOLLOW, so what was checked is what is used; "." components
 *     are skipped, ".." is refused (by name it could skip a symlink the
 *     kernel would follow) and a relative path starts at getcwd().
 *
 * Thread-safety: all functions are thread-safe (no shared state).
 */
#ifndef COMMON_SAFEDIR_H
#define COMMON_SAFEDIR_H

#include <stdbool.h>
#include <sys/stat.h>

#define SAFEDIR_WHY_MAX 512

enum {
	SAFEDIR_CREATE = 1, /* create missing components, mode 0700 */
};

/*
 * Open the directory @path under the rule above: an O_RDONLY|O_DIRECTORY|
 * O_CLOEXEC fd (the caller closes it), or -errno: -ENOENT (missing, without
 * SAFEDIR_CREATE), -ELOOP (a symlink), -ENOTDIR, -EPERM (owner or mode),
 * -ENAMETOOLONG, or what open/mkdir said. On failure @why (SAFEDIR_WHY_MAX
 * bytes, may be NULL) says which component and why, for the caller's
 * message: "'/tmp/c' is writable by group or others".
 */
int safedir_open(const char *path, int flags, char *why);

/*
 * The same check for @name, one component (no '/'), in the checked
 * directory @dirfd; @shown is the path of @name for @why
 * ("/var/cache/stratafs/v1").
 */
int safedir_openat(int dirfd, const char *name, const char *shown, int flags, char *why);

#endif
