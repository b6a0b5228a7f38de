/*
 * Internals of the checkpoints.jsonl registry shared by the reader, the
 * appender and the checkpointer.
 */
#ifndef FWT_COOKBOOK_REGISTRY_H
#define FWT_COOKBOOK_REGISTRY_H

#include <stddef.h>

#include "fwtrain/cookbook/registry.h"

#define FWT__CKPT_FILE "checkpoints.jsonl"
/* A line longer than this cannot be one of ours: treat it as garbage. */
#define FWT__CKPT_MAX_LINE ((size_t)1 << 20)
/* The registry gains one line per save; anything this large is not a registry. */
#define FWT__CKPT_MAX_FILE ((size_t)256 << 20)

#define FWT__CKPT_WHY 128

/* What follows the last valid line of a registry image. */
typedef struct fwt__ckpt_tail {
    size_t valid_end;  /* just past the '\n' of the last valid (or blank) line before any invalid one */
    size_t bad_line;   /* 1-based number of the '\n'-terminated invalid last line; 0 if none */
    char bad_why[FWT__CKPT_WHY]; /* why bad_line is invalid */
} fwt__ckpt_tail;

/*
 * Parse a whole registry image. On success *out (if out != NULL) receives
 * the entries and *tail (if tail != NULL) describes the bytes after
 * valid_end: an unterminated fragment (never committed: an append may cut
 * it) and at most one '\n'-terminated invalid line (bad_line; an append
 * must not cut it). On a corrupt line — a JSON object that is not an entry,
 * an invalid line followed by a valid one or by another invalid one — sets
 * the last error "<path>:<line>: <reason>" and returns FWT_ECORRUPT.
 */
int fwt__ckpt_parse(fwt_registry **out, fwt__ckpt_tail *tail, const char *path, const char *buf, size_t len);

/* Read a whole file into a fresh NUL-terminated buffer (fwt__free_mem). Missing file → FWT_EIO with errno ENOENT kept. */
int fwt__ckpt_read_all(char **buf, size_t *len, const char *path, int *err_no);

/* "<dir>/checkpoints.jsonl"; NULL on OOM. */
char *fwt__ckpt_join(const char *log_path);

/* Validate an entry for appending; sets the last error, returns FWT_EINVAL. */
int fwt__ckpt_check_entry(const fwt_registry_entry *e);

/* mkdir -p log_path; each directory created is made durable by fsyncing its parent. */
int fwt__ckpt_make_dirs(const char *log_path);

/*
 * Take the exclusive lock of log_path (created if missing) for a
 * checkpointer's life: *fd holds it until fwt__log_unlock. Held elsewhere →
 * FWT_ECONFLICT naming the directory and the holder's pid, at once.
 */
int fwt__log_lock(int *fd, const char *log_path);
void fwt__log_unlock(int fd);

#endif /* FWT_COOKBOOK_REGISTRY_H */
