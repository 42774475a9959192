/* SPDX-License-Identifier: MIT */
/*
 * The transport's connections (http_int.h): a pool of easy handles, the
 * share of DNS and TLS sessions, and the options that decide where a
 * request may go and whom it trusts, each one checked.
 *
 * Connection reuse: a handle keeps its live connections across
 * curl_easy_reset(), so a thread that takes a handle back from the pool
 * reuses a warm connection. DNS and TLS sessions are shared between all
 * handles through a CURLSH with mutex callbacks. The connection cache
 * itself is NOT put in the share: libcurl documents CURL_LOCK_DATA_CONNECT
 * as unsupported between concurrent threads. The pool size is
 * max_parallel, which also bounds requests in flight. With fresh_handles
 * (uploads: few and long; AWS calls: a few a day) there is no pool and no
 * share: each request gets a new handle, cleaned up after it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "common/log.h"
#include "common/version.h"
#include "registry/http_pool_int.h"

struct reg_http {
	CURLSH *share;   /* NULL with fresh_handles */
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	pthread_mutex_t pool_lock;
	pthread_cond_t pool_cond;
	CURL **idle;     /* protected by pool_lock */
	size_t n_idle;   /* protected by pool_lock */
	unsigned in_use; /* protected by pool_lock */
	unsigned max;
	bool fresh;
	char *ca_file;
	char *user_agent;
	bool insecure, allow_http;
	unsigned connect_timeout_ms;
	unsigned stall_timeout_ms;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *e, curl_lock_data d, curl_lock_access a, void *u)
{
	struct reg_http *h = u;

	(void)e;
	(void)a;
	if ((int)d >= 0 && d < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&h->share_locks[d]);
}

static void share_unlock(CURL *e, curl_lock_data d, void *u)
{
	struct reg_http *h = u;

	(void)e;
	if ((int)d >= 0 && d < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&h->share_locks[d]);
}

static int share_new(struct reg_http *h)
{
	h->share = curl_share_init();
	if (!h->share)
		return -ENOMEM;
	if (curl_share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK ||
	    curl_share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK ||
	    curl_share_setopt(h->share, CURLSHOPT_USERDATA, h) != CURLSHE_OK ||
	    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
	    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK)
		return -EIO;
	return 0;
}

int reg_http_new(const struct reg_http_opts *o, struct reg_http **out)
{
	struct reg_http *h;
	int r = -ENOMEM;

	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return -EIO;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&h->share_locks[i], NULL);
	pthread_mutex_init(&h->pool_lock, NULL);
	pthread_cond_init(&h->pool_cond, NULL);
	h->fresh = o->fresh_handles;
	h->max = o->max_parallel ? o->max_parallel : 8;
	h->insecure = o->insecure;
	h->allow_http = o->insecure || o->allow_http;
	h->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : 10000;
	h->stall_timeout_ms = o->stall_timeout_ms ? o->stall_timeout_ms : 60000;
	h->ca_file = o->ca_file ? strdup(o->ca_file) : NULL;
	h->user_agent = strdup(o->user_agent ? o->user_agent : STRATAFS_USER_AGENT);
	if (!h->user_agent || (o->ca_file && !h->ca_file))
		goto out_free;
	if (!h->fresh) {
		h->idle = calloc(h->max, sizeof(*h->idle));
		if (!h->idle)
			goto out_free;
		r = share_new(h);
		if (r < 0)
			goto out_free;
	}
	*out = h;
	return 0;
out_free:
	reg_http_free(h);
	return r;
}

void reg_http_free(struct reg_http *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n_idle; i++)
		curl_easy_cleanup(h->idle[i]);
	if (h->share)
		curl_share_cleanup(h->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&h->share_locks[i]);
	pthread_mutex_destroy(&h->pool_lock);
	pthread_cond_destroy(&h->pool_cond);
	free(h->idle);
	free(h->ca_file);
	free(h->user_agent);
	free(h);
}

void *reg_http_handle_get(struct reg_http *h)
{
	CURL *e = NULL;

	if (h->fresh)
		return curl_easy_init();
	pthread_mutex_lock(&h->pool_lock);
	while (h->in_use >= h->max)
		pthread_cond_wait(&h->pool_cond, &h->pool_lock);
	if (h->n_idle)
		e = h->idle[--h->n_idle];
	h->in_use++;
	pthread_mutex_unlock(&h->pool_lock);
	if (!e)
		e = curl_easy_init();
	if (!e) {
		pthread_mutex_lock(&h->pool_lock);
		h->in_use--;
		pthread_cond_signal(&h->pool_cond);
		pthread_mutex_unlock(&h->pool_lock);
	}
	return e;
}

void reg_http_handle_put(struct reg_http *h, void *easy)
{
	CURL *e = easy;

	if (h->fresh) {
		curl_easy_cleanup(e);
		return;
	}
	curl_easy_reset(e);
	pthread_mutex_lock(&h->pool_lock);
	if (h->n_idle < h->max)
		h->idle[h->n_idle++] = e;
	else
		curl_easy_cleanup(e);
	h->in_use--;
	pthread_cond_signal(&h->pool_cond);
	pthread_mutex_unlock(&h->pool_lock);
}

unsigned reg_http_stall_ms(const struct reg_http *h)
{
	return h->stall_timeout_ms;
}

#define CHECKED(opt, val)                                                                        \
	do {                                                                                     \
		if (curl_easy_setopt(e, opt, val) != CURLE_OK) {                                 \
			log_err("libcurl refused " #opt ": not sending '%.*s'",                  \
				(int)strcspn(url, "?"), url);                                    \
			return -EIO;                                                             \
		}                                                                                \
	} while (0)

int reg_http_connection_opts(struct reg_http *h, void *easy, const char *url, void *headers,
			     unsigned timeout_ms)
{
	CURL *e = easy;
	long stall_s = (long)((h->stall_timeout_ms + 999) / 1000);

	if (h->share)
		CHECKED(CURLOPT_SHARE, h->share);
	CHECKED(CURLOPT_URL, url);
	/* where a request may go: https only unless told, and never a redirect */
	CHECKED(CURLOPT_PROTOCOLS_STR, h->allow_http ? "http,https" : "https");
	CHECKED(CURLOPT_FOLLOWLOCATION, 0L);
	/* whom it trusts */
	CHECKED(CURLOPT_SSL_VERIFYPEER, h->insecure ? 0L : 1L);
	CHECKED(CURLOPT_SSL_VERIFYHOST, h->insecure ? 0L : 2L);
	if (h->ca_file)
		CHECKED(CURLOPT_CAINFO, h->ca_file);
	CHECKED(CURLOPT_HTTPHEADER, (struct curl_slist *)headers);
	CHECKED(CURLOPT_NOSIGNAL, 1L);
	CHECKED(CURLOPT_USERAGENT, h->user_agent);
	CHECKED(CURLOPT_CONNECTTIMEOUT_MS, (long)h->connect_timeout_ms);
	CHECKED(CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	/* a backstop for the exact stall check of the progress callback */
	CHECKED(CURLOPT_LOW_SPEED_LIMIT, 1L);
	CHECKED(CURLOPT_LOW_SPEED_TIME, stall_s > 0 ? stall_s : 1L);
	CHECKED(CURLOPT_TCP_KEEPALIVE, 1L);
	return 0;
}
