/* Version of the linked library (may differ from the FWT_VERSION_* macros a caller compiled with). */
#include "fwtrain/common.h"

#ifdef FWT_VERSION_FROM_CMAKE
_Static_assert(sizeof(FWT_VERSION_FROM_CMAKE) == sizeof(FWT_VERSION_STRING), "CMake and header versions differ");
#endif

const char *fwt_version_string(void) { return FWT_VERSION_STRING; }

int fwt_version_num(void) { return FWT_VERSION_NUM; }
