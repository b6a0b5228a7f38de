/*
 * The whole RL-style cycle against fwtrain-local (real server, real model):
 * job → ready → session + model → 20 × (forward_backward, optim_step,
 * save_and_hotload) with the deployment's prompt logprobs equal to the
 * trainer's forward logprobs after every hotload → promote the first base.
 * Plus: delta refused for promotion, 409 paths, a deleted job still listable
 * and promotable, paging, a broken chain healed by the next base, hotload
 * timeout and cancellation of each long wait.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/request.h"
#include "fwtrain/fwtrain.h"
#include "local_server.h"
#include "text_batch.h"

#define BASE_MODEL "accounts/fireworks/models/fwl-tiny"

static const char PROMPT[] = "the quick brown fox jumps over the lazy dog";

typedef struct env {
    fwt_local_server *srv;
    fwt_client *c;
} env;

static int start_env(env *e, const char *const *args)
{
    fwt_local_server_opts o;
    fwt_local_server_opts_init(&o);
    o.extra_args = args;
    if (fwt_local_server_start(&e->srv, &o) != 0)
        return -1;
    fwt_client_options co;
    fwt_client_options_init(&co, FWT_CLIENT_OPTIONS_VERSION);
    co.base_url = fwt_local_server_url(e->srv);
    co.api_key = fwt_local_server_api_key(e->srv);
    co.retry_base_ms = 10;
    co.retry_cap_ms = 50;
    co.poll_floor_ms = 1;
    return fwt_client_new(&e->c, &co) == FWT_OK ? 0 : -1;
}

static void stop_env(env *e)
{
    fwt_client_free(e->c);
    fwt_local_server_free(e->srv);
}

static int group_setup(void **state)
{
    env *e = calloc(1, sizeof *e);
    static const char *const args[] = {"--model-dim", "8", "--job-start-ms", "30", "--hotload-ms", "5",
                                       "--promote-ms", "20", "--long-poll-ms", "200", NULL};
    if (!e || start_env(e, args) != 0)
        return -1;
    *state = e;
    return 0;
}

static int group_teardown(void **state)
{
    env *e = *state;
    stop_env(e);
    free(e);
    return 0;
}

static void check(int rc, const char *what)
{
    if (rc != FWT_OK)
        print_error("%s: %s (%s)\n", what, fwt_strerror(rc), fwt_error_last()->message);
    assert_int_equal(rc, FWT_OK);
}

static fwt_job *ready_job(env *e, const char *job_id, int lora_rank)
{
    fwt_job_create_options o;
    fwt_job_create_options_init(&o, FWT_JOB_CREATE_OPTIONS_VERSION);
    o.job_id = job_id;
    o.base_model = BASE_MODEL;
    o.lora_rank = lora_rank;
    fwt_job *j = NULL;
    check(fwt_job_create(&j, e->c, &o), "job create");
    fwt_job_free(j);
    fwt_job_wait_options w;
    fwt_job_wait_options_init(&w, FWT_JOB_WAIT_OPTIONS_VERSION);
    w.wait.poll_interval_ms = 10;
    w.wait.timeout_ms = 20000;
    check(fwt_job_wait_ready_result(&j, e->c, job_id, &w, 30000), "wait ready");
    assert_string_equal(fwt_job_state(j), "JOB_STATE_RUNNING");
    return j;
}

static fwt_training *open_training(env *e, const fwt_job *j)
{
    fwt_training *t = NULL;
    check(fwt_job_open_training(&t, e->c, j, NULL), "open training");
    check(fwt_training_create_model_result(t, 30000), "create_model");
    return t;
}

/* The deployment's prompt logprobs (echo, temperature 0) must equal the trainer's forward logprobs exactly. */
static void expect_same_logprobs(env *e, fwt_training *t, const char *deployment_id)
{
    fwt_batch *b = fwt_test_text_batch(PROMPT);
    fwt_forward_output *fo = NULL;
    check(fwt_training_forward_result(&fo, t, b, FWT_LOSS_CROSS_ENTROPY, 30000), "forward");
    size_t n = 0;
    const float *lp = fwt_forward_output_logprobs(fo, 0, &n);
    assert_non_null(lp);
    assert_int_equal(n, strlen(PROMPT) - 1);

    const char *account = NULL;
    check(fwt_client_account_id(&account, e->c), "account");
    cJSON *body = cJSON_CreateObject();
    char model[160];
    snprintf(model, sizeof model, "accounts/%s/deployments/%s", account, deployment_id);
    cJSON_AddStringToObject(body, "model", model);
    cJSON *prompt = cJSON_AddArrayToObject(body, "prompt");
    for (size_t i = 0; PROMPT[i]; i++)
        cJSON_AddItemToArray(prompt, cJSON_CreateNumber((unsigned char)PROMPT[i]));
    cJSON_AddNumberToObject(body, "max_tokens", 0);
    cJSON_AddNumberToObject(body, "temperature", 0);
    cJSON_AddBoolToObject(body, "echo", 1);
    cJSON_AddNumberToObject(body, "logprobs", 1);
    char url[512];
    snprintf(url, sizeof url, "%s/inference/v1/completions", fwt_local_server_url(e->srv));
    fwt__call call = {0};
    call.plane = FWT__PLANE_INFERENCE;
    call.method = "POST";
    call.url = url;
    call.body = body;
    call.retry = FWT__RC_CONTROL;
    fwt__reply r;
    fwt__reply_init(&r);
    check(fwt__call_sync(e->c, &call, &r), "completions");
    cJSON *choices = cJSON_GetObjectItemCaseSensitive(r.json, "choices");
    cJSON *lps = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(choices, 0), "logprobs");
    cJSON *tlp = cJSON_GetObjectItemCaseSensitive(lps, "token_logprobs");
    assert_int_equal(cJSON_GetArraySize(tlp), (int)strlen(PROMPT));
    assert_true(cJSON_IsNull(cJSON_GetArrayItem(tlp, 0)));
    for (size_t i = 0; i < n; i++) {
        cJSON *v = cJSON_GetArrayItem(tlp, (int)i + 1);
        assert_true(cJSON_IsNumber(v));
        if ((float)v->valuedouble != lp[i])
            print_error("token %zu: deployment %.9g trainer %.9g\n", i + 1, v->valuedouble, (double)lp[i]);
        assert_true((float)v->valuedouble == lp[i]);
    }
    fwt__reply_clear(&r);
    cJSON_Delete(body);
    fwt_forward_output_free(fo);
    fwt_batch_free(b);
}

static fwt_weight_syncer *make_syncer(env *e, fwt_training *t, const char *deployment_id, int64_t hotload_timeout,
                                      int lora_rank)
{
    fwt_weight_syncer_options o;
    fwt_weight_syncer_options_init(&o, FWT_WEIGHT_SYNCER_OPTIONS_VERSION);
    o.deployment_id = deployment_id;
    o.base_model = BASE_MODEL;
    o.hotload_wait.poll_interval_ms = o.manager_wait.poll_interval_ms = 5;
    o.hotload_wait.timeout_ms = hotload_timeout;
    o.lora_rank = lora_rank;
    o.manager_wait.timeout_ms = 20000;
    o.warmup.retry_interval_ms = 10;
    fwt_weight_syncer *s = NULL;
    check(fwt_weight_syncer_new(&s, e->c, t, &o), "syncer");
    return s;
}

static void make_deployment(env *e, const char *dep, const char *job_id)
{
    fwt_deployment_create_options o;
    fwt_deployment_create_options_init(&o, FWT_DEPLOYMENT_CREATE_OPTIONS_VERSION);
    o.base_model = BASE_MODEL;
    o.hot_load_trainer_job = job_id;
    fwt_deployment *d = NULL;
    check(fwt_deployment_create(&d, e->c, dep, &o), "deployment create");
    assert_string_equal(fwt_deployment_id(d), dep);
    fwt_deployment_free(d);
    /* get-or-create: the second call finds it */
    check(fwt_deployment_create(&d, e->c, dep, &o), "deployment create again");
    fwt_deployment_free(d);
    fwt_wait_options w;
    fwt_wait_options_init(&w, FWT_WAIT_OPTIONS_VERSION);
    w.poll_interval_ms = 10;
    w.timeout_ms = 20000;
    check(fwt_deployment_wait_ready_result(&d, e->c, dep, &w, 30000), "deployment wait ready");
    fwt_deployment_free(d);
}

/* A ready trainer job, its session and model, a deployment attached to it and a syncer on both. */
typedef struct rig {
    fwt_job *j;
    fwt_training *t;
    fwt_weight_syncer *s;
} rig;

static rig open_rig(env *e, const char *job_id, int lora_rank, const char *dep, int64_t hotload_timeout)
{
    rig r;
    r.j = ready_job(e, job_id, lora_rank);
    r.t = open_training(e, r.j);
    make_deployment(e, dep, job_id);
    r.s = make_syncer(e, r.t, dep, hotload_timeout, lora_rank);
    return r;
}

static void close_rig(rig *r)
{
    fwt_weight_syncer_free(r->s);
    fwt_training_free(r->t);
    fwt_job_free(r->j);
}

static void train_step(fwt_training *t, fwt_batch *b)
{
    fwt_forward_output *fo = NULL;
    check(fwt_training_forward_backward_result(&fo, t, b, FWT_LOSS_CROSS_ENTROPY, 30000), "forward_backward");
    fwt_forward_output_free(fo);
    fwt_adam_params p;
    fwt_adam_params_init(&p, FWT_ADAM_PARAMS_VERSION);
    p.learning_rate = 1e-2;
    fwt_metrics *m = NULL;
    check(fwt_training_optim_step_result(&m, t, &p, 30000), "optim_step");
    fwt_metrics_free(m);
}

static void test_rl_cycle(void **state)
{
    env *e = *state;
    rig r = open_rig(e, "rl-cycle", 0, "rl-dep", 20000);
    fwt_job *j = r.j;
    fwt_training *t = r.t;
    fwt_weight_syncer *s = r.s;
    fwt_batch *b = fwt_test_text_batch("hello world, hello trainer, hello deployment");
    char *first = NULL, *second = NULL;
    for (int step = 1; step <= 20; step++) {
        train_step(t, b);
        char name[32], *snap = NULL;
        snprintf(name, sizeof name, "step-%d", step);
        check(fwt_weight_syncer_save_and_hotload(&snap, s, name, FWT_SAMPLER_AUTO), "save_and_hotload");
        fwt_sync_timing tm = {FWT_SYNC_TIMING_VERSION, 0, 0, 0, 0, 0};
        check(fwt_weight_syncer_last_timing(s, &tm), "timing");
        assert_int_equal(tm.type, step == 1 ? FWT_SAMPLER_BASE : FWT_SAMPLER_DELTA);
        expect_same_logprobs(e, t, "rl-dep");
        if (step == 1)
            first = snap;
        else if (step == 2)
            second = snap;
        else
            fwt_free(snap);
    }
    /* promote the first base; a delta is refused with a clear reason */
    fwt_promote_options po;
    fwt_promote_options_init(&po, FWT_PROMOTE_OPTIONS_VERSION);
    po.wait.poll_interval_ms = 10;
    fwt_future *f = NULL;
    assert_int_equal(fwt_promote_checkpoint_by_id(&f, e->c, fwt_job_id(j), second, "rl-delta", BASE_MODEL, &po), FWT_OK);
    assert_int_equal(fwt_future_wait(f, 30000), FWT_OK);
    assert_int_not_equal(fwt_future_status(f), FWT_OK);
    assert_non_null(strstr(fwt_future_error(f)->message, "delta checkpoints are not promotable"));
    fwt_future_free(f);
    fwt_checkpoint_list *l = NULL;
    check(fwt_job_list_checkpoints(&l, e->c, fwt_job_id(j), NULL), "list");
    const fwt_checkpoint_row *row = fwt_checkpoint_list_find(l, "step-1");
    assert_non_null(row);
    assert_string_equal(fwt_checkpoint_row_id(row), first);
    assert_true(fwt_checkpoint_row_promotable(row));
    assert_false(fwt_checkpoint_row_promotable(fwt_checkpoint_list_find(l, "step-2")));
    fwt_model *m = NULL;
    check(fwt_promote_checkpoint_result(&m, e->c, fwt_checkpoint_row_name(row), "rl-first-base", BASE_MODEL, &po, 30000),
          "promote");
    assert_string_equal(fwt_model_state(m), "READY");
    assert_non_null(strstr(fwt_model_name(m), "/models/rl-first-base"));
    fwt_model_free(m);
    /* an invalid output id is refused before any request */
    assert_int_equal(fwt_promote_checkpoint_result(&m, e->c, fwt_checkpoint_row_name(row), "Bad_Id", BASE_MODEL, &po, 1000),
                     FWT_EINVAL);
    fwt_checkpoint_list_free(l);
    fwt_free(first);
    fwt_free(second);
    fwt_batch_free(b);
    close_rig(&r);
}

static void test_broken_chain_healed(void **state)
{
    env *e = *state;
    rig r = open_rig(e, "chain-job", 0, "chain-dep", 20000);
    fwt_training *t = r.t;
    fwt_weight_syncer *s = r.s;
    fwt_batch *b = fwt_test_text_batch("break the chain, then heal it");
    train_step(t, b);
    check(fwt_weight_syncer_save_and_hotload(NULL, s, "c1", FWT_SAMPLER_AUTO), "c1");
    /* the trainer saves a new base the deployment never loads: its next delta is against that base */
    train_step(t, b);
    fwt_sampler_save *sv = NULL;
    check(fwt_training_save_weights_for_sampler_ext_result(&sv, t, "side-base", FWT_SAMPLER_BASE, 0, 30000), "side");
    fwt_sampler_save_free(sv);
    train_step(t, b);
    assert_int_equal(fwt_weight_syncer_next_type(s), FWT_SAMPLER_DELTA);
    int rc = fwt_weight_syncer_save_and_hotload(NULL, s, "c2", FWT_SAMPLER_AUTO);
    assert_int_equal(rc, FWT_ESTATE); /* detected from the save result, before any hotload */
    assert_non_null(strstr(fwt_error_last()->message, "delta chain broken"));
    assert_int_equal(fwt_weight_syncer_next_type(s), FWT_SAMPLER_BASE);
    train_step(t, b);
    check(fwt_weight_syncer_save_and_hotload(NULL, s, "c3", FWT_SAMPLER_AUTO), "c3 (healing base)");
    expect_same_logprobs(e, t, "chain-dep");
    train_step(t, b);
    check(fwt_weight_syncer_save_and_hotload(NULL, s, "c4", FWT_SAMPLER_AUTO), "c4 (delta again)");
    expect_same_logprobs(e, t, "chain-dep");
    fwt_batch_free(b);
    check(fwt_deployment_delete_result(e->c, "chain-dep", NULL, 30000), "deployment delete");
    fwt_deployment *d = NULL;
    assert_int_equal(fwt_deployment_get(&d, e->c, "chain-dep"), FWT_ENOTFOUND);
    close_rig(&r);
}

/* Re-attach a deployment to a second trainer: the new chain starts with a full base load. */
static void test_reattach_to_new_trainer(void **state)
{
    env *e = *state;
    rig ra = open_rig(e, "attach-a", 0, "attach-dep", 20000);
    fwt_training *ta = ra.t;
    fwt_weight_syncer *sa = ra.s;
    fwt_batch *b = fwt_test_text_batch("first trainer, then second trainer");
    train_step(ta, b);
    check(fwt_weight_syncer_save_and_hotload(NULL, sa, "a1", FWT_SAMPLER_AUTO), "a1");
    train_step(ta, b);
    check(fwt_weight_syncer_save_and_hotload(NULL, sa, "a2", FWT_SAMPLER_AUTO), "a2");
    expect_same_logprobs(e, ta, "attach-dep");

    fwt_job *jb = ready_job(e, "attach-b", 0);
    fwt_training *tb = open_training(e, jb);
    fwt_deployment *d = NULL;
    check(fwt_deployment_reattach(&d, e->c, "attach-dep", fwt_job_id(jb)), "reattach");
    assert_non_null(strstr(fwt_deployment_hot_load_trainer_job(d), "/rlorTrainerJobs/attach-b"));
    fwt_deployment_free(d);
    check(fwt_deployment_get(&d, e->c, "attach-dep"), "get");
    assert_non_null(strstr(fwt_deployment_hot_load_trainer_job(d), "/rlorTrainerJobs/attach-b"));
    fwt_deployment_free(d);
    fwt_weight_syncer *sb = make_syncer(e, tb, "attach-dep", 20000, 0);
    train_step(tb, b);
    train_step(tb, b);
    check(fwt_weight_syncer_save_and_hotload(NULL, sb, "b1", FWT_SAMPLER_AUTO), "b1");
    fwt_sync_timing tm = {FWT_SYNC_TIMING_VERSION, 0, 0, 0, 0, 0};
    check(fwt_weight_syncer_last_timing(sb, &tm), "timing");
    assert_int_equal(tm.type, FWT_SAMPLER_BASE);
    expect_same_logprobs(e, tb, "attach-dep");
    train_step(tb, b);
    check(fwt_weight_syncer_save_and_hotload(NULL, sb, "b2", FWT_SAMPLER_AUTO), "b2");
    expect_same_logprobs(e, tb, "attach-dep");
    fwt_batch_free(b);
    close_rig(&ra);
    fwt_weight_syncer_free(sb);
    fwt_training_free(tb);
    fwt_job_free(jb);
}

static void test_jobs_409_deleted_paging(void **state)
{
    env *e = *state;
    fwt_job *j = ready_job(e, "dup-job", 0);
    /* 409 → GET → the same job */
    fwt_job_create_options o;
    fwt_job_create_options_init(&o, FWT_JOB_CREATE_OPTIONS_VERSION);
    o.job_id = "dup-job";
    o.base_model = BASE_MODEL;
    fwt_job *again = NULL;
    check(fwt_job_create(&again, e->c, &o), "create again");
    assert_string_equal(fwt_job_id(again), "dup-job");
    fwt_job_free(again);
    /* 7 sampler saves → ≥ 3 pages of 3 */
    fwt_training *t = open_training(e, j);
    for (int i = 0; i < 7; i++) {
        char name[16];
        snprintf(name, sizeof name, "p-%d", i);
        fwt_sampler_save *sv = NULL;
        check(fwt_training_save_weights_for_sampler_ext_result(&sv, t, name, FWT_SAMPLER_BASE, 0, 30000), "save");
        fwt_sampler_save_free(sv);
    }
    fwt_training_free(t);
    fwt_checkpoint_list_options lo;
    fwt_checkpoint_list_options_init(&lo, FWT_CHECKPOINT_LIST_OPTIONS_VERSION);
    lo.page_size = 3;
    fwt_checkpoint_list *l = NULL;
    check(fwt_job_list_checkpoints(&l, e->c, "dup-job", &lo), "list paged");
    assert_true(fwt_checkpoint_list_pages(l) >= 3);
    assert_true(fwt_checkpoint_list_count(l) >= 7);
    const fwt_checkpoint_row *newest = fwt_checkpoint_list_newest(l, FWT_CHECKPOINT_FILTER_PROMOTABLE);
    assert_non_null(newest);
    char *logical = NULL;
    check(fwt_checkpoint_logical_name(&logical, fwt_checkpoint_row_id(newest)), "logical");
    assert_string_equal(logical, "p-6");
    fwt_free(logical);
    fwt_checkpoint_list *all = NULL;
    check(fwt_job_list_checkpoints(&all, e->c, "dup-job", NULL), "list one page");
    assert_int_equal(fwt_checkpoint_list_count(all), fwt_checkpoint_list_count(l));
    fwt_checkpoint_list_free(all);
    /* delete: still listable and promotable; the id cannot be reused */
    check(fwt_job_delete_result(e->c, "dup-job", -1), "delete");
    fwt_job *g = NULL;
    check(fwt_job_get(&g, e->c, "dup-job"), "get deleted");
    assert_true(fwt_job_is_tombstone(g));
    fwt_job_free(g);
    assert_int_equal(fwt_job_create(&again, e->c, &o), FWT_ECONFLICT);
    assert_non_null(strstr(fwt_error_last()->message, "dup-job"));
    fwt_checkpoint_list *after = NULL;
    check(fwt_job_list_checkpoints(&after, e->c, "dup-job", NULL), "list deleted");
    assert_int_equal(fwt_checkpoint_list_count(after), fwt_checkpoint_list_count(l));
    fwt_promote_options po;
    fwt_promote_options_init(&po, FWT_PROMOTE_OPTIONS_VERSION);
    po.wait.poll_interval_ms = 10;
    fwt_model *m = NULL;
    check(fwt_promote_checkpoint_result(&m, e->c, fwt_checkpoint_row_name(newest), "from-deleted-job", BASE_MODEL, &po,
                                        30000),
          "promote from deleted job");
    assert_string_equal(fwt_model_state(m), "READY");
    fwt_model_free(m);
    fwt_checkpoint_list_free(after);
    fwt_checkpoint_list_free(l);
    fwt_job_free(j);
}

/* The same cycle against a server injecting seeded 503s, 408s and dropped connections on every plane. */
static void test_cycle_under_faults(void **state)
{
    (void)state;
    env ef = {0};
    static const char *const args[] = {"--model-dim", "4", "--job-start-ms", "20", "--hotload-ms", "5",
                                       "--promote-ms", "20", "--long-poll-ms", "200",
                                       "--faults", "seed=11,http503=0.1,http408=0.05,drop=0.05", NULL};
    assert_int_equal(start_env(&ef, args), 0);
    rig r = open_rig(&ef, "faulty-job", 0, "faulty-dep", 20000);
    fwt_training *t = r.t;
    fwt_weight_syncer *s = r.s;
    fwt_job *again = NULL;
    fwt_job_create_options o;
    fwt_job_create_options_init(&o, FWT_JOB_CREATE_OPTIONS_VERSION);
    o.job_id = "faulty-job";
    o.base_model = BASE_MODEL;
    check(fwt_job_create(&again, ef.c, &o), "create again under faults");
    fwt_job_free(again);
    fwt_batch *b = fwt_test_text_batch("faults everywhere, results unchanged");
    char *first = NULL;
    for (int step = 1; step <= 6; step++) {
        train_step(t, b);
        char name[32];
        snprintf(name, sizeof name, "f-%d", step);
        char *snap = NULL;
        check(fwt_weight_syncer_save_and_hotload(&snap, s, name, FWT_SAMPLER_AUTO), "save_and_hotload under faults");
        expect_same_logprobs(&ef, t, "faulty-dep");
        if (step == 1)
            first = snap;
        else
            fwt_free(snap);
    }
    fwt_checkpoint_list_options lo;
    fwt_checkpoint_list_options_init(&lo, FWT_CHECKPOINT_LIST_OPTIONS_VERSION);
    lo.page_size = 2;
    fwt_checkpoint_list *l = NULL;
    check(fwt_job_list_checkpoints(&l, ef.c, "faulty-job", &lo), "list under faults");
    assert_true(fwt_checkpoint_list_pages(l) >= 3);
    const fwt_checkpoint_row *row = fwt_checkpoint_list_find(l, "f-1");
    assert_non_null(row);
    assert_string_equal(fwt_checkpoint_row_id(row), first);
    fwt_promote_options po;
    fwt_promote_options_init(&po, FWT_PROMOTE_OPTIONS_VERSION);
    po.wait.poll_interval_ms = 10;
    fwt_model *m = NULL;
    check(fwt_promote_checkpoint_result(&m, ef.c, fwt_checkpoint_row_name(row), "faulty-model", BASE_MODEL, &po, 30000),
          "promote under faults");
    assert_string_equal(fwt_model_state(m), "READY");
    fwt_model_free(m);
    fwt_checkpoint_list_free(l);
    fwt_free(first);
    fwt_batch_free(b);
    close_rig(&r);
    stop_env(&ef);
}

/* An old-style server: rejects reset_prompt_cache and async_promotion. Also the LoRA path: every snapshot base. */
static void test_old_server_compat_and_lora(void **state)
{
    (void)state;
    env ec = {0};
    static const char *const args[] = {"--model-dim", "4", "--job-start-ms", "20", "--hotload-ms", "5",
                                       "--long-poll-ms", "200", "--strict-hotload", "--no-async-promotion", NULL};
    assert_int_equal(start_env(&ec, args), 0);
    rig r = open_rig(&ec, "lora-job", 4, "lora-dep", 20000);
    assert_int_equal(fwt_job_lora_rank(r.j), 4);
    fwt_training *t = r.t;
    fwt_weight_syncer *s = r.s;
    fwt_batch *b = fwt_test_text_batch("adapters are never deltas");
    char *last = NULL;
    for (int step = 1; step <= 3; step++) {
        train_step(t, b);
        char name[16];
        snprintf(name, sizeof name, "l-%d", step);
        fwt_free(last);
        last = NULL;
        check(fwt_weight_syncer_save_and_hotload(&last, s, name, FWT_SAMPLER_AUTO), "lora save_and_hotload");
        fwt_sync_timing tm = {FWT_SYNC_TIMING_VERSION, 0, 0, 0, 0, 0};
        check(fwt_weight_syncer_last_timing(s, &tm), "timing");
        assert_int_equal(tm.type, FWT_SAMPLER_BASE);
        expect_same_logprobs(&ec, t, "lora-dep");
    }
    fwt_promote_options po;
    fwt_promote_options_init(&po, FWT_PROMOTE_OPTIONS_VERSION);
    po.wait.poll_interval_ms = 10;
    fwt_future *f = NULL;
    check(fwt_promote_checkpoint_by_id(&f, ec.c, "lora-job", last, "lora-model", BASE_MODEL, &po), "promote lora");
    fwt_model *m = NULL;
    assert_int_equal(fwt_future_wait(f, 30000), FWT_OK);
    check(fwt_future_take_model(&m, f), "promote lora result");
    fwt_future_free(f);
    assert_string_equal(fwt_model_kind(m), "HF_PEFT_ADDON");
    fwt_model_free(m);
    fwt_free(last);
    fwt_batch_free(b);
    close_rig(&r);
    stop_env(&ec);
}

/* A second server whose jobs, loads and promotions are slow: timeouts and cancellation for real. */
static void test_slow_server_timeout_and_cancel(void **state)
{
    (void)state;
    env e2 = {0};
    static const char *const args[] = {"--model-dim", "4", "--job-start-ms", "30", "--hotload-ms", "30000",
                                       "--promote-ms", "30000", "--long-poll-ms", "200", NULL};
    assert_int_equal(start_env(&e2, args), 0);
    /* hotload timeout honoured */
    rig r = open_rig(&e2, "slow-job", 0, "slow-dep", 300);
    fwt_training *t = r.t;
    char *snap = NULL;
    assert_int_equal(fwt_weight_syncer_save_and_hotload(&snap, r.s, "s1", FWT_SAMPLER_AUTO), FWT_ETIMEDOUT);
    /* cancel the hotload wait */
    fwt_sampler_save *sv = NULL;
    check(fwt_training_save_weights_for_sampler_ext_result(&sv, t, "s2", FWT_SAMPLER_BASE, 0, 30000), "save");
    check(fwt_deployment_hotload(e2.c, "slow-dep", BASE_MODEL, fwt_sampler_save_snapshot_name(sv), NULL), "hotload");
    fwt_wait_options hw;
    fwt_wait_options_init(&hw, FWT_WAIT_OPTIONS_VERSION);
    hw.poll_interval_ms = 10;
    fwt_future *f = NULL;
    check(fwt_deployment_wait_hotload(&f, e2.c, "slow-dep", BASE_MODEL, fwt_sampler_save_snapshot_name(sv), &hw), "wait");
    usleep(50 * 1000);
    assert_int_equal(fwt_future_cancel(f), FWT_OK);
    assert_int_equal(fwt_future_wait(f, 5000), FWT_OK);
    assert_int_equal(fwt_future_status(f), FWT_ECANCELED);
    fwt_future_free(f);
    /* cancel the promotion wait */
    fwt_promote_options po;
    fwt_promote_options_init(&po, FWT_PROMOTE_OPTIONS_VERSION);
    po.wait.poll_interval_ms = 10;
    check(fwt_promote_checkpoint_by_id(&f, e2.c, "slow-job", fwt_sampler_save_snapshot_name(sv), "slow-model", BASE_MODEL,
                                       &po),
          "promote start");
    usleep(50 * 1000);
    assert_int_equal(fwt_future_cancel(f), FWT_OK);
    assert_int_equal(fwt_future_wait(f, 5000), FWT_OK);
    assert_int_equal(fwt_future_status(f), FWT_ECANCELED);
    fwt_future_free(f);
    fwt_sampler_save_free(sv);
    fwt_free(snap);
    close_rig(&r);
    stop_env(&e2);
}

static void test_cancel_wait_ready(void **state)
{
    (void)state;
    env e3 = {0};
    static const char *const args[] = {"--model-dim", "4", "--job-start-ms", "600000", NULL};
    assert_int_equal(start_env(&e3, args), 0);
    fwt_job_create_options o;
    fwt_job_create_options_init(&o, FWT_JOB_CREATE_OPTIONS_VERSION);
    o.base_model = BASE_MODEL;
    fwt_job *j = NULL;
    check(fwt_job_create(&j, e3.c, &o), "create");
    fwt_job_wait_options w;
    fwt_job_wait_options_init(&w, FWT_JOB_WAIT_OPTIONS_VERSION);
    w.wait.poll_interval_ms = 10;
    fwt_future *f = NULL;
    check(fwt_job_wait_ready(&f, e3.c, fwt_job_id(j), &w), "wait start");
    usleep(50 * 1000);
    assert_int_equal(fwt_future_is_done(f), 0);
    assert_int_equal(fwt_future_cancel(f), FWT_OK);
    assert_int_equal(fwt_future_wait(f, 5000), FWT_OK);
    assert_int_equal(fwt_future_status(f), FWT_ECANCELED);
    fwt_future_free(f);
    fwt_job_free(j);
    stop_env(&e3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rl_cycle),
        cmocka_unit_test(test_broken_chain_healed),
        cmocka_unit_test(test_reattach_to_new_trainer),
        cmocka_unit_test(test_jobs_409_deleted_paging),
        cmocka_unit_test(test_cycle_under_faults),
        cmocka_unit_test(test_old_server_compat_and_lora),
        cmocka_unit_test(test_slow_server_timeout_and_cancel),
        cmocka_unit_test(test_cancel_wait_ready),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
