/* SPDX-License-Identifier: MIT */
/* Placeholder until this file lands. */
int idx_placeholder_tar(void);
int idx_placeholder_tar(void)
{
	return 0;
}
