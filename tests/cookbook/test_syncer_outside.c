/*
 * fwt_weight_syncer_save_and_hotload after a hotload made outside the syncer,
 * against fwtrain-local (issue 12 item 9): the syncer looks at what the
 * deployment holds before sending a delta, and sends a base when the
 * deployment no longer holds the snapshot the delta applies to (fwtrain-local,
 * like the service, rejects such a delta). While the deployment still holds
 * the syncer's last snapshot, deltas go on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fwtrain/fwtrain.h"
#include "fixture.h"

#define JOB "syncer-outside"
#define DEP "syncer-outside-dep"

static fwt_training *training;

static void check(int rc, const char *what)
{
    if (rc != FWT_OK)
        fail_msg("%s: %s (%s)", what, fwt_strerror(rc), fwt_error_last()->message);
}

static int group_setup(void **state)
{
    (void)state;
    static const char *const args[] = {"--job-start-ms", "10", "--hotload-ms", "5", NULL};
    fx_opts o = {.server_args = args};
    if (fx_start(&o) != 0 || fx_create_job(fx.client, JOB) != FWT_OK || !(training = fx_open_on(fx.client, JOB)))
        return -1;
    fwt_deployment_create_options d;
    fwt_deployment_create_options_init(&d, FWT_DEPLOYMENT_CREATE_OPTIONS_VERSION);
    d.base_model = MODEL;
    d.hot_load_trainer_job = JOB;
    fwt_deployment *dep = NULL;
    if (fwt_deployment_create(&dep, fx.client, DEP, &d) != FWT_OK)
        return -1;
    fwt_deployment_free(dep);
    return 0;
}

static int group_teardown(void **state)
{
    fwt_training_free(training);
    return fx_teardown(state);
}

static fwt_sampler_type last_type(const fwt_weight_syncer *s)
{
    fwt_sync_timing t;
    t.version = FWT_SYNC_TIMING_VERSION;
    check(fwt_weight_syncer_last_timing(s, &t), "timing");
    return (fwt_sampler_type)t.type;
}

/* What replica 0 of the deployment holds now (caller frees). */
static char *held(void)
{
    fwt_hotload_status *st = NULL;
    check(fwt_deployment_hotload_status(&st, fx.client, DEP, MODEL), "hotload status");
    const char *id = fwt_hotload_status_current_identity(st, 0);
    char *copy = strdup(id ? id : "");
    fwt_hotload_status_free(st);
    return copy;
}

static void test_outside_hotload_gets_a_base(void **state)
{
    (void)state;
    fwt_weight_syncer_options o;
    fwt_weight_syncer_options_init(&o, FWT_WEIGHT_SYNCER_OPTIONS_VERSION);
    o.deployment_id = DEP;
    o.base_model = MODEL;
    o.hotload_wait.poll_interval_ms = o.manager_wait.poll_interval_ms = 5;
    o.disable_warmup = 1;
    fwt_weight_syncer *s = NULL;
    check(fwt_weight_syncer_new(&s, fx.client, training, &o), "syncer");

    char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    check(fwt_weight_syncer_save_and_hotload(&a, s, "a", FWT_SAMPLER_AUTO), "save a");
    assert_int_equal(last_type(s), FWT_SAMPLER_BASE);
    check(fwt_weight_syncer_save_and_hotload(&b, s, "b", FWT_SAMPLER_AUTO), "save b");
    assert_int_equal(last_type(s), FWT_SAMPLER_DELTA); /* the deployment holds a: deltas go on */
    char *now = held();
    assert_string_equal(now, b);
    free(now);

    /* someone rolls the deployment back to a, outside the syncer */
    check(fwt_deployment_hotload(fx.client, DEP, MODEL, a, NULL), "outside hotload");
    fwt_wait_options w;
    fwt_wait_options_init(&w, FWT_WAIT_OPTIONS_VERSION);
    w.poll_interval_ms = 5;
    check(fwt_deployment_wait_hotload_result(NULL, fx.client, DEP, MODEL, a, &w, 30000), "outside wait");

    /* a delta against b cannot apply to a: the syncer sees it and sends a base */
    check(fwt_weight_syncer_save_and_hotload(&c, s, "c", FWT_SAMPLER_AUTO), "save c after the outside hotload");
    assert_int_equal(last_type(s), FWT_SAMPLER_BASE);
    assert_string_equal(fwt_weight_syncer_base_identity(s), c);
    now = held();
    assert_string_equal(now, c);
    free(now);

    /* and the chain continues from it */
    check(fwt_weight_syncer_save_and_hotload(&d, s, "d", FWT_SAMPLER_AUTO), "save d");
    assert_int_equal(last_type(s), FWT_SAMPLER_DELTA);
    now = held();
    assert_string_equal(now, d);
    free(now);

    /* an explicit delta onto a deployment that holds something else is refused before anything is saved */
    check(fwt_deployment_hotload(fx.client, DEP, MODEL, a, NULL), "outside hotload 2");
    check(fwt_deployment_wait_hotload_result(NULL, fx.client, DEP, MODEL, a, &w, 30000), "outside wait 2");
    char *e = (char *)1;
    assert_int_equal(fwt_weight_syncer_save_and_hotload(&e, s, "e", FWT_SAMPLER_DELTA), FWT_ESTATE);
    assert_null(e);
    const char *msg = fwt_error_last()->message;
    if (!strstr(msg, a) || !strstr(msg, d))
        fail_msg("message \"%s\" should name what the deployment holds (%s) and what the delta needs (%s)", msg, a, d);
    check(fwt_weight_syncer_save_and_hotload(&e, s, "e", FWT_SAMPLER_AUTO), "save e");
    assert_int_equal(last_type(s), FWT_SAMPLER_BASE);
    fwt_free(e);

    fwt_free(a);
    fwt_free(b);
    fwt_free(c);
    fwt_free(d);
    fwt_weight_syncer_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outside_hotload_gets_a_base),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
