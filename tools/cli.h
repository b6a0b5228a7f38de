/* The fwtrain command-line tool: shared helpers of its commands. */
#ifndef FWT_TOOLS_CLI_H
#define FWT_TOOLS_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>

#include "fwtrain/fwtrain.h"

/* Exit codes (documented in `fwtrain --help`). */
enum {
    CLI_EXIT_OK = 0,       /* success */
    CLI_EXIT_FAILED = 1,   /* the operation failed (server, network, file) */
    CLI_EXIT_USAGE = 2,    /* bad command line or missing configuration */
    CLI_EXIT_NOTHING = 3,  /* nothing to act on: no promotable checkpoint, no such step or name */
    CLI_EXIT_AUTH = 4      /* the API key was refused (401/403) */
};

/* Options every command takes (fwtrain --help), anywhere on the command line. */
typedef struct cli_global {
    int verbose;             /* --verbose: the library's debug log on stderr */
    int quiet;               /* --quiet: no retry or progress lines, errors only */
    int64_t timeout_ms;      /* --timeout SECONDS: retry budget of each request; 0 = library defaults */
    int allow_insecure_http; /* --allow-insecure-http: http:// to a non-loopback host */
} cli_global;

extern cli_global cli_opts;

/*
 * Take the global options out of argv (before a "--"), leaving the command and its own
 * options. Returns CLI_EXIT_OK, or CLI_EXIT_USAGE after printing why.
 */
int cli_take_global_options(int *argc, char **argv);

/* An informational line ("fwtrain: ...") on stderr, unless --quiet. */
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "fwtrain: <message>\n" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Report a library failure (fwt_error_last or the given detail) and map it to an exit code. */
int cli_fail(const char *what, int status, const fwt_error *detail);
/* Strict decimal parse of a non-negative int64. 0 on success. */
int cli_parse_count(const char *s, int64_t *out);
/*
 * The cookbook's automatic output model id (docs/protocol.md §6):
 * "<model_short>-promote-<ckpt>-<unix%100000>", lowercased, runs of other
 * characters → '-', '-' collapsed and stripped, at most 63 characters,
 * "promoted-model" if nothing is left.
 */
void cli_auto_output_model_id(char out[64], const char *base_model, const char *checkpoint, int64_t unix_time);
/* A client from FIREWORKS_API_KEY / FIREWORKS_BASE_URL; prints the error and returns an exit code on failure. */
int cli_client(fwt_client **out);

/*
 * Progress of one long wait (cli_progress.c): a live line on a terminal, plain lines
 * otherwise, nothing with --quiet. Pass cli_progress_fn with the struct as payload
 * to the wait's options, then wait with cli_progress_wait.
 */
typedef struct cli_progress {
    pthread_mutex_t mu;  /* the worker thread writes stage/message, the waiting thread draws */
    char what[128];      /* what is waited for, e.g. "job j1" */
    int live;            /* stderr is a terminal and not --quiet */
    int drawn;           /* a live line is on the screen */
    int stage;           /* last fwt_progress_stage, 0 before the first poll */
    char message[256];   /* last progress message */
    int64_t start_ms;    /* monotonic start of the wait */
} cli_progress;

void cli_progress_init(cli_progress *p, const char *what);
void cli_progress_destroy(cli_progress *p);
/* The fwt_progress_fn; payload = the cli_progress. */
void cli_progress_fn(int stage, int64_t elapsed_ms, const char *message, void *payload);
/* fwt_future_wait(f, -1), redrawing the live line meanwhile. */
int cli_progress_wait(cli_progress *p, fwt_future *f);

/* Resources as JSON (cli_json.c), printed on stdout by cli_print_json, which frees the object. */
struct cJSON;
struct cJSON *cli_job_json(const fwt_job *j);
struct cJSON *cli_deployment_json(const fwt_deployment *d);
struct cJSON *cli_hotload_status_json(const fwt_hotload_status *s);
int cli_print_json(struct cJSON *o);
/* The same resources as "key: value" lines. */
void cli_print_job(const fwt_job *j);
void cli_print_deployment(const fwt_deployment *d);
void cli_print_hotload_status(const fwt_hotload_status *s);

/* A strict decimal int32 in [min, max] for option `opt`; prints the error. 0 on success. */
int cli_parse_int32(const char *opt, const char *s, int32_t min, int32_t max, int32_t *out);
/* Seconds (a positive decimal, at most a week) for option `opt` as milliseconds; prints the error. 0 on success. */
int cli_parse_seconds(const char *opt, const char *s, int64_t *out_ms);

/* A long option of a command with subcommands (cli_args.c). */
typedef struct cli_opt {
    const char *name;  /* without the leading "--" */
    int takes_value;   /* 1: "--name VALUE" or "--name=VALUE" */
    unsigned subs;     /* bit k set: allowed with subcommand k */
} cli_opt;

#define CLI_MAX_OPTS 32
#define CLI_MAX_POSITIONAL 4

/* A parsed command line: the subcommand, the positional words (the subcommand first), each option's value. */
typedef struct cli_sub_args {
    int sub;                                     /* index into the subcommand list */
    const char *positional[CLI_MAX_POSITIONAL];  /* positional[0] is the subcommand */
    int npositional;
    const char *values[CLI_MAX_OPTS];            /* per option: NULL absent, "" a flag, else its value */
} cli_sub_args;

/*
 * Parse argv (argv[0] = the command) against `opts` and the NULL-terminated `subs`.
 * Returns CLI_EXIT_OK, -1 after printing `usage` for --help, or CLI_EXIT_USAGE after
 * printing why (unknown option or subcommand, an option of another subcommand, ...).
 */
int cli_parse_sub(cli_sub_args *a, int argc, char **argv, const char *cmd, const char *const *subs,
                  const cli_opt *opts, size_t nopts, const char *usage);
/* The one id a subcommand acts on: positional[1] or the given option's value, not both; prints the error. */
int cli_one_id(const cli_sub_args *a, const char *cmd, const char *what, const char *option_value, const char **out);

int cli_cmd_promote(int argc, char **argv);
int cli_cmd_checkpoints(int argc, char **argv);
int cli_cmd_job(int argc, char **argv);
int cli_cmd_deployment(int argc, char **argv);

#endif /* FWT_TOOLS_CLI_H */
