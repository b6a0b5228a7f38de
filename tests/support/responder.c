/* Scripted HTTP/1.1 test server: see responder.h. */
#include "responder.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEADER_BYTES (256 * 1024)
#define MAX_BODY_BYTES (256u * 1024u * 1024u)

typedef struct conn {
    struct fwt_responder *r;
    pthread_t thread;
    int fd;           /* -1 once closed; guarded by r->mu */
    int done;         /* thread finished, may be joined */
    int id;
    char *buf;        /* bytes read but not consumed yet */
    size_t len, cap;
} conn;

struct fwt_responder {
    int listen_fd;
    int port;
    int stop_pipe[2];
    pthread_t accept_thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_mutex_t handler_mu;
    fwt_resp_handler h;
    void *ud;
    int stopping;
    fwt_resp_action *queue;
    size_t q_head, q_len, q_cap;
    fwt_resp_action dflt;
    fwt_resp_request **reqs;
    size_t n_reqs, reqs_cap;
    conn **conns;
    size_t n_conns, conns_cap;
    int total_conns, open_conns;
};

/* ---------- small helpers ---------- */

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static char *dup_opt(const char *s)
{
    return s ? dup_n(s, strlen(s)) : NULL;
}

static size_t body_len_of(const fwt_resp_action *a)
{
    if (!a->body)
        return 0;
    return a->body_len ? a->body_len : strlen(a->body);
}

static void action_copy(fwt_resp_action *dst, const fwt_resp_action *src)
{
    *dst = *src;
    dst->content_type = dup_opt(src->content_type);
    dst->extra_headers = dup_opt(src->extra_headers);
    size_t bl = body_len_of(src);
    dst->body = src->body ? dup_n(src->body, bl) : NULL;
    dst->body_len = bl;
}

static void action_release(fwt_resp_action *a)
{
    free((char *)a->content_type);
    free((char *)a->extra_headers);
    free((char *)a->body);
    memset(a, 0, sizeof *a);
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Wait for the connection to become readable. watch_client=0 only watches the
 * stop pipe (used for stalls). Returns 1 readable, 0 timeout, -1 stop or the
 * peer went away (when watch_client is set and the peer closed).
 */
static int wait_event(conn *c, int timeout_ms, int watch_client)
{
    struct pollfd p[2];
    p[0].fd = c->r->stop_pipe[0];
    p[0].events = POLLIN;
    p[1].fd = c->fd;
    p[1].events = POLLIN;
    int n = watch_client ? 2 : 1;
    for (;;) {
        int rc = poll(p, (nfds_t)n, timeout_ms);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0)
            return -1;
        if (rc == 0)
            return 0;
        if (p[0].revents)
            return -1;
        return 1;
    }
}

/* Sleep ms (-1 = forever) unless stopped or the client hangs up. 0 = slept, -1 = abort. */
static int stall(conn *c, int ms)
{
    uint64_t end = ms < 0 ? 0 : mono_ms() + (uint64_t)ms;
    int watch_client = 1;
    for (;;) {
        int left = -1;
        if (ms >= 0) {
            uint64_t now = mono_ms();
            if (now >= end)
                return 0;
            left = (int)(end - now);
        }
        int rc = wait_event(c, left, watch_client);
        if (rc < 0)
            return -1;
        if (rc == 0)
            return 0;
        char b;
        ssize_t k = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
            return -1; /* client gone */
        if (k > 0)
            watch_client = 0; /* pipelined bytes: stop watching to avoid spinning */
    }
}

static int send_all(conn *c, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Read more bytes into c->buf. 1 = got some, 0 = EOF/stop/error. */
static int fill(conn *c)
{
    if (c->len == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 8192;
        char *nb = realloc(c->buf, nc);
        if (!nb)
            return 0;
        c->buf = nb;
        c->cap = nc;
    }
    for (;;) {
        int rc = wait_event(c, -1, 1);
        if (rc <= 0)
            return 0;
        ssize_t k = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (k < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (k <= 0)
            return 0;
        c->len += (size_t)k;
        return 1;
    }
}

static void consume(conn *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

static char *trim(char *s, char *end)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *end = '\0';
    return s;
}

/* ---------- requests ---------- */

void fwt_resp_request_free(fwt_resp_request *req)
{
    if (!req)
        return;
    free(req->method);
    free(req->path);
    free(req->body);
    for (size_t i = 0; i < req->n_headers; i++) {
        free(req->header_names[i]);
        free(req->header_values[i]);
    }
    free(req->header_names);
    free(req->header_values);
    free(req);
}

const char *fwt_resp_request_header(const fwt_resp_request *req, const char *name)
{
    if (!req || !name)
        return NULL;
    for (size_t i = 0; i < req->n_headers; i++)
        if (strcasecmp(req->header_names[i], name) == 0)
            return req->header_values[i];
    return NULL;
}

static fwt_resp_request *request_clone(const fwt_resp_request *s)
{
    fwt_resp_request *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->method = dup_opt(s->method);
    d->path = dup_opt(s->path);
    d->body = dup_n(s->body, s->body_len);
    d->body_len = s->body_len;
    d->conn_id = s->conn_id;
    d->index = s->index;
    d->header_names = calloc(s->n_headers + 1, sizeof(char *));
    d->header_values = calloc(s->n_headers + 1, sizeof(char *));
    if (!d->method || !d->path || !d->body || !d->header_names || !d->header_values) {
        fwt_resp_request_free(d);
        return NULL;
    }
    for (size_t i = 0; i < s->n_headers; i++) {
        d->header_names[i] = dup_opt(s->header_names[i]);
        d->header_values[i] = dup_opt(s->header_values[i]);
        d->n_headers = i + 1;
    }
    return d;
}

/*
 * Parse one request from the connection. Returns the request (caller frees),
 * or NULL when the connection should close. *expect_close is set when the
 * client asked for Connection: close.
 */
static fwt_resp_request *read_request(conn *c, int *expect_close)
{
    size_t hdr_end;
    for (;;) {
        char *p = c->len >= 4 ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
        if (p) {
            hdr_end = (size_t)(p - c->buf) + 4;
            break;
        }
        if (c->len > MAX_HEADER_BYTES || !fill(c))
            return NULL;
    }
    fwt_resp_request *req = calloc(1, sizeof *req);
    char *head = dup_n(c->buf, hdr_end - 4);
    if (!req || !head) {
        free(req);
        free(head);
        return NULL;
    }
    consume(c, hdr_end);

    size_t cap = 8;
    req->header_names = calloc(cap, sizeof(char *));
    req->header_values = calloc(cap, sizeof(char *));
    long long content_len = 0;
    int chunked = 0, expect_continue = 0, ok = req->header_names && req->header_values;

    char *save = NULL;
    char *line = strtok_r(head, "\n", &save);
    if (ok && line) {
        char *end = line + strlen(line);
        if (end > line && end[-1] == '\r')
            *--end = '\0';
        char *sp1 = strchr(line, ' ');
        char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
        if (sp1 && sp2) {
            req->method = dup_n(line, (size_t)(sp1 - line));
            req->path = dup_n(sp1 + 1, (size_t)(sp2 - sp1 - 1));
        }
    }
    ok = ok && req->method && req->path;
    while (ok && (line = strtok_r(NULL, "\n", &save)) != NULL) {
        char *end = line + strlen(line);
        if (end > line && end[-1] == '\r')
            *--end = '\0';
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        char *name = trim(line, colon);
        char *value = trim(colon + 1, end);
        if (req->n_headers + 1 >= cap) {
            cap *= 2;
            char **nn = realloc(req->header_names, cap * sizeof(char *));
            if (nn)
                req->header_names = nn;
            char **nv = realloc(req->header_values, cap * sizeof(char *));
            if (nv)
                req->header_values = nv;
            if (!nn || !nv) {
                ok = 0;
                break;
            }
        }
        req->header_names[req->n_headers] = dup_opt(name);
        req->header_values[req->n_headers] = dup_opt(value);
        req->n_headers++;
        if (strcasecmp(name, "Content-Length") == 0)
            content_len = strtoll(value, NULL, 10);
        else if (strcasecmp(name, "Transfer-Encoding") == 0 && strcasestr(value, "chunked"))
            chunked = 1;
        else if (strcasecmp(name, "Expect") == 0 && strcasecmp(value, "100-continue") == 0)
            expect_continue = 1;
        else if (strcasecmp(name, "Connection") == 0 && strcasecmp(value, "close") == 0)
            *expect_close = 1;
    }
    free(head);
    /* Chunked request bodies are not supported: the engine always sends a length. */
    if (!ok || chunked || content_len < 0 || (unsigned long long)content_len > MAX_BODY_BYTES) {
        fwt_resp_request_free(req);
        return NULL;
    }
    if (expect_continue && c->len < (size_t)content_len) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (send_all(c, cont, sizeof cont - 1) != 0) {
            fwt_resp_request_free(req);
            return NULL;
        }
    }
    while (c->len < (size_t)content_len) {
        if (c->cap < (size_t)content_len) {
            char *nb = realloc(c->buf, (size_t)content_len);
            if (!nb) {
                fwt_resp_request_free(req);
                return NULL;
            }
            c->buf = nb;
            c->cap = (size_t)content_len;
        }
        if (!fill(c)) {
            fwt_resp_request_free(req);
            return NULL;
        }
    }
    req->body = dup_n(c->buf, (size_t)content_len);
    req->body_len = (size_t)content_len;
    consume(c, (size_t)content_len);
    req->conn_id = c->id;
    if (!req->body) {
        fwt_resp_request_free(req);
        return NULL;
    }
    return req;
}

/* ---------- responses ---------- */

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 302: return "Found";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 425: return "Too Early";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
    }
}

/* Returns 0 to keep the connection, -1 to close it. */
static int respond(conn *c, const fwt_resp_request *req, const fwt_resp_action *a, int client_close)
{
    if (a->delay_headers_ms && stall(c, a->delay_headers_ms) != 0)
        return -1;
    if (a->close_without_response)
        return -1;
    int status = a->status ? a->status : 200;
    size_t blen = body_len_of(a);
    int is_head = strcmp(req->method, "HEAD") == 0;
    int close_after = client_close || a->close_connection || a->close_after_headers || a->advertise_len > 0;
    size_t ext = a->extra_headers ? strlen(a->extra_headers) : 0;
    size_t ct = a->content_type ? strlen(a->content_type) : 0;
    size_t cap = 256 + ext + ct;
    char *h = malloc(cap);
    if (!h)
        return -1;
    char len_hdr[64];
    if (a->chunked)
        snprintf(len_hdr, sizeof len_hdr, "Transfer-Encoding: chunked\r\n");
    else
        snprintf(len_hdr, sizeof len_hdr, "Content-Length: %lld\r\n",
                 a->advertise_len > 0 ? (long long)a->advertise_len : (long long)blen);
    int n = snprintf(h, cap, "HTTP/1.1 %d %s\r\n%s%s%s%s%s%s\r\n", status, reason(status), len_hdr,
                     a->content_type ? "Content-Type: " : "", a->content_type ? a->content_type : "",
                     a->content_type ? "\r\n" : "", a->extra_headers ? a->extra_headers : "",
                     close_after ? "Connection: close\r\n" : "");
    int rc = n > 0 && (size_t)n < cap ? send_all(c, h, (size_t)n) : -1;
    free(h);
    if (rc != 0 || a->close_after_headers)
        return -1;
    if (a->delay_body_ms && stall(c, a->delay_body_ms) != 0)
        return -1;
    if (a->chunked && !is_head) {
        char sz[32];
        int k = snprintf(sz, sizeof sz, "%zx\r\n", blen);
        if ((blen && (send_all(c, sz, (size_t)k) != 0 || send_all(c, a->body, blen) != 0 ||
                      send_all(c, "\r\n", 2) != 0)) ||
            send_all(c, "0\r\n\r\n", 5) != 0)
            return -1;
        return close_after ? -1 : 0;
    }
    if (!is_head && blen && send_all(c, a->body, blen) != 0)
        return -1;
    return close_after ? -1 : 0;
}

/*
 * Append a copy of req to the log and wake fwt_responder_wait_requests. Holds
 * r->mu. req->index must already be set. Counting a request and choosing its
 * answer happen in one critical section (see conn_main): otherwise a second
 * connection could take the queued answer meant for a request already counted.
 */
static void record_locked(fwt_responder *r, fwt_resp_request *req)
{
    if (r->n_reqs == r->reqs_cap) {
        size_t nc = r->reqs_cap ? r->reqs_cap * 2 : 64;
        fwt_resp_request **nr = realloc(r->reqs, nc * sizeof *nr);
        if (nr) {
            r->reqs = nr;
            r->reqs_cap = nc;
        }
    }
    if (r->n_reqs < r->reqs_cap) {
        fwt_resp_request *copy = request_clone(req);
        if (copy)
            r->reqs[r->n_reqs++] = copy;
    }
    pthread_cond_broadcast(&r->cv);
}

/*
 * Count req and decide its answer atomically: once a request is visible in
 * fwt_responder_request_count / _wait_requests, its answer is already fixed,
 * and the Nth request counted is the one that gets the Nth queued action.
 * Always returns 1: *act is a deep copy the caller releases.
 */
static int count_and_choose(fwt_responder *r, fwt_resp_request *req, fwt_resp_action *act)
{
    if (r->h) {
        /* handler_mu serializes handlers, so the index read here stays the next one until
           record_locked; r->mu is not held while the handler runs (it may call our API). */
        pthread_mutex_lock(&r->handler_mu);
        pthread_mutex_lock(&r->mu);
        req->index = (int)r->n_reqs;
        pthread_mutex_unlock(&r->mu);
        fwt_resp_action chosen;
        memset(&chosen, 0, sizeof chosen);
        r->h(req, &chosen, r->ud);
        /* Deep copy: the handler's strings need only live as long as the call. */
        action_copy(act, &chosen);
        pthread_mutex_lock(&r->mu);
        record_locked(r, req);
        pthread_mutex_unlock(&r->mu);
        pthread_mutex_unlock(&r->handler_mu);
        return 1;
    }
    pthread_mutex_lock(&r->mu);
    req->index = (int)r->n_reqs;
    if (r->q_len) {
        *act = r->queue[r->q_head];
        r->q_head = (r->q_head + 1) % r->q_cap;
        r->q_len--;
    } else {
        action_copy(act, &r->dflt);
    }
    record_locked(r, req);
    pthread_mutex_unlock(&r->mu);
    return 1;
}

static void *conn_main(void *arg)
{
    conn *c = arg;
    fwt_responder *r = c->r;
    for (;;) {
        int client_close = 0;
        fwt_resp_request *req = read_request(c, &client_close);
        if (!req)
            break;
        fwt_resp_action act;
        memset(&act, 0, sizeof act);
        int owned = count_and_choose(r, req, &act);
        int rc = respond(c, req, &act, client_close);
        if (owned)
            action_release(&act);
        fwt_resp_request_free(req);
        if (rc != 0)
            break;
    }
    pthread_mutex_lock(&r->mu);
    close(c->fd);
    c->fd = -1;
    c->done = 1;
    r->open_conns--;
    pthread_mutex_unlock(&r->mu);
    free(c->buf);
    c->buf = NULL;
    return NULL;
}

/* Join connection threads that finished, so long runs do not pile them up. Holds r->mu. */
static void reap_locked(fwt_responder *r)
{
    size_t w = 0;
    for (size_t i = 0; i < r->n_conns; i++) {
        conn *c = r->conns[i];
        if (c->done) {
            pthread_join(c->thread, NULL);
            free(c);
        } else {
            r->conns[w++] = c;
        }
    }
    r->n_conns = w;
}

static void *accept_main(void *arg)
{
    fwt_responder *r = arg;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (;;) {
        struct pollfd p[2] = {{r->stop_pipe[0], POLLIN, 0}, {r->listen_fd, POLLIN, 0}};
        int rc = poll(p, 2, -1);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0 || p[0].revents)
            break;
        int fd = accept4(r->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn *c = calloc(1, sizeof *c);
        pthread_mutex_lock(&r->mu);
        reap_locked(r);
        if (!c || r->stopping) {
            pthread_mutex_unlock(&r->mu);
            close(fd);
            free(c);
            continue;
        }
        if (r->n_conns == r->conns_cap) {
            size_t nc = r->conns_cap ? r->conns_cap * 2 : 64;
            conn **nv = realloc(r->conns, nc * sizeof *nv);
            if (!nv) {
                pthread_mutex_unlock(&r->mu);
                close(fd);
                free(c);
                continue;
            }
            r->conns = nv;
            r->conns_cap = nc;
        }
        c->r = r;
        c->fd = fd;
        c->id = r->total_conns;
        if (pthread_create(&c->thread, &attr, conn_main, c) != 0) {
            pthread_mutex_unlock(&r->mu);
            close(fd);
            free(c);
            continue;
        }
        r->conns[r->n_conns++] = c;
        r->total_conns++;
        r->open_conns++;
        pthread_mutex_unlock(&r->mu);
    }
    pthread_attr_destroy(&attr);
    return NULL;
}

/* ---------- public API ---------- */

int fwt_responder_start(fwt_responder **out, fwt_resp_handler h, void *ud)
{
    if (!out)
        return -1;
    *out = NULL;
    fwt_responder *r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    r->h = h;
    r->ud = ud;
    r->dflt.status = 404;
    r->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (r->listen_fd < 0 || pipe2(r->stop_pipe, O_CLOEXEC) != 0) {
        if (r->listen_fd >= 0)
            close(r->listen_fd);
        free(r);
        return -1;
    }
    int one = 1;
    setsockopt(r->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (bind(r->listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(r->listen_fd, 2048) != 0 ||
        getsockname(r->listen_fd, (struct sockaddr *)&sa, &sl) != 0)
        goto fail;
    r->port = ntohs(sa.sin_port);
    pthread_mutex_init(&r->mu, NULL);
    pthread_mutex_init(&r->handler_mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    if (pthread_create(&r->accept_thread, NULL, accept_main, r) != 0) {
        pthread_mutex_destroy(&r->mu);
        pthread_mutex_destroy(&r->handler_mu);
        pthread_cond_destroy(&r->cv);
        goto fail;
    }
    *out = r;
    return 0;
fail:
    close(r->listen_fd);
    close(r->stop_pipe[0]);
    close(r->stop_pipe[1]);
    free(r);
    return -1;
}

int fwt_responder_port(const fwt_responder *r)
{
    return r ? r->port : 0;
}

char *fwt_responder_url(const fwt_responder *r, const char *path)
{
    if (!r)
        return NULL;
    const char *p = path ? path : "";
    size_t n = strlen(p) + 40;
    char *u = malloc(n);
    if (u)
        snprintf(u, n, "http://127.0.0.1:%d%s", r->port, p);
    return u;
}

void fwt_responder_push(fwt_responder *r, const fwt_resp_action *a)
{
    if (!r || !a)
        return;
    pthread_mutex_lock(&r->mu);
    if (r->q_len == r->q_cap) {
        size_t nc = r->q_cap ? r->q_cap * 2 : 16;
        fwt_resp_action *nq = calloc(nc, sizeof *nq);
        if (!nq) {
            pthread_mutex_unlock(&r->mu);
            return;
        }
        for (size_t i = 0; i < r->q_len; i++)
            nq[i] = r->queue[(r->q_head + i) % r->q_cap];
        free(r->queue);
        r->queue = nq;
        r->q_cap = nc;
        r->q_head = 0;
    }
    action_copy(&r->queue[(r->q_head + r->q_len) % r->q_cap], a);
    r->q_len++;
    pthread_mutex_unlock(&r->mu);
}

void fwt_responder_set_default(fwt_responder *r, const fwt_resp_action *a)
{
    if (!r || !a)
        return;
    fwt_resp_action copy;
    action_copy(&copy, a);
    pthread_mutex_lock(&r->mu);
    action_release(&r->dflt);
    r->dflt = copy;
    pthread_mutex_unlock(&r->mu);
}

size_t fwt_responder_request_count(fwt_responder *r)
{
    if (!r)
        return 0;
    pthread_mutex_lock(&r->mu);
    size_t n = r->n_reqs;
    pthread_mutex_unlock(&r->mu);
    return n;
}

size_t fwt_responder_wait_requests(fwt_responder *r, size_t n, int timeout_ms)
{
    if (!r)
        return 0;
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->mu);
    while (r->n_reqs < n) {
        if (pthread_cond_timedwait(&r->cv, &r->mu, &dl) != 0)
            break;
    }
    size_t got = r->n_reqs;
    pthread_mutex_unlock(&r->mu);
    return got;
}

fwt_resp_request *fwt_responder_request_copy(fwt_responder *r, size_t i)
{
    if (!r)
        return NULL;
    pthread_mutex_lock(&r->mu);
    fwt_resp_request *c = i < r->n_reqs ? request_clone(r->reqs[i]) : NULL;
    pthread_mutex_unlock(&r->mu);
    return c;
}

int fwt_responder_connection_count(fwt_responder *r)
{
    if (!r)
        return 0;
    pthread_mutex_lock(&r->mu);
    int n = r->total_conns;
    pthread_mutex_unlock(&r->mu);
    return n;
}

int fwt_responder_open_connections(fwt_responder *r)
{
    if (!r)
        return 0;
    pthread_mutex_lock(&r->mu);
    int n = r->open_conns;
    pthread_mutex_unlock(&r->mu);
    return n;
}

void fwt_responder_stop(fwt_responder *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stopping = 1;
    pthread_mutex_unlock(&r->mu);
    char b = 1;
    while (write(r->stop_pipe[1], &b, 1) < 0 && errno == EINTR) {
    }
    pthread_join(r->accept_thread, NULL);
    /* Unblock any connection thread stuck in send()/recv(). */
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n_conns; i++)
        if (r->conns[i]->fd >= 0)
            shutdown(r->conns[i]->fd, SHUT_RDWR);
    size_t n = r->n_conns;
    conn **cs = r->conns;
    r->conns = NULL;
    r->n_conns = 0;
    pthread_mutex_unlock(&r->mu);
    for (size_t i = 0; i < n; i++) {
        pthread_join(cs[i]->thread, NULL);
        free(cs[i]);
    }
    free(cs);
    close(r->listen_fd);
    close(r->stop_pipe[0]);
    close(r->stop_pipe[1]);
    for (size_t i = 0; i < r->q_len; i++)
        action_release(&r->queue[(r->q_head + i) % r->q_cap]);
    free(r->queue);
    action_release(&r->dflt);
    for (size_t i = 0; i < r->n_reqs; i++)
        fwt_resp_request_free(r->reqs[i]);
    free(r->reqs);
    pthread_mutex_destroy(&r->mu);
    pthread_mutex_destroy(&r->handler_mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}
