/*
 * Durable append to checkpoints.jsonl (docs/internals.md reliability §4).
 *
 * The reference cookbooks append with a buffered write and no fsync, and
 * their readers fail on a torn line. Here a record is one buffer ending in
 * '\n', written with a loop (short writes and EINTR happen), then fsynced.
 * A failed write or fsync is not retried in place: after a failed fsync the
 * kernel may have dropped the dirty pages and a second fsync can lie
 * ("fsyncgate"), so the record is withdrawn and the caller appends again.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fwt_util.h"
#include "registry_impl.h"

/* Largest integer every JSON reader (doubles) represents exactly. */
#define MAX_EXACT_INT ((int64_t)1 << 53)

int fwt__ckpt_check_entry(const fwt_registry_entry *e)
{
    if (!e)
        return fwt__last_set(FWT_EINVAL, "checkpoint entry is NULL");
    if (e->version != FWT_REGISTRY_ENTRY_VERSION)
        return fwt__last_set(FWT_EINVAL, "checkpoint entry: unknown version %u (use fwt_registry_entry_init)",
                             e->version);
    if (!e->name || !e->name[0])
        return fwt__last_set(FWT_EINVAL, "checkpoint entry: name is required");
    if (e->step < 0 || e->step > MAX_EXACT_INT)
        return fwt__last_set(FWT_EINVAL, "checkpoint entry: step %" PRId64 " is out of range", e->step);
    if (e->data_consumed < 0 || e->data_consumed > MAX_EXACT_INT)
        return fwt__last_set(FWT_EINVAL, "checkpoint entry: data_consumed %" PRId64 " is out of range",
                             e->data_consumed);
    if (!e->source_job_id || !e->source_job_id[0])
        return fwt__last_set(FWT_EINVAL, "checkpoint entry: source_job_id is required");
    if ((!e->state_path || !e->state_path[0]) && (!e->sampler_path || !e->sampler_path[0]))
        return fwt__last_set(FWT_EINVAL, "checkpoint entry: needs a state_path or a sampler_path");
    if ((e->state_path && !e->state_path[0]) || (e->sampler_path && !e->sampler_path[0]) ||
        (e->base_model && !e->base_model[0]))
        return fwt__last_set(FWT_EINVAL, "checkpoint entry: optional strings must be NULL or non-empty");
    return FWT_OK;
}

/* The record as one line, "...}\n". Numbers are printed as integers (cJSON would go through a double format). */
static char *serialise(const fwt_registry_entry *e, size_t *len)
{
    char num[32];
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL;
    ok = ok && cJSON_AddStringToObject(o, "name", e->name);
    snprintf(num, sizeof num, "%" PRId64, e->step);
    ok = ok && cJSON_AddRawToObject(o, "step", num);
    snprintf(num, sizeof num, "%" PRId64, e->data_consumed);
    ok = ok && cJSON_AddRawToObject(o, "data_consumed", num);
    if (ok && e->state_path)
        ok = cJSON_AddStringToObject(o, "state_path", e->state_path) != NULL;
    if (ok && e->sampler_path)
        ok = cJSON_AddStringToObject(o, "sampler_path", e->sampler_path) != NULL;
    ok = ok && cJSON_AddStringToObject(o, "source_job_id", e->source_job_id);
    if (ok && e->base_model)
        ok = cJSON_AddStringToObject(o, "base_model", e->base_model) != NULL;
    char *text = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!text)
        return NULL;
    char *line = fwt__asprintf("%s\n", text);
    cJSON_free(text);
    if (line)
        *len = strlen(line);
    return line;
}

static int fsync_dir(const char *dir)
{
    int fd;
    do
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* The directory part of `path` ("." when it has none); NULL on OOM. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return fwt__strdup(".");
    if (slash == path)
        return fwt__strdup("/");
    return fwt__strndup(path, (size_t)(slash - path));
}

int fwt__ckpt_make_dirs(const char *path)
{
    char *p = fwt__strdup(path);
    if (!p)
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    int rc = FWT_OK;
    size_t n = strlen(p);
    for (size_t i = 1; i <= n && rc == FWT_OK; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char saved = p[i];
        p[i] = '\0';
        if (mkdir(p, 0755) == 0) {
            char *parent = dir_of(p);
            if (!parent)
                rc = fwt__last_set(FWT_ENOMEM, "out of memory");
            else if (fsync_dir(parent) != 0)
                rc = fwt__last_set(FWT_EIO, "cannot fsync directory %s: %s", parent, strerror(errno));
            fwt__free_mem(parent);
        } else if (errno != EEXIST) {
            rc = fwt__last_set(FWT_EIO, "cannot create directory %s: %s", p, strerror(errno));
        } else if (saved == '\0') {
            struct stat st;
            if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
                rc = fwt__last_set(FWT_EIO, "log_path %s exists and is not a directory", p);
        }
        p[i] = saved;
    }
    fwt__free_mem(p);
    return rc;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

int fwt_registry_append_file(const char *path, const fwt_registry_entry *e)
{
    if (!path || !path[0])
        return fwt__last_set(FWT_EINVAL, "fwt_registry_append_file: path is empty");
    int rc = fwt__ckpt_check_entry(e);
    if (rc != FWT_OK)
        return rc;
    size_t line_len = 0;
    char *line = serialise(e, &line_len);
    if (!line)
        return fwt__last_set(FWT_ENOMEM, "out of memory");

    int created = 1, fd;
    do
        fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    while (fd < 0 && errno == EINTR);
    if (fd < 0 && errno == EEXIST) {
        created = 0;
        do
            fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
        while (fd < 0 && errno == EINTR);
    }
    if (fd < 0) {
        rc = fwt__last_set(FWT_EIO, "cannot open %s: %s", path, strerror(errno));
        fwt__free_mem(line);
        return rc;
    }
    /* One appender at a time (other processes too): the tail check below must not race another append. */
    int lr;
    do
        lr = flock(fd, LOCK_EX);
    while (lr != 0 && errno == EINTR);
    if (lr != 0) {
        rc = fwt__last_set(FWT_EIO, "cannot lock %s: %s", path, strerror(errno));
        goto out;
    }

    char *old = NULL;
    size_t old_len = 0, valid_end = 0;
    fwt__ckpt_tail tail;
    rc = fwt__ckpt_read_all(&old, &old_len, path, NULL);
    if (rc == FWT_OK)
        rc = fwt__ckpt_parse(NULL, &tail, path, old, old_len);
    fwt__free_mem(old);
    if (rc != FWT_OK)
        goto out;
    /*
     * A '\n'-terminated line was committed by whoever wrote it (a record of
     * ours is one buffer ending in '\n'); cutting it could destroy a user's
     * checkpoint, and appending after it would bury it mid-file. Let the user
     * decide.
     */
    if (tail.bad_line) {
        rc = fwt__last_set(FWT_ECORRUPT, "%s:%zu: invalid line; remove it or fix it (%s)", path, tail.bad_line,
                           tail.bad_why);
        goto out;
    }
    /*
     * What follows is an unterminated fragment: a torn, never-committed
     * record. Cut it off so the new record starts on a fresh line and the
     * torn bytes cannot later sit between two good lines (which the reader
     * would rightly call corruption).
     */
    valid_end = tail.valid_end;
    if (valid_end < old_len && ftruncate(fd, (off_t)valid_end) != 0) {
        rc = fwt__last_set(FWT_EIO, "cannot cut the torn tail of %s: %s", path, strerror(errno));
        goto out;
    }
    if (write_all(fd, line, line_len) != 0) {
        rc = fwt__last_set(FWT_EIO, "cannot append to %s: %s", path, strerror(errno));
        if (ftruncate(fd, (off_t)valid_end) != 0) {
            /* The unterminated remainder is a torn tail the reader ignores and the next append cuts. */
        }
        goto out;
    }
    if (fsync(fd) != 0) {
        rc = fwt__last_set(FWT_EIO, "cannot fsync %s: %s (the checkpoint record is not durable)", path,
                           strerror(errno));
        if (ftruncate(fd, (off_t)valid_end) != 0) {
            /* Best effort: a record that may vanish must not look committed. */
        }
        goto out;
    }
    if (created) {
        char *dir = dir_of(path);
        if (!dir)
            rc = fwt__last_set(FWT_ENOMEM, "out of memory");
        else if (fsync_dir(dir) != 0)
            rc = fwt__last_set(FWT_EIO, "cannot fsync directory %s: %s", dir, strerror(errno));
        fwt__free_mem(dir);
    }
out:
    close(fd); /* releases the lock */
    fwt__free_mem(line);
    if (rc == FWT_OK)
        fwt__last_ok();
    return rc;
}

int fwt_registry_append(const char *log_path, const fwt_registry_entry *e)
{
    if (!log_path || !log_path[0])
        return fwt__last_set(FWT_EINVAL, "fwt_registry_append: log_path is empty");
    int rc = fwt__ckpt_check_entry(e);
    if (rc != FWT_OK)
        return rc;
    rc = fwt__ckpt_make_dirs(log_path);
    if (rc != FWT_OK)
        return rc;
    char *path = fwt__ckpt_join(log_path);
    if (!path)
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    rc = fwt_registry_append_file(path, e);
    fwt__free_mem(path);
    return rc;
}
