/*
 * Redaction of a secret from text the engine keeps (response header values,
 * transport error texts). Bounded buffers cut text; cutting first and
 * redacting after would leave the head of a secret that straddles the cut,
 * so the match is always made on the whole input.
 */
#include <string.h>

#include "http/engine_int.h"

size_t fwt__redact_copy(char *out, size_t cap, const char *in, size_t len, const char *secret, size_t slen)
{
    static const char red[] = "[REDACTED]";
    size_t o = 0, i = 0;
    while (i < len && o + 1 < cap) {
        if (slen && len - i >= slen && in[i] == secret[0] && memcmp(in + i, secret, slen) == 0) {
            size_t n = sizeof red - 1;
            if (n > cap - 1 - o)
                n = cap - 1 - o;
            memcpy(out + o, red, n);
            o += n;
            i += slen;
            continue;
        }
        out[o++] = in[i++];
    }
    out[o] = '\0';
    return o;
}
