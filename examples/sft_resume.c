/*
 * sft_resume — supervised fine-tuning that survives being killed.
 *
 * Run it (against fwtrain-local or the Fireworks API):
 *   export FIREWORKS_BASE_URL=http://127.0.0.1:8080 FIREWORKS_API_KEY=local-dev-key
 *   ./sft_resume --log-path runs/demo --dataset examples/data/tiny_corpus.jsonl --steps 40 --dcp-save-interval 5
 * Kill it at any moment (even with SIGKILL) and run the same command again: it
 * resumes from the last checkpoint recorded in runs/demo/checkpoints.jsonl, and
 * prints exactly the lines an uninterrupted run prints from there on. Run it a
 * third time and it says the run is complete. Promote the result with
 *   fwtrain promote --checkpoints-jsonl runs/demo/checkpoints.jsonl
 *
 * What makes it resumable:
 *  - the trainer job id is derived from the log path, so a rerun finds the same
 *    job (create returns the existing one) — or pass --job-id;
 *  - fwt_checkpointer saves the DCP state (weights + optimizer) every
 *    --dcp-save-interval steps and records it in checkpoints.jsonl only once
 *    the server confirmed the save; at start it reloads the last one with
 *    load_state_with_optimizer and restores step and data_consumed;
 *  - the batch of a step is a pure function of data_consumed.
 * With --resume-source control-plane the run resumes as the current cookbook
 * does: from the newest DCP checkpoint in the job's checkpoint listing, with
 * the data position kept in runs/demo/dataloader.json.
 * --async-saves sends the periodic saves without waiting (each is recorded
 * once the server confirmed it, in step order); --ttl-seconds lets the server
 * drop periodic saves after that long (the final one is kept);
 * --save-every-seconds also saves by wall time; --output-model-id promotes the
 * final checkpoint to a model.
 * If the trainer restarts mid-run (its session is lost), the run recovers in
 * the same process: fwt_checkpointer_recover opens a new session, reloads the
 * last confirmed checkpoint, and the loop continues from its step (the steps
 * after it are recomputed and printed again, with the same losses).
 * The dataset is JSONL, one {"text": "..."} per line; bytes are tokens.
 * Output: one line per step, "step=<N> loss=<mean loss per token, %a>".
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <fwtrain/fwtrain.h>

typedef struct args {
    const char *log_path, *dataset, *base_model, *job_id, *init_from, *resume_source, *output_model_id;
    long steps, interval, batch, seq_len, ttl_seconds, save_every_s;
    long depth; /* steps in flight (--pipeline-depth) */
    int async_saves;
    double lr;
} args;

#define MAX_PIPELINE_DEPTH 16

typedef struct dataset {
    unsigned char **text;
    size_t *len;
    size_t n;
} dataset;

static void usage(FILE *f)
{
    fputs("usage: sft_resume --log-path DIR --dataset FILE.jsonl --steps N [--dcp-save-interval K]\n"
          "                  [--batch-size B] [--seq-len L] [--learning-rate LR] [--base-model M]\n"
          "                  [--job-id ID] [--init-from-checkpoint JOB:NAME] [--pipeline-depth D (1-16, 4)]\n"
          "                  [--resume-source registry|control-plane] [--async-saves]\n"
          "                  [--ttl-seconds S] [--save-every-seconds S] [--output-model-id ID]\n"
          "Environment: FIREWORKS_BASE_URL, FIREWORKS_API_KEY.\n",
          f);
}

static int parse_long(const char *flag, const char *v, long lo, long *out)
{
    char *end;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || errno || end == v || *end || x < lo) {
        fprintf(stderr, "sft_resume: %s needs an integer >= %ld\n", flag, lo);
        return -1;
    }
    *out = x;
    return 0;
}

static int parse_args(int argc, char **argv, args *a)
{
    memset(a, 0, sizeof *a);
    a->batch = 4;
    a->seq_len = 64;
    a->lr = 1e-2;
    a->depth = 4;
    a->base_model = "accounts/fireworks/models/fwtrain-local-byte";
    int i = 1;
    while (i < argc) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(f, "--async-saves")) {
            a->async_saves = 1; /* a switch: no value */
            i++;
            continue;
        } else if (!strcmp(f, "--log-path")) a->log_path = v;
        else if (!strcmp(f, "--dataset")) a->dataset = v;
        else if (!strcmp(f, "--base-model")) a->base_model = v;
        else if (!strcmp(f, "--job-id")) a->job_id = v;
        else if (!strcmp(f, "--init-from-checkpoint")) a->init_from = v;
        else if (!strcmp(f, "--resume-source")) {
            a->resume_source = v;
            if (v && strcmp(v, "registry") != 0 && strcmp(v, "control-plane") != 0) {
                fprintf(stderr, "sft_resume: --resume-source is registry or control-plane\n");
                rc = -1;
            }
        }
        else if (!strcmp(f, "--output-model-id")) a->output_model_id = v;
        else if (!strcmp(f, "--ttl-seconds")) rc = parse_long(f, v, 0, &a->ttl_seconds);
        else if (!strcmp(f, "--save-every-seconds")) rc = parse_long(f, v, 0, &a->save_every_s);
        else if (!strcmp(f, "--steps")) rc = parse_long(f, v, 1, &a->steps);
        else if (!strcmp(f, "--dcp-save-interval")) rc = parse_long(f, v, 0, &a->interval);
        else if (!strcmp(f, "--batch-size")) rc = parse_long(f, v, 1, &a->batch);
        else if (!strcmp(f, "--seq-len")) rc = parse_long(f, v, 2, &a->seq_len);
        else if (!strcmp(f, "--pipeline-depth")) {
            rc = parse_long(f, v, 1, &a->depth);
            if (rc == 0 && a->depth > MAX_PIPELINE_DEPTH) {
                fprintf(stderr, "sft_resume: --pipeline-depth is at most %d\n", MAX_PIPELINE_DEPTH);
                rc = -1;
            }
        }
        else if (!strcmp(f, "--learning-rate")) {
            char *end;
            a->lr = v ? strtod(v, &end) : 0;
            if (!v || *end || !(a->lr > 0)) {
                fprintf(stderr, "sft_resume: --learning-rate needs a positive number\n");
                rc = -1;
            }
        } else {
            fprintf(stderr, "sft_resume: unknown option %s\n", f);
            usage(stderr);
            return -1;
        }
        if (rc != 0)
            return -1;
        if (!v) {
            fprintf(stderr, "sft_resume: %s needs a value\n", f);
            return -1;
        }
        i += 2;
    }
    if (!a->log_path || !a->dataset || !a->steps) {
        usage(stderr);
        return -1;
    }
    return 0;
}

static void dataset_free(dataset *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->text[i]);
    free(d->text);
    free(d->len);
}

/* One {"text": "..."} per line; texts shorter than 2 bytes teach nothing and are skipped. */
static int dataset_load(dataset *d, const char *path)
{
    memset(d, 0, sizeof *d);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "sft_resume: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0, cap_items = 0, line_no = 0;
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = getline(&line, &cap, fp)) >= 0) {
        line_no++;
        cJSON *o = cJSON_ParseWithLength(line, (size_t)n);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "text");
        if (!cJSON_IsString(t)) {
            if (!o && strspn(line, " \t\r\n") == (size_t)n) {
                continue; /* blank line */
            }
            fprintf(stderr, "sft_resume: %s:%zu: expected {\"text\": \"...\"}\n", path, line_no);
            rc = -1;
        } else if (strlen(t->valuestring) >= 2) {
            if (d->n == cap_items) {
                cap_items = cap_items ? cap_items * 2 : 64;
                unsigned char **tx = realloc(d->text, cap_items * sizeof *tx);
                size_t *ln = tx ? realloc(d->len, cap_items * sizeof *ln) : NULL;
                if (tx)
                    d->text = tx;
                if (ln)
                    d->len = ln;
                if (!tx || !ln) {
                    rc = -1;
                    fprintf(stderr, "sft_resume: out of memory\n");
                }
            }
            if (rc == 0) {
                d->len[d->n] = strlen(t->valuestring);
                d->text[d->n] = (unsigned char *)strdup(t->valuestring);
                if (!d->text[d->n])
                    rc = -1;
                else
                    d->n++;
            }
        }
        cJSON_Delete(o);
    }
    free(line);
    fclose(fp);
    if (rc == 0 && d->n == 0) {
        fprintf(stderr, "sft_resume: %s holds no usable text\n", path);
        rc = -1;
    }
    if (rc != 0)
        dataset_free(d);
    return rc;
}

/* The batch after `data_consumed` examples: examples data_consumed .. +batch-1, cycling. */
static int make_batch(fwt_batch **out, const dataset *d, int64_t data_consumed, long batch, long seq_len, size_t *tokens)
{
    int64_t tok[4096], tgt[4096];
    float w[4096];
    *tokens = 0;
    if (fwt_batch_new(out) != FWT_OK)
        return -1;
    for (long j = 0; j < batch; j++) {
        size_t idx = (size_t)((data_consumed + j) % (int64_t)d->n);
        size_t n = d->len[idx] - 1;
        if (n > (size_t)seq_len)
            n = (size_t)seq_len;
        if (n > 4096)
            n = 4096;
        for (size_t i = 0; i < n; i++) {
            tok[i] = d->text[idx][i];
            tgt[i] = d->text[idx][i + 1];
            w[i] = 1.0f;
        }
        if (fwt_batch_add(*out, tok, n, tgt, n, w, n) != FWT_OK)
            return -1;
        *tokens += n;
    }
    return 0;
}

/* A job id that a rerun with the same log path finds again: "sft-" + FNV-1a of the absolute path. */
static void job_id_for(char out[32], const char *log_path)
{
    char abs[PATH_MAX];
    const char *p = realpath(log_path, abs) ? abs : log_path;
    uint64_t h = 1469598103934665603ull;
    for (; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    snprintf(out, 32, "sft-%012" PRIx64, (uint64_t)(h & 0xffffffffffffull));
}

static int fail(const char *what)
{
    const fwt_error *e = fwt_error_last();
    fprintf(stderr, "sft_resume: %s: %s (%s)\n", what, e->message[0] ? e->message : fwt_strerror(e->code),
            fwt_strerror(e->code));
    return 1;
}

/* Get the job (creating it the first time) and wait until its trainer answers. */
static int open_job(fwt_job **out, fwt_client *client, const char *job_id, const char *base_model)
{
    fwt_job_create_options co;
    fwt_job_create_options_init(&co, FWT_JOB_CREATE_OPTIONS_VERSION);
    co.job_id = job_id;
    co.base_model = base_model;
    co.display_name = "sft_resume example";
    fwt_job *job = NULL;
    if (fwt_job_create(&job, client, &co) != FWT_OK)
        return fail("cannot create or find the trainer job");
    const char *state = fwt_job_state(job);
    if (!strcmp(state, "JOB_STATE_FAILED") || !strcmp(state, "JOB_STATE_CANCELLED") ||
        !strcmp(state, "JOB_STATE_PAUSED") || !strcmp(state, "JOB_STATE_COMPLETED")) {
        fprintf(stderr, "sft_resume: job %s is %s; resuming it\n", job_id, state);
        if (fwt_job_resume(client, fwt_job_id(job)) != FWT_OK) {
            fwt_job_free(job);
            return fail("cannot resume the trainer job");
        }
    }
    /* The wait polls fast at first, so a local server's trainer is seen ready in well under a second. */
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

/* One step submitted ahead: its forward_backward and optim_step futures and its batch's token count. */
typedef struct step_ops {
    fwt_future *fb, *opt;
    size_t tokens;
} step_ops;

static void step_ops_free(step_ops *s)
{
    fwt_future_free(s->fb); /* a pending future is cancelled locally first */
    fwt_future_free(s->opt);
    memset(s, 0, sizeof *s);
}

static void ring_free(step_ops *ring)
{
    for (int i = 0; i < MAX_PIPELINE_DEPTH; i++)
        step_ops_free(&ring[i]);
}

/* A failed library call: its status and what failed, for the recovery decision and the message. */
typedef struct op_failure {
    int rc;
    const char *what;
} op_failure;

static int failed(op_failure *f, int rc, const char *what)
{
    f->rc = rc;
    f->what = what;
    return rc;
}

/* Submit the step that starts after `data` examples: both ops at once, without waiting. A batch that
 * cannot be built is not a library failure: *bad_input is set and nothing is recoverable. */
static int submit_step(step_ops *s, const args *a, const dataset *d, fwt_training *t, int64_t data,
                       const fwt_adam_params *adam, op_failure *f, int *bad_input)
{
    fwt_batch *b = NULL;
    memset(s, 0, sizeof *s);
    if (make_batch(&b, d, data, a->batch, a->seq_len, &s->tokens) != 0) {
        fwt_batch_free(b);
        fprintf(stderr, "sft_resume: cannot build a batch\n");
        *bad_input = 1;
        return FWT_EINVAL;
    }
    int rc = fwt_training_forward_backward(&s->fb, t, b, FWT_LOSS_CROSS_ENTROPY);
    fwt_batch_free(b); /* the call copied what it needs */
    if (rc != FWT_OK)
        return failed(f, rc, "forward_backward failed");
    rc = fwt_training_optim_step(&s->opt, t, adam);
    if (rc != FWT_OK)
        return failed(f, rc, "optim_step failed");
    return FWT_OK;
}

/* Wait for a submitted step; its loss per token through *loss. */
static int finish_step(step_ops *s, double *loss, op_failure *f)
{
    fwt_forward_output *fo = NULL;
    fwt_future_wait(s->fb, -1);
    int rc = fwt_future_take_forward_output(&fo, s->fb);
    if (rc != FWT_OK)
        return failed(f, rc, "forward_backward failed");
    double loss_sum = 0;
    if (fwt_metrics_get(fwt_forward_output_metrics(fo), "loss:sum", &loss_sum) != FWT_OK) {
        /* No metric: the loss is the negative sum of the target logprobs. */
        loss_sum = 0;
        for (size_t i = 0; i < fwt_forward_output_count(fo); i++) {
            size_t n = 0;
            const float *lp = fwt_forward_output_logprobs(fo, i, &n);
            for (size_t k = 0; lp && k < n; k++)
                loss_sum -= lp[k];
        }
    }
    fwt_forward_output_free(fo);
    fwt_metrics *m = NULL;
    fwt_future_wait(s->opt, -1);
    rc = fwt_future_take_metrics(&m, s->opt);
    if (rc != FWT_OK)
        return failed(f, rc, "optim_step failed");
    fwt_metrics_free(m);
    *loss = loss_sum / (double)s->tokens;
    return FWT_OK;
}

/* 1 if the checkpointer saves once `step` steps are done (fwt_checkpointer_step_done's rule). */
static int saves_after(const args *a, int64_t step)
{
    return a->interval > 0 && step % a->interval == 0 && step < a->steps;
}

/*
 * A failed op or save: if the trainer lost the session (it restarted), the
 * checkpointer opens a new one, reloads the last confirmed state and says
 * where to continue; the loop rewinds there and recomputes the steps after
 * it. 1 when recovered, 0 when the failure stands.
 */
static int recovered(fwt_checkpointer *ck, int failure, fwt_training **t, int64_t *step, int64_t *data)
{
    if (fwt_checkpointer_recover(ck, failure) != FWT_OK)
        return 0;
    *t = fwt_checkpointer_training(ck);
    *step = fwt_checkpointer_start_step(ck);
    *data = fwt_checkpointer_start_data_consumed(ck);
    const char *path = fwt_checkpointer_loaded_path(ck);
    fprintf(stderr, "sft_resume: the trainer lost the session; recovered in-process (%s), continuing from step %" PRId64 "\n",
            path ? path : "no checkpoint yet: a fresh model", *step);
    return 1;
}

/* One step of the pipeline: top the window up, wait for the oldest step, record it with the checkpointer. */
static int pipeline_step(const args *a, const dataset *d, fwt_checkpointer *ck, fwt_training *t, step_ops *ring,
                         int64_t *step, int64_t *data, int64_t *submitted, const fwt_adam_params *adam, op_failure *f,
                         int *bad_input)
{
    while (*submitted < a->steps && *submitted - *step < a->depth && (*submitted == *step || !saves_after(a, *submitted))) {
        step_ops *s = &ring[*submitted % MAX_PIPELINE_DEPTH];
        int rc = submit_step(s, a, d, t, *data + (*submitted - *step) * a->batch, adam, f, bad_input);
        if (rc != FWT_OK)
            return rc;
        (*submitted)++;
    }
    double loss = 0;
    step_ops *s = &ring[*step % MAX_PIPELINE_DEPTH];
    int rc = finish_step(s, &loss, f);
    step_ops_free(s);
    if (rc != FWT_OK)
        return rc;
    (*step)++;
    *data += a->batch;
    printf("step=%" PRId64 " loss=%a\n", *step, loss);
    fflush(stdout);
    int saved = 0;
    rc = fwt_checkpointer_step_done(ck, *step, *data, &saved);
    if (rc != FWT_OK)
        return failed(f, rc, "checkpoint save failed");
    if (saved)
        fprintf(stderr, "sft_resume: %s DCP checkpoint step-%" PRId64 " (STATE)\n", a->async_saves ? "sent" : "saved",
                *step);
    return FWT_OK;
}

/*
 * Steps are pipelined: up to --pipeline-depth steps have both their ops submitted before the oldest is
 * waited for, so the server always has the next op queued and the client waits once per step. The
 * server runs ops in seq_id order, so the results are those of the blocking loop bit for bit. The
 * window never reaches past a checkpoint: when step_done saves "step-N", no op of step N+1 may be
 * queued before that save, or the checkpoint would hold it. A lost session drops the window (its
 * futures belong to the lost session) and rewinds to the last confirmed checkpoint.
 */
static int train(const args *a, const dataset *d, fwt_checkpointer *ck)
{
    fwt_training *t = fwt_checkpointer_training(ck);
    int64_t step = fwt_checkpointer_start_step(ck);
    int64_t data = fwt_checkpointer_start_data_consumed(ck);
    fwt_adam_params adam;
    fwt_adam_params_init(&adam, FWT_ADAM_PARAMS_VERSION);
    adam.learning_rate = a->lr;
    step_ops ring[MAX_PIPELINE_DEPTH];
    memset(ring, 0, sizeof ring);
    int64_t submitted = step; /* steps submitted so far (completed + in flight) */
    for (;;) {
        op_failure f = {FWT_OK, NULL};
        int bad_input = 0;
        int rc = FWT_OK;
        while (rc == FWT_OK && step < a->steps)
            rc = pipeline_step(a, d, ck, t, ring, &step, &data, &submitted, &adam, &f, &bad_input);
        if (rc == FWT_OK) {
            rc = fwt_checkpointer_finish(ck, step, data);
            if (rc == FWT_OK)
                break;
            failed(&f, rc, "final checkpoint failed");
        }
        ring_free(ring);
        if (bad_input)
            return 1;
        if (!recovered(ck, f.rc, &t, &step, &data))
            return fail(f.what);
        submitted = step;
    }
    fprintf(stderr, "sft_resume: done; final checkpoint step-%" PRId64 " (BOTH: resumable and promotable) is in %s/checkpoints.jsonl\n",
            step, a->log_path);
    const fwt_model *m = fwt_checkpointer_promoted_model(ck);
    if (m)
        fprintf(stderr, "sft_resume: promoted to %s\n", fwt_model_name(m));
    return 0;
}

int main(int argc, char **argv)
{
    args a;
    if (parse_args(argc, argv, &a) != 0)
        return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    dataset d;
    if (dataset_load(&d, a.dataset) != 0)
        return 1;
    if (mkdir(a.log_path, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "sft_resume: cannot create %s: %s\n", a.log_path, strerror(errno));
        dataset_free(&d);
        return 1;
    }
    char derived[32];
    job_id_for(derived, a.log_path);
    const char *job_id = a.job_id ? a.job_id : derived;

    int rc = 1;
    fwt_client *client = NULL;
    fwt_job *job = NULL;
    fwt_training *t = NULL;
    fwt_checkpointer *ck = NULL;
    if (fwt_client_new(&client, NULL) != FWT_OK) {
        rc = fail("cannot create the client (set FIREWORKS_API_KEY, and FIREWORKS_BASE_URL for a local server)");
        goto out;
    }
    if (open_job(&job, client, job_id, a.base_model) != 0)
        goto out;
    fwt_training_options to;
    fwt_training_options_init(&to, FWT_TRAINING_OPTIONS_VERSION);
    to.base_model = a.base_model;
    if (fwt_job_open_training(&t, client, job, &to) != FWT_OK) {
        rc = fail("cannot open a training session");
        goto out;
    }
    if (fwt_training_create_model_result(t, -1) != FWT_OK) {
        rc = fail("create_model failed");
        goto out;
    }
    fwt_checkpointer_options co;
    fwt_checkpointer_options_init(&co, FWT_CHECKPOINTER_OPTIONS_VERSION);
    co.log_path = a.log_path;
    co.job_id = fwt_job_id(job);
    co.base_model = a.base_model;
    co.dcp_save_interval = a.interval;
    co.total_steps = a.steps;
    co.init_from_checkpoint = a.init_from;
    if (a.resume_source && !strcmp(a.resume_source, "control-plane"))
        co.resume_source = FWT_RESUME_SOURCE_CONTROL_PLANE;
    co.async_saves = a.async_saves;
    co.ttl_seconds = a.ttl_seconds;
    co.save_interval_ms = (int64_t)a.save_every_s * 1000;
    co.output_model_id = a.output_model_id;
    if (fwt_checkpointer_start(&ck, t, &co) != FWT_OK) {
        rc = fail("cannot start the run");
        goto out;
    }
    if (fwt_checkpointer_torn_bytes(ck))
        fprintf(stderr,
                "sft_resume: warning: ignored %zu bytes of torn tail at the end of %s/checkpoints.jsonl (a record cut "
                "short by a crash); resuming from the last valid entry before it\n",
                fwt_checkpointer_torn_bytes(ck), a.log_path);
    switch (fwt_checkpointer_mode(ck)) {
    case FWT_RESUME_COMPLETE:
        fprintf(stderr, "sft_resume: the run in %s is already complete (step %" PRId64 "); nothing to do\n", a.log_path,
                fwt_checkpointer_start_step(ck));
        rc = 0;
        goto out;
    case FWT_RESUME_AUTO:
        fprintf(stderr, "sft_resume: resuming job %s at step %" PRId64 " (data_consumed %" PRId64 ") from %s\n", job_id,
                fwt_checkpointer_start_step(ck), fwt_checkpointer_start_data_consumed(ck),
                fwt_checkpointer_loaded_path(ck));
        break;
    case FWT_RESUME_INIT:
        fprintf(stderr, "sft_resume: starting at step 0 from the weights of %s\n", fwt_checkpointer_loaded_path(ck));
        break;
    default:
        fprintf(stderr, "sft_resume: fresh run on job %s, %ld steps\n", job_id, a.steps);
    }
    rc = train(&a, &d, ck);
out:
    fwt_checkpointer_free(ck);
    fwt_training_free(t);
    fwt_job_free(job);
    fwt_client_free(client);
    dataset_free(&d);
    return rc;
}
