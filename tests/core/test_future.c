/* fwt_future semantics with a hand-driven producer on a real worker thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdatomic.h>

#include "api/training_impl.h" /* FWT__VALUE_STRING: the string result of the training module */
#include "core/future_impl.h"
#include "core_test_util.h"

typedef struct fx {
    fwt_client *c;
    fwt__engine *e;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    fwt_client_options o;
    fwt_client_options_init(&o, FWT_CLIENT_OPTIONS_VERSION);
    o.api_key = TEST_KEY;
    o.base_url = "http://127.0.0.1:9";
    assert_int_equal(fwt_client_new(&f->c, &o), FWT_OK);
    f->e = fwt__client_engine(f->c);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    fwt_client_free(f->c);
    free(f);
    return 0;
}

typedef struct prod {
    fwt_future *f;
    atomic_int hook_calls;
    atomic_int hook_on_worker;
    fwt__engine *e;
    int hook_completes;
} prod;

static void hook(fwt_future *f, void *op)
{
    prod *p = op;
    atomic_fetch_add(&p->hook_calls, 1);
    atomic_store(&p->hook_on_worker, fwt__engine_on_worker(p->e));
    if (p->hook_completes)
        fwt__future_fail(f, FWT_ECANCELED, "stopped by hook");
}

static atomic_int g_freed;
static void count_free(void *v)
{
    atomic_fetch_add(&g_freed, 1);
    free(v);
}

static void complete_task(void *ud)
{
    prod *p = ud;
    fwt__future_complete(p->f, FWT_OK, NULL, FWT__VALUE_STRING, strdup("value"), count_free);
}

typedef struct cbrec {
    atomic_int calls;
    atomic_int on_worker;
    atomic_int status;
    fwt__engine *e;
    int sleep_ms;
} cbrec;

static void cb(fwt_future *f, void *payload)
{
    cbrec *r = payload;
    if (r->sleep_ms)
        usleep((useconds_t)r->sleep_ms * 1000);
    atomic_store(&r->on_worker, fwt__engine_on_worker(r->e));
    atomic_store(&r->status, fwt_future_status(f));
    atomic_fetch_add(&r->calls, 1);
}

static void test_wait_modes(void **state)
{
    fx *f = *state;
    prod p = {.e = f->e};
    assert_int_equal(fwt__future_new(&p.f, f->e, hook, &p), FWT_OK);
    assert_int_equal(fwt_future_is_done(p.f), 0);
    assert_int_equal(fwt_future_status(p.f), FWT_EAGAIN);
    assert_null(fwt_future_error(p.f));
    assert_int_equal(fwt_future_wait(p.f, 0), FWT_ETIMEDOUT);
    uint64_t t0 = mono_ms();
    assert_int_equal(fwt_future_wait(p.f, 60), FWT_ETIMEDOUT);
    assert_true(mono_ms() - t0 >= 55);
    char *v = NULL;
    assert_int_equal(fwt_future_take_string(&v, p.f), FWT_EAGAIN);
    assert_int_equal(fwt_future_wait(p.f, -2), FWT_EINVAL);
    assert_int_equal(fwt__engine_post(f->e, 30, complete_task, &p, NULL), FWT_OK);
    assert_int_equal(fwt_future_wait(p.f, -1), FWT_OK);
    assert_int_equal(fwt_future_wait(p.f, 0), FWT_OK);
    assert_int_equal(fwt_future_is_done(p.f), 1);
    assert_int_equal(fwt_future_status(p.f), FWT_OK);
    assert_int_equal(fwt_future_cancel(p.f), FWT_ESTATE);
    assert_int_equal(atomic_load(&p.hook_calls), 0);
    assert_int_equal(fwt_future_take_string(&v, p.f), FWT_OK);
    assert_string_equal(v, "value");
    free(v);
    fwt_future_free(p.f);
    assert_int_equal(fwt_future_wait(NULL, 0), FWT_EINVAL);
    assert_int_equal(fwt_future_is_done(NULL), 0);
    fwt_future_free(NULL);
}

static void test_callback_before_and_after(void **state)
{
    fx *f = *state;
    prod p = {.e = f->e};
    cbrec before = {.e = f->e}, after = {.e = f->e};
    assert_int_equal(fwt__future_new(&p.f, f->e, hook, &p), FWT_OK);
    assert_int_equal(fwt_future_on_done(p.f, cb, &before), FWT_OK);
    assert_int_equal(fwt_future_on_done(p.f, cb, &before), FWT_ESTATE);
    assert_int_equal(fwt__engine_post(f->e, 0, complete_task, &p, NULL), FWT_OK);
    assert_int_equal(fwt_future_wait(p.f, 5000), FWT_OK);
    fwt_future_free(p.f); /* waits for the callback */
    assert_int_equal(atomic_load(&before.calls), 1);
    assert_int_equal(atomic_load(&before.on_worker), 1);
    assert_int_equal(atomic_load(&before.status), FWT_OK);
    /* The untaken value is released with the last reference, which the worker may drop just after. */
    for (int i = 0; i < 1000 && atomic_load(&g_freed) == 0; i++)
        usleep(1000);
    assert_int_equal(atomic_load(&g_freed) > 0, 1);

    prod q = {.e = f->e};
    assert_int_equal(fwt__future_new(&q.f, f->e, hook, &q), FWT_OK);
    fwt__future_fail(q.f, FWT_EHTTP, "server said %s", "no");
    assert_int_equal(fwt__future_complete(q.f, FWT_OK, NULL, FWT__VALUE_STRING, strdup("late"), count_free), FWT_ESTATE);
    assert_int_equal(fwt_future_on_done(q.f, cb, &after), FWT_OK);
    fwt_future_free(q.f);
    assert_int_equal(atomic_load(&after.calls), 1);
    assert_int_equal(atomic_load(&after.on_worker), 1);
    assert_int_equal(atomic_load(&after.status), FWT_EHTTP);
}

static void test_error_and_take(void **state)
{
    fx *f = *state;
    prod p = {.e = f->e};
    assert_int_equal(fwt__future_new(&p.f, f->e, hook, &p), FWT_OK);
    fwt__err e;
    fwt__err_init(&e);
    fwt__err_set(&e, FWT_EREMOTE, "boom");
    e.pub.category = FWT_CATEGORY_USER;
    fwt__err_set_request_id(&e, "rid-9");
    fwt__future_complete(p.f, FWT_EREMOTE, &e, FWT__VALUE_NONE, NULL, NULL);
    const fwt_error *er = fwt_future_error(p.f);
    assert_non_null(er);
    assert_int_equal(er->code, FWT_EREMOTE);
    assert_string_equal(er->message, "boom");
    assert_string_equal(er->request_id, "rid-9");
    assert_int_equal(er->category, FWT_CATEGORY_USER);
    char *v = NULL;
    fwt__last_ok();
    assert_int_equal(fwt_future_take_string(&v, p.f), FWT_EREMOTE);
    assert_int_equal(fwt_error_last()->code, FWT_EREMOTE);
    assert_string_equal(fwt_error_last()->message, "boom");
    fwt_future_free(p.f);
}

static void test_cancel(void **state)
{
    fx *f = *state;
    for (int completes = 0; completes < 2; completes++) {
        prod p = {.e = f->e, .hook_completes = completes};
        cbrec r = {.e = f->e};
        assert_int_equal(fwt__future_new(&p.f, f->e, hook, &p), FWT_OK);
        assert_int_equal(fwt_future_on_done(p.f, cb, &r), FWT_OK);
        assert_int_equal(fwt_future_cancel(p.f), FWT_OK);
        assert_int_equal(fwt_future_wait(p.f, 5000), FWT_OK);
        assert_int_equal(fwt_future_status(p.f), FWT_ECANCELED);
        assert_int_equal(fwt_future_cancel(p.f), FWT_ESTATE);
        fwt_future_free(p.f);
        assert_int_equal(atomic_load(&p.hook_calls), 1);
        assert_int_equal(atomic_load(&p.hook_on_worker), 1);
        assert_int_equal(atomic_load(&r.calls), 1);
        assert_int_equal(atomic_load(&r.status), FWT_ECANCELED);
    }
}

static void test_free_every_state(void **state)
{
    fx *f = *state;
    /* pending, with a slow callback: free cancels and returns after the callback finished */
    prod p = {.e = f->e};
    cbrec r = {.e = f->e, .sleep_ms = 50};
    assert_int_equal(fwt__future_new(&p.f, f->e, hook, &p), FWT_OK);
    assert_int_equal(fwt_future_on_done(p.f, cb, &r), FWT_OK);
    fwt_future_free(p.f);
    assert_int_equal(atomic_load(&r.calls), 1);
    assert_int_equal(atomic_load(&p.hook_calls), 1);
    /* pending without callback */
    prod q = {.e = f->e};
    assert_int_equal(fwt__future_new(&q.f, f->e, hook, &q), FWT_OK);
    fwt_future_free(q.f);
    assert_int_equal(atomic_load(&q.hook_calls), 1);
    /* done with a value never taken */
    int before = atomic_load(&g_freed);
    prod d = {.e = f->e};
    assert_int_equal(fwt__future_new(&d.f, f->e, hook, &d), FWT_OK);
    complete_task(&d);
    fwt_future_free(d.f); /* no callback: the last reference is ours */
    assert_int_equal(atomic_load(&g_freed), before + 1);
    /* cancel requested, then free */
    prod c = {.e = f->e};
    assert_int_equal(fwt__future_new(&c.f, f->e, hook, &c), FWT_OK);
    fwt_future_cancel(c.f);
    fwt_future_free(c.f);
    assert_int_equal(atomic_load(&c.hook_calls), 1);
}

typedef struct onworker {
    fwt_future *f;
    atomic_int rc_wait;
    atomic_int rc_poll;
    atomic_int done;
} onworker;

static void wait_on_worker(void *ud)
{
    onworker *w = ud;
    atomic_store(&w->rc_wait, fwt_future_wait(w->f, 100));
    atomic_store(&w->rc_poll, fwt_future_wait(w->f, 0));
    atomic_store(&w->done, 1);
}

static void test_wait_on_worker(void **state)
{
    fx *f = *state;
    prod p = {.e = f->e};
    onworker w = {0};
    assert_int_equal(fwt__future_new(&p.f, f->e, hook, &p), FWT_OK);
    w.f = p.f;
    assert_int_equal(fwt__engine_post(f->e, 0, wait_on_worker, &w, NULL), FWT_OK);
    for (int i = 0; i < 500 && !atomic_load(&w.done); i++)
        usleep(2000);
    assert_int_equal(atomic_load(&w.rc_wait), FWT_ESTATE);
    assert_int_equal(atomic_load(&w.rc_poll), FWT_ETIMEDOUT);
    fwt_future_free(p.f);
}

static void test_wait_take_timeout_cancels(void **state)
{
    fx *f = *state;
    prod p = {.e = f->e};
    assert_int_equal(fwt__future_new(&p.f, f->e, hook, &p), FWT_OK);
    void *v = NULL;
    assert_int_equal(fwt__future_wait_take(p.f, 20, FWT__VALUE_STRING, &v), FWT_ETIMEDOUT);
    assert_int_equal(atomic_load(&p.hook_calls), 1);
    assert_null(v);
}

static void test_outlives_client(void **state)
{
    fx *f = *state;
    prod p = {.e = f->e};
    cbrec r = {.e = f->e};
    assert_int_equal(fwt__future_new(&p.f, f->e, hook, &p), FWT_OK);
    complete_task(&p);
    fwt_client_free(f->c);
    f->c = NULL;
    /* no worker any more: the callback runs on the calling thread, once */
    assert_int_equal(fwt_future_on_done(p.f, cb, &r), FWT_OK);
    assert_int_equal(atomic_load(&r.calls), 1);
    assert_int_equal(fwt_future_wait(p.f, -1), FWT_OK);
    fwt_future_free(p.f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wait_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callback_before_and_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_and_take, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_every_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_on_worker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_take_timeout_cancels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outlives_client, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
