/* fwtrain-local's event-driven HTTP mode: a held long-poll holds no thread. With a single HTTP thread, many
 * retrieve_future calls waiting on a pending op leave the server free to answer everything else, and all of
 * them get the op's result once it runs; a server stopped with long-polls parked exits cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "local_server.h"
#include "srv_http.h"

#define KEY "pool-key"
#define POLLERS 16

typedef struct poll_arg {
    const char *base;
    const char *job;
    char rid[64];
    long status;
    char type[40];
} poll_arg;

static void *long_poll(void *p)
{
    poll_arg *a = p;
    char body[160], path[256];
    snprintf(body, sizeof body, "{\"request_id\":\"%s\"}", a->rid);
    snprintf(path, sizeof path, "/training/v1/rlorTrainerJobs/local/%s/api/v1/retrieve_future", a->job);
    srv_resp r;
    srv_call(&r, a->base, KEY, "POST", path, body);
    a->status = r.status;
    const cJSON *t = r.json ? cJSON_GetObjectItemCaseSensitive(r.json, "type") : NULL;
    snprintf(a->type, sizeof a->type, "%s", cJSON_IsString(t) ? t->valuestring : "");
    srv_resp_free(&r);
    return NULL;
}

/* An optim_step with seq_id `seq`; returns its request id (malloc'd). */
static char *submit_step(const char *base, const char *job, const char *model, int seq)
{
    char body[200];
    snprintf(body, sizeof body, "{\"model_id\":\"%s\",\"seq_id\":%d,\"adam_params\":{\"learning_rate\":0.001}}",
             model, seq);
    return srv_submit(base, KEY, job, "optim_step", body, NULL);
}

/* Long-polls that parked on a pending op: the one HTTP thread still answers other requests, and the op's
 * completion answers every poll with its result (not with try_again at the long-poll deadline). */
static void test_parked_polls_free_the_thread(void **state)
{
    (void)state;
    const char *args[] = {"--http-threads", "1", "--long-poll-ms", "60000", "--job-start-ms", "0", NULL};
    fwt_local_server *s = srv_start(KEY, args);
    assert_non_null(s);
    const char *base = fwt_local_server_url(s);
    char *model = srv_setup_model(base, KEY, "pool-job");
    assert_non_null(model);
    char *rid2 = submit_step(base, "pool-job", model, 2); /* waits for seq 1: pending */
    assert_non_null(rid2);
    poll_arg a[POLLERS];
    pthread_t th[POLLERS];
    for (int i = 0; i < POLLERS; i++) {
        a[i] = (poll_arg){.base = base, .job = "pool-job"};
        snprintf(a[i].rid, sizeof a[i].rid, "%s", rid2);
        assert_int_equal(pthread_create(&th[i], NULL, long_poll, &a[i]), 0);
    }
    /* other requests are answered while the polls are held (a blocked thread would hold them 60 s) */
    for (int i = 0; i < 5; i++) {
        srv_resp r;
        srv_call(&r, base, KEY, "GET", "/v1/accounts/local", NULL);
        assert_int_equal(r.status, 200);
        srv_resp_free(&r);
    }
    char *rid1 = submit_step(base, "pool-job", model, 1); /* fills the gap: seq 1, then seq 2 run */
    assert_non_null(rid1);
    for (int i = 0; i < POLLERS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(a[i].status, 200);
        assert_string_equal(a[i].type, "optim_step"); /* resumed by the completion, not the deadline */
    }
    free(rid1);
    free(rid2);
    free(model);
    assert_int_equal(srv_finish(s), 0);
}

/* A parked poll answers try_again at its deadline, and a server stopped with polls parked exits cleanly. */
static void test_deadline_and_stop(void **state)
{
    (void)state;
    const char *args[] = {"--http-threads", "2", "--long-poll-ms", "300", "--job-start-ms", "0", NULL};
    fwt_local_server *s = srv_start(KEY, args);
    assert_non_null(s);
    const char *base = fwt_local_server_url(s);
    char *model = srv_setup_model(base, KEY, "pool-stop");
    assert_non_null(model);
    char *rid = submit_step(base, "pool-stop", model, 2);
    assert_non_null(rid);
    poll_arg one = {.base = base, .job = "pool-stop"};
    snprintf(one.rid, sizeof one.rid, "%s", rid);
    long_poll(&one);
    assert_int_equal(one.status, 200);
    assert_string_equal(one.type, "try_again");
    /* now park a few and stop the server under them (no sleep needed: whether parked yet or not, it must exit 0) */
    poll_arg a[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        a[i] = one;
        assert_int_equal(pthread_create(&th[i], NULL, long_poll, &a[i]), 0);
    }
    assert_int_equal(srv_finish(s), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL); /* try_again, or a closed connection: either way they return */
    free(rid);
    free(model);
}

static int setup(void **state)
{
    (void)state;
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1; /* before any thread uses curl */
}

static int teardown(void **state)
{
    (void)state;
    curl_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parked_polls_free_the_thread),
        cmocka_unit_test(test_deadline_and_stop),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
