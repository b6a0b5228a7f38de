/*
 * rl_loop — on-policy reinforcement learning with nothing but the library:
 * sample from a deployment, score, train with an RL loss, push the new
 * weights into the deployment, check them, repeat. It survives being killed,
 * and a trainer restart.
 *
 * Run it (against fwtrain-local or the Fireworks API):
 *   export FIREWORKS_BASE_URL=http://127.0.0.1:8080 FIREWORKS_API_KEY=local-dev-key
 *   ./rl_loop --log-path runs/rl --steps 30
 * Kill it at any moment (even with SIGKILL) and run the same command again: it
 * resumes from the last checkpoint in runs/rl/checkpoints.jsonl and prints the
 * lines an uninterrupted run prints from there on.
 *
 * Each step (GRPO-style):
 *  1. for each prompt, `--group-size` samples from the deployment in one
 *     fwt_sample request (n = group size) with the sampling logprobs; every
 *     prompt's request is in flight at once (futures);
 *  2. reward: the fraction of sampled bytes that are lowercase ASCII letters
 *     (the local model is byte-level: bytes are tokens);
 *  3. group-relative advantages: each sample's reward minus its group's mean;
 *  4. forward_backward with the importance_sampling (or --loss ppo) loss on
 *     prompt + sample, with the sampling logprobs and the advantage of every
 *     sampled token, then optim_step;
 *  5. fwt_weight_syncer_save_and_hotload: the new weights go into the
 *     deployment (a base first, then deltas);
 *  6. check: the deployment's logprobs of a probe text (sampling with echo)
 *     must equal the trainer's forward logprobs on it, bit for bit.
 * Samples are seeded from (--seed, step, prompt), so a run is reproducible.
 * --crash-after-step K makes it SIGKILL itself after step K (how its test crashes it at a known point).
 * A DCP checkpoint is saved every --dcp-save-interval steps (fwt_checkpointer);
 * on resume the restored weights are pushed into the deployment first.
 * If the trainer restarts mid-run (it loses the session or the model), the run
 * recovers in the same process: the failed call goes to fwt_checkpointer_recover,
 * which opens a new session and reloads the last confirmed checkpoint with its
 * optimizer state; the loop continues from that step with a new weight syncer,
 * whose first save is a base (the deployment may hold a later snapshot, which
 * no delta of the reloaded weights applies to). The steps after the checkpoint
 * are recomputed and printed again, with the same lines; stderr says
 * "rl_loop: the trainer lost the session (...); recovered in-process ...".
 * Sampling while the server is unreachable is retried by the client.
 * Output: one line per step,
 *   "step=<N> reward=<mean reward of the step> loss=<%a> snapshot=<name> check=ok".
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <fwtrain/fwtrain.h>

#define MAX_GROUP 64
#define MAX_SEQ 512

static const char *const PROMPTS[] = {"Once upon a time ", "The weather today is ", "My favourite word is "};
#define N_PROMPTS (sizeof PROMPTS / sizeof PROMPTS[0])
static const char PROBE[] = "Every experiment needs a way back to the last good state.";

typedef struct args {
    const char *log_path, *base_model, *job_id, *deployment_id;
    long steps, group, max_tokens, interval, seed, crash_after;
    double lr;
    fwt_loss_fn loss;
} args;

static void usage(FILE *f)
{
    fputs("usage: rl_loop --log-path DIR [--steps N] [--group-size G] [--max-tokens T] [--dcp-save-interval K]\n"
          "               [--seed S] [--learning-rate LR] [--loss importance_sampling|ppo] [--base-model M]\n"
          "               [--job-id ID] [--deployment-id ID] [--crash-after-step K]\n"
          "Environment: FIREWORKS_BASE_URL, FIREWORKS_API_KEY.\n",
          f);
}

static int parse_long(const char *flag, const char *v, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || errno || end == v || *end || x < lo || x > hi) {
        fprintf(stderr, "rl_loop: %s needs an integer in [%ld, %ld]\n", flag, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

static int parse_args(int argc, char **argv, args *a)
{
    memset(a, 0, sizeof *a);
    a->steps = 30;
    a->group = 8;
    a->max_tokens = 24;
    a->interval = 5;
    a->seed = 1;
    a->lr = 2e-2;
    a->loss = FWT_LOSS_IMPORTANCE_SAMPLING;
    a->base_model = "accounts/fireworks/models/fwtrain-local-byte";
    for (int i = 1; i < argc; i += 2) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) {
            usage(stdout);
            exit(0);
        }
        if (!v) {
            fprintf(stderr, "rl_loop: %s needs a value\n", f);
            return -1;
        }
        if (!strcmp(f, "--log-path")) a->log_path = v;
        else if (!strcmp(f, "--base-model")) a->base_model = v;
        else if (!strcmp(f, "--job-id")) a->job_id = v;
        else if (!strcmp(f, "--deployment-id")) a->deployment_id = v;
        else if (!strcmp(f, "--steps")) rc = parse_long(f, v, 1, 1000000, &a->steps);
        else if (!strcmp(f, "--group-size")) rc = parse_long(f, v, 2, MAX_GROUP, &a->group);
        else if (!strcmp(f, "--max-tokens")) rc = parse_long(f, v, 1, 256, &a->max_tokens);
        else if (!strcmp(f, "--dcp-save-interval")) rc = parse_long(f, v, 0, 1000000, &a->interval);
        else if (!strcmp(f, "--seed")) rc = parse_long(f, v, 0, 1L << 30, &a->seed);
        else if (!strcmp(f, "--crash-after-step")) rc = parse_long(f, v, 1, 1000000, &a->crash_after);
        else if (!strcmp(f, "--loss")) {
            rc = fwt_loss_fn_parse(&a->loss, v) == FWT_OK ? 0 : -1;
            if (!rc && a->loss != FWT_LOSS_IMPORTANCE_SAMPLING && a->loss != FWT_LOSS_PPO) {
                fprintf(stderr, "rl_loop: --loss is importance_sampling or ppo\n");
                rc = -1;
            } else if (rc)
                fprintf(stderr, "rl_loop: %s\n", fwt_error_last()->message);
        } else if (!strcmp(f, "--learning-rate")) {
            char *end;
            a->lr = strtod(v, &end);
            if (*end || !(a->lr > 0)) {
                fprintf(stderr, "rl_loop: --learning-rate needs a positive number\n");
                rc = -1;
            }
        } else {
            fprintf(stderr, "rl_loop: unknown option %s\n", f);
            usage(stderr);
            return -1;
        }
        if (rc != 0)
            return -1;
    }
    if (!a->log_path) {
        usage(stderr);
        return -1;
    }
    return 0;
}

static int fail(const char *what)
{
    const fwt_error *e = fwt_error_last();
    fprintf(stderr, "rl_loop: %s: %s (%s)\n", what, e->message[0] ? e->message : fwt_strerror(e->code),
            fwt_strerror(e->code));
    return 1;
}

/*
 * What failed in a step: the library status, for the recovery decision, and what failed, for the message. A
 * failure that is no library call's (the weight check found a difference) keeps rc FWT_OK: never recovered.
 */
typedef struct failure {
    int rc;
    const char *what;
} failure;

static int failed(failure *f, int rc, const char *what)
{
    f->rc = rc;
    f->what = what;
    return -1;
}

/* Ids a rerun with the same log path finds again: "<prefix>" + FNV-1a of the absolute path. */
static void id_for(char *out, size_t len, const char *prefix, const char *log_path)
{
    char abs[PATH_MAX];
    const char *p = realpath(log_path, abs) ? abs : log_path;
    uint64_t h = 1469598103934665603ull;
    for (; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    snprintf(out, len, "%s%012" PRIx64, prefix, (uint64_t)(h & 0xffffffffffffull));
}

/* The reward of one sample: the fraction of its bytes that are lowercase ASCII letters. */
static double reward_of(const int64_t *toks, size_t n)
{
    size_t hits = 0;
    for (size_t i = 0; i < n; i++)
        hits += toks[i] >= 'a' && toks[i] <= 'z';
    return n ? (double)hits / (double)n : 0.0;
}

/* One rollout group's contribution: a datum per sample whose advantage is not zero. */
static int add_group(fwt_batch *b, const char *prompt, const fwt_completion *c, const double *reward, double mean,
                     failure *f)
{
    size_t np = strlen(prompt);
    for (size_t i = 0; i < fwt_completion_count(c); i++) {
        double adv = reward[i] - mean;
        size_t ng = 0;
        const int64_t *gen = fwt_completion_tokens(c, i, &ng);
        const float *glp = fwt_completion_logprobs(c, i, &ng);
        if (adv == 0 || ng == 0 || np + ng > MAX_SEQ)
            continue;
        /* full = prompt + sample; position k predicts full[k + 1]. Only sampled tokens carry an advantage. */
        int64_t full[MAX_SEQ + 1], tgt[MAX_SEQ];
        float lp[MAX_SEQ], av[MAX_SEQ];
        for (size_t k = 0; k < np; k++)
            full[k] = (unsigned char)prompt[k];
        memcpy(full + np, gen, ng * sizeof *gen);
        size_t n = np + ng - 1;
        for (size_t k = 0; k < n; k++) {
            tgt[k] = full[k + 1];
            int sampled = k + 1 >= np;
            lp[k] = sampled ? glp[k + 1 - np] : 0.0f;
            av[k] = sampled ? (float)adv : 0.0f;
        }
        fwt_datum d;
        fwt_datum_init(&d, FWT_DATUM_VERSION);
        d.tokens = full;
        d.n_tokens = n;
        d.target_tokens = tgt;
        d.n_target_tokens = n;
        d.logprobs = lp;
        d.n_logprobs = n;
        d.advantages = av;
        d.n_advantages = n;
        int rc = fwt_batch_add_datum(b, &d);
        if (rc != FWT_OK)
            return failed(f, rc, "cannot add a datum");
    }
    return 0;
}

/* Sample every prompt's group at once, score, build the batch. *mean_reward: over every sample of the step. */
static int rollouts(const args *a, fwt_client *client, const char *dep, int64_t step, fwt_batch *b,
                    double *mean_reward, failure *fl)
{
    fwt_future *f[N_PROMPTS] = {0};
    int rc = 0, st;
    for (size_t p = 0; p < N_PROMPTS && !rc; p++) {
        fwt_sample_request r;
        fwt_sample_request_init(&r, FWT_SAMPLE_REQUEST_VERSION);
        r.prompt_text = PROMPTS[p];
        r.n = (int32_t)a->group;
        r.max_tokens = (int32_t)a->max_tokens;
        r.temperature = 1.0; /* on-policy: sample the policy itself (top_p 1, top_k 0 are the defaults) */
        r.logprobs = 1;
        r.has_seed = 1;
        r.seed = (a->seed * 1000003 + step) * (int64_t)N_PROMPTS + (int64_t)p;
        if ((st = fwt_sample(&f[p], client, dep, &r)) != FWT_OK)
            rc = failed(fl, st, "cannot start sampling");
    }
    double total = 0;
    size_t count = 0;
    for (size_t p = 0; p < N_PROMPTS; p++) {
        fwt_completion *c = NULL;
        if (!rc) {
            fwt_future_wait(f[p], -1); /* its outcome, a failure included, is what the take returns */
            if ((st = fwt_future_take_completion(&c, f[p])) != FWT_OK)
                rc = failed(fl, st, "sampling failed");
        }
        double reward[MAX_GROUP], mean = 0;
        size_t n = fwt_completion_count(c);
        for (size_t i = 0; i < n; i++) {
            size_t ng = 0;
            const int64_t *gen = fwt_completion_tokens(c, i, &ng);
            reward[i] = reward_of(gen, ng);
            mean += reward[i] / (double)n;
            total += reward[i];
            count++;
        }
        if (!rc)
            rc = add_group(b, PROMPTS[p], c, reward, mean, fl);
        fwt_completion_free(c);
        fwt_future_free(f[p]);
    }
    *mean_reward = count ? total / (double)count : 0;
    return rc;
}

/* The deployment's logprobs of PROBE (echo) must equal the trainer's forward logprobs, bit for bit. */
static int check_weights(fwt_client *client, fwt_training *t, const char *dep, failure *f)
{
    size_t n = strlen(PROBE);
    int64_t tok[sizeof PROBE], tgt[sizeof PROBE];
    float w[sizeof PROBE];
    for (size_t i = 0; i + 1 < n; i++) {
        tok[i] = (unsigned char)PROBE[i];
        tgt[i] = (unsigned char)PROBE[i + 1];
        w[i] = 1.0f;
    }
    fwt_batch *b = NULL;
    fwt_forward_output *fo = NULL;
    int rc = fwt_batch_new(&b);
    if (rc == FWT_OK)
        rc = fwt_batch_add(b, tok, n - 1, tgt, n - 1, w, n - 1);
    if (rc == FWT_OK)
        rc = fwt_training_forward_result(&fo, t, b, FWT_LOSS_CROSS_ENTROPY, -1);
    if (rc != FWT_OK) {
        fwt_batch_free(b);
        return failed(f, rc, "forward on the probe failed");
    }
    fwt_batch_free(b);
    fwt_sample_request r;
    fwt_sample_request_init(&r, FWT_SAMPLE_REQUEST_VERSION);
    r.prompt_text = PROBE;
    r.max_tokens = 0;
    r.echo = 1;
    r.logprobs = 1;
    fwt_completion *c = NULL;
    if ((rc = fwt_sample_result(&c, client, dep, &r, -1)) != FWT_OK) {
        fwt_forward_output_free(fo);
        return failed(f, rc, "sampling the probe failed");
    }
    size_t nlp = 0, npl = 0;
    const float *lp = fwt_forward_output_logprobs(fo, 0, &nlp);
    const float *plp = fwt_completion_prompt_logprobs(c, &npl);
    int ok = lp && plp && nlp == n - 1 && npl == n;
    for (size_t i = 0; ok && i < nlp; i++) {
        if (plp[i + 1] != lp[i]) {
            fprintf(stderr, "rl_loop: probe token %zu: deployment logprob %.9g, trainer %.9g\n", i + 1,
                    (double)plp[i + 1], (double)lp[i]);
            ok = 0;
        }
    }
    fwt_completion_free(c);
    fwt_forward_output_free(fo);
    return ok ? 0 : failed(f, FWT_OK, "the deployment does not serve the trainer's weights");
}

/* Push the trainer's weights into the deployment and check them. */
static int sync_and_check(fwt_weight_syncer *sync, fwt_client *client, fwt_training *t, const char *dep,
                          int64_t step, char **snap, failure *f)
{
    char name[40];
    snprintf(name, sizeof name, "step-%05" PRId64, step);
    int rc = fwt_weight_syncer_save_and_hotload(snap, sync, name, FWT_SAMPLER_AUTO);
    if (rc != FWT_OK)
        return failed(f, rc, "save_and_hotload failed");
    return check_weights(client, t, dep, f);
}

/*
 * The steps from *step on, then the final checkpoint, on the checkpointer's current training. 0 when the run is
 * complete; -1 with *f filled when a call failed.
 */
static int run_steps(const args *a, fwt_client *client, fwt_checkpointer *ck, fwt_weight_syncer *sync,
                     const char *dep, int64_t *step, const fwt_adam_params *adam, const fwt_loss_config *cfg,
                     failure *f)
{
    fwt_training *t = fwt_checkpointer_training(ck);
    /* The deployment may hold weights from after the checkpoint (or none): serve the trainer's first. */
    char *snap = NULL;
    int rc = sync_and_check(sync, client, t, dep, *step, &snap, f);
    fwt_free(snap);
    if (rc != 0)
        return -1;
    while (*step < a->steps) {
        fwt_batch *b = NULL;
        double reward = 0, loss = 0;
        if ((rc = fwt_batch_new(&b)) != FWT_OK)
            return failed(f, rc, "batch");
        if (rollouts(a, client, dep, *step, b, &reward, f) != 0) {
            fwt_batch_free(b);
            return -1;
        }
        if (fwt_batch_count(b) > 0) { /* every group can tie: then there is nothing to learn this step */
            fwt_forward_output *fo = NULL;
            rc = fwt_training_forward_backward_config_result(&fo, t, b, a->loss, cfg, -1);
            fwt_batch_free(b);
            if (rc != FWT_OK)
                return failed(f, rc, "forward_backward failed");
            if (fwt_metrics_get(fwt_forward_output_metrics(fo), "loss:sum", &loss) != FWT_OK)
                loss = 0;
            fwt_forward_output_free(fo);
            if ((rc = fwt_training_optim_step_result(NULL, t, adam, -1)) != FWT_OK)
                return failed(f, rc, "optim_step failed");
        } else {
            fwt_batch_free(b);
        }
        ++*step;
        snap = NULL;
        if (sync_and_check(sync, client, t, dep, *step, &snap, f) != 0) {
            fwt_free(snap);
            return -1;
        }
        printf("step=%" PRId64 " reward=%.6f loss=%a snapshot=%s check=ok\n", *step, reward, loss, snap);
        fflush(stdout);
        fwt_free(snap);
        int saved = 0;
        if ((rc = fwt_checkpointer_step_done(ck, *step, *step, &saved)) != FWT_OK)
            return failed(f, rc, "checkpoint save failed");
        if (saved)
            fprintf(stderr, "rl_loop: saved DCP checkpoint step-%" PRId64 "\n", *step);
        if (*step == a->crash_after) /* for tests: die like a crash would, at a known point */
            raise(SIGKILL);
    }
    if ((rc = fwt_checkpointer_finish(ck, *step, *step)) != FWT_OK)
        return failed(f, rc, "final checkpoint failed");
    return 0;
}

/*
 * A failed call: if the trainer lost the session or the model (it restarted), the checkpointer opens a new
 * session, reloads the last confirmed checkpoint with its optimizer state and says where to continue; the loop
 * rewinds there and recomputes the steps after it. The syncer saved on the lost training: a new one on the new
 * training starts its chain with a base, so the deployment (which may still hold a snapshot from after the
 * checkpoint) gets the reloaded weights whole, never a delta against weights the trainer no longer has.
 * 1 when recovered, 0 when the failure stands (the error is in fwt_error_last()), -1 when the new syncer could
 * not be made (said here).
 */
static int recovered(fwt_checkpointer *ck, const failure *f, fwt_client *client, fwt_weight_syncer **sync,
                     const fwt_weight_syncer_options *so, int64_t *step)
{
    if (fwt_checkpointer_recover(ck, f->rc) != FWT_OK)
        return 0;
    fwt_weight_syncer_free(*sync);
    *sync = NULL;
    if (fwt_weight_syncer_new(sync, client, fwt_checkpointer_training(ck), so) != FWT_OK) {
        fail("cannot create a weight syncer on the recovered session");
        return -1;
    }
    *step = fwt_checkpointer_start_step(ck);
    const char *path = fwt_checkpointer_loaded_path(ck);
    fprintf(stderr,
            "rl_loop: the trainer lost the session (%s: %s); recovered in-process (%s), continuing from step %" PRId64
            "\n",
            f->what, fwt_strerror(f->rc), path ? path : "no checkpoint yet: a fresh model", *step);
    return 1;
}

static int train(const args *a, fwt_client *client, fwt_checkpointer *ck, fwt_weight_syncer **sync,
                 const fwt_weight_syncer_options *so, const char *dep)
{
    int64_t step = fwt_checkpointer_start_step(ck);
    fwt_adam_params adam;
    fwt_adam_params_init(&adam, FWT_ADAM_PARAMS_VERSION);
    adam.learning_rate = a->lr;
    static const char *const keys[] = {"clip_low_threshold", "clip_high_threshold"};
    static const double values[] = {0.8, 1.2};
    fwt_loss_config cfg;
    fwt_loss_config_init(&cfg, FWT_LOSS_CONFIG_VERSION);
    if (a->loss == FWT_LOSS_PPO) {
        cfg.keys = keys;
        cfg.values = values;
        cfg.n = 2;
    }
    for (;;) {
        failure f = {FWT_OK, NULL};
        if (run_steps(a, client, ck, *sync, dep, &step, &adam, &cfg, &f) == 0)
            break;
        if (f.rc == FWT_OK) { /* not a library failure: nothing to recover */
            fprintf(stderr, "rl_loop: %s\n", f.what);
            return 1;
        }
        int r = recovered(ck, &f, client, sync, so, &step);
        if (r <= 0)
            return r < 0 ? 1 : fail(f.what);
    }
    fprintf(stderr, "rl_loop: done after %" PRId64 " steps; checkpoints in %s/checkpoints.jsonl\n", step,
            a->log_path);
    return 0;
}

/* Get the job (creating it the first time) and wait until its trainer answers. */
static int open_job(fwt_job **out, fwt_client *client, const char *job_id, const char *base_model)
{
    fwt_job_create_options co;
    fwt_job_create_options_init(&co, FWT_JOB_CREATE_OPTIONS_VERSION);
    co.job_id = job_id;
    co.base_model = base_model;
    co.display_name = "rl_loop example";
    fwt_job *job = NULL;
    if (fwt_job_create(&job, client, &co) != FWT_OK)
        return fail("cannot create or find the trainer job");
    fwt_job_wait_options wo;
    fwt_job_wait_options_init(&wo, FWT_JOB_WAIT_OPTIONS_VERSION);
    fwt_job *ready = NULL;
    int rc = fwt_job_wait_ready_result(&ready, client, fwt_job_id(job), &wo, -1);
    fwt_job_free(job);
    if (rc != FWT_OK)
        return fail("the trainer job did not become ready");
    *out = ready;
    return 0;
}

int main(int argc, char **argv)
{
    args a;
    if (parse_args(argc, argv, &a) != 0)
        return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (mkdir(a.log_path, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "rl_loop: cannot create %s: %s\n", a.log_path, strerror(errno));
        return 1;
    }
    char job_id[40], dep_id[40];
    id_for(job_id, sizeof job_id, "rl-", a.log_path);
    id_for(dep_id, sizeof dep_id, "rl-dep-", a.log_path);
    if (a.job_id)
        snprintf(job_id, sizeof job_id, "%s", a.job_id);
    if (a.deployment_id)
        snprintf(dep_id, sizeof dep_id, "%s", a.deployment_id);

    int rc = 1;
    fwt_client *client = NULL;
    fwt_job *job = NULL;
    fwt_training *t = NULL;
    fwt_checkpointer *ck = NULL;
    fwt_deployment *dep = NULL;
    fwt_weight_syncer *sync = NULL;
    if (fwt_client_new(&client, NULL) != FWT_OK) {
        rc = fail("cannot create the client (set FIREWORKS_API_KEY, and FIREWORKS_BASE_URL for a local server)");
        goto out;
    }
    if (open_job(&job, client, job_id, a.base_model) != 0)
        goto out;
    fwt_training_options to;
    fwt_training_options_init(&to, FWT_TRAINING_OPTIONS_VERSION);
    to.base_model = a.base_model;
    if (fwt_job_open_training(&t, client, job, &to) != FWT_OK || fwt_training_create_model_result(t, -1) != FWT_OK) {
        rc = fail("cannot open a training session");
        goto out;
    }
    fwt_checkpointer_options co;
    fwt_checkpointer_options_init(&co, FWT_CHECKPOINTER_OPTIONS_VERSION);
    co.log_path = a.log_path;
    co.job_id = fwt_job_id(job);
    co.base_model = a.base_model;
    co.dcp_save_interval = a.interval;
    co.total_steps = a.steps;
    if (fwt_checkpointer_start(&ck, t, &co) != FWT_OK) {
        rc = fail("cannot start the run");
        goto out;
    }
    if (fwt_checkpointer_mode(ck) == FWT_RESUME_COMPLETE) {
        fprintf(stderr, "rl_loop: the run in %s is already complete; nothing to do\n", a.log_path);
        rc = 0;
        goto out;
    }
    if (fwt_checkpointer_mode(ck) == FWT_RESUME_AUTO)
        fprintf(stderr, "rl_loop: resuming job %s at step %" PRId64 " from %s\n", job_id,
                fwt_checkpointer_start_step(ck), fwt_checkpointer_loaded_path(ck));
    else
        fprintf(stderr, "rl_loop: fresh run on job %s, %ld steps\n", job_id, a.steps);
    /* A deployment attached to this trainer (get-or-create, so a rerun finds it). */
    fwt_deployment_create_options dopts;
    fwt_deployment_create_options_init(&dopts, FWT_DEPLOYMENT_CREATE_OPTIONS_VERSION);
    dopts.base_model = a.base_model;
    dopts.hot_load_trainer_job = fwt_job_id(job);
    dopts.min_replica_count = 1;
    if (fwt_deployment_create(&dep, client, dep_id, &dopts) != FWT_OK) {
        rc = fail("cannot create the deployment");
        goto out;
    }
    fwt_weight_syncer_options so;
    fwt_weight_syncer_options_init(&so, FWT_WEIGHT_SYNCER_OPTIONS_VERSION);
    so.deployment_id = fwt_deployment_id(dep);
    so.base_model = a.base_model;
    so.warmup.retry_interval_ms = 200;
    if (fwt_weight_syncer_new(&sync, client, t, &so) != FWT_OK) {
        rc = fail("cannot create the weight syncer");
        goto out;
    }
    rc = train(&a, client, ck, &sync, &so, fwt_deployment_id(dep));
out:
    fwt_weight_syncer_free(sync);
    fwt_deployment_free(dep);
    fwt_checkpointer_free(ck);
    fwt_training_free(t); /* unloads the model: the trainer's session slot is free for the next run */
    fwt_job_free(job);
    fwt_client_free(client);
    return rc;
}
