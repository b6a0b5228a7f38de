/*
 * fwtrain checkpoints list | resolve.
 *   list:    the control-plane listing of a job (docs/protocol.md §3.5), newest last.
 *   resolve: the reference a trainer loads another job's DCP checkpoint by
 *            (docs/protocol.md §4.7); no request is made.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

static const char CHECKPOINTS_USAGE[] =
    "Usage: fwtrain checkpoints list --job-id JOB [--promotable-only] [--json]\n"
    "       fwtrain checkpoints resolve NAME --job-id JOB | JOB:NAME\n"
    "\n"
    "  list      list the job's checkpoints as the control plane records them (works after the trainer\n"
    "            stopped, and for deleted jobs during retention). Columns: id, creation time, type,\n"
    "            promotable.\n"
    "            --promotable-only   only checkpoints that 'fwtrain promote' accepts\n"
    "            --json              one JSON array instead of a table\n"
    "  resolve   print the reference that loads checkpoint NAME of job JOB from any trainer\n"
    "            (cross_job://JOB/NAME; gs:// and absolute paths are printed unchanged).\n"
    "            This is what init_from_checkpoint=\"JOB:NAME\" loads, and JOB:NAME is accepted too.\n"
    "            No request is made.\n"
    "\n"
    "There is no 'checkpoints delete': the service offers no call that deletes a checkpoint\n"
    "(docs/protocol.md §3.5). A deleted job's checkpoints go when its retention ends;\n"
    "checkpoints saved with a TTL (ttl_seconds) expire on their own.\n"
    "\n"
    "list needs FIREWORKS_API_KEY; FIREWORKS_BASE_URL is honored.\n"
    "Exit codes: 0 ok, 1 failed, 2 usage, 4 key refused.\n";

typedef struct list_args {
    const char *job_id;
    int promotable_only, json;
    const char *positional[2];
    int npositional;
} list_args;

static int parse(int argc, char **argv, list_args *a)
{
    static const struct option longopts[] = {{"job-id", required_argument, NULL, 'j'},
                                             {"promotable-only", no_argument, NULL, 'p'},
                                             {"json", no_argument, NULL, 'J'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': a->job_id = optarg; break;
        case 'p': a->promotable_only = 1; break;
        case 'J': a->json = 1; break;
        case 'h': fputs(CHECKPOINTS_USAGE, stdout); return -1;
        case ':': cli_error("%s needs a value (see 'fwtrain checkpoints --help')", argv[optind - 1]); return CLI_EXIT_USAGE;
        default:
            cli_error("unknown option '%s' (see 'fwtrain checkpoints --help')", argv[optind - 1]);
            return CLI_EXIT_USAGE;
        }
    }
    for (; optind < argc; optind++) {
        if (a->npositional == 2) {
            cli_error("unexpected argument '%s' (see 'fwtrain checkpoints --help')", argv[optind]);
            return CLI_EXIT_USAGE;
        }
        a->positional[a->npositional++] = argv[optind];
    }
    return CLI_EXIT_OK;
}

static int print_json(const fwt_checkpoint_list *l)
{
    cJSON *arr = cJSON_CreateArray();
    int ok = arr != NULL;
    for (size_t i = 0; ok && i < fwt_checkpoint_list_count(l); i++) {
        const fwt_checkpoint_row *r = fwt_checkpoint_list_get(l, i);
        cJSON *o = cJSON_CreateObject();
        ok = o && cJSON_AddItemToArray(arr, o);
        ok = ok && cJSON_AddStringToObject(o, "name", fwt_checkpoint_row_name(r)) &&
             cJSON_AddStringToObject(o, "checkpoint_id", fwt_checkpoint_row_id(r)) &&
             cJSON_AddStringToObject(o, "create_time", fwt_checkpoint_row_create_time(r)) &&
             cJSON_AddStringToObject(o, "checkpoint_type", fwt_checkpoint_row_type(r)) &&
             cJSON_AddBoolToObject(o, "promotable", fwt_checkpoint_row_promotable(r)) &&
             cJSON_AddBoolToObject(o, "resumable", fwt_checkpoint_row_resumable(r));
    }
    char *text = ok ? cJSON_Print(arr) : NULL;
    cJSON_Delete(arr);
    if (!text) {
        cli_error("out of memory");
        return CLI_EXIT_FAILED;
    }
    puts(text);
    cJSON_free(text);
    return CLI_EXIT_OK;
}

static int cmd_list(const list_args *a)
{
    if (!a->job_id) {
        cli_error("checkpoints list needs --job-id JOB");
        return CLI_EXIT_USAGE;
    }
    if (a->npositional > 1) {
        cli_error("unexpected argument '%s'", a->positional[1]);
        return CLI_EXIT_USAGE;
    }
    fwt_client *client = NULL;
    int ex = cli_client(&client);
    if (ex != CLI_EXIT_OK)
        return ex;
    fwt_checkpoint_list *all = NULL, *shown = NULL;
    int rc = fwt_job_list_checkpoints(&all, client, a->job_id, NULL);
    if (rc == FWT_OK)
        rc = fwt_checkpoint_list_filter(&shown, all,
                                        a->promotable_only ? FWT_CHECKPOINT_FILTER_PROMOTABLE : FWT_CHECKPOINT_FILTER_ALL);
    if (rc != FWT_OK) {
        ex = cli_fail("cannot list the job's checkpoints", rc, fwt_error_last());
    } else if (a->json) {
        ex = print_json(shown);
    } else if (fwt_checkpoint_list_count(shown) == 0) {
        cli_note("job %s has no %scheckpoints", a->job_id, a->promotable_only ? "promotable " : "");
    } else {
        printf("%-40s  %-32s  %-26s  %s\n", "CHECKPOINT", "CREATED", "TYPE", "PROMOTABLE");
        for (size_t i = 0; i < fwt_checkpoint_list_count(shown); i++) {
            const fwt_checkpoint_row *r = fwt_checkpoint_list_get(shown, i);
            printf("%-40s  %-32s  %-26s  %s\n", fwt_checkpoint_row_id(r), fwt_checkpoint_row_create_time(r),
                   fwt_checkpoint_row_type(r), fwt_checkpoint_row_promotable(r) ? "yes" : "no");
        }
    }
    fwt_checkpoint_list_free(shown);
    fwt_checkpoint_list_free(all);
    fwt_client_free(client);
    return ex;
}

static int cmd_resolve(const list_args *a)
{
    if (a->npositional != 2) {
        cli_error("checkpoints resolve needs one checkpoint NAME (see 'fwtrain checkpoints --help')");
        return CLI_EXIT_USAGE;
    }
    if (a->promotable_only || a->json) {
        cli_error("--promotable-only and --json go with 'checkpoints list'");
        return CLI_EXIT_USAGE;
    }
    const char *name = a->positional[1];
    int full = !strncmp(name, "gs://", 5) || name[0] == '/';
    char *ref = NULL;
    int rc;
    if (!a->job_id && !full && strchr(name, ':')) {
        /* the init_from_checkpoint form "JOB:NAME" (docs/protocol.md §6) */
        rc = fwt_checkpoint_spec_resolve(&ref, name);
    } else if (!a->job_id && !full) {
        cli_error("checkpoints resolve needs --job-id JOB (the job that saved %s), or JOB:%s", name, name);
        return CLI_EXIT_USAGE;
    } else {
        rc = fwt_resolve_checkpoint_path(&ref, name, full ? NULL : a->job_id);
    }
    if (rc != FWT_OK)
        return cli_fail("cannot resolve the checkpoint", rc, fwt_error_last());
    puts(ref);
    fwt_free(ref);
    return CLI_EXIT_OK;
}

int cli_cmd_checkpoints(int argc, char **argv)
{
    list_args a;
    memset(&a, 0, sizeof a);
    int ex = parse(argc, argv, &a);
    if (ex == -1)
        return CLI_EXIT_OK;
    if (ex != CLI_EXIT_OK)
        return ex;
    if (a.npositional == 0) {
        cli_error("checkpoints needs a subcommand: list or resolve (see 'fwtrain checkpoints --help')");
        return CLI_EXIT_USAGE;
    }
    if (!strcmp(a.positional[0], "list"))
        return cmd_list(&a);
    if (!strcmp(a.positional[0], "resolve"))
        return cmd_resolve(&a);
    if (!strcmp(a.positional[0], "delete")) {
        cli_error("there is no 'checkpoints delete': the service offers no call that deletes a checkpoint "
                  "(a deleted job's checkpoints go when its retention ends; checkpoints saved with a TTL expire)");
        return CLI_EXIT_USAGE;
    }
    cli_error("unknown subcommand 'checkpoints %s' (expected list or resolve)", a.positional[0]);
    return CLI_EXIT_USAGE;
}
