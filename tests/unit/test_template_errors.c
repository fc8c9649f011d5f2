/* Chat templates: errors. Syntax errors carry line and column; runtime errors carry the
 * Jinja2/Python exception class, a message naming the problem, and the line. The sandbox
 * refuses mutating list/dict methods with SecurityError. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "cmlx/lm_template.h"
#include "test.h"

static void syntax_error(const char *tpl, const char *msg, int line, int src_line) {
    lm_template *t = lm_template_compile(tpl, strlen(tpl));
    char where[64];
    snprintf(where, sizeof where, "(line %d", line);
    const char *type = lm_template_error_type();
    CHECK_MSG(!t && (!strcmp(type, "TemplateSyntaxError") || !strcmp(type, "TemplateAssertionError")) &&
                  strstr(mx_last_error(), msg) && strstr(mx_last_error(), where),
              "line %d: %s: want syntax error [%s] at line %d, got [%s]", src_line, tpl, msg, line,
              t ? "compiled" : mx_last_error());
    lm_template_free(t);
}
#define SYNTAX(tpl, msg, line) syntax_error(tpl, msg, line, __LINE__)

static void expect_raise(const char *tpl, const char *ctx, const char *type, const char *msg, int src_line) {
    lm_template *t = lm_template_compile(tpl, strlen(tpl));
    char *got = t ? lm_template_render(t, ctx, NULL) : NULL;
    CHECK_MSG(t && !got && !strcmp(lm_template_error_type(), type) && strstr(mx_last_error(), msg),
              "line %d: %s: want %s containing [%s], got %s [%s]", src_line, tpl, type, msg, got ? got : "(null)", mx_last_error());
    free(got);
    lm_template_free(t);
}
#define RAISES(tpl, ctx, type, msg) expect_raise(tpl, ctx, type, msg, __LINE__)

int main(void) {
    SYNTAX("a\n{% if %}x{% endif %}", "Expected an expression, got 'end of statement block'", 2);
    SYNTAX("line1\nline2\n{% for x in y %}", "Unexpected end of template. Jinja was looking for the following tags: 'endfor' or 'else'. "
                                            "The innermost block that needs to be closed is 'for'.", 3);
    SYNTAX("{{ 1 + }}", "unexpected 'end of print statement'", 1);
    SYNTAX("{% endif %}", "Encountered unknown tag 'endif'.", 1);
    SYNTAX("{% if a %}{% endfor %}", "Encountered unknown tag 'endfor'. Jinja was looking for the following tags: "
                                     "'elif' or 'else' or 'endif'. The innermost block that needs to be closed is 'if'.", 1);
    SYNTAX("{% for x in y %}\n{% if a %}{% endfor %}", "Encountered unknown tag 'endfor'. You probably made a nesting mistake. "
           "Jinja is expecting this tag, but currently looking for 'elif' or 'else' or 'endif'.", 2);
    SYNTAX("{{ a ]}}", "unexpected ']'", 1);
    SYNTAX("{{ 'abc }}", "unexpected end of string literal", 1);
    SYNTAX("\n\n  {{ a ! b }}", "unexpected char '!'", 3);
    SYNTAX("{% break %}", "'break' outside of a loop", 1);
    SYNTAX("{% macro m(a=1, b) %}{% endmacro %}", "non-default argument follows default argument", 1);
    SYNTAX("{{ 1|nope }}", "No filter named 'nope'.", 1);
    SYNTAX("{{ 1 is nope }}", "No test named 'nope'.", 1);
    SYNTAX("{% set 1 = 2 %}", "can't assign to 'const'", 1);
    SYNTAX("{# never closed", "Missing end of comment tag", 1);
    /* column of the offending token */
    lm_template *t = lm_template_compile("{{ a ]}}", 8);
    CHECK(!t && strstr(mx_last_error(), "column 6"));
    /* runtime errors */
    RAISES("a\nb\n{{ raise_exception('bad thing: ' ~ 3) }}", NULL, "TemplateError", "bad thing: 3 (line 3)");
    RAISES("{{ 1 + 'a' }}", NULL, "TypeError", "unsupported operand type(s) for +: 'int' and 'str'");
    RAISES("{{ 'a' + 1 }}", NULL, "TypeError", "can only concatenate str (not \"int\") to str");
    RAISES("{{ 'a' + m }}", "{\"m\": [1]}", "TypeError", "can only concatenate str (not \"list\") to str");
    RAISES("{% if 'x' in c %}{% endif %}", "{\"c\": null}", "TypeError", "argument of type 'NoneType' is not iterable");
    RAISES("{{ 1 in 'abc' }}", NULL, "TypeError", "'in <string>' requires string as left operand, not int");
    RAISES("{{ 1 / 0 }}", NULL, "ZeroDivisionError", "division by zero");
    RAISES("{{ 1 // 0 }}", NULL, "ZeroDivisionError", "integer division or modulo by zero");
    RAISES("{{ 'a' < 1 }}", NULL, "TypeError", "'<' not supported between instances of 'str' and 'int'");
    RAISES("{% for x in none %}{% endfor %}", NULL, "TypeError", "'NoneType' object is not iterable");
    RAISES("{{ 5|length }}", NULL, "TypeError", "object of type 'int' has no len()");
    RAISES("{{ range(200000)|length }}", NULL, "OverflowError", "Range too big");
    RAISES("{% set a, b = [1] %}", NULL, "ValueError", "not enough values to unpack (expected 2, got 1)");
    RAISES("{% set d = {} %}{% set d.x = 1 %}", NULL, "TemplateRuntimeError", "cannot assign attribute on non-namespace object");
    RAISES("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}", NULL, "TypeError", "macro 'm' takes not more than 1 argument(s)");
    RAISES("{% macro m(a) %}{% endmacro %}{{ m(b=2) }}", NULL, "TypeError", "macro 'm' takes no keyword argument 'b'");
    RAISES("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", NULL, "RecursionError", "maximum recursion depth");
    RAISES("{{ 'x'.split('') }}", NULL, "ValueError", "empty separator");
    RAISES("{{ [1].index(5) }}", NULL, "ValueError", "5 is not in list");
    RAISES("{{ 'a'.join([1]) }}", NULL, "TypeError", "sequence item 0: expected str instance, int found");
    RAISES("{{ loop.cycle() }}", NULL, "UndefinedError", "'loop' is undefined");
    /* the immutable sandbox */
    RAISES("{{ m.append(1) }}", "{\"m\": []}", "SecurityError", "access to attribute 'append' of 'list' object is unsafe.");
    RAISES("{% set _ = m.pop() %}", "{\"m\": [1]}", "SecurityError", "access to attribute 'pop' of 'list' object is unsafe.");
    RAISES("{{ d.update({'a': 1}) }}", "{\"d\": {}}", "SecurityError", "access to attribute 'update' of 'dict' object is unsafe.");
    RAISES("{{ d.setdefault('a', 1) }}", "{\"d\": {}}", "SecurityError", "unsafe");
    RAISES("{{ d.__class__() }}", "{\"d\": {}}", "UndefinedError", "'dict object' has no attribute '__class__'");
    /* a failing render leaves no partial output and can be retried */
    lm_template *ok = lm_template_compile("{{ x.y }}", 9);
    CHECK(ok && lm_template_render(ok, "{}", NULL) == NULL);
    char *r = ok ? lm_template_render(ok, "{\"x\": {\"y\": 2}}", NULL) : NULL;
    CHECK(r && !strcmp(r, "2"));
    free(r);
    lm_template_free(ok);
    /* bad context */
    CHECK(lm_template_render(NULL, "{}", NULL) == NULL);
    lm_template *e = lm_template_compile("x", 1);
    CHECK(e && lm_template_render(e, "[1]", NULL) == NULL && strstr(mx_last_error(), "JSON object"));
    CHECK(e && lm_template_render(e, "{oops", NULL) == NULL && strstr(mx_last_error(), "not JSON"));
    lm_template_free(e);
    return test_finish();
}
