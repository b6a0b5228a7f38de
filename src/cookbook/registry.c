/*
 * checkpoints.jsonl reader and queries (docs/protocol.md §7.1; docs/internals.md reliability §4).
 *
 * '\n' is the commit marker of a record. A crash can leave, after the last
 * committed record, an unterminated fragment or (when the file size reached
 * the disk before its content) garbage and NUL bytes. Such a tail is ignored,
 * like LevelDB's log reader treats a truncated tail as EOF. Only the LAST
 * line can be torn: one '\n'-terminated invalid last line is still tolerated
 * (and counted in torn_bytes, so callers warn), but a bad line followed by a
 * good one, or by a second bad line, cannot be a tear and is reported with
 * its line number rather than silently skipped: resuming from the wrong
 * checkpoint is worse than stopping.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fwt_util.h"
#include "registry_impl.h"

struct fwt_registry {
    fwt_registry_entry *entries;
    size_t count, cap;
    size_t torn_bytes;
};

int fwt_registry_entry_init(fwt_registry_entry *e, unsigned int version)
{
    if (!e)
        return fwt__last_set(FWT_EINVAL, "fwt_registry_entry_init: entry is NULL");
    if (version != FWT_REGISTRY_ENTRY_VERSION)
        return fwt__last_set(FWT_EINVAL, "fwt_registry_entry_init: unknown version %u", version);
    memset(e, 0, sizeof *e);
    e->version = version;
    return FWT_OK;
}

int fwt_registry_entry_kind(const fwt_registry_entry *e)
{
    if (!e)
        return 0;
    return (e->state_path ? FWT_CHECKPOINT_KIND_STATE : 0) | (e->sampler_path ? FWT_CHECKPOINT_KIND_SAMPLER : 0);
}

int fwt_registry_entry_is_resumable(const fwt_registry_entry *e)
{
    return e && e->state_path != NULL;
}

int fwt_registry_entry_is_promotable(const fwt_registry_entry *e)
{
    return e && e->sampler_path != NULL;
}

static void entry_release(fwt_registry_entry *e)
{
    fwt__free_mem((char *)e->name);
    fwt__free_mem((char *)e->state_path);
    fwt__free_mem((char *)e->sampler_path);
    fwt__free_mem((char *)e->source_job_id);
    fwt__free_mem((char *)e->base_model);
}

void fwt_registry_free(fwt_registry *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->count; i++)
        entry_release(&l->entries[i]);
    fwt__free_mem(l->entries);
    fwt__free_mem(l);
}

size_t fwt_registry_count(const fwt_registry *l)
{
    return l ? l->count : 0;
}

const fwt_registry_entry *fwt_registry_get(const fwt_registry *l, size_t i)
{
    return (l && i < l->count) ? &l->entries[i] : NULL;
}

size_t fwt_registry_torn_bytes(const fwt_registry *l)
{
    return l ? l->torn_bytes : 0;
}

/*
 * The highest step wins, not the last line: two runs that once shared a
 * log_path (before the checkpointer locked it) left lines out of step order,
 * and resuming from the last line would silently go back in training.
 */
const fwt_registry_entry *fwt_registry_last_resumable(const fwt_registry *l)
{
    const fwt_registry_entry *best = NULL;
    for (size_t i = 0; i < fwt_registry_count(l); i++)
        if (l->entries[i].state_path && (!best || l->entries[i].step >= best->step))
            best = &l->entries[i]; /* >=: on a tie the later line wins */
    return best;
}

const fwt_registry_entry *fwt_registry_latest_promotable(const fwt_registry *l)
{
    for (size_t i = fwt_registry_count(l); i-- > 0;)
        if (l->entries[i].sampler_path)
            return &l->entries[i];
    return NULL;
}

const fwt_registry_entry *fwt_registry_find_step(const fwt_registry *l, int64_t step)
{
    for (size_t i = fwt_registry_count(l); i-- > 0;)
        if (l->entries[i].step == step)
            return &l->entries[i];
    return NULL;
}

/*
 * The cookbook's promote-by-step: keep the promotable entries first, then
 * take the last of that step. A SAMPLER save followed by a STATE save of the
 * same step (what the checkpointer writes when a promotable save precedes
 * step_done at a multiple of the interval) must still promote the SAMPLER.
 */
const fwt_registry_entry *fwt_registry_find_promotable_step(const fwt_registry *l, int64_t step)
{
    for (size_t i = fwt_registry_count(l); i-- > 0;)
        if (l->entries[i].step == step && l->entries[i].sampler_path)
            return &l->entries[i];
    return NULL;
}

/* ---- one line ------------------------------------------------------------- */

enum line_class { LINE_BLANK, LINE_GARBAGE, LINE_BAD_ENTRY, LINE_OK, LINE_NOMEM };

/* Largest integer a double (and so every JSON reader) represents exactly. */
#define MAX_EXACT_INT 9007199254740992.0

static int get_count(const cJSON *obj, const char *key, int required, int64_t *out, const char **why)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) {
        *out = 0;
        if (required)
            *why = "is missing";
        return required ? -1 : 0;
    }
    /* Range first, so the cast below is defined; no libm (the library does not link it). */
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= MAX_EXACT_INT) ||
        (double)(int64_t)v->valuedouble != v->valuedouble) {
        *why = "must be a non-negative integer";
        return -1;
    }
    *out = (int64_t)v->valuedouble;
    return 0;
}

/* Optional string: absent or null → NULL; otherwise a non-empty string. */
static int get_text(const cJSON *obj, const char *key, const char **out, const char **why)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v) || !v->valuestring || !v->valuestring[0]) {
        *why = "must be a non-empty string";
        return -1;
    }
    *out = v->valuestring;
    return 0;
}

/*
 * Classify one line (without its '\n'). LINE_GARBAGE: not a JSON object
 * (what a torn write leaves). LINE_BAD_ENTRY: a JSON object that is not a
 * valid entry (a bug in whatever wrote it, never a tear).
 */
static enum line_class parse_line(const char *s, size_t n, fwt_registry_entry *e, char *why, size_t why_len)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
        i++;
    if (i == n)
        return LINE_BLANK;
    if (n > FWT__CKPT_MAX_LINE) {
        snprintf(why, why_len, "line longer than %zu bytes", FWT__CKPT_MAX_LINE);
        return LINE_GARBAGE;
    }
    if (memchr(s, '\0', n)) {
        snprintf(why, why_len, "line contains NUL bytes");
        return LINE_GARBAGE;
    }
    const char *end = NULL;
    cJSON *obj = cJSON_ParseWithLengthOpts(s, n, &end, 0);
    if (!obj) {
        snprintf(why, why_len, "invalid JSON");
        return LINE_GARBAGE;
    }
    for (const char *p = end; p && p < s + n; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r') {
            cJSON_Delete(obj);
            snprintf(why, why_len, "unexpected bytes after the JSON object");
            return LINE_GARBAGE;
        }
    }
    if (!cJSON_IsObject(obj)) {
        cJSON_Delete(obj);
        snprintf(why, why_len, "not a JSON object");
        return LINE_GARBAGE;
    }

    const char *name = NULL, *state = NULL, *sampler = NULL, *job = NULL, *base = NULL, *bad = NULL, *msg = NULL;
    int64_t step = 0, data = 0;
    if (get_text(obj, "name", &name, &msg) < 0)
        bad = "name";
    else if (!name)
        bad = "name", msg = "is missing";
    else if (get_count(obj, "step", 1, &step, &msg) < 0)
        bad = "step";
    else if (get_count(obj, "data_consumed", 0, &data, &msg) < 0)
        bad = "data_consumed";
    else if (get_text(obj, "state_path", &state, &msg) < 0)
        bad = "state_path";
    else if (get_text(obj, "sampler_path", &sampler, &msg) < 0)
        bad = "sampler_path";
    else if (get_text(obj, "source_job_id", &job, &msg) < 0)
        bad = "source_job_id";
    else if (get_text(obj, "base_model", &base, &msg) < 0)
        bad = "base_model";
    if (bad) {
        snprintf(why, why_len, "\"%s\" %s", bad, msg);
        cJSON_Delete(obj);
        return LINE_BAD_ENTRY;
    }
    if (!state && !sampler) {
        snprintf(why, why_len, "entry \"%s\" has neither state_path nor sampler_path", name);
        cJSON_Delete(obj);
        return LINE_BAD_ENTRY;
    }

    memset(e, 0, sizeof *e);
    e->version = FWT_REGISTRY_ENTRY_VERSION;
    e->step = step;
    e->data_consumed = data;
    e->name = fwt__strdup(name);
    e->state_path = fwt__strdup(state);
    e->sampler_path = fwt__strdup(sampler);
    e->source_job_id = fwt__strdup(job);
    e->base_model = fwt__strdup(base);
    cJSON_Delete(obj);
    if (!e->name || (state && !e->state_path) || (sampler && !e->sampler_path) || (job && !e->source_job_id) ||
        (base && !e->base_model)) {
        entry_release(e);
        return LINE_NOMEM;
    }
    return LINE_OK;
}

static int list_push(fwt_registry *l, const fwt_registry_entry *e)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        fwt_registry_entry *p = fwt__realloc(l->entries, cap * sizeof *p);
        if (!p)
            return FWT_ENOMEM;
        l->entries = p;
        l->cap = cap;
    }
    l->entries[l->count++] = *e;
    return FWT_OK;
}

int fwt__ckpt_parse(fwt_registry **out, fwt__ckpt_tail *tail, const char *path, const char *buf, size_t len)
{
    fwt_registry *l = NULL;
    if (tail)
        memset(tail, 0, sizeof *tail);
    if (out) {
        *out = NULL;
        l = fwt__calloc(1, sizeof *l);
        if (!l)
            return fwt__last_set(FWT_ENOMEM, "out of memory reading %s", path);
    }
    fwt__json_hooks_install();

    /*
     * end_ok: just past the last line that is valid or blank with no invalid
     * line before it. bad_line: the first '\n'-terminated invalid line after
     * it. Only the last line may be torn, so a valid line or a second invalid
     * line after bad_line makes the file corrupt.
     */
    size_t pos = 0, line_no = 0, end_ok = 0;
    size_t bad_line = 0;
    char bad_why[FWT__CKPT_WHY] = "", why[FWT__CKPT_WHY];
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        if (!nl)
            break; /* unterminated: never committed */
        line_no++;
        size_t n = (size_t)(nl - (buf + pos));
        fwt_registry_entry e;
        why[0] = '\0';
        enum line_class c = parse_line(buf + pos, n, &e, why, sizeof why);
        pos = (size_t)(nl - buf) + 1;
        if (c == LINE_NOMEM) {
            fwt_registry_free(l);
            return fwt__last_set(FWT_ENOMEM, "out of memory reading %s", path);
        }
        if (c == LINE_BAD_ENTRY) {
            fwt_registry_free(l);
            return fwt__last_set(FWT_ECORRUPT, "%s:%zu: %s", path, line_no, why);
        }
        if (c == LINE_BLANK) {
            if (!bad_line)
                end_ok = pos; /* committed bytes: an append must keep them */
            continue;
        }
        if (c == LINE_GARBAGE) {
            if (bad_line) {
                fwt_registry_free(l);
                return fwt__last_set(FWT_ECORRUPT,
                                     "%s:%zu: %s (line %zu is invalid too; only the last line can be torn)", path,
                                     bad_line, bad_why, line_no);
            }
            bad_line = line_no;
            snprintf(bad_why, sizeof bad_why, "%s", why);
            continue;
        }
        /* LINE_OK */
        if (bad_line) {
            entry_release(&e);
            fwt_registry_free(l);
            return fwt__last_set(FWT_ECORRUPT, "%s:%zu: %s (and valid lines follow, so it is not a torn tail)", path,
                                 bad_line, bad_why);
        }
        if (l && list_push(l, &e) != FWT_OK) {
            entry_release(&e);
            fwt_registry_free(l);
            return fwt__last_set(FWT_ENOMEM, "out of memory reading %s", path);
        }
        if (!l)
            entry_release(&e);
        end_ok = pos;
    }
    if (l) {
        l->torn_bytes = len - end_ok;
        *out = l;
    }
    if (tail) {
        tail->valid_end = end_ok;
        tail->bad_line = bad_line;
        snprintf(tail->bad_why, sizeof tail->bad_why, "%s", bad_why);
    }
    return FWT_OK;
}

/* ---- files ---------------------------------------------------------------- */

int fwt__ckpt_read_all(char **out, size_t *out_len, const char *path, int *err_no)
{
    *out = NULL;
    *out_len = 0;
    if (err_no)
        *err_no = 0;
    int fd;
    do
        fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        int e = errno;
        if (err_no)
            *err_no = e;
        return fwt__last_set(FWT_EIO, "cannot open %s: %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = errno;
        close(fd);
        return fwt__last_set(FWT_EIO, "%s is not a regular file%s%s", path, e ? ": " : "", e ? strerror(e) : "");
    }
    if ((uint64_t)st.st_size > FWT__CKPT_MAX_FILE) {
        close(fd);
        return fwt__last_set(FWT_EIO, "%s is larger than %zu bytes", path, FWT__CKPT_MAX_FILE);
    }
    size_t cap = (size_t)st.st_size + 1, len = 0;
    char *buf = fwt__malloc(cap);
    if (!buf) {
        close(fd);
        return fwt__last_set(FWT_ENOMEM, "out of memory reading %s", path);
    }
    /* Read to EOF rather than trusting st_size: an appender may be growing the file. */
    for (;;) {
        if (len + 1 == cap) {
            if (cap > FWT__CKPT_MAX_FILE) {
                fwt__free_mem(buf);
                close(fd);
                return fwt__last_set(FWT_EIO, "%s is larger than %zu bytes", path, FWT__CKPT_MAX_FILE);
            }
            char *p = fwt__realloc(buf, cap * 2);
            if (!p) {
                fwt__free_mem(buf);
                close(fd);
                return fwt__last_set(FWT_ENOMEM, "out of memory reading %s", path);
            }
            buf = p;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            fwt__free_mem(buf);
            close(fd);
            return fwt__last_set(FWT_EIO, "cannot read %s: %s", path, strerror(e));
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return FWT_OK;
}

char *fwt__ckpt_join(const char *log_path)
{
    size_t n = strlen(log_path);
    while (n > 1 && log_path[n - 1] == '/')
        n--;
    return fwt__asprintf("%.*s/%s", (int)n, log_path, FWT__CKPT_FILE);
}

int fwt_registry_read_file(fwt_registry **out, const char *path)
{
    if (!out)
        return fwt__last_set(FWT_EINVAL, "fwt_registry_read_file: out is NULL");
    *out = NULL;
    if (!path || !path[0])
        return fwt__last_set(FWT_EINVAL, "fwt_registry_read_file: path is empty");
    char *buf;
    size_t len;
    int rc = fwt__ckpt_read_all(&buf, &len, path, NULL);
    if (rc != FWT_OK)
        return rc;
    rc = fwt__ckpt_parse(out, NULL, path, buf, len);
    fwt__free_mem(buf);
    if (rc == FWT_OK)
        fwt__last_ok();
    return rc;
}

int fwt_registry_read(fwt_registry **out, const char *log_path)
{
    if (!out)
        return fwt__last_set(FWT_EINVAL, "fwt_registry_read: out is NULL");
    *out = NULL;
    if (!log_path || !log_path[0])
        return fwt__last_set(FWT_EINVAL, "fwt_registry_read: log_path is empty");
    char *path = fwt__ckpt_join(log_path);
    if (!path)
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    char *buf;
    size_t len;
    int err_no = 0;
    int rc = fwt__ckpt_read_all(&buf, &len, path, &err_no);
    if (rc == FWT_EIO && err_no == ENOENT) {
        /* No registry yet: a fresh run. */
        fwt__free_mem(path);
        *out = fwt__calloc(1, sizeof **out);
        if (!*out)
            return fwt__last_set(FWT_ENOMEM, "out of memory");
        fwt__last_ok();
        return FWT_OK;
    }
    if (rc == FWT_OK) {
        rc = fwt__ckpt_parse(out, NULL, path, buf, len);
        fwt__free_mem(buf);
    }
    fwt__free_mem(path);
    if (rc == FWT_OK)
        fwt__last_ok();
    return rc;
}
