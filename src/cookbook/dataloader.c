/*
 * {log_path}/dataloader.json: the data position of each checkpoint the
 * checkpointer saved, {"<checkpoint name>": data_consumed, ...}, as the
 * current cookbook keeps it next to a control-plane resume (the listing
 * knows the checkpoint, only the client knows how much data it had seen).
 *
 * The newest DATALOADER_KEEP names are kept, oldest first. The file is
 * replaced atomically (temp file, fsync, rename, fsync of the directory), so
 * a crash leaves either the old or the new map, never a torn one. The
 * checkpointer writes a name's position BEFORE it saves the checkpoint: a
 * checkpoint the listing shows always has its position here, and a position
 * whose save never completed is harmless (nothing resumes from it).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "checkpointer_impl.h"
#include "fwt_util.h"

#define DATALOADER_FILE "dataloader.json"
#define DATALOADER_KEEP 20
/* A map of 20 names cannot be this large: anything bigger is not ours. */
#define DATALOADER_MAX_BYTES ((long)1 << 20)
/* Largest integer a JSON reader (doubles) represents exactly. */
#define MAX_EXACT_INT ((int64_t)1 << 53)

/* The parsed map, or an empty object when the file does not exist. */
static int load_map(cJSON **out, const char *path)
{
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        if (errno != ENOENT)
            return fwt__last_set(FWT_EIO, "%s: %s", path, strerror(errno));
        *out = cJSON_CreateObject();
        return *out ? FWT_OK : fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    char *buf = fwt__malloc((size_t)DATALOADER_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, (size_t)DATALOADER_MAX_BYTES + 1, fp) : 0;
    int err = ferror(fp);
    fclose(fp);
    if (!buf)
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    if (err) {
        fwt__free_mem(buf);
        return fwt__last_set(FWT_EIO, "%s: read failed", path);
    }
    if (n > (size_t)DATALOADER_MAX_BYTES) {
        fwt__free_mem(buf);
        return fwt__last_set(FWT_ECORRUPT, "%s: larger than %ld bytes, not a data-position map", path,
                             DATALOADER_MAX_BYTES);
    }
    cJSON *o = cJSON_ParseWithLength(buf, n);
    fwt__free_mem(buf);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return fwt__last_set(FWT_ECORRUPT, "%s: not a JSON object {\"<checkpoint name>\": data_consumed, ...}", path);
    }
    for (const cJSON *it = o->child; it; it = it->next) {
        if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) || it->valuedouble < 0 ||
            it->valuedouble > (double)MAX_EXACT_INT || it->valuedouble != floor(it->valuedouble)) {
            int rc = fwt__last_set(FWT_ECORRUPT,
                                   "%s: the value of \"%.200s\" is not a data_consumed count (an integer >= 0)", path,
                                   it->string ? it->string : "");
            cJSON_Delete(o); /* after the message: it names a key of o */
            return rc;
        }
    }
    *out = o;
    return FWT_OK;
}

int fwt__dataloader_get(const char *log_path, const char *name, int64_t *data_consumed, int *found)
{
    *found = 0;
    char *path = fwt__asprintf("%s/%s", log_path, DATALOADER_FILE);
    if (!path)
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    cJSON *o = NULL;
    int rc = load_map(&o, path);
    fwt__free_mem(path);
    if (rc != FWT_OK)
        return rc;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (v) {
        *data_consumed = (int64_t)v->valuedouble;
        *found = 1;
    }
    cJSON_Delete(o);
    return FWT_OK;
}

/* Write the whole text to a new file and make it durable; the temp file is removed on failure. */
static int write_durable(const char *tmp, const char *text)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return fwt__last_set(FWT_EIO, "%s: %s", tmp, strerror(errno));
    size_t len = strlen(text), off = 0;
    int rc = FWT_OK;
    while (off < len && rc == FWT_OK) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            rc = fwt__last_set(FWT_EIO, "%s: write: %s", tmp, strerror(errno));
        else
            off += (size_t)w;
    }
    if (rc == FWT_OK && fsync(fd) != 0)
        rc = fwt__last_set(FWT_EIO, "%s: fsync: %s", tmp, strerror(errno));
    close(fd);
    if (rc != FWT_OK)
        unlink(tmp);
    return rc;
}

int fwt__dataloader_put(const char *log_path, const char *name, int64_t data_consumed)
{
    char *path = fwt__asprintf("%s/%s", log_path, DATALOADER_FILE);
    char *tmp = fwt__asprintf("%s/.%s.tmp", log_path, DATALOADER_FILE);
    cJSON *o = NULL;
    char *text = NULL;
    int rc = path && tmp ? load_map(&o, path) : fwt__last_set(FWT_ENOMEM, "out of memory");
    if (rc == FWT_OK) {
        /* The newest name goes last: drop it where it was, append it, then trim the oldest. */
        cJSON_DeleteItemFromObjectCaseSensitive(o, name);
        char num[32];
        snprintf(num, sizeof num, "%" PRId64, data_consumed);
        if (!cJSON_AddRawToObject(o, name, num))
            rc = fwt__last_set(FWT_ENOMEM, "out of memory");
        while (rc == FWT_OK && cJSON_GetArraySize(o) > DATALOADER_KEEP)
            cJSON_DeleteItemFromArray(o, 0);
    }
    if (rc == FWT_OK && !(text = cJSON_PrintUnformatted(o)))
        rc = fwt__last_set(FWT_ENOMEM, "out of memory");
    char *line = rc == FWT_OK ? fwt__asprintf("%s\n", text) : NULL;
    if (rc == FWT_OK && !line)
        rc = fwt__last_set(FWT_ENOMEM, "out of memory");
    if (rc == FWT_OK)
        rc = write_durable(tmp, line);
    if (rc == FWT_OK && rename(tmp, path) != 0) {
        rc = fwt__last_set(FWT_EIO, "rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
    }
    if (rc == FWT_OK) {
        /* The rename itself is durable only once the directory is. */
        int dfd = open(log_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) != 0)
            rc = fwt__last_set(FWT_EIO, "%s: fsync of the directory: %s", log_path, strerror(errno));
        if (dfd >= 0)
            close(dfd);
    }
    fwt__free_mem(line);
    if (text)
        cJSON_free(text);
    cJSON_Delete(o);
    fwt__free_mem(path);
    fwt__free_mem(tmp);
    return rc;
}
