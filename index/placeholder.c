/* SPDX-License-Identifier: MIT */
/* Placeholder so the room links before its first source lands. */
int index_placeholder(void);
int index_placeholder(void)
{
	return 0;
}
