/* SPDX-License-Identifier: MIT */
/* Placeholder until this file lands. */
int idx_placeholder_layer(void);
int idx_placeholder_layer(void)
{
	return 0;
}
