/*
 * Core internals shared by every module: allocation, error recording,
 * logging, small string helpers. Internal names carry the fwt__ prefix.
 */
#ifndef FWT_UTIL_FWT_UTIL_H
#define FWT_UTIL_FWT_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "fwtrain/common.h"

/* ---- allocation (routed through fwt_set_allocator hooks; cJSON too) ---- */
void *fwt__malloc(size_t n);
void *fwt__calloc(size_t count, size_t size);   /* overflow-checked */
void *fwt__realloc(void *p, size_t n);
void fwt__free_mem(void *p);
char *fwt__strdup(const char *s);                /* NULL in → NULL out */
char *fwt__strndup(const char *s, size_t n);
/* printf into a fresh buffer; NULL on OOM. */
char *fwt__asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *fwt__vasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/* Overwrite then free (API keys). */
void fwt__free_secret(char *s);
/* Install cJSON hooks that use the library allocator (idempotent). */
void fwt__json_hooks_install(void);
/* Live-client count, so fwt_set_allocator can refuse while clients exist. */
void fwt__lib_client_added(void);
void fwt__lib_client_removed(void);

/* ---- errors ---- */
/*
 * An owned error record. fwt_error's strings point into it.
 * fwt__err_set* return `code` so callers can write `return fwt__err_set(...)`.
 */
typedef struct fwt__err {
    fwt_error pub;
    char *message;      /* owned */
    char *request_id;   /* owned */
} fwt__err;

void fwt__err_init(fwt__err *e);                 /* FWT_OK, "" strings */
void fwt__err_clear(fwt__err *e);                /* free strings, back to FWT_OK */
/*
 * The one "fail with a message" rule: format into e (on OOM the message falls
 * back to fwt_strerror(code), the code is kept). Every helper that fails an
 * operation (futures, waits, training ops) builds its record with these.
 */
int fwt__err_set(fwt__err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int fwt__err_setv(fwt__err *e, int code, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
int fwt__err_copy(fwt__err *dst, const fwt__err *src);
void fwt__err_move(fwt__err *dst, fwt__err *src);  /* src left cleared */
/* Replace the request id (copied; NULL = ""). Returns e->pub.code. */
int fwt__err_set_request_id(fwt__err *e, const char *request_id);

/* Thread-local last error (fwt_error_last). */
int fwt__last_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int fwt__last_set_err(const fwt__err *e);       /* copy; returns e->pub.code */
void fwt__last_ok(void);

/* Validation helpers: set the last error naming the argument and return FWT_EINVAL. */
int fwt__check_name(const char *arg_name, const char *value, size_t max_len); /* non-NULL, non-empty, <= max, no '/' */
/* A resource id (job, deployment, model): 1-63 of [a-z0-9-]. */
int fwt__check_id(const char *arg, const char *value);

/* ---- logging ---- */
typedef struct fwt__logger {
    int level;
    void (*fn)(int level, const char *msg, void *payload);
    void *payload;
} fwt__logger;

/* The one log formatter: formats and delivers; never pass secrets. Safe with a NULL logger or fn. */
void fwt__log(const fwt__logger *lg, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void fwt__vlog(const fwt__logger *lg, int level, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

/* ---- misc ---- */
/* n random bytes as lowercase hex into out (2n+1 bytes). Uses OpenSSL RAND_bytes. */
int fwt__random_hex(char *out, size_t nbytes);
/* A fresh UUIDv4 string (37 bytes incl. NUL). */
int fwt__uuid4(char out[37]);
/* Trim ASCII whitespace; returns a new string. */
char *fwt__strtrim_dup(const char *s);

#endif /* FWT_UTIL_FWT_UTIL_H */
