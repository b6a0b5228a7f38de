/* The fwtrain command-line tool: shared helpers of its commands. */
#ifndef FWT_TOOLS_CLI_H
#define FWT_TOOLS_CLI_H

#include <stddef.h>
#include <stdint.h>
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

int cli_cmd_promote(int argc, char **argv);
int cli_cmd_checkpoints(int argc, char **argv);

#endif /* FWT_TOOLS_CLI_H */
