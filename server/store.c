/* Crash-safe files: every write goes to a temp file that is fsynced and renamed over the target, then the
 * directory is fsynced, so a reader (or a restart after kill -9) sees the old or the new file, never a part. */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

static unsigned long g_tmp_counter;
static pthread_mutex_t g_tmp_lock = PTHREAD_MUTEX_INITIALIZER;

/* Logs "<what> <path>: <errno text>" and returns -1 with errno preserved. */
static int fail(const char *what, const char *path)
{
    int e = errno;
    fwl_log("%s %s: %s", what, path, strerror(e));
    errno = e;
    return -1;
}

int fwl_mkdirs(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return fail("cannot create directory", path);
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return fail("cannot create directory", buf);
            *p = '/';
        }
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return fail("cannot create directory", buf);
    return 0;
}

int fwl_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fail("cannot open directory", dir);
    int rc = fsync(fd);
    if (rc != 0)
        fail("cannot fsync directory", dir);
    close(fd);
    return rc;
}

/* A fresh temp name next to path (tmp) and path's directory (dir); -1 when path has no directory. */
static int temp_name(const char *path, char *dir, size_t dl, char *tmp, size_t tl)
{
    snprintf(dir, dl, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) {
        errno = EINVAL;
        return fail("cannot write (not an absolute path)", path);
    }
    *slash = 0;
    if (fwl_mkdirs(dir) != 0)
        return -1;
    pthread_mutex_lock(&g_tmp_lock);
    unsigned long n = ++g_tmp_counter;
    pthread_mutex_unlock(&g_tmp_lock);
    snprintf(tmp, tl, "%s.tmp.%ld.%lu", path, (long)getpid(), n);
    return 0;
}

/* Writes every part, surviving short writes and EINTR. 0, or -1 with errno. */
static int write_parts(int fd, const fwl_part *parts, int n)
{
    for (int i = 0; i < n; i++) {
        const uint8_t *p = parts[i].data;
        size_t left = parts[i].len;
        while (left > 0) {
            ssize_t w = write(fd, p, left);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                return -1;
            }
            p += w;
            left -= (size_t)w;
        }
    }
    return 0;
}

static int write_atomic(const char *path, const fwl_part *parts, int n, bool dir_sync);

int fwl_write_atomic_parts(const char *path, const fwl_part *parts, int n)
{
    return write_atomic(path, parts, n, true);
}

static int write_atomic(const char *path, const fwl_part *parts, int n, bool dir_sync)
{
    char dir[4096], tmp[4200];
    if (temp_name(path, dir, sizeof dir, tmp, sizeof tmp) != 0)
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return fail("cannot create file", tmp);
    if (write_parts(fd, parts, n) != 0) {
        fail("cannot write file", tmp);
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (fsync(fd) != 0) {
        fail("cannot fsync file", tmp);
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (close(fd) != 0) {
        fail("cannot close file", tmp);
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        fail("cannot rename temp file onto", path);
        unlink(tmp);
        return -1;
    }
    return dir_sync ? fwl_fsync_dir(dir) : 0;
}

int fwl_write_atomic(const char *path, const void *data, size_t len)
{
    fwl_part part = {data, len};
    return fwl_write_atomic_parts(path, &part, 1);
}

int fwl_link_atomic(const char *src, const char *path)
{
    char dir[4096], tmp[4200];
    if (temp_name(path, dir, sizeof dir, tmp, sizeof tmp) != 0)
        return -1;
    if (link(src, tmp) != 0)
        return -1; /* not logged: the caller falls back to writing a copy */
    if (rename(tmp, path) != 0) {
        fail("cannot rename temp link onto", path);
        unlink(tmp);
        return -1;
    }
    return fwl_fsync_dir(dir);
}

/* Opens path for reading and checks it is a regular file (its size in *st). The descriptor, or -1: quietly when
 * the file does not exist (errno ENOENT), else logged with `not_regular` for a directory or a special file. */
static int open_regular(const char *path, struct stat *st, const char *not_regular)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? -1 : fail("cannot open file", path);
    if (fstat(fd, st) != 0) {
        fail("cannot stat file", path);
        close(fd);
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        errno = S_ISDIR(st->st_mode) ? EISDIR : EINVAL;
        fail(not_regular, path);
        close(fd);
        return -1;
    }
    return fd;
}

int fwl_map_file(const char *path, const uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    struct stat st;
    int fd = open_regular(path, &st, "cannot map (not a regular file)");
    if (fd < 0)
        return -1;
    size_t sz = (size_t)st.st_size;
    void *p = sz ? mmap(NULL, sz, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0) : NULL;
    int e = errno;
    close(fd);
    if (sz && p == MAP_FAILED) {
        errno = e;
        return fail("cannot map file", path);
    }
    *out = p;
    *len = sz;
    return 0;
}

void fwl_unmap_file(const uint8_t *p, size_t len)
{
    if (p && len)
        munmap((void *)(uintptr_t)p, len);
}

static int write_json(const char *path, const cJSON *obj, bool dir_sync)
{
    char *txt = cJSON_Print(obj);
    if (!txt)
        return -1;
    fwl_part part = {txt, strlen(txt)};
    int rc = write_atomic(path, &part, 1, dir_sync);
    cJSON_free(txt);
    return rc;
}

int fwl_write_json(const char *path, const cJSON *obj)
{
    return write_json(path, obj, true);
}

int fwl_write_json_unsynced_dir(const char *path, const cJSON *obj)
{
    return write_json(path, obj, false);
}

int fwl_link_unsynced(const char *src, const char *path)
{
    return link(src, path) == 0 ? 0 : -1;
}

int fwl_read_file(const char *path, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    struct stat st;
    int fd = open_regular(path, &st, "cannot read (not a regular file)");
    if (fd < 0)
        return -1;
    size_t sz = (size_t)st.st_size;
    uint8_t *buf = malloc(sz + 1);
    if (!buf) {
        fail("cannot read file", path);
        close(fd);
        return -1;
    }
    size_t got = 0;
    errno = 0;
    while (got < sz) {
        ssize_t r = read(fd, buf + got, sz - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    int rerr = errno;
    close(fd);
    if (got != sz) {
        errno = rerr ? rerr : EIO;
        fail("cannot read file (short read)", path);
        free(buf);
        return -1;
    }
    buf[sz] = 0;
    *out = buf;
    *len = sz;
    return 0;
}

cJSON *fwl_read_json(const char *path)
{
    uint8_t *buf;
    size_t len;
    if (fwl_read_file(path, &buf, &len) != 0)
        return NULL;
    cJSON *j = cJSON_ParseWithLength((const char *)buf, len);
    free(buf);
    if (j && !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **fwl_list_dir(const char *dir, const char *suffix, size_t *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno != ENOENT)
            fail("cannot open directory", dir);
        return NULL;
    }
    char **v = NULL;
    size_t cap = 0;
    size_t sl = suffix ? strlen(suffix) : 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strstr(e->d_name, ".tmp."))
            continue;
        size_t l = strlen(e->d_name);
        if (sl && (l <= sl || strcmp(e->d_name + l - sl, suffix) != 0))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(v, cap * sizeof *v);
            if (!nv) {
                fwl_log("listing %s: out of memory", dir);
                break;
            }
            v = nv;
        }
        char *name = strdup(e->d_name);
        if (!name) {
            fwl_log("listing %s: out of memory", dir);
            break;
        }
        v[(*n)++] = name;
    }
    closedir(d);
    if (*n)
        qsort(v, *n, sizeof *v, cmp_str);
    return v;
}

void fwl_free_list(char **l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(l[i]);
    free(l);
}

int fwl_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        if (fwl_remove_tree(sub) != 0)
            rc = -1;
    }
    closedir(d);
    if (rmdir(path) != 0)
        rc = -1;
    return rc;
}

cJSON *fwl_list_records(const char *dir, const char *key)
{
    size_t n = 0;
    char **files = fwl_list_dir(dir, ".json", &n);
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, key);
    if (!arr) {
        cJSON_Delete(o);
        fwl_free_list(files, n);
        return NULL;
    }
    int total = 0;
    for (size_t i = 0; i < n; i++) {
        char p[4500];
        snprintf(p, sizeof p, "%.4000s/%.255s", dir, files[i]);
        cJSON *rec = fwl_read_json(p);
        cJSON *pub = rec ? fwl_public_copy(rec) : NULL;
        if (pub && cJSON_AddItemToArray(arr, pub))
            total++;
        else
            cJSON_Delete(pub);
        cJSON_Delete(rec);
    }
    fwl_free_list(files, n);
    cJSON_AddStringToObject(o, "nextPageToken", "");
    cJSON_AddNumberToObject(o, "totalSize", total);
    return o;
}
