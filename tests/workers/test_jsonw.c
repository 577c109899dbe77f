/* The record writer: output parses back to exactly what was written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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

/* Writes the single string p[0..n) and returns the output between the
   quotes, NUL-terminated (static buffer). Fails if the output is not
   exactly one JSON string that jansson reads back. */
static const char *str_out(const char *p, size_t n)
{
    static char out[256];
    jw w = {0};
    jw_reset(&w, 0);
    jw_str(&w, p, n);
    assert_false(w.oom);
    assert_true(w.len >= 2 && w.len - 2 < sizeof(out));
    assert_int_equal(w.buf[0], '"');
    assert_int_equal(w.buf[w.len - 1], '"');
    json_error_t e;
    json_t *v = json_loadb(w.buf, w.len, JSON_DECODE_ANY, &e);
    if (!v)
        fail_msg("not JSON (%s): %.*s", e.text, (int)w.len, w.buf);
    assert_true(json_is_string(v));
    json_decref(v);
    memcpy(out, w.buf + 1, w.len - 2);
    out[w.len - 2] = '\0';
    free(w.buf);
    return out;
}

/* Every control character, alone between two letters, is escaped exactly
   as RFC 8259 asks: the short forms where JSON has one, else \u00xx. DEL
   (0x7f) is not a control character to JSON and stays as it is. */
static void control_characters_pinned(void **state)
{
    static const char *const want[0x20] = {
        NULL, /* NUL makes the string non-text: see invalid_utf8_pinned */
        "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006",
        "\\u0007", "\\b", "\\t", "\\n", "\\u000b", "\\f", "\\r", "\\u000e",
        "\\u000f", "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014",
        "\\u0015", "\\u0016", "\\u0017", "\\u0018", "\\u0019", "\\u001a",
        "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f"};
    for (int c = 1; c < 0x20; c++) {
        char in[3] = {'a', (char)c, 'b'}, exp[16];
        snprintf(exp, sizeof(exp), "a%sb", want[c]);
        const char *got = str_out(in, 3);
        if (strcmp(got, exp) != 0)
            fail_msg("0x%02x: wrote \"%s\", want \"%s\"", c, got, exp);
    }
    assert_string_equal(str_out("\x1f", 1), "\\u001f");
    assert_string_equal(str_out("a\x7f" "b", 3), "a\x7f" "b");
    assert_string_equal(str_out("\x7f\x1f\x7f", 3), "\x7f\\u001f\x7f");
    assert_string_equal(str_out("\"\\/", 3), "\\\"\\\\/");
}

/* A string that is not UTF-8 text is still written as valid JSON: NUL and
   every byte >= 0x80 become '?', one '?' per byte (valid sequences in the
   same string included: the string is not text as a whole), and control
   characters are escaped as usual. Output is then plain ASCII. */
static void invalid_utf8_pinned(void **state)
{
    static const struct {
        const char *in;
        size_t n;
        const char *want;
    } cases[] = {
        {"\xff", 1, "?"},
        {"a\x80z", 3, "a?z"},              /* lone continuation byte */
        {"\xc0\xaf", 2, "??"},             /* overlong '/' */
        {"\xed\xa0\x80", 3, "???"},        /* UTF-16 surrogate */
        {"\xf4\x90\x80\x80", 4, "????"},   /* past U+10FFFF */
        {"ok\xe2\x82", 4, "ok??"},         /* cut at the end */
        {"\xe2\x82\xac\xff", 4, "????"},   /* euro sign, then a bad byte */
        {"a\0b", 3, "a?b"},                /* NUL */
        {"\x1f\xfe\x7f", 3, "\\u001f?\x7f"},
        {"\"\xff\\", 3, "\\\"?\\\\"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = str_out(cases[i].in, cases[i].n);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu: wrote \"%s\", want \"%s\"", i, got,
                     cases[i].want);
    }
    /* valid UTF-8 stays as it is */
    assert_string_equal(str_out("\xe2\x82\xac\xf0\x9f\x98\x80", 7),
                        "\xe2\x82\xac\xf0\x9f\x98\x80");
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

/* jw_str scans 8 bytes at a time for a byte to escape: one such byte at
   any position of strings up to 24 bytes (in the first word, the second,
   the tail past the last whole word) is escaped or replaced all the same,
   and the bytes a string keeps as they are (space, '/', DEL) stay. */
static void every_position_of_the_scan(void **state)
{
    static const struct {
        char c;
        const char *out;
    } cases[] = {{'"', "\\\""}, {'\\', "\\\\"}, {'\x1f', "\\u001f"},
                 {'\n', "\\n"},  {'\x80', "?"},   {' ', " "},
                 {'/', "/"},     {'\x7f', "\x7f"}, {'~', "~"}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (size_t n = 1; n <= 24; n++)
            for (size_t i = 0; i < n; i++) {
                char in[24], want[64];
                memset(in, 'a', n);
                in[i] = cases[k].c;
                snprintf(want, sizeof want, "%.*s%s%.*s", (int)i, in,
                         cases[k].out, (int)(n - i - 1), in + i + 1);
                const char *got = str_out(in, n);
                if (strcmp(got, want) != 0)
                    fail_msg("byte 0x%02x at %zu of %zu: \"%s\", want \"%s\"",
                             (unsigned char)cases[k].c, i, n, got, want);
            }
}

/* Numbers at the edges of their digit counts, and of int64_t. */
static void numbers_pinned(void **state)
{
    static const struct {
        int64_t v;
        const char *out;
    } ints[] = {{0, "0"},       {9, "9"},           {10, "10"},
                {-1, "-1"},     {9999, "9999"},     {10000, "10000"},
                {-10000, "-10000"}, {123456789, "123456789"},
                {INT64_MAX, "9223372036854775807"},
                {INT64_MIN, "-9223372036854775808"}};
    static const struct {
        uint64_t us;
        const char *out;
    } secs[] = {{0, "0.000000"},          {5, "0.000005"},
                {999999, "0.999999"},     {1000000, "1.000000"},
                {12345678, "12.345678"},  {100000000000, "100000.000000"},
                {UINT64_MAX, "18446744073709.551615"}};
    jw w = {0};

    (void)state;
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        jw_reset(&w, 0);
        jw_int(&w, ints[i].v);
        assert_false(w.oom);
        if (w.len != strlen(ints[i].out) ||
            memcmp(w.buf, ints[i].out, w.len) != 0)
            fail_msg("jw_int: \"%.*s\", want \"%s\"", (int)w.len, w.buf,
                     ints[i].out);
    }
    for (size_t i = 0; i < sizeof secs / sizeof secs[0]; i++) {
        jw_reset(&w, 0);
        jw_secs(&w, secs[i].us);
        assert_false(w.oom);
        if (w.len != strlen(secs[i].out) ||
            memcmp(w.buf, secs[i].out, w.len) != 0)
            fail_msg("jw_secs: \"%.*s\", want \"%s\"", (int)w.len, w.buf,
                     secs[i].out);
    }
    free(w.buf);
}

/* The binary form (jsonw.h), byte for byte: tags, lengths and numbers in
   the machine's order, no separators; a time past 2^53 us and jw_json's
   value as their JSON text; bytes that are not UTF-8 as the text writer
   replaces them. */
static void binary_form_pinned(void **state)
{
    jw w = {.bin = 1};
    int64_t i = -42;
    uint64_t us = 5, big = JWB_SECS_MAX;
    uint32_t n;
    unsigned char want[128], *o = want;
#define PUT(p, len) (memcpy(o, (p), (len)), o += (len))
#define TAG(t) (*o++ = (t))

    (void)state;
    jw_reset(&w, 0);
    assert_int_equal(w.bin, 1); /* kept by jw_reset */
    jw_open(&w);
    JW_KEY(&w, "a");
    jw_int(&w, i);
    jw_key(&w, "t");
    jw_open(&w);
    jw_key(&w, "x");
    jw_secs(&w, us);
    jw_key(&w, "y");
    jw_secs(&w, big);
    jw_close(&w);
    jw_key(&w, "s");
    jw_str(&w, "h\xff", 2);
    jw_key(&w, "n");
    jw_cstr(&w, NULL);
    jw_key(&w, "b");
    jw_bool(&w, 0);
    json_t *arr = json_pack("[i,s]", 7, "x");
    jw_key(&w, "j");
    jw_json(&w, arr);
    json_decref(arr);
    jw_close(&w);
    assert_false(w.oom);

    TAG(JWB_OBJ);
    TAG(JWB_KEY), TAG(1), TAG('a'), TAG(JWB_INT), PUT(&i, 8);
    TAG(JWB_KEY), TAG(1), TAG('t'), TAG(JWB_OBJ);
    TAG(JWB_KEY), TAG(1), TAG('x'), TAG(JWB_SECS), PUT(&us, 8);
    n = (uint32_t)strlen("9007199254.740992");
    TAG(JWB_KEY), TAG(1), TAG('y'), TAG(JWB_JSON), PUT(&n, 4);
    PUT("9007199254.740992", n);
    TAG(JWB_END);
    n = 2;
    TAG(JWB_KEY), TAG(1), TAG('s'), TAG(JWB_STR), PUT(&n, 4), PUT("h?", 2);
    TAG(JWB_KEY), TAG(1), TAG('n'), TAG(JWB_NULL);
    TAG(JWB_KEY), TAG(1), TAG('b'), TAG(JWB_FALSE);
    n = 7;
    TAG(JWB_KEY), TAG(1), TAG('j'), TAG(JWB_JSON), PUT(&n, 4);
    PUT("[7,\"x\"]", 7);
    TAG(JWB_END);
#undef PUT
#undef TAG
    assert_int_equal(w.len, (size_t)(o - want));
    assert_memory_equal(w.buf, want, w.len);

    /* the text writer's replacement of the same bytes */
    jw t = {0};
    jw_reset(&t, 0);
    jw_str(&t, "h\xff", 2);
    assert_int_equal(t.len, 4);
    assert_memory_equal(t.buf, "\"h?\"", 4);
    free(t.buf);
    free(w.buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(members_nesting_and_types),
        cmocka_unit_test(strings_escape_and_replace),
        cmocka_unit_test(control_characters_pinned),
        cmocka_unit_test(invalid_utf8_pinned),
        cmocka_unit_test(text_check),
        cmocka_unit_test(every_position_of_the_scan),
        cmocka_unit_test(numbers_pinned),
        cmocka_unit_test(binary_form_pinned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
