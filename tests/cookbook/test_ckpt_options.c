/*
 * The checkpointer's options of issue 12 item 5 against fwtrain-local:
 * ttl_seconds on periodic saves only, time-based periodic saves on an
 * injected clock, asynchronous saves (lines in step order, only once
 * confirmed; flush; free drops what is unconfirmed), the log-directory
 * policy, the warning for a name saved twice in one session, and promotion
 * after the final save.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "fwtrain/fwtrain.h"
#include "fixture.h"

static int group_setup(void **state)
{
    (void)state;
    static const char *const args[] = {"--job-start-ms", "10", "--promote-ms", "20", NULL};
    fx_opts o = {.root_tag = "ckopts", .server_args = args, .capture_warnings = 1};
    return fx_start(&o);
}

static char log_buf[160];

/* The log directory exists (empty) before the checkpointer starts: the log-directory policies see it. */
static void opts_for(fwt_checkpointer_options *o, const char *dir, const char *job)
{
    mkdir(fx_path(log_buf, sizeof log_buf, dir), 0755);
    fx_checkpointer_options(o, log_buf, job, MODEL);
}

/* 1 if the job's listing has a row whose id is `id`. */
static int listed(const char *job, const char *id)
{
    fwt_checkpoint_list *l = NULL;
    assert_int_equal(fwt_job_list_checkpoints(&l, fx.client, job, NULL), FWT_OK);
    int found = 0;
    for (size_t i = 0; i < fwt_checkpoint_list_count(l); i++)
        found |= !strcmp(fwt_checkpoint_row_id(fwt_checkpoint_list_get(l, i)), id);
    fwt_checkpoint_list_free(l);
    return found;
}

static void train_step(fwt_training *t)
{
    assert_int_equal(fwt_training_optim_step_result(NULL, t, NULL, -1), FWT_OK);
}

static void test_option_checks(void **state)
{
    (void)state;
    fwt_checkpointer_options o;
    assert_int_equal(fwt_checkpointer_options_init(&o, FWT_CHECKPOINTER_OPTIONS_VERSION), FWT_OK);
    /* the embedded promotion options carry their defaults */
    assert_int_equal(o.promote.version, FWT_PROMOTE_OPTIONS_VERSION);
    assert_int_equal(o.promote.wait.timeout_ms, 7200000);
    assert_int_equal(o.log_dir_policy, FWT_LOG_DIR_RESUME);
    assert_int_equal(o.async_saves, 0);
    fwt_training *t = fx_open_training("ckopt-checks");
    fwt_checkpointer *c = NULL;
    opts_for(&o, "checks", "ckopt-checks");
    o.ttl_seconds = -1;
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_EINVAL);
    assert_non_null(strstr(fwt_error_last()->message, "ttl_seconds"));
    opts_for(&o, "checks", "ckopt-checks");
    o.save_interval_ms = -5;
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_EINVAL);
    opts_for(&o, "checks", "ckopt-checks");
    o.log_dir_policy = 3;
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_EINVAL);
    opts_for(&o, "checks", "ckopt-checks");
    o.output_model_id = "Not_Valid";
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_EINVAL);
    assert_non_null(strstr(fwt_error_last()->message, "output_model_id"));
    assert_null(c);
    assert_int_equal(fwt_checkpointer_flush(NULL), FWT_EINVAL);
    assert_int_equal(fwt_checkpointer_pending_saves(NULL), 0);
    assert_null(fwt_checkpointer_promoted_model(NULL));
    fwt_training_free(t);
}

/* Periodic saves carry the TTL and expire; the final save is kept. */
static void test_ttl_periodic_only(void **state)
{
    (void)state;
    fwt_training *t = fx_open_training("ckopt-ttl");
    fwt_checkpointer_options o;
    opts_for(&o, "ttl", "ckopt-ttl");
    o.dcp_save_interval = 2;
    o.total_steps = 4;
    o.ttl_seconds = 1;
    fwt_checkpointer *c = NULL;
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_OK);
    for (int64_t s = 1; s <= 4; s++) {
        train_step(t);
        assert_int_equal(fwt_checkpointer_step_done(c, s, s, NULL), FWT_OK);
    }
    assert_int_equal(fwt_checkpointer_finish(c, 4, 4), FWT_OK);
    fwt_checkpointer_free(c);
    assert_true(listed("ckopt-ttl", "step-4"));
    /* Wait until the periodic save's TTL has certainly passed (a slow machine only waits longer). */
    struct timespec ts = {1, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    assert_false(listed("ckopt-ttl", "step-2"));
    assert_true(listed("ckopt-ttl", "step-4"));
    fwt_training_free(t);
}

static int64_t fake_now;
static int64_t fake_clock(void *payload)
{
    (void)payload;
    return fake_now;
}

/* save_interval_ms on the injected clock, composed with dcp_save_interval: each due step saved once. */
static void test_time_based_saves(void **state)
{
    (void)state;
    fwt_training *t = fx_open_training("ckopt-time");
    fwt_checkpointer_options o;
    opts_for(&o, "time", "ckopt-time");
    o.dcp_save_interval = 5;
    o.save_interval_ms = 1000;
    o.clock_ms = fake_clock;
    fake_now = 50000;
    fwt_checkpointer *c = NULL;
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_OK);
    /* 600 ms per step: by time 1200 ms after the last save (2, 4, 7, 9), by steps at 5 and 10 (5 restarts the clock) */
    int want[11] = {0, 0, 1, 0, 1, 1, 0, 1, 0, 1, 1};
    for (int64_t s = 1; s <= 10; s++) {
        fake_now += 600;
        int saved = -1;
        assert_int_equal(fwt_checkpointer_step_done(c, s, s * 2, &saved), FWT_OK);
        if (saved != want[s])
            fail_msg("step %lld: saved %d, expected %d", (long long)s, saved, want[s]);
    }
    fwt_checkpointer_free(c);
    fwt_registry *l = fx_registry("time");
    int64_t steps[] = {2, 4, 5, 7, 9, 10};
    assert_int_equal(fwt_registry_count(l), sizeof steps / sizeof *steps);
    for (size_t i = 0; i < fwt_registry_count(l); i++)
        assert_int_equal(fwt_registry_get(l, i)->step, steps[i]);
    fwt_registry_free(l);
    fwt_training_free(t);
}

/* Asynchronous saves: lines in step order, each for a save the server holds; free drops the unconfirmed. */
static void test_async_saves(void **state)
{
    (void)state;
    fwt_training *t = fx_open_training("ckopt-async");
    fwt_checkpointer_options o;
    opts_for(&o, "async", "ckopt-async");
    o.dcp_save_interval = 1;
    o.total_steps = 12;
    o.async_saves = 1;
    fwt_checkpointer *c = NULL;
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_OK);
    for (int64_t s = 1; s < 12; s++) {
        train_step(t);
        int saved = 0;
        assert_int_equal(fwt_checkpointer_step_done(c, s, s * 4, &saved), FWT_OK);
        assert_int_equal(saved, 1);
        /* Whatever is recorded so far is a prefix 1..k of the steps, each on the server. */
        fwt_registry *l = fx_registry("async");
        size_t n = fwt_registry_count(l);
        assert_int_equal(n + fwt_checkpointer_pending_saves(c), (size_t)s);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(fwt_registry_get(l, i)->step, (int64_t)i + 1);
            assert_true(listed("ckopt-async", fwt_registry_get(l, i)->name));
        }
        fwt_registry_free(l);
    }
    assert_int_equal(fwt_checkpointer_flush(c), FWT_OK);
    assert_int_equal(fwt_checkpointer_pending_saves(c), 0);
    train_step(t);
    assert_int_equal(fwt_checkpointer_finish(c, 12, 48), FWT_OK);
    fwt_checkpointer_free(c);
    fwt_registry *l = fx_registry("async");
    assert_int_equal(fwt_registry_count(l), 12);
    for (size_t i = 0; i < 12; i++)
        assert_int_equal(fwt_registry_get(l, i)->step, (int64_t)i + 1);
    assert_int_equal(fwt_registry_entry_kind(fwt_registry_get(l, 11)), FWT_CHECKPOINT_KIND_BOTH);
    fwt_registry_free(l);

    /* A save sent and the checkpointer freed at once: free records nothing (fwt_checkpointer_flush would). */
    o.log_dir_policy = FWT_LOG_DIR_OVERWRITE;
    o.total_steps = 0;
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_OK);
    assert_int_equal(fwt_checkpointer_step_done(c, 13, 52, NULL), FWT_OK);
    fwt_checkpointer_free(c);
    l = fx_registry("async");
    assert_int_equal(fwt_registry_count(l), 0);
    fwt_registry_free(l);
    fwt_training_free(t);
}

static void test_log_dir_policy(void **state)
{
    (void)state;
    fwt_training *t = fx_open_training("ckopt-policy");
    fwt_checkpointer_options o;
    opts_for(&o, "policy", "ckopt-policy");
    fwt_checkpointer *c = NULL;
    /* an empty directory: every policy starts fresh */
    o.log_dir_policy = FWT_LOG_DIR_FAIL_IF_EXISTS;
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_OK);
    assert_int_equal(fwt_checkpointer_save(c, 3, 9, FWT_CHECKPOINT_KIND_STATE), FWT_OK);
    fwt_checkpointer_free(c);
    /* now it holds a run */
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_ECONFLICT);
    assert_non_null(strstr(fwt_error_last()->message, "checkpoints.jsonl"));
    assert_null(c);
    o.log_dir_policy = FWT_LOG_DIR_RESUME;
    c = fx_start_resumed(t, &o, &(fx_resume){"policy resume", FWT_RESUME_AUTO, 3, -1, NULL});
    fwt_checkpointer_free(c);
    o.log_dir_policy = FWT_LOG_DIR_OVERWRITE;
    c = fx_start_resumed(t, &o, &(fx_resume){"policy overwrite", FWT_RESUME_FRESH, 0, -1, NULL});
    fwt_checkpointer_free(c);
    fwt_registry *l = fx_registry("policy");
    assert_int_equal(fwt_registry_count(l), 0);
    fwt_registry_free(l);
    /* control-plane mode: overwrite ignores the listing too */
    o.resume_source = FWT_RESUME_SOURCE_CONTROL_PLANE;
    c = fx_start_resumed(t, &o, &(fx_resume){"policy overwrite, control plane", FWT_RESUME_FRESH, -1, -1, NULL});
    fwt_checkpointer_free(c);
    fwt_training_free(t);
}

static void test_name_reuse_warning(void **state)
{
    (void)state;
    fwt_training *t = fx_open_training("ckopt-names");
    fwt_checkpointer_options o;
    opts_for(&o, "names", "ckopt-names");
    fwt_checkpointer *c = NULL;
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_OK);
    fx_warned("");
    assert_int_equal(fwt_checkpointer_save(c, 2, 2, FWT_CHECKPOINT_KIND_SAMPLER), FWT_OK);
    assert_int_equal(fwt_checkpointer_save(c, 3, 3, FWT_CHECKPOINT_KIND_STATE), FWT_OK);
    assert_false(fx_warned("saved again"));
    assert_int_equal(fwt_checkpointer_save(c, 2, 2, FWT_CHECKPOINT_KIND_SAMPLER), FWT_OK);
    assert_true(fx_warnings_have("\"step-2\" is saved again in session") && fx_warnings_have("sampler"));
    fx_warned("");
    fwt_checkpointer_free(c);
    fwt_training_free(t);
}

static void test_promote_after_final_save(void **state)
{
    (void)state;
    fwt_training *t = fx_open_training("ckopt-promote");
    fwt_checkpointer_options o;
    opts_for(&o, "promote", "ckopt-promote");
    o.total_steps = 2;
    o.output_model_id = "ckopt-final";
    o.promote.wait.poll_interval_ms = 50;
    fwt_checkpointer *c = NULL;
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_OK);
    assert_null(fwt_checkpointer_promoted_model(c));
    train_step(t);
    train_step(t);
    assert_int_equal(fwt_checkpointer_finish(c, 2, 8), FWT_OK);
    const fwt_model *m = fwt_checkpointer_promoted_model(c);
    assert_non_null(m);
    const char *name = fwt_model_name(m);
    assert_true(strlen(name) > strlen("/models/ckopt-final"));
    assert_string_equal(name + strlen(name) - strlen("/models/ckopt-final"), "/models/ckopt-final");
    fwt_checkpointer_free(c);
    fwt_training_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_option_checks),       cmocka_unit_test(test_ttl_periodic_only),
        cmocka_unit_test(test_time_based_saves),    cmocka_unit_test(test_async_saves),
        cmocka_unit_test(test_log_dir_policy),      cmocka_unit_test(test_name_reuse_warning),
        cmocka_unit_test(test_promote_after_final_save),
    };
    return cmocka_run_group_tests(tests, group_setup, fx_teardown);
}
