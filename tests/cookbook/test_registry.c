/* checkpoints.jsonl registry: torn tails, corrupt lines, durable append, queries. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fwtrain/fwtrain.h"

/* A golden registry as the cookbook wrote it (docs/protocol.md §7.1), with an unknown key and escapes. */
static const char GOLDEN[] =
    "{\"name\": \"step-10\", \"step\": 10, \"data_consumed\": 40, \"state_path\": \"cross_job://job-abc/step-10\", "
    "\"source_job_id\": \"job-abc\", \"base_model\": \"accounts/fireworks/models/qwen3-8b\"}\n"
    "{\"name\":\"step-20\",\"step\":20,\"data_consumed\":80,\"raw_rows_consumed\":81,"
    "\"state_path\":\"cross_job://job-abc/step-20\",\"source_job_id\":\"job-abc\"}\n"
    "{\"name\":\"step-25\",\"step\":25,\"data_consumed\":100,\"sampler_path\":\"step-25-0badf00d\","
    "\"source_job_id\":\"job-abc\",\"base_model\":\"accounts/fireworks/models/qwen3-8b\"}\n"
    "\r\n"
    "{\"name\":\"st\\\"ep-50 \\u00e9\",\"step\":50,\"data_consumed\":200,\"state_path\":\"cross_job://job-abc/step-50\","
    "\"sampler_path\":\"step-50-a1b2c3d4\",\"source_job_id\":\"job-abc\",\"base_model\":\"accounts/fireworks/models/qwen3-8b\"}\n"
    "{\"name\":\"step-50\",\"step\":50,\"data_consumed\":201,\"state_path\":\"cross_job://job-def/step-50\","
    "\"source_job_id\":\"job-def\",\"base_model\":null}\n";

static const int64_t GOLDEN_STEPS[] = {10, 20, 25, 50, 50};
#define GOLDEN_ROWS 5

typedef struct fixture {
    char dir[64];
    char file[128];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/fwt-ckpt-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->file, sizeof f->file, "%s/checkpoints.jsonl", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    if (len)
        assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    char *buf = malloc(1 << 16);
    assert_non_null(buf);
    *len = fread(buf, 1, (1 << 16) - 1, fp);
    buf[*len] = '\0';
    fclose(fp);
    return buf;
}

/* Rows whose '\n' lies inside data[0..cut). The blank line counts as no row. */
static size_t committed_rows(size_t cut)
{
    size_t rows = 0, line = 0;
    for (size_t i = 0; i < cut; i++) {
        if (GOLDEN[i] == '\n') {
            if (line != 3)
                rows++;
            line++;
        }
    }
    return rows;
}

static void check_prefix(fwt_registry *l, size_t rows)
{
    assert_int_equal(fwt_registry_count(l), rows);
    for (size_t i = 0; i < rows; i++)
        assert_int_equal(fwt_registry_get(l, i)->step, GOLDEN_STEPS[i]);
}

static void set_entry(fwt_registry_entry *e, const char *name, int64_t step, const char *state, const char *sampler)
{
    assert_int_equal(fwt_registry_entry_init(e, FWT_REGISTRY_ENTRY_VERSION), FWT_OK);
    e->name = name;
    e->step = step;
    e->data_consumed = step * 4;
    e->state_path = state;
    e->sampler_path = sampler;
    e->source_job_id = "job-abc";
    e->base_model = "accounts/fireworks/models/qwen3-8b";
}

static void test_golden_parse(void **state)
{
    fixture *f = *state;
    write_file(f->file, GOLDEN, sizeof GOLDEN - 1);
    fwt_registry *l = NULL;
    assert_int_equal(fwt_registry_read(&l, f->dir), FWT_OK);
    check_prefix(l, GOLDEN_ROWS);
    assert_int_equal(fwt_registry_torn_bytes(l), 0);

    const fwt_registry_entry *e = fwt_registry_get(l, 0);
    assert_string_equal(e->name, "step-10");
    assert_int_equal(e->data_consumed, 40);
    assert_string_equal(e->state_path, "cross_job://job-abc/step-10");
    assert_null(e->sampler_path);
    assert_string_equal(e->source_job_id, "job-abc");
    assert_string_equal(e->base_model, "accounts/fireworks/models/qwen3-8b");
    assert_int_equal(fwt_registry_entry_kind(e), FWT_CHECKPOINT_KIND_STATE);

    e = fwt_registry_get(l, 2);
    assert_int_equal(fwt_registry_entry_kind(e), FWT_CHECKPOINT_KIND_SAMPLER);
    assert_false(fwt_registry_entry_is_resumable(e));
    assert_true(fwt_registry_entry_is_promotable(e));

    e = fwt_registry_get(l, 3);
    assert_string_equal(e->name, "st\"ep-50 \xc3\xa9");
    assert_int_equal(fwt_registry_entry_kind(e), FWT_CHECKPOINT_KIND_BOTH);
    assert_null(fwt_registry_get(l, 4)->base_model);
    assert_null(fwt_registry_get(l, 5));
    fwt_registry_free(l);
}

/* Cut the golden file at every byte: parsed rows are exactly those whose '\n' precedes the cut. */
static void test_torn_every_offset(void **state)
{
    fixture *f = *state;
    const size_t len = sizeof GOLDEN - 1;
    /* the last tail is one '\n'-terminated invalid line (plus a fragment): still a tolerated torn tail */
    static const char *tails[] = {"", "\0\0\0\0\0\0\0\0", "\x8f\xff garbage {\"na", "\0\0\0\n\0\0"};
    static const size_t tail_len[] = {0, 8, 15, 6};
    char *buf = malloc(len + 32);
    assert_non_null(buf);
    /* Under valgrind (its own lane) two tails cover the logic at half the cost. */
    size_t n_tails = getenv("FWT_UNDER_VALGRIND") ? 2 : 4;
    for (size_t t = 4 - n_tails; t < 4; t++) {
        for (size_t cut = 0; cut <= len; cut++) {
            memcpy(buf, GOLDEN, cut);
            memcpy(buf + cut, tails[t], tail_len[t]);
            write_file(f->file, buf, cut + tail_len[t]);
            fwt_registry *l = NULL;
            int rc = fwt_registry_read_file(&l, f->file);
            if (rc != FWT_OK)
                fail_msg("tail %zu cut %zu: %s", t, cut, fwt_error_last()->message);
            size_t want = committed_rows(cut);
            if (fwt_registry_count(l) != want)
                fail_msg("tail %zu cut %zu: %zu rows, want %zu", t, cut, fwt_registry_count(l), want);
            check_prefix(l, want);
            /* everything after the last '\n' of the golden prefix is torn */
            size_t keep = cut;
            while (keep > 0 && GOLDEN[keep - 1] != '\n')
                keep--;
            if (fwt_registry_torn_bytes(l) != cut + tail_len[t] - keep)
                fail_msg("tail %zu cut %zu: torn %zu, want %zu", t, cut, fwt_registry_torn_bytes(l),
                         cut + tail_len[t] - keep);
            fwt_registry_free(l);
        }
    }
    free(buf);
}

static void expect_corrupt(const char *file, const char *data, const char *where)
{
    write_file(file, data, strlen(data));
    fwt_registry *l = (fwt_registry *)1;
    assert_int_equal(fwt_registry_read_file(&l, file), FWT_ECORRUPT);
    assert_null(l);
    const fwt_error *err = fwt_error_last();
    assert_int_equal(err->code, FWT_ECORRUPT);
    if (!strstr(err->message, where))
        fail_msg("message \"%s\" lacks \"%s\"", err->message, where);
}

static void test_corrupt_lines(void **state)
{
    fixture *f = *state;
    const char *ok = "{\"name\":\"step-1\",\"step\":1,\"state_path\":\"s\",\"source_job_id\":\"j\"}\n";
    char data[1024];
    /* garbage in the middle, then a good line */
    snprintf(data, sizeof data, "%s%s{\"name\":\"step-2\",\"st\n%s", ok, ok, ok);
    expect_corrupt(f->file, data, "checkpoints.jsonl:3: invalid JSON");
    /* a NUL-filled line followed by a good one */
    memset(data, 0, sizeof data);
    size_t n = strlen(ok);
    memcpy(data, ok, n);
    memcpy(data + n + 4, "\n", 1);
    memcpy(data + n + 5, ok, n);
    write_file(f->file, data, 2 * n + 5);
    fwt_registry *l = NULL;
    assert_int_equal(fwt_registry_read_file(&l, f->file), FWT_ECORRUPT);
    assert_non_null(strstr(fwt_error_last()->message, "checkpoints.jsonl:2: line contains NUL"));
    /* a well-formed JSON line that is not an entry: reported even as the last line */
    snprintf(data, sizeof data, "%s{\"name\":\"step-2\",\"step\":\"2\",\"state_path\":\"s\"}\n", ok);
    expect_corrupt(f->file, data, "checkpoints.jsonl:2: \"step\" must be a non-negative integer");
    snprintf(data, sizeof data, "%s%s{\"name\":\"step-2\",\"step\":2.5,\"state_path\":\"s\"}\n", ok, ok);
    expect_corrupt(f->file, data, ":3: \"step\"");
    snprintf(data, sizeof data, "{\"step\":2,\"state_path\":\"s\"}\n");
    expect_corrupt(f->file, data, ":1: \"name\" is missing");
    snprintf(data, sizeof data, "%s{\"name\":\"step-2\",\"step\":2,\"source_job_id\":\"j\"}\n", ok);
    expect_corrupt(f->file, data, ":2: entry \"step-2\" has neither state_path nor sampler_path");
    snprintf(data, sizeof data, "{\"name\":\"a\",\"step\":2,\"state_path\":7}\n");
    expect_corrupt(f->file, data, ":1: \"state_path\" must be a non-empty string");
    snprintf(data, sizeof data, "{\"name\":\"a\",\"step\":-1,\"state_path\":\"s\"}\n");
    expect_corrupt(f->file, data, "\"step\" must be a non-negative integer");
    snprintf(data, sizeof data, "[1,2]\n%s", ok);
    expect_corrupt(f->file, data, ":1: not a JSON object");
    snprintf(data, sizeof data, "%s} \n%s", ok, ok);
    expect_corrupt(f->file, data, ":2: invalid JSON");
    snprintf(data, sizeof data, "{\"name\":\"a\",\"step\":1,\"state_path\":\"s\"} x\n%s", ok);
    expect_corrupt(f->file, data, ":1: unexpected bytes after the JSON object");
    /* only the last line can be torn: two trailing invalid lines name the first */
    snprintf(data, sizeof data, "%s%s{\"name\":\"step-3\",}\n{\"name\":\"st\n", ok, ok);
    expect_corrupt(f->file, data, "checkpoints.jsonl:3: invalid JSON (line 4 is invalid too");
    snprintf(data, sizeof data, "%sxx\n\n  \r\nyy\nfragment", ok);
    expect_corrupt(f->file, data, "checkpoints.jsonl:2: invalid JSON (line 5 is invalid too");
    memset(data, 0, sizeof data);
    memcpy(data, ok, n);
    memcpy(data + n + 3, "\n", 1);
    memcpy(data + n + 6, "\n", 1);
    write_file(f->file, data, n + 7);
    l = NULL;
    assert_int_equal(fwt_registry_read_file(&l, f->file), FWT_ECORRUPT);
    assert_null(l);
    assert_non_null(strstr(fwt_error_last()->message, "checkpoints.jsonl:2: line contains NUL"));
}

/* The review's case: a complete ('\n'-terminated) but invalid last line. The reader tolerates it as torn
 * (resume falls back to the line before, with torn_bytes set so callers warn); the appender refuses to
 * cut or bury it and leaves the file byte for byte as it was. */
static void test_terminated_invalid_last_line(void **state)
{
    fixture *f = *state;
    const char *l1 = "{\"name\":\"step-1\",\"step\":1,\"state_path\":\"cross_job://j/step-1\",\"source_job_id\":\"j\"}\n";
    const char *l2 = "{\"name\":\"step-2\",\"step\":2,\"state_path\":\"cross_job://j/step-2\",\"source_job_id\":\"j\",}\n";
    static const char *after[] = {"", "{\"name\":\"step-3\",\"st", "\0\0\0\0"};
    static const size_t after_len[] = {0, 19, 4};
    for (size_t t = 0; t < 3; t++) {
        char data[512];
        size_t n1 = strlen(l1), n2 = strlen(l2), len = n1 + n2 + after_len[t];
        memcpy(data, l1, n1);
        memcpy(data + n1, l2, n2);
        memcpy(data + n1 + n2, after[t], after_len[t]);
        write_file(f->file, data, len);

        fwt_registry *l = NULL;
        assert_int_equal(fwt_registry_read(&l, f->dir), FWT_OK);
        assert_int_equal(fwt_registry_count(l), 1);
        assert_int_equal(fwt_registry_torn_bytes(l), n2 + after_len[t]);
        assert_string_equal(fwt_registry_last_resumable(l)->name, "step-1");
        fwt_registry_free(l);

        fwt_registry_entry e;
        set_entry(&e, "step-3", 3, "cross_job://j/step-3", NULL);
        assert_int_equal(fwt_registry_append(f->dir, &e), FWT_ECORRUPT);
        const char *msg = fwt_error_last()->message;
        if (!strstr(msg, "checkpoints.jsonl:2: invalid line; remove it or fix it"))
            fail_msg("tail %zu: message \"%s\"", t, msg);
        size_t got_len;
        char *text = slurp(f->file, &got_len);
        assert_int_equal(got_len, len);
        assert_memory_equal(text, data, len); /* untouched */
        free(text);
    }
    /* once the user removed the line, appending works again */
    write_file(f->file, l1, strlen(l1));
    fwt_registry_entry e;
    set_entry(&e, "step-3", 3, "cross_job://j/step-3", NULL);
    assert_int_equal(fwt_registry_append(f->dir, &e), FWT_OK);
    fwt_registry *l = NULL;
    assert_int_equal(fwt_registry_read(&l, f->dir), FWT_OK);
    assert_int_equal(fwt_registry_count(l), 2);
    assert_int_equal(fwt_registry_last_resumable(l)->step, 3);
    fwt_registry_free(l);
}

/* Blank lines are committed bytes too: an append keeps them. */
static void test_append_keeps_blank_lines(void **state)
{
    fixture *f = *state;
    const char *data = "{\"name\":\"step-1\",\"step\":1,\"state_path\":\"s1\",\"source_job_id\":\"j\"}\n\n  \r\n";
    write_file(f->file, data, strlen(data));
    fwt_registry *l = NULL;
    assert_int_equal(fwt_registry_read(&l, f->dir), FWT_OK);
    assert_int_equal(fwt_registry_torn_bytes(l), 0);
    fwt_registry_free(l);
    fwt_registry_entry e;
    set_entry(&e, "step-3", 3, "s3", NULL);
    assert_int_equal(fwt_registry_append(f->dir, &e), FWT_OK);
    size_t len;
    char *text = slurp(f->file, &len);
    assert_memory_equal(text, data, strlen(data));
    assert_true(strncmp(text + strlen(data), "{\"name\":\"step-3\"", 16) == 0);
    free(text);
}

static void test_append_roundtrip(void **state)
{
    fixture *f = *state;
    char nested[160];
    snprintf(nested, sizeof nested, "%s/a/b/c/", f->dir);
    fwt_registry_entry e;
    set_entry(&e, "step-1 \"quoted\" \\ \xc3\xa9", 1, "cross_job://job-abc/step-1", NULL);
    e.data_consumed = ((int64_t)1 << 53) - 1;
    assert_int_equal(fwt_registry_append(nested, &e), FWT_OK);
    set_entry(&e, "step-2", 2, NULL, "step-2-a1b2c3d4");
    e.base_model = NULL;
    assert_int_equal(fwt_registry_append(nested, &e), FWT_OK);

    fwt_registry *l = NULL;
    assert_int_equal(fwt_registry_read(&l, nested), FWT_OK);
    assert_int_equal(fwt_registry_count(l), 2);
    const fwt_registry_entry *r = fwt_registry_get(l, 0);
    assert_string_equal(r->name, "step-1 \"quoted\" \\ \xc3\xa9");
    assert_int_equal(r->data_consumed, ((int64_t)1 << 53) - 1);
    assert_string_equal(r->state_path, "cross_job://job-abc/step-1");
    assert_string_equal(r->base_model, "accounts/fireworks/models/qwen3-8b");
    r = fwt_registry_get(l, 1);
    assert_string_equal(r->sampler_path, "step-2-a1b2c3d4");
    assert_null(r->state_path);
    assert_null(r->base_model);
    assert_int_equal(r->data_consumed, 8);
    fwt_registry_free(l);

    /* the written line is the seed's format: one compact object per line */
    char file[200];
    snprintf(file, sizeof file, "%scheckpoints.jsonl", nested);
    size_t len;
    char *text = slurp(file, &len);
    assert_non_null(strstr(text, "{\"name\":\"step-2\",\"step\":2,\"data_consumed\":8,\"sampler_path\":\"step-2-a1b2c3d4\","
                                 "\"source_job_id\":\"job-abc\"}\n"));
    assert_int_equal(text[len - 1], '\n');
    free(text);
}

static void test_append_after_torn_tail(void **state)
{
    fixture *f = *state;
    const char *ok = "{\"name\":\"step-1\",\"step\":1,\"state_path\":\"s1\",\"source_job_id\":\"j\"}\n";
    /* unterminated fragments only: never committed, so the append cuts them */
    static const char *tails[] = {"{\"name\":\"step-2\",\"st", "\0\0\0\0", "garbage\0\0\xff{\"na", "  "};
    static const size_t tail_len[] = {19, 4, 14, 2};
    for (size_t t = 0; t < 4; t++) {
        char data[256];
        size_t n = strlen(ok);
        memcpy(data, ok, n);
        memcpy(data + n, tails[t], tail_len[t]);
        write_file(f->file, data, n + tail_len[t]);

        fwt_registry *l = NULL;
        assert_int_equal(fwt_registry_read(&l, f->dir), FWT_OK);
        assert_int_equal(fwt_registry_count(l), 1);
        assert_int_equal(fwt_registry_torn_bytes(l), tail_len[t]);
        fwt_registry_free(l);

        fwt_registry_entry e;
        set_entry(&e, "step-3", 3, "s3", NULL);
        assert_int_equal(fwt_registry_append(f->dir, &e), FWT_OK);
        size_t len;
        char *text = slurp(f->file, &len);
        /* the new record starts on a fresh line right after the last good one */
        assert_int_equal(len, n + strlen(text + n));
        assert_memory_equal(text, ok, n);
        assert_true(strncmp(text + n, "{\"name\":\"step-3\"", 16) == 0);
        assert_int_equal(text[len - 1], '\n');
        free(text);

        assert_int_equal(fwt_registry_read(&l, f->dir), FWT_OK);
        assert_int_equal(fwt_registry_count(l), 2);
        assert_int_equal(fwt_registry_torn_bytes(l), 0);
        assert_int_equal(fwt_registry_get(l, 1)->step, 3);
        fwt_registry_free(l);
    }
}

static void test_append_refuses_corrupt_and_bad_entries(void **state)
{
    fixture *f = *state;
    const char *bad = "{\"name\":\"step-1\",\"step\":1,\"state_path\":\"s1\",\"source_job_id\":\"j\"}\nxx\n"
                      "{\"name\":\"step-2\",\"step\":2,\"state_path\":\"s2\",\"source_job_id\":\"j\"}\n";
    write_file(f->file, bad, strlen(bad));
    fwt_registry_entry e;
    set_entry(&e, "step-3", 3, "s3", NULL);
    assert_int_equal(fwt_registry_append(f->dir, &e), FWT_ECORRUPT);
    assert_non_null(strstr(fwt_error_last()->message, "checkpoints.jsonl:2:"));
    size_t len;
    char *text = slurp(f->file, &len);
    assert_string_equal(text, bad); /* untouched */
    free(text);

    set_entry(&e, "step-3", 3, NULL, NULL);
    assert_int_equal(fwt_registry_append(f->dir, &e), FWT_EINVAL);
    set_entry(&e, "step-3", 3, "s", NULL);
    e.source_job_id = NULL;
    assert_int_equal(fwt_registry_append(f->dir, &e), FWT_EINVAL);
    set_entry(&e, "", 3, "s", NULL);
    assert_int_equal(fwt_registry_append(f->dir, &e), FWT_EINVAL);
    set_entry(&e, "step-3", -1, "s", NULL);
    assert_int_equal(fwt_registry_append(f->dir, &e), FWT_EINVAL);
    set_entry(&e, "step-3", 3, "", "x");
    assert_int_equal(fwt_registry_append(f->dir, &e), FWT_EINVAL);
    set_entry(&e, "step-3", 3, "s", NULL);
    e.version = 99;
    assert_int_equal(fwt_registry_append(f->dir, &e), FWT_EINVAL);
    assert_int_equal(fwt_registry_append(f->dir, NULL), FWT_EINVAL);
    set_entry(&e, "step-3", 3, "s", NULL);
    assert_int_equal(fwt_registry_append(NULL, &e), FWT_EINVAL);
    assert_int_equal(fwt_registry_append("", &e), FWT_EINVAL);
    /* log_path that is a file */
    assert_int_equal(fwt_registry_append(f->file, &e), FWT_EIO);
    assert_int_equal(fwt_registry_entry_init(NULL, 1), FWT_EINVAL);
    assert_int_equal(fwt_registry_entry_init(&e, 2), FWT_EINVAL);
}

/* A write cut short by the file size limit: the append fails with FWT_EIO and leaves no visible record. */
static void test_append_short_write(void **state)
{
    fixture *f = *state;
    const char *ok = "{\"name\":\"step-1\",\"step\":1,\"state_path\":\"s1\",\"source_job_id\":\"j\"}\n";
    write_file(f->file, ok, strlen(ok));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {.rlim_cur = strlen(ok) + 20, .rlim_max = RLIM_INFINITY};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(3);
        fwt_registry_entry e;
        fwt_registry_entry_init(&e, FWT_REGISTRY_ENTRY_VERSION);
        e.name = "step-2";
        e.step = 2;
        e.state_path = "cross_job://job-abc/step-2";
        e.source_job_id = "job-abc";
        int rc = fwt_registry_append(f->dir, &e);
        _exit(rc == FWT_EIO && strstr(fwt_error_last()->message, "cannot append") ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    fwt_registry *l = NULL;
    assert_int_equal(fwt_registry_read(&l, f->dir), FWT_OK);
    assert_int_equal(fwt_registry_count(l), 1);
    fwt_registry_free(l);
}

/* Two processes appending at once: every record lands whole, on its own line. */
static void test_append_concurrent(void **state)
{
    fixture *f = *state;
    enum { PER = 40 };
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            for (int i = 0; i < PER; i++) {
                char name[32];
                snprintf(name, sizeof name, "step-%d", k * 1000 + i);
                fwt_registry_entry e;
                fwt_registry_entry_init(&e, FWT_REGISTRY_ENTRY_VERSION);
                e.name = name;
                e.step = k * 1000 + i;
                e.state_path = name;
                e.source_job_id = k ? "job-b" : "job-a";
                if (fwt_registry_append(f->dir, &e) != FWT_OK)
                    _exit(1);
            }
            _exit(0);
        }
    }
    for (int k = 0; k < 2; k++) {
        int status = 0;
        assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    fwt_registry *l = NULL;
    assert_int_equal(fwt_registry_read(&l, f->dir), FWT_OK);
    assert_int_equal(fwt_registry_count(l), 2 * PER);
    int64_t next[2] = {0, 1000};
    for (size_t i = 0; i < fwt_registry_count(l); i++) {
        int64_t s = fwt_registry_get(l, i)->step;
        int k = s >= 1000;
        assert_int_equal(s, next[k]); /* each writer's records stay in its order */
        next[k]++;
    }
    fwt_registry_free(l);
}

static void test_queries(void **state)
{
    fixture *f = *state;
    fwt_registry *l = NULL;
    /* missing registry = fresh run */
    assert_int_equal(fwt_registry_read(&l, f->dir), FWT_OK);
    assert_int_equal(fwt_registry_count(l), 0);
    assert_null(fwt_registry_last_resumable(l));
    assert_null(fwt_registry_latest_promotable(l));
    assert_null(fwt_registry_find_step(l, 0));
    fwt_registry_free(l);
    assert_int_equal(fwt_registry_read_file(&l, f->file), FWT_EIO);
    assert_non_null(strstr(fwt_error_last()->message, "No such file"));
    assert_int_equal(fwt_registry_read(NULL, f->dir), FWT_EINVAL);
    assert_int_equal(fwt_registry_read(&l, NULL), FWT_EINVAL);
    assert_int_equal(fwt_registry_read_file(&l, f->dir), FWT_EIO); /* a directory */

    write_file(f->file, GOLDEN, sizeof GOLDEN - 1);
    assert_int_equal(fwt_registry_read(&l, f->dir), FWT_OK);
    const fwt_registry_entry *e = fwt_registry_last_resumable(l);
    assert_non_null(e);
    assert_string_equal(e->state_path, "cross_job://job-def/step-50"); /* the last line with a state_path */
    e = fwt_registry_latest_promotable(l);
    assert_string_equal(e->sampler_path, "step-50-a1b2c3d4");
    e = fwt_registry_find_step(l, 50);
    assert_int_equal(e->data_consumed, 201); /* the last with that step */
    e = fwt_registry_find_step(l, 25);
    assert_string_equal(e->sampler_path, "step-25-0badf00d");
    assert_null(fwt_registry_find_step(l, 11));
    fwt_registry_free(l);

    /* a promotable entry followed only by STATE ones is still the latest promotable */
    const char *two = "{\"name\":\"step-5\",\"step\":5,\"sampler_path\":\"p5\",\"source_job_id\":\"j\"}\n"
                      "{\"name\":\"step-6\",\"step\":6,\"state_path\":\"s6\",\"source_job_id\":\"j\"}\n";
    write_file(f->file, two, strlen(two));
    assert_int_equal(fwt_registry_read(&l, f->dir), FWT_OK);
    assert_int_equal(fwt_registry_latest_promotable(l)->step, 5);
    assert_int_equal(fwt_registry_last_resumable(l)->step, 6);
    fwt_registry_free(l);

    /* lines out of step order: resume takes the highest resumable step (ties: the later line), not the last line;
     * promotion by step keeps the promotable entries first */
    const char *mixed = "{\"name\":\"step-8\",\"step\":8,\"state_path\":\"s8a\",\"source_job_id\":\"j\"}\n"
                        "{\"name\":\"step-8\",\"step\":8,\"sampler_path\":\"p8\",\"source_job_id\":\"j\"}\n"
                        "{\"name\":\"step-8\",\"step\":8,\"state_path\":\"s8b\",\"source_job_id\":\"j\"}\n"
                        "{\"name\":\"step-4\",\"step\":4,\"state_path\":\"s4\",\"source_job_id\":\"j\"}\n"
                        "{\"name\":\"step-9\",\"step\":9,\"sampler_path\":\"p9\",\"source_job_id\":\"j\"}\n";
    write_file(f->file, mixed, strlen(mixed));
    assert_int_equal(fwt_registry_read(&l, f->dir), FWT_OK);
    assert_string_equal(fwt_registry_last_resumable(l)->state_path, "s8b");
    assert_string_equal(fwt_registry_find_step(l, 8)->state_path, "s8b");
    assert_string_equal(fwt_registry_find_promotable_step(l, 8)->sampler_path, "p8");
    assert_null(fwt_registry_find_promotable_step(l, 4));
    assert_string_equal(fwt_registry_find_promotable_step(l, 9)->sampler_path, "p9");
    assert_null(fwt_registry_find_promotable_step(NULL, 9));
    fwt_registry_free(l);

    assert_null(fwt_registry_last_resumable(NULL));
    assert_int_equal(fwt_registry_count(NULL), 0);
    fwt_registry_free(NULL);
}

static void test_kinds_and_specs(void **state)
{
    (void)state;
    fwt_checkpoint_kind k;
    assert_int_equal(fwt_checkpoint_kind_parse(&k, "both"), FWT_OK);
    assert_int_equal(k, FWT_CHECKPOINT_KIND_BOTH);
    assert_int_equal(fwt_checkpoint_kind_parse(&k, "Sampler"), FWT_OK);
    assert_int_equal(k, FWT_CHECKPOINT_KIND_SAMPLER);
    assert_int_equal(fwt_checkpoint_kind_parse(&k, "dcp"), FWT_EINVAL);
    assert_int_equal(fwt_checkpoint_kind_parse(&k, NULL), FWT_EINVAL);
    assert_string_equal(fwt_checkpoint_kind_name(FWT_CHECKPOINT_KIND_STATE), "STATE");
    assert_null(fwt_checkpoint_kind_name((fwt_checkpoint_kind)0));

    char *out = NULL;
    assert_int_equal(fwt_checkpoint_spec_resolve(&out, "i44pvd4syzg8hjfk:step-4"), FWT_OK);
    assert_string_equal(out, "cross_job://i44pvd4syzg8hjfk/step-4");
    fwt_free(out);
    assert_int_equal(fwt_checkpoint_spec_resolve(&out, "job:a:b"), FWT_OK); /* split on the first ':' */
    assert_string_equal(out, "cross_job://job/a:b");
    fwt_free(out);
    assert_int_equal(fwt_checkpoint_spec_resolve(&out, "gs://bucket/x"), FWT_OK);
    assert_string_equal(out, "gs://bucket/x");
    fwt_free(out);
    assert_int_equal(fwt_checkpoint_spec_resolve(&out, "/abs/path"), FWT_OK);
    assert_string_equal(out, "/abs/path");
    fwt_free(out);
    assert_int_equal(fwt_checkpoint_spec_resolve(&out, "step-4"), FWT_EINVAL);
    assert_null(out);
    assert_non_null(strstr(fwt_error_last()->message, "<job_id>:<checkpoint_name>"));
    assert_int_equal(fwt_checkpoint_spec_resolve(&out, ":step-4"), FWT_EINVAL);
    assert_int_equal(fwt_checkpoint_spec_resolve(&out, "job:"), FWT_EINVAL);
    assert_int_equal(fwt_checkpoint_spec_resolve(&out, "job:a/b"), FWT_EINVAL);
    assert_int_equal(fwt_checkpoint_spec_resolve(&out, ""), FWT_EINVAL);
    assert_int_equal(fwt_checkpoint_spec_resolve(NULL, "a:b"), FWT_EINVAL);
}

/* Random mixes of good lines, torn fragments and garbage: never a crash or leak; OK or ECORRUPT only;
 * when OK, an append either refuses a '\n'-terminated torn line (file untouched) or lands as the last
 * entry with every committed byte before it intact. */
static void test_random_files(void **state)
{
    fixture *f = *state;
    static const char *pieces[] = {
        "{\"name\":\"step-1\",\"step\":1,\"state_path\":\"s\",\"source_job_id\":\"j\"}\n",
        "{\"name\":\"step-2\",\"step\":2,\"sampler_path\":\"p\",\"source_job_id\":\"j\"}\n",
        "{\"name\":\"st", "\0\0\0", "\n", "  \r\n", "garbage", "{\"name\":\"x\",\"step\":\"1\"}\n", "[]\n", "\xff\xfe",
        "{\"name\":\"a\",\"step\":1e300,\"state_path\":\"s\"}\n", "{\"name\":\"\\u0000\",\"step\":0,\"state_path\":\"s\"}\n"};
    static const size_t piece_len[] = {0, 0, 12, 3, 1, 4, 7, 0, 3, 2, 0, 0};
    int rounds = getenv("FWT_UNDER_VALGRIND") ? 40 : 250; /* each round fsyncs an append */
    unsigned seed = 12345;
    char buf[2048];
    for (int round = 0; round < rounds; round++) {
        size_t len = 0;
        int n = (int)(rand_r(&seed) % 8);
        for (int i = 0; i < n; i++) {
            size_t k = (size_t)rand_r(&seed) % (sizeof pieces / sizeof pieces[0]);
            size_t pl = piece_len[k] ? piece_len[k] : strlen(pieces[k]);
            memcpy(buf + len, pieces[k], pl);
            len += pl;
        }
        write_file(f->file, buf, len);
        fwt_registry *l = NULL;
        int rc = fwt_registry_read(&l, f->dir);
        assert_true(rc == FWT_OK || rc == FWT_ECORRUPT);
        if (rc != FWT_OK) {
            assert_null(l);
            assert_non_null(strstr(fwt_error_last()->message, "checkpoints.jsonl:"));
            continue;
        }
        size_t before = fwt_registry_count(l);
        for (size_t i = 0; i < before; i++) {
            const fwt_registry_entry *e = fwt_registry_get(l, i);
            assert_true(e->name && e->step >= 0 && (e->state_path || e->sampler_path));
        }
        /* the reader ignores only the tail; bytes up to the last '\n' before it are committed */
        size_t torn = fwt_registry_torn_bytes(l);
        assert_true(torn <= len);
        int tail_has_nl = memchr(buf + len - torn, '\n', torn) != NULL;
        size_t last_nl_end = len;
        while (last_nl_end > 0 && buf[last_nl_end - 1] != '\n')
            last_nl_end--;
        fwt_registry_entry e;
        fwt_registry_entry_init(&e, FWT_REGISTRY_ENTRY_VERSION);
        e.name = "step-99";
        e.step = 99;
        e.state_path = "s99";
        e.source_job_id = "j";
        rc = fwt_registry_append(f->dir, &e);
        size_t got_len;
        char *text = slurp(f->file, &got_len);
        if (tail_has_nl) {
            /* a '\n'-terminated invalid last line: refused, file untouched */
            assert_int_equal(rc, FWT_ECORRUPT);
            assert_non_null(strstr(fwt_error_last()->message, "invalid line; remove it or fix it"));
            assert_int_equal(got_len, len);
            assert_memory_equal(text, buf, len);
            free(text);
            fwt_registry_free(l);
            continue;
        }
        assert_int_equal(rc, FWT_OK);
        /* never a '\n'-terminated byte lost: the old file up to its last '\n' is a prefix of the new one */
        assert_true(got_len > last_nl_end);
        assert_memory_equal(text, buf, last_nl_end);
        free(text);
        fwt_registry *l2 = NULL;
        assert_int_equal(fwt_registry_read(&l2, f->dir), FWT_OK);
        assert_int_equal(fwt_registry_count(l2), before + 1);
        assert_int_equal(fwt_registry_torn_bytes(l2), 0);
        for (size_t i = 0; i < before; i++)
            assert_string_equal(fwt_registry_get(l2, i)->name, fwt_registry_get(l, i)->name);
        assert_int_equal(fwt_registry_get(l2, before)->step, 99);
        fwt_registry_free(l);
        fwt_registry_free(l2);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_golden_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_every_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_terminated_invalid_last_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_keeps_blank_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_after_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_refuses_corrupt_and_bad_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_short_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queries, setup, teardown),
        cmocka_unit_test(test_kinds_and_specs),
        cmocka_unit_test_setup_teardown(test_random_files, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
