/*
 * weight_sync — an RL-style loop: sample from a deployment, score, train, push the
 * new weights into the deployment with fwt_weight_syncer, and check them.
 *
 * Run it (against fwtrain-local or the Fireworks API):
 *   export FIREWORKS_BASE_URL=http://127.0.0.1:8080 FIREWORKS_API_KEY=local-dev-key
 *   ./weight_sync [--steps N] [--job-id ID] [--deployment-id ID] [--base-model M]
 *
 * Each step:
 *  1. rollouts: a few completions from the deployment (POST /inference/v1/completions,
 *     retried on connection errors, 408, 429 and 5xx like the library's own calls);
 *  2. reward: a toy score (how many of the sampled bytes are lowercase vowels); samples
 *     above the batch mean are reinforced with cross-entropy weighted by their advantage;
 *  3. forward_backward + optim_step on the trainer;
 *  4. fwt_weight_syncer_save_and_hotload: the first snapshot is a base, later ones are
 *     XOR deltas against what the deployment holds;
 *  5. check: the deployment's prompt logprobs (echo + logprobs) must equal the trainer's
 *     forward logprobs on the same text, bit for bit — proof that the hotload landed.
 * Prints one line per step: "step=<N> reward=<mean> snapshot=<name> type=<base|delta> check=ok".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <fwtrain/fwtrain.h>

#define ROLLOUTS 4
#define MAX_NEW 24
static const char *PROMPTS[ROLLOUTS] = {"The river ", "A careful program ", "Snow fell ", "The orchestra "};
static const char *PROBE = "Every experiment needs a way back to the last good state.";

typedef struct buf {
    char *data;
    size_t len;
} buf;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    buf *b = ud;
    size_t add = size * n;
    char *d = realloc(b->data, b->len + add + 1);
    if (!d)
        return 0;
    memcpy(d + b->len, p, add);
    b->len += add;
    d[b->len] = '\0';
    b->data = d;
    return add;
}

/* The server's retry hint of the last response: Retry-After (seconds, via libcurl) or retry-after-ms. */
typedef struct hint {
    long retry_after_ms; /* -1: none */
} hint;

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    hint *h = ud;
    size_t len = size * n;
    static const char name[] = "retry-after-ms:";
    if (len > sizeof name - 1 && !strncasecmp(p, name, sizeof name - 1)) {
        char v[32];
        size_t vl = len - (sizeof name - 1) < sizeof v - 1 ? len - (sizeof name - 1) : sizeof v - 1;
        memcpy(v, p + sizeof name - 1, vl);
        v[vl] = '\0';
        char *end = NULL;
        double ms = strtod(v, &end);
        if (end != v && ms >= 0 && ms < 3600e3)
            h->retry_after_ms = (long)ms;
    }
    return len;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/*
 * Worth another attempt: connection errors and timeouts, 408, 429 and 5xx
 * (protocol §2.3, as the library itself retries), and 404/425 from a
 * deployment that is still swapping weights (protocol §3.9). A 200 whose
 * body is not JSON was cut short in transit and is retried too.
 */
static int transient(CURLcode cc, long status)
{
    if (cc != CURLE_OK)
        return cc != CURLE_URL_MALFORMAT && cc != CURLE_UNSUPPORTED_PROTOCOL && cc != CURLE_OUT_OF_MEMORY;
    return status == 404 || status == 425 || status == 408 || status == 429 || (status >= 500 && status <= 599);
}

#define RETRY_BUDGET_MS 120000
#define RETRY_BASE_MS 200
#define RETRY_CAP_MS 5000

/*
 * POST a completions request to the deployment; returns the parsed response
 * or NULL. The library has no completions call, so this is plain libcurl with
 * the library's retry rules: exponential backoff with full jitter, at least
 * what Retry-After / retry-after-ms ask for, within a total budget.
 */
static cJSON *completions(fwt_client *client, const char *model, const char *prompt, int max_tokens, int echo,
                          double temperature, int seed)
{
    const char *key = getenv("FIREWORKS_API_KEY");
    char url[1024], auth[600], xkey[600];
    snprintf(url, sizeof url, "%s/inference/v1/completions", fwt_client_base_url(client));
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", key ? key : "");
    snprintf(xkey, sizeof xkey, "X-Api-Key: %s", key ? key : "");
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "model", model);
    cJSON_AddStringToObject(req, "prompt", prompt);
    cJSON_AddNumberToObject(req, "max_tokens", max_tokens);
    cJSON_AddNumberToObject(req, "temperature", temperature);
    cJSON_AddNumberToObject(req, "seed", seed);
    cJSON_AddBoolToObject(req, "echo", echo);
    cJSON_AddNumberToObject(req, "logprobs", 1);
    char *body = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);

    CURL *h = curl_easy_init();
    struct curl_slist *hdr = NULL;
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    hdr = curl_slist_append(hdr, auth);
    hdr = curl_slist_append(hdr, xkey);
    buf out = {0};
    long status = 0;
    CURLcode cc = CURLE_OK;
    cJSON *res = NULL;
    unsigned jitter = (unsigned)now_ms() ^ (unsigned)getpid() ^ (unsigned)seed;
    int64_t start = now_ms();
    for (int attempt = 0; h && body; attempt++) {
        free(out.data);
        out.data = NULL;
        out.len = 0;
        status = 0;
        hint hi = {-1};
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &hi);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
        cc = curl_easy_perform(h);
        if (cc == CURLE_OK)
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (cc == CURLE_OK && status == 200) {
            res = out.data ? cJSON_Parse(out.data) : NULL;
            if (res)
                break;
        } else if (!transient(cc, status)) {
            break;
        }
        /* Full jitter over an exponential ceiling; the server's hint is a floor. */
        int64_t ceiling = RETRY_BASE_MS << (attempt < 5 ? attempt : 5);
        if (ceiling > RETRY_CAP_MS)
            ceiling = RETRY_CAP_MS;
        int64_t wait = (int64_t)(rand_r(&jitter) % (unsigned)(ceiling + 1));
        curl_off_t ra_s = -1;
        if (hi.retry_after_ms >= 0 && hi.retry_after_ms > wait)
            wait = hi.retry_after_ms;
        else if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &ra_s) == CURLE_OK && ra_s > 0 && ra_s * 1000 > wait)
            wait = ra_s * 1000;
        if (now_ms() + wait - start > RETRY_BUDGET_MS)
            break;
        sleep_ms(wait);
    }
    if (!res) {
        if (cc != CURLE_OK)
            fprintf(stderr, "weight_sync: completions failed: %s\n", curl_easy_strerror(cc));
        else
            fprintf(stderr, "weight_sync: completions HTTP %ld: %.300s\n", status, out.data ? out.data : "");
    }
    free(out.data);
    curl_slist_free_all(hdr);
    if (h)
        curl_easy_cleanup(h);
    cJSON_free(body);
    return res;
}

static const cJSON *choice0(const cJSON *res)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(res, "choices"), 0);
}

static double reward_of(const char *s)
{
    double r = 0;
    for (; *s; s++)
        r += strchr("aeiou", *s) != NULL;
    return r;
}

static int fail(const char *what)
{
    fprintf(stderr, "weight_sync: %s: %s\n", what, fwt_error_last()->message);
    return 1;
}

/* The deployment's prompt logprobs must equal the trainer's forward logprobs. */
static int check_weights(fwt_client *client, fwt_training *t, const char *model)
{
    size_t n = strlen(PROBE);
    int64_t tok[256], tgt[256];
    float w[256];
    for (size_t i = 0; i + 1 < n; i++) {
        tok[i] = (unsigned char)PROBE[i];
        tgt[i] = (unsigned char)PROBE[i + 1];
        w[i] = 1.0f;
    }
    fwt_batch *b = NULL;
    fwt_forward_output *fo = NULL;
    if (fwt_batch_new(&b) != FWT_OK || fwt_batch_add(b, tok, n - 1, tgt, n - 1, w, n - 1) != FWT_OK ||
        fwt_training_forward_result(&fo, t, b, FWT_LOSS_CROSS_ENTROPY, -1) != FWT_OK) {
        fwt_batch_free(b);
        return fail("forward failed");
    }
    fwt_batch_free(b);
    size_t nlp = 0;
    const float *lp = fwt_forward_output_logprobs(fo, 0, &nlp);
    cJSON *res = completions(client, model, PROBE, 0, 1, 0.0, 0);
    const cJSON *tl = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(choice0(res), "logprobs"),
                                                       "token_logprobs");
    int ok = lp && nlp == n - 1 && cJSON_GetArraySize(tl) >= (int)n;
    for (size_t i = 1; ok && i < n; i++) {
        const cJSON *v = cJSON_GetArrayItem(tl, (int)i);
        if (!cJSON_IsNumber(v) || (float)v->valuedouble != lp[i - 1]) {
            fprintf(stderr, "weight_sync: token %zu: deployment logprob %.9g, trainer %.9g\n", i,
                    cJSON_IsNumber(v) ? v->valuedouble : 0.0, (double)lp[i - 1]);
            ok = 0;
        }
    }
    cJSON_Delete(res);
    fwt_forward_output_free(fo);
    if (!ok)
        fprintf(stderr, "weight_sync: the deployment does not serve the trainer's weights\n");
    return ok ? 0 : 1;
}

/* One RL-style update from rollouts sampled on the deployment. Returns the mean reward in *mean. */
static int rl_step(fwt_client *client, fwt_training *t, const char *model, int step, double *mean)
{
    char *text[ROLLOUTS] = {0};
    double reward[ROLLOUTS];
    *mean = 0;
    for (int i = 0; i < ROLLOUTS; i++) {
        cJSON *res = completions(client, model, PROMPTS[i], MAX_NEW, 0, 1.0, step * ROLLOUTS + i);
        const cJSON *txt = cJSON_GetObjectItemCaseSensitive(choice0(res), "text");
        text[i] = strdup(cJSON_IsString(txt) ? txt->valuestring : "");
        cJSON_Delete(res);
        if (!res || !text[i]) {
            for (int k = 0; k <= i; k++)
                free(text[k]);
            fprintf(stderr, "weight_sync: rollout failed\n");
            return 1;
        }
        reward[i] = reward_of(text[i]);
        *mean += reward[i] / ROLLOUTS;
    }
    fwt_batch *b = NULL;
    int rc = fwt_batch_new(&b) == FWT_OK ? 0 : 1;
    for (int i = 0; rc == 0 && i < ROLLOUTS; i++) {
        /* prompt + sample; only the sampled bytes carry the advantage */
        char seq[256];
        snprintf(seq, sizeof seq, "%s%s", PROMPTS[i], text[i]);
        size_t n = strlen(seq), np = strlen(PROMPTS[i]);
        if (n < 2)
            continue;
        int64_t tok[256], tgt[256];
        float w[256];
        float adv = reward[i] > *mean ? (float)(reward[i] - *mean) : 0.0f;
        for (size_t k = 0; k + 1 < n; k++) {
            tok[k] = (unsigned char)seq[k];
            tgt[k] = (unsigned char)seq[k + 1];
            w[k] = k + 1 >= np ? adv : 0.0f;
        }
        if (fwt_batch_add(b, tok, n - 1, tgt, n - 1, w, n - 1) != FWT_OK)
            rc = fail("batch");
    }
    for (int i = 0; i < ROLLOUTS; i++)
        free(text[i]);
    fwt_forward_output *fo = NULL;
    fwt_metrics *m = NULL;
    fwt_adam_params adam;
    fwt_adam_params_init(&adam, FWT_ADAM_PARAMS_VERSION);
    adam.learning_rate = 1e-2;
    if (rc == 0 && fwt_training_forward_backward_result(&fo, t, b, FWT_LOSS_CROSS_ENTROPY, -1) != FWT_OK)
        rc = fail("forward_backward failed");
    if (rc == 0 && fwt_training_optim_step_result(&m, t, &adam, -1) != FWT_OK)
        rc = fail("optim_step failed");
    fwt_forward_output_free(fo);
    fwt_metrics_free(m);
    fwt_batch_free(b);
    return rc;
}

int main(int argc, char **argv)
{
    int steps = 4;
    char job_id[64], dep_id[64], suffix[9];
    const char *base_model = "accounts/fireworks/models/fwtrain-local-byte";
    snprintf(suffix, sizeof suffix, "%08x", (unsigned)time(NULL) ^ (unsigned)getpid() << 16);
    snprintf(job_id, sizeof job_id, "weight-sync-%s", suffix);
    snprintf(dep_id, sizeof dep_id, "weight-sync-dep-%s", suffix);
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--steps"))
            steps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--job-id"))
            snprintf(job_id, sizeof job_id, "%s", argv[i + 1]);
        else if (!strcmp(argv[i], "--deployment-id"))
            snprintf(dep_id, sizeof dep_id, "%s", argv[i + 1]);
        else if (!strcmp(argv[i], "--base-model"))
            base_model = argv[i + 1];
        else {
            fprintf(stderr, "usage: weight_sync [--steps N] [--job-id ID] [--deployment-id ID] [--base-model M]\n");
            return 2;
        }
    }
    if (argc % 2 == 0 || steps < 1) {
        fprintf(stderr, "usage: weight_sync [--steps N] [--job-id ID] [--deployment-id ID] [--base-model M]\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = 1;
    fwt_client *client = NULL;
    fwt_job *job = NULL;
    fwt_training *t = NULL;
    fwt_deployment *dep = NULL;
    fwt_weight_syncer *sync = NULL;
    const char *account = NULL;
    char model[256];
    if (fwt_client_new(&client, NULL) != FWT_OK || fwt_client_account_id(&account, client) != FWT_OK) {
        rc = fail("cannot reach the API (set FIREWORKS_API_KEY and FIREWORKS_BASE_URL)");
        goto out;
    }
    /* Trainer job → training session → model. */
    fwt_job_create_options jo;
    fwt_job_create_options_init(&jo, FWT_JOB_CREATE_OPTIONS_VERSION);
    jo.job_id = job_id;
    jo.base_model = base_model;
    fwt_job *created = NULL;
    if (fwt_job_create(&created, client, &jo) != FWT_OK) {
        rc = fail("cannot create the trainer job");
        goto out;
    }
    fwt_job_wait_options wo;
    fwt_job_wait_options_init(&wo, FWT_JOB_WAIT_OPTIONS_VERSION);
    int wrc = fwt_job_wait_ready_result(&job, client, fwt_job_id(created), &wo, -1);
    fwt_job_free(created);
    if (wrc != FWT_OK) {
        rc = fail("trainer not ready");
        goto out;
    }
    if (fwt_job_open_training(&t, client, job, NULL) != FWT_OK || fwt_training_create_model_result(t, -1) != FWT_OK) {
        rc = fail("cannot open the training session");
        goto out;
    }
    /* A deployment attached to this trainer (PER_TRAINER hotload scope). */
    fwt_deployment_create_options dopts;
    fwt_deployment_create_options_init(&dopts, FWT_DEPLOYMENT_CREATE_OPTIONS_VERSION);
    dopts.base_model = base_model;
    dopts.hot_load_trainer_job = fwt_job_id(job);
    dopts.min_replica_count = 1;
    if (fwt_deployment_create(&dep, client, dep_id, &dopts) != FWT_OK) {
        rc = fail("cannot create the deployment");
        goto out;
    }
    snprintf(model, sizeof model, "accounts/%s/deployments/%s", account, fwt_deployment_id(dep));
    fwt_weight_syncer_options so;
    fwt_weight_syncer_options_init(&so, FWT_WEIGHT_SYNCER_OPTIONS_VERSION);
    so.deployment_id = fwt_deployment_id(dep);
    so.base_model = base_model;
    /* Not a poll: a failed warmup probe is tried again after a fixed gap (10 s by default, the service's pace);
     * a local server answers at once, so retry sooner. */
    so.warmup.retry_interval_ms = 200;
    if (fwt_weight_syncer_new(&sync, client, t, &so) != FWT_OK) {
        rc = fail("cannot create the weight syncer");
        goto out;
    }
    /* The deployment serves nothing until the first hotload: push the initial weights. */
    char *snap = NULL;
    if (fwt_weight_syncer_save_and_hotload(&snap, sync, "step-00000", FWT_SAMPLER_AUTO) != FWT_OK) {
        rc = fail("initial hotload failed");
        goto out;
    }
    fwt_free(snap);
    if (check_weights(client, t, model) != 0)
        goto out;
    for (int step = 1; step <= steps; step++) {
        double mean = 0;
        if (rl_step(client, t, model, step, &mean) != 0)
            goto out;
        char name[32];
        snprintf(name, sizeof name, "step-%05d", step);
        fwt_sync_timing tm;
        tm.version = FWT_SYNC_TIMING_VERSION;
        snap = NULL;
        if (fwt_weight_syncer_save_and_hotload(&snap, sync, name, FWT_SAMPLER_AUTO) != FWT_OK) {
            rc = fail("save_and_hotload failed");
            goto out;
        }
        fwt_weight_syncer_last_timing(sync, &tm);
        if (check_weights(client, t, model) != 0) {
            fwt_free(snap);
            goto out;
        }
        printf("step=%d reward=%.3f snapshot=%s type=%s check=ok (save %" PRId64 " ms, hotload %" PRId64 " ms)\n", step,
               mean, snap, fwt_sampler_type_name((fwt_sampler_type)tm.type), tm.save_ms, tm.hotload_ms);
        fflush(stdout);
        fwt_free(snap);
    }
    rc = 0;
out:
    fwt_weight_syncer_free(sync);
    if (dep && fwt_deployment_delete_result(client, fwt_deployment_id(dep), NULL, -1) != FWT_OK)
        fprintf(stderr, "weight_sync: warning: could not delete deployment %s\n", fwt_deployment_id(dep));
    fwt_deployment_free(dep);
    fwt_training_free(t);
    if (job && fwt_job_delete_result(client, fwt_job_id(job), -1) != FWT_OK)
        fprintf(stderr, "weight_sync: warning: could not delete job %s\n", fwt_job_id(job));
    fwt_job_free(job);
    fwt_client_free(client);
    curl_global_cleanup();
    return rc;
}
