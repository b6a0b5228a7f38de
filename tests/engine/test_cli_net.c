/*
 * The fwtrain CLI against servers that fail: one stderr line per retry by
 * default, the final message saying what was tried, and the global flags
 * --verbose, --quiet, --timeout SECONDS and --allow-insecure-http. Each run
 * is bounded by a short --timeout: nothing waits for the 30 s default.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "proc.h"
#include "responder.h"

static int refused_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Run fwtrain with up to 7 arguments (NULL-terminated list). */
static proc_result run(const char *const *args)
{
    char *argv[10] = {FWT_CLI};
    size_t n = 1;
    for (; args[n - 1] && n < 9; n++)
        argv[n] = (char *)args[n - 1];
    argv[n] = NULL;
    proc_result r;
    assert_int_equal(proc_run(&r, argv, 0), 0);
    return r;
}

static size_t count(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static void dump_fail(const proc_result *r, const char *why)
{
    fail_msg("%s (exit %d)\nstdout: %s\nstderr: %s", why, r->exit_code, r->out, r->err);
}

/* Parse "after N attempts over X s" from the final error; returns N. */
static int attempts_in(const proc_result *r)
{
    const char *p = strstr(r->err, " after ");
    int n = 0;
    double secs = 0;
    while (p && sscanf(p, " after %d attempt%*[s] over %lf s", &n, &secs) != 2 &&
           sscanf(p, " after %d attempt over %lf s", &n, &secs) != 2)
        p = strstr(p + 1, " after ");
    if (!p)
        dump_fail(r, "no \"after N attempts over X s\" in the final error");
    return n;
}

static void set_base(const char *base)
{
    setenv("FIREWORKS_API_KEY", "cli-test-key-0123456789", 1);
    setenv("FIREWORKS_BASE_URL", base, 1);
    unsetenv("FIREWORKS_ACCOUNT_ID");
}

static void test_refused_prints_each_retry(void **state)
{
    (void)state;
    char base[64], want[96];
    int port = refused_port();
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
    set_base(base);
    const char *args[] = {"checkpoints", "list", "--job-id", "j", "--timeout", "2", NULL};
    proc_result r = run(args);
    if (r.exit_code != 1)
        dump_fail(&r, "want exit 1");
    snprintf(want, sizeof want, "connection refused to 127.0.0.1:%d after ", port);
    if (!strstr(r.err, want))
        dump_fail(&r, "final message does not name the refused address");
    int n = attempts_in(&r);
    assert_true(n >= 2);
    /* one line per retry: attempts - 1 */
    if (count(r.err, "fwtrain: retrying GET http://127.0.0.1:") != (size_t)n - 1)
        dump_fail(&r, "not one retry line per retry");
    assert_null(strstr(r.err, "after 0 ms"));
    assert_null(strstr(r.err, "debug:"));
    proc_result_free(&r);
}

static void test_quiet_and_verbose(void **state)
{
    (void)state;
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", refused_port());
    set_base(base);
    const char *quiet[] = {"--quiet", "checkpoints", "list", "--job-id", "j", "--timeout=1.5", NULL};
    proc_result r = run(quiet);
    if (r.exit_code != 1 || strstr(r.err, "retrying") || !strstr(r.err, "connection refused to 127.0.0.1:"))
        dump_fail(&r, "--quiet: want the error and no retry line");
    attempts_in(&r);
    proc_result_free(&r);

    const char *verbose[] = {"checkpoints", "list", "-v", "--job-id", "j", "--timeout", "1.5", NULL};
    r = run(verbose);
    if (r.exit_code != 1 || !strstr(r.err, "fwtrain: debug: http GET http://127.0.0.1:") ||
        !strstr(r.err, "fwtrain: retrying GET"))
        dump_fail(&r, "--verbose: want the debug log and the retry lines");
    proc_result_free(&r);

    const char *both[] = {"-v", "-q", "checkpoints", "list", "--job-id", "j", NULL};
    r = run(both);
    if (r.exit_code != 2 || !strstr(r.err, "exclude each other"))
        dump_fail(&r, "--verbose with --quiet is a usage error");
    proc_result_free(&r);
}

static void test_timeout_values(void **state)
{
    (void)state;
    set_base("http://127.0.0.1:9");
    static const char *const bad[] = {"0", "-1", "abc", "1e9", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *args[] = {"--timeout", bad[i], "checkpoints", "list", "--job-id", "j", NULL};
        proc_result r = run(args);
        if (r.exit_code != 2 || !strstr(r.err, "--timeout needs a number of seconds"))
            dump_fail(&r, "bad --timeout accepted");
        proc_result_free(&r);
    }
    const char *missing[] = {"checkpoints", "list", "--job-id", "j", "--timeout", NULL};
    proc_result r = run(missing);
    if (r.exit_code != 2)
        dump_fail(&r, "--timeout without a value");
    proc_result_free(&r);
}

static void test_allow_insecure_http(void **state)
{
    (void)state;
    /* http:// to a name that is not this machine: refused, and the message names the CLI's flag */
    set_base("http://nonexistent.invalid");
    const char *plain[] = {"checkpoints", "list", "--job-id", "j", NULL};
    proc_result r = run(plain);
    if (r.exit_code != 2 || !strstr(r.err, "--allow-insecure-http") || strstr(r.err, "allow_insecure_http"))
        dump_fail(&r, "want a usage error naming --allow-insecure-http (and no library option name)");
    proc_result_free(&r);
    /* with the flag the request is attempted: the name resolves nowhere */
    const char *allowed[] = {"--allow-insecure-http", "checkpoints", "list", "--job-id", "j", "--timeout", "1.5", NULL};
    r = run(allowed);
    if (r.exit_code != 1 || !strstr(r.err, "could not resolve host nonexistent.invalid after "))
        dump_fail(&r, "--allow-insecure-http: want the request tried");
    proc_result_free(&r);
}

static void test_help_lists_flags(void **state)
{
    (void)state;
    const char *args[] = {"--help", NULL};
    proc_result r = run(args);
    assert_int_equal(r.exit_code, 0);
    static const char *const flags[] = {"--verbose", "--quiet", "--timeout SECONDS", "--allow-insecure-http",
                                        "FIREWORKS_ACCOUNT_ID", "retrying"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (!strstr(r.out, flags[i]))
            dump_fail(&r, flags[i]);
    proc_result_free(&r);
}

/* 401 gets the key hint; 403 says permission was denied and who said so, never "check the key". */
static void test_auth_hints(void **state)
{
    (void)state;
    fwt_responder *srv;
    assert_int_equal(fwt_responder_start(&srv, NULL, NULL), 0);
    char *base = fwt_responder_url(srv, "");
    set_base(base);
    setenv("FIREWORKS_ACCOUNT_ID", "acct", 1);
    fwt_resp_action a401 = {.status = 401, .content_type = "application/json",
                            .body = "{\"code\":16,\"message\":\"invalid api key\"}"};
    fwt_responder_push(srv, &a401);
    const char *args[] = {"checkpoints", "list", "--job-id", "j", NULL};
    proc_result r = run(args);
    if (r.exit_code != 4 || !strstr(r.err, "check FIREWORKS_API_KEY"))
        dump_fail(&r, "401: want exit 4 and the key hint");
    proc_result_free(&r);

    fwt_resp_action a403 = {.status = 403, .content_type = "text/plain",
                            .body = "Forbidden by corporate proxy policy (squid)"};
    fwt_responder_push(srv, &a403);
    r = run(args);
    if (r.exit_code != 4 || strstr(r.err, "FIREWORKS_API_KEY") || !strstr(r.err, "permission denied") ||
        !strstr(r.err, "Forbidden by corporate proxy policy (squid)"))
        dump_fail(&r, "403: want permission denied with the body's reason and no key hint");
    proc_result_free(&r);
    free(base);
    fwt_responder_stop(srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused_prints_each_retry),
        cmocka_unit_test(test_quiet_and_verbose),
        cmocka_unit_test(test_timeout_values),
        cmocka_unit_test(test_allow_insecure_http),
        cmocka_unit_test(test_help_lists_flags),
        cmocka_unit_test(test_auth_hints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
