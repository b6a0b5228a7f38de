/*
 * Small typed helpers over cJSON. Lookups are case-sensitive (reliability
 * docs/internals.md reliability §3: a server must not be able to smuggle "Path" for "path").
 * Getters return FWT_OK, FWT_ENOTFOUND (absent or null) or FWT_EPROTO (wrong
 * type / out of range), never crash on any input.
 */
#ifndef FWT_JSON_JSON_H
#define FWT_JSON_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Parse with a length (body need not be NUL-terminated). NULL on invalid JSON or nesting > 256. */
cJSON *fwt__json_parse(const char *text, size_t len);

const cJSON *fwt__json_get(const cJSON *obj, const char *key); /* NULL if absent or obj not an object */
int fwt__json_get_string(const cJSON *obj, const char *key, const char **out);    /* borrowed */
int fwt__json_get_int64(const cJSON *obj, const char *key, int64_t *out);         /* integral number, |v| <= 2^53 */
int fwt__json_get_double(const cJSON *obj, const char *key, double *out);         /* finite number */
int fwt__json_get_bool(const cJSON *obj, const char *key, int *out);
int fwt__json_get_object(const cJSON *obj, const char *key, const cJSON **out);
int fwt__json_get_array(const cJSON *obj, const char *key, const cJSON **out);
/* Accept either spelling (camelCase / snake_case); the first present wins. */
int fwt__json_get_string2(const cJSON *obj, const char *key1, const char *key2, const char **out);

/* Builders that return FWT_ENOMEM instead of leaving half-built objects silently. */
int fwt__json_add_string(cJSON *obj, const char *key, const char *value);
int fwt__json_add_int64(cJSON *obj, const char *key, int64_t value);
int fwt__json_add_double(cJSON *obj, const char *key, double value);
int fwt__json_add_bool(cJSON *obj, const char *key, int value);
/* Serialise compactly (jwrite.h, fwt__jw_tree); caller frees with fwt__free_mem. NULL on OOM or an invalid
 * item. */
char *fwt__json_print(const cJSON *item);

#endif /* FWT_JSON_JSON_H */
