/*
 * Admission control (src/http/engine.c): at most max_transfers attempts in the multi
 * handle, max_per_host per origin, the rest queued in FIFO order with no socket.
 * Deterministic: the bound is made visible by a server that stalls the first
 * request, and by counting connections and arrival order at the server; no
 * assertion depends on how fast anything runs (the waits are only hang guards).
 */
#include <limits.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine_test_util.h"
#include "fwtrain/client.h"
#include "responder.h"

#define HANG_GUARD_MS 30000

/* Completions counted by status; the engine calls back on its worker. */
typedef struct tally {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, ok, cancelled, timedout, other;
    int order[64]; /* ud tags of the first completions, in completion order */
} tally;

typedef struct tagged {
    tally *t;
    int tag;
} tagged;

static void tally_init(tally *t)
{
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
}

static void tally_destroy(tally *t)
{
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
}

static void tally_cb(fwt__http_result *res, void *ud)
{
    tagged *g = ud;
    tally *t = g->t;
    pthread_mutex_lock(&t->mu);
    if (t->done < 64)
        t->order[t->done] = g->tag;
    t->done++;
    if (res->status == FWT_OK && res->http_status == 200)
        t->ok++;
    else if (res->status == FWT_ECANCELED)
        t->cancelled++;
    else if (res->status == FWT_ETIMEDOUT)
        t->timedout++;
    else
        t->other++;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    fwt__http_result_free(res);
}

static int tally_wait(tally *t, int n)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += HANG_GUARD_MS / 1000;
    pthread_mutex_lock(&t->mu);
    while (t->done < n && pthread_cond_timedwait(&t->cv, &t->mu, &dl) == 0) {
    }
    int d = t->done;
    pthread_mutex_unlock(&t->mu);
    return d;
}

static fwt__engine *engine_with(int max_transfers, int max_per_host)
{
    fwt__engine_config cfg = {.max_transfers = max_transfers, .max_per_host = max_per_host};
    fwt__engine *e = NULL;
    assert_int_equal(fwt__engine_new(&e, &cfg), FWT_OK);
    return e;
}

/* "/stall" never answers (until the client goes away); everything else answers 200 at once. */
static void stall_handler(const fwt_resp_request *req, fwt_resp_action *out, void *ud)
{
    (void)ud;
    out->body = "{}";
    if (strncmp(req->path, "/stall", 6) == 0)
        out->delay_headers_ms = -1;
}

static uint64_t submit_path(fwt__engine *e, fwt_responder *r, const char *path, int64_t deadline_ms, tagged *g)
{
    char *url = fwt_responder_url(r, path);
    fwt__http_spec s = {.method = "GET", .url = url, .deadline_ms = deadline_ms};
    uint64_t id = 0;
    assert_int_equal(fwt__engine_submit(e, &s, tally_cb, g, &id), FWT_OK);
    free(url);
    return id;
}

/* What every test here starts with: a responder, an engine with the bounds under test, a tally. */
typedef struct adm {
    fwt_responder *r;
    fwt__engine *e; /* a test that frees it early sets it NULL */
    tally t;
} adm;

static void adm_open(adm *a, fwt_resp_handler h, int max_transfers, int max_per_host)
{
    assert_int_equal(fwt_responder_start(&a->r, h, NULL), 0);
    a->e = engine_with(max_transfers, max_per_host);
    tally_init(&a->t);
}

static void adm_close(adm *a)
{
    fwt__engine_free(a->e);
    fwt_responder_stop(a->r);
    tally_destroy(&a->t);
}

/* Send n requests (tagged g[0..n-1]) that stall at the server and wait until all n arrived: they hold n slots.
 * Returns the first one's id. */
static uint64_t occupy(adm *a, int n, tagged *g)
{
    uint64_t first = 0;
    for (int i = 0; i < n; i++) {
        uint64_t id = submit_path(a->e, a->r, "/stall", 0, &g[i]);
        first = i ? first : id;
    }
    assert_int_equal(fwt_responder_wait_requests(a->r, (size_t)n, HANG_GUARD_MS), n);
    return first;
}

/* One slot: requests reach the server one at a time, in submission order. */
static void test_queue_order(void **state)
{
    (void)state;
    adm a;
    adm_open(&a, stall_handler, 1, 0);
    enum { N = 20 };
    tagged g[N];
    for (int i = 0; i < N; i++) {
        char path[32];
        snprintf(path, sizeof path, "/q/%d", i);
        g[i] = (tagged){&a.t, i};
        submit_path(a.e, a.r, path, 0, &g[i]);
    }
    assert_int_equal(tally_wait(&a.t, N), N);
    assert_int_equal(a.t.ok, N);
    for (int i = 0; i < N; i++) {
        fwt_resp_request *q = fwt_responder_request_copy(a.r, (size_t)i);
        assert_non_null(q);
        char want[32];
        snprintf(want, sizeof want, "/q/%d", i);
        assert_string_equal(q->path, want);
        fwt_resp_request_free(q);
        assert_int_equal(a.t.order[i], i);
    }
    /* One slot needs one connection, reused by every request. */
    assert_int_equal(fwt_responder_connection_count(a.r), 1);
    adm_close(&a);
}

/* The slot is held by a stalled request: a queued one is cancelled without ever being sent. */
static void test_cancel_queued(void **state)
{
    (void)state;
    adm a;
    adm_open(&a, stall_handler, 1, 0);
    tagged g0 = {&a.t, 0}, g1 = {&a.t, 1}, g2 = {&a.t, 2};
    uint64_t stalled = occupy(&a, 1, &g0);
    uint64_t queued = submit_path(a.e, a.r, "/q/1", 0, &g1);
    submit_path(a.e, a.r, "/q/2", 0, &g2);
    assert_int_equal(fwt__engine_cancel(a.e, queued), 1);
    assert_int_equal(tally_wait(&a.t, 1), 1);
    assert_int_equal(a.t.order[0], 1);
    assert_int_equal(a.t.cancelled, 1);
    assert_int_equal(fwt__engine_cancel(a.e, queued), 0); /* already finished */
    /* Freeing the slot lets the next queued one through; the cancelled one never reached the server. */
    assert_int_equal(fwt__engine_cancel(a.e, stalled), 1);
    assert_int_equal(tally_wait(&a.t, 3), 3);
    assert_int_equal(a.t.ok, 1);
    assert_int_equal(a.t.cancelled, 2);
    size_t n = fwt_responder_request_count(a.r);
    assert_int_equal(n, 2);
    fwt_resp_request *q = fwt_responder_request_copy(a.r, 1);
    assert_string_equal(q->path, "/q/2");
    fwt_resp_request_free(q);
    adm_close(&a);
}

/* A queued request's deadline ends it while it waits, with FWT_ETIMEDOUT and no request sent. */
static void test_deadline_queued(void **state)
{
    (void)state;
    adm a;
    adm_open(&a, stall_handler, 1, 0);
    tagged g0 = {&a.t, 0}, g1 = {&a.t, 1};
    occupy(&a, 1, &g0);
    submit_path(a.e, a.r, "/q/1", 20, &g1);
    assert_int_equal(tally_wait(&a.t, 1), 1);
    assert_int_equal(a.t.order[0], 1);
    assert_int_equal(a.t.timedout, 1);
    assert_int_equal(fwt_responder_request_count(a.r), 1);
    fwt__engine_free(a.e); /* cancels the stalled one */
    a.e = NULL;
    assert_int_equal(a.t.done, 2);
    assert_int_equal(a.t.cancelled, 1);
    adm_close(&a);
}

/* Freeing the engine with many queued requests completes each once with FWT_ECANCELED. */
static void test_free_with_queued(void **state)
{
    (void)state;
    adm a;
    adm_open(&a, stall_handler, 2, 0);
    enum { N = 2000 };
    tagged *g = calloc(N, sizeof *g);
    assert_non_null(g);
    for (int i = 0; i < N; i++)
        g[i] = (tagged){&a.t, i};
    occupy(&a, 2, g);
    for (int i = 2; i < N; i++)
        submit_path(a.e, a.r, i % 2 ? "/q/a" : "/q/b", i % 3 ? 0 : 600000, &g[i]);
    fwt__engine_free(a.e);
    a.e = NULL;
    assert_int_equal(a.t.done, N);
    assert_int_equal(a.t.cancelled, N);
    assert_int_equal(fwt_responder_request_count(a.r), 2);
    adm_close(&a);
    free(g);
}

/* Many requests, a bound of 4: the server never sees more than 4 connections. */
static void test_socket_bound(void **state)
{
    (void)state;
    adm a;
    adm_open(&a, NULL, 4, 0);
    fwt_resp_action answer = {.status = 200, .body = "{}", .delay_headers_ms = 2};
    fwt_responder_set_default(a.r, &answer);
    enum { N = 300 };
    tagged g = {&a.t, 0};
    for (int i = 0; i < N; i++)
        submit_path(a.e, a.r, "/x", 0, &g);
    assert_int_equal(tally_wait(&a.t, N), N);
    assert_int_equal(a.t.ok, N);
    assert_true(fwt_responder_connection_count(a.r) <= 4);
    adm_close(&a);
}

/* Per origin: one origin stalled at its bound does not hold back another origin. */
static void test_per_host_bound(void **state)
{
    (void)state;
    adm a; /* a.r is origin A */
    adm_open(&a, stall_handler, 4, 2);
    fwt_responder *rb;
    assert_int_equal(fwt_responder_start(&rb, stall_handler, NULL), 0);
    tagged ga = {&a.t, 100}, gb = {&a.t, 200};
    for (int i = 0; i < 5; i++)
        submit_path(a.e, a.r, "/stall", 0, &ga);
    /* Two of origin A are in flight, three wait; origin B still has its own slots. */
    assert_int_equal(fwt_responder_wait_requests(a.r, 2, HANG_GUARD_MS), 2);
    for (int i = 0; i < 6; i++)
        submit_path(a.e, rb, "/b", 0, &gb);
    assert_int_equal(tally_wait(&a.t, 6), 6);
    assert_int_equal(a.t.ok, 6);
    assert_int_equal(fwt_responder_request_count(a.r), 2);
    assert_true(fwt_responder_connection_count(rb) <= 2);
    fwt__engine_free(a.e);
    a.e = NULL;
    assert_int_equal(a.t.done, 11);
    assert_int_equal(a.t.cancelled, 5);
    adm_close(&a);
    fwt_responder_stop(rb);
}

/* The largest single allocation made through the library's allocator. */
static atomic_size_t largest_alloc;
static void note_size(size_t n)
{
    size_t seen = atomic_load(&largest_alloc);
    while (n > seen && !atomic_compare_exchange_weak(&largest_alloc, &seen, n)) {
    }
}
static void *track_malloc(size_t n, void *ctx)
{
    (void)ctx;
    note_size(n);
    return malloc(n);
}
static void *track_realloc(void *p, size_t n, void *ctx)
{
    (void)ctx;
    note_size(n);
    return realloc(p, n);
}
static void track_free(void *p, void *ctx)
{
    (void)ctx;
    free(p);
}

/* A bound far above what is ever reached costs nothing up front: the idle-handle pool grows with the
 * concurrency reached (it was an array of max_transfers pointers, 8 GiB at this bound). */
static void test_huge_bound_allocates_as_used(void **state)
{
    (void)state;
    fwt_allocator al = {FWT_ALLOCATOR_VERSION, track_malloc, track_realloc, track_free, NULL};
    assert_int_equal(fwt_set_allocator(&al), FWT_OK);
    atomic_store(&largest_alloc, 0);
    adm a;
    adm_open(&a, NULL, INT_MAX / 2, 0);
    fwt_resp_action answer = {.status = 200, .body = "{}"};
    fwt_responder_set_default(a.r, &answer);
    enum { N = 40 };
    tagged g = {&a.t, 0};
    for (int i = 0; i < N; i++)
        submit_path(a.e, a.r, "/x", 0, &g);
    assert_int_equal(tally_wait(&a.t, N), N);
    assert_int_equal(a.t.ok, N);
    adm_close(&a);
    assert_int_equal(fwt_set_allocator(NULL), FWT_OK);
    if (atomic_load(&largest_alloc) > (1u << 20))
        fail_msg("an allocation of %zu bytes for %d requests", atomic_load(&largest_alloc), (int)N);
}

/* Bad bounds are refused. */
static void test_config_checked(void **state)
{
    (void)state;
    fwt__engine *e = NULL;
    assert_int_equal(fwt__engine_new(&e, &(fwt__engine_config){.max_transfers = -1}), FWT_EINVAL);
    assert_int_equal(fwt__engine_new(&e, &(fwt__engine_config){.max_per_host = -1}), FWT_EINVAL);
    assert_null(e);
}

/* The client options that set the bounds: documented defaults written by _init, bad values refused. */
static void test_client_options(void **state)
{
    (void)state;
    fwt_client_options o;
    assert_int_equal(fwt_client_options_init(&o, FWT_CLIENT_OPTIONS_VERSION), FWT_OK);
    assert_int_equal(o.max_concurrent_requests, 64);
    assert_int_equal(o.max_requests_per_host, 48);
    o.api_key = "k";
    o.base_url = "http://127.0.0.1:9";
    o.account_id = "acme";
    fwt_client *c = NULL;
    o.max_concurrent_requests = -1;
    assert_int_equal(fwt_client_new(&c, &o), FWT_EINVAL);
    assert_null(c);
    o.max_concurrent_requests = 8;
    o.max_requests_per_host = -2;
    assert_int_equal(fwt_client_new(&c, &o), FWT_EINVAL);
    o.max_requests_per_host = 0;
    assert_int_equal(fwt_client_new(&c, &o), FWT_OK);
    fwt_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_order),     cmocka_unit_test(test_cancel_queued),
        cmocka_unit_test(test_deadline_queued), cmocka_unit_test(test_free_with_queued),
        cmocka_unit_test(test_socket_bound),    cmocka_unit_test(test_per_host_bound),
        cmocka_unit_test(test_config_checked),  cmocka_unit_test(test_client_options),
        cmocka_unit_test(test_huge_bound_allocates_as_used),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
