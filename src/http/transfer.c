/*
 * One request's easy-handle side: copying the spec, configuring a pooled
 * easy handle safely for each attempt, the header/body callbacks, and
 * turning a finished attempt into an fwt__http_result.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fwtrain/client.h"
#include "fwtrain/common.h"
#include "http/engine_int.h"

/* ---------- spec copy ---------- */

static int has_crlf(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

/* One path segment [s, end) that is "." or ".." (also spelled with %2e). */
static int is_dot_segment(const char *s, const char *end)
{
    int dots = 0;
    while (s < end) {
        if (*s == '.') {
            s++;
        } else if (end - s >= 3 && s[0] == '%' && s[1] == '2' && (s[2] == 'e' || s[2] == 'E')) {
            s += 3;
        } else {
            return 0;
        }
        dots++;
    }
    return dots == 1 || dots == 2;
}

/*
 * True if the URL's path has a "." or ".." segment. Every path the library
 * sends is built from ids; such a segment means an id slipped through
 * validation, and a server (or a proxy) resolving it would act on another
 * resource (e.g. DELETE .../deployments/.. → DELETE .../accounts/acme/).
 */
static int has_dot_segment(const char *url)
{
    const char *p = strstr(url, "://");
    if (!p)
        return 0;
    p += 3;
    p += strcspn(p, "/?#"); /* skip the authority */
    while (*p == '/') {
        const char *seg = p + 1;
        const char *end = seg + strcspn(seg, "/?#");
        if (is_dot_segment(seg, end))
            return 1;
        p = end;
    }
    return 0;
}

/* Length of the URL's scheme://authority prefix: the key requests are admitted by (engine.c).
 * The URL was checked already, so a plain scan is enough (it ends where curl ends the authority). */
static size_t origin_len(const char *url)
{
    const char *p = strstr(url, "://");
    if (!p)
        return strlen(url);
    p += 3;
    return (size_t)(p - url) + strcspn(p, "/?#");
}

/* The static spelling of a supported method, or NULL. */
static const char *method_known(const char *m)
{
    static const char *const ok[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strcmp(m, ok[i]) == 0)
            return ok[i];
    return NULL;
}

/*
 * The request's header list as one block: the curl_slist nodes, then their
 * strings. curl only reads the list, so one allocation replaces one node and
 * one copy per header. Values may hold API keys: the block is wiped when freed.
 */
static struct curl_slist *header_block(const fwt__http_spec *spec, size_t *bytes)
{
    static const char idem_name[] = "X-Idempotency-Key: ";
    static const char expect[] = "Expect:"; /* no "Expect: 100-continue" round trip on POST bodies */
    size_t n = 1, chars = sizeof expect;
    if (spec->headers)
        for (const char *const *h = spec->headers; *h; h++, n++)
            chars += strlen(*h) + 1;
    if (spec->idempotency_key) {
        n++;
        chars += sizeof idem_name - 1 + strlen(spec->idempotency_key) + 1;
    }
    *bytes = n * sizeof(struct curl_slist) + chars;
    struct curl_slist *nodes = fwt__malloc(*bytes);
    if (!nodes)
        return NULL;
    char *text = (char *)(nodes + n);
    size_t i = 0;
    if (spec->headers)
        for (const char *const *h = spec->headers; *h; h++, i++) {
            size_t len = strlen(*h) + 1;
            memcpy(text, *h, len);
            nodes[i].data = text;
            text += len;
        }
    if (spec->idempotency_key) {
        size_t len = strlen(spec->idempotency_key) + 1;
        memcpy(text, idem_name, sizeof idem_name - 1);
        memcpy(text + sizeof idem_name - 1, spec->idempotency_key, len);
        nodes[i++].data = text;
        text += sizeof idem_name - 1 + len;
    }
    memcpy(text, expect, sizeof expect);
    nodes[i++].data = text;
    for (size_t k = 0; k < n; k++)
        nodes[k].next = k + 1 < n ? &nodes[k + 1] : NULL;
    return nodes;
}

void fwt__req_free(fwt__req *r)
{
    if (!r)
        return;
    if (!r->direct)
        fwt__free_mem((char *)r->url);
    fwt__free_mem(r->url_log);
    if (r->headers) {
        explicit_bzero(r->headers, r->headers_bytes);
        fwt__free_mem(r->headers);
    }
    if (r->body && !r->direct) {
        explicit_bzero((char *)r->body, r->body_len);
        fwt__free_mem((char *)r->body);
    }
    fwt__free_mem(r->rbody);
    fwt__http_result_free(r->last);
    fwt__http_result_free(r->fallback);
    fwt__free_mem(r);
}

fwt__req *fwt__req_new(const fwt__http_spec *spec, fwt__engine *e, uint64_t now, int direct, int *err)
{
    *err = FWT_EINVAL;
    const char *method = spec && spec->method ? method_known(spec->method) : NULL;
    if (!method || !spec->url)
        return NULL;
    if (!spec->body && spec->body_len)
        return NULL;
    if (spec->connect_timeout_ms < 0 || spec->header_timeout_ms < 0 || spec->body_timeout_ms < 0 ||
        spec->deadline_ms < 0 || spec->max_response_bytes < 0 || spec->retry.budget_ms < 0 ||
        spec->retry.base_ms < 0 || spec->retry.cap_ms < 0 || spec->retry.max_attempts < 0)
        return NULL;
    if (has_crlf(spec->url))
        return NULL;
    if (has_dot_segment(spec->url)) {
        char *u = fwt__url_for_log(spec->url);
        fwt__engine_logf(e, FWT_LOG_WARN, "refusing %s %s: a '.' or '..' path segment would address another resource",
                         spec->method, u ? u : "(url)");
        fwt__free_mem(u);
        return NULL;
    }
    if (spec->idempotency_key && (has_crlf(spec->idempotency_key) || !*spec->idempotency_key ||
                                  strlen(spec->idempotency_key) > 255))
        return NULL;
    if (spec->headers)
        for (const char *const *h = spec->headers; *h; h++)
            if (has_crlf(*h) || !strchr(*h, ':') || **h == ':')
                return NULL;

    int https = 0, loopback = 0;
    char *url_log = NULL;
    /* The log form of the URL is only needed for DEBUG lines; building it costs a URL round trip. */
    int uok = fwt__url_inspect(spec->url, &https, &loopback, e->log_debug ? &url_log : NULL);
    /* Plain http only to loopback unless the caller opted in (docs/internals.md reliability §3). */
    if (uok == 0 || (uok > 0 && !https && !loopback && !spec->allow_insecure_http)) {
        fwt__free_mem(url_log);
        return NULL;
    }
    if (uok > 0 && !https && e->proxy && *e->proxy) {
        /* An explicit proxy would see a plain-http request, API key included (README "Safety"). */
        char *u = fwt__url_for_log(spec->url);
        fwt__engine_logf(e, FWT_LOG_ERROR,
                         "refusing %s %s: plain http with a proxy configured would show the API key to the proxy",
                         spec->method, u ? u : "(url)");
        fwt__free_mem(u);
        fwt__free_mem(url_log);
        return NULL;
    }
    *err = FWT_ENOMEM;
    fwt__req *r = uok > 0 ? fwt__calloc(1, sizeof *r) : NULL;
    if (!r) {
        fwt__free_mem(url_log);
        return NULL;
    }
    r->eng = e;
    r->https = https;
    r->url_log = url_log;
    r->method = method;
    r->direct = direct;
    r->url = direct ? spec->url : fwt__strdup(spec->url);
    if (!r->url)
        goto oom;
    r->origin_len = origin_len(r->url);
    r->headers = header_block(spec, &r->headers_bytes);
    if (!r->headers)
        goto oom;
    if (spec->body_len && direct) {
        r->body = spec->body;
        r->body_len = spec->body_len;
    } else if (spec->body_len) {
        char *b = fwt__malloc(spec->body_len);
        if (!b)
            goto oom;
        memcpy(b, spec->body, spec->body_len);
        r->body = b;
        r->body_len = spec->body_len;
    }
    r->connect_timeout_ms = spec->connect_timeout_ms ? spec->connect_timeout_ms : 10000;
    r->header_timeout_ms = spec->header_timeout_ms;
    r->body_timeout_ms = spec->body_timeout_ms;
    r->deadline_at = spec->deadline_ms ? now + (uint64_t)spec->deadline_ms : 0;
    r->max_bytes = spec->max_response_bytes ? spec->max_response_bytes : e->max_response_bytes;
    r->retry = spec->retry;
    fwt__retry_backoff_init(&r->retry, &r->backoff);
    r->should_retry = -1;
    *err = FWT_OK;
    return r;
oom:
    fwt__req_free(r);
    return NULL;
}

/* ---------- callbacks ---------- */

uint64_t fwt__transfer_deadline(const fwt__req *r)
{
    uint64_t d = r->deadline_at;
    uint64_t a = 0;
    if (!r->headers_done && r->header_timeout_ms > 0)
        a = r->attempt_start_ms + (uint64_t)r->header_timeout_ms;
    else if (r->headers_done && r->body_timeout_ms > 0)
        a = r->headers_at_ms + (uint64_t)r->body_timeout_ms;
    if (a && (!d || a < d))
        d = a;
    return d;
}

/* Copy a header value (trimmed, secret redacted, then bounded) if the line is "name: value". */
static int header_value(const fwt__engine *e, const char *line, size_t n, const char *name, char *out)
{
    size_t nl = strlen(name);
    if (n <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
        return 0;
    const char *v = line + nl + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    fwt__redact_copy(out, FWT__HDR_VALUE_MAX, v, (size_t)(end - v), e->redact, e->redact_len);
    return 1;
}

static void reset_response(fwt__req *r)
{
    r->rlen = 0;
    r->ctype[0] = r->reqid[0] = r->retry_after[0] = r->retry_after_ms[0] = r->date[0] = '\0';
    r->should_retry = -1;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
    fwt__op *op = ud;
    fwt__req *r = op->req;
    const fwt__engine *e = r->eng;
    size_t n = size * nitems;
    r->hdr_bytes += n;
    if (r->hdr_bytes > FWT__MAX_HEADER_BYTES) {
        r->hdr_too_large = 1;
        return 0; /* curl aborts the transfer (CURLE_WRITE_ERROR); outcome says ETOOLARGE */
    }
    if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        /* A new response (after a 1xx, or the first): forget the previous one. */
        reset_response(r);
        const char *sp = memchr(buf, ' ', n);
        r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        return n;
    }
    if ((n == 2 && buf[0] == '\r' && buf[1] == '\n') || (n == 1 && buf[0] == '\n')) {
        if (r->status >= 200 && !r->headers_done) {
            r->headers_done = 1;
            r->headers_at_ms = fwt__engine_now_ms(r->eng);
            if (!r->direct) { /* a caller-thread run re-reads the deadline itself */
                uint64_t d = fwt__transfer_deadline(r);
                if (d)
                    fwt__heap_update(r->eng, op, d);
                else
                    fwt__heap_remove(r->eng, op);
            }
        }
        return n;
    }
    if (header_value(e, buf, n, "content-type", r->ctype) || header_value(e, buf, n, "x-request-id", r->reqid) ||
        header_value(e, buf, n, "retry-after", r->retry_after) ||
        header_value(e, buf, n, "retry-after-ms", r->retry_after_ms) || header_value(e, buf, n, "date", r->date))
        return n;
    char v[FWT__HDR_VALUE_MAX];
    if (header_value(e, buf, n, "x-should-retry", v)) {
        if (strcasecmp(v, "true") == 0)
            r->should_retry = 1;
        else if (strcasecmp(v, "false") == 0)
            r->should_retry = 0;
    }
    return n;
}

static size_t on_body(char *buf, size_t size, size_t nitems, void *ud)
{
    fwt__op *op = ud;
    fwt__req *r = op->req;
    size_t n = size * nitems;
    if (r->max_bytes > 0 && (uint64_t)r->rlen + n > (uint64_t)r->max_bytes) {
        r->too_large = 1;
        return CURL_WRITEFUNC_ERROR; /* docs/internals.md reliability §3: cap in the write callback */
    }
    if (r->rlen + n + 1 > r->rcap) {
        size_t nc = r->rcap ? r->rcap : 1024;
        while (nc < r->rlen + n + 1)
            nc *= 2;
        char *nb = fwt__realloc(r->rbody, nc);
        if (!nb) {
            r->oom = 1;
            return CURL_WRITEFUNC_ERROR;
        }
        r->rbody = nb;
        r->rcap = nc;
    }
    memcpy(r->rbody + r->rlen, buf, n);
    r->rlen += n;
    return n;
}

/* ---------- attempts ---------- */

/* Options that are the same for every request: set once per easy handle (fwt__easy_new). */
static void configure_fixed(const fwt__engine *e, CURL *h)
{
    /* Safe defaults (docs/internals.md reliability §3). */
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    /* Send the path exactly as built: libcurl would otherwise squash "/./" and "/x/../". */
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    /* A proxy, when one is used (https only, see configure_attempt), is only ever a CONNECT
     * tunnel, and our headers (the API key) go to the server alone, never to the proxy. */
    curl_easy_setopt(h, CURLOPT_HTTPPROXYTUNNEL, 1L);
    curl_easy_setopt(h, CURLOPT_HEADEROPT, (long)CURLHEADER_SEPARATE);
    curl_easy_setopt(h, CURLOPT_MAXLIFETIME_CONN, 3600L);
    if (e->user_agent)
        curl_easy_setopt(h, CURLOPT_USERAGENT, e->user_agent);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
}

CURL *fwt__easy_new(const fwt__engine *e)
{
    CURL *h = curl_easy_init();
    if (h)
        configure_fixed(e, h);
    return h;
}

/*
 * Everything that varies between requests, each set explicitly on every
 * attempt: a reused handle then carries nothing over from the previous
 * request (no curl_easy_reset, which would cost a full re-setup per call).
 */
static void configure_attempt(const fwt__engine *e, fwt__op *op, CURL *h, uint64_t now)
{
    fwt__req *r = op->req;
    curl_easy_setopt(h, CURLOPT_URL, r->url);
    curl_easy_setopt(h, CURLOPT_PRIVATE, op);
    /* Proxy policy (engine.h): plain http never through a proxy, whatever the environment
     * says ("" disables curl's http_proxy/all_proxy lookup); https through the configured
     * one, or the environment's when NULL, as a tunnel (configure_fixed). */
    curl_easy_setopt(h, CURLOPT_PROXY, r->https ? e->proxy : "");
    int64_t ct = r->connect_timeout_ms;
    if (!r->reached && r->retry.unreachable_ms > 0) {
        /* End within the unreachable budget even when the last attempt hangs in connect. */
        int64_t left = r->retry.unreachable_ms - (r->attempts ? (int64_t)(now - r->first_attempt_ms) : 0);
        if (left < 1)
            left = 1;
        if (left < ct)
            ct = left;
    }
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)ct);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)(r->max_bytes > 0 ? r->max_bytes : 0));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, op);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, op);

    /* Method: clear what a previous request may have set, then choose. */
    curl_easy_setopt(h, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, (char *)NULL);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    if (strcmp(r->method, "GET") == 0)
        return;
    if (strcmp(r->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        return;
    }
    if (strcmp(r->method, "POST") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
    if (r->body_len || strcmp(r->method, "POST") == 0 || strcmp(r->method, "PUT") == 0 ||
        strcmp(r->method, "PATCH") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? r->body : "");
    }
}

/* Drop pointers into a request, which is freed before the handle is used again. */
static void clear_request_pointers(CURL *h)
{
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, (char *)NULL);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, (char *)NULL);
    curl_easy_setopt(h, CURLOPT_PRIVATE, (void *)NULL);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, (void *)NULL);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, (void *)NULL);
}

int fwt__transfer_attach(fwt__engine *e, fwt__op *op, CURLM *multi, CURL *h)
{
    fwt__req *r = op->req;
    reset_response(r);
    r->status = 0;
    r->too_large = 0;
    r->oom = 0;
    r->headers_done = 0;
    r->hdr_too_large = 0;
    r->hdr_bytes = 0;
    r->abort_reason = FWT__ABORT_NONE;
    r->errbuf[0] = '\0';
    uint64_t now = fwt__engine_now_ms(e);
    configure_attempt(e, op, h, now);
    r->attempt_start_ms = now;
    if (r->attempts == 0)
        r->first_attempt_ms = now;
    r->attempts++;
    if (curl_multi_add_handle(multi, h) != CURLM_OK) {
        clear_request_pointers(h);
        return FWT_ENOMEM;
    }
    r->easy = h;
    r->state = FWT__RS_RUNNING;
    return FWT_OK;
}

CURL *fwt__transfer_detach(fwt__op *op, CURLM *multi)
{
    fwt__req *r = op->req;
    CURL *h = r->easy;
    if (!h)
        return NULL;
    curl_multi_remove_handle(multi, h);
    clear_request_pointers(h);
    r->easy = NULL;
    return h;
}

int fwt__transfer_start(fwt__engine *e, fwt__op *op)
{
    CURL *h = e->pool_len ? e->pool[--e->pool_len] : fwt__easy_new(e);
    if (!h)
        return FWT_ENOMEM;
    if (fwt__transfer_attach(e, op, e->multi, h) != FWT_OK) {
        curl_easy_cleanup(h);
        return FWT_ENOMEM;
    }
    e->n_running++;
    if (op->req->host)
        op->req->host->running++;
    uint64_t d = fwt__transfer_deadline(op->req);
    if (d)
        fwt__heap_update(e, op, d);
    return FWT_OK;
}

/* Room for one more idle handle in the pool: the array doubles up to max_pooled. 0 when the handle is to be
 * freed instead (pool full, or no memory to grow it). */
static int pool_room(fwt__engine *e)
{
    if (e->pool_len < e->pool_cap)
        return 1;
    if (e->pool_cap >= e->max_pooled)
        return 0;
    int cap = e->pool_cap ? (e->pool_cap > e->max_pooled / 2 ? e->max_pooled : 2 * e->pool_cap)
                          : (e->max_pooled < 16 ? e->max_pooled : 16);
    CURL **p = fwt__realloc(e->pool, (size_t)cap * sizeof *p);
    if (!p)
        return 0;
    e->pool = p;
    e->pool_cap = cap;
    return 1;
}

void fwt__transfer_stop(fwt__engine *e, fwt__op *op)
{
    fwt__heap_remove(e, op);
    CURL *h = fwt__transfer_detach(op, e->multi);
    if (!h)
        return;
    if (pool_room(e))
        e->pool[e->pool_len++] = h;
    else
        curl_easy_cleanup(h);
    e->n_running--;
    if (op->req->host)
        op->req->host->running--;
}

fwt__http_result *fwt__result_new_error(int status, const char *msg)
{
    fwt__http_result *res = fwt__calloc(1, sizeof *res);
    if (!res)
        return NULL;
    res->status = status;
    res->body = fwt__calloc(1, 1);
    res->content_type = fwt__calloc(1, 1);
    res->request_id = fwt__calloc(1, 1);
    res->retry_after_ms = -1;
    if (!res->body || !res->content_type || !res->request_id) {
        fwt__http_result_free(res);
        return NULL;
    }
    if (msg)
        snprintf(res->message, sizeof res->message, "%s", msg);
    return res;
}

void fwt__http_result_free(fwt__http_result *res)
{
    if (!res)
        return;
    fwt__free_mem(res->body);
    fwt__free_mem(res->content_type);
    fwt__free_mem(res->request_id);
    fwt__free_mem(res);
}

/* Append src to dst (size n, NUL-terminated), truncating. */
static void append_text(char *dst, size_t n, const char *src)
{
    size_t used = strlen(dst);
    size_t room = n - used - 1;
    size_t len = strlen(src);
    if (len > room)
        len = room;
    memcpy(dst + used, src, len);
    dst[used + len] = '\0';
}

/* "prefix<curl text>[: detail]", truncated to fit; the detail (curl's error buffer, which can
 * quote what the server sent) has the secret redacted before it is cut. */
static void error_text(const fwt__engine *e, char *dst, size_t n, const char *prefix, CURLcode rc, const char *detail)
{
    dst[0] = '\0';
    append_text(dst, n, prefix);
    append_text(dst, n, curl_easy_strerror(rc));
    if (detail[0]) {
        char clean[CURL_ERROR_SIZE];
        fwt__redact_copy(clean, sizeof clean, detail, strlen(detail), e->redact, e->redact_len);
        append_text(dst, n, ": ");
        append_text(dst, n, clean);
    }
}

/* Did this failed attempt never get to talk to the server (name or connect failure)? */
static int is_unreachable(const fwt__req *r, CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return 1;
    case CURLE_OPERATION_TIMEDOUT:
        /* No curl-level transfer timeout is set (the engine keeps its own), so curl's own
         * timeout is the connect timeout, unless a status line came in. */
        return r->status == 0;
    default:
        return 0;
    }
}

/* The response headers were refused for their size: by us (FWT__MAX_HEADER_BYTES) or by
 * libcurl (7.88: one line over 100 KiB is CURLE_OUT_OF_MEMORY right after a status line,
 * all lines over 300 KiB CURLE_RECV_ERROR "Too large response headers"; 8.6+: CURLE_TOO_LARGE). */
static int headers_too_large(const fwt__req *r, CURLcode rc)
{
    if (r->hdr_too_large || (int)rc == 100 /* CURLE_TOO_LARGE, libcurl >= 8.6 */)
        return 1;
    if (rc == CURLE_RECV_ERROR && strstr(r->errbuf, "Too large response headers"))
        return 1;
    return rc == CURLE_OUT_OF_MEMORY && r->status > 0 && !r->headers_done;
}

static int is_tls_error(CURLcode rc)
{
    switch (rc) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED:
        return 1;
    default:
        return 0;
    }
}

static int is_conn_error(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_PARTIAL_FILE:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_QUIC_CONNECT_ERROR:
        return 1;
    default:
        return 0;
    }
}

/* Retry-After as an HTTP-date is read against the response's own Date header
 * when present (immune to local clock skew), else against local wall time. */
static int64_t retry_hint(const fwt__req *r)
{
    int64_t ms = r->retry_after_ms[0] ? fwt__parse_retry_after_ms(r->retry_after_ms) : -1;
    if (ms >= 0 || !r->retry_after[0])
        return ms;
    int64_t now_s = (int64_t)time(NULL);
    if (r->date[0] && !(r->date[0] >= '0' && r->date[0] <= '9')) {
        int64_t d = fwt__parse_retry_after(r->date, 0);
        if (d > 0)
            now_s = d / 1000;
    }
    return fwt__parse_retry_after(r->retry_after, now_s);
}

fwt__http_result *fwt__transfer_outcome(fwt__engine *e, fwt__op *op, CURLcode rc, int *conn_class)
{
    fwt__req *r = op->req;
    *conn_class = 0;
    fwt__http_result *res;
    if (rc == CURLE_OK || !is_unreachable(r, rc))
        r->reached = 1;
    if (rc != CURLE_OK) {
        long os_errno = 0;
        curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &os_errno);
        r->last_rc = (int)rc;
        r->last_os_errno = os_errno;
    }
    if (rc == CURLE_OK) {
        res = fwt__calloc(1, sizeof *res);
        if (!res)
            return NULL;
        long code = 0;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
        res->status = FWT_OK;
        res->http_status = code;
        if (!r->rbody)
            r->rbody = fwt__malloc(1);
        res->body = r->rbody;
        res->body_len = r->rlen;
        r->rbody = NULL;
        r->rlen = r->rcap = 0;
        res->content_type = fwt__strdup(r->ctype);
        res->request_id = fwt__strdup(r->reqid);
        res->retry_after_ms = retry_hint(r);
        if (!res->body || !res->content_type || !res->request_id) {
            fwt__http_result_free(res);
            return NULL;
        }
        res->body[res->body_len] = '\0';
        res->attempts = r->attempts;
        return res;
    }
    int status;
    char msg[sizeof res->message];
    if (r->oom) {
        status = FWT_ENOMEM;
        snprintf(msg, sizeof msg, "out of memory buffering the response");
    } else if (headers_too_large(r, rc)) {
        /* Deterministic: the same server sends the same headers again. Never retried. */
        status = FWT_ETOOLARGE;
        snprintf(msg, sizeof msg, "response headers too large (over %d bytes, or one line over libcurl's limit)",
                 FWT__MAX_HEADER_BYTES);
    } else if (r->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        status = FWT_ETOOLARGE;
        snprintf(msg, sizeof msg, "response larger than %lld bytes", (long long)r->max_bytes);
    } else if (is_tls_error(rc)) {
        status = FWT_ETLS;
        error_text(e, msg, sizeof msg, "TLS: ", rc, r->errbuf);
    } else if (rc == CURLE_OUT_OF_MEMORY) {
        status = FWT_ENOMEM;
        snprintf(msg, sizeof msg, "out of memory in libcurl");
    } else if (rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT) {
        status = FWT_EINVAL;
        snprintf(msg, sizeof msg, "%s", curl_easy_strerror(rc));
    } else {
        status = FWT_ECONNECT;
        *conn_class = is_conn_error(rc);
        error_text(e, msg, sizeof msg, "", rc, r->errbuf);
    }
    res = fwt__result_new_error(status, msg);
    if (res)
        res->attempts = r->attempts;
    return res;
}
