/* Sequencing (§4.3), submit retries, cancellation, op deadlines, teardown in every state, heartbeat. Real clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdatomic.h>

#include "trainer_fx.h"

typedef trainer_fx fx;

static fwt_client_options fast_options(int64_t heartbeat_ms)
{
    fwt_client_options o;
    fwt_client_options_init(&o, FWT_CLIENT_OPTIONS_VERSION);
    o.retry_base_ms = 5;
    o.retry_cap_ms = 20;
    o.retry_budget_ms = 10000;
    o.poll_floor_ms = 5;
    o.heartbeat_interval_ms = heartbeat_ms;
    return o;
}

static int setup(void **state)
{
    fwt_client_options o = fast_options(0);
    *state = trainer_fx_new(NULL, &o, 10000);
    return 0;
}

static int teardown(void **state)
{
    trainer_fx_free(*state);
    return 0;
}

typedef struct worker_arg {
    fwt_training *t;
    int n;
    int fails;
} worker_arg;

static void *submitter(void *ud)
{
    worker_arg *a = ud;
    a->fails = save_state_batch(a->t, "c", a->n, 20000);
    return NULL;
}

static void test_concurrent_seq_order(void **state)
{
    fx *f = *state;
    pthread_mutex_lock(&f->tr->mu);
    f->tr->submit_delay_ms = 3;
    int s0 = f->tr->n_submits;
    pthread_mutex_unlock(&f->tr->mu);
    enum { T = 4, N = 8 };
    pthread_t th[T];
    worker_arg a[T];
    for (int i = 0; i < T; i++) {
        a[i] = (worker_arg){.t = f->t, .n = N};
        pthread_create(&th[i], NULL, submitter, &a[i]);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(a[i].fails, 0);
    }
    pthread_mutex_lock(&f->tr->mu);
    assert_int_equal(f->tr->n_submits - s0, T * N);
    for (int i = 0; i < T * N; i++) {
        tr_submit *s = &f->tr->submits[s0 + i];
        assert_int_equal(s->seq_id, i + 1); /* strictly increasing, no gaps, 1-based */
        if (i > 0) /* one at a time: the next submit arrives only after the previous answer (3 ms later) */
            assert_true(s->real_ms >= f->tr->submits[s0 + i - 1].real_ms + 2);
    }
    pthread_mutex_unlock(&f->tr->mu);
}

static void test_submit_retry_same_seq_and_key(void **state)
{
    fx *f = *state;
    int s0 = tr_get(f->tr, &f->tr->n_submits);
    tr_push_submit(f->tr, 503, "{}");
    tr_push_submit(f->tr, 429, "{}");
    tr_push_submit(f->tr, 409, "{}");
    char *p = NULL;
    assert_int_equal(fwt_training_save_state_result(&p, f->t, "r", 0, 10000), FWT_OK);
    fwt_free(p);
    assert_int_equal(fwt_training_save_state_result(&p, f->t, "r2", 0, 10000), FWT_OK);
    fwt_free(p);
    pthread_mutex_lock(&f->tr->mu);
    assert_int_equal(f->tr->n_submits - s0, 5);
    for (int i = 1; i < 4; i++) {
        assert_int_equal(f->tr->submits[s0 + i].seq_id, f->tr->submits[s0].seq_id);
        assert_string_equal(f->tr->submits[s0 + i].idem, f->tr->submits[s0].idem);
    }
    assert_true(f->tr->submits[s0].idem[0] != '\0');
    assert_int_equal(f->tr->submits[s0 + 4].seq_id, f->tr->submits[s0].seq_id + 1);
    assert_string_not_equal(f->tr->submits[s0 + 4].idem, f->tr->submits[s0].idem);
    pthread_mutex_unlock(&f->tr->mu);
}

static void test_failed_submit_breaks_sequence(void **state)
{
    fx *f = *state;
    pthread_mutex_lock(&f->tr->mu);
    f->tr->submit_delay_ms = 50;
    pthread_mutex_unlock(&f->tr->mu);
    tr_push_submit(f->tr, 400, "{\"message\":\"bad seq\"}"); /* a 400 with a body is final for a submit */
    fwt_future *a = NULL, *b = NULL;
    assert_int_equal(fwt_training_save_state(&a, f->t, "a", 0), FWT_OK);
    assert_int_equal(fwt_training_save_state(&b, f->t, "b", 0), FWT_OK);
    assert_int_equal(fwt_future_wait(a, 10000), FWT_OK);
    assert_int_equal(fwt_future_wait(b, 10000), FWT_OK);
    assert_int_equal(fwt_future_status(a), FWT_EHTTP);
    assert_non_null(strstr(fwt_future_error(a)->message, "bad seq"));
    assert_int_equal(fwt_future_status(b), FWT_ESTATE);
    assert_non_null(strstr(fwt_future_error(b)->message, "sequence"));
    fwt_future_free(a);
    fwt_future_free(b);
    /* and from now on */
    assert_int_equal(fwt_training_save_state_result(NULL, f->t, "c", 0, 10000), FWT_ESTATE);
}

static void test_cancel_queued_leaves_no_hole(void **state)
{
    fx *f = *state;
    pthread_mutex_lock(&f->tr->mu);
    f->tr->submit_delay_ms = 400; /* b must still be queued when it is cancelled, even on a loaded machine */
    int s0 = f->tr->n_submits;
    pthread_mutex_unlock(&f->tr->mu);
    fwt_future *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(fwt_training_save_state(&a, f->t, "a", 0), FWT_OK);
    assert_int_equal(fwt_training_save_state(&b, f->t, "b", 0), FWT_OK);
    assert_int_equal(fwt_training_save_state(&c, f->t, "c", 0), FWT_OK);
    assert_int_equal(fwt_future_cancel(b), FWT_OK);
    assert_int_equal(fwt_future_wait(b, 5000), FWT_OK);
    assert_int_equal(fwt_future_status(b), FWT_ECANCELED);
    assert_int_equal(fwt_future_wait(a, 10000), FWT_OK);
    assert_int_equal(fwt_future_wait(c, 10000), FWT_OK);
    assert_int_equal(fwt_future_status(a), FWT_OK);
    assert_int_equal(fwt_future_status(c), FWT_OK);
    pthread_mutex_lock(&f->tr->mu);
    assert_int_equal(f->tr->n_submits - s0, 2);
    assert_int_equal(f->tr->submits[s0 + 1].seq_id, f->tr->submits[s0].seq_id + 1);
    pthread_mutex_unlock(&f->tr->mu);
    fwt_future_free(a);
    fwt_future_free(b);
    fwt_future_free(c);
}

static atomic_int g_cb_calls;
static void count_cb(fwt_future *fu, void *p)
{
    (void)fu;
    (void)p;
    atomic_fetch_add(&g_cb_calls, 1);
}

static void test_cancel_while_polling(void **state)
{
    fx *f = *state;
    /* The poll stalls (no answer): cancellation must cut it short. */
    pthread_mutex_lock(&f->tr->mu);
    f->tr->poll_q[f->tr->poll_tail++] = (tr_action){200, "{\"type\":\"try_again\"}", 30000};
    pthread_mutex_unlock(&f->tr->mu);
    atomic_store(&g_cb_calls, 0);
    fwt_future *a = NULL;
    int p0 = tr_get(f->tr, &f->tr->polls); /* before submitting: the poll may arrive at once */
    assert_int_equal(fwt_training_save_state(&a, f->t, "a", 0), FWT_OK);
    assert_int_equal(fwt_future_on_done(a, count_cb, NULL), FWT_OK);
    for (int i = 0; i < 2000 && tr_get(f->tr, &f->tr->polls) == p0; i++)
        usleep(1000);
    uint64_t t0 = mono_ms();
    assert_int_equal(fwt_future_cancel(a), FWT_OK);
    assert_int_equal(fwt_future_wait(a, 5000), FWT_OK);
    assert_true(mono_ms() - t0 < 2000);
    assert_int_equal(fwt_future_status(a), FWT_ECANCELED);
    fwt_future_free(a);
    assert_int_equal(atomic_load(&g_cb_calls), 1);
    usleep(30000);
    assert_int_equal(tr_get(f->tr, &f->tr->polls), p0 + 1); /* no further polls */
}

static void test_cancel_during_backoff(void **state)
{
    fx *f = *state;
    fwt_client_options o;
    fwt_client_options_init(&o, FWT_CLIENT_OPTIONS_VERSION);
    o.retry_base_ms = 60000; /* a long backoff timer */
    fwt_client *c = tr_client(f->tr, NULL, &o);
    fwt_training *t = tr_training(f->tr, c, 0, 0);
    assert_int_equal(fwt_training_create_model_result(t, 10000), FWT_OK);
    tr_push_poll(f->tr, 429, "{}");
    fwt_future *a = NULL;
    int p0 = tr_get(f->tr, &f->tr->polls);
    assert_int_equal(fwt_training_save_state(&a, t, "a", 0), FWT_OK);
    for (int i = 0; i < 2000 && tr_get(f->tr, &f->tr->polls) == p0; i++)
        usleep(1000);
    usleep(20000);
    uint64_t t0 = mono_ms();
    assert_int_equal(fwt_future_cancel(a), FWT_OK);
    assert_int_equal(fwt_future_wait(a, 5000), FWT_OK);
    assert_true(mono_ms() - t0 < 2000);
    assert_int_equal(fwt_future_status(a), FWT_ECANCELED);
    fwt_future_free(a);
    fwt_training_free(t);
    fwt_client_free(c);
}

static void test_op_timeout(void **state)
{
    fx *f = *state;
    fwt_training *t = tr_training(f->tr, f->c, 0, 300);
    assert_non_null(t);
    assert_int_equal(fwt_training_create_model_result(t, 10000), FWT_OK);
    pthread_mutex_lock(&f->tr->mu);
    for (int i = 0; i < 400; i++) /* try_again forever (5 ms floor) */
        f->tr->poll_q[f->tr->poll_tail++] = (tr_action){200, "{\"type\":\"try_again\"}", 0};
    pthread_mutex_unlock(&f->tr->mu);
    uint64_t t0 = mono_ms();
    char *p = NULL;
    assert_int_equal(fwt_training_save_state_result(&p, t, "slow", 0, 10000), FWT_ETIMEDOUT);
    uint64_t el = mono_ms() - t0;
    assert_true(el >= 250 && el < 5000);
    assert_non_null(strstr(fwt_error_last()->message, "op_timeout_ms"));
    assert_null(p);
    fwt_training_free(t);
    pthread_mutex_lock(&f->tr->mu);
    f->tr->poll_head = f->tr->poll_tail;
    pthread_mutex_unlock(&f->tr->mu);
}

static void test_wait_timeout_result_wrapper(void **state)
{
    fx *f = *state;
    pthread_mutex_lock(&f->tr->mu);
    f->tr->poll_q[f->tr->poll_tail++] = (tr_action){200, "{\"type\":\"try_again\"}", 30000};
    pthread_mutex_unlock(&f->tr->mu);
    uint64_t t0 = mono_ms();
    assert_int_equal(fwt_training_load_state_result(f->t, "x", 100), FWT_ETIMEDOUT);
    assert_true(mono_ms() - t0 < 3000);
}

static void test_training_free_with_pending_ops(void **state)
{
    fx *f = *state;
    fwt_training *t = tr_training(f->tr, f->c, 0, 0);
    assert_int_equal(fwt_training_create_model_result(t, 10000), FWT_OK);
    pthread_mutex_lock(&f->tr->mu);
    f->tr->submit_delay_ms = 50;
    f->tr->poll_q[f->tr->poll_tail++] = (tr_action){200, "{\"type\":\"try_again\"}", 30000};
    pthread_mutex_unlock(&f->tr->mu);
    fwt_future *fs[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(fwt_training_save_state(&fs[i], t, "p", 0), FWT_OK);
    usleep(120000); /* first polling (stalled), second submitting, others queued */
    fwt_training_free(t);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(fwt_future_wait(fs[i], 5000), FWT_OK);
        int st = fwt_future_status(fs[i]);
        assert_true(st == FWT_ECANCELED || st == FWT_OK);
        fwt_future_free(fs[i]);
    }
    assert_int_equal(fwt_future_status(NULL), FWT_EINVAL);
}

static void test_client_free_first(void **state)
{
    fx *f = *state;
    /* Both polls stall, whichever of a and b polls first. */
    pthread_mutex_lock(&f->tr->mu);
    f->tr->poll_q[f->tr->poll_tail++] = (tr_action){200, "{\"type\":\"try_again\"}", 30000};
    f->tr->poll_q[f->tr->poll_tail++] = (tr_action){200, "{\"type\":\"try_again\"}", 30000};
    pthread_mutex_unlock(&f->tr->mu);
    fwt_future *a = NULL, *b = NULL;
    int p0 = tr_get(f->tr, &f->tr->polls);
    assert_int_equal(fwt_training_save_state(&a, f->t, "a", 0), FWT_OK);
    assert_int_equal(fwt_training_save_state(&b, f->t, "b", 0), FWT_OK);
    atomic_store(&g_cb_calls, 0);
    assert_int_equal(fwt_future_on_done(b, count_cb, NULL), FWT_OK);
    for (int i = 0; i < 5000 && tr_get(f->tr, &f->tr->polls) - p0 < 2; i++) /* both polls stalled */
        usleep(1000);
    uint64_t t0 = mono_ms();
    fwt_client_free(f->c); /* cancels everything in flight */
    f->c = NULL;
    assert_true(mono_ms() - t0 < 5000);
    assert_int_equal(fwt_future_wait(a, 0), FWT_OK);
    assert_int_equal(fwt_future_wait(b, 0), FWT_OK);
    assert_int_equal(fwt_future_status(a), FWT_ECANCELED);
    assert_int_equal(fwt_future_status(b), FWT_ECANCELED);
    assert_int_equal(atomic_load(&g_cb_calls), 1);
    fwt_future *c = NULL;
    assert_int_equal(fwt_training_save_state(&c, f->t, "c", 0), FWT_ESTATE); /* the client is gone */
    fwt_future_free(a);
    fwt_future_free(b);
    /* teardown frees the training after its client: allowed */
}

static void test_heartbeat(void **state)
{
    fx *f = *state;
    fwt_client_options o = fast_options(30);
    fwt_client *c = tr_client(f->tr, NULL, &o);
    fwt_training *t = tr_training(f->tr, c, 0, 0);
    assert_non_null(t);
    int h0 = tr_get(f->tr, &f->tr->hb_count);
    for (int i = 0; i < 5000 && tr_get(f->tr, &f->tr->hb_count) - h0 < 3; i++)
        usleep(1000);
    assert_true(tr_get(f->tr, &f->tr->hb_count) - h0 >= 3);
    fwt_resp_request *q = NULL;
    size_t n = fwt_responder_request_count(f->tr->r);
    for (size_t i = n; i-- > 0 && !q;) {
        fwt_resp_request *x = fwt_responder_request_copy(f->tr->r, i);
        if (route_of(x->path) && !strcmp(route_of(x->path), "session_heartbeat"))
            q = x;
        else
            fwt_resp_request_free(x);
    }
    assert_non_null(q);
    cJSON *j = cJSON_Parse(q->body);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "session_id")->valuestring, "sess-1");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "type")->valuestring, "session_heartbeat");
    cJSON_Delete(j);
    fwt_resp_request_free(q);
    fwt_training_free(t);
    usleep(20000);
    int after = tr_get(f->tr, &f->tr->hb_count);
    usleep(100000);
    assert_true(tr_get(f->tr, &f->tr->hb_count) <= after + 1); /* stopped */
    fwt_client_free(c);
}

/*
 * A poll whose headers do not arrive within the training's poll_header_timeout_ms (the poll's own deadline,
 * independent of the client-wide one) is connection-class: back off, poll again.
 * The stalled poll holds its headers for 20 header timeouts. On a loaded machine other requests can also
 * miss the header timeout (one more retry, a third poll), which proves nothing: then the run is repeated
 * with the header timeout doubled. A stalled poll that is waited out instead fails at every scale.
 */
static void test_poll_header_timeout(void **state)
{
    fx *f = *state;
    for (int64_t header_ms = 150;; header_ms *= 2) {
        int stall_ms = (int)header_ms * 20;
        int last = header_ms >= 1200;
        fwt_client_options o;
        fwt_client_options_init(&o, FWT_CLIENT_OPTIONS_VERSION);
        o.retry_base_ms = 5;
        fwt_client *c = tr_client(f->tr, NULL, &o);
        fwt_training_options to;
        fwt_training_options_init(&to, FWT_TRAINING_OPTIONS_VERSION);
        char *url = fwt_responder_url(f->tr->r, "/t");
        to.trainer_url = url;
        to.base_model = "accounts/fireworks/models/tiny";
        to.session_suffix = "0a1b2c3d";
        to.poll_header_timeout_ms = header_ms;
        fwt_training *t = NULL;
        assert_int_equal(fwt_training_new(&t, c, &to), FWT_OK);
        free(url);
        int rc = fwt_training_create_model_result(t, 10000);
        if (rc != FWT_OK && !last) {
            fwt_training_free(t);
            fwt_client_free(c);
            continue;
        }
        assert_int_equal(rc, FWT_OK);
        pthread_mutex_lock(&f->tr->mu);
        f->tr->poll_head = f->tr->poll_tail; /* nothing left from an inconclusive round */
        f->tr->poll_q[f->tr->poll_tail++] = (tr_action){200, "{\"type\":\"try_again\"}", stall_ms};
        int p0 = f->tr->polls;
        pthread_mutex_unlock(&f->tr->mu);
        uint64_t t0 = mono_ms();
        char *p = NULL;
        rc = fwt_training_save_state_result(&p, t, "h", 0, 2 * stall_ms);
        uint64_t el = mono_ms() - t0;
        int polls = tr_get(f->tr, &f->tr->polls) - p0;
        fwt_free(p);
        fwt_training_free(t);
        fwt_client_free(c);
        if ((rc != FWT_OK || polls != 2 || el >= (uint64_t)stall_ms * 5 / 6) && !last)
            continue;
        assert_int_equal(rc, FWT_OK);
        assert_true(el < (uint64_t)stall_ms * 5 / 6);
        assert_int_equal(polls, 2);
        break;
    }
}

/* create_session waits out a billing pause (402) instead of failing. */
static void test_create_session_402(void **state)
{
    fx *f = *state;
    pthread_mutex_lock(&f->tr->mu);
    f->tr->session_402 = 1;
    int s0 = f->tr->session_count;
    pthread_mutex_unlock(&f->tr->mu);
    uint64_t t0 = mono_ms();
    fwt_training *t = tr_training(f->tr, f->c, 0, 0);
    assert_non_null(t);
    assert_true(mono_ms() - t0 >= 4900);
    assert_int_equal(tr_get(f->tr, &f->tr->session_count) - s0, 2);
    fwt_training_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_concurrent_seq_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_retry_same_seq_and_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_submit_breaks_sequence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_queued_leaves_no_hole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_while_polling, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_during_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_op_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_timeout_result_wrapper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_training_free_with_pending_ops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_free_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_poll_header_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_session_402, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
