/*
 * Oversized response headers are a deterministic refusal: FWT_ETOOLARGE at
 * once, never retried (even with connection-class retries on), like an
 * oversized body. Both ways a flood arrives: many lines over the engine's
 * FWT__MAX_HEADER_BYTES, and one line longer than libcurl accepts. Headers
 * just under the limit still work. Built twice: worker (engine_headers_large)
 * and caller-thread run (engine_headers_large_direct).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine_test_util.h"
#include "http/engine_int.h"
#include "responder.h"

#define ALL_RETRIES (FWT__RETRY_408 | FWT__RETRY_429 | FWT__RETRY_5XX_ANY | FWT__RETRY_CONN)

typedef struct fx {
    fwt_responder *r;
    fwt__engine *e;
    char *url;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(fwt_responder_start(&f->r, NULL, NULL), 0);
    assert_int_equal(fwt__engine_new(&f->e, NULL), FWT_OK);
    f->url = fwt_responder_url(f->r, "/v1/x");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    fwt__engine_free(f->e);
    fwt_responder_stop(f->r);
    free(f->url);
    free(f);
    return 0;
}

static fwt__http_result *perform(fx *f)
{
    fwt__http_spec s = {.method = "GET", .url = f->url,
                        .retry = {.on = ALL_RETRIES, .base_ms = 1, .cap_ms = 2, .budget_ms = 3000}};
#ifdef FWT_TEST_DIRECT
    fwt__http_result *res = NULL;
    assert_int_equal(fwt__engine_run(f->e, &s, &res), FWT_OK);
    return res;
#else
    waiter w;
    waiter_init(&w);
    uint64_t id = 0;
    assert_int_equal(fwt__engine_submit(f->e, &s, waiter_cb, &w, &id), FWT_OK);
    fwt__http_result *res = waiter_wait_safe(&w, f->e, id, 20000);
    assert_non_null(res);
    w.res = NULL;
    waiter_destroy(&w);
    return res;
#endif
}

/* n header lines "X-Fill-i: <len bytes>\r\n". */
static char *fill_headers(size_t n, size_t len)
{
    char *h = malloc(n * (len + 32) + 1);
    assert_non_null(h);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        o += (size_t)sprintf(h + o, "X-Fill-%zu: ", i);
        memset(h + o, 'v', len);
        o += len;
        h[o++] = '\r';
        h[o++] = '\n';
    }
    h[o] = '\0';
    return h;
}

static void expect_too_large(fx *f, char *headers)
{
    fwt_resp_action a = {.status = 200, .extra_headers = headers, .body = "ok"};
    fwt_responder_set_default(f->r, &a);
    free(headers);
    fwt__http_result *res = perform(f);
    if (res->status != FWT_ETOOLARGE)
        fail_msg("status %d (%s), want FWT_ETOOLARGE", res->status, res->message);
    assert_int_equal(res->attempts, 1);
    assert_int_equal(fwt_responder_request_count(f->r), 1); /* not retried */
    assert_non_null(strstr(res->message, "response headers too large"));
    fwt__http_result_free(res);
}

static void test_many_lines(void **state)
{
    /* 300 lines of 1 KiB: over FWT__MAX_HEADER_BYTES (256 KiB) and libcurl's 300 KiB */
    expect_too_large(*state, fill_headers(300, 1024));
}

static void test_one_huge_line(void **state)
{
    /* one 150 KiB line: libcurl refuses it before the header callback sees it */
    expect_too_large(*state, fill_headers(1, 150 * 1024));
}

static void test_just_under_the_limit(void **state)
{
    fx *f = *state;
    size_t lines = (FWT__MAX_HEADER_BYTES - 4096) / (1024 + 16);
    fwt_resp_action a = {.status = 200, .body = "ok"};
    char *h = fill_headers(lines, 1024);
    a.extra_headers = h;
    fwt_responder_set_default(f->r, &a);
    free(h);
    fwt__http_result *res = perform(f);
    if (res->status != FWT_OK)
        fail_msg("status %d (%s)", res->status, res->message);
    assert_int_equal(res->http_status, 200);
    assert_string_equal(res->body, "ok");
    fwt__http_result_free(res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_many_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_huge_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_just_under_the_limit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
