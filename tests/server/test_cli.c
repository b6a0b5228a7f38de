/* fwtrain-local refuses to share: a port in use and a data dir in use are errors at start that name the holder;
 * options parse with getopt_long (--opt=value); failures to create files name the path and the reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "local_server.h"
#include "srv_http.h"

#define KEY "cli-key"

static fwt_local_server *srv;
static const char *base;
static char tmp[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/fwl-cli-XXXXXX");
    if (!mkdtemp(tmp))
        return -1;
    return srv_group_setup(&srv, &base, KEY, NULL);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0)
        return -1;
    return srv_group_teardown(srv);
}

/* Runs fwtrain-local with args (shell words) bounded by `timeout`; its stderr goes to err (malloc'd text).
 * Returns the exit status (124 when it had to be killed: it did not exit at once). */
static int run(const char *args, char **err)
{
    char path[128], cmd[8192];
    snprintf(path, sizeof path, "%s/stderr", tmp);
    snprintf(cmd, sizeof cmd, "FWL_API_KEY=%s timeout 20 %s %s > /dev/null 2> %s", KEY, FWL_BINARY, args, path);
    int st = system(cmd);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 8192);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 8191, f);
    buf[n] = 0;
    fclose(f);
    *err = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A second server on a port another one holds exits with 1 and says the port is in use (no SO_REUSEPORT). */
static void test_port_in_use(void **state)
{
    (void)state;
    char args[4200], *err, want[64];
    snprintf(args, sizeof args, "--data-dir %s/other --port %d", tmp, fwt_local_server_port(srv));
    assert_int_equal(run(args, &err), 1);
    snprintf(want, sizeof want, "127.0.0.1:%d", fwt_local_server_port(srv));
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, "Address already in use"));
    free(err);
    /* the first server still answers every request itself */
    srv_resp r;
    for (int i = 0; i < 5; i++) {
        srv_call(&r, base, KEY, "GET", "/v1/accounts/local", NULL);
        assert_int_equal(r.status, 200);
        srv_resp_free(&r);
    }
}

/* A second server on the same data dir exits at once with 1, naming the directory and the holder's pid. */
static void test_data_dir_locked(void **state)
{
    (void)state;
    char args[4200], *err, pid[32];
    const char *dir = fwt_local_server_data_dir(srv);
    snprintf(args, sizeof args, "--data-dir=%s --port=0", dir);
    assert_int_equal(run(args, &err), 1);
    snprintf(pid, sizeof pid, "pid %ld", (long)fwt_local_server_pid(srv));
    assert_non_null(strstr(err, dir));
    assert_non_null(strstr(err, pid));
    free(err);
    /* the lock file records the holder */
    char lp[4200];
    snprintf(lp, sizeof lp, "%s/fwtrain-local.lock", dir);
    FILE *f = fopen(lp, "r");
    assert_non_null(f);
    long held = 0;
    assert_int_equal(fscanf(f, "%ld", &held), 1);
    fclose(f);
    assert_int_equal(held, (long)fwt_local_server_pid(srv));
}

/* --opt=value and --opt value both work; bad values and unknown options are usage errors (2). */
static void test_getopt(void **state)
{
    (void)state;
    static const char *args[] = {"--long-poll-ms=300", "--job-start-ms=0", "--max-client-connections=64",
                                 "--idle-timeout-s=5", NULL};
    fwt_local_server *s2 = srv_start(KEY, args);
    assert_non_null(s2);
    srv_resp r;
    srv_call(&r, fwt_local_server_url(s2), KEY, "GET", "/v1/accounts/local", NULL);
    assert_int_equal(r.status, 200);
    srv_resp_free(&r);
    assert_int_equal(srv_finish(s2), 0);
    char a[4200], *err;
    snprintf(a, sizeof a, "--data-dir=%s/g --port=nope", tmp);
    assert_int_equal(run(a, &err), 2);
    assert_non_null(strstr(err, "--port"));
    free(err);
    snprintf(a, sizeof a, "--data-dir=%s/g --port", tmp);
    assert_int_equal(run(a, &err), 2);
    assert_non_null(strstr(err, "needs a value"));
    free(err);
    snprintf(a, sizeof a, "--data-dir %s/g --bogus=1", tmp);
    assert_int_equal(run(a, &err), 2);
    assert_non_null(strstr(err, "--bogus"));
    free(err);
    snprintf(a, sizeof a, "--data-dir %s/g stray", tmp);
    assert_int_equal(run(a, &err), 2);
    assert_non_null(strstr(err, "stray"));
    free(err);
    assert_int_equal(run("--help", &err), 0);
    free(err);
}

/* A data dir that cannot be created (a regular file is in the way): the message names the path and the reason. */
static void test_create_failure_says_why(void **state)
{
    (void)state;
    char file[200], a[4200], *err;
    snprintf(file, sizeof file, "%s/plainfile", tmp);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(a, sizeof a, "--data-dir %s/data", file);
    assert_int_equal(run(a, &err), 1);
    assert_non_null(strstr(err, file));
    assert_non_null(strstr(err, "Not a directory"));
    free(err);
    /* an unwritable --port-file: its path and the reason */
    snprintf(a, sizeof a, "--data-dir %s/pf --port-file %s/sub/port", tmp, file);
    assert_int_equal(run(a, &err), 1);
    assert_non_null(strstr(err, file));
    assert_non_null(strstr(err, "Not a directory"));
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_port_in_use),
        cmocka_unit_test(test_data_dir_locked),
        cmocka_unit_test(test_getopt),
        cmocka_unit_test(test_create_failure_says_why),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
