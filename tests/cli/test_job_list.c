/* fwt_job_list_all (behind `fwtrain job list`) against the scripted responder (docs/protocol.md §3.2, "Listing"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "control_test_util.h"

#define JOB(id, state) "{\"name\":\"accounts/acct/rlorTrainerJobs/" id "\",\"state\":\"" state "\"}"

static void test_follows_page_tokens(void **state)
{
    cfx *f = *state;
    cfx_push(f, 200, "{\"rlorTrainerJobs\":[" JOB("a", "JOB_STATE_RUNNING") "," JOB("b", "JOB_STATE_DELETED")
                     "],\"nextPageToken\":\"t/1+\"}");
    cfx_push(f, 200, "{\"rlorTrainerJobs\":[" JOB("c", "JOB_STATE_PENDING") "],\"next_page_token\":\"\"}");
    fwt_job_list *l = NULL;
    assert_int_equal(fwt_job_list_all(&l, f->c, NULL), FWT_OK);
    assert_int_equal(fwt_job_list_count(l), 3);
    assert_int_equal(fwt_job_list_pages(l), 2);
    assert_string_equal(fwt_job_id(fwt_job_list_get(l, 0)), "a");
    assert_true(fwt_job_is_tombstone(fwt_job_list_get(l, 1)));
    assert_string_equal(fwt_job_state(fwt_job_list_get(l, 2)), "JOB_STATE_PENDING");
    assert_null(fwt_job_list_get(l, 3));
    cfx_req q = cfx_req_get(f, 0);
    assert_string_equal(q.raw->method, "GET");
    assert_string_equal(q.raw->path, "/v1/accounts/acct/rlorTrainerJobs?pageSize=200");
    cfx_req_free(&q);
    q = cfx_req_get(f, 1);
    /* the token is escaped */
    assert_string_equal(q.raw->path, "/v1/accounts/acct/rlorTrainerJobs?pageSize=200&pageToken=t%2F1%2B");
    cfx_req_free(&q);
    fwt_job_list_free(l);
}

static void test_options_and_empty(void **state)
{
    cfx *f = *state;
    fwt_job_list_options o;
    assert_int_equal(fwt_job_list_options_init(&o, FWT_JOB_LIST_OPTIONS_VERSION), FWT_OK);
    assert_int_equal(o.page_size, 200);
    assert_int_equal(o.max_pages, 0);
    o.page_size = 1;
    o.max_pages = 1;
    cfx_push(f, 200, "{\"rlorTrainerJobs\":[" JOB("a", "JOB_STATE_RUNNING") "],\"nextPageToken\":\"more\"}");
    fwt_job_list *l = NULL;
    assert_int_equal(fwt_job_list_all(&l, f->c, &o), FWT_OK);
    assert_int_equal(fwt_job_list_count(l), 1);
    cfx_req q = cfx_req_get(f, 0);
    assert_string_equal(q.raw->path, "/v1/accounts/acct/rlorTrainerJobs?pageSize=1");
    cfx_req_free(&q);
    fwt_job_list_free(l);
    /* no jobs: an empty object is an empty list */
    cfx_push(f, 200, "{}");
    assert_int_equal(fwt_job_list_all(&l, f->c, NULL), FWT_OK);
    assert_int_equal(fwt_job_list_count(l), 0);
    fwt_job_list_free(l);
    /* NULL-safe getters */
    assert_int_equal(fwt_job_list_count(NULL), 0);
    assert_null(fwt_job_list_get(NULL, 0));
    fwt_job_list_free(NULL);
}

static void test_bad_input_and_answers(void **state)
{
    cfx *f = *state;
    fwt_job_list *l = NULL;
    assert_int_equal(fwt_job_list_all(NULL, f->c, NULL), FWT_EINVAL);
    assert_int_equal(fwt_job_list_all(&l, NULL, NULL), FWT_EINVAL);
    fwt_job_list_options o;
    fwt_job_list_options_init(&o, FWT_JOB_LIST_OPTIONS_VERSION);
    o.version = 99;
    assert_int_equal(fwt_job_list_all(&l, f->c, &o), FWT_EINVAL);
    o.version = FWT_JOB_LIST_OPTIONS_VERSION;
    o.max_pages = -1;
    assert_int_equal(fwt_job_list_all(&l, f->c, &o), FWT_EINVAL);
    assert_int_equal(fwt_job_list_options_init(&o, 7), FWT_EINVAL);

    cfx_push(f, 200, "{\"rlorTrainerJobs\":{}}");
    assert_int_equal(fwt_job_list_all(&l, f->c, NULL), FWT_EPROTO);
    cfx_push(f, 200, "{\"rlorTrainerJobs\":[{\"state\":\"JOB_STATE_RUNNING\"}]}");
    assert_int_equal(fwt_job_list_all(&l, f->c, NULL), FWT_EPROTO);
    cfx_push(f, 200, "[1]");
    assert_int_equal(fwt_job_list_all(&l, f->c, NULL), FWT_EPROTO);
    /* a server that repeats its token would loop forever */
    cfx_push(f, 200, "{\"rlorTrainerJobs\":[],\"nextPageToken\":\"same\"}");
    cfx_push(f, 200, "{\"rlorTrainerJobs\":[],\"nextPageToken\":\"same\"}");
    assert_int_equal(fwt_job_list_all(&l, f->c, NULL), FWT_EPROTO);
    assert_non_null(strstr(fwt_error_last()->message, "repeats"));
    cfx_push(f, 403, "{\"code\":7,\"message\":\"permission denied\"}");
    assert_int_equal(fwt_job_list_all(&l, f->c, NULL), FWT_EAUTH);
    assert_int_equal(fwt_error_last()->http_status, 403);
    assert_null(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_follows_page_tokens, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_options_and_empty, cfx_setup, cfx_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input_and_answers, cfx_setup, cfx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
