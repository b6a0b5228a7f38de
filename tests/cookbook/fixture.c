/* The cookbook tests' shared set-up (fixture.h). */
#include "fixture.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proc.h"

fx_state fx;

/* Warnings the library logged, from any thread (the engine's worker logs too). */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char warnings[8192];

static void capture_log(int level, const char *message, void *payload)
{
    (void)payload;
    if (level > FWT_LOG_WARN)
        return;
    pthread_mutex_lock(&log_mu);
    size_t n = strlen(warnings);
    snprintf(warnings + n, sizeof warnings - n, "%s\n", message);
    pthread_mutex_unlock(&log_mu);
}

static int find_warning(const char *needle, int clear)
{
    pthread_mutex_lock(&log_mu);
    int found = strstr(warnings, needle) != NULL;
    if (clear)
        warnings[0] = '\0';
    pthread_mutex_unlock(&log_mu);
    return found;
}

int fx_warned(const char *needle)
{
    return find_warning(needle, 1);
}

int fx_warnings_have(const char *needle)
{
    return find_warning(needle, 0);
}

int fx_client_new(fwt_client **out, const char *base_url, const char *api_key)
{
    fwt_client_options co;
    fwt_client_options_init(&co, FWT_CLIENT_OPTIONS_VERSION);
    co.base_url = base_url;
    co.api_key = api_key;
    return fwt_client_new(out, &co);
}

int fx_start(const fx_opts *o)
{
    memset(&fx, 0, sizeof fx);
    if (o->root_tag) {
        snprintf(fx.root, sizeof fx.root, "/tmp/fwt-%s-XXXXXX", o->root_tag);
        if (!mkdtemp(fx.root)) {
            fprintf(stderr, "fixture: mkdtemp %s failed\n", fx.root);
            fx.root[0] = '\0';
            return -1;
        }
    }
    fwt_local_server_opts so;
    fwt_local_server_opts_init(&so);
    so.api_key = o->api_key;
    so.extra_args = o->server_args;
    if (fwt_local_server_start(&fx.srv, &so) != 0)
        return -1;
    const char *url = fwt_local_server_url(fx.srv), *key = fwt_local_server_api_key(fx.srv);
    if (o->export_env) {
        setenv("FIREWORKS_BASE_URL", url, 1);
        setenv("FIREWORKS_API_KEY", key, 1);
    }
    fwt_client_options co;
    fwt_client_options_init(&co, FWT_CLIENT_OPTIONS_VERSION);
    co.base_url = url;
    co.api_key = key;
    if (o->retry_budget_ms)
        co.retry_budget_ms = o->retry_budget_ms;
    if (o->connect_timeout_ms)
        co.connect_timeout_ms = o->connect_timeout_ms;
    if (o->capture_warnings) {
        co.log_fn = capture_log;
        co.log_level = FWT_LOG_WARN;
    }
    if (fwt_client_new(&fx.client, &co) != FWT_OK) {
        fprintf(stderr, "fixture: client: %s\n", fwt_error_last()->message);
        return -1;
    }
    return 0;
}

int fx_teardown(void **state)
{
    (void)state;
    fwt_client_free(fx.client);
    fwt_local_server_free(fx.srv);
    if (fx.root[0])
        rm_rf(fx.root);
    memset(&fx, 0, sizeof fx);
    return 0;
}

int fx_create_job(fwt_client *c, const char *job_id)
{
    fwt_job_create_options jo;
    fwt_job_create_options_init(&jo, FWT_JOB_CREATE_OPTIONS_VERSION);
    jo.job_id = job_id;
    jo.base_model = MODEL;
    fwt_job *created = NULL;
    int rc = fwt_job_create(&created, c, &jo);
    fwt_job_free(created);
    return rc;
}

/* The waits are hang guards only: the server starts a job in --job-start-ms. */
fwt_training *fx_open_on(fwt_client *c, const char *job_id)
{
    fwt_job_wait_options wo;
    fwt_job_wait_options_init(&wo, FWT_JOB_WAIT_OPTIONS_VERSION);
    wo.wait.poll_interval_ms = 20;
    fwt_job *job = NULL;
    fwt_training *t = NULL;
    if (fwt_job_wait_ready_result(&job, c, job_id, &wo, 30000) != FWT_OK)
        return NULL;
    if (fwt_job_open_training(&t, c, job, NULL) != FWT_OK || fwt_training_create_model_result(t, 30000) != FWT_OK) {
        fwt_training_free(t);
        t = NULL;
    }
    fwt_job_free(job);
    return t;
}

fwt_training *fx_open_training_on(fwt_client *c, const char *job_id)
{
    if (fx_create_job(c, job_id) != FWT_OK)
        fail_msg("create job %s: %s", job_id, fwt_error_last()->message);
    fwt_training *t = fx_open_on(c, job_id);
    if (!t)
        fail_msg("training on %s: %s", job_id, fwt_error_last()->message);
    return t;
}

fwt_training *fx_open_training(const char *job_id)
{
    return fx_open_training_on(fx.client, job_id);
}

const char *fx_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", fx.root, name);
    return buf;
}

fwt_registry *fx_registry(const char *dir)
{
    char log[160];
    fwt_registry *l = NULL;
    assert_int_equal(fwt_registry_read(&l, fx_path(log, sizeof log, dir)), FWT_OK);
    return l;
}

void fx_checkpointer_options(fwt_checkpointer_options *o, const char *log_path, const char *job,
                             const char *base_model)
{
    fwt_checkpointer_options_init(o, FWT_CHECKPOINTER_OPTIONS_VERSION);
    o->log_path = log_path;
    o->job_id = job;
    o->base_model = base_model;
}

fwt_checkpointer *fx_start_resumed(fwt_training *t, const fwt_checkpointer_options *o, const fx_resume *want)
{
    fwt_checkpointer *c = NULL;
    if (fwt_checkpointer_start(&c, t, o) != FWT_OK)
        fail_msg("%s: start: %s", want->what, fwt_error_last()->message);
    if (fwt_checkpointer_mode(c) != want->mode)
        fail_msg("%s: resume mode %d, expected %d", want->what, fwt_checkpointer_mode(c), want->mode);
    if (want->step >= 0 && fwt_checkpointer_start_step(c) != want->step)
        fail_msg("%s: start step %lld, expected %lld", want->what, (long long)fwt_checkpointer_start_step(c),
                 (long long)want->step);
    if (want->data >= 0 && fwt_checkpointer_start_data_consumed(c) != want->data)
        fail_msg("%s: start data_consumed %lld, expected %lld", want->what,
                 (long long)fwt_checkpointer_start_data_consumed(c), (long long)want->data);
    const char *loaded = fwt_checkpointer_loaded_path(c);
    if (want->path && (!loaded || strcmp(loaded, want->path) != 0))
        fail_msg("%s: loaded %s, expected %s", want->what, loaded ? loaded : "nothing", want->path);
    return c;
}
