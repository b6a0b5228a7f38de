/*
 * Child-process helpers for the cookbook tests: run a program and capture its
 * output, optionally SIGKILLing it after it printed N lines; start and stop
 * fwtrain-local on a free port.
 */
#ifndef FWT_TESTS_COOKBOOK_PROC_H
#define FWT_TESTS_COOKBOOK_PROC_H

#include <stddef.h>
#include <sys/types.h>

typedef struct proc_result {
    int exit_code;   /* exit status, or 128 + signal */
    char *out;       /* stdout (malloc'd, NUL-terminated) */
    char *err;       /* stderr (malloc'd, NUL-terminated) */
    size_t lines;    /* complete stdout lines read */
} proc_result;

/*
 * Run argv[0] with argv (NULL-terminated). If kill_after_lines > 0, the child
 * gets SIGKILL as soon as that many stdout lines were read. 0 on success
 * (the child ran, whatever its exit code), -1 if it could not be started.
 */
int proc_run(proc_result *r, char *const argv[], size_t kill_after_lines);
void proc_result_free(proc_result *r);

typedef struct local_server {
    pid_t pid;
    char dir[64];      /* temp dir: data/, port, server.log */
    char base_url[64];
} local_server;

/* Start fwtrain-local (binary path) with api_key; sets FIREWORKS_BASE_URL / FIREWORKS_API_KEY. 0 or -1. */
int server_start(local_server *s, const char *binary, const char *api_key);
/* SIGTERM, wait, remove the temp dir. */
void server_stop(local_server *s);

/* rm -rf a path (tests only). */
void rm_rf(const char *path);

#endif /* FWT_TESTS_COOKBOOK_PROC_H */
