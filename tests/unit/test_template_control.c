/* Chat templates: for loops (loop variable, else, filters, unpacking, break/continue,
 * recursion), macros (defaults, varargs, kwargs, caller, recursion), set / block set /
 * namespace / with, and scoping. */
#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "cmlx/lm_template.h"
#include "test.h"
#include "test_template.h"


int main(void) {
    /* loops */
    EXPECT("{% for i in [1, 2, 3] %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/"
           "{{ loop.first }}/{{ loop.last }}/{{ loop.length }};{% endfor %}",
           NULL, "1/0/3/2/True/False/3;2/1/2/1/False/False/3;3/2/1/0/False/True/3;");
    EXPECT("{% for i in [1, 2, 3] %}{{ loop.previtem|default('-') }}{{ loop.nextitem|default('-') }} {% endfor %}", NULL, "-2 13 2- ");
    EXPECT("{% for i in range(4) %}{{ loop.cycle('a', 'b') }}{% endfor %}", NULL, "abab");
    EXPECT("{% for i in [] %}x{% else %}empty{% endfor %}|{% for i in [1] %}x{% else %}empty{% endfor %}", NULL, "empty|x");
    EXPECT("{% for i in range(10) if i is odd %}{{ i }}{{ ',' if not loop.last }}{% endfor %}", NULL, "1,3,5,7,9");
    EXPECT("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}", NULL, "a=1;b=2;");
    EXPECT("{% for k in {'a': 1, 'b': 2} %}{{ k }}{% endfor %}{% for c in 'ab' %}{{ c }}.{% endfor %}", NULL, "aba.b.");
    EXPECT("{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }} {% endfor %}", NULL, "3 7 ");
    EXPECT("{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}",
           NULL, "0134");
    EXPECT("{% for a in [1, 2] %}{% for b in [1] %}{{ loop.index }}{% endfor %}{{ loop.index }}{% endfor %}", NULL, "1112");
    EXPECT("{% for i in [1, 1, 2, 2, 1] %}{% if loop.changed(i) %}{{ i }}{% endif %}{% endfor %}", NULL, "121");
    EXPECT("{% for x in t recursive %}{{ x.n }}{{ loop.depth }}{% if x.c %}[{{ loop(x.c) }}]{% endif %}{% endfor %}",
           "{\"t\": [{\"n\": \"a\", \"c\": [{\"n\": \"b\", \"c\": []}]}, {\"n\": \"c\"}]}", "a1[b2]c1");
    EXPECT("{% for m in messages[::-1] %}{{ m }}{% endfor %}", "{\"messages\": [1, 2, 3]}", "321");
    EXPECT("{% for i in range(3) %}{% for j in range(i) %}{{ j }}{% endfor %};{% endfor %}", NULL, ";0;01;");
    EXPECT("{{ range(2, 10, 3)|list }} {{ range(5, 0, -2)|list }} {{ range(0)|list }}", NULL, "[2, 5, 8] [5, 3, 1] []");
    /* scoping: loop bodies do not leak, if blocks do */
    EXPECT("{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{{ x }}{% endfor %}{{ x }}", NULL, "21");
    EXPECT("{% if true %}{% set y = 3 %}{% endif %}{{ y }}", NULL, "3");
    /* each iteration starts from the enclosing values (Jinja re-enters the loop frame) */
    EXPECT("{% set x = 0 %}{% for i in [1, 2] %}{{ x }}{% set x = i %}{{ x }}{% endfor %}{{ x }}", NULL, "01020");
    EXPECT("{% for i in [1, 2] %}{{ y is defined }}{% set y = i %}{% endfor %}", NULL, "FalseFalse");
    /* a macro defined in an iteration keeps its scope alive */
    EXPECT("{% set ns = namespace(m=none) %}{% for i in [7] %}{% set k = i %}{% macro m() %}{{ k }}{% endmacro %}{% set ns.m = m %}{% endfor %}{{ ns.m() }}",
           NULL, "7");
    EXPECT("{% for i in [1] %}{% set inner = 1 %}{% endfor %}{{ inner is defined }}", NULL, "False");
    /* namespace */
    EXPECT("{% set ns = namespace(x=1, found=false) %}{% for i in [1, 2] %}{% set ns.x = ns.x + i %}{% set ns.found = true %}{% endfor %}{{ ns.x }}{{ ns.found }}",
           NULL, "4True");
    EXPECT("{% set ns = namespace({'a': 5}) %}{{ ns.a }}{{ ns['a'] }}", NULL, "55");
    /* set forms */
    EXPECT("{% set a, b = 1, 2 %}{{ b }}{{ a }}{% set c = 1, 2 %}{{ c }}", NULL, "21(1, 2)");
    EXPECT("{% set x %}A{{ 1 }}{% endset %}{{ x }}|{{ x|length }}", NULL, "A1|2");
    EXPECT("{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{{ a is defined }}", NULL, "3False");
    EXPECT("{% set d = dict(a=1, b=2) %}{{ d }} {{ dict([('x', 1)]) }}", NULL, "{'a': 1, 'b': 2} {'x': 1}");
    /* macros */
    EXPECT("{% macro g(name, greeting='Hi') %}{{ greeting }} {{ name }}{% endmacro %}{{ g('A') }}|{{ g('B', 'Yo') }}|{{ g(greeting='Hey', name='C') }}",
           NULL, "Hi A|Yo B|Hey C");
    EXPECT("{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(3) }}", NULL, "321");
    EXPECT("{% macro m() %}{{ varargs|join(',') }}{% endmacro %}{{ m(1, 2) }}", NULL, "1,2");
    EXPECT("{% macro m(a) %}{{ a }}{{ kwargs.b }}{% endmacro %}{{ m(1, b=5) }}", NULL, "15");
    EXPECT("{% macro m(a, b=a * 2) %}{{ b }}{% endmacro %}{{ m(3) }}", NULL, "6");
    EXPECT("{% macro m(a) %}[{{ a }}]{{ a is defined }}{% endmacro %}{{ m() }}", NULL, "[]False");
    EXPECT("{% macro wrap() %}<{{ caller() }}>{% endmacro %}{% call wrap() %}in{% endcall %}", NULL, "<in>");
    EXPECT("{% macro each(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}{% call(v) each([1, 2]) %}({{ v }}){% endcall %}",
           NULL, "(1)(2)");
    EXPECT("{% macro t() %}ab{% endmacro %}{{ t()|length }}{{ t() + 'c' }}{{ t() == 'ab' }}", NULL, "2abcTrue");
    EXPECT("{% set g = 'G' %}{% macro m() %}{{ g }}{{ top }}{% endmacro %}{{ m() }}", "{\"top\": \"T\"}", "GT");
    EXPECT("{% macro m() -%}\n  x\n{%- endmacro %}[{{ m() }}]", NULL, "[x]");
    /* joiner and namespaces in macros */
    EXPECT("{% set j = joiner('|') %}{% for i in [1, 2, 3] %}{{ j() }}{{ i }}{% endfor %}", NULL, "1|2|3");
    /* strftime_now with a real clock yields a 4-digit year */
    EXPECT("{{ strftime_now('%Y')|length }}", NULL, "4");
    return test_finish();
}
