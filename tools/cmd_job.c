/*
 * fwtrain job create | get | list | wait | resume | delete: the trainer job's
 * lifecycle on the control plane (docs/protocol.md §3.1–§3.4).
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

static const char JOB_USAGE[] =
    "Usage: fwtrain job create --base-model M [--job-id ID] [create options] [--wait [wait options]] [--json]\n"
    "       fwtrain job get JOB [--json]\n"
    "       fwtrain job list [--json]\n"
    "       fwtrain job wait JOB [wait options] [--json]\n"
    "       fwtrain job resume JOB [--wait [wait options]] [--json]\n"
    "       fwtrain job delete JOB\n"
    "\n"
    "  create    create a trainer job (an existing job with the same --job-id is returned as is; a\n"
    "            deleted id cannot be reused) and print it\n"
    "  get       print the job: id, name, state, status message, base model, LoRA rank, trainer URL\n"
    "  list      list the account's jobs, deleted ones included. Columns: id, state, base model, created\n"
    "  wait      wait until the job is RUNNING and its trainer answers, then print it\n"
    "  resume    resume a FAILED, CANCELLED, PAUSED or COMPLETED job\n"
    "  delete    delete the job (a soft delete: its checkpoints stay listable and promotable)\n"
    "\n"
    "JOB is a job id (the last segment of accounts/<a>/rlorTrainerJobs/<id>); --job-id JOB works too.\n"
    "\n"
    "Create options:\n"
    "  --base-model M            base model, e.g. accounts/fireworks/models/qwen3-8b (required)\n"
    "  --job-id ID               the job's id (default: training-api-service-<8 hex>)\n"
    "  --display-name NAME       display name (fewer than 64 characters)\n"
    "  --lora-rank N             LoRA rank (default 0: full-parameter training)\n"
    "  --max-context-length N    longest sequence (default: the server's)\n"
    "  --learning-rate X         learning rate (default 1e-5)\n"
    "  --training-shape SHAPE    accounts/x/trainingShapes/s[/versions/v]: the shape fixes the hardware\n"
    "                            and context, so it excludes --auto-shape, --max-context-length and\n"
    "                            the three manual placement options\n"
    "  --auto-shape              let the service pick the hardware (excludes the manual options)\n"
    "  --accelerator-type T      manual placement (the default path), e.g. NVIDIA_H200_141GB\n"
    "  --accelerator-count N     accelerators per node (manual placement)\n"
    "  --node-count N            nodes (manual placement; default 1)\n"
    "  --region R                placement region (default: the server's choice)\n"
    "\n"
    "Wait options (job wait; create and resume with --wait):\n"
    "  --wait                    after create or resume, wait until the job is ready\n"
    "  --wait-timeout SECONDS    give up once the job left PENDING and is not ready after this long\n"
    "                            (default 3600)\n"
    "  --pending-timeout SECONDS give up after this long in the capacity queue (default 172800: 48 h)\n"
    "  --poll-interval-ms MS     longest gap between polls (default 5000; polling starts at about\n"
    "                            100 ms and backs off to it)\n"
    "\n"
    "  --json                    print the job (or, for list, an array of jobs) as JSON\n"
    "  -h, --help                show this help\n"
    "\n"
    "On a terminal, waits show one live line with the stage and the elapsed time; otherwise one line\n"
    "per stage on stderr. Needs FIREWORKS_API_KEY; FIREWORKS_BASE_URL is honored.\n"
    "Exit codes: 0 ok, 1 failed (also: not found, not ready in time), 2 usage, 4 key refused.\n";

enum { SUB_CREATE, SUB_GET, SUB_LIST, SUB_WAIT, SUB_RESUME, SUB_DELETE };
static const char *const SUBS[] = {"create", "get", "list", "wait", "resume", "delete", NULL};

#define S(x) (1u << (x))
#define WAITERS (S(SUB_CREATE) | S(SUB_WAIT) | S(SUB_RESUME))
enum {
    O_BASE_MODEL, O_JOB_ID, O_DISPLAY_NAME, O_LORA_RANK, O_MAX_CONTEXT, O_LR, O_SHAPE, O_ACC_TYPE, O_ACC_COUNT,
    O_NODE_COUNT, O_REGION, O_AUTO_SHAPE, O_WAIT, O_WAIT_TIMEOUT, O_PENDING_TIMEOUT, O_POLL, O_JSON, O_COUNT
};
static const cli_opt OPTS[O_COUNT] = {
    [O_BASE_MODEL] = {"base-model", 1, S(SUB_CREATE)},
    [O_JOB_ID] = {"job-id", 1, S(SUB_CREATE) | S(SUB_GET) | S(SUB_WAIT) | S(SUB_RESUME) | S(SUB_DELETE)},
    [O_DISPLAY_NAME] = {"display-name", 1, S(SUB_CREATE)},
    [O_LORA_RANK] = {"lora-rank", 1, S(SUB_CREATE)},
    [O_MAX_CONTEXT] = {"max-context-length", 1, S(SUB_CREATE)},
    [O_LR] = {"learning-rate", 1, S(SUB_CREATE)},
    [O_SHAPE] = {"training-shape", 1, S(SUB_CREATE)},
    [O_ACC_TYPE] = {"accelerator-type", 1, S(SUB_CREATE)},
    [O_ACC_COUNT] = {"accelerator-count", 1, S(SUB_CREATE)},
    [O_NODE_COUNT] = {"node-count", 1, S(SUB_CREATE)},
    [O_REGION] = {"region", 1, S(SUB_CREATE)},
    [O_AUTO_SHAPE] = {"auto-shape", 0, S(SUB_CREATE)},
    [O_WAIT] = {"wait", 0, S(SUB_CREATE) | S(SUB_RESUME)},
    [O_WAIT_TIMEOUT] = {"wait-timeout", 1, WAITERS},
    [O_PENDING_TIMEOUT] = {"pending-timeout", 1, WAITERS},
    [O_POLL] = {"poll-interval-ms", 1, WAITERS},
    [O_JSON] = {"json", 0, S(SUB_CREATE) | S(SUB_GET) | S(SUB_LIST) | S(SUB_WAIT) | S(SUB_RESUME)},
};

static int print_job(const fwt_job *j, int json)
{
    if (json)
        return cli_print_json(cli_job_json(j));
    cli_print_job(j);
    return CLI_EXIT_OK;
}

/*
 * Wait options from the command line, reporting to `p` (NULL: only check the values);
 * prints the error and returns CLI_EXIT_USAGE on bad values.
 */
static int wait_options(const cli_sub_args *a, fwt_job_wait_options *w, cli_progress *p)
{
    fwt_job_wait_options_init(w, FWT_JOB_WAIT_OPTIONS_VERSION);
    w->wait.progress = p ? cli_progress_fn : NULL;
    w->wait.progress_payload = p;
    int64_t v;
    if (a->values[O_WAIT_TIMEOUT]) {
        if (cli_parse_seconds("--wait-timeout", a->values[O_WAIT_TIMEOUT], &v) != 0)
            return CLI_EXIT_USAGE;
        w->wait.timeout_ms = v;
    }
    if (a->values[O_PENDING_TIMEOUT]) {
        if (cli_parse_seconds("--pending-timeout", a->values[O_PENDING_TIMEOUT], &v) != 0)
            return CLI_EXIT_USAGE;
        w->pending_timeout_ms = v;
    }
    if (a->values[O_POLL]) {
        if (cli_parse_count(a->values[O_POLL], &v) != 0 || v == 0) {
            cli_error("--poll-interval-ms needs a positive integer, got '%s'", a->values[O_POLL]);
            return CLI_EXIT_USAGE;
        }
        w->wait.poll_interval_ms = v;
    }
    return CLI_EXIT_OK;
}

/* Wait until the job is ready, showing progress, and print it. */
static int wait_and_print(fwt_client *client, const cli_sub_args *a, const char *job_id)
{
    cli_progress p;
    char what[128];
    snprintf(what, sizeof what, "job %s", job_id);
    cli_progress_init(&p, what);
    fwt_job_wait_options w;
    int ex = wait_options(a, &w, &p);
    fwt_future *f = NULL;
    fwt_job *job = NULL;
    if (ex == CLI_EXIT_OK) {
        int rc = fwt_job_wait_ready(&f, client, job_id, &w);
        if (rc != FWT_OK) {
            ex = cli_fail("cannot wait for the job", rc, fwt_error_last());
        } else {
            (void)cli_progress_wait(&p, f);
            rc = fwt_future_status(f);
            if (rc == FWT_OK)
                rc = fwt_future_take_job(&job, f);
            ex = rc == FWT_OK ? print_job(job, a->values[O_JSON] != NULL)
                              : cli_fail("the job did not become ready", rc,
                                         fwt_future_error(f) ? fwt_future_error(f) : fwt_error_last());
        }
    }
    fwt_job_free(job);
    fwt_future_free(f); /* after the wait: the progress callback runs no more */
    cli_progress_destroy(&p);
    return ex;
}

static int create_options(const cli_sub_args *a, fwt_job_create_options *o)
{
    fwt_job_create_options_init(o, FWT_JOB_CREATE_OPTIONS_VERSION);
    o->base_model = a->values[O_BASE_MODEL];
    if (!o->base_model || !*o->base_model) {
        cli_error("job create needs --base-model M (e.g. accounts/fireworks/models/qwen3-8b)");
        return CLI_EXIT_USAGE;
    }
    if (a->npositional > 1) {
        cli_error("unexpected argument '%s' (job create takes --job-id ID)", a->positional[1]);
        return CLI_EXIT_USAGE;
    }
    o->job_id = a->values[O_JOB_ID];
    o->display_name = a->values[O_DISPLAY_NAME];
    o->training_shape = a->values[O_SHAPE];
    o->accelerator_type = a->values[O_ACC_TYPE];
    o->region = a->values[O_REGION];
    if ((a->values[O_LORA_RANK] && cli_parse_int32("--lora-rank", a->values[O_LORA_RANK], 0, 1024, &o->lora_rank)) ||
        (a->values[O_MAX_CONTEXT] &&
         cli_parse_int32("--max-context-length", a->values[O_MAX_CONTEXT], 1, INT32_MAX, &o->max_context_length)) ||
        (a->values[O_ACC_COUNT] &&
         cli_parse_int32("--accelerator-count", a->values[O_ACC_COUNT], 1, 1024, &o->accelerator_count)) ||
        (a->values[O_NODE_COUNT] && cli_parse_int32("--node-count", a->values[O_NODE_COUNT], 1, 4096, &o->node_count)))
        return CLI_EXIT_USAGE;
    if (a->values[O_LR]) {
        char *end = NULL;
        double lr = strtod(a->values[O_LR], &end);
        if (!*a->values[O_LR] || *end || !(lr > 0) || lr > 1) {
            cli_error("--learning-rate needs a number above 0 and at most 1, got '%s'", a->values[O_LR]);
            return CLI_EXIT_USAGE;
        }
        o->learning_rate = lr;
    }
    o->auto_shape = a->values[O_AUTO_SHAPE] != NULL;
    /* The library refuses these mixes too; saying so here names the options rather than the fields. */
    if (o->training_shape && (o->auto_shape || o->max_context_length || o->accelerator_type ||
                              o->accelerator_count || o->node_count)) {
        cli_error("--training-shape excludes --auto-shape, --max-context-length, --accelerator-type, "
                  "--accelerator-count and --node-count");
        return CLI_EXIT_USAGE;
    }
    if (o->auto_shape && (o->accelerator_type || o->accelerator_count || o->node_count)) {
        cli_error("--auto-shape excludes --accelerator-type, --accelerator-count and --node-count");
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

static int cmd_create(fwt_client *client, const cli_sub_args *a, const fwt_job_create_options *o)
{
    fwt_job *job = NULL;
    int rc = fwt_job_create(&job, client, o);
    if (rc != FWT_OK)
        return cli_fail("cannot create the job", rc, fwt_error_last());
    int ex;
    if (a->values[O_WAIT]) {
        cli_note("created job %s (%s)", fwt_job_id(job), fwt_job_state(job));
        ex = wait_and_print(client, a, fwt_job_id(job));
    } else {
        ex = print_job(job, a->values[O_JSON] != NULL);
    }
    fwt_job_free(job);
    return ex;
}

static int cmd_list(fwt_client *client, const cli_sub_args *a)
{
    if (a->npositional > 1) {
        cli_error("unexpected argument '%s' (job list takes no JOB)", a->positional[1]);
        return CLI_EXIT_USAGE;
    }
    fwt_job_list *l = NULL;
    int rc = fwt_job_list_all(&l, client, NULL);
    if (rc != FWT_OK)
        return cli_fail("cannot list the jobs", rc, fwt_error_last());
    int ex = CLI_EXIT_OK;
    if (a->values[O_JSON]) {
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; arr && i < fwt_job_list_count(l); i++) {
            cJSON *o = cli_job_json(fwt_job_list_get(l, i));
            if (!o || !cJSON_AddItemToArray(arr, o)) {
                cJSON_Delete(o);
                cJSON_Delete(arr);
                arr = NULL;
            }
        }
        ex = cli_print_json(arr);
    } else if (fwt_job_list_count(l) == 0) {
        cli_note("the account has no trainer jobs");
    } else {
        printf("%-32s  %-24s  %-44s  %s\n", "JOB", "STATE", "BASE MODEL", "CREATED");
        for (size_t i = 0; i < fwt_job_list_count(l); i++) {
            const fwt_job *j = fwt_job_list_get(l, i);
            printf("%-32s  %-24s  %-44s  %s\n", fwt_job_id(j), fwt_job_state(j), fwt_job_base_model(j),
                   fwt_job_create_time(j));
        }
    }
    fwt_job_list_free(l);
    return ex;
}

static int cmd_with_id(fwt_client *client, const cli_sub_args *a, const char *job_id)
{
    int rc;
    fwt_job *job = NULL;
    int ex = CLI_EXIT_OK;
    switch (a->sub) {
    case SUB_GET:
        rc = fwt_job_get(&job, client, job_id);
        ex = rc == FWT_OK ? print_job(job, a->values[O_JSON] != NULL) : cli_fail("cannot get the job", rc, fwt_error_last());
        fwt_job_free(job);
        return ex;
    case SUB_WAIT: return wait_and_print(client, a, job_id);
    case SUB_RESUME:
        rc = fwt_job_resume(client, job_id);
        if (rc != FWT_OK)
            return cli_fail("cannot resume the job", rc, fwt_error_last());
        if (a->values[O_WAIT]) {
            cli_note("resumed job %s", job_id);
            return wait_and_print(client, a, job_id);
        }
        /* Print the job as the server now has it, as create does. */
        rc = fwt_job_get(&job, client, job_id);
        ex = rc == FWT_OK ? print_job(job, a->values[O_JSON] != NULL)
                          : cli_fail("resumed, but cannot get the job", rc, fwt_error_last());
        fwt_job_free(job);
        return ex;
    default: /* SUB_DELETE */
        rc = fwt_job_delete_result(client, job_id, 0);
        if (rc != FWT_OK)
            return cli_fail("cannot delete the job", rc, fwt_error_last());
        cli_note("deleted job %s (its checkpoints stay listable and promotable during retention)", job_id);
        return CLI_EXIT_OK;
    }
}

int cli_cmd_job(int argc, char **argv)
{
    cli_sub_args a;
    int ex = cli_parse_sub(&a, argc, argv, "job", SUBS, OPTS, O_COUNT, JOB_USAGE);
    if (ex == -1)
        return CLI_EXIT_OK;
    if (ex != CLI_EXIT_OK)
        return ex;
    if (!a.values[O_WAIT] && (a.sub == SUB_CREATE || a.sub == SUB_RESUME) &&
        (a.values[O_WAIT_TIMEOUT] || a.values[O_PENDING_TIMEOUT] || a.values[O_POLL])) {
        cli_error("--wait-timeout, --pending-timeout and --poll-interval-ms go with --wait");
        return CLI_EXIT_USAGE;
    }
    const char *job_id = NULL;
    fwt_job_create_options co;
    fwt_job_wait_options wo;
    /* Check every argument before the first request. */
    if (a.sub == SUB_CREATE)
        ex = create_options(&a, &co);
    else if (a.sub != SUB_LIST)
        ex = cli_one_id(&a, "job", "JOB", a.values[O_JOB_ID], &job_id);
    if (ex == CLI_EXIT_OK)
        ex = wait_options(&a, &wo, NULL);
    if (ex != CLI_EXIT_OK)
        return ex;
    fwt_client *client = NULL;
    ex = cli_client(&client);
    if (ex != CLI_EXIT_OK)
        return ex;
    if (a.sub == SUB_CREATE)
        ex = cmd_create(client, &a, &co);
    else if (a.sub == SUB_LIST)
        ex = cmd_list(client, &a);
    else
        ex = cmd_with_id(client, &a, job_id);
    fwt_client_free(client);
    return ex;
}
