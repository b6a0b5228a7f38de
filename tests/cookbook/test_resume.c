/*
 * The cookbook layer against fwtrain-local: sft_resume killed with SIGKILL and
 * resumed prints exactly the uninterrupted run's lines; init_from_checkpoint;
 * its mutual exclusion with an automatic resume; `fwtrain promote` from a
 * checkpoints.jsonl (latest, --step, nothing promotable) and from a job.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fwtrain/fwtrain.h"
#include "fixture.h"
#include "proc.h"

#define STEPS "24"
#define N_STEPS 24
#define INTERVAL "4"

static int group_setup(void **state)
{
    (void)state;
    static const char *const args[] = {"--job-start-ms", "10", "--hotload-ms", "10", "--promote-ms", "20", NULL};
    /* sft_resume and fwtrain read the environment, as a user's programs would */
    fx_opts o = {.root_tag = "cookbook-runs", .api_key = "cookbook-test-key", .server_args = args, .export_env = 1};
    return fx_start(&o);
}

/* Run sft_resume on log dir `name`; extra args may be NULL. */
static void sft(proc_result *r, const char *name, size_t kill_after, const char *extra1, const char *extra2)
{
    char log[128];
    fx_path(log, sizeof log, name);
    char *argv[] = {FWT_SFT_RESUME, "--log-path", log, "--dataset", FWT_DATASET, "--steps", STEPS,
                    "--dcp-save-interval", INTERVAL, (char *)extra1, (char *)extra2, NULL};
    assert_int_equal(proc_run(r, argv, kill_after), 0);
}

static proc_result reference; /* the uninterrupted run "a" */

static void test_uninterrupted_reference(void **state)
{
    (void)state;
    sft(&reference, "a", 0, NULL, NULL);
    if (reference.exit_code != 0)
        fail_msg("sft_resume failed (%d): %s", reference.exit_code, reference.err);
    assert_int_equal(proc_count_lines(reference.out), N_STEPS);
    char line[128];
    for (long s = 1; s <= N_STEPS; s++)
        assert_true(proc_find_step_line(reference.out, s, line, sizeof line, 0));
    /* the loss goes down on real text */
    double first, last;
    proc_find_step_line(reference.out, 1, line, sizeof line, 0);
    assert_int_equal(sscanf(strstr(line, "loss="), "loss=%la", &first), 1);
    proc_find_step_line(reference.out, N_STEPS, line, sizeof line, 0);
    assert_int_equal(sscanf(strstr(line, "loss="), "loss=%la", &last), 1);
    assert_true(last < first);

    char log[128];
    fx_path(log, sizeof log, "a");
    fwt_registry *l = NULL;
    assert_int_equal(fwt_registry_read(&l, log), FWT_OK);
    assert_int_equal(fwt_registry_count(l), N_STEPS / 4); /* STATE at 4..20, BOTH at 24 */
    const fwt_registry_entry *e = fwt_registry_get(l, 0);
    assert_string_equal(e->name, "step-4");
    assert_int_equal(e->step, 4);
    assert_int_equal(e->data_consumed, 16);
    assert_int_equal(fwt_registry_entry_kind(e), FWT_CHECKPOINT_KIND_STATE);
    char want[160];
    snprintf(want, sizeof want, "cross_job://%s/step-4", e->source_job_id);
    assert_string_equal(e->state_path, want);
    assert_string_equal(e->base_model, MODEL);
    e = fwt_registry_latest_promotable(l);
    assert_non_null(e);
    assert_int_equal(e->step, N_STEPS);
    assert_int_equal(fwt_registry_entry_kind(e), FWT_CHECKPOINT_KIND_BOTH);
    fwt_registry_free(l);

    /* A rerun of a finished run trains nothing. */
    proc_result again;
    sft(&again, "a", 0, NULL, NULL);
    assert_int_equal(again.exit_code, 0);
    assert_string_equal(again.out, "");
    assert_non_null(strstr(again.err, "already complete"));
    proc_result_free(&again);
}

/* Killed at a random step and rerun: the union of the step lines is the uninterrupted run's. */
static void test_kill_and_resume(void **state)
{
    (void)state;
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    const char *env_seed = getenv("FWT_TEST_SEED");
    if (env_seed)
        seed = (unsigned)strtoul(env_seed, NULL, 10);
    srand(seed);
    for (int round = 0; round < 2; round++) {
        size_t kill_at = 1 + (size_t)rand() % (N_STEPS - 1);
        printf("# round %d: SIGKILL after %zu step lines (FWT_TEST_SEED=%u)\n", round, kill_at, seed);
        char name[16];
        snprintf(name, sizeof name, "b%d", round);
        proc_result first, second;
        sft(&first, name, kill_at, NULL, NULL);
        assert_true(first.lines >= kill_at);
        sft(&second, name, 0, NULL, NULL);
        if (second.exit_code != 0)
            fail_msg("resumed run failed (%d): %s", second.exit_code, second.err);
        /* Every line printed by either run is the reference's line for that step. */
        const char *outs[2] = {first.out, second.out};
        for (int k = 0; k < 2; k++) {
            for (const char *p = outs[k]; *p;) {
                const char *nl = strchr(p, '\n');
                long step = 0;
                assert_int_equal(sscanf(p, "step=%ld ", &step), 1);
                char ref[128];
                assert_true(proc_find_step_line(reference.out, step, ref, sizeof ref, 0));
                if (strncmp(p, ref, (size_t)(nl - p)) != 0 || strlen(ref) != (size_t)(nl - p))
                    fail_msg("step %ld: \"%.*s\" != reference \"%s\"", step, (int)(nl - p), p, ref);
                p = nl + 1;
            }
        }
        /* Together they cover every step; the second run starts right after a checkpoint. */
        char line[128];
        for (long s = 1; s <= N_STEPS; s++)
            if (!proc_find_step_line(first.out, s, line, sizeof line, 0) &&
                !proc_find_step_line(second.out, s, line, sizeof line, 0))
                fail_msg("step %ld missing from both runs", s);
        long resumed_at = 0;
        if (second.out[0])
            assert_int_equal(sscanf(second.out, "step=%ld ", &resumed_at), 1);
        assert_true(resumed_at == 0 || (resumed_at - 1) % 4 == 0);
        assert_int_equal(proc_count_lines(second.out), resumed_at ? N_STEPS - resumed_at + 1 : 0);
        if (resumed_at > 1)
            assert_non_null(strstr(second.err, "resuming"));
        proc_result_free(&first);
        proc_result_free(&second);
    }
}

/* A torn record at the end of checkpoints.jsonl: the rerun warns, resumes from the entry before it, cuts
 * the fragment on its next save and finishes with the reference's lines. */
static void test_resume_after_torn_tail(void **state)
{
    (void)state;
    proc_result first, second;
    sft(&first, "torn", 6, NULL, NULL);
    char log[128], file[160];
    fx_path(log, sizeof log, "torn");
    snprintf(file, sizeof file, "%s/checkpoints.jsonl", log);
    fwt_registry *l = NULL;
    assert_int_equal(fwt_registry_read(&l, log), FWT_OK);
    const fwt_registry_entry *e = fwt_registry_last_resumable(l);
    assert_non_null(e);
    long resume_from = (long)e->step;
    fwt_registry_free(l);
    const char *frag = "{\"name\":\"step-99\",\"st";
    FILE *fp = fopen(file, "a");
    assert_non_null(fp);
    fputs(frag, fp);
    fclose(fp);

    sft(&second, "torn", 0, NULL, NULL);
    if (second.exit_code != 0)
        fail_msg("resumed run failed (%d): %s", second.exit_code, second.err);
    char want[96];
    snprintf(want, sizeof want, "warning: ignored %zu bytes of torn tail", strlen(frag));
    if (!strstr(second.err, want))
        fail_msg("no \"%s\" in: %s", want, second.err);
    long resumed_at = 0;
    assert_int_equal(sscanf(second.out, "step=%ld ", &resumed_at), 1);
    assert_int_equal(resumed_at, resume_from + 1);
    char line[128], ref[128];
    for (long s = resumed_at; s <= N_STEPS; s++) {
        assert_true(proc_find_step_line(second.out, s, line, sizeof line, 0));
        assert_true(proc_find_step_line(reference.out, s, ref, sizeof ref, 0));
        assert_string_equal(line, ref);
    }
    assert_int_equal(fwt_registry_read(&l, log), FWT_OK);
    assert_int_equal(fwt_registry_torn_bytes(l), 0);
    assert_int_equal(fwt_registry_latest_promotable(l)->step, N_STEPS);
    fwt_registry_free(l);
    proc_result_free(&first);
    proc_result_free(&second);
}

static void source_job_of(const char *name, char *job, size_t n)
{
    char log[128];
    fx_path(log, sizeof log, name);
    fwt_registry *l = NULL;
    assert_int_equal(fwt_registry_read(&l, log), FWT_OK);
    assert_true(fwt_registry_count(l) > 0);
    snprintf(job, n, "%s", fwt_registry_get(l, 0)->source_job_id);
    fwt_registry_free(l);
}

/* init_from_checkpoint loads another job's step-8 and restarts the count at step 0. */
static void test_init_from_checkpoint(void **state)
{
    (void)state;
    char job_a[80], spec[128];
    source_job_of("a", job_a, sizeof job_a);
    snprintf(spec, sizeof spec, "%s:step-8", job_a);
    proc_result c;
    sft(&c, "c", 0, "--init-from-checkpoint", spec);
    if (c.exit_code != 0)
        fail_msg("init run failed (%d): %s", c.exit_code, c.err);
    char ref[160];
    snprintf(ref, sizeof ref, "cross_job://%s/step-8", job_a);
    assert_non_null(strstr(c.err, ref));
    assert_int_equal(proc_count_lines(c.out), N_STEPS);
    /* step 1 sees batch 0 again, but with weights trained for 8 steps: lower loss than a fresh start */
    char line[128];
    double fresh, init;
    proc_find_step_line(reference.out, 1, line, sizeof line, 0);
    sscanf(strstr(line, "loss="), "loss=%la", &fresh);
    assert_true(proc_find_step_line(c.out, 1, line, sizeof line, 0));
    sscanf(strstr(line, "loss="), "loss=%la", &init);
    assert_true(init < fresh);
    /* its registry belongs to its own job */
    char job_c[80];
    source_job_of("c", job_c, sizeof job_c);
    assert_string_not_equal(job_c, job_a);
    proc_result_free(&c);

    /* init_from_checkpoint while the log path offers an automatic resume: refused, nothing trained. */
    proc_result d1, d2;
    sft(&d1, "d", 7, NULL, NULL); /* killed after step 7 printed: step-4 is recorded */
    char log[128];
    fx_path(log, sizeof log, "d");
    fwt_registry *l = NULL;
    assert_int_equal(fwt_registry_read(&l, log), FWT_OK);
    size_t before = fwt_registry_count(l);
    assert_true(before >= 1);
    fwt_registry_free(l);
    sft(&d2, "d", 0, "--init-from-checkpoint", spec);
    assert_int_not_equal(d2.exit_code, 0);
    assert_non_null(strstr(d2.err, "mutually exclusive"));
    assert_string_equal(d2.out, "");
    proc_result_free(&d1);
    proc_result_free(&d2);
    assert_int_equal(fwt_registry_read(&l, log), FWT_OK);
    assert_int_equal(fwt_registry_count(l), before);
    fwt_registry_free(l);
}

/* `fwtrain a1..a7`; promote polls its operation every 50 ms instead of the service's 10 s. */
static void cli(proc_result *r, const char *a1, const char *a2, const char *a3, const char *a4, const char *a5,
                const char *a6, const char *a7)
{
    int promote = !strcmp(a1, "promote");
    char *argv[] = {FWT_CLI, (char *)a1, promote ? "--poll-interval-ms" : (char *)a2, promote ? "50" : (char *)a3,
                    (char *)(promote ? a2 : a4), (char *)(promote ? a3 : a5), (char *)(promote ? a4 : a6),
                    (char *)(promote ? a5 : a7), (char *)(promote ? a6 : NULL), (char *)(promote ? a7 : NULL), NULL};
    assert_int_equal(proc_run(r, argv, 0), 0);
}

static void test_cli_promote(void **state)
{
    (void)state;
    char jsonl[160];
    snprintf(jsonl, sizeof jsonl, "%s/a/checkpoints.jsonl", fx.root);

    /* latest promotable: the final BOTH checkpoint */
    proc_result r;
    cli(&r, "promote", "--checkpoints-jsonl", jsonl, "--output-model-id", "cookbook-latest", NULL, NULL);
    if (r.exit_code != 0)
        fail_msg("promote failed (%d): %s", r.exit_code, r.err);
    assert_non_null(strstr(r.out, "model: accounts/"));
    assert_non_null(strstr(r.out, "/models/cookbook-latest\n"));
    assert_non_null(strstr(r.out, "state: "));
    assert_non_null(strstr(r.out, "kind: "));
    assert_non_null(strstr(r.err, "selected step-24 (step 24, kind BOTH)"));
    proc_result_free(&r);

    /* by --step, with the automatic output id (docs/protocol.md §6) */
    cli(&r, "promote", "--checkpoints-jsonl", jsonl, "--step", "24", NULL, NULL);
    if (r.exit_code != 0)
        fail_msg("promote --step failed (%d): %s", r.exit_code, r.err);
    assert_non_null(strstr(r.out, "/models/fwtrain-local-byte-promote-step-24-"));
    proc_result_free(&r);

    /* a STATE step is not promotable; an unknown step is nothing to promote */
    cli(&r, "promote", "--checkpoints-jsonl", jsonl, "--step", "8", NULL, NULL);
    assert_int_equal(r.exit_code, 3);
    assert_non_null(strstr(r.err, "cannot be promoted"));
    assert_non_null(strstr(r.err, "latest promotable step is 24"));
    proc_result_free(&r);
    cli(&r, "promote", "--checkpoints-jsonl", jsonl, "--step", "99", NULL, NULL);
    assert_int_equal(r.exit_code, 3);
    assert_non_null(strstr(r.err, "no entry for step 99"));
    proc_result_free(&r);

    /* a registry with only mid-training STATE saves: nothing to promote */
    char only_state[160];
    snprintf(only_state, sizeof only_state, "%s/only-state.jsonl", fx.root);
    FILE *in = fopen(jsonl, "r"), *out = fopen(only_state, "w");
    assert_non_null(in);
    assert_non_null(out);
    char buf[1024];
    for (int i = 0; i < 3 && fgets(buf, sizeof buf, in); i++)
        fputs(buf, out);
    fclose(in);
    fclose(out);
    cli(&r, "promote", "--checkpoints-jsonl", only_state, NULL, NULL, NULL, NULL);
    assert_int_equal(r.exit_code, 3);
    assert_non_null(strstr(r.err, "has no promotable checkpoint"));
    assert_string_equal(r.out, "");
    proc_result_free(&r);

    /* from the control-plane listing of the job */
    char job_a[80];
    source_job_of("a", job_a, sizeof job_a);
    cli(&r, "checkpoints", "list", "--job-id", job_a, "--promotable-only", "--json", NULL);
    if (r.exit_code != 0)
        fail_msg("checkpoints list failed (%d): %s", r.exit_code, r.err);
    assert_non_null(strstr(r.out, "\"checkpoint_id\":\t\"step-24-"));
    assert_null(strstr(r.out, "\"step-4\""));
    proc_result_free(&r);
    cli(&r, "checkpoints", "list", "--job-id", job_a, NULL, NULL, NULL);
    assert_int_equal(r.exit_code, 0);
    assert_non_null(strstr(r.out, "CHECKPOINT"));
    assert_non_null(strstr(r.out, "\nstep-4 "));  /* the DCP row, not promotable */
    assert_non_null(strstr(r.out, "\nstep-24-")); /* the sampler row */
    proc_result_free(&r);
    cli(&r, "promote", "--job-id", job_a, "--checkpoint-name", "step-24", "--base-model", MODEL);
    if (r.exit_code != 0)
        fail_msg("promote --job-id failed (%d): %s", r.exit_code, r.err);
    assert_non_null(strstr(r.out, "model: accounts/"));
    proc_result_free(&r);
    cli(&r, "promote", "--job-id", job_a, "--checkpoint-name", "step-4", "--base-model", MODEL);
    assert_int_equal(r.exit_code, 3);
    proc_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uninterrupted_reference),
        cmocka_unit_test(test_kill_and_resume),
        cmocka_unit_test(test_resume_after_torn_tail),
        cmocka_unit_test(test_init_from_checkpoint),
        cmocka_unit_test(test_cli_promote),
    };
    int rc = cmocka_run_group_tests(tests, group_setup, fx_teardown);
    proc_result_free(&reference);
    return rc;
}
