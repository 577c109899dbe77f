/* The record writer: output parses back to exactly what was written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "jsonw.h"

static json_t *parse(jw *w, size_t skip)
{
    json_error_t e;
    json_t *v = json_loadb(w->buf + skip, w->len - skip, 0, &e);
    if (!v)
        print_error("bad JSON: %s: %.*s\n", e.text, (int)(w->len - skip),
                    w->buf + skip);
    return v;
}

static void members_nesting_and_types(void **state)
{
    jw w = {0};
    jw_reset(&w, 4); /* room for a header the caller fills in */
    jw_open(&w);
    jw_key(&w, "a");
    jw_int(&w, -42);
    jw_key(&w, "t");
    jw_open(&w);
    jw_key(&w, "x");
    jw_secs(&w, 1234567);
    jw_key(&w, "y");
    jw_secs(&w, 5);
    jw_close(&w);
    jw_key(&w, "n");
    jw_null(&w);
    jw_key(&w, "b");
    jw_bool(&w, 1);
    jw_key(&w, "s");
    jw_cstr(&w, NULL);
    json_t *arr = json_pack("[i,s]", 7, "x");
    jw_key(&w, "j");
    jw_json(&w, arr);
    json_decref(arr);
    jw_close(&w);
    assert_false(w.oom);
    json_t *v = parse(&w, 4);
    assert_non_null(v);
    assert_int_equal(json_integer_value(json_object_get(v, "a")), -42);
    json_t *t = json_object_get(v, "t");
    assert_true(json_real_value(json_object_get(t, "x")) == 1.234567);
    assert_true(json_real_value(json_object_get(t, "y")) == 0.000005);
    assert_true(json_is_null(json_object_get(v, "n")));
    assert_true(json_is_true(json_object_get(v, "b")));
    assert_true(json_is_null(json_object_get(v, "s")));
    assert_int_equal(json_array_size(json_object_get(v, "j")), 2);
    assert_int_equal(json_object_size(v), 6);
    json_decref(v);
    free(w.buf);
}

static void strings_escape_and_replace(void **state)
{
    const char text[] = "q\"b\\s/n\nt\tc\x01 \xc3\xa9";   /* valid UTF-8 */
    const char bad[] = {'a', '\xff', 'b', '\0', 'c', '"'}; /* not text */
    jw w = {0};
    jw_reset(&w, 0);
    jw_open(&w);
    jw_key(&w, "t");
    jw_str(&w, text, sizeof(text) - 1);
    jw_key(&w, "b");
    jw_str(&w, bad, sizeof(bad));
    jw_close(&w);
    json_t *v = parse(&w, 0);
    assert_non_null(v);
    assert_string_equal(json_string_value(json_object_get(v, "t")), text);
    assert_string_equal(json_string_value(json_object_get(v, "b")),
                        "a?b?c\"");
    assert_null(memchr(w.buf, '\n', w.len)); /* one line, always */
    json_decref(v);
    /* the buffer is reused: a reset starts over */
    jw_reset(&w, 0);
    jw_open(&w);
    jw_close(&w);
    assert_int_equal(w.len, 2);
    assert_memory_equal(w.buf, "{}", 2);
    free(w.buf);
}

static void text_check(void **state)
{
    assert_true(jw_is_text("plain", 5));
    assert_true(jw_is_text("\xe2\x82\xac", 3));     /* euro sign */
    assert_false(jw_is_text("\xc0\xaf", 2));        /* overlong */
    assert_false(jw_is_text("\xed\xa0\x80", 3));    /* surrogate */
    assert_false(jw_is_text("a\0b", 3));
    assert_false(jw_is_text("\xe2\x82", 2));        /* truncated */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(members_nesting_and_types),
        cmocka_unit_test(strings_escape_and_replace),
        cmocka_unit_test(text_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
