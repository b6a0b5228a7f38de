/*
 * The scripted responder itself (tests/support/responder.h): with many clients at once, the
 * Nth request it counts must get the Nth queued answer. Counting and choosing used to be two
 * critical sections, so a second client could take the answer scripted for the first (this is
 * what made engine_direct's test_free_wakes_blocked_runs flaky).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "responder.h"

enum { THREADS = 16, PER_THREAD = 25, ROUNDS = 30 };

typedef struct client {
    const char *base;
    int id;
    char paths[PER_THREAD][64];
    char bodies[PER_THREAD][32];
    int ok;
} client;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    char *dst = ud;
    size_t have = strlen(dst), add = sz * n;
    if (have + add < 32) {
        memcpy(dst + have, p, add);
        dst[have + add] = '\0';
    }
    return sz * n;
}

static void *client_main(void *arg)
{
    client *c = arg;
    CURL *h = curl_easy_init();
    c->ok = h != NULL;
    for (int i = 0; h && i < PER_THREAD; i++) {
        char url[160];
        snprintf(c->paths[i], sizeof c->paths[i], "/c/%d/%d", c->id, i);
        snprintf(url, sizeof url, "%s%s", c->base, c->paths[i]);
        c->bodies[i][0] = '\0';
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, c->bodies[i]);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 60000L);
        if (curl_easy_perform(h) != CURLE_OK)
            c->ok = 0;
    }
    curl_easy_cleanup(h);
    return NULL;
}

static void test_nth_request_gets_nth_answer(void **state)
{
    (void)state;
    for (int round = 0; round < ROUNDS; round++) {
        fwt_responder *r = NULL;
        assert_int_equal(fwt_responder_start(&r, NULL, NULL), 0);
        char *base = fwt_responder_url(r, "");
        for (int i = 0; i < THREADS * PER_THREAD; i++) {
            char body[32];
            snprintf(body, sizeof body, "%d", i);
            fwt_resp_action a = {.status = 200, .body = body};
            fwt_responder_push(r, &a);
        }
        static client cs[THREADS];
        pthread_t th[THREADS];
        for (int t = 0; t < THREADS; t++) {
            memset(&cs[t], 0, sizeof cs[t]);
            cs[t].base = base;
            cs[t].id = t;
            assert_int_equal(pthread_create(&th[t], NULL, client_main, &cs[t]), 0);
        }
        for (int t = 0; t < THREADS; t++)
            pthread_join(th[t], NULL);
        assert_int_equal(fwt_responder_request_count(r), THREADS * PER_THREAD);
        for (int t = 0; t < THREADS; t++) {
            assert_true(cs[t].ok);
            for (int i = 0; i < PER_THREAD; i++) {
                /* the answer names its position in the queue: the request counted there must be this one */
                int n = atoi(cs[t].bodies[i]);
                fwt_resp_request *q = fwt_responder_request_copy(r, (size_t)n);
                assert_non_null(q);
                if (strcmp(q->path, cs[t].paths[i]) != 0)
                    fail_msg("answer %d went to %s, but request %d was %s", n, cs[t].paths[i], n, q->path);
                assert_int_equal(q->index, n);
                fwt_resp_request_free(q);
            }
        }
        free(base);
        fwt_responder_stop(r);
    }
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nth_request_gets_nth_answer),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
