/* The fwtrain CLI without a server: usage errors, help, exit codes, resolve, the automatic output model id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"
#include "proc.h"

static proc_result run(const char *a1, const char *a2, const char *a3, const char *a4, const char *a5)
{
    char *argv[] = {FWT_CLI, (char *)a1, (char *)a2, (char *)a3, (char *)a4, (char *)a5, NULL};
    proc_result r;
    assert_int_equal(proc_run(&r, argv, 0), 0);
    return r;
}

static void expect(const char *a1, const char *a2, const char *a3, const char *a4, const char *a5, int code,
                   const char *in_out, const char *in_err)
{
    proc_result r = run(a1, a2, a3, a4, a5);
    if (r.exit_code != code || (in_out && !strstr(r.out, in_out)) || (in_err && !strstr(r.err, in_err)))
        fail_msg("fwtrain %s %s %s: exit %d (want %d)\nstdout: %s\nstderr: %s", a1 ? a1 : "", a2 ? a2 : "",
                 a3 ? a3 : "", r.exit_code, code, r.out, r.err);
    proc_result_free(&r);
}

static void test_help_and_usage(void **state)
{
    (void)state;
    expect("--help", NULL, NULL, NULL, NULL, 0, "Exit codes:", NULL);
    expect("--version", NULL, NULL, NULL, NULL, 0, "fwtrain 0.", NULL);
    expect(NULL, NULL, NULL, NULL, NULL, 2, NULL, "Usage: fwtrain");
    expect("frobnicate", NULL, NULL, NULL, NULL, 2, NULL, "unknown command 'frobnicate'");
    expect("promote", "--help", NULL, NULL, NULL, 0, "--checkpoints-jsonl FILE", NULL);
    expect("checkpoints", "--help", NULL, NULL, NULL, 0, "checkpoints resolve NAME", NULL);
    expect("promote", NULL, NULL, NULL, NULL, 2, NULL, "exactly one of --checkpoints-jsonl");
    expect("promote", "--checkpoints-jsonl", "x", "--job-id", "j", 2, NULL, "exactly one of");
    expect("promote", "--job-id", "j", "--hot-load-deployment-id", "", 2, NULL, "needs a deployment id");
    expect("promote", "--checkpoints-jsonl", "x", "--step", "-3", 2, NULL, "--step needs a non-negative integer");
    expect("promote", "--checkpoints-jsonl", "x", "--output-model-id", "Bad_Id", 2, NULL, "--output-model-id");
    expect("promote", "--checkpoints-jsonl", NULL, NULL, NULL, 2, NULL, "needs a value");
    expect("promote", "--bogus", NULL, NULL, NULL, 2, NULL, "unknown option '--bogus'");
    expect("promote", "--checkpoints-jsonl", "/nonexistent/checkpoints.jsonl", NULL, NULL, 1, NULL,
           "No such file");
    expect("checkpoints", NULL, NULL, NULL, NULL, 2, NULL, "list or resolve");
    expect("checkpoints", "list", NULL, NULL, NULL, 2, NULL, "--job-id");
    expect("checkpoints", "remove", NULL, NULL, NULL, 2, NULL, "unknown subcommand");
}

static void test_resolve(void **state)
{
    (void)state;
    expect("checkpoints", "resolve", "step-4", "--job-id", "old-job", 0, "cross_job://old-job/step-4\n", NULL);
    expect("checkpoints", "resolve", "--job-id", " old-job ", "step-4", 0, "cross_job://old-job/step-4\n", NULL);
    expect("checkpoints", "resolve", "gs://bucket/ckpt", NULL, NULL, 0, "gs://bucket/ckpt\n", NULL);
    expect("checkpoints", "resolve", "step-4", NULL, NULL, 2, NULL, "needs --job-id");
    expect("checkpoints", "resolve", "i44pvd4syzg8hjfk:step-4", NULL, NULL, 0, "cross_job://i44pvd4syzg8hjfk/step-4\n",
           NULL);
    expect("checkpoints", "resolve", NULL, NULL, NULL, 2, NULL, "one checkpoint NAME");
    expect("checkpoints", "resolve", "a/b", "--job-id", "j", 2, NULL, "cannot resolve");
}

static void test_promote_needs_key(void **state)
{
    (void)state;
    char dir[] = "/tmp/fwt-cli-XXXXXX";
    assert_non_null(mkdtemp(dir));
    fwt_registry_entry e;
    fwt_registry_entry_init(&e, FWT_REGISTRY_ENTRY_VERSION);
    e.name = "step-2";
    e.step = 2;
    e.sampler_path = "step-2-0badf00d";
    e.source_job_id = "job-x";
    assert_int_equal(fwt_registry_append(dir, &e), FWT_OK);
    char file[64];
    snprintf(file, sizeof file, "%s/checkpoints.jsonl", dir);
    unsetenv("FIREWORKS_API_KEY");
    /* no base model anywhere: it is read from the job, which needs the key */
    expect("promote", "--checkpoints-jsonl", file, NULL, NULL, 2, NULL, "FIREWORKS_API_KEY is not set");
    /* a torn tail is ignored, with a warning */
    FILE *fp = fopen(file, "a");
    assert_non_null(fp);
    fputs("{\"name\":\"step-3\",\"st", fp);
    fclose(fp);
    expect("promote", "--checkpoints-jsonl", file, NULL, NULL, 2, NULL, "warning: ignored 20 bytes");
    /* no key: usage error naming the variable */
    expect("promote", "--checkpoints-jsonl", file, "--base-model", "accounts/fireworks/models/m", 2, NULL,
           "FIREWORKS_API_KEY is not set");
    rm_rf(dir);
}

static void test_auto_output_model_id(void **state)
{
    (void)state;
    char id[64];
    cli_auto_output_model_id(id, "accounts/fireworks/models/qwen3-8b", "step-50-a1b2c3d4", 1767225612);
    assert_string_equal(id, "qwen3-8b-promote-step-50-a1b2c3d4-25612");
    cli_auto_output_model_id(id, "accounts/fireworks/models/Qwen3_8B", "Step 50__x", 7);
    assert_string_equal(id, "qwen3-8b-promote-step-50-x-7");
    cli_auto_output_model_id(id, "m", "--", 100000);
    assert_string_equal(id, "m-promote-0");
    cli_auto_output_model_id(id, "", "", 0);
    assert_string_equal(id, "promote-0");
    cli_auto_output_model_id(id,
                             "accounts/fireworks/models/a-very-long-model-name-that-goes-on-and-on-and-on-forever",
                             "step-123456789", 99999);
    assert_true(strlen(id) <= 63);
    assert_true(id[strlen(id) - 1] != '-');
    assert_int_equal(fwt_promote_validate_output_model_id(id), FWT_OK);
    cli_auto_output_model_id(id, "___", "___", -1);
    assert_true(strlen(id) > 0 && id[0] != '-');
}

/* What cli_fail prints on stderr for (status, http, message). */
static void fail_text(char *out, size_t n, int status, int http, const char *message)
{
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = tmpfile();
    assert_true(saved >= 0 && tmp);
    assert_true(dup2(fileno(tmp), 2) >= 0);
    fwt_error e = {.code = status, .http_status = http, .message = message, .request_id = ""};
    (void)cli_fail("promotion failed", status, &e);
    fflush(stderr);
    assert_true(dup2(saved, 2) >= 0);
    close(saved);
    rewind(tmp);
    size_t got = fread(out, 1, n - 1, tmp);
    out[got] = '\0';
    fclose(tmp);
}

/* The status is added once: not again when the library's message already names it. */
static void test_fail_message_names_status_once(void **state)
{
    (void)state;
    char text[512];
    fail_text(text, sizeof text, FWT_ENOTFOUND, 400, "checkpoint x not found in trainer j1 (HTTP 400)");
    assert_string_equal(text, "fwtrain: promotion failed: checkpoint x not found in trainer j1 (HTTP 400)\n");
    fail_text(text, sizeof text, FWT_EAUTH, 401, "denied (HTTP 401; is the API key valid and training-scoped?)");
    assert_non_null(strstr(text, "training-scoped?)\n"));
    assert_null(strstr(text, "(HTTP 401)"));
    fail_text(text, sizeof text, FWT_EHTTP, 503, "service unavailable");
    assert_string_equal(text, "fwtrain: promotion failed: service unavailable (HTTP 503)\n");
    /* another status in the text does not count */
    fail_text(text, sizeof text, FWT_EHTTP, 502, "upstream said HTTP 500");
    assert_string_equal(text, "fwtrain: promotion failed: upstream said HTTP 500 (HTTP 502)\n");
    fail_text(text, sizeof text, FWT_EIO, 0, "disk full");
    assert_string_equal(text, "fwtrain: promotion failed: disk full\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_and_usage),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_promote_needs_key),
        cmocka_unit_test(test_auto_output_model_id),
        cmocka_unit_test(test_fail_message_names_status_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
