/* Small helpers with no server state: time, logging, ids and names, random numbers, JSON lookups. */
#ifndef FWL_UTIL_H
#define FWL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define FWL_ACCOUNT "local"
#define FWL_ID_MAX 64     /* resource ids: [a-z0-9-]{1,63} */
#define FWL_NAME_MAX 160  /* checkpoint names */

int64_t fwl_now_us(void);
void fwl_sleep_ms(int ms);
/* RFC3339 UTC; whole seconds are rendered without a fraction, others with microseconds. */
void fwl_format_time(int64_t us, char *buf, size_t len);
bool fwl_valid_id(const char *s);          /* ^[a-z0-9-]{1,63}$ (docs/protocol.md §6) */
bool fwl_valid_ckpt_name(const char *s);   /* [A-Za-z0-9._-]{1,128}, not starting with '.' */
uint64_t fwl_rand_u64(uint64_t *state);
double fwl_rand_unit(uint64_t *state);
/* "accounts/local/<kind>/<id>" -> id (copied), or the bare id if valid. false if malformed. */
bool fwl_parse_resource(const char *s, const char *kind, char *id, size_t idlen);
const char *fwl_json_str(const cJSON *o, const char *key);               /* NULL when absent or not a string */
const char *fwl_json_str2(const cJSON *o, const char *a, const char *b); /* either casing */
/* A JSON number that is integral and within lo..hi (so the conversion is defined). false otherwise. */
bool fwl_json_num_in(const cJSON *v, double lo, double hi, int64_t *out);
/* Sets (adds or replaces) o[k]; takes v. */
void fwl_json_put(cJSON *o, const char *k, cJSON *v);
void fwl_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A copy of a stored record without its internal "_" fields (what leaves the server). NULL when out of memory. */
cJSON *fwl_public_copy(const cJSON *o);

#endif /* FWL_UTIL_H */
