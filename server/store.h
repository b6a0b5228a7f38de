/* Crash-safe files (store.c). Every failure logs the path and errno's text before returning -1, so a caller's
 * "could not store X" always has the reason next to it in the log. */
#ifndef FWL_STORE_H
#define FWL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

int fwl_mkdirs(const char *path);
/* temp file in the same dir, write, fsync, rename, fsync dir. */
int fwl_write_atomic(const char *path, const void *data, size_t len);
/* One piece of a file written from several buffers (a header and the weights, without joining them). */
typedef struct fwl_part {
    const void *data;
    size_t len;
} fwl_part;
int fwl_write_atomic_parts(const char *path, const fwl_part *parts, int n);
/* path becomes another name of the (already durable) file src: a hard link under a temp name, renamed, the dir
 * fsynced; no byte is copied. -1 (not logged when link itself fails, e.g. across filesystems: the caller
 * writes a copy instead). */
int fwl_link_atomic(const char *src, const char *path);
/* The whole file mapped read-only (reads with no heap copy); -1 like fwl_read_file. Unmap with fwl_unmap_file. */
int fwl_map_file(const char *path, const uint8_t **out, size_t *len);
void fwl_unmap_file(const uint8_t *p, size_t len);
int fwl_write_json(const char *path, const cJSON *obj);
/* The same without the directory fsync after the rename: the new file's data is fsynced and the rename is atomic
 * (a reader, or a restart after kill -9, sees the old or the new file), but after a power loss the directory may
 * still name the old one. Only for records whose previous version is a consistent state too (replica.c). */
int fwl_write_json_unsynced_dir(const char *path, const cJSON *obj);
/* path becomes another name of src (a plain hard link: path must not exist), nothing fsynced: a later fsync of a
 * file in the same file system (journal / log order) or of the directory makes it durable. -1, not logged. */
int fwl_link_unsynced(const char *src, const char *path);
/* A missing file is -1 with errno ENOENT and is not logged (callers treat it as "absent"). */
int fwl_read_file(const char *path, uint8_t **out, size_t *len);
cJSON *fwl_read_json(const char *path);
/* Names of the regular files in dir ending with suffix (temp files skipped). Free with fwl_free_list. */
char **fwl_list_dir(const char *dir, const char *suffix, size_t *n);
void fwl_free_list(char **l, size_t n);
int fwl_remove_tree(const char *path);
int fwl_fsync_dir(const char *dir);
/* {<key>: [public copies of the .json records in dir], "nextPageToken": "", "totalSize": n}; NULL when out of memory. */
cJSON *fwl_list_records(const char *dir, const char *key);

#endif /* FWL_STORE_H */
