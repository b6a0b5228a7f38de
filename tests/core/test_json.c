/*
 * The direct JSON writer and the response parser (src/json/jnum_fmt.c, jnum_parse.c, jwrite.c, jparse.c):
 * shortest round-trip numbers checked against the C library's strtod / strtof and an exact
 * big-integer reference; batches whose parsed values equal both the inputs and the cJSON encoder's;
 * non-finite values refused; the parser's trees equal cJSON's on every document both accept.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <float.h>
#include <math.h>

#include "api/training_impl.h"
#include "batch_cjson.h"
#include "fwt_util.h"
#include "json/jnum.h"
#include "json/json.h"
#include "json/jwrite.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Fewer random cases under valgrind, where the exact reference is ~50× slower. */
static long scaled(long n) { return getenv("FWT_UNDER_VALGRIND") ? n / 20 : n; }

static float bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static int same_float(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }
static int same_double(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

static const float EDGE_FLOATS[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.1f, 0.3f, 2.5f, 1e-7f, 1e21f, 1e20f, 16777216.0f,
                                    FLT_MAX, -FLT_MAX, FLT_MIN, 1e-45f /* smallest denormal */, -1e-45f,
                                    1.1754942e-38f /* largest denormal */, 3.4e38f, 123456.79f, 0.6931472f};

/* Shortest, exact and valid JSON: the text reads back (strtof, and strtod then a float cast, as a
 * Python server does) to the same float, and matches the big-integer reference digit for digit. */
static void check_float(float f)
{
    char a[FWT__NUM_MAX], b[FWT__NUM_MAX];
    size_t n = fwt__fmt_float(a, f), m = fwt__fmt_float_exact(b, f);
    assert_true(n > 0 && n < sizeof a);
    a[n] = '\0';
    b[m] = '\0';
    if (strcmp(a, b) != 0)
        fail_msg("float %a: %s, reference %s", (double)f, a, b);
    if (!same_float(strtof(a, NULL), f) || !same_float((float)strtod(a, NULL), f))
        fail_msg("float %a printed as %s does not read back", (double)f, a);
    double d;
    assert_int_equal(fwt__parse_number(a, a + n, &d), n);
    assert_true(same_float((float)d, f));
}

static void test_float_shortest(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof EDGE_FLOATS / sizeof EDGE_FLOATS[0]; i++)
        check_float(EDGE_FLOATS[i]);
    char t[FWT__NUM_MAX];
    t[fwt__fmt_float(t, -0.0f)] = '\0';
    assert_string_equal(t, "-0");
    t[fwt__fmt_float(t, 1e-45f)] = '\0';
    assert_string_equal(t, "1e-45");
    t[fwt__fmt_float(t, 0.1f)] = '\0';
    assert_string_equal(t, "0.1");
    for (long i = 0, n = scaled(200000); i < n; i++) {
        float f = bits_float((uint32_t)next());
        if (isfinite(f))
            check_float(f);
    }
    for (uint32_t u = 0; u < (uint32_t)scaled(20000); u++) /* every small denormal */
        check_float(bits_float(u));
}

/* Significant digits of a number's text (leading and trailing zeros left out). */
static int sig_digits(const char *s)
{
    int n = 0, last = 0, started = 0;
    for (; *s && *s != 'e'; s++) {
        if (*s >= '1' && *s <= '9')
            started = 1;
        if (started && *s >= '0' && *s <= '9') {
            n++;
            if (*s != '0')
                last = n;
        }
    }
    return last;
}

static void check_double(double v, int check_short)
{
    char a[FWT__NUM_MAX];
    size_t n = fwt__fmt_double(a, v);
    assert_true(n > 0 && n < sizeof a);
    a[n] = '\0';
    double back;
    assert_int_equal(fwt__parse_number(a, a + n, &back), n);
    if (!same_double(back, v) || !same_double(strtod(a, NULL), v))
        fail_msg("double %a printed as %s does not read back", v, a);
    if (check_short && v != 0) {
        char c[40];
        int k = sig_digits(a);
        snprintf(c, sizeof c, "%.*e", k - 2 >= 0 ? k - 2 : 0, v); /* k - 1 digits */
        if (k > 1 && same_double(strtod(c, NULL), v))
            fail_msg("double %a printed as %s, but %s is shorter", v, a, c);
    }
}

static void test_double_shortest(void **state)
{
    (void)state;
    const double edge[] = {0.0, -0.0, 1e308, -1e308, DBL_MAX, DBL_MIN, 5e-324, -5e-324, 2.2250738585072009e-308,
                           0.1, 0.3, 1e21, 1e22, 1e23, 9007199254740993.0, 123.456, 1e-7, 5e-7, 1.5e300};
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++)
        check_double(edge[i], 1);
    char t[FWT__NUM_MAX];
    t[fwt__fmt_double(t, 1e308)] = '\0';
    assert_string_equal(t, "1e308");
    t[fwt__fmt_double(t, 5e-324)] = '\0';
    assert_string_equal(t, "5e-324");
    t[fwt__fmt_double(t, -0.0)] = '\0';
    assert_string_equal(t, "-0");
    t[fwt__fmt_double(t, 1e21)] = '\0';
    assert_string_equal(t, "1e21");
    t[fwt__fmt_double(t, 123456789012345680000.0)] = '\0';
    assert_string_equal(t, "123456789012345680000");
    for (long i = 0, n = scaled(100000); i < n; i++) {
        uint64_t u = next();
        double v;
        memcpy(&v, &u, sizeof v);
        if (isfinite(v))
            check_double(v, 1);
    }
}

static void test_ints(void **state)
{
    (void)state;
    const int64_t v[] = {0, 1, -1, 9, 10, 99, 100, 12345, INT64_MAX, INT64_MIN, 9007199254740992LL};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char a[FWT__NUM_MAX], b[32];
        a[fwt__fmt_int64(a, v[i])] = '\0';
        snprintf(b, sizeof b, "%lld", (long long)v[i]);
        assert_string_equal(a, b);
    }
}

static void test_nonfinite_refused(void **state)
{
    (void)state;
    char t[FWT__NUM_MAX];
    assert_int_equal(fwt__fmt_float(t, NAN), 0);
    assert_int_equal(fwt__fmt_float(t, -INFINITY), 0);
    assert_int_equal(fwt__fmt_double(t, INFINITY), 0);
    fwt__jw w;
    fwt__jw_init(&w, 0);
    const float v[] = {1.0f, NAN};
    fwt__jw_float_list(&w, v, 2);
    assert_int_equal(w.err, FWT_EINVAL);
    assert_null(fwt__jw_take(&w, NULL));
    fwt__jw_init(&w, 0);
    fwt__jw_double(&w, INFINITY);
    assert_int_equal(w.err, FWT_EINVAL);
    fwt__jw_free(&w);

    /* The batch refuses them with a message naming the element, before any JSON is written. */
    fwt_batch *b = NULL;
    assert_int_equal(fwt_batch_new(&b), FWT_OK);
    const int64_t tok[2] = {1, 2};
    const float bad[2] = {1.0f, INFINITY};
    assert_int_equal(fwt_batch_add(b, tok, 2, tok, 2, bad, 2), FWT_EINVAL);
    assert_non_null(strstr(fwt_error_last()->message, "weights[1] is not finite"));
    fwt_datum d;
    fwt_datum_init(&d, FWT_DATUM_VERSION);
    d.tokens = d.target_tokens = tok;
    d.n_tokens = d.n_target_tokens = 2;
    const float nan2[2] = {NAN, 0.0f};
    d.logprobs = nan2;
    d.n_logprobs = 2;
    assert_int_equal(fwt_batch_add_datum(b, &d), FWT_EINVAL);
    assert_non_null(strstr(fwt_error_last()->message, "logprobs[0] is not finite"));
    assert_int_equal(fwt_batch_count(b), 0);
    fwt_batch_free(b);
}

/* ---- batches ---- */

#define N_DATA 3

typedef struct arrays {
    int64_t *tok, *tgt;
    float *w, *lp, *adv;
    size_t n;
} arrays;

static float random_float(int nice)
{
    if (nice) { /* values cJSON's %1.15g prints exactly as the shortest form does */
        static const float NICE[] = {0.0f, 1.0f, 0.5f, -0.0f, 0.25f, 2.0f, -1.5f};
        return NICE[next() % (sizeof NICE / sizeof NICE[0])];
    }
    uint64_t r = next();
    if (r % 8 == 0)
        return EDGE_FLOATS[(r >> 8) % (sizeof EDGE_FLOATS / sizeof EDGE_FLOATS[0])];
    float f;
    do
        f = bits_float((uint32_t)next());
    while (!isfinite(f));
    return f;
}

static fwt_batch *make_batch(arrays *a, fwt_test_datum *ref, int nice)
{
    fwt_batch *b = NULL;
    assert_int_equal(fwt_batch_new(&b), FWT_OK);
    for (int i = 0; i < N_DATA; i++) {
        size_t n = 1 + next() % 300;
        a[i].n = n;
        a[i].tok = calloc(n, sizeof(int64_t));
        a[i].tgt = calloc(n, sizeof(int64_t));
        a[i].w = calloc(n, sizeof(float));
        a[i].lp = calloc(n, sizeof(float));
        a[i].adv = calloc(n, sizeof(float));
        for (size_t k = 0; k < n; k++) {
            /* Near 2^53 cJSON's encoder is lossy (15 digits when the read-back is within DBL_EPSILON):
             * 9007199254740992 became 9.00719925474099e+15. Only the byte comparison avoids them. */
            a[i].tok[k] = k % 7 == 0 && !nice ? 9007199254740992LL - (int64_t)k : (int64_t)(next() % 200000);
            a[i].tgt[k] = (int64_t)(next() % 200000);
            a[i].w[k] = random_float(nice);
            a[i].lp[k] = random_float(nice);
            a[i].adv[k] = random_float(nice);
        }
        fwt_datum d;
        fwt_datum_init(&d, FWT_DATUM_VERSION);
        d.tokens = a[i].tok;
        d.target_tokens = a[i].tgt;
        d.n_tokens = d.n_target_tokens = n;
        d.weights = a[i].w;
        d.logprobs = a[i].lp;
        d.advantages = a[i].adv;
        d.n_weights = d.n_logprobs = d.n_advantages = n;
        assert_int_equal(fwt_batch_add_datum(b, &d), FWT_OK);
        ref[i] = (fwt_test_datum){a[i].tok, a[i].tgt, a[i].w, a[i].lp, a[i].adv, n};
    }
    return b;
}

static void free_arrays(arrays *a)
{
    for (int i = 0; i < N_DATA; i++) {
        free(a[i].tok);
        free(a[i].tgt);
        free(a[i].w);
        free(a[i].lp);
        free(a[i].adv);
    }
}

/* Same tree shape and keys; integers equal; floats equal bit for bit once read as float32 (the dtype). */
static void assert_same_as_float32(const cJSON *a, const cJSON *b)
{
    assert_int_equal(a->type & 0xff, b->type & 0xff);
    if (a->string || b->string)
        assert_string_equal(a->string, b->string);
    if (cJSON_IsNumber(a)) {
        if (!same_float((float)a->valuedouble, (float)b->valuedouble))
            fail_msg("%a != %a", a->valuedouble, b->valuedouble);
        return;
    }
    if (cJSON_IsString(a)) {
        assert_string_equal(a->valuestring, b->valuestring);
        return;
    }
    const cJSON *x = a->child, *y = b->child;
    for (; x && y; x = x->next, y = y->next)
        assert_same_as_float32(x, y);
    assert_true(x == NULL && y == NULL);
}

static void assert_tensor(const cJSON *lfi, const char *name, const void *v, size_t n, int is_float)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(lfi, name);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(t, "data");
    assert_int_equal(cJSON_GetArraySize(data), (int)n);
    size_t k = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, data)
    {
        if (is_float)
            assert_true(same_float((float)x->valuedouble, ((const float *)v)[k]));
        else
            assert_true(x->valuedouble == (double)((const int64_t *)v)[k]);
        k++;
    }
}

static void check_batch(int rl, int nice)
{
    arrays a[N_DATA];
    fwt_test_datum ref[N_DATA];
    fwt_batch *b = make_batch(a, ref, nice);
    cJSON *raw = fwt__batch_to_json(b, rl);
    assert_non_null(raw);
    assert_true(cJSON_IsRaw(raw));
    cJSON *old = fwt_test_batch_cjson(ref, N_DATA, rl);
    char *old_text = cJSON_PrintUnformatted(old);
    /* Both read with cJSON's own parser (independent of src/json) and with ours. */
    cJSON *mine = cJSON_Parse(raw->valuestring), *theirs = cJSON_Parse(old_text);
    cJSON *mine2 = fwt__json_parse(raw->valuestring, strlen(raw->valuestring));
    assert_non_null(mine);
    assert_non_null(theirs);
    assert_true(fwt_test_cjson_same(mine, mine2));
    assert_same_as_float32(mine, theirs);
    for (int i = 0; i < N_DATA; i++) { /* and equal to what went in, -0.0 and denormals included */
        const cJSON *dj = cJSON_GetArrayItem(mine, i);
        const cJSON *chunk = cJSON_GetArrayItem(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(dj, "model_input"), "chunks"), 0);
        const cJSON *toks = cJSON_GetObjectItemCaseSensitive(chunk, "tokens");
        assert_int_equal(cJSON_GetArraySize(toks), (int)a[i].n);
        for (size_t k = 0; k < a[i].n; k++)
            assert_true(cJSON_GetArrayItem(toks, (int)k)->valuedouble == (double)a[i].tok[k]);
        const cJSON *lfi = cJSON_GetObjectItemCaseSensitive(dj, "loss_fn_inputs");
        assert_tensor(lfi, "target_tokens", a[i].tgt, a[i].n, 0);
        assert_tensor(lfi, "weights", a[i].w, a[i].n, 1);
        if (rl) {
            assert_tensor(lfi, "logprobs", a[i].lp, a[i].n, 1);
            assert_tensor(lfi, "advantages", a[i].adv, a[i].n, 1);
        } else {
            assert_null(cJSON_GetObjectItemCaseSensitive(lfi, "logprobs"));
        }
    }
    if (nice) { /* where cJSON prints every number in its shortest form, the texts are byte-for-byte equal */
        const char *x = raw->valuestring, *y = old_text;
        size_t at = 0;
        while (x[at] && x[at] == y[at])
            at++;
        if (x[at] != y[at])
            fail_msg("texts differ at byte %zu: ...%.40s... vs ...%.40s...", at, x + (at > 20 ? at - 20 : 0),
                     y + (at > 20 ? at - 20 : 0));
    }
    cJSON_Delete(mine);
    cJSON_Delete(mine2);
    cJSON_Delete(theirs);
    cJSON_free(old_text);
    cJSON_Delete(old);
    cJSON_Delete(raw);
    fwt_batch_free(b);
    free_arrays(a);
}

static void test_batch_matches_cjson(void **state)
{
    (void)state;
    for (int round = 0; round < 4; round++) {
        check_batch(0, 0);
        check_batch(1, 0);
    }
    check_batch(0, 1);
    check_batch(1, 1);
}

/* ---- parser ---- */

static void assert_parses_like_cjson(const char *doc)
{
    cJSON *mine = fwt__json_parse(doc, strlen(doc));
    cJSON *ref = cJSON_Parse(doc);
    if (!mine || !ref || !fwt_test_cjson_same(mine, ref))
        fail_msg("differs from cJSON: %s", doc);
    cJSON_Delete(mine);
    cJSON_Delete(ref);
}

static void test_parser_matches_cjson(void **state)
{
    (void)state;
    const char *docs[] = {
        "{\"loss_fn_output_type\":\"scalar\",\"loss_fn_outputs\":[{\"logprobs\":{\"data\":[-2.3025851,-0.6931472,"
        "-1e-7,-0,3.4028235e38,1e-45],\"dtype\":\"float32\",\"shape\":[6]}}],\"metrics\":{\"loss:sum\":12.5}}",
        "[1,-1,0.5,-0.0,1e308,5e-324,2.2250738585072014e-308,1.7976931348623157e308,9007199254740993,"
        "123456789012345678901234567890,1E+2,1e-400,1e400,0.1e1,-0e-0,2147483648,-2147483649]",
        "{\"s\":\"a\\\"b\\\\c\\/\\b\\f\\n\\r\\t\\u00e9\\u20AC\\ud83d\\ude00 tail\",\"k\\u0041\":[true,false,null,{}],"
        "\"\":[],\"dup\":1,\"dup\":2}",
        "\xef\xbb\xbf \t\r\n{ \"a\" : [ 1 , 2 ] }\n",
        "\"\\u0000cut\"",
        "  3  ",
        "\"raw \x01 control and \xc3\xa9 UTF-8\"",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
        assert_parses_like_cjson(docs[i]);
    /* Random decimal numbers: bit-identical to strtod (through cJSON). */
    for (long i = 0, n = scaled(200000); i < n; i++) {
        char doc[64];
        double v;
        uint64_t u = next();
        memcpy(&v, &u, sizeof v);
        if (!isfinite(v))
            continue;
        int form = (int)(next() % 6);
        if (form == 0)
            snprintf(doc, sizeof doc, "%.*g", (int)(next() % 17) + 1, v);
        else if (form == 1)
            snprintf(doc, sizeof doc, "%.*f", (int)(next() % 10), (double)(int64_t)(next() % 100000000) / 1000.0);
        else if (form == 2)
            snprintf(doc, sizeof doc, "%.9g", (double)bits_float((uint32_t)next()));
        else if (form == 3)
            snprintf(doc, sizeof doc, "%lld", (long long)(int64_t)next());
        else if (form == 4) /* up to 19 digits, exponents around the Eisel-Lemire table's range */
            snprintf(doc, sizeof doc, "%llue%d", (unsigned long long)(next() >> (next() % 64)), (int)(next() % 150) - 75);
        else /* a float32 logprob printed as a double, as servers do */
            snprintf(doc, sizeof doc, "%.17g", (double)-(float)(next() % 100000) / 7919.0f);
        if (strstr(doc, "inf") || strstr(doc, "nan"))
            continue;
        assert_parses_like_cjson(doc);
    }
}

/* fwt__json_print (every request body): compact text, numbers in shortest round-trip form, non-finite numbers
 * as null like cJSON; whatever it prints reads back, through cJSON too, as the tree it printed. */
static void test_printer(void **state)
{
    (void)state;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "lr", 0.0001);
    cJSON_AddNumberToObject(o, "eps", 1e-12);
    cJSON_AddNumberToObject(o, "seq_id", 42);
    cJSON_AddNumberToObject(o, "neg", -0.0);
    cJSON_AddNumberToObject(o, "big", 1e21);
    cJSON_AddNumberToObject(o, "nan", NAN);
    cJSON_AddNumberToObject(o, "inf", -INFINITY);
    cJSON_AddStringToObject(o, "s", "q\"b\\\n\x01\xc3\xa9");
    cJSON *a = cJSON_AddArrayToObject(o, "a");
    cJSON_AddItemToArray(a, cJSON_CreateTrue());
    cJSON_AddItemToArray(a, cJSON_CreateFalse());
    cJSON_AddItemToArray(a, cJSON_CreateNull());
    cJSON_AddItemToArray(a, cJSON_CreateObject());
    cJSON_AddItemToArray(a, cJSON_CreateArray());
    cJSON_AddItemToObject(o, "raw", cJSON_CreateRaw("[1,2]"));
    char *text = fwt__json_print(o);
    assert_non_null(text);
    assert_string_equal(text, "{\"lr\":0.0001,\"eps\":1e-12,\"seq_id\":42,\"neg\":-0,\"big\":1e21,\"nan\":null,"
                              "\"inf\":null,\"s\":\"q\\\"b\\\\\\n\\u0001\xc3\xa9\",\"a\":[true,false,null,{},[]],"
                              "\"raw\":[1,2]}");
    fwt__free_mem(text);
    cJSON_Delete(o);
    /* random trees of numbers: both parsers read the text back bit for bit */
    for (long i = 0, n = scaled(20000); i < n; i++) {
        cJSON *arr = cJSON_CreateArray();
        for (int k = 0; k < 8; k++) {
            double v;
            uint64_t u = next();
            memcpy(&v, &u, sizeof v);
            if (!isfinite(v) || k % 4 == 1)
                v = (double)(int64_t)(next() >> (next() % 64)) * (k % 2 ? -1 : 1);
            cJSON_AddItemToArray(arr, cJSON_CreateNumber(v));
        }
        char *t = fwt__json_print(arr);
        assert_non_null(t);
        cJSON *mine = fwt__json_parse(t, strlen(t)), *ref = cJSON_Parse(t);
        if (!fwt_test_cjson_same(arr, mine) || !fwt_test_cjson_same(arr, ref))
            fail_msg("printed %s does not read back", t);
        cJSON_Delete(mine);
        cJSON_Delete(ref);
        fwt__free_mem(t);
        cJSON_Delete(arr);
    }
    assert_null(fwt__json_print(NULL));
}

static void test_parser_refuses(void **state)
{
    (void)state;
    const char *bad[] = {"01", "1.", ".5", "+1", "-", "1e", "1e+", "[1,]", "{\"a\"}", "{\"a\":1,}", "{a:1}",
                         "\"\\x\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\u12G4\"", "[1]x",
                         "tru", "nul", "\"abc", "[", "]", "{", "", " ", "NaN", "Infinity", "-Infinity", "[1 2]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *j = fwt__json_parse(bad[i], strlen(bad[i]));
        if (j)
            fail_msg("accepted %s", bad[i]);
    }
    assert_null(fwt__json_parse("[1,\0 2]", 7)); /* NUL bytes anywhere */
    assert_null(fwt__json_parse("\"a\0b\"", 5));
    cJSON *ok = fwt__json_parse("[1] ", 3); /* the length bounds the text, not a NUL */
    assert_non_null(ok);
    cJSON_Delete(ok);
    assert_null(fwt__json_parse("[1]\0", 4));
}

/* A forward result's logprobs come back as the float32 values the server printed in shortest form. */
static void test_forward_output_exact(void **state)
{
    (void)state;
    fwt__jw w;
    fwt__jw_init(&w, 0);
    float v[64];
    for (int i = 0; i < 64; i++)
        v[i] = i < 8 ? EDGE_FLOATS[i] : -fabsf(random_float(0)) / 1e30f;
    fwt__jw_lit(&w, "{\"loss_fn_output_type\":\"scalar\",\"loss_fn_outputs\":[{\"logprobs\":{\"data\":[");
    fwt__jw_float_list(&w, v, 64);
    fwt__jw_lit(&w, "],\"dtype\":\"float32\",\"shape\":[64]}}],\"metrics\":{\"loss:sum\":");
    fwt__jw_double(&w, 0.1);
    fwt__jw_lit(&w, "}}");
    size_t len;
    char *text = fwt__jw_take(&w, &len);
    assert_non_null(text);
    cJSON *j = fwt__json_parse(text, len);
    assert_non_null(j);
    fwt_forward_output *o = NULL;
    fwt__err err;
    fwt__err_init(&err);
    assert_int_equal(fwt__parse_forward_output(j, &o, &err), FWT_OK);
    size_t n = 0;
    const float *lp = fwt_forward_output_logprobs(o, 0, &n);
    assert_int_equal(n, 64);
    for (int i = 0; i < 64; i++)
        assert_true(same_float(lp[i], v[i]));
    double loss = 0;
    assert_int_equal(fwt_metrics_get(fwt_forward_output_metrics(o), "loss:sum", &loss), FWT_OK);
    assert_true(loss == 0.1);
    fwt_forward_output_free(o);
    fwt__err_clear(&err);
    cJSON_Delete(j);
    fwt__free_mem(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_float_shortest),      cmocka_unit_test(test_double_shortest),
        cmocka_unit_test(test_ints),                cmocka_unit_test(test_nonfinite_refused),
        cmocka_unit_test(test_batch_matches_cjson), cmocka_unit_test(test_parser_matches_cjson),
        cmocka_unit_test(test_parser_refuses),      cmocka_unit_test(test_forward_output_exact),
        cmocka_unit_test(test_printer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
