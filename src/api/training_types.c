/* Value types of training results (docs/protocol.md §4.9, §4.10) and the batch builder. */
#include <float.h>
#include <math.h>
#include <string.h>
#include <strings.h>

#include "api/training_impl.h"
#include "json/jwrite.h"

/* ---- batch ---- */

typedef struct datum {
    int64_t *tokens;
    size_t n_tokens;
    int64_t *targets;
    float *weights;           /* NULL: not sent (RL losses without weights) */
    size_t n_targets;
    float *logprobs;          /* sampling logprobs (RL losses), NULL if none; n_targets entries */
    float *advantages;        /* RL losses, NULL if none; n_targets entries */
} datum;

struct fwt_batch {
    datum *d;
    size_t n, cap;
};

int fwt_batch_new(fwt_batch **out)
{
    if (!out)
        return fwt__last_set(FWT_EINVAL, "fwt_batch_new: out is NULL");
    *out = fwt__calloc(1, sizeof **out);
    return *out ? FWT_OK : fwt__last_set(FWT_ENOMEM, "out of memory");
}

void fwt_batch_free(fwt_batch *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++) {
        fwt__free_mem(b->d[i].tokens);
        fwt__free_mem(b->d[i].targets);
        fwt__free_mem(b->d[i].weights);
        fwt__free_mem(b->d[i].logprobs);
        fwt__free_mem(b->d[i].advantages);
    }
    fwt__free_mem(b->d);
    fwt__free_mem(b);
}

size_t fwt_batch_count(const fwt_batch *b) { return b ? b->n : 0; }

#define MAX_EXACT_INT 9007199254740992LL /* 2^53: JSON numbers are doubles */

int fwt_datum_init(fwt_datum *d, unsigned int version)
{
    if (!d)
        return fwt__last_set(FWT_EINVAL, "fwt_datum_init: d is NULL");
    if (version != FWT_DATUM_VERSION)
        return fwt__last_set(FWT_EINVAL, "fwt_datum_init: unknown version %u", version);
    memset(d, 0, sizeof *d);
    d->version = version;
    return FWT_OK;
}

/* One optional float input: absent (NULL, n 0) or n_targets finite values. */
static int check_floats(const char *fn, const char *name, const float *v, size_t n, size_t want, int required)
{
    if (!v && !n && !required)
        return FWT_OK;
    if (!v || n != want)
        return fwt__last_set(FWT_EINVAL, "%s: %s must have n_targets (%zu) elements, got %zu", fn, name, want,
                             v ? n : (size_t)0);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return fwt__last_set(FWT_EINVAL, "%s: %s[%zu] is not finite", fn, name, i);
    return FWT_OK;
}

static float *dup_floats(const float *v, size_t n)
{
    float *c = v ? fwt__calloc(n, sizeof *c) : NULL;
    if (c)
        memcpy(c, v, n * sizeof *c);
    return c;
}

static int add_datum(fwt_batch *b, const fwt_datum *in, int weights_required, const char *fn)
{
    if (!b)
        return fwt__last_set(FWT_EINVAL, "%s: batch is NULL", fn);
    if (!in->tokens || in->n_tokens == 0)
        return fwt__last_set(FWT_EINVAL, "%s: tokens must be a non-empty array", fn);
    if (!in->target_tokens || in->n_target_tokens == 0)
        return fwt__last_set(FWT_EINVAL, "%s: target_tokens must be a non-empty array", fn);
    size_t n = in->n_target_tokens;
    if (n != in->n_tokens) /* one target per input token (Tinker and fwtrain-local require it) */
        return fwt__last_set(FWT_EINVAL, "%s: n_targets (%zu) must equal n_tokens (%zu)", fn, n, in->n_tokens);
    int rc = check_floats(fn, "weights", in->weights, in->n_weights, n, weights_required);
    if (!rc) rc = check_floats(fn, "logprobs", in->logprobs, in->n_logprobs, n, 0);
    if (!rc) rc = check_floats(fn, "advantages", in->advantages, in->n_advantages, n, 0);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (in->tokens[i] < 0 || in->tokens[i] > MAX_EXACT_INT)
            return fwt__last_set(FWT_EINVAL, "%s: tokens[%zu] is out of range", fn, i);
        if (in->target_tokens[i] < 0 || in->target_tokens[i] > MAX_EXACT_INT)
            return fwt__last_set(FWT_EINVAL, "%s: target_tokens[%zu] is out of range", fn, i);
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 8;
        if (cap > SIZE_MAX / sizeof(datum))
            return fwt__last_set(FWT_ENOMEM, "out of memory");
        datum *nd = fwt__realloc(b->d, cap * sizeof *nd);
        if (!nd)
            return fwt__last_set(FWT_ENOMEM, "out of memory");
        b->d = nd;
        b->cap = cap;
    }
    datum d = {0};
    d.tokens = fwt__calloc(n, sizeof *d.tokens); /* overflow-checked sizes */
    d.targets = fwt__calloc(n, sizeof *d.targets);
    d.weights = dup_floats(in->weights, n);
    d.logprobs = dup_floats(in->logprobs, n);
    d.advantages = dup_floats(in->advantages, n);
    if (!d.tokens || !d.targets || (in->weights && !d.weights) || (in->logprobs && !d.logprobs) ||
        (in->advantages && !d.advantages)) {
        fwt__free_mem(d.tokens);
        fwt__free_mem(d.targets);
        fwt__free_mem(d.weights);
        fwt__free_mem(d.logprobs);
        fwt__free_mem(d.advantages);
        return fwt__last_set(FWT_ENOMEM, "out of memory");
    }
    memcpy(d.tokens, in->tokens, n * sizeof *d.tokens);
    memcpy(d.targets, in->target_tokens, n * sizeof *d.targets);
    d.n_tokens = n;
    d.n_targets = n;
    b->d[b->n++] = d;
    fwt__last_ok();
    return FWT_OK;
}

int fwt_batch_add(fwt_batch *b, const int64_t *tokens, size_t n_tokens, const int64_t *target_tokens, size_t n_targets,
                  const float *weights, size_t n_weights)
{
    fwt_datum d;
    fwt_datum_init(&d, FWT_DATUM_VERSION);
    d.tokens = tokens;
    d.n_tokens = n_tokens;
    d.target_tokens = target_tokens;
    d.n_target_tokens = n_targets;
    d.weights = weights;
    d.n_weights = n_weights;
    return add_datum(b, &d, 1, "fwt_batch_add");
}

int fwt_batch_add_datum(fwt_batch *b, const fwt_datum *d)
{
    if (!d)
        return fwt__last_set(FWT_EINVAL, "fwt_batch_add_datum: d is NULL");
    if (d->version != FWT_DATUM_VERSION)
        return fwt__last_set(FWT_EINVAL, "fwt_batch_add_datum: unknown fwt_datum version %u", d->version);
    return add_datum(b, d, 0, "fwt_batch_add_datum");
}

/* One TensorData {"data": [...], "dtype": ..., "shape": [n]} (docs/protocol.md §4.10), keys in the order
 * the cJSON encoder used, so the text is the same wherever the numbers print the same. */
static void write_tensor(fwt__jw *w, const char *name, const void *v, size_t n, int is_float)
{
    fwt__jw_string(w, name);
    fwt__jw_lit(w, ":{\"data\":[");
    if (is_float)
        fwt__jw_float_list(w, v, n);
    else
        fwt__jw_int_list(w, v, n);
    if (is_float)
        fwt__jw_lit(w, "],\"dtype\":\"float32\",\"shape\":[");
    else
        fwt__jw_lit(w, "],\"dtype\":\"int64\",\"shape\":[");
    fwt__jw_int(w, (int64_t)n);
    fwt__jw_lit(w, "]}");
}

/* docs/protocol.md §4.10: Datum = {model_input: {chunks: [{type: encoded_text, tokens}]}, loss_fn_inputs: {...}}.
 * loss_fn_inputs: target_tokens (int64), weights (float32) when present; with `rl` also the sampling
 * logprobs and the advantages (float32). cross_entropy never gets the RL inputs. */
int fwt__batch_write(fwt__jw *w, const fwt_batch *b, int rl)
{
    fwt__jw_char(w, '[');
    for (size_t i = 0; i < b->n; i++) {
        const datum *d = &b->d[i];
        if (i)
            fwt__jw_char(w, ',');
        fwt__jw_lit(w, "{\"model_input\":{\"chunks\":[{\"type\":\"encoded_text\",\"tokens\":[");
        fwt__jw_int_list(w, d->tokens, d->n_tokens);
        fwt__jw_lit(w, "]}]},\"loss_fn_inputs\":{");
        write_tensor(w, "target_tokens", d->targets, d->n_targets, 0);
        const struct {
            const char *name;
            const float *v;
        } in[] = {{"weights", d->weights}, {"logprobs", rl ? d->logprobs : NULL}, {"advantages", rl ? d->advantages : NULL}};
        for (size_t k = 0; k < sizeof in / sizeof in[0]; k++) {
            if (!in[k].v)
                continue;
            fwt__jw_char(w, ',');
            write_tensor(w, in[k].name, in[k].v, d->n_targets, 1);
        }
        fwt__jw_lit(w, "}}");
    }
    fwt__jw_char(w, ']');
    return w->err;
}

/* Bytes the batch's text will take, roughly, so the writer rarely grows. */
static size_t batch_size_hint(const fwt_batch *b, int rl)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++) {
        const datum *d = &b->d[i];
        size_t floats = (d->weights != NULL) + (rl && d->logprobs) + (rl && d->advantages);
        n += 256 + d->n_tokens * (2 * 7 + floats * 12);
    }
    return n;
}

cJSON *fwt__batch_to_json(const fwt_batch *b, int rl)
{
    fwt__jw w;
    fwt__jw_init(&w, batch_size_hint(b, rl));
    fwt__batch_write(&w, b, rl);
    char *text = fwt__jw_take(&w, NULL);
    if (!text)
        return NULL;
    fwt__json_hooks_install();
    cJSON *raw = cJSON_CreateRaw("");
    if (!raw) {
        fwt__free_mem(text);
        return NULL;
    }
    /* Hand the text over instead of copying it: the hooks give cJSON the library's allocator, so
     * cJSON_Delete frees it with the allocator that made it. */
    cJSON_free(raw->valuestring);
    raw->valuestring = text;
    return raw;
}

/* Every datum carries the inputs `loss` needs (docs/protocol.md §4.10); sets the last error naming the first gap. */
int fwt__batch_check_inputs(const fwt_batch *b, int rl, const char *loss_name, const char *fn)
{
    for (size_t i = 0; i < b->n; i++) {
        const datum *d = &b->d[i];
        const char *missing = !rl && !d->weights      ? "weights"
                              : rl && !d->logprobs   ? "logprobs (the sampling logprobs)"
                              : rl && !d->advantages ? "advantages"
                                                     : NULL;
        if (missing)
            return fwt__last_set(FWT_EINVAL, "%s: datum %zu has no %s, which the %s loss needs", fn, i, missing,
                                 loss_name);
    }
    return FWT_OK;
}

/* ---- metrics ---- */

struct fwt_metrics {
    size_t n;
    char **names;
    double *values;
};

size_t fwt_metrics_count(const fwt_metrics *m) { return m ? m->n : 0; }
const char *fwt_metrics_name(const fwt_metrics *m, size_t i) { return m && i < m->n ? m->names[i] : NULL; }
double fwt_metrics_value(const fwt_metrics *m, size_t i) { return m && i < m->n ? m->values[i] : NAN; }

int fwt_metrics_get(const fwt_metrics *m, const char *name, double *out)
{
    if (!m || !name || !out)
        return fwt__last_set(FWT_EINVAL, "fwt_metrics_get: NULL argument");
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->names[i], name) == 0) {
            *out = m->values[i];
            return FWT_OK;
        }
    }
    return fwt__last_set(FWT_ENOTFOUND, "no metric named \"%s\"", name);
}

void fwt_metrics_free(fwt_metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        fwt__free_mem(m->names[i]);
    fwt__free_mem(m->names);
    fwt__free_mem(m->values);
    fwt__free_mem(m);
}

void fwt__metrics_free_v(void *p) { fwt_metrics_free(p); }

/* obj may be NULL (no metrics). Values must be finite numbers. */
int fwt__parse_metrics(const cJSON *obj, fwt_metrics **out, fwt__err *err)
{
    *out = NULL;
    if (obj && !cJSON_IsObject(obj))
        return fwt__err_set(err, FWT_EPROTO, "metrics is not an object");
    fwt_metrics *m = fwt__calloc(1, sizeof *m);
    size_t n = obj ? (size_t)cJSON_GetArraySize(obj) : 0;
    if (!m || (n && (!(m->names = fwt__calloc(n, sizeof *m->names)) || !(m->values = fwt__calloc(n, sizeof *m->values))))) {
        fwt_metrics_free(m);
        return fwt__err_set(err, FWT_ENOMEM, "out of memory");
    }
    const cJSON *it = NULL;
    cJSON_ArrayForEach(it, obj)
    {
        if (!it->string || !cJSON_IsNumber(it) || !isfinite(it->valuedouble)) {
            fwt__err_set(err, FWT_EPROTO, "metric \"%s\" is not a finite number", it->string ? it->string : "?");
            fwt_metrics_free(m);
            return FWT_EPROTO;
        }
        if (!(m->names[m->n] = fwt__strdup(it->string))) {
            fwt_metrics_free(m);
            return fwt__err_set(err, FWT_ENOMEM, "out of memory");
        }
        m->values[m->n++] = it->valuedouble;
    }
    *out = m;
    return FWT_OK;
}

/* ---- forward output ---- */

typedef struct lp {
    float *v;
    size_t n;
} lp;

struct fwt_forward_output {
    char *type;
    lp *outputs;
    size_t n;
    fwt_metrics *metrics;
};

const char *fwt_forward_output_type(const fwt_forward_output *o) { return o ? o->type : NULL; }
size_t fwt_forward_output_count(const fwt_forward_output *o) { return o ? o->n : 0; }

const float *fwt_forward_output_logprobs(const fwt_forward_output *o, size_t i, size_t *n)
{
    if (!o || i >= o->n) {
        if (n)
            *n = 0;
        return NULL;
    }
    if (n)
        *n = o->outputs[i].n;
    return o->outputs[i].v;
}

const fwt_metrics *fwt_forward_output_metrics(const fwt_forward_output *o) { return o ? o->metrics : NULL; }

void fwt_forward_output_free(fwt_forward_output *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->n; i++)
        fwt__free_mem(o->outputs[i].v);
    fwt__free_mem(o->outputs);
    fwt__free_mem(o->type);
    fwt_metrics_free(o->metrics);
    fwt__free_mem(o);
}

void fwt__forward_output_free_v(void *p) { fwt_forward_output_free(p); }

/* TensorData {data: [numbers], dtype?, shape?} → floats. */
static int parse_tensor(const cJSON *td, lp *out, fwt__err *err, size_t idx)
{
    const cJSON *data = NULL;
    if (!td || !cJSON_IsObject(td) || fwt__json_get_array(td, "data", &data))
        return fwt__err_set(err, FWT_EPROTO, "loss_fn_outputs[%zu].logprobs is not a TensorData object", idx);
    size_t n = (size_t)cJSON_GetArraySize(data);
    out->v = fwt__calloc(n ? n : 1, sizeof *out->v);
    if (!out->v)
        return fwt__err_set(err, FWT_ENOMEM, "out of memory");
    const cJSON *x = NULL;
    size_t k = 0;
    cJSON_ArrayForEach(x, data)
    {
        /* A double outside float's range cannot be converted (undefined behaviour): reject it. */
        if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) || x->valuedouble > FLT_MAX || x->valuedouble < -FLT_MAX)
            return fwt__err_set(err, FWT_EPROTO, "loss_fn_outputs[%zu].logprobs.data[%zu] is not a float32 number",
                                idx, k);
        out->v[k++] = (float)x->valuedouble;
    }
    out->n = k;
    return FWT_OK;
}

int fwt__parse_forward_output(const cJSON *json, fwt_forward_output **out, fwt__err *err)
{
    *out = NULL;
    fwt_forward_output *o = fwt__calloc(1, sizeof *o);
    if (!o)
        return fwt__err_set(err, FWT_ENOMEM, "out of memory");
    const char *type = "";
    int rc = fwt__json_get_string(json, "loss_fn_output_type", &type);
    if (rc == FWT_EPROTO) {
        fwt_forward_output_free(o);
        return fwt__err_set(err, FWT_EPROTO, "loss_fn_output_type is not a string");
    }
    o->type = fwt__strdup(rc == FWT_OK ? type : "");
    const cJSON *outs = NULL;
    rc = fwt__json_get_array(json, "loss_fn_outputs", &outs);
    if (rc) {
        fwt_forward_output_free(o);
        return fwt__err_set(err, FWT_EPROTO, "loss_fn_outputs is %s", rc == FWT_ENOTFOUND ? "missing" : "not an array");
    }
    size_t n = (size_t)cJSON_GetArraySize(outs);
    o->outputs = fwt__calloc(n ? n : 1, sizeof *o->outputs);
    if (!o->type || !o->outputs) {
        fwt_forward_output_free(o);
        return fwt__err_set(err, FWT_ENOMEM, "out of memory");
    }
    const cJSON *item = NULL;
    cJSON_ArrayForEach(item, outs)
    {
        const cJSON *logprobs = fwt__json_get(item, "logprobs");
        rc = parse_tensor(logprobs, &o->outputs[o->n], err, o->n);
        o->n++; /* count it so a partially filled entry is freed */
        if (rc) {
            fwt_forward_output_free(o);
            return rc;
        }
    }
    const cJSON *metrics = fwt__json_get(json, "metrics");
    if (metrics && cJSON_IsNull(metrics))
        metrics = NULL;
    rc = fwt__parse_metrics(metrics, &o->metrics, err);
    if (rc) {
        fwt_forward_output_free(o);
        return rc;
    }
    *out = o;
    return FWT_OK;
}

/* ---- sampler save ---- */

struct fwt_sampler_save {
    char *path;
    char *snapshot_name;
    char *previous; /* NULL unless a delta */
    fwt_sampler_type type;
};

fwt_sampler_save *fwt__sampler_save_new(const char *path, const char *snapshot_name, fwt_sampler_type type,
                                        const char *previous)
{
    fwt_sampler_save *s = fwt__calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->path = fwt__strdup(path);
    s->snapshot_name = fwt__strdup(snapshot_name);
    s->previous = previous ? fwt__strdup(previous) : NULL;
    s->type = type;
    if (!s->path || !s->snapshot_name || (previous && !s->previous)) {
        fwt_sampler_save_free(s);
        return NULL;
    }
    return s;
}

const char *fwt_sampler_save_path(const fwt_sampler_save *s) { return s ? s->path : NULL; }
const char *fwt_sampler_save_snapshot_name(const fwt_sampler_save *s) { return s ? s->snapshot_name : NULL; }
fwt_sampler_type fwt_sampler_save_type(const fwt_sampler_save *s) { return s ? s->type : FWT_SAMPLER_AUTO; }
const char *fwt_sampler_save_previous_snapshot_name(const fwt_sampler_save *s) { return s ? s->previous : NULL; }

void fwt_sampler_save_free(fwt_sampler_save *s)
{
    if (!s)
        return;
    fwt__free_mem(s->path);
    fwt__free_mem(s->snapshot_name);
    fwt__free_mem(s->previous);
    fwt__free_mem(s);
}

void fwt__sampler_save_free_v(void *p) { fwt_sampler_save_free(p); }

const char *fwt_sampler_type_name(fwt_sampler_type type)
{
    switch (type) {
    case FWT_SAMPLER_AUTO: return "auto";
    case FWT_SAMPLER_BASE: return "base";
    case FWT_SAMPLER_DELTA: return "delta";
    case FWT_SAMPLER_MERGED_BASE: return "merged_base";
    default: return NULL;
    }
}

int fwt_sampler_type_parse(fwt_sampler_type *out, const char *name)
{
    if (!out || !name)
        return fwt__last_set(FWT_EINVAL, "fwt_sampler_type_parse: %s is NULL", out ? "name" : "out");
    static const fwt_sampler_type all[] = {FWT_SAMPLER_AUTO, FWT_SAMPLER_BASE, FWT_SAMPLER_DELTA,
                                              FWT_SAMPLER_MERGED_BASE};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (strcasecmp(name, fwt_sampler_type_name(all[i])) == 0) {
            *out = all[i];
            return FWT_OK;
        }
    }
    return fwt__last_set(FWT_EINVAL, "unknown checkpoint type \"%.64s\" (base, delta, merged_base or auto)", name);
}

/* ---- string list ---- */

struct fwt_string_list {
    char **items;
    size_t n;
};

size_t fwt_string_list_count(const fwt_string_list *l) { return l ? l->n : 0; }
const char *fwt_string_list_get(const fwt_string_list *l, size_t i) { return l && i < l->n ? l->items[i] : NULL; }

void fwt_string_list_free(fwt_string_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        fwt__free_mem(l->items[i]);
    fwt__free_mem(l->items);
    fwt__free_mem(l);
}

int fwt__string_list_from_json(fwt_string_list **out, const cJSON *arr)
{
    *out = NULL;
    fwt_string_list *l = fwt__calloc(1, sizeof *l);
    size_t n = arr ? (size_t)cJSON_GetArraySize(arr) : 0;
    if (!l || !(l->items = fwt__calloc(n ? n : 1, sizeof *l->items))) {
        fwt__free_mem(l);
        return FWT_ENOMEM;
    }
    const cJSON *it = NULL;
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsString(it) || !it->valuestring) {
            fwt_string_list_free(l);
            return FWT_EPROTO;
        }
        if (!(l->items[l->n] = fwt__strdup(it->valuestring))) {
            fwt_string_list_free(l);
            return FWT_ENOMEM;
        }
        l->n++;
    }
    *out = l;
    return FWT_OK;
}

/* ---- typed takes ---- */

int fwt_future_take_string(char **out, fwt_future *f)
{
    return fwt__future_take(f, FWT__VALUE_STRING, (void **)out);
}

int fwt_future_take_forward_output(fwt_forward_output **out, fwt_future *f)
{
    return fwt__future_take(f, FWT__VALUE_FORWARD_OUTPUT, (void **)out);
}

int fwt_future_take_metrics(fwt_metrics **out, fwt_future *f)
{
    return fwt__future_take(f, FWT__VALUE_METRICS, (void **)out);
}

int fwt_future_take_sampler_save(fwt_sampler_save **out, fwt_future *f)
{
    return fwt__future_take(f, FWT__VALUE_SAMPLER_SAVE, (void **)out);
}

const fwt__value_type fwt__vt_string = {"string"};
const fwt__value_type fwt__vt_forward_output = {"forward output"};
const fwt__value_type fwt__vt_metrics = {"metrics"};
const fwt__value_type fwt__vt_sampler_save = {"sampler save"};
