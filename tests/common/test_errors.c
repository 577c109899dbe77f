/* mp_strerror / mp_err_name cover every code of the table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "mpool.h"

static void every_code_has_a_message_and_name(void **state)
{
    int n = 0;
#define XX(name, value, msg)                                           \
    assert_int_equal(MP_##name, value);                                \
    assert_true(MP_##name < 0);                                        \
    assert_string_equal(mp_strerror(MP_##name), msg);                  \
    assert_string_equal(mp_err_name(MP_##name), "MP_" #name);          \
    n++;
    MP_ERRNO_MAP(XX)
#undef XX
    assert_true(n >= 20);
}

static void codes_are_distinct_and_errno_based(void **state)
{
    int codes[] = {
#define XX(name, value, msg) value,
        MP_ERRNO_MAP(XX)
#undef XX
    };
    size_t n = sizeof(codes) / sizeof(codes[0]);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            assert_int_not_equal(codes[i], codes[j]);
    assert_int_equal(MP_ETIMEDOUT, -ETIMEDOUT);
    assert_int_equal(MP_ECANCELED, -ECANCELED);
    assert_int_equal(MP_EINVAL, -EINVAL);
}

static void unknown_codes(void **state)
{
    assert_string_equal(mp_strerror(0), "success");
    assert_string_equal(mp_err_name(0), "MP_OK");
    assert_string_equal(mp_strerror(12345), "unknown error");
    assert_string_equal(mp_err_name(-99999), "MP_UNKNOWN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_code_has_a_message_and_name),
        cmocka_unit_test(codes_are_distinct_and_errno_based),
        cmocka_unit_test(unknown_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
