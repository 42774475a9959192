/* SPDX-License-Identifier: MIT */
/* Placeholder so the room links before its first source lands. */
int fs_placeholder(void);
int fs_placeholder(void)
{
	return 0;
}
