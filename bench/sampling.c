/*
 * Sampling benchmark against fwtrain-local. Prints one JSON object:
 *   rollouts[]         for 1, 16 and 256 requests in flight: rollouts per second
 *                      through the public sampling API (fwt_sample futures;
 *                      each completion callback submits the next request) next
 *                      to raw libcurl multi
 *                      doing the same requests (same body and headers, the
 *                      response parsed with cJSON), and ratio = api / raw
 *                      (median over paired rounds; target >= 0.9), and the CPU
 *                      time this process spent per rollout on each side (the
 *                      server runs in another process);
 *   rl_step            one full RL step as examples/rl_loop.c does it (3 prompts
 *                      x 8 samples, forward_backward importance_sampling,
 *                      optim_step, save_and_hotload, the echo check): wall time,
 *                      this process's CPU time, and client_share = cpu / wall
 *                      (the server runs in another process).
 * A rollout is one completion: a 17-byte prompt, 16 new tokens, logprobs, a seed.
 *
 * Usage: sampling [requests_per_round] [rounds]
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "fwtrain/fwtrain.h"
#include "bench_local.h"
#include "bench_stats.h"

#define BASE_MODEL "accounts/fireworks/models/fwl-bench"
#define DEP "bench-dep"
#define PROMPT "The river bank is"
#define MAX_TOKENS 16

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *what)
{
    fprintf(stderr, "bench sampling: %s: %s\n", what, fwt_error_last()->message);
    exit(1);
}

/* ---- the API side: `inflight` chains of futures; each completion submits the chain's next request from its
 * callback (on the worker thread), so no thread hand-off sits between two requests, as in the raw loop ---- */

typedef struct api_run {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    fwt_client *c;
    long n, next, done, ok;
    fwt_future **all; /* every future, freed by the owner at the end (never from its own callback) */
} api_run;

static int submit(fwt_future **f, fwt_client *c, long i)
{
    fwt_sample_request r;
    fwt_sample_request_init(&r, FWT_SAMPLE_REQUEST_VERSION);
    r.prompt_text = PROMPT;
    r.max_tokens = MAX_TOKENS;
    r.logprobs = 1;
    r.has_seed = 1;
    r.seed = i;
    return fwt_sample(f, c, DEP, &r);
}

static void on_done(fwt_future *f, void *payload);

/* Start request i of the run (any thread). */
static void start_one(api_run *run, long i)
{
    if (submit(&run->all[i], run->c, i) != FWT_OK || fwt_future_on_done(run->all[i], on_done, run) != FWT_OK)
        die("fwt_sample");
}

static void on_done(fwt_future *f, void *payload)
{
    api_run *run = payload;
    fwt_completion *cm = NULL;
    int ok = fwt_future_take_completion(&cm, f) == FWT_OK && fwt_completion_count(cm) == 1;
    fwt_completion_free(cm);
    pthread_mutex_lock(&run->mu);
    run->ok += ok;
    run->done++;
    long i = run->next < run->n ? run->next++ : -1;
    if (run->done == run->n)
        pthread_cond_signal(&run->cv);
    pthread_mutex_unlock(&run->mu);
    if (i >= 0)
        start_one(run, i);
}

static double api_round(fwt_client *c, long n, int inflight, long *ok)
{
    api_run run = {.c = c, .n = n};
    pthread_mutex_init(&run.mu, NULL);
    pthread_cond_init(&run.cv, NULL);
    run.all = calloc((size_t)n, sizeof *run.all);
    double t0 = now_s();
    pthread_mutex_lock(&run.mu);
    long first = n < inflight ? n : inflight;
    run.next = first;
    pthread_mutex_unlock(&run.mu);
    for (long i = 0; i < first; i++)
        start_one(&run, i);
    pthread_mutex_lock(&run.mu);
    while (run.done < n)
        pthread_cond_wait(&run.cv, &run.mu);
    pthread_mutex_unlock(&run.mu);
    double t = now_s() - t0;
    for (long i = 0; i < n; i++)
        fwt_future_free(run.all[i]);
    free(run.all);
    *ok += run.ok;
    pthread_mutex_destroy(&run.mu);
    pthread_cond_destroy(&run.cv);
    return t;
}

/* ---- the raw side: libcurl multi with `inflight` easy handles ---- */

typedef struct slot {
    CURL *h;
    char *buf;
    size_t len, cap;
    char body[256];
} slot;

static size_t on_write(char *d, size_t sz, size_t nm, void *ud)
{
    slot *s = ud;
    size_t add = sz * nm;
    if (s->len + add + 1 > s->cap) {
        size_t cap = (s->len + add + 1) * 2;
        char *nb = realloc(s->buf, cap);
        if (!nb)
            return 0;
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, d, add);
    s->len += add;
    s->buf[s->len] = 0;
    return add;
}

static void raw_start(CURLM *m, slot *s, const char *url, struct curl_slist *hdrs, long i)
{
    snprintf(s->body, sizeof s->body,
             "{\"model\":\"accounts/local/deployments/" DEP "\",\"prompt\":\"" PROMPT "\",\"max_tokens\":%d,\"n\":1,"
             "\"temperature\":1,\"top_p\":1,\"top_k\":0,\"seed\":%ld,\"logprobs\":1,\"raw_output\":true}",
             MAX_TOKENS, i);
    s->len = 0;
    curl_easy_setopt(s->h, CURLOPT_URL, url);
    curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, s->body);
    curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->h, CURLOPT_PRIVATE, s);
    curl_multi_add_handle(m, s->h);
}

static double raw_round(CURLM *m, slot *slots, const char *url, struct curl_slist *hdrs, long n, int inflight,
                        long *ok)
{
    long next = 0, done = 0;
    double t0 = now_s();
    for (; next < n && next < inflight; next++)
        raw_start(m, &slots[next], url, hdrs, next);
    while (done < n) {
        int running = 0;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            slot *s = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            long status = 0;
            curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
            cJSON *j = status == 200 ? cJSON_Parse(s->buf) : NULL;
            if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "choices")) == 1)
                (*ok)++;
            cJSON_Delete(j);
            curl_multi_remove_handle(m, s->h);
            done++;
            if (next < n)
                raw_start(m, s, url, hdrs, next++);
        }
        if (done < n)
            curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    return now_s() - t0;
}

/* ---- one RL step, as examples/rl_loop.c ---- */

static void rl_step(fwt_client *c, fwt_training *t, fwt_weight_syncer *sync, int step, double *wall, double *cpu)
{
    static const char *const prompts[] = {"Once upon a time ", "The weather today is ", "My favourite word is "};
    double w0 = now_s(), c0 = cpu_s();
    fwt_future *f[3];
    for (int p = 0; p < 3; p++) {
        fwt_sample_request r;
        fwt_sample_request_init(&r, FWT_SAMPLE_REQUEST_VERSION);
        r.prompt_text = prompts[p];
        r.n = 8;
        r.max_tokens = 24;
        r.logprobs = 1;
        r.has_seed = 1;
        r.seed = step * 3 + p;
        if (fwt_sample(&f[p], c, DEP, &r) != FWT_OK)
            die("rl step: sample");
    }
    fwt_batch *b = NULL;
    fwt_batch_new(&b);
    for (int p = 0; p < 3; p++) {
        fwt_completion *cm = NULL;
        if (fwt_future_wait(f[p], -1) != FWT_OK || fwt_future_take_completion(&cm, f[p]) != FWT_OK)
            die("rl step: sampling");
        fwt_future_free(f[p]);
        size_t np = strlen(prompts[p]);
        for (size_t i = 0; i < fwt_completion_count(cm); i++) {
            size_t ng = 0;
            const int64_t *g = fwt_completion_tokens(cm, i, &ng);
            const float *glp = fwt_completion_logprobs(cm, i, &ng);
            int64_t full[128], tgt[128];
            float lp[128], adv[128];
            for (size_t k = 0; k < np; k++)
                full[k] = (unsigned char)prompts[p][k];
            memcpy(full + np, g, ng * sizeof *g);
            size_t n = np + ng - 1;
            for (size_t k = 0; k < n; k++) {
                tgt[k] = full[k + 1];
                lp[k] = k + 1 >= np ? glp[k + 1 - np] : 0;
                adv[k] = k + 1 >= np ? (float)((int)i - 4) / 4 : 0;
            }
            fwt_datum d;
            fwt_datum_init(&d, FWT_DATUM_VERSION);
            d.tokens = full, d.n_tokens = n, d.target_tokens = tgt, d.n_target_tokens = n;
            d.logprobs = lp, d.n_logprobs = n, d.advantages = adv, d.n_advantages = n;
            if (fwt_batch_add_datum(b, &d) != FWT_OK)
                die("rl step: datum");
        }
        fwt_completion_free(cm);
    }
    if (fwt_training_forward_backward_result(NULL, t, b, FWT_LOSS_IMPORTANCE_SAMPLING, -1) != FWT_OK)
        die("rl step: forward_backward");
    fwt_batch_free(b);
    if (fwt_training_optim_step_result(NULL, t, NULL, -1) != FWT_OK)
        die("rl step: optim_step");
    char name[32], *snap = NULL;
    snprintf(name, sizeof name, "bench-%d", step);
    if (fwt_weight_syncer_save_and_hotload(&snap, sync, name, FWT_SAMPLER_AUTO) != FWT_OK)
        die("rl step: save_and_hotload");
    fwt_free(snap);
    fwt_sample_request r;
    fwt_sample_request_init(&r, FWT_SAMPLE_REQUEST_VERSION);
    r.prompt_text = "Every experiment needs a way back to the last good state.";
    r.max_tokens = 0;
    r.echo = 1;
    r.logprobs = 1;
    if (fwt_sample_result(NULL, c, DEP, &r, -1) != FWT_OK)
        die("rl step: echo check");
    *wall = now_s() - w0;
    *cpu = cpu_s() - c0;
}

int main(int argc, char **argv)
{
    long per_round = argc > 1 ? atol(argv[1]) : 512;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (per_round < 1 || rounds < 1 || rounds > 64) {
        fprintf(stderr, "usage: sampling [requests_per_round >= 1] [rounds 1..64]\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    fwt_local_server *srv = NULL;
    fwt_client *c = NULL;
    /* no per-client connection cap: the raw side and the API each keep up to 256 connections */
    static const char *const args[] = {"--job-start-ms", "0", "--hotload-ms", "0", "--max-client-connections", "0", NULL};
    if (bench_local_start(&srv, &c, args) != 0)
        return 1;
    fwt_job_create_options jo;
    fwt_job_create_options_init(&jo, FWT_JOB_CREATE_OPTIONS_VERSION);
    jo.job_id = "bench-job";
    jo.base_model = BASE_MODEL;
    fwt_job *job = NULL, *ready = NULL;
    fwt_job_wait_options wo;
    fwt_job_wait_options_init(&wo, FWT_JOB_WAIT_OPTIONS_VERSION);
    wo.wait.poll_interval_ms = 10;
    fwt_training *t = NULL;
    if (fwt_job_create(&job, c, &jo) != FWT_OK || fwt_job_wait_ready_result(&ready, c, "bench-job", &wo, -1) ||
        fwt_job_open_training(&t, c, ready, NULL) != FWT_OK || fwt_training_create_model_result(t, -1) != FWT_OK)
        die("trainer");
    fwt_deployment_create_options d;
    fwt_deployment_create_options_init(&d, FWT_DEPLOYMENT_CREATE_OPTIONS_VERSION);
    d.base_model = BASE_MODEL;
    d.hot_load_trainer_job = "bench-job";
    fwt_deployment *dep = NULL;
    if (fwt_deployment_create(&dep, c, DEP, &d) != FWT_OK)
        die("deployment");
    fwt_weight_syncer_options wso;
    fwt_weight_syncer_options_init(&wso, FWT_WEIGHT_SYNCER_OPTIONS_VERSION);
    wso.deployment_id = DEP;
    wso.base_model = BASE_MODEL;
    wso.hotload_wait.poll_interval_ms = 2;
    wso.warmup.retry_interval_ms = 5;
    fwt_weight_syncer *sync = NULL;
    char *snap = NULL;
    if (fwt_weight_syncer_new(&sync, c, t, &wso) != FWT_OK ||
        fwt_weight_syncer_save_and_hotload(&snap, sync, "bench-0", FWT_SAMPLER_AUTO) != FWT_OK)
        die("first hotload");
    fwt_free(snap);

    char url[256], key[300], bearer[300];
    snprintf(url, sizeof url, "%s/inference/v1/completions", fwt_local_server_url(srv));
    snprintf(key, sizeof key, "X-Api-Key: %s", fwt_local_server_api_key(srv));
    snprintf(bearer, sizeof bearer, "Authorization: Bearer %s", fwt_local_server_api_key(srv));
    struct curl_slist *hdrs = curl_slist_append(NULL, key);
    hdrs = curl_slist_append(hdrs, bearer);
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    static const int levels[] = {1, 16, 256};
    printf("{\"bench\":\"sampling\",\"requests_per_round\":%ld,\"rounds\":%d,\"max_tokens\":%d,\"rollouts\":[",
           per_round, rounds, MAX_TOKENS);
    for (int li = 0; li < 3; li++) {
        int inflight = levels[li];
        CURLM *m = curl_multi_init();
        curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)inflight);
        slot *slots = calloc((size_t)inflight, sizeof *slots);
        for (int i = 0; i < inflight; i++)
            slots[i].h = curl_easy_init();
        long api_ok = 0, raw_ok = 0;
        double api_t[64], raw_t[64], ratio[64], api_cpu = 0, raw_cpu = 0;
        /* warm both paths (connections, server caches) */
        api_round(c, inflight, inflight, &api_ok);
        raw_round(m, slots, url, hdrs, inflight, inflight, &raw_ok);
        api_ok = raw_ok = 0;
        for (int r = 0; r < rounds; r++) { /* paired, alternating order */
            for (int k = 0; k < 2; k++) {
                double c0 = cpu_s();
                if ((r + k) % 2) {
                    raw_t[r] = raw_round(m, slots, url, hdrs, per_round, inflight, &raw_ok);
                    raw_cpu += cpu_s() - c0;
                } else {
                    api_t[r] = api_round(c, per_round, inflight, &api_ok);
                    api_cpu += cpu_s() - c0;
                }
            }
            ratio[r] = raw_t[r] / api_t[r];
        }
        double api_med = bench_median(api_t, rounds), raw_med = bench_median(raw_t, rounds);
        double total = (double)per_round * rounds;
        printf("%s{\"inflight\":%d,\"api_rollouts_per_s\":%.1f,\"raw_rollouts_per_s\":%.1f,\"ratio\":%.3f,"
               "\"api_client_cpu_us_per_rollout\":%.1f,\"raw_client_cpu_us_per_rollout\":%.1f,"
               "\"api_ok\":%ld,\"raw_ok\":%ld,\"requests\":%ld}",
               li ? "," : "", inflight, per_round / api_med, per_round / raw_med, bench_median(ratio, rounds),
               api_cpu / total * 1e6, raw_cpu / total * 1e6, api_ok, raw_ok, per_round * rounds);
        for (int i = 0; i < inflight; i++)
            curl_easy_cleanup(slots[i].h), free(slots[i].buf);
        free(slots);
        curl_multi_cleanup(m);
    }
    double wall[8], cpu[8], share[8];
    rl_step(c, t, sync, 1, &wall[0], &cpu[0]); /* warm */
    for (int i = 0; i < 5; i++) {
        rl_step(c, t, sync, i + 2, &wall[i], &cpu[i]);
        share[i] = cpu[i] / wall[i];
    }
    printf("],\"rl_step\":{\"samples\":24,\"wall_ms\":%.2f,\"client_cpu_ms\":%.3f,\"client_share\":%.4f}}\n",
           bench_median(wall, 5) * 1e3, bench_median(cpu, 5) * 1e3, bench_median(share, 5));
    curl_slist_free_all(hdrs);
    fwt_weight_syncer_free(sync);
    fwt_deployment_free(dep);
    fwt_training_free(t);
    fwt_job_free(job);
    fwt_job_free(ready);
    fwt_client_free(c);
    fwt_local_server_free(srv);
    curl_global_cleanup();
    return 0;
}
