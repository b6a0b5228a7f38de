/* Log delivery. Callers never pass secrets; see request.c for header redaction. */
#include <stdarg.h>
#include <stdio.h>

#include "fwt_util.h"

void fwt__vlog(const fwt__logger *lg, int level, const char *fmt, va_list ap)
{
    if (!lg || !lg->fn || level > lg->level)
        return;
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    lg->fn(level, buf, lg->payload);
}

void fwt__log(const fwt__logger *lg, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fwt__vlog(lg, level, fmt, ap);
    va_end(ap);
}
