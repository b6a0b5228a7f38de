/*
 * Threads meet: several threads submit, post and cancel at once while
 * responses are delayed and retried, then the engine is freed with work in
 * flight. Every callback must run exactly once; TSan/valgrind lanes check the rest.
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

enum { THREADS = 4, PER_THREAD = 60 };

typedef struct slot {
    atomic_int calls;
    atomic_int status;
} slot;

typedef struct shared {
    fwt__engine *e;
    fwt_responder *r;
    slot req[THREADS * PER_THREAD];
    slot task[THREADS * PER_THREAD];
    atomic_int cancelled_tasks_ran;
} shared;

typedef struct worker_arg {
    shared *sh;
    int t;
} worker_arg;

static void handler(const fwt_resp_request *req, fwt_resp_action *out, void *ud)
{
    (void)ud;
    int n = atoi(req->path + 3); /* "/r/<n>" */
    out->status = (n % 5 == 0 && req->index % 2 == 0) ? 503 : 200;
    out->delay_headers_ms = n % 4 == 0 ? 15 : 0;
    out->body = "{}";
}

static void req_done(fwt__http_result *res, void *ud)
{
    slot *s = ud;
    atomic_store(&s->status, res->status);
    atomic_fetch_add(&s->calls, 1);
    fwt__http_result_free(res);
}

static void task_done(void *ud)
{
    slot *s = ud;
    atomic_fetch_add(&s->calls, 1);
}

static void *submitter(void *arg)
{
    worker_arg *a = arg;
    shared *sh = a->sh;
    for (int i = 0; i < PER_THREAD; i++) {
        int n = a->t * PER_THREAD + i;
        char path[32];
        snprintf(path, sizeof path, "/r/%d", n);
        char *url = fwt_responder_url(sh->r, path);
        fwt__http_spec s = {.method = n % 2 ? "POST" : "GET", .url = url, .body = "{}", .body_len = 2,
                            .idempotency_key = "k",
                            .retry = {.on = FWT__RETRY_5XX_COMMON | FWT__RETRY_CONN, .base_ms = 1, .cap_ms = 5,
                                      .budget_ms = 10000}};
        uint64_t id = 0;
        if (fwt__engine_submit(sh->e, &s, req_done, &sh->req[n], &id) != FWT_OK)
            atomic_store(&sh->req[n].calls, -1000); /* must not happen */
        free(url);
        if (n % 3 == 0)
            fwt__engine_cancel(sh->e, id);
        uint64_t tid = 0;
        fwt__engine_post(sh->e, (uint64_t)(n % 7), task_done, &sh->task[n], &tid);
        if (n % 4 == 0 && fwt__engine_cancel(sh->e, tid))
            atomic_store(&sh->task[n].status, 1); /* cancelled: must never run */
    }
    return NULL;
}

static void test_threads_submit_cancel_post(void **state)
{
    (void)state;
    shared *sh = calloc(1, sizeof *sh);
    assert_non_null(sh);
    assert_int_equal(fwt_responder_start(&sh->r, handler, NULL), 0);
    assert_int_equal(fwt__engine_new(&sh->e, NULL), FWT_OK);
    pthread_t th[THREADS];
    worker_arg args[THREADS];
    for (int t = 0; t < THREADS; t++) {
        args[t].sh = sh;
        args[t].t = t;
        assert_int_equal(pthread_create(&th[t], NULL, submitter, &args[t]), 0);
    }
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    /* wait for every request to finish */
    for (int spin = 0; spin < 2000; spin++) {
        int pending = 0;
        for (int i = 0; i < THREADS * PER_THREAD; i++)
            pending += atomic_load(&sh->req[i].calls) == 0;
        if (!pending)
            break;
        usleep(10000);
    }
    fwt__engine_free(sh->e);
    for (int i = 0; i < THREADS * PER_THREAD; i++) {
        assert_int_equal(atomic_load(&sh->req[i].calls), 1);
        int st = atomic_load(&sh->req[i].status);
        assert_true(st == FWT_OK || st == FWT_ECANCELED);
        int cancelled_task = atomic_load(&sh->task[i].status);
        assert_int_equal(atomic_load(&sh->task[i].calls), cancelled_task ? 0 : 1);
    }
    fwt_responder_stop(sh->r);
    free(sh);
}

static void test_free_while_busy(void **state)
{
    (void)state;
    /* Free races submissions still arriving from other threads. */
    shared *sh = calloc(1, sizeof *sh);
    assert_non_null(sh);
    assert_int_equal(fwt_responder_start(&sh->r, handler, NULL), 0);
    assert_int_equal(fwt__engine_new(&sh->e, NULL), FWT_OK);
    pthread_t th[2];
    worker_arg args[2] = {{sh, 0}, {sh, 1}};
    for (int t = 0; t < 2; t++)
        assert_int_equal(pthread_create(&th[t], NULL, submitter, &args[t]), 0);
    for (int t = 0; t < 2; t++)
        pthread_join(th[t], NULL);
    fwt__engine_free(sh->e);
    for (int i = 0; i < 2 * PER_THREAD; i++) {
        assert_int_equal(atomic_load(&sh->req[i].calls), 1);
        int cancelled_task = atomic_load(&sh->task[i].status);
        assert_int_equal(atomic_load(&sh->task[i].calls), cancelled_task ? 0 : 1);
    }
    fwt_responder_stop(sh->r);
    free(sh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_submit_cancel_post),
        cmocka_unit_test(test_free_while_busy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
