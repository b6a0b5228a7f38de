/* fwt_client: options, credentials, base URLs, worker engine, the account slot (docs/protocol.md §1). */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/client_impl.h"
#include "core/future_impl.h"
#include "json/json.h"

#define DEFAULT_BASE_URL "https://api.fireworks.ai"
#define FWT__UNREACHABLE_DEFAULT_MS 30000
#define FWT__MAX_CONCURRENT_DEFAULT 64 /* worker requests in flight at once (client.h) */
#define MAX_URL_LEN 2048

int fwt_client_options_init(fwt_client_options *opts, unsigned int version)
{
    if (!opts)
        return fwt__last_set(FWT_EINVAL, "fwt_client_options_init: opts is NULL");
    if (version != FWT_CLIENT_OPTIONS_VERSION)
        return fwt__last_set(FWT_EINVAL, "fwt_client_options_init: unknown version %u", version);
    memset(opts, 0, sizeof *opts);
    opts->version = version;
    opts->log_level = FWT_LOG_WARN;
    opts->connect_timeout_ms = 10000;
    opts->header_timeout_ms = 45000;
    opts->body_timeout_ms = 45000;
    opts->retry_base_ms = 1000;
    opts->retry_cap_ms = 30000;
    opts->retry_budget_ms = 300000;
    opts->max_response_bytes = 64LL * 1024 * 1024;
    opts->heartbeat_interval_ms = 10000;
    opts->poll_floor_ms = 100;
    opts->unreachable_timeout_ms = FWT__UNREACHABLE_DEFAULT_MS;
    opts->max_concurrent_requests = FWT__MAX_CONCURRENT_DEFAULT;
    opts->max_requests_per_host = FWT__MAX_CONCURRENT_DEFAULT - FWT__MAX_CONCURRENT_DEFAULT / 4;
    return FWT_OK;
}

/* Replace every occurrence of the key by a placeholder; the key never reaches a log sink. */
static void scrub(char *msg, size_t cap, const char *key)
{
    static const char red[] = "[REDACTED]";
    size_t klen = key ? strlen(key) : 0;
    if (!klen)
        return;
    char *p, *from = msg;
    while ((p = strstr(from, key)) != NULL) {
        size_t tail = strlen(p + klen);
        size_t rlen = sizeof red - 1;
        if ((size_t)(p - msg) + rlen + tail + 1 > cap)
            rlen = klen < rlen ? klen : rlen; /* never grow past the buffer */
        memmove(p + rlen, p + klen, tail + 1);
        memcpy(p, red, rlen);
        from = p + rlen; /* the placeholder itself may contain the key (e.g. a key "RED") */
    }
}

char *fwt__client_scrub_dup(const fwt_client *c, const char *msg)
{
    if (!msg)
        return NULL;
    size_t klen = c && c->api_key ? strlen(c->api_key) : 0;
    /* Room for every occurrence to become the 10-character placeholder. */
    size_t cap = strlen(msg) * (klen ? 10 / klen + 1 : 1) + 16;
    char *out = fwt__malloc(cap);
    if (!out)
        return NULL;
    memcpy(out, msg, strlen(msg) + 1);
    scrub(out, cap, c ? c->api_key : NULL);
    return out;
}

static void client_log_forward(int level, const char *msg, void *payload)
{
    fwt_client *c = payload;
    char buf[1100];
    /* Redact on the whole line, then cut: a key straddling the cut leaves no fragment. */
    fwt__redact_copy(buf, sizeof buf, msg, strlen(msg), c->api_key, c->api_key ? strlen(c->api_key) : 0);
    c->user_log(level, buf, c->user_log_payload);
}

static void engine_log(int level, const char *msg, void *ctx)
{
    fwt_client *c = ctx;
    fwt__log(&c->logger, level, "%s", msg);
}

static int bad_chars(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return 1;
    return 0;
}

/* http(s)://host[:port][/path] with a non-empty host; http only to loopback unless allowed. */
int fwt__check_base_url(const char *what, const char *url, int allow_insecure, char **out)
{
    *out = NULL;
    if (!*url)
        return fwt__last_set(FWT_EINVAL, "%s is empty", what);
    if (strlen(url) > MAX_URL_LEN)
        return fwt__last_set(FWT_EINVAL, "%s is longer than %d characters", what, MAX_URL_LEN);
    if (bad_chars(url))
        return fwt__last_set(FWT_EINVAL, "%s contains whitespace or control characters", what);
    int https = strncasecmp(url, "https://", 8) == 0;
    int http = !https && strncasecmp(url, "http://", 7) == 0;
    if (!https && !http)
        return fwt__last_set(FWT_EINVAL, "%s must start with https:// or http:// (got \"%.64s\")", what, url);
    const char *host = url + (https ? 8 : 7);
    size_t hlen = strcspn(host, "/?#");
    const char *at = memchr(host, '@', hlen);
    if (at)
        return fwt__last_set(FWT_EINVAL, "%s must not contain credentials", what);
    if (hlen == 0 || host[0] == ':' || host[0] == '/')
        return fwt__last_set(FWT_EINVAL, "%s has no host", what);
    if (strchr(url, '?') || strchr(url, '#'))
        return fwt__last_set(FWT_EINVAL, "%s must not contain a query or fragment", what);
    if (http && !allow_insecure && !fwt__url_is_loopback(url))
        return fwt__last_set(FWT_EINVAL,
                             "%s uses http:// to a non-loopback host; the API key would travel in clear text "
                             "(allow_insecure_http overrides this)",
                             what);
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    *out = fwt__strndup(url, n);
    return *out ? FWT_OK : fwt__last_set(FWT_ENOMEM, "out of memory");
}

/* "No bound" for a *_timeout_ms field set to -1: about 35 years, far from any overflow. */
#define NO_TIMEOUT_MS ((int64_t)1 << 40)

/* The option rule: 0 = the default, > 0 = the value, and for *_timeout_ms fields -1 = no bound. */
static int check_ms(const char *what, int64_t v, int64_t def, int64_t *out)
{
    if (v == -1 && strstr(what, "_timeout_ms")) {
        *out = NO_TIMEOUT_MS;
        return FWT_OK;
    }
    if (v < 0)
        return fwt__last_set(FWT_EINVAL, "%s must not be negative%s", what,
                             strstr(what, "_timeout_ms") ? " (except -1: no bound)" : "");
    *out = v ? v : def;
    return FWT_OK;
}

static void client_destroy(fwt_client *c)
{
    if (!c)
        return;
    fwt__free_mem(c->base_url);
    fwt__free_mem(c->hotload_url);
    fwt__free_mem(c->inference_url);
    fwt__free_mem(c->account_id);
    fwt__free_mem(c->proxy);
    fwt__free_secret(c->hdr_key);
    fwt__free_secret(c->hdr_bearer);
    fwt__free_secret(c->api_key);
    pthread_mutex_destroy(&c->account_mu);
    pthread_mutex_destroy(&c->attach_mu);
    fwt__free_mem(c);
}

int fwt__client_new_with_clock(fwt_client **out, const fwt_client_options *opts, const fwt__clock *clock)
{
    if (!out)
        return fwt__last_set(FWT_EINVAL, "fwt_client_new: out is NULL");
    *out = NULL;
    fwt_client_options defs;
    fwt_client_options_init(&defs, FWT_CLIENT_OPTIONS_VERSION);
    if (!opts)
        opts = &defs;
    if (opts->version != FWT_CLIENT_OPTIONS_VERSION)
        return fwt__last_set(FWT_EINVAL, "fwt_client_new: unknown options version %u", opts->version);
    fwt__json_hooks_install();

    fwt_client *c = fwt__calloc(1, sizeof *c);
    if (!c)
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    pthread_mutex_init(&c->account_mu, NULL);
    pthread_mutex_init(&c->attach_mu, NULL);
    fwt_client_options *o = &c->opts;
    *o = *opts;
    int rc = FWT_OK;
    if (!rc) rc = check_ms("connect_timeout_ms", opts->connect_timeout_ms, defs.connect_timeout_ms, &o->connect_timeout_ms);
    if (!rc) rc = check_ms("header_timeout_ms", opts->header_timeout_ms, defs.header_timeout_ms, &o->header_timeout_ms);
    if (!rc) rc = check_ms("body_timeout_ms", opts->body_timeout_ms, defs.body_timeout_ms, &o->body_timeout_ms);
    if (!rc) rc = check_ms("retry_base_ms", opts->retry_base_ms, defs.retry_base_ms, &o->retry_base_ms);
    if (!rc) rc = check_ms("retry_cap_ms", opts->retry_cap_ms, defs.retry_cap_ms, &o->retry_cap_ms);
    if (!rc) rc = check_ms("retry_budget_ms", opts->retry_budget_ms, defs.retry_budget_ms, &o->retry_budget_ms);
    if (!rc) rc = check_ms("max_response_bytes", opts->max_response_bytes, defs.max_response_bytes, &o->max_response_bytes);
    if (!rc) rc = check_ms("heartbeat_interval_ms", opts->heartbeat_interval_ms, defs.heartbeat_interval_ms,
                           &o->heartbeat_interval_ms);
    if (!rc) rc = check_ms("poll_floor_ms", opts->poll_floor_ms, defs.poll_floor_ms, &o->poll_floor_ms);
    if (!rc && opts->unreachable_timeout_ms < -1)
        rc = fwt__last_set(FWT_EINVAL, "unreachable_timeout_ms must be -1 (no separate limit), 0 (default) or positive");
    if (!rc)
        o->unreachable_timeout_ms = opts->unreachable_timeout_ms ? opts->unreachable_timeout_ms
                                                                 : FWT__UNREACHABLE_DEFAULT_MS;
    if (!rc && (opts->max_concurrent_requests < 0 || opts->max_requests_per_host < 0))
        rc = fwt__last_set(FWT_EINVAL, "max_concurrent_requests and max_requests_per_host must be 0 (default) or positive");
    if (!rc) {
        /* Defaults as documented in client.h: 64, and three quarters of the total per origin. */
        if (!o->max_concurrent_requests)
            o->max_concurrent_requests = FWT__MAX_CONCURRENT_DEFAULT;
        if (!o->max_requests_per_host)
            o->max_requests_per_host = o->max_concurrent_requests - o->max_concurrent_requests / 4;
        if (o->max_requests_per_host > o->max_concurrent_requests)
            o->max_requests_per_host = o->max_concurrent_requests;
    }
    if (!rc && (opts->log_level < FWT_LOG_ERROR || opts->log_level > FWT_LOG_DEBUG))
        rc = fwt__last_set(FWT_EINVAL, "log_level %d is not a fwt_log_level", (int)opts->log_level);
    if (rc) {
        client_destroy(c);
        return rc;
    }

    /* Credentials (docs/protocol.md §1): explicit, else the environment. */
    const char *key = opts->api_key ? opts->api_key : getenv("FIREWORKS_API_KEY");
    if (!key || !*key) {
        client_destroy(c);
        return fwt__last_set(FWT_EINVAL, "no API key: set options.api_key or FIREWORKS_API_KEY");
    }
    if (bad_chars(key) || strlen(key) > 4096) {
        client_destroy(c);
        return fwt__last_set(FWT_EINVAL, "the API key contains whitespace or control characters, or is too long");
    }
    c->api_key = fwt__strdup(key);
    c->hdr_key = fwt__asprintf("X-Api-Key: %s", key);
    c->hdr_bearer = fwt__asprintf("Authorization: Bearer %s", key);
    if (!c->api_key || !c->hdr_key || !c->hdr_bearer) {
        client_destroy(c);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }

    const char *base = opts->base_url ? opts->base_url : getenv("FIREWORKS_BASE_URL");
    if (!base || !*base)
        base = DEFAULT_BASE_URL;
    int insecure = opts->allow_insecure_http != 0;
    rc = fwt__check_base_url("base_url", base, insecure, &c->base_url);
    if (!rc)
        rc = fwt__check_base_url("hotload_base_url", opts->hotload_base_url ? opts->hotload_base_url : c->base_url, insecure,
                       &c->hotload_url);
    if (!rc)
        rc = fwt__check_base_url("inference_base_url", opts->inference_base_url ? opts->inference_base_url : c->base_url,
                       insecure, &c->inference_url);
    if (!rc && opts->account_id) {
        rc = fwt__check_name("account_id", opts->account_id, 200);
        if (!rc && !(c->account_id = fwt__strdup(opts->account_id)))
            rc = fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    if (!rc && opts->proxy) {
        /* Proxy policy (client.h): an explicit proxy never sees plain http, so the key never
         * crosses it in clear text. */
        if (strlen(opts->proxy) > MAX_URL_LEN || bad_chars(opts->proxy))
            rc = fwt__last_set(FWT_EINVAL, "proxy contains whitespace or control characters, or is too long");
        else if (*opts->proxy && (strncasecmp(c->base_url, "http://", 7) == 0 || strncasecmp(c->hotload_url, "http://", 7) == 0 ||
                                  strncasecmp(c->inference_url, "http://", 7) == 0))
            rc = fwt__last_set(FWT_EINVAL, "a proxy is set and a base URL uses plain http://: the proxy would see the "
                                           "API key in clear text (use https://, or no proxy)");
        else if (!(c->proxy = fwt__strdup(opts->proxy)))
            rc = fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    if (rc) {
        client_destroy(c);
        return rc;
    }
    o->proxy = c->proxy;
    o->base_url = c->base_url;
    o->hotload_base_url = c->hotload_url;
    o->inference_base_url = c->inference_url;
    o->account_id = NULL; /* read through fwt__client_account */
    o->api_key = NULL;

    c->user_log = opts->log_fn;
    c->user_log_payload = opts->log_payload;
    c->logger.level = (int)opts->log_level;
    c->logger.fn = opts->log_fn ? client_log_forward : NULL;
    c->logger.payload = c;

    snprintf(c->user_agent, sizeof c->user_agent, "libfwtrain/%s", fwt_version_string());
    fwt__engine_config ec;
    memset(&ec, 0, sizeof ec);
    if (clock)
        ec.clock = *clock;
    ec.user_agent = c->user_agent;
    ec.max_response_bytes = o->max_response_bytes;
    ec.log = c->logger.fn ? engine_log : NULL;
    ec.log_ctx = c;
    ec.skip_debug_log = c->logger.level < FWT_LOG_DEBUG;
    ec.proxy = c->proxy;
    ec.max_transfers = (int)o->max_concurrent_requests;
    ec.max_per_host = (int)o->max_requests_per_host;
    ec.redact = strlen(c->api_key) >= FWT__SCRUB_MIN_KEY ? c->api_key : NULL;
    rc = fwt__engine_new(&c->engine, &ec);
    if (rc) {
        client_destroy(c);
        return fwt__last_set(rc, "could not start the HTTP engine: %s", fwt_strerror(rc));
    }
    fwt__future_engine_alive(c->engine);
    fwt__lib_client_added();
    fwt__log(&c->logger, FWT_LOG_DEBUG, "client ready: base %s, %s", c->base_url, c->user_agent);
    fwt__last_ok();
    *out = c;
    return FWT_OK;
}

int fwt_client_new(fwt_client **out, const fwt_client_options *opts)
{
    return fwt__client_new_with_clock(out, opts, NULL);
}

void fwt_client_free(fwt_client *c)
{
    if (!c)
        return;
    if (fwt__engine_on_worker(c->engine)) {
        /* Joining the worker from itself would deadlock: refuse (documented) rather than hang the host. */
        fwt__log(&c->logger, FWT_LOG_ERROR, "fwt_client_free called from a completion callback; ignored");
        return;
    }
    /* Stopping the engine completes every request and timer with FWT_ECANCELED on the worker. */
    fwt__engine_free(c->engine);
    fwt__future_engine_gone(c->engine);
    c->engine = NULL;
    /* Objects built on this client (training sessions, ...) learn that it is gone. */
    pthread_mutex_lock(&c->attach_mu);
    while (c->attached) {
        fwt__attachment *a = c->attached;
        c->attached = a->next;
        pthread_mutex_unlock(&c->attach_mu);
        a->detach(a->ud);
        fwt__free_mem(a);
        pthread_mutex_lock(&c->attach_mu);
    }
    pthread_mutex_unlock(&c->attach_mu);
    fwt__lib_client_removed();
    client_destroy(c);
}

int fwt__client_attach(fwt_client *c, void (*detach)(void *ud), void *ud, void **handle)
{
    fwt__attachment *a = fwt__calloc(1, sizeof *a);
    if (!a)
        return FWT_ENOMEM;
    a->detach = detach;
    a->ud = ud;
    pthread_mutex_lock(&c->attach_mu);
    a->next = c->attached;
    c->attached = a;
    pthread_mutex_unlock(&c->attach_mu);
    *handle = a;
    return FWT_OK;
}

void fwt__client_detach(fwt_client *c, void *handle)
{
    pthread_mutex_lock(&c->attach_mu);
    for (fwt__attachment **pp = &c->attached; *pp; pp = &(*pp)->next) {
        if (*pp == handle) {
            *pp = (*pp)->next;
            fwt__free_mem(handle);
            break;
        }
    }
    pthread_mutex_unlock(&c->attach_mu);
}

const char *fwt_client_base_url(const fwt_client *c) { return c ? c->base_url : NULL; }
fwt__engine *fwt__client_engine(fwt_client *c) { return c->engine; }
const fwt__logger *fwt__client_logger(const fwt_client *c) { return &c->logger; }

void fwt_client_log(fwt_client *client, int level, const char *message)
{
    if (client && message)
        fwt__log(&client->logger, level, "%s", message);
}
const fwt_client_options *fwt__client_options(const fwt_client *c) { return &c->opts; }
const char *fwt__client_hotload_url(const fwt_client *c) { return c->hotload_url; }
const char *fwt__client_inference_url(const fwt_client *c) { return c->inference_url; }

/*
 * The account slot: the configured id, or the one `resolve` (the API layer's
 * account lookup, src/api/account.c) finds the first time; core knows no route.
 */
int fwt__client_account_slot(fwt_client *c, fwt__account_resolve_fn resolve, const char **out)
{
    pthread_mutex_lock(&c->account_mu);
    int rc = FWT_OK;
    if (!c->account_id)
        rc = resolve(c, &c->account_id);
    if (!rc) {
        *out = c->account_id;
        fwt__last_ok();
    }
    pthread_mutex_unlock(&c->account_mu);
    return rc;
}

unsigned fwt__client_compat(const fwt_client *c) { return atomic_load(&((fwt_client *)c)->compat); }
void fwt__client_compat_set(fwt_client *c, unsigned bits) { atomic_fetch_or(&c->compat, bits); }
