/*
 * The event-driven HTTP/1.1 front (--http-threads N > 0, the default): N worker threads, each an epoll loop over
 * its share of the connections, and one accept thread that spreads new connections over them in turn.
 *
 * Why not libmicrohttpd here: on this workload (small JSON requests on keep-alive connections) its per-request
 * work (header lists, a zeroed 16 KiB pool, a response object, its epoll bookkeeping) cost as much CPU as the
 * kernel's TCP path, and a thread with 128 or more ready connections could sleep until its next socket event.
 * A request here is parsed in place in the connection's buffer (h1.c), the body handed over without a copy,
 * and the answer goes out in one sendmsg.
 *
 * What it keeps of the old front: --max-connections in all and --max-client-connections per peer address (more
 * are closed at once), --idle-timeout-s (a connection that sends or takes nothing for that long is closed; a
 * parked long-poll is not idle), request heads up to 16 KiB (431 beyond), bodies up to --max-body-mib (a
 * declared larger one is answered 413 at once, a chunked one once it is in), Content-Length or chunked bodies,
 * Expect: 100-continue, keep-alive and pipelining, Connection: close, HTTP/1.0.
 *
 * A retrieve_future that has to wait parks (futures.h): its connection leaves the epoll set, and when the park
 * thread resumes it (front_resume) the connection goes on its worker's resume queue and the request runs again.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "front.h"
#include "futures.h"
#include "h1.h"
#include "util.h"

#define HEAD_MAX (16 * 1024)      /* request line and headers (431 beyond) */
#define BUF_FIRST 4096            /* a connection's input buffer when its first bytes arrive */
#define BUF_KEEP (64 * 1024)      /* a buffer grown past this for a big body is given back once it is answered */
#define MAX_QUERY 32              /* query parameters looked at per request */

enum { ST_HEAD, ST_BODY, ST_PARKED, ST_WRITE };

struct fworker;

typedef struct fpeer {
    unsigned char addr[16];
    int alen;
    int count;
    struct fpeer *next;
} fpeer;

typedef struct fconn {
    int fd;
    int state;
    struct fworker *w;
    fpeer *peer;
    struct fconn *prev, *next;   /* the worker's idle list, least recently active first (not while parked) */
    struct fconn *aprev, *anext; /* every connection of the worker */
    struct fconn *qnext;         /* the worker's new-connection or resume queue */
    int64_t last_us;
    char *buf;
    size_t len, cap;
    /* the request being read or answered */
    fwl_h1_head head;
    size_t clen;                 /* Content-Length body */
    size_t req_end;              /* bytes of buf the complete request takes */
    bool chunked, keep_alive, is_head, too_large;
    fwl_h1_chunked ch;
    char *cbody;                 /* a chunked body, decoded */
    size_t cblen, cbcap;
    char *query;                 /* the raw query string inside buf, NULL when none */
    char *qcopy;                 /* its decoded copy (parsed on the first lookup) */
    const char *qname[MAX_QUERY], *qval[MAX_QUERY];
    int nq;
    bool qparsed;
    fwl_http_call call;
    /* the answer going out */
    char hdr[384];
    size_t hlen, hoff;
    char *obody;
    size_t olen, ooff;
    bool close_after;
} fconn;

typedef struct fworker {
    struct fwl_front *f;
    int ep, efd;
    pthread_t thr;
    bool started;
    pthread_mutex_t mu;          /* guards inq, resq, quit */
    fconn *inq, *resq;
    bool quit;
    fconn idle;                  /* sentinel of the idle list */
    fconn *all;
    char date[40];
    time_t date_s;
} fworker;

struct fwl_front {
    fwl_server *s;
    int listen_fd, wake_fd;
    pthread_t accept_thr;
    bool accept_started;
    pthread_mutex_t mu;          /* guards peers and total (taken on accept and close only) */
    fpeer *peers;
    int total;
    int nw;
    unsigned next;
    fworker *w;
};

static int64_t coarse_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- connection bookkeeping ------------------------------------------------------------------------------ */

static void idle_unlink(fconn *c)
{
    if (c->prev) {
        c->prev->next = c->next;
        c->next->prev = c->prev;
        c->prev = c->next = NULL;
    }
}

/* Activity: to the tail of the idle list. */
static void touch(fconn *c)
{
    fconn *h = &c->w->idle;
    c->last_us = coarse_us();
    if (c->next == h)
        return;
    idle_unlink(c);
    c->prev = h->prev;
    c->next = h;
    h->prev->next = c;
    h->prev = c;
}

static void peer_release(struct fwl_front *f, fpeer *p)
{
    pthread_mutex_lock(&f->mu);
    f->total--;
    if (p && --p->count == 0) {
        for (fpeer **pp = &f->peers; *pp; pp = &(*pp)->next) {
            if (*pp == p) {
                *pp = p->next;
                free(p);
                break;
            }
        }
    }
    pthread_mutex_unlock(&f->mu);
}

static void request_reset(fconn *c)
{
    free(c->cbody);
    free(c->qcopy);
    free(c->obody);
    c->cbody = c->qcopy = c->obody = NULL;
    c->cblen = c->cbcap = c->clen = c->req_end = 0;
    c->chunked = c->too_large = c->qparsed = c->is_head = false;
    c->nq = 0;
    c->query = NULL;
    memset(&c->ch, 0, sizeof c->ch);
    memset(&c->call, 0, sizeof c->call);
    c->state = ST_HEAD;
}

static void conn_close(fconn *c)
{
    fworker *w = c->w;
    if (c->state != ST_PARKED)
        epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
    idle_unlink(c);
    if (c->aprev)
        c->aprev->anext = c->anext;
    else
        w->all = c->anext;
    if (c->anext)
        c->anext->aprev = c->aprev;
    close(c->fd);
    peer_release(w->f, c->peer);
    request_reset(c);
    free(c->buf);
    free(c);
}

/* Room for `need` bytes in buf (the head's pointers move with it). -1: out of memory. */
static int buf_reserve(fconn *c, size_t need)
{
    if (need <= c->cap)
        return 0;
    size_t nc = c->cap ? c->cap : BUF_FIRST;
    while (nc < need)
        nc *= 2;
    uintptr_t old = (uintptr_t)c->buf; /* (a number: the old block is not looked at after realloc) */
    char *nb = realloc(c->buf, nc);
    if (!nb)
        return -1;
    if (old && (uintptr_t)nb != old && c->state != ST_HEAD) {
        /* rebase the parsed head (offsets from the old base are still valid) */
        uintptr_t d = (uintptr_t)nb - old; /* (wraps when the block moved down: still exact) */
        c->head.method = (char *)((uintptr_t)c->head.method + d);
        c->head.target = (char *)((uintptr_t)c->head.target + d);
        for (int i = 0; i < c->head.nhdr; i++) {
            c->head.hdr[i].name = (const char *)((uintptr_t)c->head.hdr[i].name + d);
            c->head.hdr[i].value = (const char *)((uintptr_t)c->head.hdr[i].value + d);
        }
        if (c->query)
            c->query = (char *)((uintptr_t)c->query + d);
        c->call.method = c->head.method;
        c->call.url = c->head.target;
    }
    c->buf = nb;
    c->cap = nc;
    return 0;
}

/* ---- answers --------------------------------------------------------------------------------------------- */

static const char *reason(int st)
{
    switch (st) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 425: return "Too Early";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
    }
}

static const char *http_date(fworker *w)
{
    time_t now = time(NULL);
    if (now != w->date_s) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(w->date, sizeof w->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        w->date_s = now;
    }
    return w->date;
}

/* Appends a string or a decimal; returns the new end. c->hdr has room for the longest header set. */
static char *put(char *p, const char *str)
{
    size_t l = strlen(str);
    memcpy(p, str, l);
    return p + l;
}

static char *put_uint(char *p, unsigned long long v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* Sends what is left of the answer. 1: all out, 0: the socket is full (EPOLLOUT is watched), -1: closed. */
static int flush(fconn *c)
{
    while (c->hoff < c->hlen || c->ooff < c->olen) {
        struct iovec iov[2];
        int n = 0;
        if (c->hoff < c->hlen)
            iov[n++] = (struct iovec){c->hdr + c->hoff, c->hlen - c->hoff};
        if (c->ooff < c->olen)
            iov[n++] = (struct iovec){c->obody + c->ooff, c->olen - c->ooff};
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t sent = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR)
            continue;
        if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (c->state != ST_WRITE) {
                c->state = ST_WRITE;
                struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
                epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &ev);
            }
            return 0;
        }
        if (sent <= 0) {
            conn_close(c);
            return -1;
        }
        size_t k = (size_t)sent, h = c->hlen - c->hoff;
        if (k >= h) {
            c->hoff = c->hlen;
            c->ooff += k - h;
        } else {
            c->hoff += k;
        }
        touch(c);
    }
    free(c->obody);
    c->obody = NULL;
    c->olen = c->ooff = 0;
    if (c->close_after) {
        conn_close(c);
        return -1;
    }
    if (c->state == ST_WRITE) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &ev);
    }
    c->state = ST_HEAD;
    return 1;
}

/* Queues r as the answer to the current request (its body is taken), drops the request from the buffer and
 * starts sending. flush()'s result. */
static int respond(fconn *c, fwl_resp *r)
{
    size_t blen = r->body ? strlen(r->body) : 0;
    if (!c->keep_alive)
        c->close_after = true;
    /* (pieces copied, not printf'd: formatting was a tenth of this thread's user time) */
    char *p = c->hdr;
    p = put(p, "HTTP/1.1 ");
    p = put_uint(p, (unsigned long long)(r->status > 0 && r->status < 1000 ? r->status : 500));
    *p++ = ' ';
    p = put(p, reason(r->status));
    p = put(p, "\r\nDate: ");
    p = put(p, http_date(c->w));
    if (blen)
        p = put(p, "\r\nContent-Type: application/json");
    p = put(p, "\r\nContent-Length: ");
    p = put_uint(p, blen);
    if (r->retry_after_s > 0) {
        p = put(p, "\r\nRetry-After: ");
        p = put_uint(p, (unsigned long long)r->retry_after_s);
    }
    if (c->close_after)
        p = put(p, "\r\nConnection: close");
    else if (c->head.minor == 0)
        p = put(p, "\r\nConnection: keep-alive");
    p = put(p, "\r\n\r\n");
    size_t n = (size_t)(p - c->hdr);
    bool head_only = c->is_head;
    /* the request is done with: what follows it in the buffer is the next one */
    size_t rest = c->len > c->req_end ? c->len - c->req_end : 0;
    if (rest && c->req_end)
        memmove(c->buf, c->buf + c->req_end, rest);
    c->len = rest;
    request_reset(c);
    if (c->cap > BUF_KEEP && c->len < BUF_FIRST) {
        char *nb = realloc(c->buf, BUF_FIRST);
        if (nb) {
            c->buf = nb;
            c->cap = BUF_FIRST;
        }
    }
    c->hlen = n;
    c->hoff = 0;
    c->obody = head_only ? NULL : r->body;
    c->olen = head_only ? 0 : blen;
    c->ooff = 0;
    if (!head_only)
        r->body = NULL;
    free(r->body);
    r->body = NULL;
    return flush(c);
}

/* An answer of the front's own (a malformed or oversized request): logged (collapsed: a flood repeats it), then
 * the connection is closed once it is out. */
static int refuse(fconn *c, int status, const char *what)
{
    fwl_resp r = {0};
    fwl_resp_error(&r, status, fwl_http_to_grpc(status), "%s", what);
    fwl_http_log_collapsed("HTTP -> %d: %s", status, what);
    c->close_after = true;
    c->req_end = c->len; /* whatever else came is dropped */
    return respond(c, &r);
}

/* ---- requests -------------------------------------------------------------------------------------------- */

static void parse_query(fconn *c)
{
    c->qparsed = true;
    if (!c->query || !(c->qcopy = strdup(c->query)))
        return;
    for (char *p = c->qcopy; p && *p && c->nq < MAX_QUERY;) {
        char *amp = strchr(p, '&');
        if (amp)
            *amp = 0;
        if (*p) {
            char *eq = strchr(p, '=');
            if (eq) {
                *eq = 0;
                fwl_h1_unescape(eq + 1, true);
            }
            fwl_h1_unescape(p, true);
            c->qname[c->nq] = p;
            c->qval[c->nq] = eq ? eq + 1 : NULL;
            c->nq++;
        }
        p = amp ? amp + 1 : NULL;
    }
}

static const char *lookup(void *ctx, fwl_lookup_kind kind, const char *key)
{
    fconn *c = ctx;
    if (kind == FWL_LOOKUP_HEADER)
        return fwl_h1_get(&c->head, key);
    if (!c->qparsed)
        parse_query(c);
    for (int i = 0; i < c->nq; i++)
        if (!strcasecmp(c->qname[i], key))
            return c->qval[i];
    return NULL;
}

/* The head is parsed: framing, keep-alive, the target. 0: go on reading the body; otherwise refuse()'s result. */
static int begin_request(fconn *c)
{
    fwl_h1_head *h = &c->head;
    fwl_server *s = c->w->f->s;
    const char *conn = fwl_h1_get(h, "Connection");
    c->keep_alive = h->minor >= 1 ? !fwl_h1_list_has(conn, "close") : fwl_h1_list_has(conn, "keep-alive");
    c->is_head = !strcmp(h->method, "HEAD");
    c->state = ST_BODY;
    if (h->minor >= 1 && !fwl_h1_get(h, "Host"))
        return refuse(c, 400, "HTTP/1.1 request without a Host header");
    char *q = strchr(h->target, '?');
    if (q) {
        *q = 0;
        c->query = q + 1;
    }
    if (strchr(h->target, '%'))
        fwl_h1_unescape(h->target, false);
    const char *te = fwl_h1_get(h, "Transfer-Encoding"), *cl = NULL;
    int ncl = 0;
    for (int i = 0; i < h->nhdr; i++) {
        if (strcasecmp(h->hdr[i].name, "Content-Length") != 0)
            continue;
        if (ncl++ && strcmp(cl, h->hdr[i].value) != 0)
            return refuse(c, 400, "conflicting Content-Length headers");
        cl = h->hdr[i].value;
    }
    if (te) {
        if (strcasecmp(te, "chunked") != 0)
            return refuse(c, 501, "unsupported Transfer-Encoding (only chunked is)");
        if (cl || h->minor == 0)
            return refuse(c, 400, "Transfer-Encoding with Content-Length or in HTTP/1.0");
        c->chunked = true;
    } else if (cl) {
        long long n = fwl_h1_content_length(cl);
        if (n < 0)
            return refuse(c, 400, "malformed Content-Length");
        if ((unsigned long long)n > s->cfg.max_body_bytes) {
            fwl_resp r = {0};
            fwl_http_too_large(s, h->method, h->target, cl, &r);
            c->close_after = true; /* the body is not read */
            c->req_end = c->len;
            return respond(c, &r);
        }
        c->clen = (size_t)n;
    }
    c->call = (fwl_http_call){.method = h->method, .url = h->target, .lookup = lookup, .lookup_ctx = c, .park = c};
    const char *expect = fwl_h1_get(h, "Expect");
    bool body_waiting = c->chunked ? c->len == h->head_len : c->len < h->head_len + c->clen;
    if (expect && h->minor >= 1 && body_waiting && fwl_h1_list_has(expect, "100-continue")) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        /* (a fresh socket takes 25 bytes; should it not, the client sends its body after its own wait) */
        (void)!send(c->fd, cont, sizeof cont - 1, MSG_NOSIGNAL);
    }
    return 0;
}

static void chunk_sink(void *ctx, const char *data, size_t n)
{
    fconn *c = ctx;
    size_t max = c->w->f->s->cfg.max_body_bytes;
    if (c->too_large || c->cblen + n > max) {
        c->too_large = true; /* (only the flag is kept: the 413 goes out once the body is in) */
        return;
    }
    if (c->cblen + n + 1 > c->cbcap) {
        size_t nc = (c->cblen + n + 1) * 2;
        char *nb = realloc(c->cbody, nc);
        if (!nb) {
            c->too_large = true; /* (out of memory: refused as too large rather than half kept) */
            return;
        }
        c->cbody = nb;
        c->cbcap = nc;
    }
    memcpy(c->cbody + c->cblen, data, n);
    c->cblen += n;
    c->cbody[c->cblen] = 0;
}

/* 1: the whole body is in (req_end set), 0: more to come, otherwise refuse()'s result. */
static int body_complete(fconn *c)
{
    size_t hl = c->head.head_len;
    if (!c->chunked) {
        if (c->len >= hl + c->clen) {
            c->req_end = hl + c->clen;
            return 1;
        }
        return buf_reserve(c, hl + c->clen + 1) == 0 ? 0 : refuse(c, 413, "request body does not fit in memory");
    }
    size_t used = 0;
    int rc = fwl_h1_chunked_feed(&c->ch, c->buf + hl, c->len - hl, &used, chunk_sink, c);
    if (rc == FWL_H1_BAD)
        return refuse(c, 400, "malformed chunked body");
    if (rc == FWL_H1_DONE) {
        /* the raw chunks are dropped: the next request's bytes follow the head directly */
        memmove(c->buf + hl, c->buf + hl + used, c->len - hl - used);
        c->len -= used;
        c->req_end = hl;
        return 1;
    }
    c->len = hl; /* every raw byte is decoded: keep the buffer at the head's size */
    return 0;
}

static void front_resume(void *token);

/* Runs the request (first run or resumed). 1: answered and sent, 0: parked or still sending, -1: closed. */
static int dispatch(fconn *c)
{
    fwl_server *s = c->w->f->s;
    char saved = 0;
    if (c->chunked) {
        c->call.body = c->cbody;
        c->call.len = c->cblen;
    } else {
        c->call.body = c->clen ? c->buf + c->head.head_len : NULL;
        c->call.len = c->clen;
        saved = c->buf[c->req_end]; /* (room kept: cap > req_end) */
        c->buf[c->req_end] = 0;
    }
    c->call.too_large = c->too_large;
    if (!c->call.park_deadline_us)
        c->call.t0_us = fwl_now_us();
    fwl_resp r = {0};
    fwl_http_handle(s, &c->call, &r);
    if (!c->chunked)
        c->buf[c->req_end] = saved;
    if (r.parked) {
        /* no answer yet: out of the epoll set (and not idle) until the park thread resumes it */
        c->call.park_deadline_us = r.park_deadline_us;
        epoll_ctl(c->w->ep, EPOLL_CTL_DEL, c->fd, NULL);
        idle_unlink(c);
        c->state = ST_PARKED;
        fwl_park_suspended(s, c);
        return 0;
    }
    fwl_http_log_answer(s, &c->call, &r);
    if (c->call.fault == FWL_FAULT_DROP) {
        /* after the handler: the outcome is unknown to the client (safe: every route is idempotent on retry) */
        free(r.body);
        conn_close(c);
        return -1;
    }
    return respond(c, &r);
}

/* Handles every complete request in the buffer, in order, while answers go straight out. 0 or -1 (closed). */
static int process(fconn *c)
{
    while (c->state == ST_HEAD || c->state == ST_BODY) {
        if (c->state == ST_HEAD) {
            if (c->len == 0)
                return 0;
            int rc = fwl_h1_parse_head(c->buf, c->len, HEAD_MAX, &c->head);
            if (rc == FWL_H1_MORE)
                return buf_reserve(c, c->len + 1024 < HEAD_MAX + 1 ? c->len + 1024 : HEAD_MAX + 1) == 0 ? 0 : -1;
            if (rc == FWL_H1_BAD)
                rc = refuse(c, 400, "malformed request line or header");
            else if (rc == FWL_H1_TOO_LARGE)
                rc = refuse(c, 431, "request headers over 16 KiB or 64 fields");
            else
                rc = begin_request(c);
            if (rc < 0)
                return -1;
            if (rc > 0 || c->state != ST_BODY)
                continue; /* (refused, and the answer is out: the connection closes) */
        }
        int rc = body_complete(c);
        if (rc == 0)
            return 0;
        if (rc < 0)
            return -1;
        if (c->state != ST_BODY)
            continue; /* refused */
        rc = dispatch(c);
        if (rc <= 0)
            return rc;
    }
    return 0;
}

static void conn_readable(fconn *c)
{
    if (c->state != ST_HEAD && c->state != ST_BODY)
        return;
    if (c->cap - c->len < 2 && buf_reserve(c, c->cap ? c->cap * 2 : BUF_FIRST) != 0) {
        conn_close(c);
        return;
    }
    if (!c->buf && buf_reserve(c, BUF_FIRST) != 0) {
        conn_close(c);
        return;
    }
    ssize_t got = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0); /* (one byte kept for a body's NUL) */
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (got <= 0) {
        conn_close(c); /* the client went (or the socket failed) */
        return;
    }
    c->len += (size_t)got;
    touch(c);
    process(c);
}

/* ---- workers --------------------------------------------------------------------------------------------- */

static void worker_wake(fworker *w)
{
    uint64_t one = 1;
    if (write(w->efd, &one, sizeof one) != (ssize_t)sizeof one && errno != EAGAIN)
        fwl_http_log_collapsed("cannot wake an HTTP thread: %s", strerror(errno));
}

/* The park thread: the parked request's answer is due. */
static void front_resume(void *token)
{
    fconn *c = token;
    fworker *w = c->w;
    pthread_mutex_lock(&w->mu);
    c->qnext = w->resq;
    w->resq = c;
    pthread_mutex_unlock(&w->mu);
    worker_wake(w);
}

static void adopt(fworker *w, fconn *c)
{
    c->w = w;
    c->state = ST_HEAD;
    c->anext = w->all;
    if (w->all)
        w->all->aprev = c;
    w->all = c;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        fwl_http_log_collapsed("cannot watch a connection: %s", strerror(errno));
        c->state = ST_PARKED; /* (not in the epoll set) */
        conn_close(c);
        return;
    }
    touch(c);
}

static void resumed(fconn *c)
{
    if (c->state != ST_PARKED)
        return;
    c->state = ST_BODY;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(c->w->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        c->state = ST_PARKED;
        conn_close(c);
        return;
    }
    touch(c);
    if (dispatch(c) > 0)
        process(c); /* requests pipelined behind it */
}

/* Closes connections idle for the timeout; returns the epoll wait until the next one is due (ms, -1: none). */
static int sweep_idle(fworker *w)
{
    int idle_s = w->f->s->cfg.idle_timeout_s;
    if (idle_s <= 0)
        return -1;
    int64_t limit = (int64_t)idle_s * 1000000, now = coarse_us();
    while (w->idle.next != &w->idle && now - w->idle.next->last_us >= limit)
        conn_close(w->idle.next);
    if (w->idle.next == &w->idle)
        return -1;
    int64_t ms = (w->idle.next->last_us + limit - now) / 1000 + 10; /* (the coarse clock ticks in a few ms) */
    return ms > 1000 ? 1000 : (int)ms;
}

static void *worker_main(void *arg)
{
    fworker *w = arg;
    struct epoll_event evs[128];
    int wait_ms = -1;
    for (;;) {
        int n = epoll_wait(w->ep, evs, 128, wait_ms);
        if (n < 0 && errno != EINTR) {
            fwl_http_log_collapsed("HTTP thread: epoll_wait: %s", strerror(errno));
            fwl_sleep_ms(10);
        }
        bool woken = false;
        for (int i = 0; i < n; i++) {
            fconn *c = evs[i].data.ptr;
            if (!c) {
                woken = true;
            } else if (c->state == ST_WRITE) {
                if (flush(c) > 0)
                    process(c);
            } else {
                conn_readable(c);
            }
        }
        if (woken) {
            uint64_t v;
            (void)!read(w->efd, &v, sizeof v);
            pthread_mutex_lock(&w->mu);
            fconn *in = w->inq, *res = w->resq;
            bool quit = w->quit;
            w->inq = w->resq = NULL;
            pthread_mutex_unlock(&w->mu);
            while (in) {
                fconn *c = in;
                in = c->qnext;
                adopt(w, c);
            }
            while (res) {
                fconn *c = res;
                res = c->qnext;
                resumed(c);
            }
            if (quit)
                break;
        }
        wait_ms = sweep_idle(w);
    }
    while (w->all)
        conn_close(w->all);
    return NULL;
}

/* ---- accepting ------------------------------------------------------------------------------------------- */

/* Counts the connection against the bounds; NULL (and *why set) when over one. */
static bool admit(struct fwl_front *f, const struct sockaddr_storage *ss, fpeer **out, const char **why)
{
    const fwl_config *cfg = &f->s->cfg;
    unsigned char a[16];
    int al = 0;
    if (ss->ss_family == AF_INET) {
        memcpy(a, &((const struct sockaddr_in *)ss)->sin_addr, 4);
        al = 4;
    } else if (ss->ss_family == AF_INET6) {
        memcpy(a, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
        al = 16;
    }
    pthread_mutex_lock(&f->mu);
    bool ok = false;
    fpeer *p = NULL;
    if (cfg->max_connections > 0 && f->total >= cfg->max_connections) {
        *why = "connection limit (--max-connections) reached: closing a new connection";
        goto out;
    }
    for (p = f->peers; p; p = p->next)
        if (p->alen == al && !memcmp(p->addr, a, (size_t)al))
            break;
    if (p && cfg->max_per_client > 0 && p->count >= cfg->max_per_client) {
        *why = "per-client connection limit (--max-client-connections) reached: closing a new connection";
        p = NULL;
        goto out;
    }
    if (!p) {
        p = calloc(1, sizeof *p);
        if (!p) {
            *why = "out of memory: closing a new connection";
            goto out;
        }
        memcpy(p->addr, a, (size_t)al);
        p->alen = al;
        p->next = f->peers;
        f->peers = p;
    }
    p->count++;
    f->total++;
    ok = true;
out:
    pthread_mutex_unlock(&f->mu);
    *out = p;
    return ok;
}

static void *accept_main(void *arg)
{
    struct fwl_front *f = arg;
    struct pollfd pf[2] = {{.fd = f->listen_fd, .events = POLLIN}, {.fd = f->wake_fd, .events = POLLIN}};
    for (;;) {
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            fwl_http_log_collapsed("accept thread: poll: %s", strerror(errno));
            fwl_sleep_ms(10);
            continue;
        }
        if (pf[1].revents)
            break; /* fwl_front_stop */
        for (int n = 0; n < 64; n++) { /* (then look at the stop signal again) */
            struct sockaddr_storage ss;
            socklen_t sl = sizeof ss;
            int fd = accept4(f->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
                    /* out of descriptors or memory: the connection waits in the backlog; do not spin on it */
                    fwl_http_log_collapsed("cannot accept a connection: %s", strerror(errno));
                    fwl_sleep_ms(10);
                }
                break;
            }
            fpeer *p = NULL;
            const char *why = NULL;
            fconn *c = NULL;
            if (!admit(f, &ss, &p, &why) || !(c = calloc(1, sizeof *c))) {
                if (why)
                    fwl_http_log_collapsed("%s", why);
                else
                    peer_release(f, p);
                close(fd);
                continue;
            }
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* an answer is one write: send it now */
            c->fd = fd;
            c->peer = p;
            fworker *w = &f->w[f->next++ % (unsigned)f->nw]; /* in turn: an even spread */
            pthread_mutex_lock(&w->mu);
            c->qnext = w->inq;
            w->inq = c;
            pthread_mutex_unlock(&w->mu);
            worker_wake(w);
        }
    }
    return NULL;
}

/* ---- start and stop -------------------------------------------------------------------------------------- */

int fwl_front_start(fwl_server *s, int fd, int threads)
{
    struct fwl_front *f = calloc(1, sizeof *f);
    if (!f) {
        close(fd);
        return -1;
    }
    f->s = s;
    f->listen_fd = fd;
    f->wake_fd = -1;
    f->nw = threads;
    pthread_mutex_init(&f->mu, NULL);
    s->front = f;
    f->w = calloc((size_t)threads, sizeof *f->w);
    if (!f->w)
        goto fail;
    for (int i = 0; i < threads; i++) {
        fworker *w = &f->w[i];
        w->f = f;
        w->ep = w->efd = -1;
        w->idle.next = w->idle.prev = &w->idle;
        pthread_mutex_init(&w->mu, NULL);
    }
    for (int i = 0; i < threads; i++) {
        fworker *w = &f->w[i];
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        if (w->ep < 0 || w->efd < 0 || epoll_ctl(w->ep, EPOLL_CTL_ADD, w->efd, &ev) != 0) {
            fwl_log("cannot set up an HTTP thread: %s", strerror(errno));
            goto fail;
        }
    }
    if (fwl_park_start(s, front_resume) != 0) {
        fwl_log("cannot start the long-poll thread");
        goto fail;
    }
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&f->w[i].thr, NULL, worker_main, &f->w[i]) != 0) {
            fwl_log("cannot start an HTTP thread");
            goto fail;
        }
        f->w[i].started = true;
    }
    f->wake_fd = eventfd(0, EFD_CLOEXEC);
    if (f->wake_fd < 0 || pthread_create(&f->accept_thr, NULL, accept_main, f) != 0) {
        fwl_log("cannot start the accept thread: %s", strerror(errno));
        goto fail;
    }
    f->accept_started = true;
    return 0;
fail:
    fwl_front_stop(s);
    return -1;
}

void fwl_front_stop(fwl_server *s)
{
    struct fwl_front *f = s->front;
    if (!f)
        return;
    if (f->accept_started) {
        uint64_t one = 1;
        if (write(f->wake_fd, &one, sizeof one) != (ssize_t)sizeof one)
            fwl_log("cannot wake the accept thread: %s", strerror(errno));
        pthread_join(f->accept_thr, NULL);
    }
    /* every parked long-poll answers (try_again) while the HTTP threads still run */
    fwl_park_stop(s);
    for (int i = 0; f->w && i < f->nw; i++) {
        fworker *w = &f->w[i];
        if (w->started) {
            pthread_mutex_lock(&w->mu);
            w->quit = true;
            pthread_mutex_unlock(&w->mu);
            worker_wake(w);
            pthread_join(w->thr, NULL);
        }
        /* connections handed over but never adopted */
        while (w->inq) {
            fconn *c = w->inq;
            w->inq = c->qnext;
            close(c->fd);
            peer_release(f, c->peer);
            free(c);
        }
        if (w->ep >= 0)
            close(w->ep);
        if (w->efd >= 0)
            close(w->efd);
        pthread_mutex_destroy(&w->mu);
    }
    s->park_started = false; /* no HTTP thread is left to read it */
    if (f->wake_fd >= 0)
        close(f->wake_fd);
    close(f->listen_fd);
    while (f->peers) {
        fpeer *p = f->peers;
        f->peers = p->next;
        free(p);
    }
    pthread_mutex_destroy(&f->mu);
    free(f->w);
    free(f);
    s->front = NULL;
}
