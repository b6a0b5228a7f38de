/* safetensors and DCP: round trips, and hostile input gives clean errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void wr64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void test_safetensors_roundtrip(void **state)
{
    (void)state;
    fwl_model m, back;
    assert_int_equal(fwl_model_init(&m, 3, 77), 0);
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(fwl_safetensors_encode(&m, &buf, &len), 0);
    uint64_t hlen = rd64(buf);
    assert_int_equal(hlen % 8, 0);
    assert_int_equal(len, 8 + hlen + m.n_params * 4);
    /* The header is plain safetensors JSON. */
    char *hdr = calloc(1, hlen + 1);
    assert_non_null(hdr);
    memcpy(hdr, buf + 8, hlen);
    assert_non_null(strstr(hdr, "\"__metadata__\":{\"format\":\"fwtrain-local\",\"dim\":\"3\"}"));
    assert_non_null(strstr(hdr, "\"context.weight\":{\"dtype\":\"F32\",\"shape\":[65536,3],\"data_offsets\":[3072,789504]}"));
    assert_non_null(strstr(hdr, "\"hidden.bias\":{\"dtype\":\"F32\",\"shape\":[3],"));
    free(hdr);
    char err[256];
    assert_int_equal(fwl_safetensors_decode(&back, buf, len, err, sizeof(err)), 0);
    assert_int_equal(back.dim, 3);
    assert_int_equal(back.n_params, m.n_params);
    assert_memory_equal(back.w, m.w, m.n_params * 4);
    /* Same dim, same header: two snapshots have the same length. */
    uint8_t *buf2 = NULL;
    size_t len2 = 0;
    back.w[0] += 1.0f;
    assert_int_equal(fwl_safetensors_encode(&back, &buf2, &len2), 0);
    assert_int_equal(len2, len);
    assert_memory_equal(buf, buf2, 8 + hlen);
    free(buf2);
    free(buf);
    fwl_model_free(&back);
    fwl_model_free(&m);
}

/* Builds a safetensors file from a header string and data_len zero bytes. */
static uint8_t *make_st(const char *json, size_t data_len, size_t *len)
{
    size_t h = strlen(json);
    *len = 8 + h + data_len;
    uint8_t *b = calloc(1, *len);
    assert_non_null(b);
    wr64(b, h);
    memcpy(b + 8, json, h);
    return b;
}

/* Replaces the first occurrence of `from` in `s` by `to` (new malloc'd string). */
static char *subst(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    assert_non_null(at);
    size_t n = strlen(s) - strlen(from) + strlen(to) + 1;
    char *o = malloc(n);
    assert_non_null(o);
    size_t pre = (size_t)(at - s);
    memcpy(o, s, pre);
    strcpy(o + pre, to);
    strcat(o, at + strlen(from));
    return o;
}

static void expect_bad(const char *json, size_t data_len, const char *needle)
{
    size_t len;
    uint8_t *b = make_st(json, data_len, &len);
    fwl_model m;
    char err[256] = "";
    m.w = (float *)(uintptr_t)1; /* output only: must be overwritten */
    int rc = fwl_safetensors_decode(&m, b, len, err, sizeof(err));
    if (rc != -1 || !strstr(err, needle))
        fail_msg("header %.120s: rc %d err '%s' (want '%s')", json, rc, err, needle);
    assert_null(m.w);
    free(b);
}

static void test_safetensors_hostile(void **state)
{
    (void)state;
    fwl_model m;
    assert_int_equal(fwl_model_init(&m, 1, 1), 0);
    uint8_t *good = NULL;
    size_t glen = 0;
    assert_int_equal(fwl_safetensors_encode(&m, &good, &glen), 0);
    size_t hlen = (size_t)rd64(good), dlen = glen - 8 - hlen;
    char *hdr = calloc(1, hlen + 1);
    assert_non_null(hdr);
    memcpy(hdr, good + 8, hlen);
    while (hlen && hdr[hlen - 1] == ' ')
        hdr[--hlen] = '\0';
    char err[256];

    /* Tiny and truncated inputs. */
    fwl_model out;
    assert_int_equal(fwl_safetensors_decode(&out, NULL, 0, err, sizeof(err)), -1);
    assert_int_equal(fwl_safetensors_decode(&out, good, 7, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "truncated"));
    for (size_t cut = 0; cut < 8 + hlen + 16; cut++)
        assert_int_equal(fwl_safetensors_decode(&out, good, cut, err, sizeof(err)), -1);
    assert_int_equal(fwl_safetensors_decode(&out, good, glen - 1, err, sizeof(err)), -1);
    /* Header length lies. */
    uint8_t *bad = malloc(glen + 4);
    assert_non_null(bad);
    memcpy(bad, good, glen);
    wr64(bad, UINT64_MAX);
    assert_int_equal(fwl_safetensors_decode(&out, bad, glen, err, sizeof(err)), -1);
    wr64(bad, glen);
    assert_int_equal(fwl_safetensors_decode(&out, bad, glen, err, sizeof(err)), -1);
    wr64(bad, 0);
    assert_int_equal(fwl_safetensors_decode(&out, bad, glen, err, sizeof(err)), -1);
    /* Extra bytes after the data. */
    memcpy(bad, good, glen);
    memset(bad + glen, 0, 4);
    assert_int_equal(fwl_safetensors_decode(&out, bad, glen + 4, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "trailing"));
    /* Random byte flips in the header: never a crash, and anything accepted is a valid model. */
    uint64_t r = 12345;
    for (int i = 0; i < 400; i++) {
        memcpy(bad, good, glen);
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        size_t at = 8 + (size_t)((r >> 33) % hlen);
        bad[at] = (uint8_t)(r >> 17);
        if (fwl_safetensors_decode(&out, bad, glen, err, sizeof(err)) == 0) {
            assert_int_equal(out.dim, 1);
            fwl_model_free(&out);
        }
    }
    free(bad);

    expect_bad("[1,2,3]", dlen, "not a JSON object");
    expect_bad("{\"a\":", dlen, "not valid JSON");
    expect_bad("{} x", dlen, "junk");
    expect_bad("{}", dlen, "embed.weight missing");
    char *s;
    s = subst(hdr, "\"F32\"", "\"F16\"");
    expect_bad(s, dlen, "dtype");
    free(s);
    s = subst(hdr, "\"dtype\":\"F32\",", "");
    expect_bad(s, dlen, "dtype");
    free(s);
    s = subst(hdr, "[65536,1]", "[65535,1]");
    expect_bad(s, dlen, "wrong shape");
    free(s);
    s = subst(hdr, "[65536,1]", "[65536,1.5]");
    expect_bad(s, dlen, "wrong shape");
    free(s);
    s = subst(hdr, "[256,1]", "[256,-1]");
    expect_bad(s, dlen, "bad shape");
    free(s);
    s = subst(hdr, "\"dim\":\"1\"", "\"dim\":\"2\"");
    expect_bad(s, dlen, "disagrees");
    free(s);
    s = subst(hdr, "\"dim\":\"1\"", "\"dim\":1");
    expect_bad(s, dlen, "strings");
    free(s);
    s = subst(hdr, "\"hidden.bias\"", "\"hidden.biaz\"");
    expect_bad(s, dlen, "unexpected tensor");
    free(s);
    s = subst(hdr, "\"lm_head.bias\"", "\"hidden.bias\"");
    expect_bad(s, dlen, "appears twice");
    free(s);
    /* lm_head.bias removed entirely: the data it covered becomes trailing and the tensor is missing. */
    s = subst(hdr, ",\"lm_head.bias\"", "}");
    char *cut = strstr(s, "}}");
    assert_non_null(cut);
    cut[2] = '\0';
    expect_bad(s, dlen, "missing");
    free(s);
    /* Offsets: overlap, gap, reversed, beyond the data, size not matching the shape. */
    s = subst(hdr, "\"data_offsets\":[1024,263168]", "\"data_offsets\":[1020,263164]");
    expect_bad(s, dlen, "overlaps");
    free(s);
    s = subst(hdr, "\"data_offsets\":[0,1024]", "\"data_offsets\":[4,1028]");
    expect_bad(s, dlen, "");
    free(s);
    s = subst(hdr, "\"data_offsets\":[0,1024]", "\"data_offsets\":[1024,0]");
    expect_bad(s, dlen, "bad data_offsets");
    free(s);
    s = subst(hdr, "\"data_offsets\":[0,1024]", "\"data_offsets\":[0,1028]");
    expect_bad(s, dlen, "does not match");
    free(s);
    s = subst(hdr, "\"data_offsets\":[0,1024]", "\"data_offsets\":[0,99999999999]");
    expect_bad(s, dlen, "bad data_offsets");
    free(s);
    s = subst(hdr, "\"data_offsets\":[0,1024]", "\"data_offsets\":[0]");
    expect_bad(s, dlen, "bad data_offsets");
    free(s);
    s = subst(hdr, "\"data_offsets\":[0,1024]", "\"data_offsets\":\"0,1024\"");
    expect_bad(s, dlen, "bad data_offsets");
    free(s);
    /* Data shorter than the offsets claim is rejected; the unpadded original header decodes. */
    expect_bad(hdr, dlen - 4, "");
    size_t okl;
    uint8_t *ok = make_st(hdr, dlen, &okl);
    assert_int_equal(fwl_safetensors_decode(&out, ok, okl, err, sizeof(err)), 0);
    fwl_model_free(&out);
    free(ok);

    free(hdr);
    free(good);
    fwl_model_free(&m);
}

static void test_dcp_roundtrip_and_corruption(void **state)
{
    (void)state;
    fwl_model m, back;
    fwl_adam a, aback;
    assert_int_equal(fwl_model_init(&m, 2, 9), 0);
    assert_int_equal(fwl_adam_init(&a, m.n_params), 0);
    float *g = calloc(m.n_params, sizeof(float));
    assert_non_null(g);
    int64_t tok[] = {'x', 'y', 'z'}, tgt[] = {'y', 'z', 'x'};
    fwl_adam_params p = fwl_adam_defaults();
    for (int s = 0; s < 3; s++) {
        fwl_model_forward(&m, tok, tgt, NULL, 3, NULL, g);
        fwl_adam_step(&m, &a, g, &p);
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256];
    assert_int_equal(fwl_dcp_encode(&m, &a, &buf, &len), 0);
    assert_int_equal(fwl_dcp_decode(&back, &aback, buf, len, err, sizeof(err)), 0);
    assert_int_equal(back.dim, 2);
    assert_int_equal(aback.step, 3);
    assert_memory_equal(back.w, m.w, m.n_params * 4);
    assert_memory_equal(aback.m, a.m, m.n_params * 4);
    assert_memory_equal(aback.v, a.v, m.n_params * 4);
    /* Training continues identically from the restored state. */
    fwl_model_forward(&m, tok, tgt, NULL, 3, NULL, g);
    fwl_adam_step(&m, &a, g, &p);
    fwl_model_forward(&back, tok, tgt, NULL, 3, NULL, g);
    fwl_adam_step(&back, &aback, g, &p);
    assert_memory_equal(back.w, m.w, m.n_params * 4);
    fwl_model_free(&back);
    fwl_adam_free(&aback);
    /* Weights only. */
    assert_int_equal(fwl_dcp_decode(&back, NULL, buf, len, err, sizeof(err)), 0);
    fwl_model_free(&back);

    /* Any single flipped bit, anywhere, is caught. */
    const size_t spots[] = {0, 9, 12, 16, 24, 40, len / 2, len - 5, len - 1};
    for (size_t i = 0; i < sizeof(spots) / sizeof(spots[0]); i++) {
        buf[spots[i]] ^= 0x10;
        assert_int_equal(fwl_dcp_decode(&back, &aback, buf, len, err, sizeof(err)), -1);
        assert_null(back.w);
        assert_null(aback.m);
        buf[spots[i]] ^= 0x10;
    }
    buf[len / 3] ^= 1;
    assert_int_equal(fwl_dcp_decode(&back, &aback, buf, len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "checksum"));
    buf[len / 3] ^= 1;
    buf[0] = 'X';
    assert_int_equal(fwl_dcp_decode(&back, &aback, buf, len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "magic"));
    buf[0] = 'F';
    assert_int_equal(fwl_dcp_decode(&back, &aback, buf, len - 1, err, sizeof(err)), -1);
    assert_int_equal(fwl_dcp_decode(&back, &aback, buf, 20, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "truncated"));
    assert_int_equal(fwl_dcp_decode(&back, &aback, NULL, 0, err, sizeof(err)), -1);
    /* A safetensors file is not a DCP checkpoint, and vice versa. */
    uint8_t *st = NULL;
    size_t stlen = 0;
    assert_int_equal(fwl_safetensors_encode(&m, &st, &stlen), 0);
    assert_int_equal(fwl_dcp_decode(&back, &aback, st, stlen, err, sizeof(err)), -1);
    assert_int_equal(fwl_safetensors_decode(&back, buf, len, err, sizeof(err)), -1);
    free(st);
    /* Without an optimizer the moments are zero. */
    free(buf);
    assert_int_equal(fwl_dcp_encode(&m, NULL, &buf, &len), 0);
    assert_int_equal(fwl_dcp_decode(&back, &aback, buf, len, err, sizeof(err)), 0);
    assert_int_equal(aback.step, 0);
    for (size_t i = 0; i < aback.n; i++)
        assert_true(aback.m[i] == 0.0f && aback.v[i] == 0.0f);
    fwl_model_free(&back);
    fwl_adam_free(&aback);
    free(buf);
    free(g);
    fwl_adam_free(&a);
    fwl_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_safetensors_roundtrip),
        cmocka_unit_test(test_safetensors_hostile),
        cmocka_unit_test(test_dcp_roundtrip_and_corruption),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
