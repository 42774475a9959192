/* SPDX-License-Identifier: MIT */
/* Placeholder until the writer lands. */
int idx_placeholder_writer(void);
int idx_placeholder_writer(void)
{
	return 0;
}
