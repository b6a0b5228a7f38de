/*
 * Checkpoint formats of fwtrain-local: safetensors for sampler snapshots
 * (what a deployment loads) and a DCP-like blob for save_state (weights +
 * Adam moments + step; docs/protocol.md §4.4/§4.5). Both decoders treat their input
 * as hostile: every length and offset is checked before it is used.
 */
#include "model.h"
#include "bytes.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "fwtrain-local writes float32 and integers in host order and assumes a little-endian host"
#endif

#define FWL_ST_MAX_HEADER (16u << 20)
#define FWL_ST_HEADER_MAX 2048 /* what fwl_safetensors_header writes at most (the JSON part) */

/* zlib's crc32 takes uInt lengths: feed it in chunks. */
static uint32_t fwl__crc32(const uint8_t *buf, size_t len)
{
    uLong c = crc32(0L, Z_NULL, 0);
    while (len) {
        uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
        c = crc32(c, buf, n);
        buf += n;
        len -= n;
    }
    return (uint32_t)c;
}

/* ---- safetensors ---------------------------------------------------------- */

int fwl_safetensors_header(const fwl_model *m, uint8_t *out, size_t cap, size_t *out_len)
{
    if (!m || !out || !out_len || fwl_model_param_count(m->dim) != m->n_params)
        return -1;
    fwl_tensor t[FWL_TENSORS];
    fwl_model_tensors(m->dim, t);
    char hdr[FWL_ST_HEADER_MAX];
    int pos = snprintf(hdr, sizeof(hdr), "{\"__metadata__\":{\"format\":\"fwtrain-local\",\"dim\":\"%d\"}", m->dim);
    for (int i = 0; i < FWL_TENSORS; i++) {
        size_t begin = t[i].offset * sizeof(float);
        size_t count = t[i].rows * (t[i].cols ? t[i].cols : 1);
        size_t end = begin + count * sizeof(float);
        if (t[i].cols)
            pos += snprintf(hdr + pos, sizeof(hdr) - (size_t)pos,
                            ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%zu,%zu],\"data_offsets\":[%zu,%zu]}", t[i].name,
                            t[i].rows, t[i].cols, begin, end);
        else
            pos += snprintf(hdr + pos, sizeof(hdr) - (size_t)pos,
                            ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%zu],\"data_offsets\":[%zu,%zu]}", t[i].name,
                            t[i].rows, begin, end);
    }
    pos += snprintf(hdr + pos, sizeof(hdr) - (size_t)pos, "}");
    size_t hlen = (size_t)pos;
    size_t padded = (hlen + 7) & ~(size_t)7; /* data starts 8-byte aligned, as the reference writer does */
    if (8 + padded > cap)
        return -1;
    fwl_put_le64(out, padded);
    memcpy(out + 8, hdr, hlen);
    memset(out + 8 + hlen, ' ', padded - hlen);
    *out_len = 8 + padded;
    return 0;
}

int fwl_safetensors_encode(const fwl_model *m, uint8_t **out, size_t *out_len)
{
    uint8_t hdr[FWL_ST_HEADER_MAX + 16];
    size_t hlen = 0;
    if (!out || !out_len || fwl_safetensors_header(m, hdr, sizeof hdr, &hlen) != 0 || !m->w)
        return -1;
    size_t data = m->n_params * sizeof(float);
    uint8_t *buf = malloc(hlen + data);
    if (!buf)
        return -1;
    memcpy(buf, hdr, hlen);
    memcpy(buf + hlen, m->w, data);
    *out = buf;
    *out_len = hlen + data;
    return 0;
}

/* A JSON number that is a non-negative integer no larger than 2^53. */
static int fwl__json_uint(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsNumber(j))
        return -1;
    double d = j->valuedouble;
    if (!(d >= 0.0) || d > 9007199254740992.0 || floor(d) != d)
        return -1;
    *out = (uint64_t)d;
    return 0;
}

static int fwl__tensor_index(const char *name, const fwl_tensor t[FWL_TENSORS])
{
    for (int i = 0; i < FWL_TENSORS; i++)
        if (strcmp(name, t[i].name) == 0)
            return i;
    return -1;
}

/* The dim: from embed.weight's shape [256, D]; metadata "dim", if present, must agree. */
static int fwl__st_dim(const cJSON *root, int *dim, char *err, size_t errlen)
{
    const cJSON *emb = cJSON_GetObjectItemCaseSensitive(root, "embed.weight");
    const cJSON *shape = emb ? cJSON_GetObjectItemCaseSensitive(emb, "shape") : NULL;
    uint64_t d = 0;
    if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) != 2 || fwl__json_uint(cJSON_GetArrayItem(shape, 1), &d) ||
        d < 1 || d > FWL_MAX_DIM)
        return fwl_errf(err, errlen, "safetensors: embed.weight missing or with a bad shape");
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
    if (meta) {
        if (!cJSON_IsObject(meta))
            return fwl_errf(err, errlen, "safetensors: __metadata__ is not an object");
        for (const cJSON *kv = meta->child; kv; kv = kv->next)
            if (!cJSON_IsString(kv))
                return fwl_errf(err, errlen, "safetensors: __metadata__ values must be strings");
        const cJSON *md = cJSON_GetObjectItemCaseSensitive(meta, "dim");
        if (md) {
            char want[32];
            snprintf(want, sizeof(want), "%llu", (unsigned long long)d);
            if (strcmp(md->valuestring, want) != 0)
                return fwl_errf(err, errlen, "safetensors: __metadata__ dim disagrees with the tensor shapes");
        }
    }
    *dim = (int)d;
    return 0;
}

typedef struct fwl__span {
    uint64_t begin, end;
    int idx;
} fwl__span;

static int fwl__span_cmp(const void *a, const void *b)
{
    const fwl__span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : 0;
}

/* Validates the parsed header against the model layout; fills spans (one per tensor). */
static int fwl__st_check(const cJSON *root, int dim, uint64_t data_len, fwl__span spans[FWL_TENSORS], char *err,
                         size_t errlen)
{
    fwl_tensor t[FWL_TENSORS];
    fwl_model_tensors(dim, t);
    int seen[FWL_TENSORS] = {0};
    for (const cJSON *e = root->child; e; e = e->next) {
        if (!e->string)
            return fwl_errf(err, errlen, "safetensors: header entry without a name");
        if (strcmp(e->string, "__metadata__") == 0)
            continue;
        int i = fwl__tensor_index(e->string, t);
        if (i < 0)
            return fwl_errf(err, errlen, "safetensors: unexpected tensor '%.64s'", e->string);
        if (seen[i])
            return fwl_errf(err, errlen, "safetensors: tensor '%s' appears twice", t[i].name);
        seen[i] = 1;
        if (!cJSON_IsObject(e))
            return fwl_errf(err, errlen, "safetensors: tensor '%s' is not an object", t[i].name);
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
        if (!cJSON_IsString(dt) || strcmp(dt->valuestring, "F32") != 0)
            return fwl_errf(err, errlen, "safetensors: tensor '%s' has dtype other than F32", t[i].name);
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
        int want_rank = t[i].cols ? 2 : 1;
        uint64_t d0 = 0, d1 = 0;
        if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) != want_rank ||
            fwl__json_uint(cJSON_GetArrayItem(shape, 0), &d0) || d0 != t[i].rows ||
            (want_rank == 2 && (fwl__json_uint(cJSON_GetArrayItem(shape, 1), &d1) || d1 != t[i].cols)))
            return fwl_errf(err, errlen, "safetensors: tensor '%s' has the wrong shape for dim %d", t[i].name, dim);
        const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
        uint64_t b = 0, en = 0;
        if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 || fwl__json_uint(cJSON_GetArrayItem(offs, 0), &b) ||
            fwl__json_uint(cJSON_GetArrayItem(offs, 1), &en) || b > en || en > data_len)
            return fwl_errf(err, errlen, "safetensors: tensor '%s' has bad data_offsets", t[i].name);
        uint64_t want_bytes = (uint64_t)t[i].rows * (t[i].cols ? t[i].cols : 1) * sizeof(float);
        if (en - b != want_bytes)
            return fwl_errf(err, errlen, "safetensors: tensor '%s' data size does not match its shape", t[i].name);
        spans[i].begin = b;
        spans[i].end = en;
        spans[i].idx = i;
    }
    for (int i = 0; i < FWL_TENSORS; i++)
        if (!seen[i])
            return fwl_errf(err, errlen, "safetensors: tensor '%s' is missing", t[i].name);
    /* The data region must be covered exactly: no overlap, no hole, nothing after the last tensor. */
    fwl__span sorted[FWL_TENSORS];
    memcpy(sorted, spans, sizeof(sorted));
    qsort(sorted, FWL_TENSORS, sizeof(sorted[0]), fwl__span_cmp);
    uint64_t at = 0;
    for (int i = 0; i < FWL_TENSORS; i++) {
        if (sorted[i].begin != at)
            return fwl_errf(err, errlen, "safetensors: tensor data %s",
                             sorted[i].begin < at ? "overlaps" : "leaves a gap");
        at = sorted[i].end;
    }
    if (at != data_len)
        return fwl_errf(err, errlen, "safetensors: %llu trailing bytes after the last tensor",
                         (unsigned long long)(data_len - at));
    return 0;
}

int fwl_safetensors_decode(fwl_model *m, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    if (!m)
        return fwl_errf(err, errlen, "safetensors: no input");
    memset(m, 0, sizeof(*m));
    return fwl_safetensors_decode_into(m, buf, len, err, errlen);
}

int fwl_safetensors_decode_into(fwl_model *m, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    if (!m || (!buf && len))
        return fwl_errf(err, errlen, "safetensors: no input");
    if (len < 8)
        return fwl_errf(err, errlen, "safetensors: truncated (%zu bytes, need at least 8)", len);
    uint64_t hlen = fwl_get_le64(buf);
    if (hlen < 2 || hlen > FWL_ST_MAX_HEADER)
        return fwl_errf(err, errlen, "safetensors: header length %llu out of range", (unsigned long long)hlen);
    if (hlen > len - 8)
        return fwl_errf(err, errlen, "safetensors: truncated header (%llu bytes declared, %zu present)",
                         (unsigned long long)hlen, len - 8);
    const char *h = (const char *)buf + 8;
    if (h[0] != '{')
        return fwl_errf(err, errlen, "safetensors: header is not a JSON object");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(h, (size_t)hlen, &end, 0);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return fwl_errf(err, errlen, "safetensors: header is not valid JSON");
    }
    for (const char *p = end; p && p < h + hlen; p++) {
        if (*p != ' ') {
            cJSON_Delete(root);
            return fwl_errf(err, errlen, "safetensors: junk after the JSON header");
        }
    }
    int dim = 0;
    fwl__span spans[FWL_TENSORS];
    uint64_t data_len = (uint64_t)(len - 8 - (size_t)hlen);
    if (fwl__st_dim(root, &dim, err, errlen) || fwl__st_check(root, dim, data_len, spans, err, errlen)) {
        cJSON_Delete(root);
        return -1;
    }
    cJSON_Delete(root);
    if (fwl_model_fit(m, dim) != 0)
        return fwl_errf(err, errlen, "safetensors: out of memory for dim %d", dim);
    fwl_tensor t[FWL_TENSORS];
    fwl_model_tensors(dim, t);
    const uint8_t *data = buf + 8 + hlen;
    for (int i = 0; i < FWL_TENSORS; i++)
        memcpy(m->w + t[i].offset, data + spans[i].begin, (size_t)(spans[i].end - spans[i].begin));
    return 0;
}

/* ---- DCP ------------------------------------------------------------------ */

/*
 * Layout (little-endian): "FWLDCP\r\n" | u32 version | u32 dim | i64 step | u64 n_params |
 * w[n] | m[n] | v[n] (float32) | u32 crc32 of everything before it.
 */
#define FWL_DCP_MAGIC "FWLDCP\r\n"
#define FWL_DCP_VERSION 1u
#define FWL_DCP_HDR 32u

int fwl_dcp_encode(const fwl_model *m, const fwl_adam *a, uint8_t **out, size_t *out_len)
{
    if (!m || !m->w || !out || !out_len || fwl_model_param_count(m->dim) != m->n_params)
        return -1;
    if (a && (a->n != m->n_params || !a->m || !a->v || a->step < 0))
        return -1;
    size_t n = m->n_params, fb = n * sizeof(float);
    size_t total = FWL_DCP_HDR + 3 * fb + 4;
    uint8_t *buf = malloc(total);
    if (!buf)
        return -1;
    memcpy(buf, FWL_DCP_MAGIC, 8);
    fwl_put_le32(buf + 8, FWL_DCP_VERSION);
    fwl_put_le32(buf + 12, (uint32_t)m->dim);
    fwl_put_le64(buf + 16, a ? (uint64_t)a->step : 0);
    fwl_put_le64(buf + 24, (uint64_t)n);
    memcpy(buf + FWL_DCP_HDR, m->w, fb);
    if (a) {
        memcpy(buf + FWL_DCP_HDR + fb, a->m, fb);
        memcpy(buf + FWL_DCP_HDR + 2 * fb, a->v, fb);
    } else {
        memset(buf + FWL_DCP_HDR + fb, 0, 2 * fb);
    }
    fwl_put_le32(buf + total - 4, fwl__crc32(buf, total - 4));
    *out = buf;
    *out_len = total;
    return 0;
}

int fwl_dcp_decode(fwl_model *m, fwl_adam *a, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    if (!m || (!buf && len))
        return fwl_errf(err, errlen, "dcp: no input");
    memset(m, 0, sizeof(*m));
    if (a)
        memset(a, 0, sizeof(*a));
    if (len < FWL_DCP_HDR + 4)
        return fwl_errf(err, errlen, "dcp: truncated (%zu bytes)", len);
    if (memcmp(buf, FWL_DCP_MAGIC, 8) != 0)
        return fwl_errf(err, errlen, "dcp: bad magic (not an fwtrain-local checkpoint)");
    uint32_t ver = fwl_get_le32(buf + 8);
    if (ver != FWL_DCP_VERSION)
        return fwl_errf(err, errlen, "dcp: unsupported version %u", ver);
    uint32_t dim = fwl_get_le32(buf + 12);
    uint64_t step = fwl_get_le64(buf + 16), n = fwl_get_le64(buf + 24);
    if (dim < 1 || dim > FWL_MAX_DIM || n != fwl_model_param_count((int)dim))
        return fwl_errf(err, errlen, "dcp: bad dim/parameter count");
    if (step > (uint64_t)INT64_MAX)
        return fwl_errf(err, errlen, "dcp: bad step");
    size_t fb = (size_t)n * sizeof(float);
    if (len != FWL_DCP_HDR + 3 * fb + 4)
        return fwl_errf(err, errlen, "dcp: length %zu does not match dim %u", len, dim);
    if (fwl_get_le32(buf + len - 4) != fwl__crc32(buf, len - 4))
        return fwl_errf(err, errlen, "dcp: checksum mismatch (corrupt checkpoint)");
    if (fwl_model_alloc(m, (int)dim) != 0)
        return fwl_errf(err, errlen, "dcp: out of memory");
    memcpy(m->w, buf + FWL_DCP_HDR, fb);
    if (a) {
        if (fwl_adam_init(a, (size_t)n) != 0) {
            fwl_model_free(m);
            return fwl_errf(err, errlen, "dcp: out of memory");
        }
        memcpy(a->m, buf + FWL_DCP_HDR + fb, fb);
        memcpy(a->v, buf + FWL_DCP_HDR + 2 * fb, fb);
        a->step = (int64_t)step;
    }
    return 0;
}
