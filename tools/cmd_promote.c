/*
 * fwtrain promote: turn a sampler checkpoint into a model (docs/protocol.md §3.6, §8).
 *
 *  from the registry:  --checkpoints-jsonl F [--step N] [--base-model M] [--output-model-id ID]
 *      picks the latest promotable entry (or the last promotable entry of step N) and
 *      promotes (source_job_id, sampler_path); the base model defaults to the
 *      entry's.
 *  from the control plane:  --job-id J [--checkpoint-name C] --base-model M [--output-model-id ID]
 *      lists J's checkpoints and promotes the newest promotable row by parsed
 *      createTime, or the newest row whose id or logical name is C.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char PROMOTE_USAGE[] =
    "Usage: fwtrain promote --checkpoints-jsonl FILE [--step N] [--base-model M] [--output-model-id ID]\n"
    "       fwtrain promote --job-id JOB [--checkpoint-name NAME] --base-model M [--output-model-id ID]\n"
    "\n"
    "Promote a sampler checkpoint (kind SAMPLER or BOTH) to a deployable model.\n"
    "\n"
    "  --checkpoints-jsonl FILE  the run's {log_path}/checkpoints.jsonl; promotes the latest entry\n"
    "                            with a sampler_path (the final checkpoint of a run always has one)\n"
    "  --step N                  promote step N instead: the last entry of that step with a\n"
    "                            sampler_path (a STATE entry of the same step does not hide it)\n"
    "  --job-id JOB              use the job's checkpoint listing instead of a file; promotes the\n"
    "                            newest promotable checkpoint by creation time\n"
    "  --checkpoint-name NAME    with --job-id: a checkpoint id (step-5-45dda197) or its logical\n"
    "                            name (step-5)\n"
    "  --base-model M            base model, e.g. accounts/fireworks/models/qwen3-8b (default with\n"
    "                            --checkpoints-jsonl: the entry's base_model)\n"
    "  --output-model-id ID      id of the new model: 1-63 characters of a-z, 0-9 and '-'\n"
    "                            (default: <model>-promote-<checkpoint>-<unix time % 100000>)\n"
    "  --poll-interval-ms MS     longest gap between polls of a running promotion (default 10000;\n"
    "                            polling starts at about 100 ms and backs off to it)\n"
    "  -h, --help                show this help\n"
    "\n"
    "Prints the model's name, state and kind. Needs FIREWORKS_API_KEY; FIREWORKS_BASE_URL is honored.\n"
    "Exit codes: 0 ok, 1 failed, 2 usage, 3 nothing to promote, 4 key refused.\n";

typedef struct promote_args {
    const char *jsonl, *job_id, *checkpoint_name, *base_model, *output_id;
    int64_t step;
    int has_step;
    int64_t poll_ms;
} promote_args;

/* Promote and print. `checkpoint_name` is a 4-segment row name, or NULL to use (job_id, checkpoint_id). */
static int do_promote(const char *job_id, const char *checkpoint_id, const char *row_name, const char *base_model,
                      const char *output_id_arg, int64_t poll_ms)
{
    char auto_id[64];
    const char *output_id = output_id_arg;
    if (!output_id) {
        cli_auto_output_model_id(auto_id, base_model, checkpoint_id, (int64_t)time(NULL));
        output_id = auto_id;
    }
    fwt_client *client = NULL;
    int ex = cli_client(&client);
    if (ex != CLI_EXIT_OK)
        return ex;
    fwt_promote_options popts;
    fwt_promote_options_init(&popts, FWT_PROMOTE_OPTIONS_VERSION);
    cli_progress prog; /* a live line on a terminal (cli_progress.c) */
    cli_progress_init(&prog, "promotion");
    popts.wait.progress = cli_progress_fn;
    popts.wait.progress_payload = &prog;
    if (poll_ms > 0)
        popts.wait.poll_interval_ms = poll_ms;
    cli_note("promoting checkpoint %s of job %s (base model %s) to model id %s", checkpoint_id,
            job_id, base_model, output_id);
    fwt_future *f = NULL;
    int rc = row_name ? fwt_promote_checkpoint(&f, client, row_name, output_id, base_model, &popts)
                      : fwt_promote_checkpoint_by_id(&f, client, job_id, checkpoint_id, output_id, base_model, &popts);
    fwt_model *model = NULL;
    if (rc == FWT_OK) {
        rc = cli_progress_wait(&prog, f);
        if (rc == FWT_OK)
            rc = fwt_future_status(f);
        if (rc == FWT_OK)
            rc = fwt_future_take_model(&model, f);
        if (rc != FWT_OK) {
            ex = cli_fail("promotion failed", rc, fwt_future_error(f) ? fwt_future_error(f) : fwt_error_last());
            if (ex == CLI_EXIT_FAILED && fwt_future_error(f) && fwt_future_error(f)->http_status >= 400 &&
                fwt_future_error(f)->http_status < 500)
                cli_error("use a checkpoint from 'fwtrain checkpoints list --job-id %s --promotable-only' and the "
                          "base model it was trained from", job_id);
        }
    } else {
        ex = cli_fail("promotion failed", rc, fwt_error_last());
    }
    if (model) {
        printf("model: %s\nstate: %s\nkind: %s\n", fwt_model_name(model), fwt_model_state(model),
               fwt_model_kind(model));
        ex = CLI_EXIT_OK;
    }
    fwt_model_free(model);
    fwt_future_free(f);
    cli_progress_destroy(&prog);
    fwt_client_free(client);
    return ex;
}

static int promote_from_jsonl(const promote_args *a)
{
    fwt_registry *l = NULL;
    int rc = fwt_registry_read_file(&l, a->jsonl);
    if (rc != FWT_OK)
        return cli_fail("cannot read the checkpoint registry", rc, fwt_error_last());
    if (fwt_registry_torn_bytes(l))
        cli_error("warning: ignored %zu bytes after the last complete line of %s (a record cut short by a crash)",
                  fwt_registry_torn_bytes(l), a->jsonl);
    int ex = CLI_EXIT_OK;
    const fwt_registry_entry *e;
    if (a->has_step) {
        /* Promotable entries first, then the last of that step (a STATE line after a SAMPLER one hides nothing). */
        e = fwt_registry_find_promotable_step(l, a->step);
        const fwt_registry_entry *any = e ? e : fwt_registry_find_step(l, a->step);
        if (!any) {
            cli_error("%s has no entry for step %" PRId64, a->jsonl, a->step);
            ex = CLI_EXIT_NOTHING;
        } else if (!e) {
            const fwt_registry_entry *p = fwt_registry_latest_promotable(l);
            cli_error("step %" PRId64 " (%s) has only STATE entries: none has a sampler_path, so it cannot be promoted",
                      a->step, any->name);
            if (p)
                cli_error("the latest promotable step is %" PRId64 " (%s)", p->step, p->name);
            ex = CLI_EXIT_NOTHING;
        }
    } else {
        e = fwt_registry_latest_promotable(l);
        if (!e) {
            cli_error("%s has no promotable checkpoint: only entries with a sampler_path (kind SAMPLER or BOTH) can be "
                      "promoted, and mid-training STATE saves cannot. Finish the run (its final checkpoint is BOTH) or "
                      "save one with kind SAMPLER.",
                      a->jsonl);
            ex = CLI_EXIT_NOTHING;
        }
    }
    const char *base_model = a->base_model;
    if (ex == CLI_EXIT_OK && !e->source_job_id) {
        cli_error("entry %s has no source_job_id: cannot tell which job holds it", e->name);
        ex = CLI_EXIT_FAILED;
    }
    if (ex == CLI_EXIT_OK && !base_model)
        base_model = e->base_model;
    if (ex == CLI_EXIT_OK && !base_model) {
        cli_error("entry %s records no base_model: pass --base-model", e->name);
        ex = CLI_EXIT_USAGE;
    }
    if (ex == CLI_EXIT_OK) {
        cli_note("selected %s (step %" PRId64 ", kind %s) from %s", e->name, e->step,
                fwt_checkpoint_kind_name((fwt_checkpoint_kind)fwt_registry_entry_kind(e)), a->jsonl);
        ex = do_promote(e->source_job_id, e->sampler_path, NULL, base_model, a->output_id, a->poll_ms);
    }
    fwt_registry_free(l);
    return ex;
}

static int promote_from_job(const promote_args *a)
{
    fwt_client *client = NULL;
    int ex = cli_client(&client);
    if (ex != CLI_EXIT_OK)
        return ex;
    fwt_checkpoint_list *all = NULL, *promotable = NULL;
    int rc = fwt_job_list_checkpoints(&all, client, a->job_id, NULL);
    if (rc != FWT_OK) {
        ex = cli_fail("cannot list the job's checkpoints", rc, fwt_error_last());
        goto out;
    }
    rc = fwt_checkpoint_list_filter(&promotable, all, FWT_CHECKPOINT_FILTER_PROMOTABLE);
    if (rc != FWT_OK) {
        ex = cli_fail("cannot filter checkpoints", rc, fwt_error_last());
        goto out;
    }
    const fwt_checkpoint_row *row;
    if (a->checkpoint_name) {
        row = fwt_checkpoint_list_find(promotable, a->checkpoint_name);
        if (!row) {
            const fwt_checkpoint_row *any = fwt_checkpoint_list_find(all, a->checkpoint_name);
            if (any)
                cli_error("checkpoint %s of job %s is not promotable (type %s)", fwt_checkpoint_row_id(any), a->job_id,
                          fwt_checkpoint_row_type(any));
            else
                cli_error("job %s has no checkpoint named %s", a->job_id, a->checkpoint_name);
            cli_error("see 'fwtrain checkpoints list --job-id %s --promotable-only'", a->job_id);
            ex = CLI_EXIT_NOTHING;
            goto out;
        }
    } else {
        row = fwt_checkpoint_list_newest(promotable, FWT_CHECKPOINT_FILTER_ALL);
        if (!row) {
            cli_error("job %s has no promotable checkpoint (%zu checkpoints listed); see 'fwtrain checkpoints list "
                      "--job-id %s'",
                      a->job_id, fwt_checkpoint_list_count(all), a->job_id);
            ex = CLI_EXIT_NOTHING;
            goto out;
        }
    }
    cli_note("selected %s (created %s, type %s)", fwt_checkpoint_row_id(row),
            fwt_checkpoint_row_create_time(row), fwt_checkpoint_row_type(row));
    fwt_client_free(client);
    client = NULL;
    ex = do_promote(a->job_id, fwt_checkpoint_row_id(row), fwt_checkpoint_row_name(row), a->base_model, a->output_id,
                    a->poll_ms);
out:
    fwt_checkpoint_list_free(promotable);
    fwt_checkpoint_list_free(all);
    fwt_client_free(client);
    return ex;
}

int cli_cmd_promote(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"checkpoints-jsonl", required_argument, NULL, 'f'}, {"step", required_argument, NULL, 's'},
        {"job-id", required_argument, NULL, 'j'},            {"checkpoint-name", required_argument, NULL, 'c'},
        {"base-model", required_argument, NULL, 'b'},        {"model", required_argument, NULL, 'b'},
        {"output-model-id", required_argument, NULL, 'o'},   {"poll-interval-ms", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    promote_args a;
    memset(&a, 0, sizeof a);
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': a.jsonl = optarg; break;
        case 'j': a.job_id = optarg; break;
        case 'c': a.checkpoint_name = optarg; break;
        case 'b': a.base_model = optarg; break;
        case 'o': a.output_id = optarg; break;
        case 's':
            if (cli_parse_count(optarg, &a.step) != 0) {
                cli_error("--step needs a non-negative integer, got '%s'", optarg);
                return CLI_EXIT_USAGE;
            }
            a.has_step = 1;
            break;
        case 'p':
            if (cli_parse_count(optarg, &a.poll_ms) != 0 || a.poll_ms == 0) {
                cli_error("--poll-interval-ms needs a positive integer, got '%s'", optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case 'h': fputs(PROMOTE_USAGE, stdout); return CLI_EXIT_OK;
        case ':': cli_error("%s needs a value (see 'fwtrain promote --help')", argv[optind - 1]); return CLI_EXIT_USAGE;
        default: cli_error("unknown option '%s' (see 'fwtrain promote --help')", argv[optind - 1]); return CLI_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_error("unexpected argument '%s' (see 'fwtrain promote --help')", argv[optind]);
        return CLI_EXIT_USAGE;
    }
    if (!a.jsonl == !a.job_id) {
        cli_error("give exactly one of --checkpoints-jsonl FILE or --job-id JOB (see 'fwtrain promote --help')");
        return CLI_EXIT_USAGE;
    }
    if (a.jsonl && a.checkpoint_name) {
        cli_error("--checkpoint-name goes with --job-id; with --checkpoints-jsonl use --step");
        return CLI_EXIT_USAGE;
    }
    if (a.job_id && a.has_step) {
        cli_error("--step goes with --checkpoints-jsonl; with --job-id use --checkpoint-name step-N");
        return CLI_EXIT_USAGE;
    }
    if (a.job_id && !a.base_model) {
        cli_error("--base-model is required with --job-id (e.g. accounts/fireworks/models/qwen3-8b)");
        return CLI_EXIT_USAGE;
    }
    if (a.output_id && fwt_promote_validate_output_model_id(a.output_id) != FWT_OK) {
        cli_error("--output-model-id: %s", fwt_error_last()->message);
        return CLI_EXIT_USAGE;
    }
    return a.jsonl ? promote_from_jsonl(&a) : promote_from_job(&a);
}
