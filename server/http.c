/* The HTTP layer's request logic (body cap, auth, fault injection, logging), shared by both fronts, and the
 * libmicrohttpd front. Two modes. Event-driven (default, --http-threads N > 0): front.c's own HTTP/1.1 over
 * epoll, N threads each serving many connections; a held long-poll (docs/protocol.md §4.2) never holds a thread:
 * it is parked and runs again when its answer is ready (futures.h "parked long-polls"). Thread per connection
 * (--http-threads 0, and whenever --faults stalls, drips or delays bodies, which sleep inside the response):
 * libmicrohttpd, where a blocked handler holds only its own connection's thread. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "faults.h"
#include "front.h"
#include "util.h"

/* libmicrohttpd's memory per connection (request line, headers, the read buffer a body streams through, the
 * response headers). It zeroes the whole pool before every request on a keep-alive connection: at its default
 * (32 KiB) that memset was 6 % of a retrieve_future's CPU. 16 KiB takes request headers up to about 15 KiB (more
 * is answered 431); a body of any size streams through it. */
#define CONN_POOL_BYTES (16 * 1024)

typedef struct conn_ctx {
    char *body;
    size_t len, cap;
    bool too_large;
} conn_ctx;

typedef struct stall_ctx {
    fwl_server *s;
    char *body;
    size_t len;
    int stall_ms;
    int drip_ms;
    bool stalled;
} stall_ctx;

static const char *mhd_lookup(void *ctx, fwl_lookup_kind kind, const char *key)
{
    return MHD_lookup_connection_value(ctx, kind == FWL_LOOKUP_QUERY ? MHD_GET_ARGUMENT_KIND : MHD_HEADER_KIND, key);
}

static bool key_equals(const char *given, const char *want)
{
    if (!given)
        return false;
    size_t a = strlen(given), b = strlen(want);
    return a == b && CRYPTO_memcmp(given, want, a) == 0;
}

/* docs/protocol.md §1: X-Api-Key / X-API-Key (headers are case-insensitive) or Authorization: Bearer. */
static bool authorized(fwl_server *s, const fwl_http_call *c)
{
    if (key_equals(c->lookup(c->lookup_ctx, FWL_LOOKUP_HEADER, "X-Api-Key"), s->cfg.api_key))
        return true;
    const char *auth = c->lookup(c->lookup_ctx, FWL_LOOKUP_HEADER, "Authorization");
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        const char *k = auth + 7;
        while (*k == ' ')
            k++;
        return key_equals(k, s->cfg.api_key);
    }
    return false;
}

static ssize_t stall_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    stall_ctx *st = cls;
    if (pos >= st->len)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (st->drip_ms > 0) {
        /* one byte per drip interval, after the first */
        for (int waited = 0; pos > 0 && waited < st->drip_ms && !st->s->stopping; waited += 10)
            fwl_sleep_ms(st->drip_ms - waited < 10 ? st->drip_ms - waited : 10);
        if (st->s->stopping)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        buf[0] = st->body[pos];
        return 1;
    }
    if (pos > 0 && !st->stalled) {
        /* headers and the first byte are out: now hold the rest of the body */
        st->stalled = true;
        for (int waited = 0; waited < st->stall_ms && !st->s->stopping; waited += 20)
            fwl_sleep_ms(20);
        if (st->s->stopping)
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = st->len - (size_t)pos;
    if (pos == 0)
        n = 1;
    if (n > max)
        n = max;
    memcpy(buf, st->body + pos, n);
    return (ssize_t)n;
}

static void stall_free(void *cls)
{
    stall_ctx *st = cls;
    free(st->body);
    free(st);
}

/* Queues r's answer; r->body is handed over (NULL afterwards) unless MHD could not take it. */
static enum MHD_Result send_resp(struct MHD_Connection *c, fwl_resp *r, int stall_ms, int drip_ms, fwl_server *s)
{
    const char *body = r->body ? r->body : "";
    size_t len = strlen(body);
    struct MHD_Response *resp;
    if ((stall_ms > 0 || drip_ms > 0) && len > 0) {
        stall_ctx *st = calloc(1, sizeof *st);
        if (!st)
            return MHD_NO;
        st->s = s;
        st->body = r->body;
        st->len = len;
        st->stall_ms = stall_ms;
        st->drip_ms = drip_ms;
        r->body = NULL;
        resp = MHD_create_response_from_callback(len, 1024, stall_reader, st, stall_free);
    } else if (r->body) {
        /* the body goes to MHD as it is (freed with the response): no copy per answer */
        resp = MHD_create_response_from_buffer(len, r->body, MHD_RESPMEM_MUST_FREE);
        if (resp)
            r->body = NULL;
    } else {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (!resp)
        return MHD_NO; /* (the callback response's free hook already ran or never took st) */
    if (len > 0)
        MHD_add_response_header(resp, "Content-Type", "application/json");
    if (r->retry_after_s > 0) {
        char ra[32];
        snprintf(ra, sizeof ra, "%d", r->retry_after_s);
        MHD_add_response_header(resp, "Retry-After", ra);
    }
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

void fwl_http_too_large(fwl_server *s, const char *method, const char *url, const char *cl, fwl_resp *r)
{
    fwl_resp_error(r, 413, FWL_GRPC_RESOURCE_EXHAUSTED, "request body of %.40s bytes exceeds the %zu-byte limit", cl,
                   s->cfg.max_body_bytes);
    fwl_log("%s %s -> 413 (body too large)", method, url);
}

/* The first call for a connection: set up its body buffer, refuse a declared oversized body at once. */
static enum MHD_Result conn_begin(fwl_server *s, struct MHD_Connection *c, const char *method, const char *url,
                                  void **con_cls)
{
    conn_ctx *cc = calloc(1, sizeof *cc);
    if (!cc)
        return MHD_NO;
    *con_cls = cc;
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > s->cfg.max_body_bytes) {
        fwl_resp r = {0};
        fwl_http_too_large(s, method, url, cl, &r);
        enum MHD_Result ret = send_resp(c, &r, 0, 0, s);
        free(r.body);
        return ret;
    }
    return MHD_YES;
}

/* Appends an upload chunk (beyond the cap only the flag is kept: the 413 goes out once the body is in). */
static enum MHD_Result conn_upload(fwl_server *s, conn_ctx *cc, const char *upload, size_t n)
{
    if (cc->too_large || cc->len + n > s->cfg.max_body_bytes) {
        cc->too_large = true;
        return MHD_YES;
    }
    if (cc->len + n + 1 > cc->cap) {
        size_t nc = (cc->len + n + 1) * 2;
        char *nb = realloc(cc->body, nc);
        if (!nb)
            return MHD_NO;
        cc->body = nb;
        cc->cap = nc;
    }
    memcpy(cc->body + cc->len, upload, n);
    cc->len += n;
    cc->body[cc->len] = 0;
    return MHD_YES;
}

/* A resumed (parked) request was authorised and had its fault drawn on its first run: it only runs the router
 * again. */
void fwl_http_handle(fwl_server *s, fwl_http_call *c, fwl_resp *r)
{
    int fstatus = 0, fretry = 0;
    bool resumed = c->park_deadline_us != 0;
    if (resumed) {
        /* checked on the first run */
    } else if (c->too_large) {
        fwl_resp_error(r, 413, FWL_GRPC_RESOURCE_EXHAUSTED, "request body exceeds the %zu-byte limit",
                       s->cfg.max_body_bytes);
        return;
    } else if (!authorized(s, c)) {
        /* the key never appears in the message or the log */
        fwl_resp_error(r, 401, FWL_GRPC_UNAUTHENTICATED,
                       "missing or invalid API key (send X-Api-Key or Authorization: Bearer)");
        return;
    } else if ((c->fault = fwl_faults_draw(s, c->url, &fstatus, &fretry)) == FWL_FAULT_STATUS) {
        /* replaces the response before the handler runs: no side effect is committed */
        fwl_resp_error(r, fstatus, fwl_http_to_grpc(fstatus), "injected fault: HTTP %d", fstatus);
        r->retry_after_s = fretry;
        return;
    }
    fwl_req req;
    if (fwl_req_init(&req, c->method, c->url, c->body, c->len, c->lookup, c->lookup_ctx) != 0) {
        fwl_resp_oom(r);
    } else {
        req.park = c->park;
        req.park_deadline_us = c->park_deadline_us;
        s->router(s, &req, r);
    }
    fwl_req_free(&req);
    if (r->status == 0 && !r->parked)
        fwl_resp_error(r, 500, FWL_GRPC_INTERNAL, "internal error: no response");
}

static const char *fault_label(fwl_fault_kind f)
{
    switch (f) {
    case FWL_FAULT_DROP: return " [fault: drop]";
    case FWL_FAULT_STALL: return " [fault: stall body]";
    case FWL_FAULT_DRIP: return " [fault: drip body]";
    case FWL_FAULT_DELAY: return " [fault: delay]";
    case FWL_FAULT_STATUS: return " [fault]";
    default: return "";
    }
}

void fwl_http_log_answer(fwl_server *s, const fwl_http_call *c, const fwl_resp *r)
{
    if (r->status >= 400 || s->cfg.verbose || c->fault != FWL_FAULT_NONE) {
        /* error bodies carry the reason; the key is never in them */
        int64_t ms = (fwl_now_us() - c->t0_us) / 1000;
        fwl_log("%s %s -> %d%s (%lld ms) %.300s", c->method, c->url, r->status, fault_label(c->fault), (long long)ms,
                r->status >= 400 && r->body ? r->body : "");
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    fwl_server *s = cls;
    conn_ctx *cc = *con_cls;
    if (!cc)
        return conn_begin(s, c, method, url, con_cls);
    if (*upload_size > 0) {
        size_t n = *upload_size;
        *upload_size = 0;
        return conn_upload(s, cc, upload, n);
    }
    /* (a thread per connection: a retrieve_future waits in its handler, it never parks) */
    fwl_http_call call = {.method = method, .url = url, .body = cc->body, .len = cc->len, .lookup = mhd_lookup,
                          .lookup_ctx = c, .too_large = cc->too_large, .t0_us = fwl_now_us()};
    fwl_resp r = {0};
    fwl_http_handle(s, &call, &r);
    fwl_http_log_answer(s, &call, &r);
    fwl_fault_kind fault = call.fault;
    enum MHD_Result ret;
    if (fault == FWL_FAULT_DROP) {
        /* after the handler: the outcome is unknown to the client (safe: every route is idempotent on retry) */
        ret = MHD_NO;
    } else {
        if (fault == FWL_FAULT_DELAY)
            for (int waited = 0; waited < s->cfg.faults.delay_ms && !s->stopping; waited += 10)
                fwl_sleep_ms(10);
        ret = send_resp(c, &r, fault == FWL_FAULT_STALL ? s->cfg.faults.stall_ms : 0,
                        fault == FWL_FAULT_DRIP ? s->cfg.faults.drip_ms : 0, s);
    }
    free(r.body);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    conn_ctx *cc = *con_cls;
    if (cc) {
        free(cc->body);
        free(cc);
        *con_cls = NULL;
    }
}

/* libmicrohttpd's own messages. A flood repeats one line per refused connection: the same line within a second
 * is counted instead of printed, and the count goes out with the next line printed. */
static pthread_mutex_t g_log_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_last_msg[512];
static int64_t g_last_us;
static unsigned long g_suppressed;

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t l = strlen(msg);
    while (l && msg[l - 1] == '\n')
        msg[--l] = 0;
    int64_t now = fwl_now_us();
    pthread_mutex_lock(&g_log_mu);
    bool repeat = !strcmp(msg, g_last_msg) && now - g_last_us < 1000000;
    unsigned long skipped = repeat ? 0 : g_suppressed;
    if (repeat) {
        g_suppressed++;
    } else {
        g_suppressed = 0;
        g_last_us = now;
        snprintf(g_last_msg, sizeof g_last_msg, "%s", msg);
    }
    pthread_mutex_unlock(&g_log_mu);
    if (skipped)
        fwl_log("httpd: (the previous line repeated %lu more times)", skipped);
    if (!repeat)
        fwl_log("httpd: %s", msg);
}

/* A message through the same collapsing as libmicrohttpd's own (a flood repeats it). */
void fwl_http_log_collapsed(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mhd_log(NULL, fmt, ap);
    va_end(ap);
}

/* The listening socket, bound by us so a refusal names its reason. SO_REUSEADDR only (a restart may bind
 * while old connections sit in TIME_WAIT); never SO_REUSEPORT, so a port held by another process is an
 * error here instead of a silently shared port. -1 with the reason logged. */
static int listen_socket(const fwl_config *c, bool *v6)
{
    struct sockaddr_in sa4;
    struct sockaddr_in6 sa6;
    memset(&sa4, 0, sizeof sa4);
    memset(&sa6, 0, sizeof sa6);
    const struct sockaddr *sa;
    socklen_t salen;
    if (inet_pton(AF_INET, c->host, &sa4.sin_addr) == 1) {
        sa4.sin_family = AF_INET;
        sa4.sin_port = htons((uint16_t)c->port);
        sa = (const struct sockaddr *)&sa4;
        salen = sizeof sa4;
        *v6 = false;
    } else if (inet_pton(AF_INET6, c->host, &sa6.sin6_addr) == 1) {
        sa6.sin6_family = AF_INET6;
        sa6.sin6_port = htons((uint16_t)c->port);
        sa = (const struct sockaddr *)&sa6;
        salen = sizeof sa6;
        *v6 = true;
    } else {
        fwl_log("--host must be an IPv4 or IPv6 address literal, got '%s'", c->host);
        return -1;
    }
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
        fwl_log("cannot create a listening socket: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (bind(fd, sa, salen) != 0 || listen(fd, 1024) != 0) {
        int e = errno;
        fwl_log("cannot listen on %s:%d: %s%s", c->host, c->port, strerror(e),
                e == EADDRINUSE ? " (another process holds this port: stop it or pick another --port)" : "");
        close(fd);
        return -1;
    }
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
}

int fwl_http_start(fwl_server *s, fwl_router router)
{
    s->router = router;
    bool v6 = false;
    int fd = listen_socket(&s->cfg, &v6);
    if (fd < 0)
        return -1;
    s->bound_port = bound_port(fd);
    int threads = s->cfg.http_threads;
    const fwl_faults *fc = &s->cfg.faults;
    if (fc->enabled && (fc->pstall > 0 || fc->pdrip > 0 || fc->pdelay > 0))
        threads = 0; /* those faults sleep inside the response: only a thread of its own may do that */
    if (threads > 0)
        return fwl_front_start(s, fd, threads);
    /* Bounds against floods (the same as front.c's): at most max_connections in all and max_per_client per peer
     * address (more are closed at once), and a connection that sends nothing for idle_timeout_s is closed. MHD
     * counts that time only while it waits on the socket, never while a handler runs. Accepted by a poll()
     * thread (no FD_SETSIZE cap). */
    unsigned flags = MHD_USE_ERROR_LOG | MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_THREAD_PER_CONNECTION;
    if (v6)
        flags |= MHD_USE_IPv6;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->cfg.idle_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_POOL_BYTES, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)s->cfg.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)s->cfg.max_per_client,
        MHD_OPTION_END);
    if (!d) {
        fwl_log("cannot start the HTTP server on %s:%d (reason above)", s->cfg.host, s->bound_port);
        close(fd);
        return -1;
    }
    s->mhd = d;
    return 0;
}

void fwl_http_stop(fwl_server *s)
{
    if (s->mhd) {
        MHD_stop_daemon(s->mhd); /* (it closes the listening socket) */
        s->mhd = NULL;
    }
    fwl_front_stop(s);
}
