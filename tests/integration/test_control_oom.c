/*
 * Allocation failure in the control-plane modules (docs/internals.md reliability §7
 * row M1): fail the Nth allocation of one full sequence (job create with a
 * 409, paged listing, promotion with operation polling, hotload + wait,
 * deployment get) for every N. Each call must return an error or succeed;
 * no crash, hang or leak (the ASan lane checks leaks).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "control_test_util.h"
#include "failing_alloc.h"

#define CK(id, t) "{\"name\":\"accounts/acct/rlorTrainerJobs/j/checkpoints/" id "\",\"createTime\":\"" t "\",\"promotable\":true}"

static void route(const fwt_resp_request *req, fwt_resp_action *out, void *ud)
{
    (void)ud;
    out->content_type = "application/json";
    const char *p = req->path;
    if (strstr(p, "/checkpoints?") && strstr(p, "pageToken=t2"))
        out->body = "{\"rlorTrainerJobCheckpoints\":[" CK("b-0a0b0c0d", "2026-01-01T00:00:02Z") "]}";
    else if (strstr(p, "/checkpoints?"))
        out->body = "{\"checkpoints\":[" CK("a-0a0b0c0d", "2026-01-01T00:00:01.5Z") "],\"nextPageToken\":\"t2\"}";
    else if (strstr(p, ":promote"))
        out->body = "{\"operation\":{\"name\":\"accounts/acct/operations/op-1\",\"done\":false}}";
    else if (strstr(p, "/operations/op-1"))
        out->body = "{\"name\":\"accounts/acct/operations/op-1\",\"done\":true,\"response\":{\"name\":"
                    "\"accounts/acct/models/m\",\"state\":\"READY\",\"kind\":\"HF_BASE_MODEL\"}}";
    else if (strstr(p, "/api/v1/healthz"))
        out->body = "{\"status\":\"ok\"}";
    else if (strstr(p, "/inference/v1/completions"))
        out->body = "{\"choices\":[]}";
    else if (strstr(p, "/hot_load/"))
        out->body = strcmp(req->method, "POST") == 0
                        ? "{}"
                        : "{\"replicas\":[{\"readiness\":true,\"current_snapshot_identity\":\"s-1\","
                          "\"loading_state\":{\"stage\":\"done\",\"target_snapshot_identity\":\"s-1\"}}]}";
    else if (strstr(p, "/rlorTrainerJobs?")) {
        out->status = 409;
        out->body = "{\"code\":6,\"message\":\"exists\"}";
    } else if (strstr(p, "/rlorTrainerJobs/j"))
        out->body = "{\"name\":\"accounts/acct/rlorTrainerJobs/j\",\"state\":\"JOB_STATE_RUNNING\","
                    "\"trainingConfig\":{\"baseModel\":\"b\"}}";
    else if (strstr(p, "/deployments/d1"))
        out->body = "{\"name\":\"accounts/acct/deployments/d1\",\"state\":\"READY\"}";
    else {
        out->status = 404;
        out->body = "{}";
    }
}

/*
 * Every wait below is bounded only to turn a hang into a failure: no step of the sequence
 * should come near it (each answer is immediate), so it is far above what a loaded machine
 * needs. A short bound here made a slow run look like a hang.
 */
#define HANG_MS 30000

static int ok_or_error(int rc)
{
    return rc == FWT_OK || rc < 0;
}

/* One sequence; returns the number of allocations it made. */
static long sequence(const char *base)
{
    fwt_client_options o = cfx_client_options(base, "k");
    o.retry_base_ms = 1;
    o.retry_cap_ms = 2;
    o.retry_budget_ms = 200;
    fwt_client *c = NULL;
    atomic_store(&fwt_test_alloc_count, 0);
    if (fwt_client_new(&c, &o) != FWT_OK)
        return atomic_load(&fwt_test_alloc_count);

    fwt_job_create_options jo;
    fwt_job_create_options_init(&jo, FWT_JOB_CREATE_OPTIONS_VERSION);
    jo.job_id = "j";
    jo.base_model = "b";
    fwt_job *j = NULL;
    assert_true(ok_or_error(fwt_job_create(&j, c, &jo)));
    fwt_job_free(j);

    fwt_checkpoint_list_options lo;
    fwt_checkpoint_list_options_init(&lo, FWT_CHECKPOINT_LIST_OPTIONS_VERSION);
    lo.page_size = 1;
    fwt_checkpoint_list *l = NULL;
    int rc = fwt_job_list_checkpoints(&l, c, "j", &lo);
    assert_true(ok_or_error(rc));
    if (rc == FWT_OK) {
        assert_int_equal(fwt_checkpoint_list_count(l), 2);
        fwt_checkpoint_list *p = NULL;
        if (fwt_checkpoint_list_filter(&p, l, FWT_CHECKPOINT_FILTER_PROMOTABLE) == FWT_OK)
            fwt_checkpoint_list_free(p);
    }
    fwt_checkpoint_list_free(l);

    fwt_promote_options po;
    fwt_promote_options_init(&po, FWT_PROMOTE_OPTIONS_VERSION);
    po.wait.poll_interval_ms = 1;
    po.wait.timeout_ms = HANG_MS;
    fwt_model *m = NULL;
    rc = fwt_promote_checkpoint_result(&m, c, "accounts/acct/rlorTrainerJobs/j/checkpoints/a-0a0b0c0d", "m", "b", &po,
                                       HANG_MS);
    assert_true(ok_or_error(rc));
    assert_int_not_equal(rc, FWT_ETIMEDOUT);
    fwt_model_free(m);

    fwt_hotload_options ho;
    fwt_hotload_options_init(&ho, FWT_HOTLOAD_OPTIONS_VERSION);
    ho.previous_snapshot_identity = "s-0";
    assert_true(ok_or_error(fwt_deployment_hotload(c, "d1", "b", "s-1", &ho)));
    fwt_wait_options hw;
    fwt_wait_options_init(&hw, FWT_WAIT_OPTIONS_VERSION);
    hw.poll_interval_ms = 1;
    hw.timeout_ms = HANG_MS;
    fwt_hotload_status *s = NULL;
    rc = fwt_deployment_wait_hotload_result(&s, c, "d1", "b", "s-1", &hw, HANG_MS);
    assert_true(ok_or_error(rc));
    assert_int_not_equal(rc, FWT_ETIMEDOUT);
    fwt_hotload_status_free(s);

    fwt_deployment *d = NULL;
    assert_true(ok_or_error(fwt_deployment_get(&d, c, "d1")));
    fwt_deployment_free(d);
    fwt_wait_options dw;
    fwt_wait_options_init(&dw, FWT_WAIT_OPTIONS_VERSION);
    dw.poll_interval_ms = 1;
    dw.timeout_ms = HANG_MS;
    d = NULL;
    rc = fwt_deployment_wait_ready_result(&d, c, "d1", &dw, HANG_MS);
    assert_true(ok_or_error(rc));
    assert_int_not_equal(rc, FWT_ETIMEDOUT);
    fwt_deployment_free(d);
    fwt_future *f = NULL;
    if (fwt_deployment_wait_hotload_ready(&f, c, "d1", "b", &dw) == FWT_OK) {
        assert_int_equal(fwt_future_wait(f, HANG_MS), FWT_OK);
        s = NULL;
        if (fwt_future_take_hotload_status(&s, f) == FWT_OK)
            fwt_hotload_status_free(s);
        fwt_future_free(f);
    }
    fwt_warmup_options wo;
    fwt_warmup_options_init(&wo, FWT_WARMUP_OPTIONS_VERSION);
    wo.retry_interval_ms = 1;
    assert_true(ok_or_error(fwt_deployment_warmup_result(c, "d1", &wo, HANG_MS)));
    fwt_job_wait_options jw;
    fwt_job_wait_options_init(&jw, FWT_JOB_WAIT_OPTIONS_VERSION);
    jw.wait.poll_interval_ms = 1;
    jw.wait.timeout_ms = HANG_MS;
    j = NULL;
    rc = fwt_job_wait_ready_result(&j, c, "j", &jw, HANG_MS);
    assert_true(ok_or_error(rc));
    assert_int_not_equal(rc, FWT_ETIMEDOUT);
    fwt_job_free(j);

    long n = atomic_load(&fwt_test_alloc_count);
    atomic_store(&fwt_test_alloc_fail_at, 0);
    fwt_client_free(c);
    return n;
}

static void test_every_allocation_fails_once(void **state)
{
    (void)state;
    fwt_responder *r = NULL;
    assert_int_equal(fwt_responder_start(&r, route, NULL), 0);
    char *base = fwt_responder_url(r, "");
    atomic_store(&fwt_test_alloc_fail_at, 0);
    long total = sequence(base);
    assert_true(total > 50);
    print_message("sequence makes %ld allocations\n", total);
    for (long n = 1; n <= total + 5; n++) {
        atomic_store(&fwt_test_alloc_fail_at, n);
        sequence(base);
    }
    atomic_store(&fwt_test_alloc_fail_at, 0);
    free(base);
    fwt_responder_stop(r);
}

int main(void)
{
    fwt_allocator a = fwt_test_failing_allocator();
    if (fwt_set_allocator(&a) != FWT_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_allocation_fails_once),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    fwt_set_allocator(NULL);
    return rc;
}
