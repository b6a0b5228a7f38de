/*
 * Scrub before anything is kept or cut (README "Safety"): a server that echoes
 * the API key into every header and body position, on every error path (4xx,
 * 5xx after retries, 401, 403, plain-text and huge bodies, an oversized body,
 * a promotion operation's error and progress text, a training future's error),
 * must leave no copy of the key and no 8-byte piece of it in fwt_error messages
 * and request ids, in the log (at DEBUG), nor in the fwtrain CLI's output.
 * The key is placed where a bounded copy would cut it (240 bytes into the
 * engine's 256-byte header slot, 140 into the 160-byte request id of
 * fwt_error_last, 190 into a 200-character error text).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "control_test_util.h"
#include "core_test_util.h"
#include "http/engine.h"
#include "proc.h"

#define KEY TEST_KEY /* core_test_util.h's fake trainer client uses it too */

static char g_headers[2048];     /* every echoed header */
static char g_plain_cut[1024];   /* plain text, the key across the 200-character cut */
static char *g_huge;             /* 2 MiB of text with the key every 4 KiB */
static char g_json[1024];        /* JSON error with the key in message and other fields */
static char g_op_error[1024];    /* promotion operation, done, error echoing the key */
static char g_op_running[1024];  /* promotion operation running, status text echoing the key */
static char g_rows[1024];        /* checkpoint listing echoing the key in a row */

static void build_bodies(void)
{
    char pad140[141], pad190[191];
    memset(pad140, 'h', 140);
    pad140[140] = '\0';
    memset(pad190, 'p', 190);
    pad190[190] = '\0';
    snprintf(g_headers, sizeof g_headers,
             "x-request-id: %s%s\r\nx-debug: %s\r\nretry-after: %s\r\ndate: %s\r\nx-should-retry: %s\r\n"
             "www-authenticate: Bearer realm=\"%s\"\r\n",
             pad140, KEY, KEY, KEY, KEY, KEY, KEY);
    snprintf(g_plain_cut, sizeof g_plain_cut, "  %s%s and again %s  ", pad190, KEY, KEY);
    size_t huge = 2u << 20;
    g_huge = malloc(huge + 1);
    assert_non_null(g_huge);
    for (size_t i = 0; i < huge; i++)
        g_huge[i] = (char)('a' + i % 26);
    for (size_t at = 198; at + sizeof KEY < huge; at += 4096)
        memcpy(g_huge + at, KEY, sizeof KEY - 1);
    g_huge[huge] = '\0';
    snprintf(g_json, sizeof g_json,
             "{\"error\":{\"message\":\"%s%s rejected\",\"code\":3,\"details\":[\"%s\"]},\"message\":\"%s\"}", pad190, KEY,
             KEY, KEY);
    snprintf(g_op_error, sizeof g_op_error,
             "{\"operation\":{\"name\":\"accounts/acct/operations/op-%s\",\"done\":true,"
             "\"error\":{\"code\":6,\"message\":\"%s%s already exists\"}}}",
             "1", pad190, KEY);
    snprintf(g_op_running, sizeof g_op_running,
             "{\"operation\":{\"name\":\"accounts/acct/operations/op-1\",\"done\":false,"
             "\"metadata\":{\"status_message\":\"copying %s%s\"}}}",
             pad190, KEY);
    snprintf(g_rows, sizeof g_rows,
             "{\"checkpoints\":[{\"name\":\"accounts/acct/rlorTrainerJobs/j/checkpoints/step-1-%.8s\","
             "\"createTime\":\"%s\",\"checkpointType\":\"%s\",\"promotable\":true}]}",
             "0a0b0c0d", KEY, KEY);
}

/* The echo server: which answer depends on the path; every answer carries the echoed headers. */
static void echo_handler(const fwt_resp_request *req, fwt_resp_action *out, void *ud)
{
    (void)ud;
    const char *p = req->path;
    out->extra_headers = g_headers;
    out->content_type = "application/json";
    if (strstr(p, "/jobs400")) {
        out->status = 400;
        out->body = g_json;
    } else if (strstr(p, "/jobs500")) {
        out->status = 500;
        out->content_type = "text/plain";
        out->body = g_plain_cut;
    } else if (strstr(p, "/jobs401")) {
        out->status = 401;
        out->body = g_json;
    } else if (strstr(p, "/jobs403")) {
        out->status = 403;
        out->content_type = "text/html";
        out->body = g_plain_cut;
    } else if (strstr(p, "/jobshuge")) {
        out->status = 404;
        out->content_type = "text/plain";
        out->body = g_huge;
        out->body_len = 512 * 1024; /* under the cap: kept, scrubbed, cut to an error text */
    } else if (strstr(p, "/jobsbig")) {
        out->status = 200;
        out->body = g_huge; /* over the client's max_response_bytes below */
    } else if (strstr(p, ":promote")) {
        out->body = g_op_running;
    } else if (strstr(p, "/operations/")) {
        out->body = g_op_error;
    } else if (strstr(p, "/checkpoints")) {
        out->body = g_rows;
    } else {
        out->status = 404;
        out->body = g_json;
    }
}

typedef struct sink {
    pthread_mutex_t mu;
    char *text;
    size_t len;
} sink;

static void sink_log(int level, const char *msg, void *payload)
{
    (void)level;
    sink *s = payload;
    pthread_mutex_lock(&s->mu);
    size_t n = strlen(msg);
    char *t = realloc(s->text, s->len + n + 2);
    if (t) {
        memcpy(t + s->len, msg, n);
        s->len += n;
        t[s->len++] = '\n';
        t[s->len] = '\0';
        s->text = t;
    }
    pthread_mutex_unlock(&s->mu);
}

/* Append the last error's message and request id. */
static void keep_error(sink *s, const fwt_error *e)
{
    char line[2048];
    snprintf(line, sizeof line, "error %d: %s | request id: %s", e->code, e->message, e->request_id);
    sink_log(0, line, s);
}

/* No copy and no 8-byte piece of the key in text. */
static void assert_clean(const char *what, const char *text, size_t len)
{
    static const char key[] = KEY;
    const size_t klen = sizeof key - 1;
    for (size_t i = 0; i + 8 <= klen; i++) {
        const char *hit = memmem(text, len, key + i, 8);
        if (hit)
            fail_msg("%s holds key bytes %zu..%zu: ...%.80s...", what, i, i + 8,
                     hit - text > 40 ? hit - 40 : text);
    }
}

static void test_library_paths(void **state)
{
    (void)state;
    fwt_responder *srv;
    assert_int_equal(fwt_responder_start(&srv, echo_handler, NULL), 0);
    char *base = fwt_responder_url(srv, "");
    sink s = {.text = NULL};
    pthread_mutex_init(&s.mu, NULL);
    fwt_client_options o = cfx_client_options(base, KEY);
    o.log_fn = sink_log;
    o.log_payload = &s;
    o.log_level = FWT_LOG_DEBUG;
    o.retry_budget_ms = 300;
    o.max_response_bytes = 1 << 20;
    fwt_client *c = NULL;
    assert_int_equal(fwt_client_new(&c, &o), FWT_OK);

    static const struct {
        const char *job;
        int want;
    } calls[] = {
        {"jobs400", FWT_EINVAL}, {"jobs500", FWT_EHTTP},      {"jobs401", FWT_EAUTH},
        {"jobs403", FWT_EAUTH},  {"jobshuge", FWT_ENOTFOUND}, {"jobsbig", FWT_ETOOLARGE},
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        fwt_job *j = NULL;
        int rc = fwt_job_get(&j, c, calls[i].job);
        if (rc != calls[i].want)
            fail_msg("%s: got %d (%s), want %d", calls[i].job, rc, fwt_error_last()->message, calls[i].want);
        keep_error(&s, fwt_error_last());
    }
    /* the error text still says something useful: the cut keeps the text, not the key */
    fwt_job *j = NULL;
    fwt_job_get(&j, c, "jobs500");
    assert_non_null(strstr(fwt_error_last()->message, "pppp"));
    assert_non_null(strstr(fwt_error_last()->request_id, "hhhh"));

    /* a checkpoint listing whose rows echo the key */
    fwt_checkpoint_list *l = NULL;
    if (fwt_job_list_checkpoints(&l, c, "j", NULL) == FWT_OK) {
        for (size_t i = 0; i < fwt_checkpoint_list_count(l); i++) {
            const fwt_checkpoint_row *r = fwt_checkpoint_list_get(l, i);
            const char *t = fwt_checkpoint_row_type(r);
            assert_clean("checkpoint row", t, strlen(t));
        }
    } else {
        keep_error(&s, fwt_error_last());
    }
    fwt_checkpoint_list_free(l);

    /* a promotion whose progress text and final error echo the key */
    fwt_promote_options po;
    fwt_promote_options_init(&po, FWT_PROMOTE_OPTIONS_VERSION);
    po.wait.poll_interval_ms = 1;
    po.wait.timeout_ms = 5000;
    fwt_model *m = NULL;
    int rc = fwt_promote_checkpoint_result(&m, c, "accounts/acct/rlorTrainerJobs/j/checkpoints/step-1-0a0b0c0d", "m1",
                                           "accounts/fireworks/models/b", &po, 10000);
    assert_int_equal(rc, FWT_ECONFLICT);
    keep_error(&s, fwt_error_last());
    fwt_client_free(c);

    assert_non_null(s.text);
    assert_clean("errors and log", s.text, s.len);
    /* the log did see the echoing server (so the check above had something to check) */
    assert_non_null(strstr(s.text, "jobs500"));
    assert_non_null(strstr(s.text, "[REDACTED]"));
    free(s.text);
    pthread_mutex_destroy(&s.mu);
    free(base);
    fwt_responder_stop(srv);
}

/* The engine itself: a request id whose key straddles the engine's 256-byte slot. */
static void test_engine_header_slot(void **state)
{
    (void)state;
    fwt_responder *srv;
    assert_int_equal(fwt_responder_start(&srv, NULL, NULL), 0);
    char hdr[512], pad[241];
    memset(pad, 'h', 240);
    pad[240] = '\0';
    snprintf(hdr, sizeof hdr, "x-request-id: %s%s-tail-tail\r\n", pad, KEY);
    fwt_resp_action a = {.status = 502, .extra_headers = hdr, .body = "x"};
    fwt_responder_push(srv, &a);
    fwt__engine *e;
    fwt__engine_config cfg = {.redact = KEY};
    assert_int_equal(fwt__engine_new(&e, &cfg), FWT_OK);
    char *url = fwt_responder_url(srv, "/x");
    fwt__http_spec s = {.method = "GET", .url = url};
    fwt__http_result *res = NULL;
    assert_int_equal(fwt__engine_run(e, &s, &res), FWT_OK);
    assert_int_equal(res->http_status, 502);
    /* a bounded copy of the raw value would end in the key's first 15 bytes */
    assert_int_equal(strlen(res->request_id), 255);
    assert_int_equal(strncmp(res->request_id, pad, 240), 0);
    assert_string_equal(res->request_id + 240, "[REDACTED]-tail");
    assert_clean("engine request id", res->request_id, strlen(res->request_id));
    fwt__http_result_free(res);
    fwt__engine_free(e);
    free(url);
    fwt_responder_stop(srv);
}

/* A training future whose error echoes the key. */
static void test_future_error(void **state)
{
    (void)state;
    fclock clk;
    fclock_init(&clk);
    trainer *tr = trainer_start(&clk);
    assert_non_null(tr);
    sink s = {.text = NULL};
    pthread_mutex_init(&s.mu, NULL);
    fwt_client_options o;
    fwt_client_options_init(&o, FWT_CLIENT_OPTIONS_VERSION);
    o.log_fn = sink_log;
    o.log_payload = &s;
    o.log_level = FWT_LOG_DEBUG;
    fwt_client *c = tr_client(tr, &clk, &o);
    assert_non_null(c);
    fwt_training *t = tr_training(tr, c, 0, 0);
    assert_non_null(t);
    assert_int_equal(fwt_training_create_model_result(t, 20000), FWT_OK);
    tr_push_poll(tr, 200, "{\"error\":\"                                                                            "
                          "                                                                                  " KEY
                          " is not allowed " KEY "\",\"category\":\"user\"}");
    char *p = NULL;
    assert_int_equal(fwt_training_save_state_result(&p, t, "ck", 0, 20000), FWT_EREMOTE);
    keep_error(&s, fwt_error_last());
    assert_non_null(strstr(fwt_error_last()->message, "is not allowed"));
    fwt_training_free(t);
    fwt_client_free(c);
    trainer_stop(tr);
    assert_clean("future error and log", s.text, s.len);
    free(s.text);
    pthread_mutex_destroy(&s.mu);
}

/* The CLI against the echo server: stdout and stderr, with --verbose. */
static void test_cli_output(void **state)
{
    (void)state;
    fwt_responder *srv;
    assert_int_equal(fwt_responder_start(&srv, echo_handler, NULL), 0);
    char *base = fwt_responder_url(srv, "");
    setenv("FIREWORKS_API_KEY", KEY, 1);
    setenv("FIREWORKS_BASE_URL", base, 1);
    setenv("FIREWORKS_ACCOUNT_ID", "acct", 1);
    char *runs[][12] = {
        {FWT_CLI, "-v", "checkpoints", "list", "--job-id", "jobs500", "--timeout", "0.3", NULL},
        {FWT_CLI, "-v", "checkpoints", "list", "--job-id", "j", NULL},
        {FWT_CLI, "-v", "checkpoints", "list", "--job-id", "j", "--json", NULL},
        {FWT_CLI, "-v", "promote", "--job-id", "j", "--base-model", "accounts/fireworks/models/b", "--output-model-id",
         "m1", "--poll-interval-ms", "1", NULL},
    };
    size_t seen = 0;
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        proc_result r;
        assert_int_equal(proc_run(&r, runs[i], 0), 0);
        assert_clean("fwtrain stdout", r.out, strlen(r.out));
        assert_clean("fwtrain stderr", r.err, strlen(r.err));
        seen += strlen(r.err);
        proc_result_free(&r);
    }
    assert_true(seen > 0);
    unsetenv("FIREWORKS_ACCOUNT_ID");
    free(base);
    fwt_responder_stop(srv);
}

int main(void)
{
    build_bodies();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engine_header_slot),
        cmocka_unit_test(test_library_paths),
        cmocka_unit_test(test_future_error),
        cmocka_unit_test(test_cli_output),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(g_huge);
    return rc;
}
