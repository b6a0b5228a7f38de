/*
 * How long the library's waits take on a fast server: save_and_hotload of a
 * small model and a promotion, against a fresh fwtrain-local with its default
 * timings (a hotload takes 50 ms, an async promotion 200 ms). Prints one JSON
 * object; not a timed test.
 *
 *   save_and_hotload_ms   the weight syncer's save_and_hotload (sampler save + hotload + wait + warmup)
 *                         with the default options: polls start at ~100 ms and back off to 5 s
 *   promotion_ms          fwt_promote_checkpoint_result of a base snapshot, default options
 *                         (polls start at ~100 ms and back off to 10 s)
 *   *_fixed_ms            the same with poll_initial_ms = poll_interval_ms: the fixed-interval polling
 *                         of earlier versions, for the ratio (one sample each: they take seconds)
 *
 *   FWT_BENCH_N=N   samples per adaptive figure (default 7); FWT_BENCH_FIXED=0 skips the fixed runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fwtrain/fwtrain.h"
#include "bench_local.h"
#include "bench_stats.h"

#define BASE_MODEL "accounts/fireworks/models/fwl-tiny"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench waits: %s: %s (%s)\n", what, fwt_strerror(rc), fwt_error_last()->message);
    exit(1);
}

/* {"n":..,"min":..,"median":..,"max":..} of samples (sorted in place). */
static void print_stats(const char *name, double *v, int n, int last)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    printf("  \"%s\": {\"n\": %d, \"min\": %.1f, \"median\": %.1f, \"max\": %.1f}%s\n", name, n, v[0], v[n / 2],
           v[n - 1], last ? "" : ",");
}

/* One save_and_hotload; its parts (save, hotload + wait, warmup) into parts[0..2] when given. */
static double one_sync(fwt_weight_syncer *s, const char *name, double *parts)
{
    double t0 = now_ms();
    int rc = fwt_weight_syncer_save_and_hotload(NULL, s, name, FWT_SAMPLER_AUTO);
    if (rc != FWT_OK)
        die("save_and_hotload", rc);
    double ms = now_ms() - t0;
    fwt_sync_timing tm = {.version = FWT_SYNC_TIMING_VERSION};
    if (parts && fwt_weight_syncer_last_timing(s, &tm) == FWT_OK) {
        parts[0] = (double)tm.save_ms;
        parts[1] = (double)tm.hotload_ms;
        parts[2] = (double)tm.warmup_ms;
    }
    return ms;
}

static double one_promotion(fwt_client *c, fwt_training *t, const char *job_id, const char *name, const char *model_id,
                            const fwt_promote_options *po)
{
    fwt_sampler_save *sv = NULL;
    int rc = fwt_training_save_weights_for_sampler_ext_result(&sv, t, name, FWT_SAMPLER_BASE, 0, -1);
    if (rc != FWT_OK)
        die("sampler save", rc);
    double t0 = now_ms();
    rc = fwt_promote_checkpoint_by_id_result(NULL, c, job_id, fwt_sampler_save_snapshot_name(sv), model_id, BASE_MODEL,
                                             po, -1);
    double ms = now_ms() - t0;
    fwt_sampler_save_free(sv);
    if (rc != FWT_OK)
        die("promotion", rc);
    return ms;
}

int main(void)
{
    int n = getenv("FWT_BENCH_N") ? atoi(getenv("FWT_BENCH_N")) : 7;
    int fixed = !getenv("FWT_BENCH_FIXED") || atoi(getenv("FWT_BENCH_FIXED")) != 0;
    if (n < 1 || n > 1000)
        n = 7;
    fwt_local_server *srv = NULL;
    fwt_client *c = NULL;
    if (bench_local_start(&srv, &c, NULL) != 0)
        return 1;
    int rc;
    fwt_job_create_options jo;
    fwt_job_create_options_init(&jo, FWT_JOB_CREATE_OPTIONS_VERSION);
    jo.job_id = "bench-waits";
    jo.base_model = BASE_MODEL;
    fwt_job *created = NULL, *job = NULL;
    if ((rc = fwt_job_create(&created, c, &jo)) != FWT_OK)
        die("job create", rc);
    fwt_job_free(created);
    double tj = now_ms();
    if ((rc = fwt_job_wait_ready_result(&job, c, "bench-waits", NULL, -1)) != FWT_OK)
        die("job wait", rc);
    double job_ready_ms = now_ms() - tj;
    fwt_training *t = NULL;
    if ((rc = fwt_job_open_training(&t, c, job, NULL)) != FWT_OK || (rc = fwt_training_create_model_result(t, -1)))
        die("training", rc);

    fwt_deployment_create_options dopts;
    fwt_deployment_create_options_init(&dopts, FWT_DEPLOYMENT_CREATE_OPTIONS_VERSION);
    dopts.base_model = BASE_MODEL;
    dopts.hot_load_trainer_job = "bench-waits";
    dopts.min_replica_count = 1;
    fwt_deployment *dep = NULL;
    if ((rc = fwt_deployment_create(&dep, c, "bench-dep", &dopts)) != FWT_OK)
        die("deployment", rc);
    fwt_deployment_free(dep);

    fwt_weight_syncer_options wo;
    fwt_weight_syncer_options_init(&wo, FWT_WEIGHT_SYNCER_OPTIONS_VERSION);
    wo.deployment_id = "bench-dep";
    wo.base_model = BASE_MODEL;
    fwt_weight_syncer *s = NULL;
    if ((rc = fwt_weight_syncer_new(&s, c, t, &wo)) != FWT_OK)
        die("syncer", rc);
    char name[64];
    (void)one_sync(s, "bench-warm", NULL); /* the first call also passes the readiness gate */
    double *hot = calloc((size_t)n, sizeof *hot), *prom = calloc((size_t)n, sizeof *prom);
    double *part[3];
    for (int k = 0; k < 3; k++)
        part[k] = calloc((size_t)n, sizeof *part[k]);
    if (!hot || !prom || !part[0] || !part[1] || !part[2])
        return 1;
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "bench-sync-%d", i);
        double p3[3] = {0, 0, 0};
        hot[i] = one_sync(s, name, p3);
        for (int k = 0; k < 3; k++)
            part[k][i] = p3[k];
    }
    fwt_promote_options po;
    fwt_promote_options_init(&po, FWT_PROMOTE_OPTIONS_VERSION);
    char model_id[64];
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "bench-prom-%d", i);
        snprintf(model_id, sizeof model_id, "bench-model-%d", i);
        prom[i] = one_promotion(c, t, "bench-waits", name, model_id, &po);
    }
    double hot_fixed = 0, prom_fixed = 0;
    if (fixed) {
        fwt_weight_syncer *sf = NULL;
        wo.hotload_wait.poll_initial_ms = wo.hotload_wait.poll_interval_ms;
        wo.manager_wait.poll_initial_ms = wo.manager_wait.poll_interval_ms;
        if ((rc = fwt_weight_syncer_new(&sf, c, t, &wo)) != FWT_OK)
            die("fixed syncer", rc);
        (void)one_sync(sf, "bench-fixed-warm", NULL); /* its own readiness gate and first (base) load */
        hot_fixed = one_sync(sf, "bench-fixed", NULL);
        fwt_weight_syncer_free(sf);
        po.wait.poll_initial_ms = po.wait.poll_interval_ms;
        prom_fixed = one_promotion(c, t, "bench-waits", "bench-prom-fixed", "bench-model-fixed", &po);
    }
    printf("{\n  \"server\": \"fwtrain-local defaults (hotload 50 ms, async promotion 200 ms)\",\n");
    printf("  \"job_ready_ms\": %.1f,\n", job_ready_ms);
    print_stats("save_and_hotload_ms", hot, n, 0);
    print_stats("save_part_ms", part[0], n, 0);
    print_stats("hotload_and_wait_part_ms", part[1], n, 0);
    print_stats("warmup_part_ms", part[2], n, 0);
    print_stats("promotion_ms", prom, n, !fixed);
    if (fixed) {
        printf("  \"save_and_hotload_fixed_ms\": %.1f,\n", hot_fixed);
        printf("  \"promotion_fixed_ms\": %.1f\n", prom_fixed);
    }
    printf("}\n");
    free(hot);
    free(prom);
    for (int k = 0; k < 3; k++)
        free(part[k]);
    fwt_weight_syncer_free(s);
    fwt_training_free(t);
    fwt_job_free(job);
    fwt_client_free(c);
    fwt_local_server_free(srv);
    return 0;
}
