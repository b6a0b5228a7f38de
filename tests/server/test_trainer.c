/* fwtrain-local data plane: seq_id ordering, idempotent submits, long-poll, checkpoints, load rules, TTL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "local_server.h"
#include "srv_http.h"

#define KEY "trainer-key"
#define LONG_POLL_MS 300

static fwt_local_server *srv;
static const char *base;

static int setup(void **state)
{
    (void)state;
    static const char *args[] = {"--long-poll-ms", "300", "--job-start-ms", "0", "--ttl-sweep-ms", "100",
                                 "--model-dim", "8", "--seed", "11", NULL};
    return srv_group_setup(&srv, &base, KEY, args);
}

static int teardown(void **state)
{
    (void)state;
    return srv_group_teardown(srv);
}

static const char *DATUM =
    "{\"model_input\":{\"chunks\":[{\"type\":\"encoded_text\",\"tokens\":[104,101,108,108,111,32,119]}]},"
    "\"loss_fn_inputs\":{\"target_tokens\":{\"data\":[101,108,108,111,32,119,111],\"dtype\":\"int64\"},"
    "\"weights\":{\"data\":[1,1,1,1,1,1,1],\"dtype\":\"float32\"}}}";

static char *fb_body(const char *mid, int seq, const char *op)
{
    char *b = malloc(2048);
    snprintf(b, 2048, "{\"model_id\":\"%s\",\"seq_id\":%d,\"type\":\"%s\",\"%s_input\":{\"data\":[%s],"
             "\"loss_fn\":\"cross_entropy\"}}", mid, seq, op, op, DATUM);
    return b;
}

static char *optim_body(const char *mid, int seq)
{
    char *b = malloc(512);
    snprintf(b, 512, "{\"model_id\":\"%s\",\"seq_id\":%d,\"type\":\"optim_step\",\"adam_params\":"
             "{\"learning_rate\":0.05,\"beta1\":0.9,\"beta2\":0.95,\"eps\":1e-8}}", mid, seq);
    return b;
}

static char *logprobs_text(const cJSON *res)
{
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(res, "loss_fn_outputs");
    const cJSON *lp = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(outs, 0), "logprobs");
    return cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(lp, "data"));
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Ops submitted out of order run in seq_id order: the result equals the in-order run on a twin model. */
static void test_seq_order(void **state)
{
    (void)state;
    char *m1 = srv_setup_model(base, KEY, "seq-a");
    char *m2 = srv_setup_model(base, KEY, "seq-b");
    assert_non_null(m1);
    assert_non_null(m2);
    /* reference, in order */
    char *b;
    cJSON *r;
    r = srv_op(base, KEY, "seq-b", "forward_backward", b = fb_body(m2, 1, "forward_backward"));
    free(b);
    cJSON_Delete(r);
    r = srv_op(base, KEY, "seq-b", "optim_step", b = optim_body(m2, 2));
    free(b);
    cJSON_Delete(r);
    cJSON *ref = srv_op(base, KEY, "seq-b", "forward", b = fb_body(m2, 3, "forward"));
    free(b);
    assert_non_null(ref);

    /* reversed submits */
    char *id3 = srv_submit(base, KEY, "seq-a", "forward", b = fb_body(m1, 3, "forward"), "k3");
    free(b);
    char *id2 = srv_submit(base, KEY, "seq-a", "optim_step", b = optim_body(m1, 2), "k2");
    free(b);
    assert_non_null(id3);
    assert_non_null(id2);
    /* seq 3 waits for 1: a retrieve is held ~long-poll-ms then says try_again */
    char path[256], rb[256];
    snprintf(path, sizeof path, "/training/v1/rlorTrainerJobs/local/seq-a/api/v1/retrieve_future");
    snprintf(rb, sizeof rb, "{\"request_id\":\"%s\"}", id3);
    srv_resp resp;
    srv_call(&resp, base, KEY, "POST", path, rb);
    assert_int_equal(resp.status, 200);
    assert_string_equal(str(resp.json, "type"), "try_again");
    assert_string_equal(str(resp.json, "request_id"), id3);
    assert_string_equal(str(resp.json, "queue_state"), "active");
    assert_true(resp.seconds >= LONG_POLL_MS / 1000.0 * 0.9);
    assert_true(resp.seconds < 5.0);
    srv_resp_free(&resp);
    /* a repeated submit with the same seq_id and key gets the same promise; another key is refused */
    char *again = srv_submit(base, KEY, "seq-a", "optim_step", b = optim_body(m1, 2), "k2");
    assert_non_null(again);
    assert_string_equal(again, id2);
    free(again);
    char url[512];
    snprintf(url, sizeof url, "%s/training/v1/rlorTrainerJobs/local/seq-a/api/v1/optim_step", base);
    const char *other[] = {"X-Idempotency-Key: k-other", NULL};
    srv_req(&resp, "POST", url, KEY, b, other, 5000);
    assert_int_equal(resp.status, 400);
    srv_resp_free(&resp);
    free(b);
    char *id1 = srv_submit(base, KEY, "seq-a", "forward_backward", b = fb_body(m1, 1, "forward_backward"), "k1");
    free(b);
    cJSON *got = srv_wait(base, KEY, "seq-a", id3);
    assert_non_null(got);
    char *x = logprobs_text(got), *y = logprobs_text(ref);
    assert_string_equal(x, y);
    free(x);
    free(y);
    /* a submit behind the sequence is refused */
    srv_req(&resp, "POST", url, KEY, b = optim_body(m1, 1), NULL, 5000);
    assert_int_equal(resp.status, 400);
    srv_resp_free(&resp);
    free(b);
    cJSON_Delete(got);
    cJSON_Delete(ref);
    free(id1);
    free(id2);
    free(id3);
    free(m1);
    free(m2);
}


typedef struct holder {
    const char *base;
    const char *body;
    int returned;
    int got_result;
} holder;

static void *holder_main(void *p)
{
    holder *h = p;
    srv_resp r;
    srv_call(&r, h->base, KEY, "POST", "/training/v1/rlorTrainerJobs/local/lp-b/api/v1/retrieve_future", h->body);
    const char *t = r.json ? str(r.json, "type") : NULL;
    h->got_result = r.status == 200 && t && !strcmp(t, "forward");
    srv_resp_free(&r);
    __atomic_store_n(&h->returned, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

/* Held long-polls do not starve other requests (one thread per connection), and a held poll returns as soon
 * as its op completes. A server of its own with a long hold keeps this independent of machine load. */
static void test_long_poll_no_starvation(void **state)
{
    (void)state;
    static const char *args[] = {"--long-poll-ms", "20000", "--job-start-ms", "0", "--model-dim", "4", NULL};
    fwt_local_server *s2 = srv_start(KEY, args);
    assert_non_null(s2);
    const char *b2 = fwt_local_server_url(s2);
    char *m = srv_setup_model(b2, KEY, "lp-b");
    assert_non_null(m);
    char *b;
    char *id = srv_submit(b2, KEY, "lp-b", "forward", b = fb_body(m, 2, "forward"), NULL); /* waits for seq 1 */
    free(b);
    char body[256];
    snprintf(body, sizeof body, "{\"request_id\":\"%s\"}", id);
    pthread_t th[6];
    holder h[6];
    for (int i = 0; i < 6; i++) {
        h[i] = (holder){b2, body, 0, 0};
        pthread_create(&th[i], NULL, holder_main, &h[i]);
    }
    struct timespec ts = {0, 100 * 1000000L};
    nanosleep(&ts, NULL);
    srv_resp r;
    srv_call(&r, b2, KEY, "GET", "/v1/accounts", NULL);
    assert_int_equal(r.status, 200);
    assert_true(r.seconds < 5.0);
    srv_resp_free(&r);
    for (int i = 0; i < 6; i++)
        assert_int_equal(__atomic_load_n(&h[i].returned, __ATOMIC_SEQ_CST), 0); /* still held */
    char *id1 = srv_submit(b2, KEY, "lp-b", "forward", b = fb_body(m, 1, "forward"), NULL);
    free(b);
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        assert_true(h[i].got_result);
    }
    free(id1);
    free(id);
    free(m);
    assert_int_equal(srv_finish(s2), 0);
}

/* fmt is always one of this file's literals with %s (model), %d (seq), %s (arg) */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static cJSON *op_fmt(const char *job, const char *op, const char *fmt, const char *mid, int seq, const char *arg)
{
    char b[6000];
    snprintf(b, sizeof b, fmt, mid, seq, arg);
    return srv_op(base, KEY, job, op, b);
}
#pragma GCC diagnostic pop

/* Submits a training op that must be refused: HTTP 400 with an error body containing needle. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void expect_400(const char *job, const char *op, const char *fmt, const char *mid, int seq, const char *arg,
                       const char *needle)
{
    char b[6000], path[256];
    snprintf(b, sizeof b, fmt, mid, seq, arg);
    snprintf(path, sizeof path, "/training/v1/rlorTrainerJobs/local/%s/api/v1/%s", job, op);
    srv_resp resp;
    srv_call(&resp, base, KEY, "POST", path, b);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(resp.json, "message");
    if (resp.status != 400 || !cJSON_IsString(msg) || !strstr(msg->valuestring, needle))
        fail_msg("%s seq %d: HTTP %ld %s (wanted 400 with \"%s\")", op, seq, resp.status, resp.body ? resp.body : "",
                 needle);
    srv_resp_free(&resp);
}
#pragma GCC diagnostic pop

static const char *err_category(const cJSON *r)
{
    return r && str(r, "error") ? str(r, "category") : NULL;
}

static void test_checkpoints_and_load(void **state)
{
    (void)state;
    const char *J = "ck-a";
    char *m = srv_setup_model(base, KEY, J);
    int seq = 1;
    char *b;
    cJSON *r = srv_op(base, KEY, J, "forward_backward", b = fb_body(m, seq++, "forward_backward"));
    free(b);
    cJSON_Delete(r);
    r = srv_op(base, KEY, J, "optim_step", b = optim_body(m, seq++));
    free(b);
    cJSON_Delete(r);
    r = op_fmt(J, "save_weights", "{\"model_id\":\"%s\",\"seq_id\":%d,\"path\":\"%s\",\"type\":\"save_weights\"}", m,
               seq++, "step-1");
    assert_string_equal(str(r, "path"), "step-1");
    cJSON_Delete(r);
    cJSON *before = srv_op(base, KEY, J, "forward", b = fb_body(m, seq++, "forward"));
    free(b);
    r = op_fmt(J, "save_weights_for_sampler",
               "{\"model_id\":\"%s\",\"seq_id\":%d,\"path\":\"%s\",\"checkpoint_type\":\"base\"}", m, seq++, "samp-0-aaaa0000");
    assert_string_equal(str(r, "path"), "samp-0-aaaa0000");
    cJSON_Delete(r);
    /* train more, then load step-1 back: forward equals the forward right after the save */
    for (int i = 0; i < 2; i++) {
        r = srv_op(base, KEY, J, "forward_backward", b = fb_body(m, seq++, "forward_backward"));
        free(b);
        cJSON_Delete(r);
        r = srv_op(base, KEY, J, "optim_step", b = optim_body(m, seq++));
        assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "metrics"), "step")
                             ->valuedouble,
                         2 + i);
        free(b);
        cJSON_Delete(r);
    }
    cJSON *moved = srv_op(base, KEY, J, "forward", b = fb_body(m, seq++, "forward"));
    free(b);
    char *x = logprobs_text(before), *y = logprobs_text(moved);
    assert_string_not_equal(x, y);
    free(y);
    r = op_fmt(J, "load_weights", "{\"model_id\":\"%s\",\"seq_id\":%d,\"path\":\"%s\",\"optimizer\":true}", m, seq++,
               "step-1");
    assert_null(str(r, "error"));
    cJSON_Delete(r);
    cJSON *after = srv_op(base, KEY, J, "forward", b = fb_body(m, seq++, "forward"));
    free(b);
    y = logprobs_text(after);
    assert_string_equal(x, y);
    free(y);
    /* optimizer:true restored step 1 -> next step is 2; optimizer:false resets to step 0 -> next is 1 */
    r = srv_op(base, KEY, J, "forward_backward", b = fb_body(m, seq++, "forward_backward"));
    free(b);
    cJSON_Delete(r);
    r = srv_op(base, KEY, J, "optim_step", b = optim_body(m, seq++));
    free(b);
    assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "metrics"), "step")->valuedouble, 2);
    cJSON_Delete(r);
    r = op_fmt(J, "load_weights", "{\"model_id\":\"%s\",\"seq_id\":%d,\"path\":\"%s\",\"optimizer\":false}", m, seq++,
               "cross_job://ck-a/step-1");
    assert_null(str(r, "error"));
    cJSON_Delete(r);
    r = srv_op(base, KEY, J, "forward_backward", b = fb_body(m, seq++, "forward_backward"));
    free(b);
    cJSON_Delete(r);
    r = srv_op(base, KEY, J, "optim_step", b = optim_body(m, seq++));
    free(b);
    assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "metrics"), "step")->valuedouble, 1);
    cJSON_Delete(r);
    /* absolute path inside the data dir */
    char abs[4200];
    snprintf(abs, sizeof abs, "%s/jobs/ck-a/checkpoints/step-1", fwt_local_server_data_dir(srv));
    r = op_fmt(J, "load_weights", "{\"model_id\":\"%s\",\"seq_id\":%d,\"path\":\"%s\"}", m, seq++, abs);
    assert_null(str(r, "error"));
    cJSON_Delete(r);
    /* user errors: a sampler snapshot, an unknown name, a path outside the data dir, a bad loss */
    r = op_fmt(J, "load_weights", "{\"model_id\":\"%s\",\"seq_id\":%d,\"path\":\"%s\"}", m, seq++, "samp-0-aaaa0000");
    assert_string_equal(err_category(r), "user");
    cJSON_Delete(r);
    r = op_fmt(J, "load_weights", "{\"model_id\":\"%s\",\"seq_id\":%d,\"path\":\"%s\"}", m, seq++, "nope");
    assert_string_equal(err_category(r), "user");
    cJSON_Delete(r);
    r = op_fmt(J, "load_weights", "{\"model_id\":\"%s\",\"seq_id\":%d,\"path\":\"%s\"}", m, seq++, "/etc/passwd");
    assert_string_equal(err_category(r), "user");
    cJSON_Delete(r);
    /* a bad forward batch is refused with 400 naming the field, yet takes its seq_id (the ops behind it run) */
    expect_400(J, "forward_backward",
               "{\"model_id\":\"%s\",\"seq_id\":%d,\"forward_backward_input\":{\"data\":[],\"loss_fn\":\"%s\"}}", m,
               seq++, "grpo", "unknown loss_fn \"grpo\"");
    expect_400(J, "forward_backward",
               "{\"model_id\":\"%s\",\"seq_id\":%d,\"forward_backward_input\":{\"data\":[{\"model_input\":{\"chunks\":"
               "[{\"tokens\":[300]}]},\"loss_fn_inputs\":{\"target_tokens\":{\"data\":[1]}}}],\"loss_fn\":\"%s\"}}",
               m, seq++, "cross_entropy", "0..255");
    expect_400(J, "forward",
               "{\"model_id\":\"%s\",\"seq_id\":%d,\"forward_input\":{\"data\":[{\"model_input\":{\"chunks\":"
               "[{\"tokens\":[1]}]},\"loss_fn_inputs\":{\"target_tokens\":{\"data\":[1]},\"logprobs\":{\"data\":[-1]}}}],"
               "\"loss_fn\":\"%s\"}}",
               m, seq++, "ppo", "advantages is required by ppo");
    r = op_fmt(J, "save_weights_for_sampler", "{\"model_id\":\"%s\",\"seq_id\":%d,\"path\":\"%s\"}", m, seq++, "../x");
    assert_string_equal(err_category(r), "user");
    cJSON_Delete(r);
    /* the sequence keeps moving after failed ops */
    r = srv_op(base, KEY, J, "forward", b = fb_body(m, seq++, "forward"));
    free(b);
    assert_null(str(r, "error"));
    cJSON_Delete(r);
    /* trainer listing: DCP names only, sorted */
    srv_resp resp;
    srv_call(&resp, base, KEY, "GET", "/training/v1/rlorTrainerJobs/local/ck-a/api/v1/list_checkpoints", NULL);
    assert_int_equal(resp.status, 200);
    char *lst = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(resp.json, "checkpoints"));
    assert_string_equal(lst, "[\"step-1\"]");
    free(lst);
    srv_resp_free(&resp);
    /* unload: later submits for the model are 404 */
    char ub[256];
    snprintf(ub, sizeof ub, "{\"model_id\":\"%s\",\"type\":\"unload_model\"}", m);
    r = srv_op(base, KEY, J, "unload_model", ub);
    assert_string_equal(str(r, "type"), "unload_model");
    cJSON_Delete(r);
    char url[512];
    snprintf(url, sizeof url, "%s/training/v1/rlorTrainerJobs/local/ck-a/api/v1/forward", base);
    srv_req(&resp, "POST", url, KEY, b = fb_body(m, seq++, "forward"), NULL, 5000);
    assert_int_equal(resp.status, 404);
    srv_resp_free(&resp);
    free(b);
    free(x);
    cJSON_Delete(before);
    cJSON_Delete(moved);
    cJSON_Delete(after);
    free(m);
}

static int64_t parse_time_us(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    assert_non_null(p);
    int64_t us = (int64_t)timegm(&tm) * 1000000;
    if (*p == '.') {
        long frac = strtol(p + 1, NULL, 10);
        us += frac;
        assert_int_equal(strlen(p), 8); /* ".ffffffZ" */
    } else {
        assert_string_equal(p, "Z");
    }
    return us;
}

static void test_listing_and_ttl(void **state)
{
    (void)state;
    const char *J = "ttl-a";
    char *m = srv_setup_model(base, KEY, J);
    int seq = 1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof name, "keep-%d", i);
        cJSON *r = op_fmt(J, "save_weights", "{\"model_id\":\"%s\",\"seq_id\":%d,\"path\":\"%s\"}", m, seq++, name);
        assert_null(str(r, "error"));
        cJSON_Delete(r);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* The short-lived checkpoints must outlive the listing below (a save and four pages, about what the
     * five saves took): their TTL is 10 times that, at least 3 s, so a loaded machine cannot expire them early. */
    double five_saves = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    int ttl = five_saves * 10 > 3 ? (int)(five_saves * 10) + 1 : 3;
    char body[512];
    snprintf(body, sizeof body, "{\"model_id\":\"%s\",\"seq_id\":%d,\"path\":\"short\",\"ttl_seconds\":%d}", m, seq++, ttl);
    cJSON *r = srv_op(base, KEY, J, "save_weights", body);
    assert_null(str(r, "error"));
    cJSON_Delete(r);
    snprintf(body, sizeof body,
             "{\"model_id\":\"%s\",\"seq_id\":%d,\"path\":\"short-samp\",\"checkpoint_type\":\"base\",\"ttl_seconds\":%d}",
             m, seq++, ttl);
    r = srv_op(base, KEY, J, "save_weights_for_sampler", body);
    cJSON_Delete(r);
    /* paged listing, oldest first, mixed precision, types */
    int rows = 0, pages = 0, saw_sec = 0, saw_us = 0, saw_short = 0;
    int64_t last = 0;
    char token[64] = "";
    do {
        char path[256];
        snprintf(path, sizeof path, "/v1/accounts/local/rlorTrainerJobs/%s/checkpoints?pageSize=2%s%s", J,
                 token[0] ? "&pageToken=" : "", token);
        srv_resp resp;
        srv_call(&resp, base, KEY, "GET", path, NULL);
        assert_int_equal(resp.status, 200);
        pages++;
        const cJSON *row;
        cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(resp.json, "checkpoints"))
        {
            rows++;
            const char *ct = str(row, "createTime");
            int64_t t = parse_time_us(ct);
            if (strchr(ct, '.'))
                saw_us = 1;
            else
                saw_sec = 1;
            assert_true(t > last);
            last = t;
            const char *name = str(row, "name");
            assert_non_null(strstr(name, "accounts/local/rlorTrainerJobs/ttl-a/checkpoints/"));
            if (strstr(name, "short-samp")) {
                assert_string_equal(str(row, "checkpointType"), "CHECKPOINT_TYPE_INFERENCE_BASE");
                assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(row, "promotable")));
            } else {
                assert_string_equal(str(row, "checkpointType"), "CHECKPOINT_TYPE_TRAINING");
                assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(row, "promotable")));
            }
            if (strstr(name, "/short"))
                saw_short++;
        }
        const char *nt = str(resp.json, "nextPageToken");
        snprintf(token, sizeof token, "%s", nt ? nt : "");
        srv_resp_free(&resp);
    } while (token[0] && pages < 10);
    assert_int_equal(rows, 7);
    assert_int_equal(pages, 4);
    assert_int_equal(saw_short, 2);
    assert_true(saw_sec && saw_us); /* docs/protocol.md §9: precisions are mixed */
    /* after the TTL the sweep removes both short-lived checkpoints; the others stay */
    struct timespec ts = {ttl, 300 * 1000000L};
    nanosleep(&ts, NULL);
    srv_resp resp;
    srv_call(&resp, base, KEY, "GET", "/v1/accounts/local/rlorTrainerJobs/ttl-a/checkpoints", NULL);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(resp.json, "checkpoints")), 5);
    assert_null(strstr(resp.body, "short"));
    srv_resp_free(&resp);
    r = op_fmt(J, "load_weights", "{\"model_id\":\"%s\",\"seq_id\":%d,\"path\":\"%s\"}", m, seq++, "short");
    assert_string_equal(err_category(r), "user");
    cJSON_Delete(r);
    free(m);
}

/* create_model retried with the same session + model_seq_id returns the same promise */
static void test_create_model_idempotent(void **state)
{
    (void)state;
    char *m = srv_setup_model(base, KEY, "cm-a");
    assert_non_null(m);
    srv_resp r;
    srv_call(&r, base, KEY, "POST", "/training/v1/rlorTrainerJobs/local/cm-a/api/v1/create_session", "{}");
    char body[256];
    snprintf(body, sizeof body, "{\"session_id\":\"%s\",\"model_seq_id\":3}", str(r.json, "session_id"));
    srv_resp_free(&r);
    char *a = srv_submit(base, KEY, "cm-a", "create_model", body, NULL);
    char *b = srv_submit(base, KEY, "cm-a", "create_model", body, NULL);
    assert_string_equal(a, b);
    free(a);
    free(b);
    free(m);
}

/* allow_metadata_only:true on a finished op -> complete_metadata with the payload size; false -> the payload */
static void test_metadata_only(void **state)
{
    (void)state;
    char *m = srv_setup_model(base, KEY, "md-a");
    char *b;
    char *id = srv_submit(base, KEY, "md-a", "forward", b = fb_body(m, 1, "forward"), NULL);
    free(b);
    cJSON *full = srv_wait(base, KEY, "md-a", id);
    assert_non_null(full);
    char body[256];
    snprintf(body, sizeof body, "{\"request_id\":\"%s\",\"allow_metadata_only\":true}", id);
    srv_resp r;
    srv_call(&r, base, KEY, "POST", "/training/v1/rlorTrainerJobs/local/md-a/api/v1/retrieve_future", body);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "status"), "complete_metadata");
    char *txt = cJSON_PrintUnformatted(full);
    assert_int_equal((size_t)cJSON_GetObjectItemCaseSensitive(r.json, "response_payload_size")->valuedouble, strlen(txt));
    free(txt);
    srv_resp_free(&r);
    snprintf(body, sizeof body, "{\"request_id\":\"%s\",\"allow_metadata_only\":\"yes\"}", id);
    srv_call(&r, base, KEY, "POST", "/training/v1/rlorTrainerJobs/local/md-a/api/v1/retrieve_future", body);
    assert_int_equal(r.status, 400);
    srv_resp_free(&r);
    cJSON_Delete(full);
    free(id);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seq_order),
        cmocka_unit_test(test_long_poll_no_starvation),
        cmocka_unit_test(test_checkpoints_and_load),
        cmocka_unit_test(test_listing_and_ttl),
        cmocka_unit_test(test_create_model_idempotent),
        cmocka_unit_test(test_metadata_only),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
