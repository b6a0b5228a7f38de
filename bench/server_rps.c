/*
 * bench/server "rps": retrieve_future on a completed op (the answer a polling client gets most), back to back
 * on C keep-alive connections (C = 1, 16, 256; each connection keeps one request in flight), against
 *   - fwtrain-local (a fresh server: one trainer job, one completed optim_step), and
 *   - a minimal single-threaded epoll HTTP responder built here, answering every request with the same bytes
 *     fwtrain-local answered (the yardstick: what a server that does nothing but HTTP manages on this machine).
 * The load generator is one epoll thread speaking raw HTTP/1.1. The two servers alternate in ROUNDS slices of
 * SLICE_S seconds each (A/B interleaved, so a change in the machine's load hits both); ratio = fwtrain-local's
 * requests/s over the responder's; p99 is fwtrain-local's latency over all its slices.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "local_server.h"
#include "server_bench.h"

#define ROUNDS 3
#define SLICE_S 1.0
#define MAX_LAT (1u << 21)

/* ---- setup through libcurl ------------------------------------------------------------------------------ */

typedef struct rbuf {
    char *p;
    size_t len;
} rbuf;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    rbuf *b = ud;
    size_t n = size * nmemb;
    char *np = realloc(b->p, b->len + n + 1);
    if (!np)
        return 0;
    memcpy(np + b->len, data, n);
    b->len += n;
    np[b->len] = '\0';
    b->p = np;
    return n;
}

typedef struct client {
    CURL *h;
    struct curl_slist *hdrs;
    char base[256];
    rbuf body;
} client;

static cJSON *call(client *c, const char *method, const char *path, const char *json)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", c->base, path);
    free(c->body.p);
    c->body.p = NULL;
    c->body.len = 0;
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    if (json)
        curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, json);
    else
        curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, method);
    long code = 0;
    if (curl_easy_perform(c->h) != CURLE_OK || curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK ||
        code != 200 || !c->body.p)
        return NULL;
    return cJSON_Parse(c->body.p);
}

static const char *jstr(const cJSON *j, const char *k)
{
    const cJSON *v = j ? cJSON_GetObjectItemCaseSensitive(j, k) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

#define API "/training/v1/rlorTrainerJobs/local/bench-rps/api/v1"

static cJSON *await(client *c, const char *rid)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"request_id\":\"%s\",\"allow_metadata_only\":false}", rid);
    for (int i = 0; i < 100; i++) {
        cJSON *j = call(c, "POST", API "/retrieve_future", body);
        if (!j || !jstr(j, "type") || strcmp(jstr(j, "type"), "try_again") != 0)
            return j;
        cJSON_Delete(j);
    }
    return NULL;
}

/* A running job with one completed optim_step; rid gets its request id. 0 or -1. */
static int setup_job(client *c, char *rid, size_t rl)
{
    cJSON *j = call(c, "POST", "/v1/accounts/local/rlorTrainerJobs?rlorTrainerJobId=bench-rps",
                    "{\"trainingConfig\":{\"baseModel\":\"accounts/fireworks/models/byte\"}}");
    for (int i = 0; j && i < 200; i++) {
        const char *st = jstr(j, "state");
        if (st && strcmp(st, "JOB_STATE_RUNNING") == 0)
            break;
        cJSON_Delete(j);
        struct timespec ts = {0, 50000000L};
        nanosleep(&ts, NULL);
        j = call(c, "GET", "/v1/accounts/local/rlorTrainerJobs/bench-rps", NULL);
    }
    cJSON_Delete(j);
    char body[512];
    j = call(c, "POST", API "/create_session", "{}");
    if (!jstr(j, "session_id")) {
        cJSON_Delete(j);
        return -1;
    }
    snprintf(body, sizeof body, "{\"session_id\":\"%s\",\"model_seq_id\":0}", jstr(j, "session_id"));
    cJSON_Delete(j);
    j = call(c, "POST", API "/create_model", body);
    snprintf(rid, rl, "%s", jstr(j, "request_id") ? jstr(j, "request_id") : "");
    cJSON_Delete(j);
    j = await(c, rid);
    if (!jstr(j, "model_id")) {
        cJSON_Delete(j);
        return -1;
    }
    snprintf(body, sizeof body, "{\"model_id\":\"%s\",\"seq_id\":1,\"adam_params\":{\"learning_rate\":0.0001}}",
             jstr(j, "model_id"));
    cJSON_Delete(j);
    j = call(c, "POST", API "/optim_step", body);
    snprintf(rid, rl, "%s", jstr(j, "request_id") ? jstr(j, "request_id") : "");
    cJSON_Delete(j);
    j = await(c, rid);
    bool ok = jstr(j, "type") && strcmp(jstr(j, "type"), "optim_step") == 0;
    cJSON_Delete(j);
    return ok ? 0 : -1;
}

/* ---- the minimal epoll responder ------------------------------------------------------------------------- */

typedef struct responder {
    int lfd, port, stop_fd, stop_w;
    bool started;
    const char *resp;
    size_t resp_len;
    pthread_t thr;
} responder;

typedef struct rconn {
    int fd;
    size_t have;
    char buf[8192];
} rconn;

/* Complete requests at the front of c->buf: answered and consumed. -1 when the connection is done. */
static int serve(const responder *r, rconn *c)
{
    for (;;) {
        char *end = memmem(c->buf, c->have, "\r\n\r\n", 4);
        if (!end)
            return c->have == sizeof c->buf ? -1 : 0;
        size_t hl = (size_t)(end + 4 - c->buf), cl = 0;
        char *h = memmem(c->buf, hl, "\r\nContent-Length:", 17);
        if (h)
            cl = strtoul(h + 17, NULL, 10);
        if (c->have < hl + cl)
            return 0;
        if (send(c->fd, r->resp, r->resp_len, MSG_NOSIGNAL) != (ssize_t)r->resp_len)
            return -1;
        memmove(c->buf, c->buf + hl + cl, c->have - hl - cl);
        c->have -= hl + cl;
    }
}

static void *responder_main(void *p)
{
    responder *r = p;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, r->lfd, &ev);
    ev.data.ptr = &r->stop_fd;
    epoll_ctl(ep, EPOLL_CTL_ADD, r->stop_fd, &ev);
    struct epoll_event evs[64];
    for (bool run = true; run;) {
        int n = epoll_wait(ep, evs, 64, -1);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == &r->stop_fd) {
                run = false;
            } else if (!evs[i].data.ptr) {
                int fd;
                while ((fd = accept4(r->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    rconn *c = calloc(1, sizeof *c);
                    int one = 1;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    c->fd = fd;
                    struct epoll_event ce = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ce);
                }
            } else {
                rconn *c = evs[i].data.ptr;
                ssize_t got = recv(c->fd, c->buf + c->have, sizeof c->buf - c->have, 0);
                if ((got <= 0 && !(got < 0 && errno == EAGAIN)) || (got > 0 && (c->have += (size_t)got, serve(r, c) != 0))) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                    close(c->fd);
                    free(c); /* (connections still open at stop are left to process exit) */
                }
            }
        }
    }
    close(ep);
    return NULL;
}

static int responder_start(responder *r)
{
    r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    socklen_t sl = sizeof sa;
    int fds[2];
    if (r->lfd < 0 || bind(r->lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(r->lfd, 1024) != 0 ||
        getsockname(r->lfd, (struct sockaddr *)&sa, &sl) != 0 || pipe(fds) != 0)
        return -1;
    r->port = ntohs(sa.sin_port);
    r->stop_fd = fds[0];
    r->stop_w = fds[1];
    r->resp_len = strlen(r->resp);
    if (pthread_create(&r->thr, NULL, responder_main, r) != 0)
        return -1;
    r->started = true;
    return 0;
}

static void responder_stop(responder *r)
{
    if (!r->started)
        return;
    close(r->stop_w); /* EOF on the pipe wakes the loop */
    pthread_join(r->thr, NULL);
    close(r->stop_fd);
    close(r->lfd);
}

/* ---- the load generator --------------------------------------------------------------------------------- */

typedef struct lconn {
    int fd;
    double sent;
    size_t have;
    char buf[16384];
} lconn;

typedef struct load {
    double *lat;   /* seconds per answered request (appended) */
    size_t nlat;
    long ok, bad;
} load;

/* One complete response at the front of c->buf? Returns its length (0: not yet, -1: malformed). */
static long response_len(const lconn *c, bool *ok)
{
    char *end = memmem(c->buf, c->have, "\r\n\r\n", 4);
    if (!end)
        return c->have == sizeof c->buf ? -1 : 0;
    size_t hl = (size_t)(end + 4 - c->buf);
    char *h = memmem(c->buf, hl, "\r\nContent-Length:", 17);
    if (!h)
        h = memmem(c->buf, hl, "\r\ncontent-length:", 17);
    if (!h)
        return -1;
    size_t cl = strtoul(h + 17, NULL, 10);
    if (c->have < hl + cl)
        return 0;
    *ok = c->have >= 12 && memcmp(c->buf, "HTTP/1.1 200", 12) == 0;
    return (long)(hl + cl);
}

/* conns connections to port, one request in flight each, for secs; adds to *l. 0 or -1. */
static int run_load(int port, int conns, double secs, const char *req, load *l)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    lconn *cs = calloc((size_t)conns, sizeof *cs);
    size_t rl = strlen(req);
    int rc = -1;
    if (ep < 0 || !cs)
        goto out;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    for (int i = 0; i < conns; i++) {
        cs[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        if (cs[i].fd < 0 || connect(cs[i].fd, (struct sockaddr *)&sa, sizeof sa) != 0)
            goto out;
        setsockopt(cs[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
    }
    double t0 = bench_now(), end = t0 + secs;
    for (int i = 0; i < conns; i++) {
        cs[i].sent = bench_now();
        if (send(cs[i].fd, req, rl, MSG_NOSIGNAL) != (ssize_t)rl)
            goto out;
    }
    struct epoll_event evs[256];
    while (bench_now() < end) {
        int n = epoll_wait(ep, evs, 256, 100);
        for (int i = 0; i < n; i++) {
            lconn *c = evs[i].data.ptr;
            ssize_t got = recv(c->fd, c->buf + c->have, sizeof c->buf - c->have, MSG_DONTWAIT);
            if (got <= 0) {
                if (got < 0 && errno == EAGAIN)
                    continue;
                fprintf(stderr, "bench/server: the server closed a load connection\n");
                goto out;
            }
            c->have += (size_t)got;
            bool ok = false;
            long len;
            while ((len = response_len(c, &ok)) > 0) {
                double now = bench_now();
                if (ok) {
                    l->ok++;
                    if (l->nlat < MAX_LAT)
                        l->lat[l->nlat++] = now - c->sent;
                } else {
                    l->bad++;
                }
                memmove(c->buf, c->buf + len, c->have - (size_t)len);
                c->have -= (size_t)len;
                c->sent = now;
                if (send(c->fd, req, rl, MSG_NOSIGNAL) != (ssize_t)rl)
                    goto out;
            }
            if (len < 0)
                goto out;
        }
    }
    rc = 0;
out:
    for (int i = 0; cs && i < conns; i++)
        if (cs[i].fd > 0)
            close(cs[i].fd);
    free(cs);
    if (ep >= 0)
        close(ep);
    return rc;
}

/* CPU seconds (user + system, all threads) the process pid has used so far; -1 when unknown. */
static double proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* (the command name may hold spaces) */
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* CPU seconds the thread has used so far; -1 when unknown. */
static double thread_cpu_s(pthread_t t)
{
    clockid_t id;
    struct timespec ts;
    if (pthread_getcpuclockid(t, &id) != 0 || clock_gettime(id, &ts) != 0)
        return -1;
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int bench_rps(FILE *out)
{
    static const int conns[] = {1, 16, 256};
    fwt_local_server *srv = NULL;
    fwt_local_server_opts o;
    fwt_local_server_opts_init(&o);
    /* no per-client cap: 256 bench connections plus the setup's from one address */
    const char *args[] = {"--long-poll-ms", "2000", "--max-client-connections", "0", NULL, NULL, NULL};
    const char *threads = getenv("FWL_BENCH_HTTP_THREADS"); /* (default: the server's own --http-threads) */
    if (threads && *threads) {
        args[4] = "--http-threads";
        args[5] = threads;
    }
    o.extra_args = args;
    client c;
    memset(&c, 0, sizeof c);
    char rid[128], key[600], req[2048];
    responder r = {0};
    load fl = {0}, el = {0};
    int rc = -1;
    fl.lat = malloc(MAX_LAT * sizeof(double));
    el.lat = malloc(MAX_LAT * sizeof(double));
    if (!fl.lat || !el.lat || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        goto out;
    if (fwt_local_server_start(&srv, &o) != 0) {
        fprintf(stderr, "bench/server: could not start fwtrain-local\n");
        goto out;
    }
    c.h = curl_easy_init();
    snprintf(c.base, sizeof c.base, "%s", fwt_local_server_url(srv));
    snprintf(key, sizeof key, "X-Api-Key: %s", fwt_local_server_api_key(srv));
    c.hdrs = curl_slist_append(c.hdrs, "Content-Type: application/json");
    c.hdrs = curl_slist_append(c.hdrs, key);
    curl_easy_setopt(c.h, CURLOPT_HTTPHEADER, c.hdrs);
    curl_easy_setopt(c.h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c.h, CURLOPT_WRITEDATA, &c.body);
    curl_easy_setopt(c.h, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c.h, CURLOPT_NOSIGNAL, 1L);
    if (setup_job(&c, rid, sizeof rid) != 0) {
        fprintf(stderr, "bench/server: retrieve_future setup failed (last body: %.200s)\n", c.body.p ? c.body.p : "");
        goto out;
    }
    char body[256];
    int bl = snprintf(body, sizeof body, "{\"request_id\":\"%s\",\"allow_metadata_only\":false}", rid);
    cJSON *j = call(&c, "POST", API "/retrieve_future", body);
    bool good = jstr(j, "type") && strcmp(jstr(j, "type"), "optim_step") == 0;
    cJSON_Delete(j);
    if (!good)
        goto out;
    /* the responder answers with fwtrain-local's own body, headers as minimal as HTTP/1.1 allows */
    char *canned = malloc(c.body.len + 256);
    if (!canned)
        goto out;
    snprintf(canned, c.body.len + 256, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             c.body.len, c.body.p);
    r.resp = canned;
    curl_easy_cleanup(c.h); /* its connection would count against the server's bounds */
    c.h = NULL;
    if (responder_start(&r) != 0)
        goto out;
    snprintf(req, sizeof req,
             "POST " API "/retrieve_future HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\nContent-Type: application/json\r\n"
             "Content-Length: %d\r\n\r\n%s",
             key, bl, body);
    /* FWL_BENCH_RPS_ROUNDS=N: more slices per point (steadier on a loaded machine); FWL_BENCH_RPS_CONNS=C:
     * that connection count only (profiling one point) */
    int rounds = getenv("FWL_BENCH_RPS_ROUNDS") ? atoi(getenv("FWL_BENCH_RPS_ROUNDS")) : ROUNDS;
    int only = getenv("FWL_BENCH_RPS_CONNS") ? atoi(getenv("FWL_BENCH_RPS_CONNS")) : 0;
    if (rounds < 1)
        rounds = ROUNDS;
    fprintf(out, ",\"rps\":{\"slices\":%d,\"slice_s\":%.1f,\"points\":[", rounds, SLICE_S);
    bool first = true;
    for (size_t k = 0; k < sizeof conns / sizeof conns[0]; k++) {
        if (only > 0 && conns[k] != only)
            continue;
        load a = {.lat = fl.lat}, b = {.lat = el.lat};
        double fcpu = 0, ecpu = 0; /* CPU seconds each server used during its slices */
        for (int round = 0; round < rounds; round++) {
            double c0 = proc_cpu_s(fwt_local_server_pid(srv));
            if (run_load(fwt_local_server_port(srv), conns[k], SLICE_S, req, &a) != 0)
                goto out;
            double c1 = proc_cpu_s(fwt_local_server_pid(srv)), c2 = thread_cpu_s(r.thr);
            if (run_load(r.port, conns[k], SLICE_S, req, &b) != 0)
                goto out;
            fcpu += c1 - c0;
            ecpu += thread_cpu_s(r.thr) - c2;
        }
        qsort(a.lat, a.nlat, sizeof(double), cmp_d);
        qsort(b.lat, b.nlat, sizeof(double), cmp_d);
        double fr = (double)a.ok / (rounds * SLICE_S), er = (double)b.ok / (rounds * SLICE_S);
        fprintf(out,
                "%s{\"connections\":%d,\"fwtrain_local_rps\":%.0f,\"epoll_rps\":%.0f,\"ratio\":%.2f,"
                "\"fwtrain_local_p50_ms\":%.2f,\"fwtrain_local_p99_ms\":%.2f,\"epoll_p99_ms\":%.2f,"
                "\"fwtrain_local_cpu_us_per_req\":%.1f,\"epoll_cpu_us_per_req\":%.1f,\"errors\":%ld}",
                first ? "" : ",", conns[k], fr, er, fr / er, a.nlat ? 1e3 * a.lat[a.nlat / 2] : -1.0,
                a.nlat ? 1e3 * a.lat[(size_t)(0.99 * (double)(a.nlat - 1))] : -1.0,
                b.nlat ? 1e3 * b.lat[(size_t)(0.99 * (double)(b.nlat - 1))] : -1.0,
                a.ok ? 1e6 * fcpu / (double)a.ok : -1.0, b.ok ? 1e6 * ecpu / (double)b.ok : -1.0, a.bad + b.bad);
        first = false;
    }
    fprintf(out, "]}");
    rc = 0;
out:
    if (rc != 0)
        fprintf(stderr, "bench/server: retrieve_future throughput failed\n");
    responder_stop(&r);
    free((char *)r.resp);
    free(fl.lat);
    free(el.lat);
    free(c.body.p);
    curl_slist_free_all(c.hdrs);
    if (c.h)
        curl_easy_cleanup(c.h);
    fwt_local_server_free(srv);
    curl_global_cleanup();
    return rc;
}
