/*
 * fwt_weight_syncer against a scripted world (real sockets): a fake trainer
 * data plane plus fake deployments that track what they hold and reject a
 * delta whose previous identity they do not hold (docs/protocol.md §3.8, §3.9, §5).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include <unistd.h>

#include "control_test_util.h"

#define BASE_MODEL "accounts/fireworks/models/tiny"
#define MAXS 64

typedef struct dep {
    char name[80];
    char current[96];  /* "" = nothing loaded */
    char target[96];
    char stage[16];
    int stuck;         /* status never reaches done */
} dep;

typedef struct world {
    pthread_mutex_t mu;
    dep deps[4];
    int n_deps;
    /* saved snapshots: name → type */
    char snap[MAXS][96];
    char snap_type[MAXS][16];
    int n_snaps;
    /* promises */
    char rid_route[MAXS][40];
    char rid_path[MAXS][96];
    int n_rids;
    int fail_next_save;
    int fail_next_hotload_post;
    int warmup_fail;
    /* hotload log */
    char hl_identity[MAXS][96];
    char hl_prev[MAXS][96];
    char hl_dep[MAXS][80];
    int n_hl;
    char buf[MAXS][512];
    int nbuf;
} world;

static const char *keep(world *w, const char *s)
{
    char *b = w->buf[w->nbuf++ % MAXS];
    snprintf(b, 512, "%s", s);
    return b;
}

static dep *find_dep(world *w, const char *name)
{
    for (int i = 0; i < w->n_deps; i++)
        if (name && strcmp(w->deps[i].name, name) == 0)
            return &w->deps[i];
    return NULL;
}

static const char *snap_type(world *w, const char *id)
{
    for (int i = 0; i < w->n_snaps; i++)
        if (strcmp(w->snap[i], id) == 0)
            return w->snap_type[i];
    return NULL;
}

static void handler(const fwt_resp_request *req, fwt_resp_action *out, void *ud)
{
    world *w = ud;
    pthread_mutex_lock(&w->mu);
    out->content_type = "application/json";
    cJSON *body = req->body_len ? cJSON_Parse(req->body) : NULL;
    const char *api = strstr(req->path, "/api/v1/");
    char tmp[512];
    if (strcmp(req->path, "/hot_load/v1/models/hot_load") == 0) {
        dep *d = find_dep(w, fwt_resp_request_header(req, "fireworks-deployment"));
        if (!d) {
            out->status = 404;
            out->body = "{\"message\":\"no deployment\"}";
        } else if (strcmp(req->method, "POST") == 0) {
            cJSON *id = cJSON_GetObjectItemCaseSensitive(body, "identity");
            cJSON *md = cJSON_GetObjectItemCaseSensitive(body, "incremental_snapshot_metadata");
            cJSON *prev = md ? cJSON_GetObjectItemCaseSensitive(md, "previous_snapshot_identity") : NULL;
            int i = w->n_hl++ % MAXS;
            snprintf(w->hl_identity[i], 96, "%s", cJSON_IsString(id) ? id->valuestring : "");
            snprintf(w->hl_prev[i], 96, "%s", cJSON_IsString(prev) ? prev->valuestring : "");
            snprintf(w->hl_dep[i], 80, "%s", d->name);
            if (w->fail_next_hotload_post) {
                w->fail_next_hotload_post = 0;
                out->status = 400;
                out->body = "{\"error\":{\"message\":\"injected hotload refusal\"}}";
            } else {
                const char *type = snap_type(w, w->hl_identity[i]);
                snprintf(d->target, sizeof d->target, "%s", w->hl_identity[i]);
                int ok = type != NULL;
                /* a delta applies only on top of what the deployment holds */
                if (ok && strcmp(type, "delta") == 0)
                    ok = *w->hl_prev[i] && strcmp(w->hl_prev[i], d->current) == 0;
                if (!ok) {
                    snprintf(d->stage, sizeof d->stage, "error");
                } else if (d->stuck) {
                    snprintf(d->stage, sizeof d->stage, "downloading");
                } else {
                    snprintf(d->stage, sizeof d->stage, "done");
                    snprintf(d->current, sizeof d->current, "%s", w->hl_identity[i]);
                }
                out->body = "{}";
            }
        } else {
            if (*d->current)
                snprintf(tmp, sizeof tmp,
                         "{\"replicas\":[{\"readiness\":true,\"current_snapshot_identity\":\"%s\",\"loading_state\":"
                         "{\"stage\":\"%s\",\"target_snapshot_identity\":\"%s\"}}]}",
                         d->current, d->stage, d->target);
            else
                snprintf(tmp, sizeof tmp,
                         "{\"replicas\":[{\"readiness\":true,\"current_snapshot_identity\":null,\"loading_state\":"
                         "{\"stage\":\"%s\",\"target_snapshot_identity\":\"%s\"}}]}",
                         *d->stage ? d->stage : "idle", d->target);
            out->body = keep(w, tmp);
        }
    } else if (strcmp(req->path, "/inference/v1/completions") == 0) {
        out->status = w->warmup_fail ? 503 : 200;
        out->body = "{\"choices\":[]}";
    } else if (!api) {
        out->status = 404;
        out->body = "{\"message\":\"no route\"}";
    } else {
        const char *rt = api + 8;
        if (!strcmp(rt, "create_session")) {
            out->body = "{\"session_id\":\"sess-1\",\"type\":\"create_session\"}";
        } else if (!strcmp(rt, "session_heartbeat")) {
            out->body = "{}";
        } else if (!strcmp(rt, "retrieve_future")) {
            cJSON *rid = cJSON_GetObjectItemCaseSensitive(body, "request_id");
            int i = cJSON_IsString(rid) ? atoi(rid->valuestring + 2) : -1;
            if (i < 0 || i >= w->n_rids) {
                out->body = "{\"error\":\"unknown request\",\"category\":\"user\"}";
            } else if (!strcmp(w->rid_route[i], "create_model")) {
                out->body = "{\"model_id\":\"model-1\",\"type\":\"create_model\"}";
            } else if (!strcmp(w->rid_path[i], "FAIL")) {
                out->body = "{\"error\":\"injected save failure\",\"category\":\"server\"}";
            } else {
                snprintf(tmp, sizeof tmp, "{\"path\":\"%s\",\"type\":\"save_weights_for_sampler\"}", w->rid_path[i]);
                out->body = keep(w, tmp);
            }
        } else {
            int i = w->n_rids++ % MAXS;
            snprintf(w->rid_route[i], 40, "%s", rt);
            cJSON *path = cJSON_GetObjectItemCaseSensitive(body, "path");
            cJSON *ct = cJSON_GetObjectItemCaseSensitive(body, "checkpoint_type");
            snprintf(w->rid_path[i], 96, "%s", cJSON_IsString(path) ? path->valuestring : "");
            if (!strcmp(rt, "save_weights_for_sampler")) {
                if (w->fail_next_save) {
                    w->fail_next_save = 0;
                    snprintf(w->rid_path[i], 96, "FAIL");
                } else {
                    int s = w->n_snaps++ % MAXS;
                    snprintf(w->snap[s], 96, "%s", cJSON_IsString(path) ? path->valuestring : "");
                    snprintf(w->snap_type[s], 16, "%s", cJSON_IsString(ct) ? ct->valuestring : "?");
                }
            }
            snprintf(tmp, sizeof tmp, "{\"request_id\":\"r-%d\"}", i);
            out->body = keep(w, tmp);
        }
    }
    cJSON_Delete(body);
    pthread_mutex_unlock(&w->mu);
}

typedef struct sfx {
    world w;
    fwt_responder *r;
    fwt_client *c;
    fwt_training *t;
    char *base;
} sfx;

static int setup(void **state)
{
    sfx *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->w.mu, NULL);
    snprintf(f->w.deps[0].name, 80, "accounts/acct/deployments/d1");
    snprintf(f->w.deps[1].name, 80, "accounts/acct/deployments/d2");
    f->w.n_deps = 2;
    if (fwt_responder_start(&f->r, handler, &f->w) != 0)
        return -1;
    f->base = fwt_responder_url(f->r, "");
    fwt_client_options o = cfx_client_options(f->base, "test-key-syncer");
    if (fwt_client_new(&f->c, &o) != FWT_OK)
        return -1;
    fwt_training_options to;
    fwt_training_options_init(&to, FWT_TRAINING_OPTIONS_VERSION);
    to.job_id = "j";
    to.base_model = BASE_MODEL;
    to.session_suffix = "0a1b2c3d";
    if (fwt_training_new(&f->t, f->c, &to) != FWT_OK || fwt_training_create_model_result(f->t, 5000) != FWT_OK)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    sfx *f = *state;
    fwt_training_free(f->t);
    fwt_client_free(f->c);
    fwt_responder_stop(f->r);
    pthread_mutex_destroy(&f->w.mu);
    free(f->base);
    free(f);
    return 0;
}

/* The handler runs on responder threads: read and write the world under its lock. */
static const char *wstr(sfx *f, const char *field)
{
    static char copies[8][96];
    static int next;
    pthread_mutex_lock(&f->w.mu);
    char *c = copies[next++ % 8];
    snprintf(c, 96, "%s", field);
    pthread_mutex_unlock(&f->w.mu);
    return c;
}

static int wint(sfx *f, const int *field)
{
    pthread_mutex_lock(&f->w.mu);
    int v = *field;
    pthread_mutex_unlock(&f->w.mu);
    return v;
}

static void wseti(sfx *f, int *field, int v)
{
    pthread_mutex_lock(&f->w.mu);
    *field = v;
    pthread_mutex_unlock(&f->w.mu);
}

static fwt_weight_syncer *syncer(sfx *f, const char *dep_id, int lora)
{
    fwt_weight_syncer_options o;
    fwt_weight_syncer_options_init(&o, FWT_WEIGHT_SYNCER_OPTIONS_VERSION);
    o.deployment_id = dep_id;
    o.base_model = BASE_MODEL;
    o.lora_rank = lora;
    o.hotload_wait.poll_interval_ms = o.manager_wait.poll_interval_ms = 5;
    o.hotload_wait.timeout_ms = 3000;
    o.manager_wait.timeout_ms = 3000;
    o.warmup.retry_interval_ms = 5;
    o.warmup.max_tries = 2;
    fwt_weight_syncer *s = NULL;
    assert_int_equal(fwt_weight_syncer_new(&s, f->c, f->t, &o), FWT_OK);
    return s;
}

static void sync_ok(fwt_weight_syncer *s, const char *name, const char *expect_snapshot, fwt_sampler_type expect_type)
{
    char *snap = NULL;
    int rc = fwt_weight_syncer_save_and_hotload(&snap, s, name, FWT_SAMPLER_AUTO);
    if (rc != FWT_OK)
        print_error("save_and_hotload(%s): %s\n", name, fwt_error_last()->message);
    assert_int_equal(rc, FWT_OK);
    assert_string_equal(snap, expect_snapshot);
    fwt_free(snap);
    fwt_sync_timing tm = {FWT_SYNC_TIMING_VERSION, 0, 0, 0, 0, 0};
    assert_int_equal(fwt_weight_syncer_last_timing(s, &tm), FWT_OK);
    assert_int_equal(tm.type, expect_type);
    assert_true(tm.total_ms >= tm.save_ms);
    assert_true(tm.total_ms >= tm.hotload_ms);
    assert_string_equal(fwt_weight_syncer_base_identity(s), expect_snapshot);
}

static void test_chain_base_then_deltas(void **state)
{
    sfx *f = *state;
    fwt_weight_syncer *s = syncer(f, "d1", 0);
    assert_int_equal(fwt_weight_syncer_next_type(s), FWT_SAMPLER_BASE);
    sync_ok(s, "step-1", "step-1-0a1b2c3d", FWT_SAMPLER_BASE);
    sync_ok(s, "step-2", "step-2-0a1b2c3d", FWT_SAMPLER_DELTA);
    sync_ok(s, "step-3", "step-3-0a1b2c3d", FWT_SAMPLER_DELTA);
    assert_int_equal(wint(f, &f->w.n_hl), 3);
    assert_string_equal(wstr(f, f->w.hl_prev[0]), "");
    assert_string_equal(wstr(f, f->w.hl_prev[1]), "step-1-0a1b2c3d");
    assert_string_equal(wstr(f, f->w.hl_prev[2]), "step-2-0a1b2c3d");
    assert_string_equal(wstr(f, f->w.snap_type[0]), "base");
    assert_string_equal(wstr(f, f->w.snap_type[1]), "delta");
    assert_int_equal(fwt_weight_syncer_last_warmup_status(s), FWT_OK);
    fwt_weight_syncer_free(s);
}

static void test_broken_chain_healed_by_base(void **state)
{
    sfx *f = *state;
    fwt_weight_syncer *s = syncer(f, "d1", 0);
    sync_ok(s, "step-1", "step-1-0a1b2c3d", FWT_SAMPLER_BASE);
    /* another save on the same training: the trainer's next delta applies on top of "intruder", which d1 does
     * not hold. The syncer sees it from the save result and does not send a doomed hotload. */
    fwt_weight_syncer *other = syncer(f, "d2", 0);
    char *snap = NULL;
    assert_int_equal(fwt_weight_syncer_save_only(&snap, NULL, other, "intruder", FWT_SAMPLER_BASE), FWT_OK);
    fwt_free(snap);
    fwt_weight_syncer_free(other);
    int hotloads = wint(f, &f->w.n_hl);
    assert_int_equal(fwt_weight_syncer_next_type(s), FWT_SAMPLER_DELTA);
    assert_int_equal(fwt_weight_syncer_save_and_hotload(&snap, s, "step-2", FWT_SAMPLER_AUTO), FWT_ESTATE);
    assert_null(snap);
    assert_non_null(strstr(fwt_error_last()->message, "delta chain broken"));
    assert_non_null(strstr(fwt_error_last()->message, "intruder-0a1b2c3d"));
    assert_int_equal(wint(f, &f->w.n_hl), hotloads);
    /* healed: the next checkpoint is a base and loads */
    assert_int_equal(fwt_weight_syncer_next_type(s), FWT_SAMPLER_BASE);
    sync_ok(s, "step-3", "step-3-0a1b2c3d", FWT_SAMPLER_BASE);
    sync_ok(s, "step-4", "step-4-0a1b2c3d", FWT_SAMPLER_DELTA);
    /* the deployment changes under us (a load from elsewhere): the syncer reads what it holds before a delta
     * and sends a base the deployment can load, instead of a delta it would reject */
    pthread_mutex_lock(&f->w.mu);
    snprintf(f->w.deps[0].current, 96, "loaded-from-elsewhere");
    pthread_mutex_unlock(&f->w.mu);
    assert_int_equal(fwt_weight_syncer_next_type(s), FWT_SAMPLER_DELTA); /* it cannot know without asking */
    sync_ok(s, "step-5", "step-5-0a1b2c3d", FWT_SAMPLER_BASE);
    sync_ok(s, "step-6", "step-6-0a1b2c3d", FWT_SAMPLER_DELTA);
    fwt_weight_syncer_free(s);
}

static void test_failures_force_base(void **state)
{
    sfx *f = *state;
    fwt_weight_syncer *s = syncer(f, "d1", 0);
    sync_ok(s, "step-1", "step-1-0a1b2c3d", FWT_SAMPLER_BASE);
    wseti(f, &f->w.fail_next_hotload_post, 1);
    char *snap = NULL;
    assert_int_not_equal(fwt_weight_syncer_save_and_hotload(&snap, s, "step-2", FWT_SAMPLER_AUTO), FWT_OK);
    assert_non_null(strstr(fwt_error_last()->message, "injected hotload refusal"));
    assert_int_equal(fwt_weight_syncer_next_type(s), FWT_SAMPLER_BASE);
    sync_ok(s, "step-3", "step-3-0a1b2c3d", FWT_SAMPLER_BASE);
    wseti(f, &f->w.fail_next_save, 1);
    assert_int_not_equal(fwt_weight_syncer_save_and_hotload(&snap, s, "step-4", FWT_SAMPLER_AUTO), FWT_OK);
    assert_int_equal(fwt_weight_syncer_next_type(s), FWT_SAMPLER_BASE);
    sync_ok(s, "step-5", "step-5-0a1b2c3d", FWT_SAMPLER_BASE);
    fwt_weight_syncer_free(s);
}

static void test_foreign_snapshot_gets_full_load(void **state)
{
    sfx *f = *state;
    pthread_mutex_lock(&f->w.mu);
    snprintf(f->w.deps[0].current, 96, "from-a-previous-session-12345678");
    pthread_mutex_unlock(&f->w.mu);
    fwt_weight_syncer_options o;
    fwt_weight_syncer_options_init(&o, FWT_WEIGHT_SYNCER_OPTIONS_VERSION);
    o.deployment_id = "d1";
    o.base_model = BASE_MODEL;
    o.first_sampler_type = FWT_SAMPLER_DELTA; /* e.g. resuming: would be a delta... */
    o.hotload_wait.poll_interval_ms = o.manager_wait.poll_interval_ms = 5;
    o.disable_warmup = 1;
    fwt_weight_syncer *s = NULL;
    assert_int_equal(fwt_weight_syncer_new(&s, f->c, f->t, &o), FWT_OK);
    /* ...but the deployment holds a snapshot we did not load: full base load */
    sync_ok(s, "step-1", "step-1-0a1b2c3d", FWT_SAMPLER_BASE);
    assert_string_equal(wstr(f, f->w.hl_prev[0]), "");
    assert_int_equal(fwt_weight_syncer_last_warmup_status(s), FWT_EAGAIN);
    fwt_weight_syncer_reset_delta_chain(s);
    assert_null(fwt_weight_syncer_base_identity(s));
    fwt_weight_syncer_free(s);
}

static void test_lora_always_base(void **state)
{
    sfx *f = *state;
    fwt_weight_syncer *s = syncer(f, "d1", 16);
    sync_ok(s, "a", "a-0a1b2c3d", FWT_SAMPLER_BASE);
    sync_ok(s, "b", "b-0a1b2c3d", FWT_SAMPLER_BASE);
    assert_string_equal(wstr(f, f->w.hl_prev[1]), "");
    fwt_weight_syncer_free(s);
}

static void test_one_save_two_deployments(void **state)
{
    sfx *f = *state;
    fwt_weight_syncer *saver = syncer(f, NULL, 0);
    fwt_weight_syncer *s1 = syncer(f, "d1", 0), *s2 = syncer(f, "d2", 0);
    for (int step = 1; step <= 3; step++) {
        char name[16], *snap = NULL;
        snprintf(name, sizeof name, "s%d", step);
        fwt_sampler_type t = FWT_SAMPLER_AUTO;
        assert_int_equal(fwt_weight_syncer_save_only(&snap, &t, saver, name, FWT_SAMPLER_AUTO), FWT_OK);
        assert_int_equal(t, step == 1 ? FWT_SAMPLER_BASE : FWT_SAMPLER_DELTA);
        assert_int_equal(fwt_weight_syncer_hotload(s1, snap, t), FWT_OK);
        assert_int_equal(fwt_weight_syncer_hotload(s2, snap, t), FWT_OK);
        assert_string_equal(fwt_weight_syncer_base_identity(s1), snap);
        assert_string_equal(fwt_weight_syncer_base_identity(s2), snap);
        fwt_free(snap);
    }
    assert_int_equal(wint(f, &f->w.n_snaps), 3); /* one save per step */
    assert_string_equal(wstr(f, f->w.deps[0].current), "s3-0a1b2c3d");
    assert_string_equal(wstr(f, f->w.deps[1].current), "s3-0a1b2c3d");
    assert_int_equal(fwt_weight_syncer_hotload(saver, "s3-0a1b2c3d", FWT_SAMPLER_BASE), FWT_ESTATE);
    fwt_weight_syncer_free(saver);
    fwt_weight_syncer_free(s1);
    fwt_weight_syncer_free(s2);
}

typedef struct canceller {
    fwt_weight_syncer *s;
    int delay_ms;
} canceller;

static void *cancel_later(void *p)
{
    canceller *c = p;
    usleep((useconds_t)c->delay_ms * 1000);
    fwt_weight_syncer_cancel(c->s);
    return NULL;
}

static void test_timeout_cancel_and_warmup_failure(void **state)
{
    sfx *f = *state;
    fwt_weight_syncer_options o;
    fwt_weight_syncer_options_init(&o, FWT_WEIGHT_SYNCER_OPTIONS_VERSION);
    o.deployment_id = "d1";
    o.base_model = BASE_MODEL;
    o.hotload_wait.poll_interval_ms = o.manager_wait.poll_interval_ms = 5;
    o.hotload_wait.timeout_ms = 150;
    o.warmup.retry_interval_ms = 5;
    o.warmup.max_tries = 2;
    fwt_weight_syncer *s = NULL;
    assert_int_equal(fwt_weight_syncer_new(&s, f->c, f->t, &o), FWT_OK);
    /* warmup failure is not fatal */
    wseti(f, &f->w.warmup_fail, 1);
    sync_ok(s, "w1", "w1-0a1b2c3d", FWT_SAMPLER_BASE);
    assert_int_not_equal(fwt_weight_syncer_last_warmup_status(s), FWT_OK);
    wseti(f, &f->w.warmup_fail, 0);
    /* hotload that never completes: the timeout is honoured */
    wseti(f, &f->w.deps[0].stuck, 1);
    char *snap = NULL;
    assert_int_equal(fwt_weight_syncer_save_and_hotload(&snap, s, "w2", FWT_SAMPLER_AUTO), FWT_ETIMEDOUT);
    assert_non_null(strstr(fwt_error_last()->message, "w2-0a1b2c3d"));
    assert_int_equal(fwt_weight_syncer_next_type(s), FWT_SAMPLER_BASE);
    fwt_weight_syncer_free(s);
    /* and a long wait is cancelled from another thread */
    o.hotload_wait.timeout_ms = 60000;
    assert_int_equal(fwt_weight_syncer_new(&s, f->c, f->t, &o), FWT_OK);
    canceller cc = {s, 100};
    pthread_t th;
    pthread_create(&th, NULL, cancel_later, &cc);
    assert_int_equal(fwt_weight_syncer_save_and_hotload(&snap, s, "w3", FWT_SAMPLER_AUTO), FWT_ECANCELED);
    pthread_join(th, NULL);
    assert_int_equal(fwt_weight_syncer_next_type(s), FWT_SAMPLER_BASE);
    fwt_weight_syncer_free(s);
}

static void test_bad_arguments(void **state)
{
    sfx *f = *state;
    fwt_weight_syncer *s = NULL;
    fwt_weight_syncer_options o;
    fwt_weight_syncer_options_init(&o, FWT_WEIGHT_SYNCER_OPTIONS_VERSION);
    o.deployment_id = "d1"; /* without base_model */
    assert_int_equal(fwt_weight_syncer_new(&s, f->c, f->t, &o), FWT_EINVAL);
    o.base_model = BASE_MODEL;
    o.deployment_id = "bad/id";
    assert_int_equal(fwt_weight_syncer_new(&s, f->c, f->t, &o), FWT_EINVAL);
    assert_int_equal(fwt_weight_syncer_new(&s, NULL, f->t, NULL), FWT_EINVAL);
    s = syncer(f, "d1", 0);
    assert_int_equal(fwt_weight_syncer_save_and_hotload(NULL, s, "", FWT_SAMPLER_AUTO), FWT_EINVAL);
    assert_int_equal(fwt_weight_syncer_save_and_hotload(NULL, s, "a/b", FWT_SAMPLER_AUTO), FWT_EINVAL);
    assert_int_equal(fwt_weight_syncer_save_and_hotload(NULL, s, "ok", (fwt_sampler_type)42), FWT_EINVAL);
    assert_int_equal(fwt_weight_syncer_hotload(s, NULL, FWT_SAMPLER_BASE), FWT_EINVAL);
    assert_int_equal(wint(f, &f->w.n_hl), 0);
    fwt_weight_syncer_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_chain_base_then_deltas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_chain_healed_by_base, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failures_force_base, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_snapshot_gets_full_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lora_always_base, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_save_two_deployments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_cancel_and_warmup_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
