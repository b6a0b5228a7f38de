/*
 * fwt_checkpointer against fwtrain-local, at the library level: option checks,
 * STATE / SAMPLER / BOTH saves and the lines they write, the resume decision
 * (fresh, automatic, init_from_checkpoint, complete, mutual exclusion), and
 * that a failed save appends nothing.
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

static int group_setup(void **state)
{
    (void)state;
    static const char *const args[] = {"--job-start-ms", "10", NULL};
    fx_opts o = {.root_tag = "ckptr",
                 .server_args = args,
                 .retry_budget_ms = 2000, /* the last test kills the server */
                 .connect_timeout_ms = 1000,
                 .capture_warnings = 1};
    return fx_start(&o);
}

static void opts_for(fwt_checkpointer_options *o, const char *dir, const char *job, int64_t interval, int64_t total)
{
    static char log[128];
    fx_checkpointer_options(o, fx_path(log, sizeof log, dir), job, MODEL);
    o->dcp_save_interval = interval;
    o->total_steps = total;
    o->op_timeout_ms = 30000;
}

static void test_option_checks(void **state)
{
    (void)state;
    fwt_training *t = fx_open_training("ckptr-opts");
    fwt_checkpointer *c = (fwt_checkpointer *)1;
    fwt_checkpointer_options o;
    opts_for(&o, "opts", "ckptr-opts", 0, 0);
    assert_int_equal(fwt_checkpointer_start(&c, NULL, &o), FWT_EINVAL);
    assert_null(c);
    assert_int_equal(fwt_checkpointer_start(&c, t, NULL), FWT_EINVAL);
    assert_int_equal(fwt_checkpointer_start(NULL, t, &o), FWT_EINVAL);
    o.version = 7;
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_EINVAL);
    opts_for(&o, "opts", "ckptr-opts", 0, 0);
    o.log_path = "";
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_EINVAL);
    assert_non_null(strstr(fwt_error_last()->message, "log_path"));
    opts_for(&o, "opts", "a/b", 0, 0);
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_EINVAL);
    opts_for(&o, "opts", "ckptr-opts", -1, 0);
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_EINVAL);
    assert_non_null(strstr(fwt_error_last()->message, "dcp_save_interval"));
    opts_for(&o, "opts", "ckptr-opts", 0, -5);
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_EINVAL);
    opts_for(&o, "opts", "ckptr-opts", 0, 0);
    o.init_from_checkpoint = "no/colon"; /* a bare name (no ":", no "/") is a checkpoint of the job itself */
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_EINVAL);
    assert_non_null(strstr(fwt_error_last()->message, "<job_id>:<checkpoint_name>"));
    /* a checkpoint that does not exist: the load's own error, no checkpointer */
    o.init_from_checkpoint = "ckptr-opts:step-404";
    assert_int_not_equal(fwt_checkpointer_start(&c, t, &o), FWT_OK);
    assert_null(c);
    assert_int_equal(fwt_checkpointer_options_init(&o, 2), FWT_EINVAL);
    assert_int_equal(fwt_checkpointer_save(NULL, 1, 1, FWT_CHECKPOINT_KIND_STATE), FWT_EINVAL);
    assert_int_equal(fwt_checkpointer_mode(NULL), FWT_RESUME_FRESH);
    fwt_checkpointer_free(NULL);
    fwt_training_free(t);
}

static void test_saves_and_resume(void **state)
{
    (void)state;
    fwt_training *t = fx_open_training("ckptr-main");
    fwt_checkpointer *c = NULL;
    fwt_checkpointer_options o;
    opts_for(&o, "main", "ckptr-main", 2, 6);
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_OK);
    assert_int_equal(fwt_checkpointer_mode(c), FWT_RESUME_FRESH);
    assert_int_equal(fwt_checkpointer_start_step(c), 0);
    assert_null(fwt_checkpointer_loaded_path(c));
    assert_false(fwt_checkpointer_is_complete(c));

    int saved = -1;
    assert_int_equal(fwt_checkpointer_step_done(c, 1, 4, &saved), FWT_OK);
    assert_int_equal(saved, 0);
    assert_int_equal(fwt_checkpointer_step_done(c, 2, 8, &saved), FWT_OK);
    assert_int_equal(saved, 1);
    /* an explicit promotable mid-training save */
    assert_int_equal(fwt_checkpointer_save(c, 3, 12, FWT_CHECKPOINT_KIND_SAMPLER), FWT_OK);
    assert_int_equal(fwt_checkpointer_step_done(c, 4, 16, &saved), FWT_OK);
    assert_int_equal(saved, 1);
    assert_int_equal(fwt_checkpointer_save(c, 5, 20, FWT_CHECKPOINT_KIND_BOTH), FWT_OK);
    assert_int_equal(fwt_checkpointer_step_done(c, 6, 24, &saved), FWT_OK);
    assert_int_equal(saved, 0); /* the last step's checkpoint is the final BOTH */
    assert_int_equal(fwt_checkpointer_finish(c, 6, 24), FWT_OK);
    assert_true(fwt_checkpointer_is_complete(c));
    assert_int_equal(fwt_checkpointer_finish(c, 6, 24), FWT_OK); /* idempotent: no second line */
    assert_int_equal(fwt_checkpointer_save(c, 7, 1, (fwt_checkpoint_kind)4), FWT_EINVAL);
    fwt_checkpointer_free(c);

    fwt_registry *l = fx_registry("main");
    assert_int_equal(fwt_registry_count(l), 5);
    static const int64_t steps[] = {2, 3, 4, 5, 6};
    static const int kinds[] = {FWT_CHECKPOINT_KIND_STATE, FWT_CHECKPOINT_KIND_SAMPLER, FWT_CHECKPOINT_KIND_STATE,
                                FWT_CHECKPOINT_KIND_BOTH, FWT_CHECKPOINT_KIND_BOTH};
    char want[128];
    for (size_t i = 0; i < 5; i++) {
        const fwt_registry_entry *e = fwt_registry_get(l, i);
        assert_int_equal(e->step, steps[i]);
        assert_int_equal(e->data_consumed, steps[i] * 4);
        assert_int_equal(fwt_registry_entry_kind(e), kinds[i]);
        snprintf(want, sizeof want, "step-%lld", (long long)steps[i]);
        assert_string_equal(e->name, want);
        assert_string_equal(e->source_job_id, "ckptr-main");
        assert_string_equal(e->base_model, MODEL);
        if (e->state_path) {
            snprintf(want, sizeof want, "cross_job://ckptr-main/step-%lld", (long long)steps[i]);
            assert_string_equal(e->state_path, want);
        }
        if (e->sampler_path) {
            /* the session-qualified snapshot name (docs/protocol.md §4.6) */
            snprintf(want, sizeof want, "step-%lld-%s", (long long)steps[i], fwt_training_session_suffix(t));
            assert_string_equal(e->sampler_path, want);
        }
    }
    fwt_registry_free(l);

    /* The same run again: complete, nothing loaded. */
    c = fx_start_resumed(t, &o, &(fx_resume){"same run again", FWT_RESUME_COMPLETE, 6, -1, NULL});
    assert_true(fwt_checkpointer_is_complete(c));
    assert_null(fwt_checkpointer_loaded_path(c));
    fwt_checkpointer_free(c);

    /* A longer run on the same log path resumes from the last resumable entry. */
    opts_for(&o, "main", "ckptr-main", 2, 10);
    c = fx_start_resumed(t, &o, &(fx_resume){"longer run", FWT_RESUME_AUTO, 6, 24, "cross_job://ckptr-main/step-6"});
    fwt_checkpointer_free(c);

    /* ...and refuses init_from_checkpoint next to it. */
    o.init_from_checkpoint = "ckptr-main:step-2";
    c = (fwt_checkpointer *)1;
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_EINVAL);
    assert_null(c);
    assert_non_null(strstr(fwt_error_last()->message, "mutually exclusive"));
    assert_non_null(strstr(fwt_error_last()->message, "step-6"));
    fwt_training_free(t);

    /* Another job starts from ckptr-main's step-4 at step 0. */
    fwt_training *t2 = fx_open_training("ckptr-other");
    opts_for(&o, "other", "ckptr-other", 2, 4);
    o.init_from_checkpoint = "ckptr-main:step-4";
    c = fx_start_resumed(t2, &o, &(fx_resume){"another job", FWT_RESUME_INIT, 0, 0, "cross_job://ckptr-main/step-4"});
    fwt_checkpointer_free(c);
    /* weights only */
    o.init_weights_only = 1;
    assert_int_equal(fwt_checkpointer_start(&c, t2, &o), FWT_OK);
    assert_int_equal(fwt_checkpointer_mode(c), FWT_RESUME_INIT);
    fwt_checkpointer_free(c);
    fwt_training_free(t2);
}

/* A torn last line: the resume falls back to the entry before it and says so (log + torn_bytes); a
 * '\n'-terminated one is kept, so the next save fails naming it instead of destroying it. */
static void test_torn_tail_warns(void **state)
{
    (void)state;
    fwt_training *t = fx_open_training("ckptr-torn");
    fwt_checkpointer *c = NULL;
    fwt_checkpointer_options o;
    opts_for(&o, "torn", "ckptr-torn", 2, 10);
    fx_warned("");
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_OK);
    assert_int_equal(fwt_checkpointer_torn_bytes(c), 0);
    assert_false(fx_warned("torn tail"));
    assert_int_equal(fwt_checkpointer_step_done(c, 2, 8, NULL), FWT_OK);
    fwt_checkpointer_free(c);

    char file[160];
    fx_path(file, sizeof file, "torn/checkpoints.jsonl");
    const char *bad = "{\"name\":\"step-4\",\"step\":4,}\n";
    FILE *fp = fopen(file, "a");
    assert_non_null(fp);
    fputs(bad, fp);
    fclose(fp);

    c = fx_start_resumed(t, &o, &(fx_resume){"torn tail", FWT_RESUME_AUTO, 2, -1, NULL});
    assert_int_equal(fwt_checkpointer_torn_bytes(c), strlen(bad));
    char want[64];
    snprintf(want, sizeof want, "ignored %zu bytes of torn tail", strlen(bad));
    assert_true(fx_warned(want));
    int saved = -1;
    assert_int_equal(fwt_checkpointer_step_done(c, 4, 16, &saved), FWT_ECORRUPT);
    assert_int_equal(saved, 0);
    assert_non_null(strstr(fwt_error_last()->message, "checkpoints.jsonl:2: invalid line; remove it or fix it"));
    fwt_checkpointer_free(c);
    fwt_registry *l = fx_registry("torn");
    assert_int_equal(fwt_registry_count(l), 1);
    assert_int_equal(fwt_registry_torn_bytes(l), strlen(bad)); /* still there */
    fwt_registry_free(l);
    fwt_training_free(t);
}

/* The server dies before confirming a save: nothing is appended. */
static void test_failed_save_appends_nothing(void **state)
{
    (void)state;
    fwt_training *t = fx_open_training("ckptr-crash");
    fwt_checkpointer *c = NULL;
    fwt_checkpointer_options o;
    opts_for(&o, "crash", "ckptr-crash", 1, 0);
    o.op_timeout_ms = 3000;
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_OK);
    assert_int_equal(fwt_checkpointer_step_done(c, 1, 1, NULL), FWT_OK);
    assert_int_equal(fwt_local_server_kill9(fx.srv), 0);
    int saved = -1;
    assert_int_not_equal(fwt_checkpointer_step_done(c, 2, 2, &saved), FWT_OK);
    assert_int_equal(saved, 0);
    assert_int_not_equal(fwt_checkpointer_save(c, 2, 2, FWT_CHECKPOINT_KIND_SAMPLER), FWT_OK);
    fwt_registry *l = fx_registry("crash");
    assert_int_equal(fwt_registry_count(l), 1);
    assert_int_equal(fwt_registry_get(l, 0)->step, 1);
    fwt_registry_free(l);
    fwt_checkpointer_free(c);
    fwt_training_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_option_checks),
        cmocka_unit_test(test_saves_and_resume),
        cmocka_unit_test(test_torn_tail_warns),
        cmocka_unit_test(test_failed_save_appends_nothing),
    };
    return cmocka_run_group_tests(tests, group_setup, fx_teardown);
}
