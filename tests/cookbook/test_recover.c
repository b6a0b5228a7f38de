/*
 * Surviving crashes with the checkpointer, against fwtrain-local:
 *  - in-process recovery: fwtrain-local is SIGKILLed in the middle of an
 *    sft_resume run and restarted on the same data directory and port; the
 *    run finishes in the same process, every step line it printed (the
 *    recomputed ones included) equals the uninterrupted run's;
 *  - control-plane resume: sft_resume --resume-source control-plane is
 *    SIGKILLed and rerun with its checkpoints.jsonl removed: the listing and
 *    dataloader.json alone bring it back bit-identical;
 *  - the library calls: dataloader.json keeps the newest 20 names and refuses
 *    a damaged file, fwt_checkpointer_recover hands back what is not a lost
 *    session and honours max_recoveries.
 * Kill points are random (FWT_TEST_SEED reproduces a run); no assertion
 * depends on timing: where the race can make a kill land after the work it
 * should interrupt, the test checks which case happened.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "fwtrain/fwtrain.h"
#include "fixture.h"
#include "local_server.h"
#include "proc.h"

#define STEPS "24"
#define N_STEPS 24
#define INTERVAL "4"
#define API_KEY "recover-test-key"

static fwt_local_server *server;
static char root[64], data_dir[96], port_arg[16];
static unsigned seed;

/* A port nobody listens on now; the server binds it with SO_REUSEADDR, and a restart binds it again. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/fwt-recover-XXXXXX");
    if (!mkdtemp(root))
        return -1;
    snprintf(data_dir, sizeof data_dir, "%s/server-data", root);
    if (mkdir(data_dir, 0755) != 0)
        return -1;
    int port = free_port();
    if (port <= 0)
        return -1;
    snprintf(port_arg, sizeof port_arg, "%d", port);
    fwt_local_server_opts o;
    fwt_local_server_opts_init(&o);
    o.api_key = API_KEY;
    o.data_dir = data_dir;
    /* The fixed port comes after the helper's "--port 0": the client's base URL survives a restart. */
    static const char *args[] = {"--job-start-ms", "10", "--port", port_arg, NULL};
    o.extra_args = args;
    if (fwt_local_server_start(&server, &o) != 0 || fwt_local_server_port(server) != port) {
        fprintf(stderr, "cannot start fwtrain-local on port %d\n", port);
        return -1;
    }
    setenv("FIREWORKS_BASE_URL", fwt_local_server_url(server), 1);
    setenv("FIREWORKS_API_KEY", API_KEY, 1);
    seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    const char *env_seed = getenv("FWT_TEST_SEED");
    if (env_seed)
        seed = (unsigned)strtoul(env_seed, NULL, 10);
    printf("# FWT_TEST_SEED=%u\n", seed);
    srand(seed);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    fwt_local_server_free(server);
    rm_rf(root);
    return 0;
}

/* ---- running sft_resume with something done to it (or the server) mid-run ---- */

typedef void (*line_hook)(pid_t child);

static void hook_kill_child(pid_t child)
{
    kill(child, SIGKILL);
}

static void hook_crash_server(pid_t child)
{
    (void)child;
    assert_int_equal(fwt_local_server_kill9(server), 0);
    assert_int_equal(fwt_local_server_restart(server), 0);
    assert_int_equal(fwt_local_server_port(server), atoi(port_arg));
}

static void append(char **buf, size_t *len, const char *data, size_t n)
{
    char *p = realloc(*buf, *len + n + 1);
    assert_non_null(p);
    memcpy(p + *len, data, n);
    *len += n;
    p[*len] = '\0';
    *buf = p;
}

/*
 * Run sft_resume on log dir `name` (extra args may be NULL); once `at_line`
 * stdout lines were read (0 = never), call `hook`. *lines_at_hook receives how
 * many lines had been read when the hook ran (0 if it never ran).
 */
static void sft(proc_result *r, const char *name, size_t at_line, line_hook hook, size_t *lines_at_hook,
                const char *extra1, const char *extra2)
{
    char log[160], err_path[192];
    snprintf(log, sizeof log, "%s/%s", root, name);
    snprintf(err_path, sizeof err_path, "%s/%s.stderr", root, name);
    char *argv[] = {FWT_SFT_RESUME, "--log-path", log, "--dataset", FWT_DATASET, "--steps", STEPS,
                    "--dcp-save-interval", INTERVAL, (char *)extra1, (char *)extra2, NULL};
    memset(r, 0, sizeof *r);
    if (lines_at_hook)
        *lines_at_hook = 0;
    int out_pipe[2];
    assert_int_equal(pipe(out_pipe), 0);
    int err_fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(err_fd >= 0);
    fflush(stdout);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(out_pipe[1], 1);
        dup2(err_fd, 2);
        close(out_pipe[0]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(out_pipe[1]);
    close(err_fd);
    char *out = NULL;
    size_t len = 0;
    append(&out, &len, "", 0);
    int hooked = 0;
    for (;;) {
        char chunk[4096];
        ssize_t n = read(out_pipe[0], chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        append(&out, &len, chunk, (size_t)n);
        r->lines = 0;
        for (size_t k = 0; k < len; k++)
            r->lines += out[k] == '\n';
        if (at_line && !hooked && r->lines >= at_line) {
            hooked = 1;
            if (lines_at_hook)
                *lines_at_hook = r->lines;
            hook(pid);
        }
    }
    close(out_pipe[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    char *nl = strrchr(out, '\n'); /* a line cut by SIGKILL was not printed */
    if (nl)
        nl[1] = '\0';
    else
        out[0] = '\0';
    r->out = out;
    FILE *fp = fopen(err_path, "r");
    assert_non_null(fp);
    char *err = NULL;
    size_t elen = 0;
    append(&err, &elen, "", 0);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, fp)) > 0)
        append(&err, &elen, buf, n);
    fclose(fp);
    r->err = err;
}

/* Every line of `out` is the reference's line of its step; returns the steps in order (count in *n). */
static void check_lines_match(const char *out, const char *ref, long *steps, size_t *n, size_t cap)
{
    *n = 0;
    for (const char *p = out; *p;) {
        const char *nl = strchr(p, '\n');
        long step = 0;
        assert_int_equal(sscanf(p, "step=%ld ", &step), 1);
        char want[128];
        if (!proc_find_step_line(ref, step, want, sizeof want, 1))
            fail_msg("step %ld is not in the reference", step);
        if (strlen(want) != (size_t)(nl - p) || strncmp(p, want, (size_t)(nl - p)) != 0)
            fail_msg("step %ld: \"%.*s\" != reference \"%s\"", step, (int)(nl - p), p, want);
        if (*n < cap)
            steps[(*n)++] = step;
        p = nl + 1;
    }
}

static proc_result reference;

static void test_reference(void **state)
{
    (void)state;
    sft(&reference, "ref", 0, NULL, NULL, NULL, NULL);
    if (reference.exit_code != 0)
        fail_msg("sft_resume failed (%d): %s", reference.exit_code, reference.err);
    assert_int_equal(proc_count_lines(reference.out), N_STEPS);
}

/* fwtrain-local dies (SIGKILL) mid-run and comes back on the same data dir and port: the run recovers in-process. */
static void test_server_crash_recovered_in_process(void **state)
{
    (void)state;
    for (int round = 0; round < 2; round++) {
        size_t kill_at = 1 + (size_t)rand() % (N_STEPS - 1);
        char name[32];
        snprintf(name, sizeof name, "crash%d", round);
        proc_result r;
        size_t at_kill = 0;
        sft(&r, name, kill_at, hook_crash_server, &at_kill, NULL, NULL);
        printf("# round %d: server SIGKILLed after %zu step lines (%zu read)\n", round, kill_at, at_kill);
        if (r.exit_code != 0)
            fail_msg("the run did not survive the server crash (%d): %s", r.exit_code, r.err);
        long steps[4 * N_STEPS];
        size_t n = 0;
        check_lines_match(r.out, reference.out, steps, &n, sizeof steps / sizeof *steps);
        /* Each step once, except a rewind: after step s, a step <= s means the loop went back to a checkpoint. */
        size_t rewinds = 0;
        for (size_t i = 1; i < n; i++) {
            if (steps[i] == steps[i - 1] + 1)
                continue;
            rewinds++;
            assert_true(steps[i] <= steps[i - 1]);
            assert_int_equal((steps[i] - 1) % 4, 0); /* continued right after a STATE checkpoint (or step 0) */
        }
        assert_int_equal(steps[0], 1);
        assert_int_equal(steps[n - 1], N_STEPS);
        assert_true(rewinds <= 1);
        /* Fewer than N lines at the kill: the final save was still to come, so the lost session was met. */
        if (at_kill < N_STEPS) {
            assert_non_null(strstr(r.err, "recovered in-process"));
            assert_true(strstr(r.err, "continuing from step ") != NULL);
        }
        /* The finished run is recorded: its final BOTH checkpoint, and every STATE step on the way. */
        char log[160];
        snprintf(log, sizeof log, "%s/%s", root, name);
        fwt_registry *l = NULL;
        assert_int_equal(fwt_registry_read(&l, log), FWT_OK);
        const fwt_registry_entry *e = fwt_registry_latest_promotable(l);
        assert_non_null(e);
        assert_int_equal(e->step, N_STEPS);
        for (long s = 4; s < N_STEPS; s += 4)
            assert_non_null(fwt_registry_find_step(l, s));
        fwt_registry_free(l);
        proc_result_free(&r);
    }
}

/* The JSON object of {log}/dataloader.json. */
static cJSON *dataloader_of(const char *name)
{
    char path[192];
    snprintf(path, sizeof path, "%s/%s/dataloader.json", root, name);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return NULL;
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    return cJSON_Parse(buf);
}

/* SIGKILL, then a rerun that knows only the listing and dataloader.json: bit-identical. */
static void test_control_plane_resume_after_sigkill(void **state)
{
    (void)state;
    for (int round = 0; round < 2; round++) {
        size_t kill_at = 1 + (size_t)rand() % (N_STEPS - 1);
        char name[32], jsonl[192];
        snprintf(name, sizeof name, "cp%d", round);
        snprintf(jsonl, sizeof jsonl, "%s/%s/checkpoints.jsonl", root, name);
        proc_result first, second;
        size_t at_kill = 0;
        sft(&first, name, kill_at, hook_kill_child, &at_kill, "--resume-source", "control-plane");
        printf("# round %d: sft_resume SIGKILLed after %zu step lines\n", round, kill_at);
        assert_true(first.lines >= kill_at);
        /* The registry is not the source of truth in this mode: without it the resume must be the same. */
        unlink(jsonl);
        sft(&second, name, 0, NULL, NULL, "--resume-source", "control-plane");
        if (second.exit_code != 0)
            fail_msg("control-plane resume failed (%d): %s", second.exit_code, second.err);
        long steps[2 * N_STEPS];
        size_t n1 = 0, n2 = 0;
        check_lines_match(first.out, reference.out, steps, &n1, sizeof steps / sizeof *steps);
        check_lines_match(second.out, reference.out, steps, &n2, sizeof steps / sizeof *steps);
        long resumed_at = n2 ? steps[0] : 0;
        char line[128];
        for (long s = 1; s <= N_STEPS; s++)
            if (!proc_find_step_line(first.out, s, line, sizeof line, 1) &&
                !proc_find_step_line(second.out, s, line, sizeof line, 1))
                fail_msg("step %ld missing from both runs", s);
        if (first.exit_code == 0) {
            assert_int_equal(n2, 0); /* the kill came after the end: the rerun finds the run complete */
        } else {
            assert_true(resumed_at >= 1 && (resumed_at - 1) % 4 == 0);
            assert_int_equal(n2, (size_t)(N_STEPS - resumed_at + 1));
            if (resumed_at > 1) {
                char want[64];
                snprintf(want, sizeof want, "resuming job sft-");
                assert_non_null(strstr(second.err, want));
                snprintf(want, sizeof want, "at step %ld ", resumed_at - 1);
                assert_non_null(strstr(second.err, want));
            }
        }
        /* dataloader.json: each STATE checkpoint's data position (batch 4 per step). */
        cJSON *dl = dataloader_of(name);
        assert_non_null(dl);
        for (long s = 4; s <= N_STEPS; s += 4) {
            char key[32];
            snprintf(key, sizeof key, "step-%ld", s);
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(dl, key);
            assert_non_null(v);
            assert_int_equal((long)v->valuedouble, s * 4);
        }
        cJSON_Delete(dl);
        /* A third run: complete, nothing trained. */
        proc_result third;
        sft(&third, name, 0, NULL, NULL, "--resume-source", "control-plane");
        assert_int_equal(third.exit_code, 0);
        assert_string_equal(third.out, "");
        assert_non_null(strstr(third.err, "already complete"));
        proc_result_free(&third);
        proc_result_free(&first);
        proc_result_free(&second);
    }
}

static fwt_client *lib_client(void);

/* --async-saves killed at random points: every line in checkpoints.jsonl names a save the server holds, and the
 * rerun is bit-identical. */
static void test_async_saves_sigkill(void **state)
{
    (void)state;
    fwt_client *client = lib_client();
    for (int round = 0; round < 3; round++) {
        size_t kill_at = 1 + (size_t)rand() % (N_STEPS - 1);
        char name[32];
        snprintf(name, sizeof name, "async%d", round);
        proc_result first, second;
        sft(&first, name, kill_at, hook_kill_child, NULL, "--async-saves", NULL);
        printf("# round %d: sft_resume --async-saves SIGKILLed after %zu step lines\n", round, kill_at);
        char log[160];
        snprintf(log, sizeof log, "%s/%s", root, name);
        fwt_registry *l = NULL;
        assert_int_equal(fwt_registry_read(&l, log), FWT_OK);
        fwt_checkpoint_list *listing = NULL;
        for (size_t i = 0; i < fwt_registry_count(l); i++) {
            const fwt_registry_entry *e = fwt_registry_get(l, i);
            if (i > 0)
                assert_true(e->step > fwt_registry_get(l, i - 1)->step); /* step order */
            if (!listing)
                assert_int_equal(fwt_job_list_checkpoints(&listing, client, e->source_job_id, NULL), FWT_OK);
            if (!fwt_checkpoint_list_find(listing, e->name))
                fail_msg("%s/checkpoints.jsonl names %s, which the server does not hold", log, e->name);
        }
        fwt_checkpoint_list_free(listing);
        fwt_registry_free(l);
        sft(&second, name, 0, NULL, NULL, "--async-saves", NULL);
        if (second.exit_code != 0)
            fail_msg("resume after SIGKILL failed (%d): %s", second.exit_code, second.err);
        long steps[2 * N_STEPS];
        size_t n1 = 0, n2 = 0;
        check_lines_match(first.out, reference.out, steps, &n1, sizeof steps / sizeof *steps);
        check_lines_match(second.out, reference.out, steps, &n2, sizeof steps / sizeof *steps);
        char line[128];
        for (long s = 1; s <= N_STEPS; s++)
            if (!proc_find_step_line(first.out, s, line, sizeof line, 1) &&
                !proc_find_step_line(second.out, s, line, sizeof line, 1))
                fail_msg("step %ld missing from both runs", s);
        assert_true(n2 == 0 || (steps[0] - 1) % 4 == 0);
        proc_result_free(&first);
        proc_result_free(&second);
    }
    fwt_client_free(client);
}

/* ---- library level ---------------------------------------------------------------- */

static fwt_client *lib_client(void)
{
    fwt_client_options co;
    fwt_client_options_init(&co, FWT_CLIENT_OPTIONS_VERSION);
    co.base_url = fwt_local_server_url(server);
    co.api_key = API_KEY;
    fwt_client *c = NULL;
    assert_int_equal(fwt_client_new(&c, &co), FWT_OK);
    return c;
}

static void lib_opts(fwt_checkpointer_options *o, char *log, size_t n, const char *name, const char *job)
{
    snprintf(log, n, "%s/%s", root, name);
    mkdir(log, 0755);
    fwt_checkpointer_options_init(o, FWT_CHECKPOINTER_OPTIONS_VERSION);
    o->log_path = log;
    o->job_id = job;
    o->dcp_save_interval = 1;
    o->resume_source = FWT_RESUME_SOURCE_CONTROL_PLANE;
}

static void write_file(const char *dir, const char *file, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* dataloader.json keeps the newest 20 names in order, leaves no temp file, and a damaged one stops the start. */
static void test_dataloader_file(void **state)
{
    (void)state;
    fwt_client *client = lib_client();
    fwt_training *t = fx_open_training_on(client, "recover-dl");
    fwt_checkpointer_options o;
    char log[160];
    lib_opts(&o, log, sizeof log, "dl", "recover-dl");
    fwt_checkpointer *c = NULL;
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_OK);
    assert_int_equal(fwt_checkpointer_mode(c), FWT_RESUME_FRESH);
    int saved = 0;
    for (int64_t s = 1; s <= 25; s++) {
        assert_int_equal(fwt_checkpointer_step_done(c, s, s * 3, &saved), FWT_OK);
        assert_int_equal(saved, 1);
    }
    fwt_checkpointer_free(c);
    cJSON *dl = dataloader_of("dl");
    assert_non_null(dl);
    assert_int_equal(cJSON_GetArraySize(dl), 20);
    int64_t want = 6; /* step-1 .. step-5 dropped, oldest first */
    for (const cJSON *it = dl->child; it; it = it->next, want++) {
        char key[32];
        snprintf(key, sizeof key, "step-%lld", (long long)want);
        assert_string_equal(it->string, key);
        assert_int_equal((int64_t)it->valuedouble, want * 3);
    }
    cJSON_Delete(dl);
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s/.dataloader.json.tmp", log);
    assert_int_equal(access(tmp, F_OK), -1);

    /* A second start resumes from the listing's newest row: step 25, data_consumed 75. */
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_OK);
    assert_int_equal(fwt_checkpointer_mode(c), FWT_RESUME_AUTO);
    assert_int_equal(fwt_checkpointer_start_step(c), 25);
    assert_int_equal(fwt_checkpointer_start_data_consumed(c), 75);
    assert_string_equal(fwt_checkpointer_loaded_path(c), "cross_job://recover-dl/step-25");
    fwt_checkpointer_free(c);

    /* The newest checkpoint without a data position: refused, naming both. */
    write_file(log, "dataloader.json", "{\"step-24\": 72}\n");
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_ECORRUPT);
    assert_null(c);
    assert_non_null(strstr(fwt_error_last()->message, "step-25"));
    assert_non_null(strstr(fwt_error_last()->message, "dataloader.json"));
    /* Not a map of counts. */
    const char *bad[] = {"[1,2]", "{\"step-25\": -1}", "{\"step-25\": 1.5}", "{\"step-25\": \"75\"}", "{\"step-25\":"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_file(log, "dataloader.json", bad[i]);
        assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_ECORRUPT);
        assert_non_null(strstr(fwt_error_last()->message, "dataloader.json"));
    }
    /* A newest DCP row the checkpointer did not name: its step is unknown, so the start stops (never skips it). */
    write_file(log, "dataloader.json", "{\"step-25\": 75}\n");
    assert_int_equal(fwt_training_save_state_result(NULL, t, "manual-best", 0, -1), FWT_OK);
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_EUNSUPPORTED);
    assert_non_null(strstr(fwt_error_last()->message, "manual-best"));
    /* Both modes refuse an unknown source. */
    o.resume_source = 7;
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_EINVAL);
    fwt_training_free(t);
    fwt_client_free(client);
}

/* What fwt_checkpointer_recover hands back, and a recovery at the library level (the server restarted). */
static void test_recover_calls(void **state)
{
    (void)state;
    fwt_client *client = lib_client();
    fwt_training *t = fx_open_training_on(client, "recover-lib");
    fwt_checkpointer_options o;
    char log[160];
    lib_opts(&o, log, sizeof log, "lib", "recover-lib");
    o.resume_source = FWT_RESUME_SOURCE_REGISTRY;
    o.max_recoveries = 1;
    fwt_checkpointer *c = NULL;
    assert_int_equal(fwt_checkpointer_start(&c, t, &o), FWT_OK);
    assert_ptr_equal(fwt_checkpointer_training(c), t);
    assert_null(fwt_checkpointer_training(NULL));
    assert_int_equal(fwt_checkpointer_recover(NULL, FWT_ENOTFOUND), FWT_EINVAL);
    assert_int_equal(fwt_checkpointer_recover(c, FWT_OK), FWT_EINVAL);
    /* Not a lost session: handed back untouched, nothing replaced. */
    assert_int_equal(fwt_checkpointer_recover(c, FWT_EREMOTE), FWT_EREMOTE);
    assert_int_equal(fwt_checkpointer_recover(c, FWT_EINVAL), FWT_EINVAL);
    assert_ptr_equal(fwt_checkpointer_training(c), t);
    assert_int_equal(fwt_checkpointer_recoveries(c), 0);

    /* Two confirmed saves, then the server dies and comes back: the next op fails, recover reloads step 2. */
    assert_int_equal(fwt_checkpointer_step_done(c, 1, 10, NULL), FWT_OK);
    assert_int_equal(fwt_checkpointer_step_done(c, 2, 20, NULL), FWT_OK);
    hook_crash_server(0);
    fwt_metrics *m = NULL;
    int rc = fwt_training_optim_step_result(&m, t, NULL, -1);
    assert_int_not_equal(rc, FWT_OK);
    assert_int_equal(fwt_checkpointer_recover(c, rc), FWT_OK);
    fwt_training *nt = fwt_checkpointer_training(c);
    assert_ptr_not_equal(nt, t);
    assert_string_not_equal(fwt_training_session_id(nt), fwt_training_session_id(t));
    assert_int_equal(fwt_checkpointer_start_step(c), 2);
    assert_int_equal(fwt_checkpointer_start_data_consumed(c), 20);
    assert_string_equal(fwt_checkpointer_loaded_path(c), "cross_job://recover-lib/step-2");
    assert_int_equal(fwt_checkpointer_recoveries(c), 1);
    fwt_training_free(t); /* the caller's dead training may go at once */
    assert_int_equal(fwt_training_optim_step_result(NULL, nt, NULL, -1), FWT_OK);
    /* max_recoveries 1 is used up: the next lost session stands. */
    assert_int_equal(fwt_checkpointer_recover(c, FWT_ENOTFOUND), FWT_ENOTFOUND);
    assert_non_null(strstr(fwt_error_last()->message, "no in-process recovery left"));
    fwt_checkpointer_free(c);
    fwt_client_free(client);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference),
        cmocka_unit_test(test_server_crash_recovered_in_process),
        cmocka_unit_test(test_control_plane_resume_after_sigkill),
        cmocka_unit_test(test_async_saves_sigkill),
        cmocka_unit_test(test_dataloader_file),
        cmocka_unit_test(test_recover_calls),
    };
    int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
    proc_result_free(&reference);
    return rc;
}
