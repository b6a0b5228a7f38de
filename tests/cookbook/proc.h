/*
 * Child-process helpers for the cookbook tests: run a program and capture its
 * output, optionally SIGKILLing it after it printed N lines.
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

/* The number of '\n'-terminated lines of `s`. */
size_t proc_count_lines(const char *s);

/*
 * The line "step=<step> ..." of a training program's output (sft_resume), copied into `line` (n bytes); the
 * first such line, or the last one when `last` (an output that repeats steps after a recovery). 0 if absent.
 */
int proc_find_step_line(const char *out, long step, char *line, size_t n, int last);

/* rm -rf a path (tests only). */
void rm_rf(const char *path);

#endif /* FWT_TESTS_COOKBOOK_PROC_H */
