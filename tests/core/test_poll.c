/* The retrieve_future matrix (docs/protocol.md §4.2 as refined by §11.6) against the fake trainer, on a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core_test_util.h"

typedef struct fx {
    fclock clk;
    trainer *tr;
    fwt_client *c;
    fwt_training *t;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    fclock_init(&f->clk);
    f->tr = trainer_start(&f->clk);
    assert_non_null(f->tr);
    f->c = tr_client(f->tr, &f->clk, NULL);
    assert_non_null(f->c);
    f->t = tr_training(f->tr, f->c, 0, 0);
    assert_non_null(f->t);
    assert_int_equal(fwt_training_create_model_result(f->t, 20000), FWT_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    fwt_training_free(f->t);
    fwt_client_free(f->c);
    trainer_stop(f->tr);
    pthread_mutex_destroy(&f->clk.mu);
    free(f);
    return 0;
}

/* Run one save_state; returns its status. *first_poll gets the index of its first retrieve_future. */
static int save(fx *f, int *first_poll)
{
    *first_poll = tr_get(f->tr, &f->tr->polls);
    char *p = NULL;
    int rc = fwt_training_save_state_result(&p, f->t, "ck", 0, 20000);
    fwt_free(p);
    return rc;
}

/* Virtual gap between poll i and i+1. */
static uint64_t gap(fx *f, int i)
{
    pthread_mutex_lock(&f->tr->mu);
    uint64_t g = f->tr->poll_vtime[i + 1] - f->tr->poll_vtime[i];
    pthread_mutex_unlock(&f->tr->mu);
    return g;
}

static void test_try_again_floor_and_headers(void **state)
{
    fx *f = *state;
    for (int i = 0; i < 3; i++)
        tr_push_poll(f->tr, 200, "{\"type\":\"try_again\",\"request_id\":\"x\",\"queue_state\":\"active\"}");
    int p0;
    assert_int_equal(save(f, &p0), FWT_OK);
    assert_int_equal(tr_get(f->tr, &f->tr->polls) - p0, 4);
    for (int i = 0; i < 3; i++)
        assert_int_equal(gap(f, p0 + i), 100); /* poll_floor_ms: a fast try_again waits out the floor */
    for (int i = 0; i < 4; i++)
        assert_int_equal(f->tr->poll_iter[p0 + i], i);
    size_t n = fwt_responder_request_count(f->tr->r);
    int seen0 = 0, seen_other = 0;
    for (size_t i = 0; i < n; i++) {
        fwt_resp_request *q = fwt_responder_request_copy(f->tr->r, i);
        const char *rt = route_of(q->path);
        if (rt && !strcmp(rt, "retrieve_future")) {
            const char *it = fwt_resp_request_header(q, "X-Tinker-Request-Iteration");
            const char *rtt = fwt_resp_request_header(q, "X-Tinker-Create-Promise-Roundtrip-Time");
            const char *ty = fwt_resp_request_header(q, "X-Tinker-Request-Type");
            assert_non_null(ty);
            if (!strcmp(it, "0")) {
                assert_non_null(rtt);
                seen0++;
            } else {
                assert_null(rtt);
                seen_other++;
            }
            assert_null(fwt_resp_request_header(q, "Accept") && strstr(fwt_resp_request_header(q, "Accept"), "protobuf")
                            ? "proto"
                            : NULL);
            cJSON *j = cJSON_Parse(q->body);
            assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "request_id")));
            assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "allow_metadata_only")));
            cJSON_Delete(j);
            if (!strcmp(it, "1"))
                assert_string_equal(ty, "SaveWeights");
        }
        fwt_resp_request_free(q);
    }
    assert_true(seen0 >= 2 && seen_other >= 3); /* create_model's poll + ours */
}

static void test_complete_metadata_408_5xx(void **state)
{
    fx *f = *state;
    tr_push_poll(f->tr, 200, "{\"status\":\"complete_metadata\",\"response_payload_size\":10}");
    tr_push_poll(f->tr, 408, "{\"type\":\"try_again\",\"queue_state\":\"paused_capacity\"}");
    tr_push_poll(f->tr, 500, "oops");
    tr_push_poll(f->tr, 502, "");
    tr_push_poll(f->tr, 503, "{}");
    int p0;
    assert_int_equal(save(f, &p0), FWT_OK);
    assert_int_equal(tr_get(f->tr, &f->tr->polls) - p0, 6);
    for (int i = 0; i < 5; i++)
        assert_int_equal(gap(f, p0 + i), 100);
}

static void test_429_backoff_and_reset(void **state)
{
    fx *f = *state;
    tr_push_poll(f->tr, 429, "{}");
    tr_push_poll(f->tr, 429, "{}");
    tr_push_poll(f->tr, 429, "{}");
    tr_push_poll(f->tr, 200, "{\"type\":\"try_again\"}"); /* any other response resets k */
    tr_push_poll(f->tr, 429, "{}");
    int p0;
    assert_int_equal(save(f, &p0), FWT_OK);
    assert_int_equal(tr_get(f->tr, &f->tr->polls) - p0, 6);
    assert_int_equal(gap(f, p0 + 0), 1000);
    assert_int_equal(gap(f, p0 + 1), 2000);
    assert_int_equal(gap(f, p0 + 2), 4000);
    assert_int_equal(gap(f, p0 + 3), 100);
    assert_int_equal(gap(f, p0 + 4), 1000);
}

static void test_backoff_cap(void **state)
{
    fx *f = *state;
    for (int i = 0; i < 7; i++)
        tr_push_poll(f->tr, 429, "{}");
    int p0;
    assert_int_equal(save(f, &p0), FWT_OK);
    assert_int_equal(gap(f, p0 + 4), 16000);
    assert_int_equal(gap(f, p0 + 5), 30000); /* capped */
    assert_int_equal(gap(f, p0 + 6), 30000);
}

static void test_connection_class(void **state)
{
    fx *f = *state;
    tr_push_poll(f->tr, -1, NULL); /* connection dropped */
    tr_push_poll(f->tr, 400, NULL); /* 400 with an empty body: proxy rejection */
    tr_push_poll(f->tr, -1, NULL);
    int p0;
    assert_int_equal(save(f, &p0), FWT_OK);
    assert_int_equal(tr_get(f->tr, &f->tr->polls) - p0, 4);
    assert_int_equal(gap(f, p0 + 0), 1000);
    assert_int_equal(gap(f, p0 + 1), 2000);
    assert_int_equal(gap(f, p0 + 2), 4000);
}

static void test_400_budget(void **state)
{
    fx *f = *state;
    int p0;
    for (int i = 0; i < 3; i++)
        tr_push_poll(f->tr, 400, "{\"message\":\"bad\"}");
    assert_int_equal(save(f, &p0), FWT_OK); /* three retries are allowed */
    for (int i = 0; i < 4; i++)
        tr_push_poll(f->tr, 400, "{\"message\":\"bad request\"}");
    assert_int_equal(save(f, &p0), FWT_EHTTP);
    assert_int_equal(fwt_error_last()->http_status, 400);
    assert_non_null(strstr(fwt_error_last()->message, "bad request"));
    assert_int_equal(tr_get(f->tr, &f->tr->polls) - p0, 4);
    /* a 408 with a JSON body resets the budget */
    tr_push_poll(f->tr, 400, "{\"message\":\"b\"}");
    tr_push_poll(f->tr, 400, "{\"message\":\"b\"}");
    tr_push_poll(f->tr, 408, "{\"type\":\"try_again\"}");
    tr_push_poll(f->tr, 400, "{\"message\":\"b\"}");
    tr_push_poll(f->tr, 400, "{\"message\":\"b\"}");
    tr_push_poll(f->tr, 400, "{\"message\":\"b\"}");
    assert_int_equal(save(f, &p0), FWT_OK);
    /* a 408 without JSON does not */
    tr_push_poll(f->tr, 400, "{\"message\":\"b\"}");
    tr_push_poll(f->tr, 400, "{\"message\":\"b\"}");
    tr_push_poll(f->tr, 408, "timeout");
    tr_push_poll(f->tr, 400, "{\"message\":\"b\"}");
    tr_push_poll(f->tr, 400, "{\"message\":\"b\"}");
    assert_int_equal(save(f, &p0), FWT_EHTTP);
}

static void test_410_expired_never_resubmitted(void **state)
{
    fx *f = *state;
    int subs = tr_get(f->tr, &f->tr->n_submits);
    tr_push_poll(f->tr, 410, "{\"message\":\"promise gone\"}");
    int p0;
    assert_int_equal(save(f, &p0), FWT_EEXPIRED);
    assert_non_null(strstr(fwt_error_last()->message, "not re-submitted"));
    assert_int_equal(fwt_error_last()->http_status, 410);
    usleep(20000);
    assert_int_equal(tr_get(f->tr, &f->tr->n_submits), subs + 1);
    assert_int_equal(tr_get(f->tr, &f->tr->polls) - p0, 1);
}

static void test_402_billing_pause(void **state)
{
    fx *f = *state;
    tr_push_poll(f->tr, 402, "{\"message\":\"billing\"}");
    tr_push_poll(f->tr, 402, "{\"message\":\"billing\"}");
    int p0;
    assert_int_equal(save(f, &p0), FWT_OK);
    assert_int_equal(gap(f, p0), 5000);
    assert_int_equal(gap(f, p0 + 1), 5000);
    if (getenv("FWT_UNDER_VALGRIND"))
        return; /* 720 polls: too slow under valgrind */
    for (int i = 0; i < 725; i++)
        tr_push_poll(f->tr, 402, "{}");
    assert_int_equal(save(f, &p0), FWT_EHTTP);
    assert_non_null(strstr(fwt_error_last()->message, "billing"));
    assert_int_equal(tr_get(f->tr, &f->tr->polls) - p0, 721); /* 3600 s / 5 s + the first */
    pthread_mutex_lock(&f->tr->mu);
    f->tr->poll_head = f->tr->poll_tail; /* drop the leftovers */
    pthread_mutex_unlock(&f->tr->mu);
}

static void test_fatal_4xx(void **state)
{
    fx *f = *state;
    int p0;
    tr_push_poll(f->tr, 404, "{\"message\":\"no such future\"}");
    assert_int_equal(save(f, &p0), FWT_ENOTFOUND);
    assert_non_null(strstr(fwt_error_last()->message, "no such future"));
    tr_push_poll(f->tr, 401, "{\"message\":\"key\"}");
    assert_int_equal(save(f, &p0), FWT_EAUTH);
    tr_push_poll(f->tr, 403, "{}");
    assert_int_equal(save(f, &p0), FWT_EAUTH);
    tr_push_poll(f->tr, 409, "{}");
    assert_int_equal(save(f, &p0), FWT_ECONFLICT);
    assert_int_equal(tr_get(f->tr, &f->tr->polls) - p0, 1);
}

static void test_remote_error_categories(void **state)
{
    fx *f = *state;
    int p0;
    tr_push_poll(f->tr, 200, "{\"error\":\"loading a sampler dir as DCP\",\"category\":\"user\"}");
    assert_int_equal(save(f, &p0), FWT_EREMOTE);
    assert_int_equal(fwt_error_last()->category, FWT_CATEGORY_USER);
    assert_non_null(strstr(fwt_error_last()->message, "sampler dir"));
    assert_non_null(strstr(fwt_error_last()->request_id, "save_weights-"));
    tr_push_poll(f->tr, 200, "{\"error\":\"x\",\"category\":\"weird\"}");
    assert_int_equal(save(f, &p0), FWT_EREMOTE);
    assert_int_equal(fwt_error_last()->category, FWT_CATEGORY_UNKNOWN);
    tr_push_poll(f->tr, 200, "{\"error\":{\"detail\":1}}");
    assert_int_equal(save(f, &p0), FWT_EREMOTE);
    assert_int_equal(fwt_error_last()->category, FWT_CATEGORY_UNKNOWN);
    tr_push_poll(f->tr, 200, "{\"error\":\"x\",\"category\":\"server\"}");
    assert_int_equal(save(f, &p0), FWT_EREMOTE);
    assert_int_equal(fwt_error_last()->category, FWT_CATEGORY_SERVER);
}

static void test_malformed_poll_replies(void **state)
{
    fx *f = *state;
    int p0;
    tr_push_poll(f->tr, 200, "garbage");
    assert_int_equal(save(f, &p0), FWT_EPROTO);
    tr_push_poll(f->tr, 200, "\"just a string\"");
    assert_int_equal(save(f, &p0), FWT_EPROTO);
    tr_push_poll(f->tr, 200, "");
    assert_int_equal(save(f, &p0), FWT_EPROTO);
    tr_push_poll(f->tr, 200, "{\"type\":\"try_again\"");
    assert_int_equal(save(f, &p0), FWT_EPROTO);
}

/* docs/protocol.md §2.3: a 402 on a submit is retried every 5 s with the same seq_id and key; the sequence stays intact. */
static void test_submit_402_billing(void **state)
{
    fx *f = *state;
    int s0 = tr_get(f->tr, &f->tr->n_submits);
    tr_push_submit(f->tr, 402, "{\"message\":\"billing paused\"}");
    tr_push_submit(f->tr, 402, "{\"message\":\"billing paused\"}");
    int p0;
    assert_int_equal(save(f, &p0), FWT_OK);
    assert_int_equal(save(f, &p0), FWT_OK);
    pthread_mutex_lock(&f->tr->mu);
    assert_int_equal(f->tr->n_submits - s0, 4);
    tr_submit *s = &f->tr->submits[s0];
    for (int i = 1; i < 3; i++) {
        assert_int_equal(s[i].seq_id, s[0].seq_id);
        assert_string_equal(s[i].idem, s[0].idem);
        assert_int_equal(s[i].vtime - s[i - 1].vtime, 5000);
    }
    assert_int_equal(s[3].seq_id, s[0].seq_id + 1);
    pthread_mutex_unlock(&f->tr->mu);

    /* past the 3600 s window the op fails */
    if (getenv("FWT_UNDER_VALGRIND"))
        return; /* 721 submits within save()'s 20 s real-time bound: too slow under valgrind on a loaded machine */
    for (int i = 0; i < 725; i++)
        tr_push_submit(f->tr, 402, "{}");
    s0 = tr_get(f->tr, &f->tr->n_submits);
    assert_int_equal(save(f, &p0), FWT_EHTTP);
    assert_int_equal(tr_get(f->tr, &f->tr->n_submits) - s0, 721);
    pthread_mutex_lock(&f->tr->mu);
    f->tr->submit_head = f->tr->submit_tail;
    pthread_mutex_unlock(&f->tr->mu);
}

/* Cancelling an op whose submit is in a billing pause gives its seq_id to the next op (no hole, no broken sequence). */
static void test_submit_402_cancel_returns_seq(void **state)
{
    fx *f = *state;
    int s0 = tr_get(f->tr, &f->tr->n_submits);
    pthread_mutex_lock(&f->tr->mu);
    f->tr->submit_sticky = 402;
    pthread_mutex_unlock(&f->tr->mu);
    fwt_future *a = NULL, *b = NULL;
    assert_int_equal(fwt_training_save_state(&a, f->t, "a", 0), FWT_OK);
    for (int i = 0; i < 5000 && tr_get(f->tr, &f->tr->n_submits) - s0 < 2; i++)
        usleep(1000);
    assert_int_equal(fwt_training_save_state(&b, f->t, "b", 0), FWT_OK);
    assert_int_equal(fwt_future_cancel(a), FWT_OK);
    assert_int_equal(fwt_future_wait(a, 5000), FWT_OK);
    assert_int_equal(fwt_future_status(a), FWT_ECANCELED);
    /* Billing ends only once b is submitting: a's last submit may still have been in flight at the cancel. */
    for (int i = 0; i < 5000; i++) {
        pthread_mutex_lock(&f->tr->mu);
        int n = f->tr->n_submits;
        int b_seen = strcmp(f->tr->submits[n - 1].idem, f->tr->submits[s0].idem) != 0;
        pthread_mutex_unlock(&f->tr->mu);
        if (b_seen)
            break;
        usleep(1000);
    }
    pthread_mutex_lock(&f->tr->mu);
    f->tr->submit_sticky = 0; /* billing over */
    int64_t a_seq = f->tr->submits[s0].seq_id;
    pthread_mutex_unlock(&f->tr->mu);
    assert_int_equal(fwt_future_wait(b, 20000), FWT_OK);
    assert_int_equal(fwt_future_status(b), FWT_OK);
    pthread_mutex_lock(&f->tr->mu);
    int n = f->tr->n_submits;
    if (getenv("DBG"))
        for (int i = s0; i < n; i++)
            fprintf(stderr, "submit %d %s seq %lld acc %d idem %.8s\n", i, f->tr->submits[i].route,
                    (long long)f->tr->submits[i].seq_id, f->tr->submits[i].accepted, f->tr->submits[i].idem);
    assert_true(f->tr->submits[n - 1].accepted);
    assert_int_equal(f->tr->submits[n - 1].seq_id, a_seq); /* b took a's seq_id */
    pthread_mutex_unlock(&f->tr->mu);
    fwt_future_free(a);
    fwt_future_free(b);
    int p0;
    assert_int_equal(save(f, &p0), FWT_OK); /* the sequence is not broken */
    pthread_mutex_lock(&f->tr->mu);
    assert_int_equal(f->tr->submits[f->tr->n_submits - 1].seq_id, a_seq + 1);
    pthread_mutex_unlock(&f->tr->mu);
}

/* A 503 before the 402 may have been accepted: after a cancel the op keeps its seq_id and re-submits with its key. */
static void test_submit_402_after_retry_keeps_seq(void **state)
{
    fx *f = *state;
    int s0 = tr_get(f->tr, &f->tr->n_submits);
    tr_push_submit(f->tr, 503, "{}");
    pthread_mutex_lock(&f->tr->mu);
    f->tr->submit_sticky_after_queue = 402;
    pthread_mutex_unlock(&f->tr->mu);
    fwt_future *a = NULL, *b = NULL;
    assert_int_equal(fwt_training_save_state(&a, f->t, "a", 0), FWT_OK);
    for (int i = 0; i < 5000 && tr_get(f->tr, &f->tr->n_submits) - s0 < 3; i++)
        usleep(1000);
    assert_int_equal(fwt_training_save_state(&b, f->t, "b", 0), FWT_OK);
    assert_int_equal(fwt_future_cancel(a), FWT_OK);
    assert_int_equal(fwt_future_wait(a, 5000), FWT_OK);
    assert_int_equal(fwt_future_status(a), FWT_ECANCELED);
    pthread_mutex_lock(&f->tr->mu);
    f->tr->submit_sticky_after_queue = 0; /* billing over: a's next attempt is accepted */
    pthread_mutex_unlock(&f->tr->mu);
    assert_int_equal(fwt_future_wait(b, 20000), FWT_OK);
    assert_int_equal(fwt_future_status(b), FWT_OK);
    pthread_mutex_lock(&f->tr->mu);
    int n = f->tr->n_submits;
    tr_submit *s = &f->tr->submits[s0];
    int64_t a_seq = s[0].seq_id;
    int a_accepted = 0;
    for (int i = s0; i < n; i++) {
        tr_submit *x = &f->tr->submits[i];
        if (!strcmp(x->idem, s[0].idem)) {
            assert_int_equal(x->seq_id, a_seq); /* every attempt of a: same seq_id and key */
            a_accepted |= x->accepted;
        } else {
            assert_int_equal(x->seq_id, a_seq + 1); /* b never reuses a's seq_id */
        }
    }
    assert_true(a_accepted);
    pthread_mutex_unlock(&f->tr->mu);
    fwt_future_free(a);
    fwt_future_free(b);
}

static pthread_mutex_t g_log_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_warned, g_recovered;

static void hb_log(int level, const char *msg, void *payload)
{
    (void)payload;
    pthread_mutex_lock(&g_log_mu);
    if (level == FWT_LOG_WARN && strstr(msg, "heartbeats have failed"))
        g_warned++;
    if (strstr(msg, "heartbeat recovered"))
        g_recovered++;
    pthread_mutex_unlock(&g_log_mu);
}

static int log_count(int *v)
{
    pthread_mutex_lock(&g_log_mu);
    int n = *v;
    pthread_mutex_unlock(&g_log_mu);
    return n;
}

/* Heartbeats: no retries; a warning once failures have lasted 120 s (virtual), then "recovered". */
static void test_heartbeat_warns_after_120s(void **state)
{
    fx *f = *state;
    /* A second engine on the same fake clock would advance virtual time too: keep only ours. */
    fwt_training_free(f->t);
    fwt_client_free(f->c);
    f->t = NULL;
    f->c = NULL;
    fwt_client_options o;
    fwt_client_options_init(&o, FWT_CLIENT_OPTIONS_VERSION);
    o.heartbeat_interval_ms = 10000;
    o.log_fn = hb_log;
    o.log_level = FWT_LOG_INFO;
    fwt_client *c = tr_client(f->tr, &f->clk, &o);
    pthread_mutex_lock(&f->tr->mu);
    f->tr->hb_status = 503;
    int h0 = f->tr->hb_count;
    pthread_mutex_unlock(&f->tr->mu);
    fwt_training *t = tr_training(f->tr, c, 0, 0);
    assert_non_null(t);
    for (int i = 0; i < 5000 && !log_count(&g_warned); i++)
        usleep(1000);
    assert_int_equal(log_count(&g_warned), 1);
    int beats = tr_get(f->tr, &f->tr->hb_count) - h0;
    assert_true(beats >= 13); /* 120 s of 10 s beats, one attempt each (no retries) */
    pthread_mutex_lock(&f->tr->mu);
    f->tr->hb_status = 0;
    pthread_mutex_unlock(&f->tr->mu);
    for (int i = 0; i < 5000 && !log_count(&g_recovered); i++)
        usleep(1000);
    assert_int_equal(log_count(&g_recovered), 1);
    assert_int_equal(log_count(&g_warned), 1);
    fwt_training_free(t);
    fwt_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_try_again_floor_and_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_complete_metadata_408_5xx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_429_backoff_and_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backoff_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_class, setup, teardown),
        cmocka_unit_test_setup_teardown(test_400_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_410_expired_never_resubmitted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_402_billing_pause, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fatal_4xx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remote_error_categories, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_poll_replies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat_warns_after_120s, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_402_billing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_402_cancel_returns_seq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_402_after_retry_keeps_seq, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
