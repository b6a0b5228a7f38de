/* Pure helpers of the control-plane modules: timestamps, names, validation, stage names (no network). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "fwtrain/fwtrain.h"

static void test_parse_time(void **state)
{
    (void)state;
    int64_t a = 0, b = 0, c = 0;
    assert_int_equal(fwt_checkpoint_parse_time(&a, "1970-01-01T00:00:00Z"), FWT_OK);
    assert_int_equal(a, 0);
    assert_int_equal(fwt_checkpoint_parse_time(&a, "2026-03-01T12:34:56Z"), FWT_OK);
    /* 2026-03-01 is day 20513 since the epoch */
    assert_int_equal(a, (20513LL * 86400 + 12 * 3600 + 34 * 60 + 56) * 1000000LL);
    assert_int_equal(fwt_checkpoint_parse_time(&b, "2026-03-01T12:34:56.5Z"), FWT_OK);
    assert_int_equal(b - a, 500000);
    assert_int_equal(fwt_checkpoint_parse_time(&c, "2026-03-01T12:34:56.123456789Z"), FWT_OK);
    assert_int_equal(c - a, 123456);
    assert_int_equal(fwt_checkpoint_parse_time(&c, "2026-03-01T14:34:56+02:00"), FWT_OK);
    assert_int_equal(c, a);
    assert_int_equal(fwt_checkpoint_parse_time(&c, "2024-02-29T00:00:00Z"), FWT_OK);
    const char *bad[] = {"", "yesterday", "2026-13-01T00:00:00Z", "2026-03-01T12:34:56", "2026-03-01T12:34:56Zjunk",
                         "2026-03-01T12:34:56.Z", "2026-02-30T00:00:00Z" /* day 30 > 29 max of Feb */};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(fwt_checkpoint_parse_time(&c, bad[i]), FWT_EINVAL);
    assert_int_equal(fwt_checkpoint_parse_time(NULL, "x"), FWT_EINVAL);
}

static void test_logical_name(void **state)
{
    (void)state;
    struct { const char *in, *out; } cases[] = {
        {"step-5-45dda197", "step-5"}, {"step-5", "step-5"}, {"step-5-45DDA197", "step-5-45DDA197"},
        {"x-0123456", "x-0123456"},   {"a-0123456789", "a-0123456789"}, {"-45dda197", "-45dda197"},
        {"final-abcdef01", "final"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *o = NULL;
        assert_int_equal(fwt_checkpoint_logical_name(&o, cases[i].in), FWT_OK);
        assert_string_equal(o, cases[i].out);
        fwt_free(o);
    }
}

static void test_output_model_id(void **state)
{
    (void)state;
    assert_int_equal(fwt_promote_validate_output_model_id("a"), FWT_OK);
    assert_int_equal(fwt_promote_validate_output_model_id("qwen3-4b-promote-step-1-12345"), FWT_OK);
    assert_int_equal(fwt_promote_validate_output_model_id(NULL), FWT_EINVAL);
    assert_int_equal(fwt_promote_validate_output_model_id("A"), FWT_EINVAL);
    assert_int_equal(fwt_promote_validate_output_model_id("a b"), FWT_EINVAL);
    assert_non_null(strstr(fwt_error_last()->message, "position 1"));
    char longid[65];
    memset(longid, 'a', 64);
    longid[64] = '\0';
    assert_int_equal(fwt_promote_validate_output_model_id(longid), FWT_EINVAL);
    longid[63] = '\0';
    assert_int_equal(fwt_promote_validate_output_model_id(longid), FWT_OK);
}

static void test_options_and_names(void **state)
{
    (void)state;
    fwt_promote_options p;
    assert_int_equal(fwt_promote_options_init(&p, 99), FWT_EINVAL);
    assert_int_equal(fwt_promote_options_init(&p, FWT_PROMOTE_OPTIONS_VERSION), FWT_OK);
    assert_int_equal(p.wait.poll_interval_ms, 10000);
    assert_int_equal(p.wait.timeout_ms, 7200000);
    fwt_job_wait_options w;
    assert_int_equal(fwt_job_wait_options_init(&w, FWT_JOB_WAIT_OPTIONS_VERSION), FWT_OK);
    assert_int_equal(w.wait.poll_interval_ms, 5000);
    fwt_weight_syncer_options s;
    assert_int_equal(fwt_weight_syncer_options_init(&s, FWT_WEIGHT_SYNCER_OPTIONS_VERSION), FWT_OK);
    assert_int_equal(s.hotload_wait.timeout_ms, 600000);
    assert_int_equal(s.first_sampler_type, FWT_SAMPLER_BASE);
    assert_string_equal(fwt_progress_stage_name(FWT_PROGRESS_HOTLOAD_LOADING), "hotload_loading");
    assert_string_equal(fwt_progress_stage_name(12345), "unknown");
    /* NULL-safe accessors and frees */
    assert_string_equal(fwt_job_id(NULL), "");
    assert_null(fwt_checkpoint_list_get(NULL, 0));
    assert_null(fwt_checkpoint_list_newest(NULL, 0));
    fwt_job_free(NULL);
    fwt_model_free(NULL);
    fwt_deployment_free(NULL);
    fwt_hotload_status_free(NULL);
    fwt_checkpoint_list_free(NULL);
    fwt_weight_syncer_free(NULL);
}

/* One wait-option struct, one duration rule: _init writes 0 (the call's default); bad values fail before any request. */
static void test_wait_options_rule(void **state)
{
    (void)state;
    fwt_wait_options w;
    assert_int_equal(fwt_wait_options_init(NULL, FWT_WAIT_OPTIONS_VERSION), FWT_EINVAL);
    assert_int_equal(fwt_wait_options_init(&w, 99), FWT_EINVAL);
    assert_int_equal(fwt_wait_options_init(&w, FWT_WAIT_OPTIONS_VERSION), FWT_OK);
    assert_int_equal(w.timeout_ms, 0);
    assert_int_equal(w.poll_interval_ms, 0);
    assert_int_equal(w.poll_initial_ms, 0);
    assert_null(w.progress);
    /* embedding structs write their call's concrete defaults into the embedded copy */
    fwt_job_wait_options j;
    assert_int_equal(fwt_job_wait_options_init(&j, FWT_JOB_WAIT_OPTIONS_VERSION), FWT_OK);
    assert_int_equal(j.wait.version, FWT_WAIT_OPTIONS_VERSION);
    assert_int_equal(j.wait.timeout_ms, 3600000);
    assert_int_equal(j.pending_timeout_ms, 48LL * 3600 * 1000);
    fwt_weight_syncer_options s;
    assert_int_equal(fwt_weight_syncer_options_init(&s, FWT_WEIGHT_SYNCER_OPTIONS_VERSION), FWT_OK);
    assert_int_equal(s.manager_wait.timeout_ms, 300000);
    assert_int_equal(s.warmup.max_tries, 10);
    assert_string_equal(s.hotload.compression_format, "arc_v2");
    fwt_client_options co;
    fwt_client_options_init(&co, FWT_CLIENT_OPTIONS_VERSION);
    co.api_key = "k";
    co.base_url = "http://127.0.0.1:9";
    co.header_timeout_ms = -1; /* -1 = no bound is accepted */
    fwt_client *c = NULL;
    assert_int_equal(fwt_client_new(&c, &co), FWT_OK);
    fwt_future *f = NULL;
    w.timeout_ms = -2;
    assert_int_equal(fwt_deployment_wait_ready(&f, c, "d1", &w), FWT_EINVAL);
    assert_non_null(strstr(fwt_error_last()->message, "timeout_ms"));
    w.timeout_ms = -1;
    w.poll_interval_ms = -1;
    assert_int_equal(fwt_deployment_delete(&f, c, "d1", &w), FWT_EINVAL);
    w.poll_interval_ms = 0;
    w.version = 7;
    assert_int_equal(fwt_deployment_wait_hotload_ready(&f, c, "d1", "b", &w), FWT_EINVAL);
    assert_null(f);
    j.pending_timeout_ms = -3;
    assert_int_equal(fwt_job_wait_ready(&f, c, "j1", &j), FWT_EINVAL);
    /* a blocking twin passes the start failure through and discards nothing it did not get */
    fwt_hotload_status *st = (fwt_hotload_status *)&w; /* must be reset to NULL */
    assert_int_equal(fwt_deployment_wait_hotload_ready_result(&st, c, "d1", "b", &w, -1), FWT_EINVAL);
    assert_null(st);
    assert_int_equal(fwt_job_delete_result(c, "Bad Id", -1), FWT_EINVAL);
    fwt_client_free(c);
    co.header_timeout_ms = -2;
    assert_int_equal(fwt_client_new(&c, &co), FWT_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_logical_name),
        cmocka_unit_test(test_output_model_id),
        cmocka_unit_test(test_options_and_names),
        cmocka_unit_test(test_wait_options_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
