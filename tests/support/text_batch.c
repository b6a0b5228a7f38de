/* See text_batch.h. */
#include "text_batch.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

fwt_batch *fwt_test_text_batch(const char *text)
{
    size_t n = strlen(text);
    int64_t tok[128], tgt[128];
    float w[128];
    assert_true(n >= 2 && n < 128);
    for (size_t i = 0; i + 1 < n; i++) {
        tok[i] = (unsigned char)text[i];
        tgt[i] = (unsigned char)text[i + 1];
        w[i] = 1.0f;
    }
    fwt_batch *b = NULL;
    assert_int_equal(fwt_batch_new(&b), FWT_OK);
    assert_int_equal(fwt_batch_add(b, tok, n - 1, tgt, n - 1, w, n - 1), FWT_OK);
    return b;
}
