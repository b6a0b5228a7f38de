/*
 * fwtrain — command-line tool of libfwtrain: trainer jobs, deployments and
 * hotloads, checkpoints and their promotion. Run `fwtrain --help`.
 */
#include <string.h>

#include "cli.h"

static const char USAGE[] =
    "Usage: fwtrain <command> [options]\n"
    "\n"
    "Commands:\n"
    "  job create            create a trainer job (--wait: and wait until it is ready)\n"
    "  job get               print a trainer job\n"
    "  job list              list the account's trainer jobs\n"
    "  job wait              wait until a job is running and its trainer answers\n"
    "  job resume            resume a failed, cancelled, paused or completed job\n"
    "  job delete            delete a job (its checkpoints stay listable and promotable)\n"
    "  deployment create     get or create a deployment (--wait: and wait until it is READY)\n"
    "  deployment get        print a deployment\n"
    "  deployment delete     delete a deployment and wait until it is gone\n"
    "  deployment reattach   attach a deployment to another trainer job\n"
    "  deployment hotload    load a sampler snapshot into a deployment and wait until it serves it\n"
    "  deployment status     print a deployment's hotload status\n"
    "  checkpoints list      list a trainer job's checkpoints (control plane)\n"
    "  checkpoints resolve   print the reference that loads a checkpoint of another job\n"
    "  promote               promote a sampler checkpoint to a deployable model\n"
    "                        (from a checkpoints.jsonl, or from a job's checkpoint listing)\n"
    "\n"
    "There is no 'checkpoints delete': the service offers no call that deletes a checkpoint. A job's\n"
    "checkpoints go when the job's retention ends after 'job delete'; checkpoints saved with a TTL\n"
    "(ttl_seconds) expire on their own.\n"
    "\n"
    "Run 'fwtrain <command> --help' for the options of a command.\n"
    "\n"
    "Options of every command (before or after it):\n"
    "  -v, --verbose         also print the library's debug log (every HTTP attempt)\n"
    "  -q, --quiet           print errors only (no retry or progress lines)\n"
    "  --timeout SECONDS     give up on a request after retrying this long (default: 30 s while the\n"
    "                        server cannot be reached, 300 s once it answers); a running promotion\n"
    "                        is still waited for\n"
    "  --allow-insecure-http allow http:// to a host other than this machine (the API key then\n"
    "                        travels in clear text)\n"
    "\n"
    "Each retry prints one line on stderr, e.g.\n"
    "  fwtrain: retrying GET https://api.fireworks.ai/v1/accounts in 1.3 s (attempt 2: ...)\n"
    "\n"
    "Environment:\n"
    "  FIREWORKS_API_KEY     API key (training-scoped); needed by every command that makes a request\n"
    "  FIREWORKS_BASE_URL    control-plane base URL (default https://api.fireworks.ai)\n"
    "  FIREWORKS_ACCOUNT_ID  account id, when the key has several (default: looked up)\n"
    "  https_proxy, all_proxy  proxy for https requests only, always as a CONNECT tunnel; plain-http\n"
    "                        requests never go through a proxy\n"
    "\n"
    "Exit codes:\n"
    "  0  success\n"
    "  1  the operation failed (server, network or local file error; no such job or deployment; a\n"
    "     wait that ran out of time)\n"
    "  2  usage error (bad options, missing FIREWORKS_API_KEY or base model, a command that does not\n"
    "     exist such as 'checkpoints delete')\n"
    "  3  nothing to act on (no promotable checkpoint, no such --step or --checkpoint-name)\n"
    "  4  the API key was refused (HTTP 401) or lacks a permission (HTTP 403)\n";

int main(int argc, char **argv)
{
    int ex = cli_take_global_options(&argc, argv);
    if (ex != CLI_EXIT_OK)
        return ex;
    if (argc < 2) {
        fputs(USAGE, stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(USAGE, stdout);
        return CLI_EXIT_OK;
    }
    if (!strcmp(cmd, "--version")) {
        printf("fwtrain %s\n", fwt_version_string());
        return CLI_EXIT_OK;
    }
    if (!strcmp(cmd, "promote"))
        return cli_cmd_promote(argc - 1, argv + 1);
    if (!strcmp(cmd, "checkpoints"))
        return cli_cmd_checkpoints(argc - 1, argv + 1);
    if (!strcmp(cmd, "job"))
        return cli_cmd_job(argc - 1, argv + 1);
    if (!strcmp(cmd, "deployment"))
        return cli_cmd_deployment(argc - 1, argv + 1);
    cli_error("unknown command '%s' (run 'fwtrain --help')", cmd);
    return CLI_EXIT_USAGE;
}
