/*
 * fwtrain deployment create | get | delete | reattach | hotload | status: a serving
 * deployment and the snapshots hotloaded into it (docs/protocol.md §3.7–§3.9).
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char DEPLOYMENT_USAGE[] =
    "Usage: fwtrain deployment create DEP --base-model M [create options] [--wait [wait options]] [--json]\n"
    "       fwtrain deployment get DEP [--json]\n"
    "       fwtrain deployment delete DEP [wait options]\n"
    "       fwtrain deployment reattach DEP --job-id JOB [--json]\n"
    "       fwtrain deployment hotload DEP --identity SNAPSHOT [--previous-identity SNAPSHOT]\n"
    "                                  [--base-model M] [--no-wait] [wait options] [--json]\n"
    "       fwtrain deployment status DEP [--base-model M] [--json]\n"
    "\n"
    "  create    get the deployment, or create it if it does not exist, and print it\n"
    "  get       print the deployment: id, name, state, base model, trainer job it loads from\n"
    "  delete    delete the deployment and wait until it is gone (one already gone is fine)\n"
    "  reattach  attach the deployment to another trainer job; the serving pod restarts and the\n"
    "            loaded snapshot is dropped, so the next hotload must be a full one\n"
    "  hotload   load a sampler snapshot of the attached trainer and wait until replica 0 serves it\n"
    "            (waits first for the hotload manager: a load sent earlier can crash the server)\n"
    "  status    print the hotload status of each replica: identity, readiness, stage, target\n"
    "\n"
    "DEP is a deployment id (the last segment of accounts/<a>/deployments/<id>).\n"
    "\n"
    "Create options:\n"
    "  --base-model M            base model (required by create; hotload and status default to the\n"
    "                            deployment's)\n"
    "  --trainer-job JOB         the trainer job whose snapshots it hotloads\n"
    "  --deployment-shape SHAPE  versioned deployment shape (default: --accelerator-type)\n"
    "  --accelerator-type T      accelerator without a shape (default NVIDIA_H200_141GB)\n"
    "  --region R                placement region\n"
    "  --min-replicas N          fewest replicas (default 0)\n"
    "  --max-replicas N          most replicas (default 1)\n"
    "  --description TEXT        description (default \"Fireworks training deployment\")\n"
    "\n"
    "Hotload options:\n"
    "  --identity SNAPSHOT       the snapshot to load: a sampler checkpoint name of the trainer\n"
    "  --previous-identity SNAPSHOT\n"
    "                            load SNAPSHOT as a delta on top of this one (the identity the\n"
    "                            deployment holds); without it the load is a full one\n"
    "  --no-wait                 return once the server accepted the load\n"
    "\n"
    "Wait options (create with --wait, delete, hotload):\n"
    "  --wait                    after create, wait until the deployment is READY\n"
    "  --wait-timeout SECONDS    give up after this long (defaults: READY 600, delete 60, hotload 400)\n"
    "  --poll-interval-ms MS     longest gap between polls (defaults: READY 15000, delete 2000,\n"
    "                            hotload 5000)\n"
    "\n"
    "  --job-id JOB              reattach: the trainer job to attach to\n"
    "  --json                    print the deployment (status, hotload: the hotload status) as JSON\n"
    "  -h, --help                show this help\n"
    "\n"
    "On a terminal, waits show one live line with the stage and the elapsed time; otherwise one line\n"
    "per stage on stderr. Needs FIREWORKS_API_KEY; FIREWORKS_BASE_URL is honored.\n"
    "Exit codes: 0 ok, 1 failed (also: not found, not done in time), 2 usage, 4 key refused.\n";

enum { SUB_CREATE, SUB_GET, SUB_DELETE, SUB_REATTACH, SUB_HOTLOAD, SUB_STATUS };
static const char *const SUBS[] = {"create", "get", "delete", "reattach", "hotload", "status", NULL};

#define S(x) (1u << (x))
enum {
    O_BASE_MODEL, O_TRAINER_JOB, O_SHAPE, O_ACC_TYPE, O_REGION, O_MIN_REPLICAS, O_MAX_REPLICAS, O_DESCRIPTION,
    O_IDENTITY, O_PREVIOUS, O_NO_WAIT, O_WAIT, O_WAIT_TIMEOUT, O_POLL, O_JOB_ID, O_JSON, O_COUNT
};
static const cli_opt OPTS[O_COUNT] = {
    [O_BASE_MODEL] = {"base-model", 1, S(SUB_CREATE) | S(SUB_HOTLOAD) | S(SUB_STATUS)},
    [O_TRAINER_JOB] = {"trainer-job", 1, S(SUB_CREATE)},
    [O_SHAPE] = {"deployment-shape", 1, S(SUB_CREATE)},
    [O_ACC_TYPE] = {"accelerator-type", 1, S(SUB_CREATE)},
    [O_REGION] = {"region", 1, S(SUB_CREATE)},
    [O_MIN_REPLICAS] = {"min-replicas", 1, S(SUB_CREATE)},
    [O_MAX_REPLICAS] = {"max-replicas", 1, S(SUB_CREATE)},
    [O_DESCRIPTION] = {"description", 1, S(SUB_CREATE)},
    [O_IDENTITY] = {"identity", 1, S(SUB_HOTLOAD)},
    [O_PREVIOUS] = {"previous-identity", 1, S(SUB_HOTLOAD)},
    [O_NO_WAIT] = {"no-wait", 0, S(SUB_HOTLOAD)},
    [O_WAIT] = {"wait", 0, S(SUB_CREATE)},
    [O_WAIT_TIMEOUT] = {"wait-timeout", 1, S(SUB_CREATE) | S(SUB_DELETE) | S(SUB_HOTLOAD)},
    [O_POLL] = {"poll-interval-ms", 1, S(SUB_CREATE) | S(SUB_DELETE) | S(SUB_HOTLOAD)},
    [O_JOB_ID] = {"job-id", 1, S(SUB_REATTACH)},
    [O_JSON] = {"json", 0, S(SUB_CREATE) | S(SUB_GET) | S(SUB_REATTACH) | S(SUB_HOTLOAD) | S(SUB_STATUS)},
};

typedef struct dep_ctx {
    const cli_sub_args *a;
    fwt_client *client;
    const char *dep;
    int json;
} dep_ctx;

static int print_deployment(const fwt_deployment *d, int json)
{
    if (json)
        return cli_print_json(cli_deployment_json(d));
    cli_print_deployment(d);
    return CLI_EXIT_OK;
}

static int print_status(const fwt_hotload_status *s, int json)
{
    if (json)
        return cli_print_json(cli_hotload_status_json(s));
    cli_print_hotload_status(s);
    return CLI_EXIT_OK;
}

/* --wait-timeout / --poll-interval-ms into `w`, reporting to `p` (NULL: only check). */
static int wait_options(const cli_sub_args *a, fwt_wait_options *w, cli_progress *p)
{
    fwt_wait_options_init(w, FWT_WAIT_OPTIONS_VERSION);
    w->progress = p ? cli_progress_fn : NULL;
    w->progress_payload = p;
    int64_t v;
    if (a->values[O_WAIT_TIMEOUT]) {
        if (cli_parse_seconds("--wait-timeout", a->values[O_WAIT_TIMEOUT], &v) != 0)
            return CLI_EXIT_USAGE;
        w->timeout_ms = v;
    }
    if (a->values[O_POLL]) {
        if (cli_parse_count(a->values[O_POLL], &v) != 0 || v == 0) {
            cli_error("--poll-interval-ms needs a positive integer, got '%s'", a->values[O_POLL]);
            return CLI_EXIT_USAGE;
        }
        w->poll_interval_ms = v;
    }
    return CLI_EXIT_OK;
}

/* Wait on a started future with the progress line; returns its status (FWT_OK or the failure). */
static int wait_future(fwt_future *f, cli_progress *p)
{
    (void)cli_progress_wait(p, f);
    return fwt_future_status(f);
}

static int create_options(const cli_sub_args *a, fwt_deployment_create_options *o)
{
    fwt_deployment_create_options_init(o, FWT_DEPLOYMENT_CREATE_OPTIONS_VERSION);
    o->base_model = a->values[O_BASE_MODEL];
    if (!o->base_model || !*o->base_model) {
        cli_error("deployment create needs --base-model M (e.g. accounts/fireworks/models/qwen3-8b)");
        return CLI_EXIT_USAGE;
    }
    o->hot_load_trainer_job = a->values[O_TRAINER_JOB];
    o->deployment_shape = a->values[O_SHAPE];
    o->accelerator_type = a->values[O_ACC_TYPE];
    o->region = a->values[O_REGION];
    o->description = a->values[O_DESCRIPTION];
    if ((a->values[O_MIN_REPLICAS] &&
         cli_parse_int32("--min-replicas", a->values[O_MIN_REPLICAS], 0, 1000, &o->min_replica_count)) ||
        (a->values[O_MAX_REPLICAS] &&
         cli_parse_int32("--max-replicas", a->values[O_MAX_REPLICAS], 1, 1000, &o->max_replica_count)))
        return CLI_EXIT_USAGE;
    if (a->values[O_MAX_REPLICAS] && o->min_replica_count > o->max_replica_count) {
        cli_error("--min-replicas (%d) is above --max-replicas (%d)", (int)o->min_replica_count,
                  (int)o->max_replica_count);
        return CLI_EXIT_USAGE;
    }
    if (o->deployment_shape && o->accelerator_type) {
        cli_error("--deployment-shape excludes --accelerator-type");
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

static int cmd_create(const dep_ctx *c, const fwt_deployment_create_options *o)
{
    fwt_deployment *d = NULL;
    int rc = fwt_deployment_create(&d, c->client, c->dep, o);
    if (rc != FWT_OK)
        return cli_fail("cannot create the deployment", rc, fwt_error_last());
    if (!c->a->values[O_WAIT]) {
        int ex = print_deployment(d, c->json);
        fwt_deployment_free(d);
        return ex;
    }
    cli_note("deployment %s is %s", c->dep, fwt_deployment_state(d));
    fwt_deployment_free(d);
    d = NULL;
    char what[160];
    snprintf(what, sizeof what, "deployment %s", c->dep);
    cli_progress p;
    cli_progress_init(&p, what);
    fwt_wait_options w;
    (void)wait_options(c->a, &w, &p); /* checked before */
    fwt_future *f = NULL;
    int ex;
    rc = fwt_deployment_wait_ready(&f, c->client, c->dep, &w);
    if (rc == FWT_OK && (rc = wait_future(f, &p)) == FWT_OK)
        rc = fwt_future_take_deployment(&d, f);
    if (rc == FWT_OK)
        ex = print_deployment(d, c->json);
    else
        ex = cli_fail("the deployment did not become ready", rc,
                      f && fwt_future_error(f) ? fwt_future_error(f) : fwt_error_last());
    fwt_deployment_free(d);
    fwt_future_free(f);
    cli_progress_destroy(&p);
    return ex;
}

static int cmd_delete(const dep_ctx *c)
{
    char what[160];
    snprintf(what, sizeof what, "deleting deployment %s", c->dep);
    cli_progress p;
    cli_progress_init(&p, what);
    fwt_wait_options w;
    (void)wait_options(c->a, &w, &p);
    fwt_future *f = NULL;
    int rc = fwt_deployment_delete(&f, c->client, c->dep, &w);
    if (rc == FWT_OK)
        rc = wait_future(f, &p);
    int ex = rc == FWT_OK ? CLI_EXIT_OK
                          : cli_fail("cannot delete the deployment", rc,
                                     f && fwt_future_error(f) ? fwt_future_error(f) : fwt_error_last());
    if (rc == FWT_OK)
        cli_note("deleted deployment %s", c->dep);
    fwt_future_free(f);
    cli_progress_destroy(&p);
    return ex;
}

/* The base model hotload requests name: --base-model, else the deployment's own (one GET). */
static int base_model_of(const dep_ctx *c, char **out)
{
    if (c->a->values[O_BASE_MODEL]) {
        *out = strdup(c->a->values[O_BASE_MODEL]);
    } else {
        fwt_deployment *d = NULL;
        int rc = fwt_deployment_get(&d, c->client, c->dep);
        if (rc != FWT_OK)
            return cli_fail("cannot get the deployment", rc, fwt_error_last());
        if (!*fwt_deployment_base_model(d)) {
            fwt_deployment_free(d);
            cli_error("deployment %s names no base model: pass --base-model", c->dep);
            return CLI_EXIT_USAGE;
        }
        *out = strdup(fwt_deployment_base_model(d));
        fwt_deployment_free(d);
    }
    if (!*out) {
        cli_error("out of memory");
        return CLI_EXIT_FAILED;
    }
    return CLI_EXIT_OK;
}

static int cmd_status(const dep_ctx *c)
{
    char *base = NULL;
    int ex = base_model_of(c, &base);
    if (ex != CLI_EXIT_OK)
        return ex;
    fwt_hotload_status *s = NULL;
    int rc = fwt_deployment_hotload_status(&s, c->client, c->dep, base);
    ex = rc == FWT_OK ? print_status(s, c->json) : cli_fail("cannot get the hotload status", rc, fwt_error_last());
    fwt_hotload_status_free(s);
    free(base);
    return ex;
}

/* The gate, the load, the wait for the identity: each a step with its own progress. */
static int cmd_hotload(const dep_ctx *c)
{
    const char *identity = c->a->values[O_IDENTITY];
    char *base = NULL;
    int ex = base_model_of(c, &base);
    if (ex != CLI_EXIT_OK)
        return ex;
    char what[320];
    cli_progress p;
    fwt_wait_options w;
    fwt_future *f = NULL;
    fwt_hotload_status *s = NULL;
    /* docs/protocol.md §3.9: a load sent before the hotload manager is up can crash the serving container. */
    snprintf(what, sizeof what, "deployment %s: hotload manager", c->dep);
    cli_progress_init(&p, what);
    (void)wait_options(c->a, &w, &p);
    int rc = fwt_deployment_wait_hotload_ready(&f, c->client, c->dep, base, &w);
    if (rc == FWT_OK)
        rc = wait_future(f, &p);
    if (rc != FWT_OK)
        ex = cli_fail("the deployment's hotload manager is not up", rc,
                      f && fwt_future_error(f) ? fwt_future_error(f) : fwt_error_last());
    fwt_future_free(f);
    f = NULL;
    cli_progress_destroy(&p);
    if (rc == FWT_OK) {
        fwt_hotload_options ho;
        fwt_hotload_options_init(&ho, FWT_HOTLOAD_OPTIONS_VERSION);
        ho.previous_snapshot_identity = c->a->values[O_PREVIOUS];
        rc = fwt_deployment_hotload(c->client, c->dep, base, identity, &ho);
        if (rc != FWT_OK)
            ex = cli_fail("the hotload was refused", rc, fwt_error_last());
        else
            cli_note("deployment %s accepted %s load of %s", c->dep, ho.previous_snapshot_identity ? "a delta" : "a full",
                     identity);
    }
    if (rc == FWT_OK && c->a->values[O_NO_WAIT]) {
        rc = fwt_deployment_hotload_status(&s, c->client, c->dep, base);
        ex = rc == FWT_OK ? print_status(s, c->json) : cli_fail("cannot get the hotload status", rc, fwt_error_last());
    } else if (rc == FWT_OK) {
        snprintf(what, sizeof what, "deployment %s: loading %s", c->dep, identity);
        cli_progress_init(&p, what);
        (void)wait_options(c->a, &w, &p);
        rc = fwt_deployment_wait_hotload(&f, c->client, c->dep, base, identity, &w);
        if (rc == FWT_OK && (rc = wait_future(f, &p)) == FWT_OK)
            rc = fwt_future_take_hotload_status(&s, f);
        ex = rc == FWT_OK ? print_status(s, c->json)
                          : cli_fail("the snapshot did not load", rc,
                                     f && fwt_future_error(f) ? fwt_future_error(f) : fwt_error_last());
        fwt_future_free(f);
        cli_progress_destroy(&p);
    }
    fwt_hotload_status_free(s);
    free(base);
    return ex;
}

static int run(const dep_ctx *c, const fwt_deployment_create_options *co)
{
    fwt_deployment *d = NULL;
    int rc, ex;
    switch (c->a->sub) {
    case SUB_CREATE: return cmd_create(c, co);
    case SUB_GET:
        rc = fwt_deployment_get(&d, c->client, c->dep);
        ex = rc == FWT_OK ? print_deployment(d, c->json) : cli_fail("cannot get the deployment", rc, fwt_error_last());
        fwt_deployment_free(d);
        return ex;
    case SUB_DELETE: return cmd_delete(c);
    case SUB_REATTACH:
        rc = fwt_deployment_reattach(&d, c->client, c->dep, c->a->values[O_JOB_ID]);
        ex = rc == FWT_OK ? print_deployment(d, c->json)
                          : cli_fail("cannot re-attach the deployment", rc, fwt_error_last());
        if (rc == FWT_OK)
            cli_note("deployment %s now loads from %s; its pod restarts, so the next hotload must be a full one",
                     c->dep, c->a->values[O_JOB_ID]);
        fwt_deployment_free(d);
        return ex;
    case SUB_HOTLOAD: return cmd_hotload(c);
    default: return cmd_status(c);
    }
}

int cli_cmd_deployment(int argc, char **argv)
{
    cli_sub_args a;
    int ex = cli_parse_sub(&a, argc, argv, "deployment", SUBS, OPTS, O_COUNT, DEPLOYMENT_USAGE);
    if (ex == -1)
        return CLI_EXIT_OK;
    if (ex != CLI_EXIT_OK)
        return ex;
    dep_ctx c = {&a, NULL, NULL, a.values[O_JSON] != NULL};
    /* Check every argument before the first request. */
    ex = cli_one_id(&a, "deployment", "deployment id DEP", NULL, &c.dep);
    fwt_deployment_create_options co;
    memset(&co, 0, sizeof co);
    fwt_wait_options w;
    if (ex == CLI_EXIT_OK && a.sub == SUB_CREATE)
        ex = create_options(&a, &co);
    if (ex == CLI_EXIT_OK)
        ex = wait_options(&a, &w, NULL);
    if (ex == CLI_EXIT_OK && a.sub == SUB_CREATE && !a.values[O_WAIT] && (a.values[O_WAIT_TIMEOUT] || a.values[O_POLL])) {
        cli_error("--wait-timeout and --poll-interval-ms go with --wait");
        ex = CLI_EXIT_USAGE;
    }
    if (ex == CLI_EXIT_OK && a.sub == SUB_REATTACH && (!a.values[O_JOB_ID] || !*a.values[O_JOB_ID])) {
        cli_error("deployment reattach needs --job-id JOB (the trainer job to attach to)");
        ex = CLI_EXIT_USAGE;
    }
    if (ex == CLI_EXIT_OK && a.sub == SUB_HOTLOAD) {
        if (!a.values[O_IDENTITY] || !*a.values[O_IDENTITY]) {
            cli_error("deployment hotload needs --identity SNAPSHOT (a sampler checkpoint name of the trainer)");
            ex = CLI_EXIT_USAGE;
        } else if (a.values[O_NO_WAIT] && (a.values[O_WAIT_TIMEOUT] || a.values[O_POLL])) {
            cli_error("--no-wait excludes --wait-timeout and --poll-interval-ms");
            ex = CLI_EXIT_USAGE;
        }
    }
    if (ex != CLI_EXIT_OK)
        return ex;
    ex = cli_client(&c.client);
    if (ex != CLI_EXIT_OK)
        return ex;
    ex = run(&c, &co);
    fwt_client_free(c.client);
    return ex;
}
