/*
 * fwt__engine_run: requests performed on the caller's thread (src/http/direct.c).
 * Round trips and connection reuse, handle reuse across methods, safety and
 * validation, header/body/overall deadlines, the size cap, shutdown while runs
 * wait on the network or in backoff, the worker-thread refusal, many threads at
 * once next to worker traffic, the idle-lane cap and logging. The retry matrix
 * runs through fwt__engine_run in engine_retry_direct (test_retry.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <unistd.h>

#include "engine_test_util.h"
#include "responder.h"

typedef engine_fx fx;

static int setup(void **state)
{
    fwt__engine_config cfg = {.user_agent = "fwt-test/1", .max_idle_lanes = 2};
    return engine_fx_start(state, &cfg);
}

static int teardown(void **state)
{
    return engine_fx_stop(state);
}

/* Run and require a result. */
static fwt__http_result *run(fx *f, const fwt__http_spec *s)
{
    fwt__http_result *res = NULL;
    assert_int_equal(fwt__engine_run(f->e, s, &res), FWT_OK);
    assert_non_null(res);
    return res;
}

static void test_roundtrip_and_reuse(void **state)
{
    fx *f = *state;
    fwt_resp_action a = {.status = 200, .content_type = "application/json", .body = "{\"ok\":1}",
                         .extra_headers = "x-request-id: rid-7\r\n"};
    fwt_responder_set_default(f->r, &a);
    const char *hdrs[] = {"X-Api-Key: k", "Accept: application/json", NULL};
    fwt__http_spec s = {.method = "GET", .url = f->url, .headers = hdrs};
    for (int i = 0; i < 20; i++) {
        fwt__http_result *res = run(f, &s);
        assert_int_equal(res->status, FWT_OK);
        assert_int_equal(res->http_status, 200);
        assert_string_equal(res->body, "{\"ok\":1}");
        assert_int_equal(res->body_len, 8);
        assert_string_equal(res->content_type, "application/json");
        assert_string_equal(res->request_id, "rid-7");
        assert_int_equal(res->attempts, 1);
        fwt__http_result_free(res);
    }
    /* one lane, one connection, kept between calls */
    assert_int_equal(fwt_responder_connection_count(f->r), 1);
    fwt_resp_request *q = fwt_responder_request_copy(f->r, 19);
    assert_non_null(q);
    assert_string_equal(q->method, "GET");
    assert_string_equal(q->path, "/v1/thing?x=1");
    assert_string_equal(fwt_resp_request_header(q, "X-Api-Key"), "k");
    assert_string_equal(fwt_resp_request_header(q, "User-Agent"), "fwt-test/1");
    assert_null(fwt_resp_request_header(q, "Expect"));
    fwt_resp_request_free(q);
}

/*
 * Easy handles are configured per attempt, not reset: a request must carry
 * nothing of the one before it on the same handle (method, body, headers, key).
 * Checked on a lane and on the worker's pooled handle alike.
 */
static void check_method_sequence(fx *f, int direct)
{
    fwt_resp_action a = {.status = 200, .body = "ok"};
    fwt_responder_set_default(f->r, &a);
    const char *h1[] = {"X-One: 1", NULL};
    const char *h2[] = {"X-Two: 2", NULL};
    const struct {
        const char *method, *body, *key;
        const char *const *headers;
    } seq[] = {
        {"POST", "{\"a\":1}", "key-1", h1}, {"GET", NULL, NULL, h2},   {"DELETE", NULL, "key-3", NULL},
        {"PATCH", "{\"p\":2}", NULL, h1},   {"POST", "", NULL, NULL}, {"GET", NULL, NULL, h1},
        {"PUT", "{\"u\":3}", NULL, NULL},   {"GET", NULL, NULL, NULL},
    };
    size_t base = fwt_responder_request_count(f->r);
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
        fwt__http_spec s = {.method = seq[i].method, .url = f->url, .headers = seq[i].headers,
                            .body = seq[i].body, .body_len = seq[i].body ? strlen(seq[i].body) : 0,
                            .idempotency_key = seq[i].key};
        fwt__http_result *res;
        if (direct) {
            res = run(f, &s);
        } else {
            waiter w;
            waiter_init(&w);
            uint64_t id = 0;
            assert_int_equal(fwt__engine_submit(f->e, &s, waiter_cb, &w, &id), FWT_OK);
            res = waiter_wait_safe(&w, f->e, id, 10000);
            assert_non_null(res);
            w.res = NULL;
            waiter_destroy(&w);
        }
        assert_int_equal(res->http_status, 200);
        fwt__http_result_free(res);
        fwt_resp_request *q = fwt_responder_request_copy(f->r, base + i);
        assert_non_null(q);
        assert_string_equal(q->method, seq[i].method);
        assert_string_equal(q->body, seq[i].body ? seq[i].body : "");
        const char *key = fwt_resp_request_header(q, "X-Idempotency-Key");
        if (seq[i].key)
            assert_string_equal(key, seq[i].key);
        else
            assert_null(key);
        assert_int_equal(fwt_resp_request_header(q, "X-One") != NULL, seq[i].headers == h1);
        assert_int_equal(fwt_resp_request_header(q, "X-Two") != NULL, seq[i].headers == h2);
        fwt_resp_request_free(q);
    }
}

static void test_handle_reuse_across_methods(void **state)
{
    fx *f = *state;
    check_method_sequence(f, 1);
    check_method_sequence(f, 0);
    assert_true(fwt_responder_connection_count(f->r) <= 2);
}

static void test_bad_specs_and_args(void **state)
{
    fx *f = *state;
    const char *crlf[] = {"X-A: b\r\nX-Injected: 1", NULL};
    fwt__http_spec bad[] = {
        {.method = "TRACE", .url = f->url},
        {.method = "GET", .url = NULL},
        {.method = "GET", .url = "http://example.com/x"}, /* plain http off loopback */
        {.method = "GET", .url = "ftp://127.0.0.1/x"},
        {.method = "GET", .url = "http:///example.com/x"}, /* three slashes: curl reads the host after them */
        {.method = "GET", .url = f->url, .headers = crlf},
        {.method = "DELETE", .url = f->url, .idempotency_key = "a\nb"},
        {.method = "GET", .url = f->url, .header_timeout_ms = -5},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fwt__http_result *res = (fwt__http_result *)1;
        if (fwt__engine_run(f->e, &bad[i], &res) != FWT_EINVAL)
            fail_msg("bad spec %zu was not refused", i);
        assert_null(res);
    }
    /* A URL on the same origin as an accepted one is still checked whole. */
    char *dots = fwt_responder_url(f->r, "/v1/../admin");
    fwt__http_spec ok = {.method = "GET", .url = f->url};
    fwt__http_result *res = run(f, &ok);
    fwt__http_result_free(res);
    fwt__http_spec dd = {.method = "DELETE", .url = dots};
    assert_int_equal(fwt__engine_run(f->e, &dd, &res), FWT_EINVAL);
    free(dots);
    assert_int_equal(fwt__engine_run(NULL, &ok, &res), FWT_EINVAL);
    assert_int_equal(fwt__engine_run(f->e, NULL, &res), FWT_EINVAL);
    assert_int_equal(fwt__engine_run(f->e, &ok, NULL), FWT_EINVAL);
    assert_int_equal(fwt_responder_request_count(f->r), 1);
}

static void test_header_body_and_overall_deadlines(void **state)
{
    fx *f = *state;
    fwt_resp_action stall_h = {.status = 200, .delay_headers_ms = -1};
    fwt_responder_push(f->r, &stall_h);
    fwt__http_spec s = {.method = "GET", .url = f->url, .header_timeout_ms = 200};
    uint64_t t0 = real_ms();
    fwt__http_result *res = run(f, &s);
    uint64_t el = real_ms() - t0;
    assert_int_equal(res->status, FWT_ECONNECT);
    assert_non_null(strstr(res->message, "no response headers"));
    assert_int_equal(res->attempts, 1);
    assert_true(el >= 190 && el < slack_ms(3000));
    fwt__http_result_free(res);

    /*
     * A stalled body, then a retry that succeeds: the timeout is connection-class. The header
     * timeout is shorter than the body one and must not fire once headers are in. Headers slower
     * than the header timeout (a loaded machine) end the first attempt early, which proves
     * nothing: then start over with both timeouts doubled; a header timer that fires after the
     * headers ends the first attempt early at every scale and fails.
     */
    for (int64_t header_ms = 150;; header_ms *= 2) {
        int64_t body_ms = header_ms + 150;
        size_t n0 = fwt_responder_request_count(f->r);
        fwt_resp_action stall_b = {.status = 200, .body = "never", .delay_body_ms = -1};
        fwt_responder_push(f->r, &stall_b);
        fwt_resp_action good = {.status = 200, .body = "fine"};
        fwt_responder_push(f->r, &good);
        fwt__http_spec sb = {.method = "GET", .url = f->url, .header_timeout_ms = header_ms, .body_timeout_ms = body_ms,
                             .retry = {.on = FWT__RETRY_CONN, .base_ms = 1, .cap_ms = 1, .budget_ms = 10000}};
        t0 = real_ms();
        res = run(f, &sb);
        el = real_ms() - t0;
        if ((el < (uint64_t)body_ms - 10 || res->attempts != 2) && header_ms < 2400) {
            /* drain what is left of this round's script before the next one */
            fwt__http_result_free(res);
            size_t used = fwt_responder_request_count(f->r) - n0;
            fwt__http_spec drain = {.method = "GET", .url = f->url};
            for (; used < 2; used++) {
                assert_int_equal(fwt__engine_run(f->e, &drain, &res), FWT_OK);
                fwt__http_result_free(res);
            }
            continue;
        }
        assert_int_equal(res->status, FWT_OK);
        assert_string_equal(res->body, "fine");
        assert_int_equal(res->attempts, 2);
        assert_true(el >= (uint64_t)body_ms - 10 && el < (uint64_t)body_ms + slack_ms(3000));
        fwt__http_result_free(res);
        break;
    }

    fwt_responder_set_default(f->r, &stall_h);
    fwt__http_spec so = {.method = "GET", .url = f->url, .deadline_ms = 300,
                         .retry = {.on = FWT__RETRY_CONN, .base_ms = 1, .cap_ms = 1}};
    t0 = real_ms();
    res = run(f, &so);
    el = real_ms() - t0;
    assert_int_equal(res->status, FWT_ETIMEDOUT);
    assert_true(el >= 290 && el < slack_ms(3000));
    fwt__http_result_free(res);
}

static void test_size_cap(void **state)
{
    fx *f = *state;
    static char big[20000];
    memset(big, 'b', sizeof big);
    fwt_resp_action a = {.status = 200, .body = big, .body_len = sizeof big, .chunked = 1};
    fwt_responder_push(f->r, &a);
    fwt__http_spec s = {.method = "GET", .url = f->url, .max_response_bytes = 1000,
                        .retry = {.on = FWT__RETRY_CONN | FWT__RETRY_5XX_ANY, .base_ms = 1, .budget_ms = 5000}};
    fwt__http_result *res = run(f, &s);
    assert_int_equal(res->status, FWT_ETOOLARGE);
    assert_int_equal(res->attempts, 1);
    fwt__http_result_free(res);
    /* the lane is usable afterwards */
    fwt_resp_action ok = {.status = 204};
    fwt_responder_push(f->r, &ok);
    fwt__http_spec g = {.method = "GET", .url = f->url};
    res = run(f, &g);
    assert_int_equal(res->http_status, 204);
    fwt__http_result_free(res);
}

/* ---- shutdown while runs are blocked ---- */

typedef struct runner {
    fwt__engine *e;
    fwt__http_spec spec;
    int rc;
    fwt__http_result *res;
    uint64_t returned_at;
    pthread_t th;
} runner;

static void *runner_main(void *arg)
{
    runner *r = arg;
    r->rc = fwt__engine_run(r->e, &r->spec, &r->res);
    r->returned_at = real_ms();
    return NULL;
}

static void test_free_wakes_blocked_runs(void **state)
{
    fx *f = *state;
    /* One run waits for headers that never come, one sits in a 30 s Retry-After backoff. */
    fwt_resp_action stall = {.status = 200, .delay_headers_ms = -1};
    fwt_resp_action later = {.status = 503, .extra_headers = "Retry-After: 30\r\n"};
    fwt_responder_push(f->r, &later);
    fwt_responder_set_default(f->r, &stall);
    runner rr[2];
    memset(rr, 0, sizeof rr);
    char *url2 = fwt_responder_url(f->r, "/v1/other");
    rr[0].spec = (fwt__http_spec){.method = "GET", .url = url2,
                                  .retry = {.on = FWT__RETRY_5XX_COMMON, .budget_ms = 120000}};
    rr[1].spec = (fwt__http_spec){.method = "GET", .url = f->url};
    for (int i = 0; i < 2; i++) {
        rr[i].e = f->e;
        assert_int_equal(pthread_create(&rr[i].th, NULL, runner_main, &rr[i]), 0);
        fwt_responder_wait_requests(f->r, (size_t)i + 1, 5000);
    }
    usleep(100000);
    uint64_t t0 = real_ms();
    fwt__engine_free(f->e);
    f->e = NULL;
    assert_true(real_ms() - t0 < slack_ms(3000));
    for (int i = 0; i < 2; i++) {
        pthread_join(rr[i].th, NULL);
        assert_int_equal(rr[i].rc, FWT_OK);
        assert_non_null(rr[i].res);
        assert_int_equal(rr[i].res->status, FWT_ECANCELED);
        assert_true(rr[i].returned_at - t0 < slack_ms(3000));
        fwt__http_result_free(rr[i].res);
    }
    free(url2);
}

/* ---- the worker thread must not block on a run ---- */

typedef struct on_worker_arg {
    fwt__engine *e;
    const char *url;
    waiter w;
    int rc;
} on_worker_arg;

static void run_on_worker(void *ud)
{
    on_worker_arg *a = ud;
    fwt__http_spec s = {.method = "GET", .url = a->url};
    fwt__http_result *res = NULL;
    a->rc = fwt__engine_run(a->e, &s, &res);
    fwt__http_result_free(res);
    waiter_cb(NULL, &a->w);
}

static void test_refused_on_worker(void **state)
{
    fx *f = *state;
    on_worker_arg a = {.e = f->e, .url = f->url, .rc = -1};
    waiter_init(&a.w);
    assert_int_equal(fwt__engine_post(f->e, 0, run_on_worker, &a, NULL), FWT_OK);
    waiter_wait_safe(&a.w, NULL, 0, 5000);
    assert_int_equal(waiter_calls(&a.w), 1);
    assert_int_equal(a.rc, FWT_ESTATE);
    waiter_destroy(&a.w);
    assert_int_equal(fwt_responder_request_count(f->r), 0);
}

/* ---- many threads at once, next to worker traffic ---- */

enum { THREADS = 6, PER_THREAD = 40 };

typedef struct hammer {
    fx *f;
    int id;
    int ok;
} hammer;

static void *hammer_main(void *arg)
{
    hammer *h = arg;
    char path[64];
    snprintf(path, sizeof path, "/t/%d", h->id);
    char *url = fwt_responder_url(h->f->r, path);
    for (int i = 0; i < PER_THREAD; i++) {
        char body[32];
        int n = snprintf(body, sizeof body, "{\"t\":%d,\"i\":%d}", h->id, i);
        fwt__http_spec s = {.method = "POST", .url = url, .body = body, .body_len = (size_t)n};
        fwt__http_result *res = NULL;
        if (fwt__engine_run(h->f->e, &s, &res) == FWT_OK && res->status == FWT_OK && res->http_status == 200)
            h->ok++;
        fwt__http_result_free(res);
    }
    free(url);
    return NULL;
}

static void test_threads_and_worker_together(void **state)
{
    fx *f = *state;
    fwt_resp_action a = {.status = 200, .body = "ok"};
    fwt_responder_set_default(f->r, &a);
    waiter w[20];
    for (int i = 0; i < 20; i++) {
        waiter_init(&w[i]);
        fwt__http_spec s = {.method = "GET", .url = f->url};
        assert_int_equal(fwt__engine_submit(f->e, &s, waiter_cb, &w[i], NULL), FWT_OK);
    }
    hammer h[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        h[i] = (hammer){f, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, hammer_main, &h[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(h[i].ok, PER_THREAD);
    }
    for (int i = 0; i < 20; i++) {
        fwt__http_result *res = waiter_wait_safe(&w[i], f->e, 0, 10000);
        assert_non_null(res);
        assert_int_equal(res->http_status, 200);
        waiter_destroy(&w[i]);
    }
    /* Every body arrived intact on its own path. */
    size_t n = fwt_responder_request_count(f->r);
    assert_int_equal(n, 20 + THREADS * PER_THREAD);
    int seen[THREADS] = {0};
    for (size_t i = 0; i < n; i++) {
        fwt_resp_request *q = fwt_responder_request_copy(f->r, i);
        int t = -1, k = -1;
        if (strcmp(q->method, "POST") == 0) {
            assert_int_equal(sscanf(q->body, "{\"t\":%d,\"i\":%d}", &t, &k), 2);
            char want[64];
            snprintf(want, sizeof want, "/t/%d", t);
            assert_string_equal(q->path, want);
            assert_int_equal(k, seen[t]++); /* one thread's calls arrive in its order */
        }
        fwt_resp_request_free(q);
    }
}

static void test_idle_lane_cap(void **state)
{
    fx *f = *state;
    fwt_resp_action a = {.status = 200, .body = "ok", .delay_headers_ms = (int)slack_ms(400)};
    fwt_responder_set_default(f->r, &a);
    /* Four overlapping runs need four lanes; only two are kept afterwards. */
    runner rr[4];
    memset(rr, 0, sizeof rr);
    for (int i = 0; i < 4; i++) {
        rr[i].e = f->e;
        rr[i].spec = (fwt__http_spec){.method = "GET", .url = f->url};
        assert_int_equal(pthread_create(&rr[i].th, NULL, runner_main, &rr[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(rr[i].th, NULL);
        assert_int_equal(rr[i].rc, FWT_OK);
        assert_int_equal(rr[i].res->http_status, 200);
        fwt__http_result_free(rr[i].res);
    }
    assert_int_equal(fwt_responder_connection_count(f->r), 4);
    uint64_t t0 = real_ms();
    while (fwt_responder_open_connections(f->r) > 2 && real_ms() - t0 < slack_ms(3000))
        usleep(20000);
    assert_int_equal(fwt_responder_open_connections(f->r), 2);
}

/* ---- logging ---- */

static void run_logged(fx *f, int skip_debug, log_cap *lc)
{
    memset(lc, 0, sizeof *lc);
    pthread_mutex_init(&lc->mu, NULL);
    fwt__engine *e;
    fwt__engine_config cfg = {.log = log_sink, .log_ctx = lc, .skip_debug_log = skip_debug};
    assert_int_equal(fwt__engine_new(&e, &cfg), FWT_OK);
    fwt_resp_action a = {.status = 503};
    fwt_responder_push(f->r, &a);
    fwt_resp_action b = {.status = 200, .body = "ok"};
    fwt_responder_push(f->r, &b);
    char *url = fwt_responder_url(f->r, "/log/path?token=QUERYSECRET");
    const char *hdrs[] = {"X-Api-Key: HEADERSECRET", NULL};
    fwt__http_spec s = {.method = "POST", .url = url, .headers = hdrs, .body = "BODYSECRET", .body_len = 10,
                        .retry = {.on = FWT__RETRY_5XX_COMMON, .base_ms = 1, .cap_ms = 1}};
    fwt__http_result *res = NULL;
    assert_int_equal(fwt__engine_run(e, &s, &res), FWT_OK);
    assert_int_equal(res->http_status, 200);
    assert_int_equal(res->attempts, 2);
    fwt__http_result_free(res);
    fwt__engine_free(e);
    free(url);
    pthread_mutex_destroy(&lc->mu);
}

static void test_logging(void **state)
{
    fx *f = *state;
    log_cap lc;
    run_logged(f, 0, &lc);
    assert_int_equal(lc.lines, 2);
    assert_non_null(strstr(lc.text, "POST"));
    assert_non_null(strstr(lc.text, "/log/path"));
    assert_non_null(strstr(lc.text, "-> 503"));
    assert_non_null(strstr(lc.text, "attempt 2"));
    assert_null(strstr(lc.text, "SECRET"));
    /* A sink that drops DEBUG is never handed those lines. */
    run_logged(f, 1, &lc);
    assert_int_equal(lc.lines, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip_and_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handle_reuse_across_methods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_specs_and_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_header_body_and_overall_deadlines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_wakes_blocked_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_on_worker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_and_worker_together, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_lane_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logging, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
