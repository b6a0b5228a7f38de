/*
 * The command line of a command with subcommands (job, deployment): one table of
 * long options, each allowed with some subcommands only, so that a misplaced option
 * gets an error naming the subcommands it goes with instead of being ignored.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_parse_sub(cli_sub_args *a, int argc, char **argv, const char *cmd, const char *const *subs,
                  const cli_opt *opts, size_t nopts, const char *usage)
{
    memset(a, 0, sizeof *a);
    a->sub = -1;
    struct option longopts[CLI_MAX_OPTS + 2];
    if (nopts > CLI_MAX_OPTS)
        abort(); /* a programming error, caught by every test run */
    for (size_t i = 0; i < nopts; i++) {
        longopts[i].name = opts[i].name;
        longopts[i].has_arg = opts[i].takes_value ? required_argument : no_argument;
        longopts[i].flag = NULL;
        longopts[i].val = 1000 + (int)i;
    }
    longopts[nopts] = (struct option){"help", no_argument, NULL, 'h'};
    longopts[nopts + 1] = (struct option){NULL, 0, NULL, 0};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return -1;
        }
        if (c == ':') {
            cli_error("%s needs a value (see 'fwtrain %s --help')", argv[optind - 1], cmd);
            return CLI_EXIT_USAGE;
        }
        if (c < 1000 || c >= 1000 + (int)nopts) {
            cli_error("unknown option '%s' (see 'fwtrain %s --help')", argv[optind - 1], cmd);
            return CLI_EXIT_USAGE;
        }
        a->values[c - 1000] = optarg ? optarg : "";
    }
    for (; optind < argc; optind++) {
        if (a->npositional == CLI_MAX_POSITIONAL) {
            cli_error("unexpected argument '%s' (see 'fwtrain %s --help')", argv[optind], cmd);
            return CLI_EXIT_USAGE;
        }
        a->positional[a->npositional++] = argv[optind];
    }
    char list[256] = "";
    for (size_t k = 0; subs[k]; k++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? ", " : "", subs[k]);
    if (a->npositional == 0) {
        cli_error("%s needs a subcommand: %s (see 'fwtrain %s --help')", cmd, list, cmd);
        return CLI_EXIT_USAGE;
    }
    for (size_t k = 0; subs[k]; k++)
        if (!strcmp(subs[k], a->positional[0]))
            a->sub = (int)k;
    if (a->sub < 0) {
        cli_error("unknown subcommand '%s %s' (expected %s)", cmd, a->positional[0], list);
        return CLI_EXIT_USAGE;
    }
    for (size_t i = 0; i < nopts; i++) {
        if (!a->values[i] || (opts[i].subs & (1u << a->sub)))
            continue;
        char with[256] = "";
        for (size_t k = 0; subs[k]; k++)
            if (opts[i].subs & (1u << k))
                snprintf(with + strlen(with), sizeof with - strlen(with), "%s'%s %s'", with[0] ? ", " : "", cmd,
                         subs[k]);
        cli_error("--%s does not go with '%s %s' (it goes with %s)", opts[i].name, cmd, subs[a->sub], with);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

int cli_one_id(const cli_sub_args *a, const char *cmd, const char *what, const char *option_value, const char **out)
{
    const char *sub = a->positional[0];
    if (a->npositional > 2 || (a->npositional == 2 && option_value)) {
        cli_error("'%s %s' takes one %s, got more (see 'fwtrain %s --help')", cmd, sub, what, cmd);
        return CLI_EXIT_USAGE;
    }
    *out = a->npositional == 2 ? a->positional[1] : option_value;
    if (!*out || !**out) {
        cli_error("'%s %s' needs a %s (see 'fwtrain %s --help')", cmd, sub, what, cmd);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}
