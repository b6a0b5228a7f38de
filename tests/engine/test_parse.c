/* Unit tests: Retry-After parsing, loopback detection, backoff ceilings, retry classification. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "fwtrain/common.h"
#include "http/engine.h"
#include "http/engine_int.h"

/* 1994-11-06 08:49:37 UTC */
#define T_1994 INT64_C(784111777)

static void test_retry_after_seconds(void **state)
{
    (void)state;
    assert_int_equal(fwt__parse_retry_after("0", 0), 0);
    assert_int_equal(fwt__parse_retry_after("2", 0), 2000);
    assert_int_equal(fwt__parse_retry_after("  120 ", 0), 120000);
    assert_int_equal(fwt__parse_retry_after("86400", 123), 86400000);
    /* huge values saturate instead of overflowing */
    assert_true(fwt__parse_retry_after("99999999999999999999999999", 0) > 0);
}

static void test_retry_after_garbage(void **state)
{
    (void)state;
    const char *bad[] = {"", " ", "-1", "1.5", "abc", "2s", "1 2", "Sun, 06 Nov 1994", "Sun, 06 Nov 1994 08:49:37 PST",
                         "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
                         "Sun, 06 Nov 1994 25:49:37 GMT", "Xyz, 06 Nov 1994 08:49:37 GMT",
                         /* curl_getdate accepts these; RFC 9110's shapes do not */
                         "06 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Nov 1994 08:49 GMT",
                         "Sun Nov 6 1994 08:49:37"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(fwt__parse_retry_after(bad[i], T_1994), -1);
    assert_int_equal(fwt__parse_retry_after(NULL, 0), -1);
}

static void test_retry_after_dates(void **state)
{
    (void)state;
    /* IMF-fixdate, RFC 850 and asctime forms of the same instant (RFC 9110 §5.6.7). */
    assert_int_equal(fwt__parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", T_1994 - 7), 7000);
    assert_int_equal(fwt__parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", T_1994 - 7), 7000);
    assert_int_equal(fwt__parse_retry_after("Sun Nov  6 08:49:37 1994", T_1994 - 7), 7000);
    /* in the past → 0 */
    assert_int_equal(fwt__parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", T_1994 + 100), 0);
    /* a leap-year date: 2024-02-29 00:00:00 = 1709164800 */
    assert_int_equal(fwt__parse_retry_after("Thu, 29 Feb 2024 00:00:00 GMT", INT64_C(1709164800) - 3), 3000);
}

static void test_retry_after_ms(void **state)
{
    (void)state;
    assert_int_equal(fwt__parse_retry_after_ms("250"), 250);
    assert_int_equal(fwt__parse_retry_after_ms("0"), 0);
    assert_int_equal(fwt__parse_retry_after_ms("1.5"), 2);
    assert_int_equal(fwt__parse_retry_after_ms("100.0"), 100);
    assert_int_equal(fwt__parse_retry_after_ms("-5"), -1);
    assert_int_equal(fwt__parse_retry_after_ms("x"), -1);
    assert_int_equal(fwt__parse_retry_after_ms(""), -1);
    assert_int_equal(fwt__parse_retry_after_ms(NULL), -1);
}

static void test_loopback(void **state)
{
    (void)state;
    assert_true(fwt__url_is_loopback("http://127.0.0.1:8080/x"));
    assert_true(fwt__url_is_loopback("http://127.1.2.3/"));
    assert_true(fwt__url_is_loopback("http://localhost/"));
    assert_true(fwt__url_is_loopback("http://LOCALHOST:9/"));
    assert_true(fwt__url_is_loopback("http://[::1]:8000/a?b=c"));
    assert_true(fwt__url_is_loopback("https://127.0.0.1/"));
    assert_false(fwt__url_is_loopback("http://128.0.0.1/"));
    assert_false(fwt__url_is_loopback("http://example.com/"));
    assert_false(fwt__url_is_loopback("http://127.0.0.1.evil.example/"));
    assert_false(fwt__url_is_loopback("http://localhost.evil.example/"));
    assert_false(fwt__url_is_loopback("http://evil.example/?host=127.0.0.1"));
    assert_false(fwt__url_is_loopback("http://127.0.0.1@evil.example/"));
    assert_false(fwt__url_is_loopback("http://[::2]/"));
    assert_false(fwt__url_is_loopback("not a url"));
    assert_false(fwt__url_is_loopback(""));
    assert_false(fwt__url_is_loopback(NULL));
}

/* fwt__url_inspect: 1/0, https, loopback; asserts the pair on every call. */
static int inspect(const char *url, int *https, int *loopback)
{
    *https = *loopback = -1;
    return fwt__url_inspect(url, https, loopback, NULL);
}

/* The per-thread origin memo must never answer differently from curl's full parse. */
static void test_url_inspect_memo(void **state)
{
    (void)state;
    int https, lo;
    assert_int_equal(inspect("http://127.0.0.1:9/a", &https, &lo), 1);
    assert_int_equal(https, 0);
    assert_int_equal(lo, 1);
    /* same origin, other path, query or fragment: same verdict */
    assert_int_equal(inspect("http://127.0.0.1:9/b?c=d#e", &https, &lo), 1);
    assert_int_equal(lo, 1);
    assert_int_equal(inspect("http://127.0.0.1:9?q", &https, &lo), 1);
    assert_int_equal(lo, 1);
    /* a longer authority that starts alike is another origin */
    assert_int_equal(inspect("http://127.0.0.1:9@evil.example/", &https, &lo), 1);
    assert_int_equal(lo, 0);
    assert_int_equal(inspect("http://127.0.0.1:9/a", &https, &lo), 1);
    /* one or three slashes: curl finds the host elsewhere; never answered from the memo */
    assert_int_equal(inspect("http:///evil.example/x", &https, &lo), 1);
    assert_int_equal(lo, 0);
    assert_int_equal(inspect("http://127.0.0.1:9/a", &https, &lo), 1);
    assert_int_equal(inspect("http:/evil.example/x", &https, &lo), 1);
    assert_int_equal(lo, 0);
    /* bytes curl refuses anywhere in the URL still fail on a known origin */
    assert_int_equal(inspect("http://127.0.0.1:9/a b", &https, &lo), 0);
    assert_int_equal(inspect("http://127.0.0.1:9/a\tb", &https, &lo), 0);
    size_t n = 8000000 + 64;
    char *huge = malloc(n + 1);
    assert_non_null(huge);
    memcpy(huge, "http://127.0.0.1:9/", 19);
    memset(huge + 19, 'a', n - 19);
    huge[n] = '\0';
    assert_int_equal(inspect(huge, &https, &lo), 0);
    free(huge);
    /* the scheme is part of the origin */
    assert_int_equal(inspect("https://127.0.0.1:9/a", &https, &lo), 1);
    assert_int_equal(https, 1);
    assert_int_equal(inspect("http://127.0.0.1:9/a", &https, &lo), 1);
    assert_int_equal(https, 0);
}

static void test_url_for_log(void **state)
{
    (void)state;
    char *s = fwt__url_for_log("https://user:secret@example.com:8443/a/b?key=SECRET#frag");
    assert_non_null(s);
    assert_null(strstr(s, "SECRET"));
    assert_null(strstr(s, "secret"));
    assert_non_null(strstr(s, "example.com:8443/a/b"));
    fwt__free_mem(s);
}

static void test_backoff_ceiling(void **state)
{
    (void)state;
    fwt__retry_policy p = {.base_ms = 100, .cap_ms = 1000};
    assert_int_equal(fwt__backoff_ceiling(&p, 0), 100);
    assert_int_equal(fwt__backoff_ceiling(&p, 1), 200);
    assert_int_equal(fwt__backoff_ceiling(&p, 3), 800);
    assert_int_equal(fwt__backoff_ceiling(&p, 4), 1000);
    assert_int_equal(fwt__backoff_ceiling(&p, 1000), 1000);
    fwt__retry_policy d = {0};
    assert_int_equal(fwt__backoff_ceiling(&d, 0), 500);
    assert_int_equal(fwt__backoff_ceiling(&d, 100), 30000);
}

static int retryable(uint32_t on, int status, long http, size_t body_len, int conn_class)
{
    fwt__retry_policy p = {.on = on};
    fwt__http_result r;
    memset(&r, 0, sizeof r);
    r.status = status;
    r.http_status = http;
    r.body_len = body_len;
    return fwt__retry_retryable(&p, &r, conn_class);
}

static void test_classification(void **state)
{
    (void)state;
    uint32_t cp = FWT__RETRY_408 | FWT__RETRY_429 | FWT__RETRY_5XX_COMMON | FWT__RETRY_CONN;
    assert_true(retryable(cp, FWT_OK, 408, 0, 0));
    assert_true(retryable(cp, FWT_OK, 429, 0, 0));
    assert_true(retryable(cp, FWT_OK, 500, 0, 0));
    assert_true(retryable(cp, FWT_OK, 503, 5, 0));
    assert_false(retryable(cp, FWT_OK, 501, 0, 0));
    assert_true(retryable(cp | FWT__RETRY_5XX_ANY, FWT_OK, 501, 0, 0));
    assert_false(retryable(cp, FWT_OK, 409, 0, 0));
    assert_true(retryable(cp | FWT__RETRY_409, FWT_OK, 409, 0, 0));
    assert_false(retryable(cp, FWT_OK, 400, 0, 0));
    assert_true(retryable(cp | FWT__RETRY_EMPTY_400, FWT_OK, 400, 0, 0));
    assert_false(retryable(cp | FWT__RETRY_EMPTY_400, FWT_OK, 400, 3, 0));
    assert_false(retryable(cp, FWT_OK, 401, 0, 0));
    assert_false(retryable(cp, FWT_OK, 404, 0, 0));
    assert_false(retryable(cp, FWT_OK, 425, 0, 0));
    assert_false(retryable(cp, FWT_OK, 200, 0, 0));
    assert_true(retryable(cp, FWT_ECONNECT, 0, 0, 1));
    assert_false(retryable(cp & ~FWT__RETRY_CONN, FWT_ECONNECT, 0, 0, 1));
    assert_false(retryable(cp, FWT_ECONNECT, 0, 0, 0));
    assert_false(retryable(cp, FWT_ETLS, 0, 0, 0));
    assert_false(retryable(cp, FWT_ETOOLARGE, 0, 0, 0));
    assert_false(retryable(0, FWT_OK, 503, 0, 0));
}

/* The engine's retries draw from the one backoff (util/backoff.h) in its full-jitter mode. */
static void test_backoff_full_jitter_mode(void **state)
{
    (void)state;
    fwt__backoff b;
    fwt__backoff_init_full(&b, 100, 800);
    assert_int_equal(fwt__backoff_next(&b, 100), 100); /* a draw equal to the ceiling is kept */
    assert_int_equal(fwt__backoff_next(&b, 201), 0);   /* ceiling + 1 wraps to 0: [0, ceiling] */
    fwt__backoff_advance(&b);                          /* a hint stood in for a draw */
    assert_int_equal(fwt__backoff_next(&b, 12345), 12345 % 801);
    assert_int_equal(fwt__backoff_next(&b, 800), 800); /* capped */
    fwt__retry_policy p = {.base_ms = 100, .cap_ms = 1000};
    fwt__retry_backoff_init(&p, &b);
    assert_int_equal(b.ceiling_ms, 100);
    assert_int_equal(b.full, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_after_seconds), cmocka_unit_test(test_retry_after_garbage),
        cmocka_unit_test(test_retry_after_dates),   cmocka_unit_test(test_retry_after_ms),
        cmocka_unit_test(test_backoff_full_jitter_mode),
        cmocka_unit_test(test_loopback), cmocka_unit_test(test_url_inspect_memo),            cmocka_unit_test(test_url_for_log),
        cmocka_unit_test(test_backoff_ceiling),     cmocka_unit_test(test_classification),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
