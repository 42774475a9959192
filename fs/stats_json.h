/* SPDX-License-Identifier: MIT */
/*
 * The stats JSON a mount or a store publishes (what `strata stats` prints),
 * built with jansson: {"mount":{"ref":..,"manifest":..,"view":..,...},
 * <the store's members: "layers", "totals", "fetch_latency_ms", "profile">}.
 */
#ifndef FS_STATS_JSON_H
#define FS_STATS_JSON_H

#include <stddef.h>

#include "fs/image.h"

struct json_t;

/* The object above for @img shown as @view; the caller adds to its "mount"
 * member and drops it (json_decref). NULL: -ENOMEM. */
struct json_t *fs_image_stats_json(struct fs_image *img, const char *view);

/* The store's members (fs/stats.c): a new object, NULL on ENOMEM. */
struct json_t *fs_store_stats(struct fs_store *s);

/* @j as compact text (drops @j); NULL when it fails or is over @max bytes. */
char *fs_stats_json_dump(struct json_t *j, size_t max, size_t *len);

/* @v rounded to @decimals places, as the stats print it. */
double fs_stats_round(double v, int decimals);

#endif
