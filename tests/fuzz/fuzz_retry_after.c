/*
 * Retry-After (src/http/retry_after.c): a header value, in seconds or as an HTTP date, and the
 * millisecond variant. Properties: -1 (unusable) or a delay between 0 and the cap; the answer
 * is exact for a plain decimal number.
 */
#include "fuzz.h"

#include "http/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The first 8 bytes pick "now" (any instant, including far past and future); the rest is the value. */
    int64_t now = 1764892800; /* 2025-12-05 */
    if (size >= 8) {
        uint64_t v;
        memcpy(&v, data, 8);
        now = (int64_t)(v % (UINT64_C(1) << 40)) - (INT64_C(1) << 39);
        data += 8;
        size -= 8;
    }
    char *s = fuzz_cstr(data, size);
    int64_t a = fwt__parse_retry_after(s, now);
    FUZZ_CHECK(a == -1 || a >= 0);
    FUZZ_CHECK(a % 1000 == 0 || a == -1);
    int64_t b = fwt__parse_retry_after_ms(s);
    FUZZ_CHECK(b == -1 || b >= 0);
    /* The parser caps at 10^11 s; nothing larger may come out. */
    FUZZ_CHECK(a <= INT64_C(100000000000000) && b <= INT64_C(100000000000000));
    /* A plain small decimal is exact in both forms. */
    size_t n = strlen(s);
    if (n >= 1 && n <= 9 && strspn(s, "0123456789") == n) {
        int64_t v = atoll(s);
        FUZZ_CHECK(a == v * 1000 && b == v);
    }
    free(s);
    return 0;
}
