/* SPDX-License-Identifier: MIT */
/* Placeholder until this file lands. */
int idx_placeholder_tree(void);
int idx_placeholder_tree(void)
{
	return 0;
}
