/*
 * Retries, backoff and Retry-After against the responder, on a fake clock:
 * the engine's waits are recorded instead of slept (docs/protocol.md §2.3,
 * docs/internals.md reliability §7 rows R1, R2, R3, R5, R7). Built twice: requests go
 * through the worker (engine_retry) and, with FWT_TEST_DIRECT, through
 * fwt__engine_run on the test's thread (engine_retry_direct).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <time.h>
#include <unistd.h>

#include "engine_test_util.h"
#include "responder.h"

#define CONTROL_PLANE (FWT__RETRY_408 | FWT__RETRY_429 | FWT__RETRY_5XX_COMMON | FWT__RETRY_CONN)

typedef struct fx {
    fwt_responder *r;
    fwt__engine *e;
    fake_clock clk;
    char *url;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    fake_clock_init(&f->clk, 1000000);
    assert_int_equal(fwt_responder_start(&f->r, NULL, NULL), 0);
    fwt__engine_config cfg = {.clock = fake_clock_iface(&f->clk)};
    assert_int_equal(fwt__engine_new(&f->e, &cfg), FWT_OK);
    f->url = fwt_responder_url(f->r, "/api/v1/op");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    fwt__engine_free(f->e);
    fwt_responder_stop(f->r);
    fake_clock_destroy(&f->clk);
    free(f->url);
    free(f);
    return 0;
}

static void push_status(fx *f, int status, const char *extra, const char *body)
{
    fwt_resp_action a = {.status = status, .extra_headers = extra, .body = body};
    fwt_responder_push(f->r, &a);
}

/* Submit, wait (real time), copy the interesting bits out, free. */
typedef struct outcome {
    int status;
    long http;
    int attempts;
    int64_t retry_after_ms;
    char body[64];
} outcome;

static outcome submit_wait(fx *f, const fwt__http_spec *s)
{
#ifdef FWT_TEST_DIRECT
    /* The same matrix through fwt__engine_run: retries on the caller's thread. */
    fwt__http_result *res = NULL;
    assert_int_equal(fwt__engine_run(f->e, s, &res), FWT_OK);
    assert_non_null(res);
    outcome o = {res->status, res->http_status, res->attempts, res->retry_after_ms, {0}};
    snprintf(o.body, sizeof o.body, "%s", res->body);
    fwt__http_result_free(res);
    return o;
#else
    waiter w;
    waiter_init(&w);
    uint64_t id = 0;
    assert_int_equal(fwt__engine_submit(f->e, s, waiter_cb, &w, &id), FWT_OK);
    fwt__http_result *res = waiter_wait_safe(&w, f->e, id, 20000);
    assert_non_null(res);
    outcome o = {res->status, res->http_status, res->attempts, res->retry_after_ms, {0}};
    snprintf(o.body, sizeof o.body, "%s", res->body);
    usleep(1000);
    assert_int_equal(waiter_calls(&w), 1);
    waiter_destroy(&w);
    return o;
#endif
}

static void test_503_503_200_same_key_and_body(void **state)
{
    fx *f = *state;
    f->clk.rnd = 7;
    push_status(f, 503, NULL, "busy");
    push_status(f, 503, NULL, "busy");
    push_status(f, 200, NULL, "{\"done\":1}");
    fwt__http_spec s = {.method = "POST", .url = f->url, .body = "{\"seq_id\":5}", .body_len = 12,
                        .idempotency_key = "key-abc",
                        .retry = {.on = CONTROL_PLANE, .base_ms = 500, .cap_ms = 30000, .budget_ms = 300000}};
    outcome o = submit_wait(f, &s);
    assert_int_equal(o.status, FWT_OK);
    assert_int_equal(o.http, 200);
    assert_int_equal(o.attempts, 3);
    assert_string_equal(o.body, "{\"done\":1}");
    assert_int_equal(fwt_responder_request_count(f->r), 3);
    for (size_t i = 0; i < 3; i++) {
        fwt_resp_request *q = fwt_responder_request_copy(f->r, i);
        assert_non_null(q);
        assert_string_equal(fwt_resp_request_header(q, "X-Idempotency-Key"), "key-abc");
        assert_string_equal(q->body, "{\"seq_id\":5}");
        fwt_resp_request_free(q);
    }
    /* two waits, both the jitter draw (7 is below every ceiling) */
    assert_int_equal(f->clk.n_sleeps, 2);
    assert_int_equal(f->clk.sleeps[0], 7);
    assert_int_equal(f->clk.sleeps[1], 7);
}

/* Always 503; returns the recorded waits. */
static void run_backoff(fx *f, const uint64_t *seq, size_t n_seq, int attempts)
{
    fwt_resp_action a = {.status = 503};
    fwt_responder_set_default(f->r, &a);
    f->clk.rnd_seq = seq;
    f->clk.rnd_len = n_seq;
    fwt__http_spec s = {.method = "GET", .url = f->url,
                        .retry = {.on = CONTROL_PLANE, .max_attempts = attempts, .base_ms = 100, .cap_ms = 800,
                                  .budget_ms = 600000}};
    outcome o = submit_wait(f, &s);
    assert_int_equal(o.status, FWT_OK);
    assert_int_equal(o.http, 503);
    assert_int_equal(o.attempts, attempts);
}

static void test_backoff_ceilings_exact(void **state)
{
    fx *f = *state;
    /* A draw equal to the ceiling is kept, so the waits reveal the ceilings. */
    static const uint64_t at_ceiling[] = {100, 200, 400, 800, 800, 800};
    run_backoff(f, at_ceiling, 6, 7);
    assert_int_equal(f->clk.n_sleeps, 6);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(f->clk.sleeps[i], at_ceiling[i]);
}

static void test_backoff_ceilings_not_higher(void **state)
{
    fx *f = *state;
    /* ceiling+1 wraps to 0 with uniform[0, ceiling]: no wait at all. */
    static const uint64_t above[] = {101, 201, 401, 801, 801, 801};
    run_backoff(f, above, 6, 7);
    assert_int_equal(f->clk.n_sleeps, 0);
    assert_int_equal(fwt_responder_request_count(f->r), 7);
}

static void test_backoff_full_jitter_bounds(void **state)
{
    fx *f = *state;
    static uint64_t big[32];
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (size_t i = 0; i < 32; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        big[i] = x;
    }
    run_backoff(f, big, 32, 12);
    uint64_t ceil = 100;
    size_t k = 0;
    /* every retry either slept (0 < wait <= ceiling) or drew 0 (not recorded) */
    for (int i = 0; i < 11; i++) {
        uint64_t expect = big[i] % (ceil + 1);
        if (expect) {
            assert_true(k < f->clk.n_sleeps);
            assert_int_equal(f->clk.sleeps[k], expect);
            assert_true(f->clk.sleeps[k] <= ceil);
            k++;
        }
        ceil = ceil * 2 > 800 ? 800 : ceil * 2;
    }
    assert_int_equal(k, f->clk.n_sleeps);
}

static void test_retry_after_seconds(void **state)
{
    fx *f = *state;
    f->clk.rnd = 1;
    push_status(f, 429, "Retry-After: 3\r\n", NULL);
    push_status(f, 200, NULL, "ok");
    fwt__http_spec s = {.method = "GET", .url = f->url, .retry = {.on = CONTROL_PLANE, .budget_ms = 300000}};
    outcome o = submit_wait(f, &s);
    assert_int_equal(o.http, 200);
    assert_int_equal(o.attempts, 2);
    assert_int_equal(o.retry_after_ms, -1); /* the last response had none */
    assert_int_equal(f->clk.n_sleeps, 1);
    assert_int_equal(f->clk.sleeps[0], 3000);
}

static void test_retry_after_http_date(void **state)
{
    fx *f = *state;
    f->clk.rnd = 1;
    /* Judged against the response's own Date header, so the test is exact. */
    push_status(f, 503, "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nRetry-After: Sun, 06 Nov 1994 08:49:42 GMT\r\n",
                NULL);
    push_status(f, 200, NULL, "ok");
    fwt__http_spec s = {.method = "GET", .url = f->url, .retry = {.on = CONTROL_PLANE, .budget_ms = 300000}};
    outcome o = submit_wait(f, &s);
    assert_int_equal(o.http, 200);
    assert_int_equal(f->clk.n_sleeps, 1);
    assert_int_equal(f->clk.sleeps[0], 5000);
}

static void test_retry_after_http_date_local_clock(void **state)
{
    fx *f = *state;
    f->clk.rnd = 1;
    /* Without a Date header the local wall clock is the reference. */
    time_t t = time(NULL) + 20;
    struct tm tm;
    gmtime_r(&t, &tm);
    char date[64], hdr[96];
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    snprintf(hdr, sizeof hdr, "Retry-After: %s\r\n", date);
    push_status(f, 429, hdr, NULL);
    push_status(f, 200, NULL, "ok");
    fwt__http_spec s = {.method = "GET", .url = f->url, .retry = {.on = CONTROL_PLANE, .budget_ms = 300000}};
    outcome o = submit_wait(f, &s);
    assert_int_equal(o.http, 200);
    assert_int_equal(f->clk.n_sleeps, 1);
    assert_true(f->clk.sleeps[0] >= 18000 && f->clk.sleeps[0] <= 20000);
}

static void test_retry_after_ms(void **state)
{
    fx *f = *state;
    f->clk.rnd = 1;
    /* retry-after-ms wins over Retry-After */
    push_status(f, 429, "retry-after-ms: 250\r\nRetry-After: 9\r\n", NULL);
    push_status(f, 200, NULL, "ok");
    fwt__http_spec s = {.method = "GET", .url = f->url, .retry = {.on = CONTROL_PLANE, .budget_ms = 300000}};
    outcome o = submit_wait(f, &s);
    assert_int_equal(o.http, 200);
    assert_int_equal(f->clk.n_sleeps, 1);
    assert_int_equal(f->clk.sleeps[0], 250);
}

static void test_retry_after_garbage_uses_jitter(void **state)
{
    fx *f = *state;
    f->clk.rnd = 37;
    push_status(f, 503, "Retry-After: soon-ish\r\n", NULL);
    push_status(f, 200, NULL, "ok");
    fwt__http_spec s = {.method = "GET", .url = f->url,
                        .retry = {.on = CONTROL_PLANE, .base_ms = 100, .budget_ms = 300000}};
    outcome o = submit_wait(f, &s);
    assert_int_equal(o.http, 200);
    assert_int_equal(f->clk.n_sleeps, 1);
    assert_int_equal(f->clk.sleeps[0], 37);
}

static void test_retry_after_huge_stops(void **state)
{
    fx *f = *state;
    f->clk.rnd = 1;
    push_status(f, 429, "Retry-After: 86400\r\n", "slow down");
    push_status(f, 200, NULL, "ok");
    fwt__http_spec s = {.method = "GET", .url = f->url, .retry = {.on = CONTROL_PLANE, .budget_ms = 300000}};
    outcome o = submit_wait(f, &s);
    assert_int_equal(o.status, FWT_OK);
    assert_int_equal(o.http, 429);
    assert_int_equal(o.attempts, 1);
    assert_int_equal(o.retry_after_ms, 86400000);
    assert_string_equal(o.body, "slow down");
    assert_int_equal(f->clk.n_sleeps, 0);
    assert_int_equal(fwt_responder_request_count(f->r), 1);
}

static void test_retry_after_clamped_to_60s(void **state)
{
    fx *f = *state;
    f->clk.rnd = 1;
    push_status(f, 503, "Retry-After: 120\r\n", NULL);
    push_status(f, 200, NULL, "ok");
    fwt__http_spec s = {.method = "GET", .url = f->url, .retry = {.on = CONTROL_PLANE, .budget_ms = 600000}};
    outcome o = submit_wait(f, &s);
    assert_int_equal(o.http, 200);
    assert_int_equal(f->clk.n_sleeps, 1);
    assert_int_equal(f->clk.sleeps[0], 60000);
}

static void test_status_matrix(void **state)
{
    fx *f = *state;
    f->clk.rnd = 3;
    static const struct {
        int status;
        uint32_t on;
        int retried;
    } m[] = {
        {408, CONTROL_PLANE, 1}, {429, CONTROL_PLANE, 1}, {500, CONTROL_PLANE, 1}, {502, CONTROL_PLANE, 1},
        {503, CONTROL_PLANE, 1}, {504, CONTROL_PLANE, 1}, {501, CONTROL_PLANE, 0},
        {501, CONTROL_PLANE | FWT__RETRY_5XX_ANY, 1}, {409, CONTROL_PLANE, 0},
        {409, CONTROL_PLANE | FWT__RETRY_409, 1}, {400, CONTROL_PLANE, 0}, {401, CONTROL_PLANE, 0},
        {403, CONTROL_PLANE, 0}, {404, CONTROL_PLANE, 0}, {425, CONTROL_PLANE, 0}, {410, CONTROL_PLANE, 0},
        {503, 0, 0},
    };
    size_t before = 0;
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        push_status(f, m[i].status, NULL, "{\"error\":\"x\"}");
        push_status(f, 200, NULL, "ok");
        fwt__http_spec s = {.method = "POST", .url = f->url, .body = "{}", .body_len = 2,
                            .retry = {.on = m[i].on, .budget_ms = 300000}};
        outcome o = submit_wait(f, &s);
        assert_int_equal(o.status, FWT_OK);
        if (m[i].retried) {
            assert_int_equal(o.http, 200);
            assert_int_equal(o.attempts, 2);
        } else {
            assert_int_equal(o.http, m[i].status);
            assert_int_equal(o.attempts, 1);
            /* drain the unused 200 so the queue stays aligned */
            fwt__http_spec d = {.method = "GET", .url = f->url};
            outcome od = submit_wait(f, &d);
            assert_int_equal(od.http, 200);
        }
        size_t now = fwt_responder_request_count(f->r);
        assert_int_equal(now - before, 2);
        before = now;
    }
}

static void test_empty_400(void **state)
{
    fx *f = *state;
    f->clk.rnd = 3;
    uint32_t on[] = {CONTROL_PLANE, CONTROL_PLANE | FWT__RETRY_EMPTY_400, CONTROL_PLANE | FWT__RETRY_EMPTY_400};
    const char *body[] = {NULL, NULL, "{\"error\":\"bad\"}"};
    int retried[] = {0, 1, 0};
    for (int i = 0; i < 3; i++) {
        push_status(f, 400, NULL, body[i]);
        push_status(f, 200, NULL, "ok");
        fwt__http_spec s = {.method = "POST", .url = f->url, .body = "{}", .body_len = 2,
                            .retry = {.on = on[i], .budget_ms = 300000}};
        outcome o = submit_wait(f, &s);
        assert_int_equal(o.http, retried[i] ? 200 : 400);
        assert_int_equal(o.attempts, retried[i] ? 2 : 1);
        if (!retried[i]) {
            fwt__http_spec d = {.method = "GET", .url = f->url};
            submit_wait(f, &d);
        }
    }
}

static void test_should_retry_false(void **state)
{
    fx *f = *state;
    push_status(f, 503, "x-should-retry: false\r\n", NULL);
    fwt__http_spec s = {.method = "GET", .url = f->url, .retry = {.on = CONTROL_PLANE, .budget_ms = 300000}};
    outcome o = submit_wait(f, &s);
    assert_int_equal(o.http, 503);
    assert_int_equal(o.attempts, 1);
}

static void test_connection_refused_budget(void **state)
{
    fx *f = *state;
    /* A port nobody listens on: start a responder and stop it. */
    fwt_responder *gone;
    assert_int_equal(fwt_responder_start(&gone, NULL, NULL), 0);
    char *url = fwt_responder_url(gone, "/x");
    fwt_responder_stop(gone);
    f->clk.rnd = 1000;
    fwt__http_spec s = {.method = "POST", .url = url, .body = "b", .body_len = 1,
                        .retry = {.on = CONTROL_PLANE, .base_ms = 1000, .cap_ms = 1000, .budget_ms = 10000}};
    outcome o = submit_wait(f, &s);
    assert_int_equal(o.status, FWT_ECONNECT);
    assert_int_equal(o.http, 0);
    /* waits of 1000 each while elapsed + wait <= 10000: 10 waits, 11 attempts */
    assert_int_equal(o.attempts, 11);
    assert_int_equal(fake_slept(&f->clk), 10000);
    free(url);
}

static void test_max_attempts_and_deadline(void **state)
{
    fx *f = *state;
    fwt_resp_action a = {.status = 503};
    fwt_responder_set_default(f->r, &a);
    f->clk.rnd = 1000;
    fwt__http_spec s = {.method = "GET", .url = f->url,
                        .retry = {.on = CONTROL_PLANE, .max_attempts = 3, .base_ms = 1000, .cap_ms = 1000}};
    outcome o = submit_wait(f, &s);
    assert_int_equal(o.http, 503);
    assert_int_equal(o.attempts, 3);
    /* a wait that would cross deadline_ms is not started: last response returned */
    fwt__http_spec d = {.method = "GET", .url = f->url, .deadline_ms = 2500,
                        .retry = {.on = CONTROL_PLANE, .base_ms = 1000, .cap_ms = 1000, .budget_ms = 300000}};
    uint64_t slept0 = fake_slept(&f->clk);
    o = submit_wait(f, &d);
    assert_int_equal(o.status, FWT_OK);
    assert_int_equal(o.http, 503);
    assert_int_equal(o.attempts, 3);
    assert_int_equal(fake_slept(&f->clk) - slept0, 2000);
}

static void test_transport_errors_retried(void **state)
{
    fx *f = *state;
    f->clk.rnd = 5;
    /* R7: a body cut short and a connection closed without a byte are connection-class. */
    fwt_resp_action cut = {.status = 200, .body = "{\"partial\":", .advertise_len = 1000};
    fwt_resp_action drop = {.close_without_response = 1};
    fwt_resp_action ok = {.status = 200, .body = "{\"whole\":1}"};
    fwt_responder_push(f->r, &cut);
    fwt_responder_push(f->r, &drop);
    fwt_responder_push(f->r, &ok);
    fwt__http_spec s = {.method = "POST", .url = f->url, .body = "{}", .body_len = 2, .idempotency_key = "k9",
                        .retry = {.on = CONTROL_PLANE, .budget_ms = 300000}};
    outcome o = submit_wait(f, &s);
    assert_int_equal(o.status, FWT_OK);
    assert_int_equal(o.http, 200);
    assert_int_equal(o.attempts, 3);
    assert_string_equal(o.body, "{\"whole\":1}");
    for (size_t i = 0; i < 3; i++) {
        fwt_resp_request *q = fwt_responder_request_copy(f->r, i);
        assert_string_equal(fwt_resp_request_header(q, "X-Idempotency-Key"), "k9");
        fwt_resp_request_free(q);
    }
    /* without CONN the cut body is a plain failure, never a success */
    fwt_responder_push(f->r, &cut);
    fwt__http_spec n = {.method = "GET", .url = f->url, .retry = {.on = FWT__RETRY_5XX_COMMON}};
    o = submit_wait(f, &n);
    assert_int_equal(o.status, FWT_ECONNECT);
    assert_int_equal(o.attempts, 1);
}

static void test_last_response_beats_later_error(void **state)
{
    fx *f = *state;
    f->clk.rnd = 5;
    fwt_resp_action drop = {.close_without_response = 1};
    /* close after the 503 so the drop hits a fresh connection (curl itself re-sends
     * once when a reused connection turns out dead) */
    fwt_resp_action first = {.status = 503, .body = "first", .close_connection = 1};
    fwt_responder_push(f->r, &first);
    fwt_responder_push(f->r, &drop);
    fwt__http_spec s = {.method = "GET", .url = f->url,
                        .retry = {.on = CONTROL_PLANE, .max_attempts = 2, .budget_ms = 300000}};
    outcome o = submit_wait(f, &s);
    assert_int_equal(o.status, FWT_OK);
    assert_int_equal(o.http, 503);
    assert_string_equal(o.body, "first");
    assert_int_equal(o.attempts, 2);
}

static void test_hint_not_reused_after_error(void **state)
{
    fx *f = *state;
    f->clk.rnd = 7;
    /* 429 + Retry-After: 5, then a dropped connection, then 200: the second wait is
     * jitter, not the earlier response's hint. */
    fwt_resp_action slow = {.status = 429, .extra_headers = "Retry-After: 5\r\n", .close_connection = 1};
    fwt_resp_action drop = {.close_without_response = 1};
    fwt_resp_action ok = {.status = 200, .body = "ok"};
    fwt_responder_push(f->r, &slow);
    fwt_responder_push(f->r, &drop);
    fwt_responder_push(f->r, &ok);
    fwt__http_spec s = {.method = "GET", .url = f->url, .retry = {.on = CONTROL_PLANE, .budget_ms = 300000}};
    outcome o = submit_wait(f, &s);
    assert_int_equal(o.http, 200);
    assert_int_equal(o.attempts, 3);
    assert_int_equal(f->clk.n_sleeps, 2);
    assert_int_equal(f->clk.sleeps[0], 5000);
    assert_int_equal(f->clk.sleeps[1], 7);
}

static void signal_task(void *ud)
{
    waiter_cb(NULL, ud);
}

static void test_fake_clock_tasks(void **state)
{
    fx *f = *state;
    /* A long posted delay passes in virtual time: the test does not sleep an hour. */
    waiter w;
    waiter_init(&w);
    uint64_t t0 = real_ms();
    uint64_t v0 = fake_now(&f->clk);
    assert_int_equal(fwt__engine_post(f->e, 3600000, signal_task, &w, NULL), FWT_OK);
    waiter_wait_safe(&w, NULL, 0, 5000);
    assert_int_equal(waiter_calls(&w), 1);
    assert_true(real_ms() - t0 < slack_ms(4000));
    assert_true(fake_now(&f->clk) - v0 >= 3600000);
    waiter_destroy(&w);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_503_503_200_same_key_and_body),
        T(test_backoff_ceilings_exact),
        T(test_backoff_ceilings_not_higher),
        T(test_backoff_full_jitter_bounds),
        T(test_retry_after_seconds),
        T(test_retry_after_http_date),
        T(test_retry_after_http_date_local_clock),
        T(test_retry_after_ms),
        T(test_retry_after_garbage_uses_jitter),
        T(test_retry_after_huge_stops),
        T(test_retry_after_clamped_to_60s),
        T(test_status_matrix),
        T(test_empty_400),
        T(test_should_retry_false),
        T(test_connection_refused_budget),
        T(test_max_attempts_and_deadline),
        T(test_transport_errors_retried),
        T(test_last_response_beats_later_error),
        T(test_hint_not_reused_after_error),
        T(test_fake_clock_tasks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
