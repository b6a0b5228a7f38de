/*
 * Errors that point the right way: the canonical-code mapping (one function in
 * core), and against the scripted responder the paths that use it: HTTP error
 * bodies, a promotion operation's error, a training future's error; the
 * API-key hint only for 401, "permission denied" with the server's reason for 403.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "control_test_util.h"
#include "core_test_util.h"
#include "core/request.h"

#define CKPT "accounts/acct/rlorTrainerJobs/j/checkpoints/step-1-0a0b0c0d"

static void test_canonical_mapping(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int number, want;
    } rows[] = {
        {"ALREADY_EXISTS", 6, FWT_ECONFLICT},     {"NOT_FOUND", 5, FWT_ENOTFOUND},
        {"PERMISSION_DENIED", 7, FWT_EAUTH},      {"UNAUTHENTICATED", 16, FWT_EAUTH},
        {"INVALID_ARGUMENT", 3, FWT_EINVAL},      {"OUT_OF_RANGE", 11, FWT_EINVAL},
        {"RESOURCE_EXHAUSTED", 8, FWT_ERATELIMIT}, {"FAILED_PRECONDITION", 9, FWT_ESTATE},
        {"ABORTED", 10, FWT_ECONFLICT},           {"DEADLINE_EXCEEDED", 4, FWT_ETIMEDOUT},
        {"UNIMPLEMENTED", 12, FWT_EUNSUPPORTED},  {"INTERNAL", 13, FWT_EREMOTE},
        {"UNAVAILABLE", 14, FWT_EREMOTE},         {"DATA_LOSS", 15, FWT_EREMOTE},
        {"CANCELLED", 1, FWT_EREMOTE},            {"UNKNOWN", 2, FWT_EREMOTE},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        assert_int_equal(fwt__status_from_canonical(rows[i].name, -1, -999), rows[i].want);
        assert_int_equal(fwt__status_from_canonical(NULL, rows[i].number, -999), rows[i].want);
    }
    assert_int_equal(fwt__status_from_canonical("already_exists", -1, -999), FWT_ECONFLICT);
    /* OK and unknown codes are no statement: the caller's fallback */
    assert_int_equal(fwt__status_from_canonical("OK", -1, -999), -999);
    assert_int_equal(fwt__status_from_canonical(NULL, 0, -999), -999);
    assert_int_equal(fwt__status_from_canonical("NO_SUCH_CODE", -1, -999), -999);
    assert_int_equal(fwt__status_from_canonical(NULL, 17, -999), -999);
    assert_int_equal(fwt__status_from_canonical(NULL, -1, -999), -999);

    static const struct {
        const char *json;
        int want;
    } shapes[] = {
        {"{\"code\":6,\"message\":\"x\"}", FWT_ECONFLICT},
        {"{\"code\":\"NOT_FOUND\"}", FWT_ENOTFOUND},
        {"{\"status\":\"PERMISSION_DENIED\"}", FWT_EAUTH},
        {"{\"error\":{\"code\":3,\"message\":\"bad\"}}", FWT_EINVAL},
        {"{\"error\":{\"code\":400,\"status\":\"ALREADY_EXISTS\"}}", FWT_ECONFLICT},
        {"{\"error\":\"plain\"}", FWT_EREMOTE},
        {"{\"code\":1e300}", FWT_EREMOTE},
        {"[6]", FWT_EREMOTE},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        cJSON *j = cJSON_Parse(shapes[i].json);
        assert_non_null(j);
        if (fwt__status_from_json(j, FWT_EREMOTE) != shapes[i].want)
            fail_msg("%s: got %d, want %d", shapes[i].json, fwt__status_from_json(j, FWT_EREMOTE), shapes[i].want);
        cJSON_Delete(j);
    }
    assert_int_equal(fwt__status_from_json(NULL, FWT_EREMOTE), FWT_EREMOTE);
}

static fwt_promote_options fast_promote(void)
{
    fwt_promote_options o;
    fwt_promote_options_init(&o, FWT_PROMOTE_OPTIONS_VERSION);
    o.wait.poll_interval_ms = 1;
    o.wait.timeout_ms = 5000;
    return o;
}

/* An existing output model id: the operation's ALREADY_EXISTS is a conflict, not "remote failure". */
static void test_promote_operation_error_codes(void **state)
{
    cfx *f = *state;
    static const struct {
        const char *op;
        int want;
    } rows[] = {
        {"{\"operation\":{\"name\":\"accounts/acct/operations/op-1\",\"done\":true,"
         "\"error\":{\"code\":6,\"message\":\"Model accounts/acct/models/m1 already exists\"}}}",
         FWT_ECONFLICT},
        {"{\"operation\":{\"name\":\"accounts/acct/operations/op-2\",\"done\":true,"
         "\"error\":{\"code\":\"NOT_FOUND\",\"message\":\"checkpoint gone\"}}}",
         FWT_ENOTFOUND},
        {"{\"operation\":{\"name\":\"accounts/acct/operations/op-3\",\"done\":true,"
         "\"error\":{\"message\":\"no code at all\"}}}",
         FWT_EREMOTE},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        cfx_push(f, 200, rows[i].op);
        fwt_promote_options o = fast_promote();
        fwt_model *m = NULL;
        int rc = fwt_promote_checkpoint_result(&m, f->c, CKPT, "m1", "accounts/fireworks/models/b", &o, 10000);
        if (rc != rows[i].want)
            fail_msg("row %zu: got %d (%s), want %d", i, rc, fwt_error_last()->message, rows[i].want);
        assert_null(m);
        assert_non_null(strstr(fwt_error_last()->message, "promotion of"));
    }
    /* Also as a plain HTTP answer: 409 by status, a 400 stating ALREADY_EXISTS by its code. */
    cfx_push(f, 409, "{\"code\":6,\"message\":\"model m1 exists\"}");
    fwt_model *m = NULL;
    fwt_promote_options o = fast_promote();
    assert_int_equal(fwt_promote_checkpoint_result(&m, f->c, CKPT, "m1", "accounts/fireworks/models/b", &o, 10000),
                     FWT_ECONFLICT);
}

static void test_http_bodies(void **state)
{
    cfx *f = *state;
    const char *out = NULL;
    fwt_job *j = NULL;
    /* 404: not found by status */
    cfx_push(f, 404, "{\"code\":5,\"message\":\"RlorTrainerJob j not found\"}");
    assert_int_equal(fwt_job_get(&j, f->c, "j"), FWT_ENOTFOUND);
    /* 400 whose body states a kind */
    cfx_push(f, 400, "{\"error\":{\"code\":400,\"status\":\"FAILED_PRECONDITION\",\"message\":\"job is deleting\"}}");
    assert_int_equal(fwt_job_get(&j, f->c, "j"), FWT_ESTATE);
    /* a generic server-side kind says no more than the status: not "the op ran and failed" */
    cfx_push(f, 425, "{\"code\":14,\"status\":\"UNAVAILABLE\",\"message\":\"hotload in progress\"}");
    assert_int_equal(fwt_job_get(&j, f->c, "j"), FWT_EHTTP);
    assert_int_equal(fwt_error_last()->http_status, 425);
    /* a 400 that states nothing stays a plain HTTP error */
    cfx_push(f, 400, "{\"message\":\"bad\"}");
    assert_int_equal(fwt_job_get(&j, f->c, "j"), FWT_EHTTP);
    /* 401: the key hint */
    cfx_push(f, 401, "{\"code\":16,\"message\":\"invalid key\"}");
    assert_int_equal(fwt_job_get(&j, f->c, "j"), FWT_EAUTH);
    assert_non_null(strstr(fwt_error_last()->message, "API key"));
    /* 403 from a proxy: permission denied, who said so, no key hint */
    fwt_resp_action a = {.status = 403, .content_type = "text/html", .body = "Access denied by Zscaler policy"};
    fwt_responder_push(f->r, &a);
    assert_int_equal(fwt_job_get(&j, f->c, "j"), FWT_EAUTH);
    const char *msg = fwt_error_last()->message;
    assert_non_null(strstr(msg, "permission denied: Access denied by Zscaler policy (HTTP 403)"));
    assert_null(strstr(msg, "API key"));
    assert_int_equal(fwt_error_last()->http_status, 403);
    /* 403 with the service's JSON and an empty message: still says what it is */
    cfx_push(f, 403, "{\"message\":\"\",\"code\":7}");
    assert_int_equal(fwt_job_get(&j, f->c, "j"), FWT_EAUTH);
    assert_non_null(strstr(fwt_error_last()->message, "permission denied"));
    (void)out;
}

/* A training future's error: its canonical code decides, else FWT_EREMOTE as before. */
static void test_future_error_codes(void **state)
{
    (void)state;
    fclock clk;
    fclock_init(&clk);
    trainer *tr = trainer_start(&clk);
    assert_non_null(tr);
    fwt_client *c = tr_client(tr, &clk, NULL);
    assert_non_null(c);
    fwt_training *t = tr_training(tr, c, 0, 0);
    assert_non_null(t);
    assert_int_equal(fwt_training_create_model_result(t, 20000), FWT_OK);
    static const struct {
        const char *body;
        int want;
    } rows[] = {
        {"{\"error\":\"checkpoint ck not found\",\"category\":\"user\",\"code\":\"NOT_FOUND\"}", FWT_ENOTFOUND},
        {"{\"error\":{\"code\":6,\"message\":\"ck exists\"},\"category\":\"user\"}", FWT_ECONFLICT},
        {"{\"error\":\"out of disk\",\"category\":\"server\"}", FWT_EREMOTE},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        tr_push_poll(tr, 200, rows[i].body);
        char *p = NULL;
        int rc = fwt_training_save_state_result(&p, t, "ck", 0, 20000);
        fwt_free(p);
        if (rc != rows[i].want)
            fail_msg("row %zu: got %d (%s), want %d", i, rc, fwt_error_last()->message, rows[i].want);
        assert_non_null(strstr(fwt_error_last()->message, "failed on the server"));
    }
    fwt_training_free(t);
    fwt_client_free(c);
    trainer_stop(tr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_mapping),
        cmocka_unit_test_setup_teardown(test_promote_operation_error_codes, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_http_bodies, cfx_setup, cfx_teardown),
        cmocka_unit_test(test_future_error_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
