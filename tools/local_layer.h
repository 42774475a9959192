/* SPDX-License-Identifier: MIT */
/* A local layer blob opened for `strata ls` / `strata cat` (see local_layer.c). */
#ifndef TOOLS_LOCAL_LAYER_H
#define TOOLS_LOCAL_LAYER_H

struct cli_local;
struct idx_tree;
struct idx_layer;
struct idx_reader;

/* Open @file, with its saved index @index_file or NULL to build one; -errno, logged. */
int cli_local_open(const char *file, const char *index_file, struct cli_local **out);
void cli_local_close(struct cli_local *c);
/* Borrowed, valid until cli_local_close(). */
const struct idx_tree *cli_local_tree(const struct cli_local *c);
const struct idx_layer *cli_local_layer(const struct cli_local *c);
const struct idx_reader *cli_local_reader(const struct cli_local *c);

#endif
