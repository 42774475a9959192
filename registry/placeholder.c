/* SPDX-License-Identifier: MIT */
/* Placeholder so the room links before its first source lands. */
int registry_placeholder(void);
int registry_placeholder(void)
{
	return 0;
}
