/*
 * local_server: start and stop fwtrain-local from tests and benchmarks.
 *
 *   fwt_local_server *srv;
 *   fwt_local_server_opts o;
 *   fwt_local_server_opts_init(&o);
 *   o.api_key = "test-key";                      // default "test-key"
 *   const char *args[] = {"--long-poll-ms", "200", NULL};
 *   o.extra_args = args;                          // NULL-terminated, optional
 *   if (fwt_local_server_start(&srv, &o) != 0) fail();
 *   const char *url = fwt_local_server_url(srv);  // "http://127.0.0.1:PORT"
 *   ...
 *   fwt_local_server_kill9(srv);                  // crash it (SIGKILL), data dir kept
 *   fwt_local_server_restart(srv);                // same data dir and args, new port
 *   fwt_local_server_stop(srv);                   // SIGTERM, bounded wait, then SIGKILL
 *   fwt_local_server_free(srv);                   // stops if running, removes a temp data dir
 *
 * The binary is FWL_BINARY (a compile definition set by tests/CMakeLists.txt), or the FWL_BINARY
 * environment variable when set, or opts.binary. Each start waits (bounded by opts.start_timeout_ms) for the
 * port file the server writes atomically; the server's stdout/stderr go to opts.log_path (default: a file
 * "server.log" inside the data dir's parent temp dir) so test output stays clean.
 * The server is killed (SIGKILL) if the thread that started it exits (PR_SET_PDEATHSIG), so a crashed or failed test
 * never leaks one: start servers from a thread that outlives them (the main thread, or cmocka setup).
 * The API key reaches the server through the FWL_API_KEY environment variable (never argv).
 * Plain C, no cmocka dependency; every function returns 0 on success, -1 on failure (message on stderr).
 * Not thread-safe for one handle; separate handles are independent.
 */
#ifndef FWT_TEST_LOCAL_SERVER_H
#define FWT_TEST_LOCAL_SERVER_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fwt_local_server fwt_local_server;

typedef struct fwt_local_server_opts {
    const char *binary;           /* NULL: $FWL_BINARY, else the FWL_BINARY compile definition */
    const char *data_dir;         /* NULL: a fresh temp dir, removed by fwt_local_server_free */
    const char *api_key;          /* NULL: "test-key" */
    const char *const *extra_args;/* NULL-terminated extra command-line arguments, or NULL */
    int start_timeout_ms;         /* 0: 10000 */
    int stop_timeout_ms;          /* 0: 5000 (then SIGKILL) */
    int quiet;                    /* 1 (default): server output to a log file; 0: inherit stdout/stderr */
} fwt_local_server_opts;

/* Fills defaults. */
void fwt_local_server_opts_init(fwt_local_server_opts *o);

/* Starts a server; *out receives the handle (also on failure after the temp dir was made: free it). */
int fwt_local_server_start(fwt_local_server **out, const fwt_local_server_opts *o);

/* "http://127.0.0.1:PORT" of the running server (borrowed; valid until the next restart or free). */
const char *fwt_local_server_url(const fwt_local_server *s);
int fwt_local_server_port(const fwt_local_server *s);
/* The data dir (borrowed). */
const char *fwt_local_server_data_dir(const fwt_local_server *s);
/* The account id every resource lives under: always "local" (accounts/local). */
const char *fwt_local_server_account(const fwt_local_server *s);
/* The API key the server accepts (borrowed). */
const char *fwt_local_server_api_key(const fwt_local_server *s);
/* Path of the server's log file, or NULL when not quiet. */
const char *fwt_local_server_log_path(const fwt_local_server *s);
pid_t fwt_local_server_pid(const fwt_local_server *s);

/* SIGTERM, wait up to stop_timeout_ms, then SIGKILL. Returns the exit status (0 clean), -1 if killed/failed. */
int fwt_local_server_stop(fwt_local_server *s);
/* SIGKILL now and reap it (simulates a crash; the data dir is kept). */
int fwt_local_server_kill9(fwt_local_server *s);
/* Start again on the same data dir with the same arguments (stops a running one first). The port changes. */
int fwt_local_server_restart(fwt_local_server *s);
/* Stops if running, removes the temp data dir if this handle created it, frees. NULL is fine. */
void fwt_local_server_free(fwt_local_server *s);

#ifdef __cplusplus
}
#endif

#endif /* FWT_TEST_LOCAL_SERVER_H */
