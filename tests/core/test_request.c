/* Request layer and client against the responder: auth headers, retry classes, error mapping, account, logging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdatomic.h>

#include "core_test_util.h"

typedef struct fx {
    fwt_responder *r;
    fwt_client *c;
    char *base;
} fx;

static pthread_mutex_t g_log_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_log[16384];
static int g_log_leak;

static void log_fn(int level, const char *msg, void *payload)
{
    (void)level;
    (void)payload;
    pthread_mutex_lock(&g_log_mu);
    if (strstr(msg, TEST_KEY))
        g_log_leak = 1;
    strncat(g_log, msg, sizeof g_log - strlen(g_log) - 2);
    strncat(g_log, "\n", sizeof g_log - strlen(g_log) - 1);
    pthread_mutex_unlock(&g_log_mu);
}

static fwt_client *mk_client(fx *f, const char *account)
{
    fwt_client_options o;
    fwt_client_options_init(&o, FWT_CLIENT_OPTIONS_VERSION);
    o.api_key = TEST_KEY;
    o.base_url = f->base;
    o.account_id = account;
    o.retry_base_ms = 5;
    o.retry_cap_ms = 20;
    o.retry_budget_ms = 5000;
    o.log_level = FWT_LOG_DEBUG;
    o.log_fn = log_fn;
    fwt_client *c = NULL;
    assert_int_equal(fwt_client_new(&c, &o), FWT_OK);
    return c;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_int_equal(fwt_responder_start(&f->r, NULL, NULL), 0);
    f->base = fwt_responder_url(f->r, "");
    f->c = mk_client(f, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    fwt_client_free(f->c);
    fwt_responder_stop(f->r);
    free(f->base);
    free(f);
    pthread_mutex_lock(&g_log_mu);
    assert_int_equal(g_log_leak, 0); /* the key never reached the log sink */
    g_log[0] = '\0';
    pthread_mutex_unlock(&g_log_mu);
    return 0;
}

static void push(fx *f, int status, const char *body)
{
    fwt_resp_action a = {.status = status, .content_type = "application/json", .body = body};
    fwt_responder_push(f->r, &a);
}

static int call(fx *f, const char *method, fwt__retry_class rc, fwt__reply *out)
{
    char *url = fwt__url_join(f->base, "/v1/thing");
    cJSON *body = NULL;
    if (strcmp(method, "GET") != 0) {
        body = cJSON_CreateObject();
        cJSON_AddStringToObject(body, "k", "v");
    }
    fwt__call c = {.plane = FWT__PLANE_CONTROL, .method = method, .url = url, .body = body, .retry = rc};
    int r = fwt__call_sync(f->c, &c, out);
    cJSON_Delete(body);
    fwt__free_mem(url);
    return r;
}

static void test_headers_and_body(void **state)
{
    fx *f = *state;
    push(f, 200, "{\"ok\":true}");
    fwt__reply r;
    assert_int_equal(call(f, "POST", FWT__RC_NONE, &r), FWT_OK);
    assert_int_equal(r.http_status, 200);
    assert_non_null(r.json);
    fwt__reply_clear(&r);
    fwt_resp_request *q = fwt_responder_request_copy(f->r, 0);
    assert_string_equal(fwt_resp_request_header(q, "X-Api-Key"), TEST_KEY);
    assert_string_equal(fwt_resp_request_header(q, "Authorization"), "Bearer " TEST_KEY);
    assert_string_equal(fwt_resp_request_header(q, "Content-Type"), "application/json");
    assert_non_null(fwt_resp_request_header(q, "X-Idempotency-Key"));
    assert_string_equal(q->body, "{\"k\":\"v\"}");
    assert_non_null(strstr(fwt_resp_request_header(q, "User-Agent"), "libfwtrain/0.1.0"));
    fwt_resp_request_free(q);
}

static void test_error_mapping_and_hint(void **state)
{
    fx *f = *state;
    fwt__reply r;
    push(f, 401, "{\"error\":{\"message\":\"invalid key " TEST_KEY "\"}}");
    assert_int_equal(call(f, "GET", FWT__RC_CONTROL, &r), FWT_EAUTH);
    assert_non_null(strstr(fwt_error_last()->message, "training-scoped"));
    assert_non_null(strstr(fwt_error_last()->message, "invalid key [REDACTED]"));
    assert_null(strstr(fwt_error_last()->message, TEST_KEY));
    assert_int_equal(fwt_error_last()->http_status, 401);
    fwt__reply_clear(&r);
    push(f, 404, "{\"message\":\"RlorTrainerJob x not found\",\"code\":5}");
    assert_int_equal(call(f, "GET", FWT__RC_CONTROL, &r), FWT_ENOTFOUND);
    assert_string_equal(fwt_error_last()->message, "RlorTrainerJob x not found (HTTP 404)");
    fwt__reply_clear(&r);
    push(f, 403, "{\"message\":\"\",\"code\":7}");
    assert_int_equal(call(f, "GET", FWT__RC_CONTROL, &r), FWT_EAUTH);
    fwt__reply_clear(&r);
    fwt_resp_action html = {.status = 418, .body = "  <html>teapot</html>  "};
    fwt_responder_push(f->r, &html);
    assert_int_equal(call(f, "GET", FWT__RC_CONTROL, &r), FWT_EHTTP);
    assert_string_equal(fwt_error_last()->message, "<html>teapot</html> (HTTP 418)");
    assert_null(r.json);
    fwt__reply_clear(&r);
    push(f, 200, "{not json");
    assert_int_equal(call(f, "GET", FWT__RC_CONTROL, &r), FWT_OK);
    assert_null(r.json); /* callers decide: malformed JSON is FWT_EPROTO at their level */
    fwt__reply_clear(&r);
}

static void test_retry_classes(void **state)
{
    fx *f = *state;
    fwt__reply r;
    /* control: 503 retried */
    push(f, 503, "{}");
    push(f, 200, "{}");
    assert_int_equal(call(f, "GET", FWT__RC_CONTROL, &r), FWT_OK);
    assert_int_equal(r.attempts, 2);
    fwt__reply_clear(&r);
    /* control: 425 and 409 are not retried */
    push(f, 425, "{\"message\":\"hotloading\"}");
    assert_int_equal(call(f, "GET", FWT__RC_CONTROL, &r), FWT_EHTTP);
    assert_int_equal(r.attempts, 1);
    fwt__reply_clear(&r);
    push(f, 409, "{}");
    assert_int_equal(call(f, "POST", FWT__RC_CONTROL, &r), FWT_ECONFLICT);
    fwt__reply_clear(&r);
    /* submit: 409, 507 and an empty 400 are retried, with one idempotency key */
    size_t base = fwt_responder_request_count(f->r);
    push(f, 409, "{}");
    push(f, 507, "{}");
    fwt_resp_action empty400 = {.status = 400};
    fwt_responder_push(f->r, &empty400);
    push(f, 200, "{\"request_id\":\"x\"}");
    assert_int_equal(call(f, "POST", FWT__RC_SUBMIT, &r), FWT_OK);
    assert_int_equal(r.attempts, 4);
    fwt__reply_clear(&r);
    fwt_resp_request *q0 = fwt_responder_request_copy(f->r, base);
    for (size_t i = 1; i < 4; i++) {
        fwt_resp_request *qi = fwt_responder_request_copy(f->r, base + i);
        assert_string_equal(fwt_resp_request_header(qi, "X-Idempotency-Key"),
                            fwt_resp_request_header(q0, "X-Idempotency-Key"));
        assert_string_equal(qi->body, q0->body);
        fwt_resp_request_free(qi);
    }
    fwt_resp_request_free(q0);
    /* none: one attempt */
    push(f, 503, "{}");
    assert_int_equal(call(f, "GET", FWT__RC_NONE, &r), FWT_EHTTP);
    assert_int_equal(r.attempts, 1);
    fwt__reply_clear(&r);
}

typedef struct wk {
    fx *f;
    atomic_int rc;
    atomic_int done;
} wk;

static void sync_on_worker(void *ud)
{
    wk *w = ud;
    fwt__reply r;
    atomic_store(&w->rc, call(w->f, "GET", FWT__RC_NONE, &r));
    fwt__reply_clear(&r);
    atomic_store(&w->done, 1);
}

static void test_sync_on_worker_refused(void **state)
{
    fx *f = *state;
    wk w = {.f = f};
    assert_int_equal(fwt__engine_post(fwt__client_engine(f->c), 0, sync_on_worker, &w, NULL), FWT_OK);
    for (int i = 0; i < 1000 && !atomic_load(&w.done); i++)
        usleep(1000);
    assert_int_equal(atomic_load(&w.rc), FWT_ESTATE);
    assert_int_equal(fwt_responder_request_count(f->r), 0);
}

static void test_account_resolution(void **state)
{
    fx *f = *state;
    const char *acct = NULL;
    push(f, 200, "{\"accounts\":[{\"name\":\"accounts/acme\"}]}");
    assert_int_equal(fwt_client_account_id(&acct, f->c), FWT_OK);
    assert_string_equal(acct, "acme");
    assert_int_equal(fwt_client_account_id(&acct, f->c), FWT_OK); /* cached */
    assert_int_equal(fwt_responder_request_count(f->r), 1);
    fwt_resp_request *q = fwt_responder_request_copy(f->r, 0);
    assert_string_equal(q->path, "/v1/accounts?pageSize=2");
    assert_string_equal(q->method, "GET");
    fwt_resp_request_free(q);

    fwt_client *c0 = mk_client(f, NULL);
    push(f, 200, "{}");
    assert_int_equal(fwt_client_account_id(&acct, c0), FWT_ENOTFOUND);
    push(f, 200, "{\"accounts\":[]}");
    assert_int_equal(fwt_client_account_id(&acct, c0), FWT_ENOTFOUND);
    push(f, 200, "{\"accounts\":[{\"name\":\"accounts/a\"},{\"name\":\"accounts/b\"}]}");
    assert_int_equal(fwt_client_account_id(&acct, c0), FWT_EUNSUPPORTED);
    assert_non_null(strstr(fwt_error_last()->message, "several accounts (\"a\", \"b\")"));
    push(f, 200, "{\"accounts\":[{\"name\":\"bogus\"}]}");
    assert_int_equal(fwt_client_account_id(&acct, c0), FWT_EPROTO);
    push(f, 200, "{\"accounts\":[{\"name\":\"accounts/..\"}]}");
    assert_int_equal(fwt_client_account_id(&acct, c0), FWT_EPROTO);
    push(f, 200, "{\"accounts\":\"x\"}");
    assert_int_equal(fwt_client_account_id(&acct, c0), FWT_EPROTO);
    push(f, 403, "{\"message\":\"nope\"}");
    assert_int_equal(fwt_client_account_id(&acct, c0), FWT_EAUTH);
    fwt_client_free(c0);

    size_t n = fwt_responder_request_count(f->r);
    fwt_client *c1 = mk_client(f, "given");
    assert_int_equal(fwt_client_account_id(&acct, c1), FWT_OK);
    assert_string_equal(acct, "given");
    assert_int_equal(fwt_responder_request_count(f->r), n); /* no lookup */
    fwt_client_free(c1);
    assert_int_equal(fwt_client_account_id(NULL, f->c), FWT_EINVAL);
}

typedef struct acct_thread {
    fwt_client *c;
    int rc;
    const char *acct;
} acct_thread;

static void *acct_worker(void *ud)
{
    acct_thread *a = ud;
    a->rc = fwt_client_account_id(&a->acct, a->c);
    return NULL;
}

static void test_account_once_across_threads(void **state)
{
    fx *f = *state;
    fwt_resp_action a = {.status = 200, .body = "{\"accounts\":[{\"name\":\"accounts/acme\"}]}", .delay_headers_ms = 30};
    fwt_responder_set_default(f->r, &a);
    pthread_t th[4];
    acct_thread at[4];
    for (int i = 0; i < 4; i++) {
        at[i] = (acct_thread){.c = f->c};
        pthread_create(&th[i], NULL, acct_worker, &at[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(at[i].rc, FWT_OK);
        assert_string_equal(at[i].acct, "acme");
    }
    assert_int_equal(fwt_responder_request_count(f->r), 1);
}

static void test_log_never_sees_key(void **state)
{
    fx *f = *state;
    /* Server echoes the key back in an error, a header and a body; debug logging is on. */
    fwt_resp_action a = {.status = 500,
                         .extra_headers = "X-Echo: " TEST_KEY "\r\n",
                         .body = "{\"message\":\"bad key " TEST_KEY "\"}"};
    fwt_responder_push(f->r, &a);
    fwt__reply r;
    assert_int_equal(call(f, "POST", FWT__RC_NONE, &r), FWT_EHTTP);
    assert_null(strstr(r.err.pub.message, TEST_KEY));
    assert_null(strstr(fwt_error_last()->message, TEST_KEY));
    fwt__reply_clear(&r);
    pthread_mutex_lock(&g_log_mu);
    assert_true(strlen(g_log) > 0); /* something was logged at debug level */
    pthread_mutex_unlock(&g_log_mu);
    /* teardown checks that nothing logged contained the key */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_headers_and_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_mapping_and_hint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_classes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_on_worker_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_resolution, setup, teardown),
        cmocka_unit_test_setup_teardown(test_account_once_across_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_never_sees_key, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
