/*
 * fwtrain — command-line tool of libfwtrain: promote checkpoints, list and
 * resolve them. Run `fwtrain --help`.
 */
#include <string.h>

#include "cli.h"

static const char USAGE[] =
    "Usage: fwtrain <command> [options]\n"
    "\n"
    "Commands:\n"
    "  promote               promote a sampler checkpoint to a deployable model\n"
    "                        (from a checkpoints.jsonl, or from a job's checkpoint listing)\n"
    "  checkpoints list      list a trainer job's checkpoints (control plane)\n"
    "  checkpoints resolve   print the reference that loads a checkpoint of another job\n"
    "\n"
    "Run 'fwtrain <command> --help' for the options of a command.\n"
    "\n"
    "Environment:\n"
    "  FIREWORKS_API_KEY     API key (training-scoped); needed by promote and checkpoints list\n"
    "  FIREWORKS_BASE_URL    control-plane base URL (default https://api.fireworks.ai)\n"
    "\n"
    "Exit codes:\n"
    "  0  success\n"
    "  1  the operation failed (server, network or local file error)\n"
    "  2  usage error (bad options, missing FIREWORKS_API_KEY or base model)\n"
    "  3  nothing to act on (no promotable checkpoint, no such --step or --checkpoint-name)\n"
    "  4  the API key was refused (HTTP 401/403)\n";

int main(int argc, char **argv)
{
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
    cli_error("unknown command '%s' (run 'fwtrain --help')", cmd);
    return CLI_EXIT_USAGE;
}
