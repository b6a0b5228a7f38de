/**
 * @file
 * libfwtrain — common definitions: export macro, version, status codes,
 * error detail, allocator hooks.
 *
 * Conventions used by every header of the library (see README "API conventions"):
 *  - Every function returns an int status: FWT_OK (0) or a negative fwt_status.
 *  - Objects handed back through a `**out` parameter belong to the caller and
 *    are released with their own `fwt_<type>_free()`, which accepts NULL.
 *  - Getters return borrowed pointers valid until their owner is freed.
 *  - Input strings are copied; the caller may free them after the call.
 *  - Options are versioned structs initialised with `fwt_<x>_options_init()`.
 */
#ifndef FWTRAIN_COMMON_H
#define FWTRAIN_COMMON_H

#include <stddef.h>
#include <stdint.h>

/**
 * @def FWT_API
 * Marks a function of the exported surface: default visibility with GCC and
 * Clang (everything else is hidden), dllexport/dllimport on Windows.
 */
#if defined(_WIN32)
#  if defined(FWT_BUILDING_LIBRARY) && !defined(FWT_STATIC)
#    define FWT_API __declspec(dllexport)
#  elif !defined(FWT_STATIC)
#    define FWT_API __declspec(dllimport)
#  else
#    define FWT_API
#  endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define FWT_API __attribute__((visibility("default")))
#else
#  define FWT_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** Major version of these headers (see fwt_version_num for the linked library). */
#define FWT_VERSION_MAJOR 0
/** Minor version of these headers. */
#define FWT_VERSION_MINOR 1
/** Patch version of these headers. */
#define FWT_VERSION_PATCH 0
/** Version of these headers as a string (fwt_version_string: the linked library). */
#define FWT_VERSION_STRING "0.1.0"
/** Packed version for compile-time comparisons: 0xMMmmpp. */
#define FWT_VERSION_NUM ((FWT_VERSION_MAJOR << 16) | (FWT_VERSION_MINOR << 8) | FWT_VERSION_PATCH)

/** The version of the library actually linked, e.g. "0.1.0". Never NULL. */
FWT_API const char *fwt_version_string(void);

/** The packed version of the linked library (see FWT_VERSION_NUM). */
FWT_API int fwt_version_num(void);

/**
 * Status codes. Numbers are explicit and append-only: a number is never
 * reused or renumbered (retired codes keep their slot).
 */
typedef enum fwt_status {
    FWT_OK = 0,
    FWT_EINVAL = -1,      /**< an argument is invalid; the message names it */
    FWT_ENOMEM = -2,      /**< allocation failed */
    FWT_ETIMEDOUT = -3,   /**< a deadline passed (wait, header, body, overall) */
    FWT_ECANCELED = -4,   /**< the operation was cancelled locally */
    FWT_EAUTH = -5,       /**< 401/403: bad key, non-training key, no permission */
    FWT_ENOTFOUND = -6,   /**< 404: resource does not exist */
    FWT_ERATELIMIT = -7,  /**< 429 persisted past the retry budget */
    FWT_EEXPIRED = -8,    /**< 410 while polling: the promise is lost, never re-submitted */
    FWT_EREMOTE = -9,     /**< the server ran the op and it failed; see fwt_error.category */
    FWT_EPROTO = -10,     /**< the server's answer does not follow the protocol */
    FWT_EHTTP = -11,      /**< any other non-2xx HTTP status; see fwt_error.http_status */
    FWT_ECONNECT = -12,   /**< connection or transport failure that outlived its retries */
    FWT_EIO = -13,        /**< local file or directory I/O failed */
    FWT_ECONFLICT = -14,  /**< 409: already exists / transitional state */
    FWT_ESTATE = -15,     /**< the object is in the wrong state for this call */
    FWT_ETOOLARGE = -16,  /**< a response exceeded the configured size cap */
    FWT_ETLS = -17,       /**< TLS handshake or certificate verification failed */
    FWT_EAGAIN = -18,     /**< the future is not done yet */
    FWT_ECORRUPT = -19,   /**< a local file holds corrupt data (e.g. a bad jsonl line) */
    FWT_EUNSUPPORTED = -20 /**< the server or option does not support this */
} fwt_status;

/** A static, human-readable description of a status code. Never NULL. */
FWT_API const char *fwt_strerror(int status);

/** Who caused a failure reported by the server (docs/protocol.md §4.2 RequestFailedResponse). */
typedef enum fwt_error_category {
    FWT_CATEGORY_UNKNOWN = 0,
    FWT_CATEGORY_USER = 1,
    FWT_CATEGORY_SERVER = 2
} fwt_error_category;

/**
 * Detail of the last failure. Fields may be appended in later versions;
 * existing fields never move. Strings are never NULL ("" when absent).
 */
typedef struct fwt_error {
    int32_t code;          /**< fwt_status */
    int32_t http_status;   /**< last HTTP status seen, 0 if none */
    int32_t category;      /**< fwt_error_category */
    int32_t attempts;      /**< HTTP attempts made for the failing request */
    const char *message;   /**< human-readable; never contains the API key */
    const char *request_id;/**< server request id / future request_id, "" if none */
} fwt_error;

/**
 * The detail of the last failed synchronous call made on this thread.
 * Never NULL: after a success it describes FWT_OK with an empty message.
 * Valid until the next library call on the same thread.
 */
FWT_API const fwt_error *fwt_error_last(void);

/** Release memory the library handed out as a plain buffer (char ** outputs). NULL is allowed. */
FWT_API void fwt_free(void *ptr);

/** Allocator hooks. Install before any other call; all fields must be set. */
typedef struct fwt_allocator {
    unsigned int version; /**< FWT_ALLOCATOR_VERSION */
    void *(*malloc_fn)(size_t size, void *ctx);            /**< like malloc; NULL on failure */
    void *(*realloc_fn)(void *ptr, size_t size, void *ctx); /**< like realloc; NULL on failure */
    void (*free_fn)(void *ptr, void *ctx);                 /**< like free; accepts NULL */
    void *ctx;                                             /**< passed to every hook */
} fwt_allocator;
/** Version of fwt_allocator. */
#define FWT_ALLOCATOR_VERSION 1

/**
 * Route the library's (and cJSON's) allocations through `a`. Must be called
 * before any client exists; NULL restores the C allocator.
 * Returns FWT_ESTATE if a client is alive, FWT_EINVAL on a bad struct.
 */
FWT_API int fwt_set_allocator(const fwt_allocator *a);

#ifdef __cplusplus
}
#endif
#endif /* FWTRAIN_COMMON_H */
