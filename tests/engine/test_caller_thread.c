/*
 * A blocking training call runs its submit and polls on the calling thread
 * (src/api/training_lifecycle.c "On the calling thread"): shown by keeping the
 * worker thread busy in a task while the call completes, and by mixing blocking
 * calls with other threads' futures while the seq_id order stays 1, 2, 3, ...
 * Real clock (virtual time keeps ops on the worker); no assertion depends on speed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdatomic.h>

#include "trainer_fx.h"

#define HANG_GUARD_MS 20000

typedef trainer_fx fx;

static int setup(void **state)
{
    fwt_client_options o;
    fwt_client_options_init(&o, FWT_CLIENT_OPTIONS_VERSION);
    o.poll_floor_ms = 5;
    *state = trainer_fx_new(NULL, &o, HANG_GUARD_MS);
    return 0;
}

static int teardown(void **state)
{
    trainer_fx_free(*state);
    return 0;
}

/* A worker task that holds the worker until released (or the guard passes). */
typedef struct blocker {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int running, release, timed_out;
} blocker;

static void block_task(void *ud)
{
    blocker *b = ud;
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += HANG_GUARD_MS / 1000;
    pthread_mutex_lock(&b->mu);
    b->running = 1;
    pthread_cond_broadcast(&b->cv);
    while (!b->release)
        if (pthread_cond_timedwait(&b->cv, &b->mu, &dl) != 0) {
            b->timed_out = 1;
            break;
        }
    b->running = 0;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

static void test_blocking_ops_need_no_worker(void **state)
{
    fx *f = *state;
    blocker b = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    fwt__engine *e = fwt__client_engine(f->c);
    assert_int_equal(fwt__engine_post(e, 0, block_task, &b, NULL), FWT_OK);
    pthread_mutex_lock(&b.mu);
    while (!b.running)
        pthread_cond_wait(&b.cv, &b.mu);
    pthread_mutex_unlock(&b.mu);

    /* The worker is stuck in block_task: these complete only if they run on this thread. */
    int s0 = tr_get(f->tr, &f->tr->n_submits);
    char *p = NULL;
    assert_int_equal(fwt_training_save_state_result(&p, f->t, "a", 0, HANG_GUARD_MS), FWT_OK);
    assert_non_null(p);
    fwt_free(p);
    fwt_metrics *m = NULL;
    fwt_adam_params ap;
    fwt_adam_params_init(&ap, FWT_ADAM_PARAMS_VERSION);
    assert_int_equal(fwt_training_optim_step_result(&m, f->t, &ap, -1), FWT_OK);
    fwt_metrics_free(m);

    pthread_mutex_lock(&b.mu);
    int still_blocked = b.running && !b.timed_out;
    b.release = 1;
    pthread_cond_broadcast(&b.cv);
    while (b.running) /* b lives on this stack: the task must be done with it */
        pthread_cond_wait(&b.cv, &b.mu);
    pthread_mutex_unlock(&b.mu);
    assert_true(still_blocked);
    pthread_mutex_lock(&f->tr->mu);
    assert_int_equal(f->tr->n_submits - s0, 2);
    assert_int_equal(f->tr->submits[s0 + 1].seq_id, f->tr->submits[s0].seq_id + 1);
    pthread_mutex_unlock(&f->tr->mu);
}

typedef struct mixer {
    fwt_training *t;
    int blocking; /* this thread uses the blocking twins */
    int n, fails;
} mixer;

static void *mix_main(void *ud)
{
    mixer *a = ud;
    for (int i = 0; i < a->n; i++) {
        if (a->blocking) {
            char *p = NULL;
            if (fwt_training_save_state_result(&p, a->t, "b", 0, HANG_GUARD_MS) != FWT_OK)
                a->fails++;
            fwt_free(p);
        } else {
            a->fails += save_state_batch(a->t, "f", 2, HANG_GUARD_MS);
        }
    }
    return NULL;
}

/* Blocking calls on two threads and futures on two others share one training: every op
 * succeeds and the server sees seq_id 1, 2, 3, ... with no gap or repeat. */
static void test_mixed_threads_keep_seq_order(void **state)
{
    fx *f = *state;
    pthread_mutex_lock(&f->tr->mu);
    f->tr->submit_delay_ms = 1;
    int s0 = f->tr->n_submits;
    pthread_mutex_unlock(&f->tr->mu);
    enum { T = 4, N = 10 };
    pthread_t th[T];
    mixer a[T];
    for (int i = 0; i < T; i++) {
        a[i] = (mixer){.t = f->t, .blocking = i % 2 == 0, .n = N};
        pthread_create(&th[i], NULL, mix_main, &a[i]);
    }
    int total = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(a[i].fails, 0);
        total += a[i].blocking ? N : 2 * N;
    }
    pthread_mutex_lock(&f->tr->mu);
    assert_int_equal(f->tr->n_submits - s0, total);
    int64_t first = f->tr->submits[s0].seq_id;
    for (int i = 0; i < total; i++)
        assert_int_equal(f->tr->submits[s0 + i].seq_id, first + i);
    pthread_mutex_unlock(&f->tr->mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_blocking_ops_need_no_worker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mixed_threads_keep_seq_order, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
