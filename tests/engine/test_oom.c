/*
 * Allocation failure (docs/internals.md reliability §7 row M1, curl "torture" style):
 * fail the Nth allocation the engine makes through fwt_set_allocator, for
 * every N of one full cycle (new, submit with retries, post, complete, free).
 * Each call must report an error or the callback must run exactly once; no
 * crash, no leak (ASan/valgrind lanes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <unistd.h>

#include "engine_test_util.h"
#include "responder.h"
#include "failing_alloc.h"

static void noop_task(void *ud)
{
    atomic_fetch_add((atomic_int *)ud, 1);
}

/* One cycle; returns how many allocations it made. */
static long cycle(fwt_responder *r, const char *url)
{
    atomic_store(&fwt_test_alloc_count, 0);
    fwt__engine *e = NULL;
    if (fwt__engine_new(&e, NULL) != FWT_OK)
        return atomic_load(&fwt_test_alloc_count);
    fwt_resp_action fail = {.status = 503, .body = "busy"};
    fwt_resp_action ok = {.status = 200, .body = "{\"a\":1}", .extra_headers = "X-Request-Id: r1\r\n"};
    fwt_responder_push(r, &fail);
    fwt_responder_push(r, &ok);
    const char *hdrs[] = {"X-Api-Key: k", NULL};
    fwt__http_spec s = {.method = "POST", .url = url, .headers = hdrs, .body = "{}", .body_len = 2,
                        .idempotency_key = "idem",
                        .retry = {.on = FWT__RETRY_5XX_COMMON, .base_ms = 1, .cap_ms = 1, .budget_ms = 5000}};
    waiter w;
    waiter_init(&w);
    uint64_t id = 0;
    int rc = fwt__engine_submit(e, &s, waiter_cb, &w, &id);
    assert_true(rc == FWT_OK || rc == FWT_ENOMEM);
    atomic_int ran = 0;
    int prc = fwt__engine_post(e, 0, noop_task, &ran, NULL);
    assert_true(prc == FWT_OK || prc == FWT_ENOMEM);
    if (rc == FWT_OK) {
        fwt__http_result *res = waiter_wait_safe(&w, e, id, 10000);
        assert_non_null(res);
        assert_non_null(res->body);
        assert_non_null(res->content_type);
        assert_non_null(res->request_id);
        assert_true(res->status == FWT_OK || res->status == FWT_ENOMEM);
    }
    fwt__engine_free(e);
    if (rc == FWT_OK)
        assert_int_equal(waiter_calls(&w), 1);
    if (prc == FWT_OK)
        assert_int_equal(atomic_load(&ran), 1);
    waiter_destroy(&w);
    return atomic_load(&fwt_test_alloc_count);
}

static void test_every_allocation_fails_once(void **state)
{
    (void)state;
    fwt_allocator a = fwt_test_failing_allocator();
    assert_int_equal(fwt_set_allocator(&a), FWT_OK);
    fwt_responder *r;
    assert_int_equal(fwt_responder_start(&r, NULL, NULL), 0);
    char *url = fwt_responder_url(r, "/x");
    atomic_store(&fwt_test_alloc_fail_at, 0);
    long total = cycle(r, url);
    assert_true(total > 10);
    print_message("allocations per cycle: %ld\n", total);
    free(url);
    fwt_responder_stop(r);
    for (long n = 1; n <= total + 5; n++) {
        atomic_store(&fwt_test_alloc_fail_at, n);
        /* a fresh responder each time: leftover queued actions would skew the cycle */
        assert_int_equal(fwt_responder_start(&r, NULL, NULL), 0);
        url = fwt_responder_url(r, "/x");
        cycle(r, url);
        free(url);
        fwt_responder_stop(r);
    }
    atomic_store(&fwt_test_alloc_fail_at, 0);
    assert_int_equal(fwt_set_allocator(NULL), FWT_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_allocation_fails_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
