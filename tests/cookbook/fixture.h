/*
 * The set-up the cookbook's integration tests share: a temp root directory for their checkpoint logs,
 * fwtrain-local started with the test's own arguments (tests/support/local_server.h), a client of it whose
 * warnings can be captured, and ready trainer jobs with a session and a model.
 *
 *   static int group_setup(void **state)
 *   {
 *       (void)state;
 *       static const char *const args[] = {"--job-start-ms", "10", NULL};
 *       fx_opts o = {.root_tag = "ckptr", .server_args = args, .capture_warnings = 1};
 *       return fx_start(&o);
 *   }
 *   ...
 *   fwt_training *t = fx_open_training("job-1");   // fx.client, fx.srv, fx.root
 *   ...
 *   return cmocka_run_group_tests(tests, group_setup, fx_teardown);
 *
 * One fixture a process (the tests run their group in one thread; the log capture is thread-safe).
 */
#ifndef FWT_TESTS_COOKBOOK_FIXTURE_H
#define FWT_TESTS_COOKBOOK_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "fwtrain/fwtrain.h"
#include "local_server.h"

/* The base model of every job the fixture creates (fwtrain-local's byte model). */
#define MODEL "accounts/fireworks/models/fwtrain-local-byte"

/* What differs between the tests; zero-initialise, then set what you need. */
typedef struct fx_opts {
    const char *root_tag;           /* the root dir is /tmp/fwt-<root_tag>-XXXXXX; NULL: no root dir */
    const char *api_key;            /* NULL: the launcher's default key */
    const char *const *server_args; /* NULL-terminated extra fwtrain-local arguments, or NULL */
    int64_t retry_budget_ms;        /* 0: the client's default (a test that kills the server wants a short one) */
    int64_t connect_timeout_ms;     /* 0: the client's default */
    int capture_warnings;           /* route the client's warnings to fx_warned() instead of stderr */
    int export_env;                 /* set FIREWORKS_BASE_URL / FIREWORKS_API_KEY for the programs the test runs */
} fx_opts;

/* The running fixture (valid between fx_start and fx_teardown). */
typedef struct fx_state {
    fwt_local_server *srv;
    fwt_client *client;
    char root[64]; /* "" without a root dir */
} fx_state;

extern fx_state fx;

/* Make the root dir, start the server, make the client. 0, or -1 (a message on stderr): a group setup's result. */
int fx_start(const fx_opts *o);

/* Free the client and the server, remove the root dir. A cmocka group teardown; `state` is unused. */
int fx_teardown(void **state);

/* A client of `base_url` with the client's default options (a child process's own client). */
int fx_client_new(fwt_client **out, const char *base_url, const char *api_key);

/* 1 if a captured warning contains `needle`; clears the capture ("" just clears it). */
int fx_warned(const char *needle);

/* 1 if a captured warning contains `needle`; keeps the capture. */
int fx_warnings_have(const char *needle);

/* Create trainer job `job_id` (MODEL) through `c`; the fwt status. */
int fx_create_job(fwt_client *c, const char *job_id);

/* Wait for the job (created before) to be ready, open a training on it and create its model; NULL on failure
 * (fwt_error_last() says why). No cmocka asserts: usable in a group setup and in a child process. */
fwt_training *fx_open_on(fwt_client *c, const char *job_id);

/* fx_create_job + fx_open_on; fails the test (with the library's message) otherwise. */
fwt_training *fx_open_training_on(fwt_client *c, const char *job_id);

/* fx_open_training_on the fixture's client. */
fwt_training *fx_open_training(const char *job_id);

/* "<root>/<name>" into buf; returns buf. */
const char *fx_path(char *buf, size_t n, const char *name);

/* The checkpoints.jsonl registry in "<root>/<dir>" (asserts it reads). */
fwt_registry *fx_registry(const char *dir);

/* Checkpointer options on `log_path` for `job`; base_model NULL lets the checkpointer read the job's. */
void fx_checkpointer_options(fwt_checkpointer_options *o, const char *log_path, const char *job,
                             const char *base_model);

/* A resume decision a test expects of fwt_checkpointer_start. */
typedef struct fx_resume {
    const char *what;  /* the case, named in the failure message */
    int mode;          /* fwt_resume_mode */
    int64_t step;      /* start step; < 0: not checked */
    int64_t data;      /* start data_consumed; < 0: not checked */
    const char *path;  /* loaded path; NULL: not checked */
} fx_resume;

/* Start a checkpointer on `t` with `o` (it must succeed) and check its resume decision against `want`. */
fwt_checkpointer *fx_start_resumed(fwt_training *t, const fwt_checkpointer_options *o, const fx_resume *want);

#endif /* FWT_TESTS_COOKBOOK_FIXTURE_H */
