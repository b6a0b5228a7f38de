/*
 * The checkpointer's fixes of issue 12 against fwtrain-local:
 *  - promotion by step keeps the promotable entries first (a SAMPLER save then
 *    the periodic STATE save of the same step, written by the checkpointer
 *    itself), in the library and in `fwtrain promote --step`;
 *  - one checkpointer per log_path: a second one, in another process or in
 *    this one, fails at once naming the directory and the holder's pid; the
 *    lock goes away with a SIGKILLed holder;
 *  - resume picks the highest resumable step, not the last line;
 *  - the final save never writes the DCP of a step twice (counted at the
 *    server through the checkpoint listing's creation times);
 *  - base_model is recorded without the caller repeating it;
 *  - init_from_checkpoint takes a bare checkpoint name (the run's own job),
 *    and a registry line without `step` (the tinker cookbook's, with
 *    `batch`) resumes at its batch, extra keys kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fwtrain/fwtrain.h"
#include "fixture.h"
#include "proc.h"

/* Only a guard against a hung child: the child answers as soon as its session is open. */
#define CHILD_GUARD_MS 120000

static const char *self_path; /* argv[0]: this binary, re-run as the lock holder */

static int group_setup(void **state)
{
    (void)state;
    static const char *const args[] = {"--job-start-ms", "10", "--promote-ms", "20", NULL};
    /* the CLI and the lock-holding child read the environment, as a user's programs would */
    fx_opts o = {.root_tag = "ckfix", .api_key = "ckpt-fixes-key", .server_args = args, .export_env = 1};
    return fx_start(&o);
}

/* Options without base_model (the checkpointer finds it itself, issue 12 item 4) nor total_steps. */
static void opts_for(fwt_checkpointer_options *o, const char *log, const char *job, int64_t interval)
{
    fx_checkpointer_options(o, log, job, NULL);
    o->dcp_save_interval = interval;
    o->op_timeout_ms = 30000;
}

/* How most tests here start: a ready training on `job`, options on "<root>/<dir>" (into log) saving every 2 steps. */
static fwt_training *open_run(const char *job, const char *dir, char *log, size_t n, fwt_checkpointer_options *o)
{
    fwt_training *t = fx_open_training(job);
    opts_for(o, fx_path(log, n, dir), job, 2);
    return t;
}

/* ---- promote by step ------------------------------------------------------ */

static void test_promote_step_keeps_promotable(void **state)
{
    (void)state;
    char log[128];
    fwt_checkpointer_options o;
    fwt_training *t = open_run("fix-promote", "promote", log, sizeof log, &o);
    fwt_checkpointer *c = NULL;
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_OK);
    /* a promotable save of step 2, then step 2 completes at a multiple of the interval */
    assert_int_equal(fwt_checkpointer_save(c, 2, 8, FWT_CHECKPOINT_KIND_SAMPLER), FWT_OK);
    int saved = -1;
    assert_int_equal(fwt_checkpointer_step_done(c, 2, 8, &saved), FWT_OK);
    assert_int_equal(saved, 1);
    fwt_checkpointer_free(c);

    fwt_registry *l = NULL;
    assert_int_equal(fwt_registry_read(&l, log), FWT_OK);
    assert_int_equal(fwt_registry_count(l), 2);
    assert_int_equal(fwt_registry_entry_kind(fwt_registry_get(l, 0)), FWT_CHECKPOINT_KIND_SAMPLER);
    assert_int_equal(fwt_registry_entry_kind(fwt_registry_get(l, 1)), FWT_CHECKPOINT_KIND_STATE);
    for (size_t i = 0; i < 2; i++) /* recorded without the caller naming it */
        assert_string_equal(fwt_registry_get(l, i)->base_model, MODEL);
    assert_int_equal(fwt_registry_entry_kind(fwt_registry_find_step(l, 2)), FWT_CHECKPOINT_KIND_STATE);
    const fwt_registry_entry *e = fwt_registry_find_promotable_step(l, 2);
    assert_non_null(e);
    assert_ptr_equal(e, fwt_registry_get(l, 0));
    assert_null(fwt_registry_find_promotable_step(l, 3));
    fwt_registry_free(l);

    char jsonl[160];
    snprintf(jsonl, sizeof jsonl, "%s/checkpoints.jsonl", log);
    char *argv[] = {FWT_CLI, "promote", "--poll-interval-ms", "50", "--checkpoints-jsonl", jsonl, "--step", "2",
                    "--output-model-id", "fix-step-2", NULL};
    proc_result r;
    assert_int_equal(proc_run(&r, argv, 0), 0);
    if (r.exit_code != 0)
        fail_msg("promote --step 2 failed (%d): %s", r.exit_code, r.err);
    assert_non_null(strstr(r.err, "selected step-2 (step 2, kind SAMPLER)"));
    assert_non_null(strstr(r.out, "/models/fix-step-2\n"));
    proc_result_free(&r);
    fwt_training_free(t);
}

/* ---- one checkpointer per log_path -------------------------------------- */

typedef struct child {
    pid_t pid;
    int to_child;   /* its stdin: closing it lets the child finish */
    int from_child; /* its stdout */
} child;

/* Start this test binary as a lock holder on `log` (see main); 0 once it reported "locked". */
static int spawn_holder(child *ch, const char *log, const char *job)
{
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0)
        return -1;
    ch->pid = fork();
    if (ch->pid < 0)
        return -1;
    if (ch->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execl(self_path, self_path, "--hold-lock", log, job, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    ch->to_child = in[1];
    ch->from_child = out[0];
    char line[256];
    size_t n = 0;
    while (n < sizeof line - 1) {
        struct pollfd p = {ch->from_child, POLLIN, 0};
        if (poll(&p, 1, CHILD_GUARD_MS) <= 0)
            return -1;
        ssize_t r = read(ch->from_child, line + n, 1);
        if (r <= 0)
            return -1;
        if (line[n] == '\n')
            break;
        n++;
    }
    line[n] = '\0';
    return strcmp(line, "locked") == 0 ? 0 : -1;
}

/* The child's side: hold a checkpointer on argv log until stdin closes. */
static int hold_lock(const char *log, const char *job)
{
    fwt_client *c = NULL;
    if (fx_client_new(&c, getenv("FIREWORKS_BASE_URL"), getenv("FIREWORKS_API_KEY")) != FWT_OK)
        return 2;
    fwt_training *t = fx_open_on(c, job);
    fwt_checkpointer_options o;
    opts_for(&o, log, job, 0);
    fwt_checkpointer *ck = NULL;
    if (!t || fwt_checkpointer_start(&ck, t, &o) != FWT_OK) {
        printf("failed: %s\n", fwt_error_last()->message);
        fflush(stdout);
        fwt_training_free(t);
        fwt_client_free(c);
        return 1;
    }
    printf("locked\n");
    fflush(stdout);
    char buf[64];
    while (read(0, buf, sizeof buf) > 0) {
    }
    fwt_checkpointer_free(ck);
    fwt_training_free(t);
    fwt_client_free(c);
    return 0;
}

static void test_two_writers(void **state)
{
    (void)state;
    assert_int_equal(fx_create_job(fx.client, "fix-lock-child"), FWT_OK);
    fwt_training *t = fx_open_training("fix-lock");
    char log[128], want[192];
    fx_path(log, sizeof log, "shared");
    child ch;
    if (spawn_holder(&ch, log, "fix-lock-child") != 0)
        fail_msg("the lock-holding child did not start");

    /* another process holds it: fails at once (a blocking lock would hang here), naming dir and pid */
    fwt_checkpointer_options o;
    opts_for(&o, log, "fix-lock", 2);
    fwt_checkpointer *c = (fwt_checkpointer *)1;
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_ECONFLICT);
    assert_null(c);
    const char *msg = fwt_error_last()->message;
    snprintf(want, sizeof want, "log_path %s is in use", log);
    if (!strstr(msg, want))
        fail_msg("message \"%s\" does not name %s", msg, log);
    snprintf(want, sizeof want, "pid %ld ", (long)ch.pid);
    if (!strstr(msg, want))
        fail_msg("message \"%s\" does not name the holder's pid %ld", msg, (long)ch.pid);

    /* the holder is killed: the kernel drops its lock, the next run takes over */
    assert_int_equal(kill(ch.pid, SIGKILL), 0);
    int st = 0;
    assert_int_equal(waitpid(ch.pid, &st, 0), ch.pid);
    close(ch.to_child);
    close(ch.from_child);
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_OK);

    /* a second checkpointer of this very process is refused too */
    fwt_checkpointer *c2 = (fwt_checkpointer *)1;
    assert_int_equal(fwt_checkpointer_start(&c2, t, &o), FWT_ECONFLICT);
    assert_null(c2);
    assert_non_null(strstr(fwt_error_last()->message, "another checkpointer of this process"));
    fwt_checkpointer_free(c);
    /* freed: free again */
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_OK);
    fwt_checkpointer_free(c);

    /* a holder that finishes normally releases it too */
    if (spawn_holder(&ch, log, "fix-lock-child") != 0)
        fail_msg("the lock-holding child did not start again");
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_ECONFLICT);
    close(ch.to_child);
    assert_int_equal(waitpid(ch.pid, &st, 0), ch.pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(ch.from_child);
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_OK);
    fwt_checkpointer_free(c);
    fwt_training_free(t);
}

/* Lines out of step order (what two writers used to leave): resume from the highest step, not the last line. */
static void test_resume_highest_step(void **state)
{
    (void)state;
    char log[128];
    fwt_checkpointer_options o;
    fwt_training *t = open_run("fix-order", "order", log, sizeof log, &o);
    fwt_checkpointer *c = NULL;
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_OK);
    assert_int_equal(fwt_checkpointer_step_done(c, 2, 20, NULL), FWT_OK);
    assert_int_equal(fwt_checkpointer_step_done(c, 4, 40, NULL), FWT_OK);
    fwt_checkpointer_free(c);
    /* a stale writer's line for step 2 after step 4 */
    fwt_registry_entry e;
    fwt_registry_entry_init(&e, FWT_REGISTRY_ENTRY_VERSION);
    e.name = "step-2";
    e.step = 2;
    e.data_consumed = 21;
    e.state_path = "cross_job://fix-order/step-2";
    e.source_job_id = "fix-order";
    assert_int_equal(fwt_registry_append(log, &e), FWT_OK);

    c = fx_start_resumed(t, &o, &(fx_resume){"highest step", FWT_RESUME_AUTO, 4, 40, "cross_job://fix-order/step-4"});
    fwt_checkpointer_free(c);
    fwt_training_free(t);
}

/* ---- the final save ------------------------------------------------------- */

/* Creation time (µs) of the DCP row `id` of the job, and the number of DCP rows. */
static int64_t dcp_created(const char *job, const char *id, size_t *dcp_rows)
{
    fwt_checkpoint_list *l = NULL;
    if (fwt_job_list_checkpoints(&l, fx.client, job, NULL) != FWT_OK)
        fail_msg("list checkpoints: %s", fwt_error_last()->message);
    int64_t us = -1;
    *dcp_rows = 0;
    for (size_t i = 0; i < fwt_checkpoint_list_count(l); i++) {
        const fwt_checkpoint_row *r = fwt_checkpoint_list_get(l, i);
        if (!fwt_checkpoint_row_resumable(r))
            continue;
        (*dcp_rows)++;
        if (!strcmp(fwt_checkpoint_row_id(r), id))
            us = fwt_checkpoint_row_create_time_us(r);
    }
    fwt_checkpoint_list_free(l);
    return us;
}

static void test_final_save_once(void **state)
{
    (void)state;
    char log[128];
    fwt_checkpointer_options o;
    fwt_training *t = open_run("fix-final", "final", log, sizeof log, &o); /* total_steps not given */
    fwt_checkpointer *c = NULL;
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_OK);
    for (int64_t s = 1; s <= 4; s++)
        assert_int_equal(fwt_checkpointer_step_done(c, s, s * 3, NULL), FWT_OK);
    size_t rows = 0;
    int64_t created = dcp_created("fix-final", "step-4", &rows);
    assert_true(created > 0);
    assert_int_equal(rows, 2); /* step-2, step-4 */
    /* step 4 reported again (a loop that reports after its last step too) saves nothing */
    int saved = -1;
    assert_int_equal(fwt_checkpointer_step_done(c, 4, 12, &saved), FWT_OK);
    assert_int_equal(saved, 0);
    assert_int_equal(fwt_checkpointer_finish(c, 4, 12), FWT_OK);
    assert_true(fwt_checkpointer_is_complete(c));
    assert_int_equal(fwt_checkpointer_finish(c, 4, 12), FWT_OK);
    fwt_checkpointer_free(c);

    size_t rows_after = 0;
    assert_int_equal(dcp_created("fix-final", "step-4", &rows_after), created); /* the DCP was not written again */
    assert_int_equal(rows_after, 2);

    fwt_registry *l = NULL;
    assert_int_equal(fwt_registry_read(&l, log), FWT_OK);
    assert_int_equal(fwt_registry_count(l), 3);
    const fwt_registry_entry *st = fwt_registry_get(l, 1), *fin = fwt_registry_get(l, 2);
    assert_int_equal(fwt_registry_entry_kind(st), FWT_CHECKPOINT_KIND_STATE);
    assert_int_equal(fwt_registry_entry_kind(fin), FWT_CHECKPOINT_KIND_BOTH);
    assert_int_equal(fin->step, 4);
    assert_string_equal(fin->state_path, st->state_path);
    assert_string_equal(fin->base_model, MODEL);
    fwt_registry_free(l);

    /* resumed at step 4 and finished at once: still no second DCP */
    c = fx_start_resumed(t, &o, &(fx_resume){"resumed at the end", FWT_RESUME_AUTO, 4, -1, NULL});
    assert_int_equal(fwt_checkpointer_step_done(c, 4, 12, &saved), FWT_OK);
    assert_int_equal(saved, 0);
    assert_int_equal(fwt_checkpointer_save(c, 4, 12, FWT_CHECKPOINT_KIND_STATE), FWT_OK);
    fwt_checkpointer_free(c);
    assert_int_equal(dcp_created("fix-final", "step-4", &rows_after), created);
    assert_int_equal(fwt_registry_read(&l, log), FWT_OK);
    assert_int_equal(fwt_registry_count(l), 3);
    fwt_registry_free(l);
    fwt_training_free(t);
}

/* ---- the cookbooks' own forms (issue 12 item 6) ---------------------------- */

static void test_bare_name_and_stepless_line(void **state)
{
    (void)state;
    char log[128];
    fwt_checkpointer_options o;
    fwt_training *t = open_run("fix-bare", "bare-src", log, sizeof log, &o);
    fwt_checkpointer *c = NULL;
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_OK);
    assert_int_equal(fwt_checkpointer_step_done(c, 2, 5, NULL), FWT_OK);
    fwt_checkpointer_free(c);

    /* a new log_path starting from "step-2" of the same job */
    char log2[128];
    fx_path(log2, sizeof log2, "bare-init");
    opts_for(&o, log2, "fix-bare", 2);
    o.init_from_checkpoint = "step-2";
    c = fx_start_resumed(t, &o, &(fx_resume){"bare name", FWT_RESUME_INIT, -1, -1, "cross_job://fix-bare/step-2"});
    fwt_checkpointer_free(c);

    /* a registry line as the tinker cookbook writes it: no step, the loop position in "batch" */
    char log3[128];
    fx_path(log3, sizeof log3, "bare-tinker");
    fwt_registry_extra x[2];
    memset(x, 0, sizeof x);
    x[0].key = "batch";
    x[0].type = FWT_REGISTRY_VALUE_INT;
    x[0].int_value = 2;
    x[1].key = "epoch";
    x[1].type = FWT_REGISTRY_VALUE_INT;
    x[1].int_value = 0;
    fwt_registry_entry e;
    fwt_registry_entry_init(&e, FWT_REGISTRY_ENTRY_VERSION);
    e.name = "000002";
    e.step = -1;
    e.data_consumed = 5;
    e.state_path = "cross_job://fix-bare/step-2";
    e.source_job_id = "fix-bare";
    e.extra = x;
    e.n_extra = 2;
    assert_int_equal(fwt_registry_append(log3, &e), FWT_OK);
    opts_for(&o, log3, "fix-bare", 2);
    c = fx_start_resumed(t, &o, &(fx_resume){"stepless line", FWT_RESUME_AUTO, 2, 5, NULL});
    fwt_checkpointer_free(c);
    fwt_training_free(t);
}

int main(int argc, char **argv)
{
    self_path = argv[0];
    if (argc == 4 && !strcmp(argv[1], "--hold-lock"))
        return hold_lock(argv[2], argv[3]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_promote_step_keeps_promotable),
        cmocka_unit_test(test_two_writers),
        cmocka_unit_test(test_resume_highest_step),
        cmocka_unit_test(test_final_save_once),
        cmocka_unit_test(test_bare_name_and_stepless_line),
    };
    return cmocka_run_group_tests(tests, group_setup, fx_teardown);
}
