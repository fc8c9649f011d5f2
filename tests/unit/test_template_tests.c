/* Chat templates: Jinja2 tests (`is ...`) and the behaviour of Undefined (jinja2's default
 * Undefined: prints empty, is falsy, iterates as empty; attribute access, calls and
 * arithmetic on it raise UndefinedError). */
#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "cmlx/lm_template.h"
#include "test.h"
#include "test_template.h"


static void expect_raise(const char *tpl, const char *ctx, const char *type, const char *msg, int line) {
    lm_template *t = lm_template_compile(tpl, strlen(tpl));
    char *got = t ? lm_template_render(t, ctx, NULL) : NULL;
    CHECK_MSG(!got && !strcmp(lm_template_error_type(), type) && strstr(mx_last_error(), msg),
              "line %d: %s: want %s containing [%s], got %s [%s]", line, tpl, type, msg, got ? got : "(null)", mx_last_error());
    free(got);
    lm_template_free(t);
}
#define RAISES(tpl, ctx, type, msg) expect_raise(tpl, ctx, type, msg, __LINE__)

int main(void) {
    /* type tests */
    EXPECT("{{ x is defined }}{{ x is undefined }}{{ x is not defined }}", NULL, "FalseTrueTrue");
    EXPECT("{{ none is none }}{{ 1 is number }}{{ 1.0 is float }}{{ 1 is integer }}{{ true is integer }}{{ true is number }}",
           NULL, "TrueTrueTrueTrueFalseTrue");
    EXPECT("{{ true is boolean }}{{ 'a' is string }}{{ {} is mapping }}{{ [] is iterable }}{{ 'a' is sequence }}{{ 1 is iterable }}",
           NULL, "TrueTrueTrueTrueTrueFalse");
    EXPECT("{{ [] is mapping }}{{ {} is sequence }}{{ none is string }}", NULL, "FalseTrueFalse");
    EXPECT("{{ false is false }}{{ 0 is false }}{{ true is true }}{{ 1 is true }}", NULL, "TrueFalseTrueFalse");
    EXPECT("{{ 3 is odd }}{{ 4 is even }}{{ 9 is divisibleby 3 }}{{ 9 is divisibleby(4) }}", NULL, "TrueTrueTrueFalse");
    EXPECT("{{ 1 is in [1, 2] }}{{ 2 is eq 2 }}{{ 2 is ne 2 }}{{ 1 is lt 2 }}{{ 1 is gt 2 }}{{ 2 is ge 2 }}{{ 2 is le 1 }}{{ 'a' is equalto 'a' }}",
           NULL, "TrueTrueFalseTrueFalseTrueFalseTrue");
    EXPECT("{{ none is sameas none }}{{ range is callable }}{{ 'a' is callable }}", NULL, "TrueTrueFalse");
    EXPECT("{{ 'abc' is lower }}{{ 'ABC' is upper }}{{ 'aB' is lower }}{{ 'upper' is filter }}{{ 'odd' is test }}{{ 'nope' is filter }}",
           NULL, "TrueTrueFalseTrueTrueFalse");
    EXPECT("{% if m.tool_calls is defined and m.tool_calls is not none %}y{% else %}n{% endif %}", "{\"m\": {\"tool_calls\": null}}", "n");
    EXPECT("{{ t.type is string and t.type is not mapping }}", "{\"t\": {\"type\": [\"a\"]}}", "False");
    /* Undefined */
    EXPECT("[{{ x }}][{{ d.missing }}][{{ [][0] }}][{{ x|string }}][{{ x ~ 'a' }}]", "{\"d\": {}}", "[][][][][a]");
    EXPECT("{% for a in x %}{{ a }}{% endfor %}ok{{ x|length }}{{ x|list }}", NULL, "ok0[]");
    EXPECT("{% if x %}t{% else %}f{% endif %}{{ x == x }}{{ x == none }}{{ 'a' in x }}{{ x is none }}", NULL, "fTrueFalseFalseFalse");
    EXPECT("{{ x|default('dflt') }}{{ (x.y is defined) if x is defined else 'guarded' }}", NULL, "dfltguarded");
    EXPECT("{{ none.x }}|", NULL, "|");
    RAISES("{{ x.y }}", NULL, "UndefinedError", "'x' is undefined");
    RAISES("{{ d.missing.deeper }}", "{\"d\": {}}", "UndefinedError", "'dict object' has no attribute 'missing'");
    RAISES("{{ m[0].role }}", "{\"m\": []}", "UndefinedError", "list object has no element 0");
    RAISES("{{ x + 1 }}", NULL, "UndefinedError", "'x' is undefined");
    RAISES("{{ x() }}", NULL, "UndefinedError", "'x' is undefined");
    RAISES("{{ c.startswith('a') }}", "{\"c\": [1]}", "UndefinedError", "'list object' has no attribute 'startswith'");
    RAISES("{{ x|tojson }}", NULL, "TypeError", "Object of type Undefined is not JSON serializable");
    RAISES("{{ x < 1 }}", NULL, "UndefinedError", "'x' is undefined");
    return test_finish();
}
