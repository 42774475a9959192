/* SPDX-License-Identifier: MIT */
/* stratafs: placeholder until the daemon lands. */
#include <stdio.h>

int main(void)
{
	fprintf(stderr, "stratafs: not built yet\n");
	return 1;
}
