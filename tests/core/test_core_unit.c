/* Unit tests (no network): errors, allocator hooks, JSON helpers, §11.1 error text, URLs, validation helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backoff.h"
#include "fwt_util.h"
#include "core/request.h"
#include "fwtrain/fwtrain.h"
#include "json/json.h"
#include "api/training_impl.h"

static void test_strerror_all(void **state)
{
    (void)state;
    for (int s = 0; s >= FWT_EUNSUPPORTED; s--) {
        const char *m = fwt_strerror(s);
        assert_non_null(m);
        assert_string_not_equal(m, "unknown status");
    }
    assert_string_equal(fwt_strerror(-999), "unknown status");
    assert_string_equal(fwt_strerror(42), "unknown status");
}

static void test_err_records(void **state)
{
    (void)state;
    fwt__err a, b;
    fwt__err_init(&a);
    fwt__err_init(&b);
    assert_string_equal(a.pub.message, "");
    assert_string_equal(a.pub.request_id, "");
    assert_int_equal(fwt__err_set(&a, FWT_EHTTP, "boom %d", 7), FWT_EHTTP);
    fwt__err_set_request_id(&a, "req-1");
    assert_string_equal(a.pub.message, "boom 7");
    assert_int_equal(fwt__err_copy(&b, &a), FWT_EHTTP);
    assert_string_equal(b.pub.message, "boom 7");
    assert_string_equal(b.pub.request_id, "req-1");
    fwt__err c;
    fwt__err_init(&c);
    fwt__err_move(&c, &a);
    assert_string_equal(c.pub.message, "boom 7");
    assert_int_equal(a.pub.code, FWT_OK);
    assert_string_equal(a.pub.message, "");
    fwt__err_clear(&b);
    fwt__err_clear(&c);
    fwt__err_clear(&a);
}

static void *other_thread(void *arg)
{
    (void)arg;
    const fwt_error *e = fwt_error_last();
    /* A fresh thread sees OK with empty strings, not the main thread's error. */
    return (void *)(intptr_t)(e && e->code == FWT_OK && e->message && e->message[0] == '\0' ? 1 : 0);
}

static void test_last_error_thread_local(void **state)
{
    (void)state;
    assert_non_null(fwt_error_last());
    assert_int_equal(fwt__last_set(FWT_EINVAL, "arg %s bad", "x"), FWT_EINVAL);
    assert_int_equal(fwt_error_last()->code, FWT_EINVAL);
    assert_string_equal(fwt_error_last()->message, "arg x bad");
    pthread_t th;
    void *ok = NULL;
    pthread_create(&th, NULL, other_thread, NULL);
    pthread_join(th, &ok);
    assert_int_equal((intptr_t)ok, 1);
    assert_int_equal(fwt_error_last()->code, FWT_EINVAL);
    fwt__last_ok();
    assert_int_equal(fwt_error_last()->code, FWT_OK);
    assert_string_equal(fwt_error_last()->message, "");
    assert_string_equal(fwt_error_last()->request_id, "");
}

static void test_check_name(void **state)
{
    (void)state;
    assert_int_equal(fwt__check_name("name", "step-1", 200), FWT_OK);
    assert_int_equal(fwt__check_name("name", NULL, 200), FWT_EINVAL);
    assert_non_null(strstr(fwt_error_last()->message, "name"));
    assert_int_equal(fwt__check_name("name", "", 200), FWT_EINVAL);
    assert_int_equal(fwt__check_name("name", "a/b", 200), FWT_EINVAL);
    assert_int_equal(fwt__check_name("name", "abcdef", 5), FWT_EINVAL);
    assert_int_equal(fwt__check_name("name", "a\nb", 200), FWT_EINVAL);
    assert_int_equal(fwt__check_name("job_id", "..", 200), FWT_EINVAL);
    assert_non_null(strstr(fwt_error_last()->message, "job_id"));
    assert_int_equal(fwt__check_name("job_id", ".", 200), FWT_EINVAL);
    assert_int_equal(fwt__check_name("name", "...", 200), FWT_OK);
    assert_int_equal(fwt__check_name("name", "a..b", 200), FWT_OK);
}

/* ---- allocator hooks ---- */
static size_t g_allocs, g_frees;
static void *cnt_malloc(size_t n, void *ctx) { (void)ctx; g_allocs++; return malloc(n); }
static void *cnt_realloc(void *p, size_t n, void *ctx) { (void)ctx; if (!p) g_allocs++; return realloc(p, n); }
static void cnt_free(void *p, void *ctx) { (void)ctx; if (p) g_frees++; free(p); }

static void test_allocator_hooks(void **state)
{
    (void)state;
    fwt_allocator bad = {99, cnt_malloc, cnt_realloc, cnt_free, NULL};
    assert_int_equal(fwt_set_allocator(&bad), FWT_EINVAL);
    fwt_allocator partial = {FWT_ALLOCATOR_VERSION, cnt_malloc, NULL, cnt_free, NULL};
    assert_int_equal(fwt_set_allocator(&partial), FWT_EINVAL);
    fwt_allocator a = {FWT_ALLOCATOR_VERSION, cnt_malloc, cnt_realloc, cnt_free, NULL};
    assert_int_equal(fwt_set_allocator(&a), FWT_OK);
    g_allocs = g_frees = 0;
    char *s = fwt__strdup("hello");
    assert_string_equal(s, "hello");
    fwt_free(s);
    cJSON *j = fwt__json_parse("{\"a\":[1,2,3]}", 13); /* cJSON goes through the hooks too */
    assert_non_null(j);
    char *p = fwt__json_print(j);
    assert_string_equal(p, "{\"a\":[1,2,3]}");
    fwt__free_mem(p);
    cJSON_Delete(j);
    assert_true(g_allocs >= 5);
    assert_int_equal(g_allocs, g_frees);
    assert_int_equal(fwt_set_allocator(NULL), FWT_OK);
}

static void test_allocator_refused_with_live_client(void **state)
{
    (void)state;
    fwt_client_options o;
    fwt_client_options_init(&o, FWT_CLIENT_OPTIONS_VERSION);
    o.api_key = "k-test";
    o.base_url = "http://127.0.0.1:9";
    fwt_client *c = NULL;
    assert_int_equal(fwt_client_new(&c, &o), FWT_OK);
    fwt_allocator a = {FWT_ALLOCATOR_VERSION, cnt_malloc, cnt_realloc, cnt_free, NULL};
    assert_int_equal(fwt_set_allocator(&a), FWT_ESTATE);
    fwt_client_free(c);
    assert_int_equal(fwt_set_allocator(NULL), FWT_OK);
}

/* ---- JSON ---- */
static void test_json_getters(void **state)
{
    (void)state;
    const char *txt = "{\"s\":\"v\",\"i\":42,\"big\":1e300,\"frac\":1.5,\"b\":true,\"o\":{},\"a\":[],\"n\":null,\"Path\":\"x\"}";
    cJSON *j = fwt__json_parse(txt, strlen(txt));
    assert_non_null(j);
    const char *s;
    int64_t i;
    double d;
    int b;
    const cJSON *o;
    assert_int_equal(fwt__json_get_string(j, "s", &s), FWT_OK);
    assert_string_equal(s, "v");
    assert_int_equal(fwt__json_get_string(j, "i", &s), FWT_EPROTO);
    assert_int_equal(fwt__json_get_string(j, "missing", &s), FWT_ENOTFOUND);
    assert_int_equal(fwt__json_get_string(j, "n", &s), FWT_ENOTFOUND);
    assert_int_equal(fwt__json_get_string(j, "path", &s), FWT_ENOTFOUND); /* case-sensitive */
    assert_int_equal(fwt__json_get_int64(j, "i", &i), FWT_OK);
    assert_int_equal(i, 42);
    assert_int_equal(fwt__json_get_int64(j, "big", &i), FWT_EPROTO);
    assert_int_equal(fwt__json_get_int64(j, "frac", &i), FWT_EPROTO);
    assert_int_equal(fwt__json_get_double(j, "frac", &d), FWT_OK);
    assert_true(d == 1.5);
    assert_int_equal(fwt__json_get_bool(j, "b", &b), FWT_OK);
    assert_int_equal(b, 1);
    assert_int_equal(fwt__json_get_bool(j, "s", &b), FWT_EPROTO);
    assert_int_equal(fwt__json_get_object(j, "o", &o), FWT_OK);
    assert_int_equal(fwt__json_get_object(j, "a", &o), FWT_EPROTO);
    assert_int_equal(fwt__json_get_array(j, "a", &o), FWT_OK);
    assert_int_equal(fwt__json_get_string2(j, "nope", "s", &s), FWT_OK);
    assert_string_equal(s, "v");
    assert_int_equal(fwt__json_get_string(NULL, "s", &s), FWT_EPROTO);
    cJSON_Delete(j);
}

static void test_json_parse_rejects(void **state)
{
    (void)state;
    assert_null(fwt__json_parse("", 0));
    assert_null(fwt__json_parse("{", 1));
    assert_null(fwt__json_parse("{} trailing", 11));
    assert_null(fwt__json_parse("{\"a\":1}\0x", 9));
    char deep[600];
    memset(deep, '[', 300);
    memset(deep + 300, ']', 300);
    assert_null(fwt__json_parse(deep, 600));
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    cJSON *ok = fwt__json_parse(deep, 200);
    assert_non_null(ok);
    cJSON_Delete(ok);
    /* Brackets inside strings do not count toward the depth. */
    char s[1000];
    s[0] = '"';
    memset(s + 1, '[', 400);
    s[401] = '"';
    ok = fwt__json_parse(s, 402);
    assert_non_null(ok);
    cJSON_Delete(ok);
}

/* ---- §11.1 error text ---- */
static void expect_text(const char *body, const char *want)
{
    char *t = fwt__error_text(body, strlen(body), NULL);
    assert_non_null(t);
    assert_string_equal(t, want);
    fwt__free_mem(t);
}

static void test_error_text(void **state)
{
    (void)state;
    expect_text("{\"error\":{\"message\":\"bad thing\",\"code\":400}}", "bad thing");
    expect_text("{\"error\":{\"code\":400}}", "{\"code\":400}");
    expect_text("{\"error\":\"plain\"}", "plain");
    expect_text("{\"message\":\"RlorTrainerJob x not found\",\"code\":5}", "RlorTrainerJob x not found");
    expect_text("{\"message\":\"\",\"code\":7}", "");
    expect_text("{\"code\":7}", "{\"code\":7}");
    expect_text("[1,2]", "[1,2]");
    expect_text("  <html>oops</html>\n ", "<html>oops</html>");
    char big[400];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char *t = fwt__error_text(big, strlen(big), NULL);
    assert_int_equal(strlen(t), 200);
    fwt__free_mem(t);
    expect_text("", "");
}

static void test_reply_map(void **state)
{
    (void)state;
    static const struct { long st; int code; } cases[] = {
        {401, FWT_EAUTH}, {403, FWT_EAUTH}, {404, FWT_ENOTFOUND}, {409, FWT_ECONFLICT},
        {410, FWT_EHTTP} /* "promise expired" is retrieve_future's alone */, {429, FWT_ERATELIMIT}, {500, FWT_EHTTP}, {425, FWT_EHTTP}, {200, FWT_OK}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        fwt__reply r;
        fwt__reply_init(&r);
        r.http_status = cases[k].st;
        r.body = fwt__strdup("{\"message\":\"m\"}");
        r.body_len = strlen(r.body);
        r.json = fwt__json_parse(r.body, r.body_len);
        assert_int_equal(fwt__reply_map(&r), cases[k].code);
        if (cases[k].code != FWT_OK) {
            assert_non_null(strstr(r.err.pub.message, "m (HTTP"));
            assert_int_equal(r.err.pub.http_status, cases[k].st);
        }
        if (cases[k].st == 401)
            assert_non_null(strstr(r.err.pub.message, "training-scoped"));
        fwt__reply_clear(&r);
    }
}

static void test_urls(void **state)
{
    (void)state;
    char *u = fwt__url_join("https://h/", "/v1/accounts/%s/jobs/%s?pageSize=%d", "a b", "j/1", 2);
    assert_string_equal(u, "https://h/v1/accounts/a%20b/jobs/j%2F1?pageSize=2");
    fwt__free_mem(u);
    u = fwt__url_join("https://h", "/a/%s/%s/%s/b", "..", ".", "a.b");
    assert_string_equal(u, "https://h/a/%2E%2E/%2E/a.b/b");
    fwt__free_mem(u);
    char *e = fwt__url_escape("A-z_0.~%");
    assert_string_equal(e, "A-z_0.~%25");
    fwt__free_mem(e);
}

static void test_resolve_checkpoint_path(void **state)
{
    (void)state;
    char *p = NULL;
    assert_int_equal(fwt_resolve_checkpoint_path(&p, "step-4", "old-job"), FWT_OK);
    assert_string_equal(p, "cross_job://old-job/step-4");
    fwt_free(p);
    assert_int_equal(fwt_resolve_checkpoint_path(&p, " step-4 ", " old-job "), FWT_OK);
    assert_string_equal(p, "cross_job://old-job/step-4");
    fwt_free(p);
    assert_int_equal(fwt_resolve_checkpoint_path(&p, "gs://b/x", "old-job"), FWT_OK);
    assert_string_equal(p, "gs://b/x");
    fwt_free(p);
    assert_int_equal(fwt_resolve_checkpoint_path(&p, "/abs/x", NULL), FWT_OK);
    assert_string_equal(p, "/abs/x");
    fwt_free(p);
    assert_int_equal(fwt_resolve_checkpoint_path(&p, "step-4", NULL), FWT_OK);
    assert_string_equal(p, "step-4");
    fwt_free(p);
    assert_int_equal(fwt_resolve_checkpoint_path(&p, "a/b", "job"), FWT_EINVAL);
    assert_null(p);
    assert_int_equal(fwt_resolve_checkpoint_path(&p, "x", "  "), FWT_EINVAL);
    assert_int_equal(fwt_resolve_checkpoint_path(&p, "..", "job"), FWT_EINVAL);
    assert_int_equal(fwt_resolve_checkpoint_path(&p, "x", ".."), FWT_EINVAL);
    assert_non_null(strstr(fwt_error_last()->message, "source_job_id"));
    assert_int_equal(fwt_resolve_checkpoint_path(&p, "  ", "job"), FWT_EINVAL);
    assert_int_equal(fwt_resolve_checkpoint_path(&p, NULL, "job"), FWT_EINVAL);
    assert_int_equal(fwt_resolve_checkpoint_path(NULL, "x", "job"), FWT_EINVAL);
}

static void test_checkpoint_type_names(void **state)
{
    (void)state;
    fwt_sampler_type t;
    assert_int_equal(fwt_sampler_type_parse(&t, "BASE"), FWT_OK);
    assert_int_equal(t, FWT_SAMPLER_BASE);
    assert_int_equal(fwt_sampler_type_parse(&t, "delta"), FWT_OK);
    assert_int_equal(t, FWT_SAMPLER_DELTA);
    assert_int_equal(fwt_sampler_type_parse(&t, "Merged_Base"), FWT_OK);
    assert_int_equal(t, FWT_SAMPLER_MERGED_BASE);
    assert_int_equal(fwt_sampler_type_parse(&t, "auto"), FWT_OK);
    assert_int_equal(t, FWT_SAMPLER_AUTO);
    assert_int_equal(fwt_sampler_type_parse(&t, "full"), FWT_EINVAL);
    assert_null(fwt_sampler_type_name((fwt_sampler_type)9));
}

static void test_batch_validation(void **state)
{
    (void)state;
    fwt_batch *b = NULL;
    assert_int_equal(fwt_batch_new(&b), FWT_OK);
    int64_t tok[3] = {1, 2, 3}, tgt[3] = {2, 3, 4};
    float w[3] = {1, 1, 0};
    assert_int_equal(fwt_batch_add(b, tok, 3, tgt, 3, w, 3), FWT_OK);
    assert_int_equal(fwt_batch_add(b, tok, 3, tgt, 2, w, 2), FWT_EINVAL); /* one target per token */
    assert_non_null(strstr(fwt_error_last()->message, "n_tokens"));
    assert_int_equal(fwt_batch_add(b, tok, 3, tgt, 3, w, 2), FWT_EINVAL);
    assert_non_null(strstr(fwt_error_last()->message, "weights"));
    assert_int_equal(fwt_batch_add(b, NULL, 3, tgt, 3, w, 3), FWT_EINVAL);
    assert_int_equal(fwt_batch_add(b, tok, 0, tgt, 3, w, 3), FWT_EINVAL);
    int64_t neg[1] = {-1};
    assert_int_equal(fwt_batch_add(b, neg, 1, tgt, 1, w, 1), FWT_EINVAL);
    assert_int_equal(fwt_batch_add(b, tok, 1, neg, 1, w, 1), FWT_EINVAL);
    assert_int_equal(fwt_batch_count(b), 1);
    fwt_batch_free(b);
    fwt_batch_free(NULL);
}

static void test_client_options(void **state)
{
    (void)state;
    fwt_client_options o;
    assert_int_equal(fwt_client_options_init(&o, 99), FWT_EINVAL);
    assert_int_equal(fwt_client_options_init(&o, FWT_CLIENT_OPTIONS_VERSION), FWT_OK);
    assert_int_equal(o.header_timeout_ms, 45000);
    assert_int_equal(o.body_timeout_ms, 45000);
    assert_int_equal(o.retry_cap_ms, 30000);
    assert_int_equal(o.heartbeat_interval_ms, 10000);
    assert_int_equal(o.log_level, FWT_LOG_WARN);
    fwt_client *c = NULL;
    /* no key anywhere */
    unsetenv("FIREWORKS_API_KEY");
    unsetenv("FIREWORKS_BASE_URL");
    assert_int_equal(fwt_client_new(&c, &o), FWT_EINVAL);
    assert_non_null(strstr(fwt_error_last()->message, "API key"));
    o.api_key = "secret-key-123";
    static const char *bad[] = {"ftp://h", "https://", "http://example.com", "https://u:p@h", "https://h?x=1", "h.com",
                                "https://h x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o.base_url = bad[i];
        assert_int_equal(fwt_client_new(&c, &o), FWT_EINVAL);
        assert_null(c);
        assert_null(strstr(fwt_error_last()->message, "secret-key-123"));
    }
    o.base_url = "http://example.com";
    o.allow_insecure_http = 1;
    assert_int_equal(fwt_client_new(&c, &o), FWT_OK);
    assert_string_equal(fwt_client_base_url(c), "http://example.com");
    fwt_client_free(c);
    o.allow_insecure_http = 0;
    o.base_url = NULL;
    setenv("FIREWORKS_BASE_URL", "http://localhost:1234/", 1);
    assert_int_equal(fwt_client_new(&c, &o), FWT_OK);
    assert_string_equal(fwt_client_base_url(c), "http://localhost:1234");
    fwt_client_free(c);
    unsetenv("FIREWORKS_BASE_URL");
    assert_int_equal(fwt_client_new(&c, &o), FWT_OK);
    assert_string_equal(fwt_client_base_url(c), "https://api.fireworks.ai");
    fwt_client_free(c);
    setenv("FIREWORKS_API_KEY", "env-key", 1);
    o.api_key = NULL;
    assert_int_equal(fwt_client_new(&c, &o), FWT_OK);
    fwt_client_free(c);
    unsetenv("FIREWORKS_API_KEY");
    o.api_key = "bad key";
    assert_int_equal(fwt_client_new(&c, &o), FWT_EINVAL);
    o.api_key = "k";
    o.header_timeout_ms = -5;
    assert_int_equal(fwt_client_new(&c, &o), FWT_EINVAL);
    assert_non_null(strstr(fwt_error_last()->message, "header_timeout_ms"));
    o.header_timeout_ms = 0;
    o.account_id = "a/b";
    assert_int_equal(fwt_client_new(&c, &o), FWT_EINVAL);
    o.account_id = NULL;
    assert_int_equal(fwt_client_new(NULL, &o), FWT_EINVAL);
    fwt_client_free(NULL);
    o.version = 7;
    assert_int_equal(fwt_client_new(&c, &o), FWT_EINVAL);
}

/* Redaction terminates even when the placeholder contains the key, and never leaves the key behind. */
static void test_scrub_weird_keys(void **state)
{
    (void)state;
    static const char *keys[] = {"RED", "E", "[REDACTED]", "AC", "xx"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        fwt_client_options o;
        fwt_client_options_init(&o, FWT_CLIENT_OPTIONS_VERSION);
        o.api_key = keys[i];
        o.base_url = "http://127.0.0.1:9";
        fwt_client *c = NULL;
        assert_int_equal(fwt_client_new(&c, &o), FWT_OK);
        char msg[128];
        snprintf(msg, sizeof msg, "a %s b %s%s c", keys[i], keys[i], keys[i]);
        char *out = fwt__client_scrub_dup(c, msg);
        assert_non_null(out);
        assert_string_equal(out, "a [REDACTED] b [REDACTED][REDACTED] c");
        fwt__free_mem(out);
        fwt_client_free(c);
    }
}

/* The one backoff (util/backoff.h): ceilings double to the cap, a draw takes off at most jitter % of it. */
static void test_backoff(void **state)
{
    (void)state;
    fwt__backoff b;
    fwt__backoff_init(&b, 100, 5000, 0);
    const int64_t want[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_int_equal(fwt__backoff_next(&b, UINT64_MAX), want[i]); /* no jitter: the ceiling */
    fwt__backoff_reset(&b);
    assert_int_equal(fwt__backoff_next(&b, 0), 100);
    fwt__backoff_init(&b, 1000, 1000, 50);
    for (uint64_t r = 0; r < 64; r++) {
        int64_t d = fwt__backoff_next(&b, r * UINT64_C(0x9e3779b97f4a7c15));
        assert_true(d > 500 && d <= 1000);
    }
    assert_int_equal(fwt__backoff_next(&b, 0), 1000);          /* u = 0: nothing taken off */
    assert_true(fwt__backoff_next(&b, UINT64_MAX) >= 500);     /* u close to 1: about half */
    fwt__backoff_init(&b, 0, -5, 500);                         /* nonsense is clamped */
    assert_int_equal(fwt__backoff_next(&b, 0), 1);
    assert_int_equal(fwt__backoff_bound(300, -1), 300);        /* no deadline */
    assert_int_equal(fwt__backoff_bound(300, 120), 120);       /* cut to the deadline */
    assert_int_equal(fwt__backoff_bound(300, 0), -1);          /* no time left */
}

static void test_misc(void **state)
{
    (void)state;
    char hex[9];
    assert_int_equal(fwt__random_hex(hex, 4), FWT_OK);
    assert_int_equal(strlen(hex), 8);
    char u[37];
    assert_int_equal(fwt__uuid4(u), FWT_OK);
    assert_int_equal(strlen(u), 36);
    assert_int_equal(u[14], '4');
    char *t = fwt__strtrim_dup("  a b \t");
    assert_string_equal(t, "a b");
    fwt__free_mem(t);
    char *s = fwt__asprintf("%s-%d", "x", 5);
    assert_string_equal(s, "x-5");
    fwt__free_mem(s);
    assert_null(fwt__calloc(SIZE_MAX / 2, 4));
    fwt_free(NULL);
}

static int cmp_key(const void *a, const void *b) { return strcmp(a, b); }

/* Idempotency keys come from a per-thread pool of random bytes (util/str.c): every key is a well-formed v4
 * UUID, keys stay distinct across several refills of the pool, and a forked child never hands out a key its
 * parent also hands out from the same unspent pool. */
static void test_uuid4_pool(void **state)
{
    (void)state;
    enum { N = 300 }; /* 300 x 16 bytes: more than four 1 KiB pools */
    static char keys[2 * N][37];
    char first[37];
    assert_int_equal(fwt__uuid4(first), FWT_OK); /* the pool now holds unspent bytes */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        int ok = 1;
        for (int i = 0; i < N && ok; i++) {
            char k[37];
            ok = fwt__uuid4(k) == FWT_OK && write(fds[1], k, 37) == 37;
        }
        _exit(ok ? 0 : 1);
    }
    close(fds[1]);
    for (int i = 0; i < N; i++)
        assert_int_equal(fwt__uuid4(keys[i]), FWT_OK);
    size_t got = 0;
    while (got < (size_t)N * 37) {
        ssize_t n = read(fds[0], (char *)keys[N] + got, (size_t)N * 37 - got);
        assert_true(n > 0);
        got += (size_t)n;
    }
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (int i = 0; i < 2 * N; i++) {
        assert_int_equal(strlen(keys[i]), 36);
        assert_int_equal(keys[i][14], '4');
        assert_true(strchr("89ab", keys[i][19]) != NULL);
    }
    qsort(keys, 2 * N, sizeof keys[0], cmp_key);
    for (int i = 1; i < 2 * N; i++)
        assert_string_not_equal(keys[i - 1], keys[i]);
}

/* Deterministic mutation fuzz: result parsers and the error-text rules never crash or leak on any input. */
static void test_parsers_survive_mutations(void **state)
{
    (void)state;
    static const char seed0[] = "{\"loss_fn_output_type\":\"ce\",\"loss_fn_outputs\":[{\"logprobs\":{\"data\":[-1.5,-2],"
                                "\"dtype\":\"float32\"}}],\"metrics\":{\"loss:sum\":3.5}}";
    static const char *seeds[] = {
        seed0,
        "{\"error\":{\"message\":\"m\",\"code\":3},\"message\":\"x\"}",
        "{\"checkpoints\":[\"a\",\"b\"],\"metrics\":{\"a\":1e308}}",
    };
    uint64_t x = 0x2545F4914F6CDD1Dull;
    char buf[512];
    for (int round = 0; round < 3000; round++) {
        const char *seed = seeds[round % 3];
        size_t n = strlen(seed);
        memcpy(buf, seed, n);
        int muts = 1 + round % 4;
        for (int m = 0; m < muts; m++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t at = (size_t)(x % n);
            static const char alphabet[] = "{}[]\",:0123456789-eE.\\ntrufalsn ";
            buf[at] = alphabet[(x >> 20) % (sizeof alphabet - 1)];
            if ((x >> 40) % 5 == 0 && n > 2)
                n--; /* truncate */
        }
        cJSON *j = fwt__json_parse(buf, n);
        fwt__err e;
        fwt__err_init(&e);
        fwt_forward_output *o = NULL;
        if (j && fwt__parse_forward_output(j, &o, &e) == FWT_OK)
            fwt_forward_output_free(o);
        fwt__err_clear(&e);
        fwt_metrics *mt = NULL;
        if (j && fwt__parse_metrics(fwt__json_get(j, "metrics"), &mt, &e) == FWT_OK)
            fwt_metrics_free(mt);
        fwt__err_clear(&e);
        fwt_string_list *l = NULL;
        const cJSON *arr = NULL;
        if (j && fwt__json_get_array(j, "checkpoints", &arr) == FWT_OK && fwt__string_list_from_json(&l, arr) == FWT_OK)
            fwt_string_list_free(l);
        char *t = fwt__error_text(buf, n, j);
        assert_non_null(t);
        fwt__free_mem(t);
        if (j)
            cJSON_Delete(j);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror_all),
        cmocka_unit_test(test_err_records),
        cmocka_unit_test(test_last_error_thread_local),
        cmocka_unit_test(test_check_name),
        cmocka_unit_test(test_allocator_hooks),
        cmocka_unit_test(test_allocator_refused_with_live_client),
        cmocka_unit_test(test_json_getters),
        cmocka_unit_test(test_json_parse_rejects),
        cmocka_unit_test(test_error_text),
        cmocka_unit_test(test_reply_map),
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_resolve_checkpoint_path),
        cmocka_unit_test(test_checkpoint_type_names),
        cmocka_unit_test(test_batch_validation),
        cmocka_unit_test(test_client_options),
        cmocka_unit_test(test_misc),
        cmocka_unit_test(test_uuid4_pool),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_scrub_weird_keys),
        cmocka_unit_test(test_parsers_survive_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
