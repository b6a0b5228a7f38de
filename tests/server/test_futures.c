/* fwtrain-local's request table (server/futures.c), driven directly (fwl_server_open: the server minus HTTP):
 * ids are found at any table size, the oldest completed future is the one evicted past the table's bound
 * (its id then answers 410), pending futures are never evicted, and unknown ids answer 404. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "futures.h"
#include "server.h"
#include "state.h"
#include "../support/fwl_inproc.h"

#define BOUND 20000 /* futures.c's FWL_MAX_FUTURES */

static fwl_server srv;
static char dir[256];

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/fwl-futures-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return -1;
    fwl_config_defaults(&srv.cfg);
    snprintf(srv.cfg.data_dir, sizeof srv.cfg.data_dir, "%s", dir);
    srv.cfg.long_poll_ms = 0; /* an unfinished future answers try_again at once */
    return fwl_server_open(&srv);
}

static int teardown(void **state)
{
    (void)state;
    fwl_server_close(&srv);
    fwl_test_rm_rf(dir);
    return 0;
}

/* retrieve_future for id: the status, and the body's "type" or "v" (or "") in out. */
static int retrieve(const char *id, char *out, size_t len)
{
    char body[160];
    snprintf(body, sizeof body, "{\"request_id\":\"%s\"}", id);
    fwl_req r;
    assert_int_equal(fwl_req_init(&r, "POST", "/x", body, strlen(body), NULL, NULL), 0);
    fwl_resp o = {0};
    fwl_retrieve_future(&srv, &r, &o);
    fwl_req_free(&r);
    cJSON *j = o.body ? cJSON_Parse(o.body) : NULL;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "v");
    snprintf(out, len, "%s", cJSON_IsString(t) ? t->valuestring : cJSON_IsString(v) ? v->valuestring : "");
    cJSON_Delete(j);
    free(o.body);
    return o.status;
}

static void complete(fwl_future *f, const char *v)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "v", v);
    fwl_future_complete(&srv, f, o);
}

static void test_bound_and_eviction(void **state)
{
    (void)state;
    enum { EXTRA = 50 };
    static char ids[BOUND + EXTRA][48];
    char got[64], want[32];
    /* the first one stays pending: never evicted, however old */
    fwl_future *pending = fwl_future_new(&srv, "j");
    assert_non_null(pending);
    char pending_id[48];
    snprintf(pending_id, sizeof pending_id, "%s", pending->id);
    for (int i = 0; i < BOUND + EXTRA; i++) {
        fwl_future *f = fwl_future_new(&srv, "j");
        assert_non_null(f);
        snprintf(ids[i], sizeof ids[i], "%s", f->id);
        snprintf(want, sizeof want, "r%d", i);
        complete(f, want);
    }
    /* the table holds its bound: the pending one and the newest BOUND - 1 completed ones */
    assert_int_equal(srv.n_futs, BOUND);
    int evicted = BOUND + EXTRA - (BOUND - 1);
    for (int i = 0; i < BOUND + EXTRA; i++) {
        int st = retrieve(ids[i], got, sizeof got);
        if (i < evicted) {
            assert_int_equal(st, 410); /* the oldest completed ones went first */
        } else {
            assert_int_equal(st, 200);
            snprintf(want, sizeof want, "r%d", i);
            assert_string_equal(got, want);
        }
    }
    assert_int_equal(retrieve(pending_id, got, sizeof got), 200);
    assert_string_equal(got, "try_again");
    complete(pending, "late");
    assert_int_equal(retrieve(pending_id, got, sizeof got), 200);
    assert_string_equal(got, "late");
    /* an id never issued: 404 (not ours), an id of this run never issued: 410 (ours, maybe evicted) */
    assert_int_equal(retrieve("nope", got, sizeof got), 404);
    char ours[64];
    snprintf(ours, sizeof ours, "req-%08x-999999999-zz", (unsigned)srv.epoch);
    assert_int_equal(retrieve(ours, got, sizeof got), 410);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_bound_and_eviction)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
