/*
 * The JSON parser every response goes through (src/json/jparse.c), against cJSON's own parser.
 * Properties: no crash, leak or undefined behaviour; whatever fwt__json_parse accepts, cJSON accepts
 * too and builds the same tree (types, keys in order, strings, numbers bit for bit). The one
 * exception is a number of 64 characters or more, which cJSON cannot read (it copies numbers into a
 * 64-byte buffer) and fwt__json_parse reads correctly. The parser may refuse more than cJSON (numbers
 * outside the JSON grammar, bad \u escapes, NUL bytes); both refusing is fine.
 * The printer every request body goes through (fwt__json_print, jwrite.c) is checked on the same trees: its
 * text parses, with either parser, back to the tree it printed (numbers bit for bit), unless the tree holds a
 * number too large for a double (printed as null, as cJSON prints it).
 */
#include "fuzz.h"

#include "batch_cjson.h"
#include "json/json.h"
#include "fwt_util.h"

#include <math.h>

/* A run of 63 or more characters cJSON would copy into its number buffer. */
static int has_long_number(const uint8_t *d, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        int numch = (d[i] >= '0' && d[i] <= '9') || d[i] == '+' || d[i] == '-' || d[i] == 'e' || d[i] == 'E' ||
                    d[i] == '.';
        run = numch ? run + 1 : 0;
        if (run >= 63)
            return 1;
    }
    return 0;
}

static int all_finite(const cJSON *it)
{
    for (; it; it = it->next)
        if ((cJSON_IsNumber(it) && !isfinite(it->valuedouble)) || !all_finite(it->child))
            return 0;
    return 1;
}

/* fwt__json_print's text of `tree` reads back as `tree` with both parsers. */
static void check_printer(const cJSON *tree)
{
    char *text = fwt__json_print(tree);
    FUZZ_CHECK(text != NULL);
    if (all_finite(tree)) {
        cJSON *again = fwt__json_parse(text, strlen(text)), *ref = cJSON_Parse(text);
        FUZZ_CHECK(again && fwt_test_cjson_same(tree, again));
        FUZZ_CHECK(ref && fwt_test_cjson_same(tree, ref));
        cJSON_Delete(again);
        cJSON_Delete(ref);
    }
    fwt__free_mem(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *mine = fwt__json_parse((const char *)data, size);
    if (!mine)
        return 0;
    char *copy = fuzz_cstr(data, size);
    const char *end = NULL;
    cJSON *ref = cJSON_ParseWithLengthOpts(copy, size + 1, &end, 1);
    free(copy);
    if (ref)
        FUZZ_CHECK(fwt_test_cjson_same(mine, ref));
    else
        FUZZ_CHECK(has_long_number(data, size));
    check_printer(mine);
    cJSON_Delete(ref);
    cJSON_Delete(mine);
    return 0;
}
