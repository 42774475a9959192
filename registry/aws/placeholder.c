/* SPDX-License-Identifier: MIT */
/* Placeholder until the AWS module lands. */
int reg_aws_placeholder(void);
int reg_aws_placeholder(void)
{
	return 0;
}
