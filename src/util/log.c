/* Log delivery. Callers never pass secrets; see request.c for header redaction. */
#include <stdarg.h>
#include <stdio.h>

#include "fwt_util.h"

void fwt__log(const fwt__logger *lg, int level, const char *fmt, ...)
{
    if (!lg || !lg->fn || level > lg->level)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    lg->fn(level, buf, lg->payload);
}
