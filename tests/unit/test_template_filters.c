/* Chat templates: filters (jinja2/filters.py semantics, tojson as transformers defines it). */
#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "cmlx/lm_template.h"
#include "test.h"
#include "test_template.h"


int main(void) {
    const char *users = "{\"users\": [{\"n\": \"b\", \"age\": 3}, {\"n\": \"A\", \"age\": 1}, {\"n\": \"c\", \"age\": 2}],"
                        " \"msgs\": [{\"role\": \"user\"}, {\"role\": \"system\"}, {\"role\": \"user\"}]}";
    /* strings */
    EXPECT("{{ 'hello world'|title }} {{ \"they're x-y\"|title }} {{ 'hELLO'|capitalize }}", NULL, "Hello World They're X-Y Hello");
    EXPECT("[{{ '  x  '|trim }}][{{ 'xxaxx'|trim('x') }}] {{ 'abc'|upper }} {{ 'ABC'|lower }}", NULL, "[x][a] ABC abc");
    EXPECT("{{ 'a b'|replace(' ', '_') }} {{ 'aaa'|replace('a', 'b', 1) }}", NULL, "a_b baa");
    EXPECT("{{ 'hello big world'|wordcount }} [{{ 'ab'|center(6) }}] [{{ 'a'|center(4) }}]", NULL, "3 [  ab  ] [ a  ]");
    EXPECT("{{ '<a href=\"x\">&\\'</a>'|e }}", NULL, "&lt;a href=&#34;x&#34;&gt;&amp;&#39;&lt;/a&gt;");
    EXPECT("{{ 'a\\nb\\n\\nc'|indent(2) }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(2, blank=true) }}", NULL,
           "a\n  b\n\n  c|  a\n  b|a\n  \n  b");
    EXPECT("{{ 'a\\nb'|indent('> ') }}|{{ 'a\\n'|indent }}|{{ 'a\\n'|indent(blank=true) }}", NULL, "a\n> b|a\n|a\n    ");
    EXPECT("{{ 'hello world foo'|truncate(9) }}|{{ 'hello world foo'|truncate(9, true, '..', 0) }}", NULL, "hello...|hello w..");
    EXPECT("{{ 'abcdefghijklmnopqrstuvwxyz'|truncate(10) }}", NULL, "abcdefg...");
    EXPECT("{{ '%s-%d'|format('x', 3) }} {{ '%05.1f'|format(2.25) }}", NULL, "x-3 002.2");
    EXPECT("{{ 1|string ~ 2 }} {{ 'x'|safe }} {{ none|string }}", NULL, "12 x None");
    /* numbers */
    EXPECT("{{ '42'|int + 1 }} {{ '4.7'|int }} {{ 'x'|int }} {{ 'x'|int(7) }} {{ 3.9|int }} {{ ' 12 '|int }} {{ 'ff'|int(base=16) }}",
           NULL, "43 4 0 7 3 12 255");
    EXPECT("{{ '3.5'|float }} {{ 2|float }} {{ 'x'|float }}", NULL, "3.5 2.0 0.0");
    EXPECT("{{ 2.5|round }} {{ 3.5|round }} {{ 3.14159|round(2) }} {{ 2.1|round(method='ceil') }} {{ 2.9|round(0, 'floor') }} {{ 7|round }}",
           NULL, "2.0 4.0 3.14 3.0 2.0 7");
    EXPECT("{{ -3|abs }} {{ -2.5|abs }}", NULL, "3 2.5");
    /* sequences */
    EXPECT("{{ [1, 2, 3]|join('-') }} {{ [1, 2]|join }} {{ users|join(', ', attribute='n') }}", users, "1-2-3 12 b, A, c");
    EXPECT("{{ x|default('d') }} [{{ ''|default('d') }}] {{ ''|default('d', true) }} {{ none|d('n') }} {{ 0|d(5, boolean=true) }}",
           NULL, "d [] d None 5");
    EXPECT("{{ [3, 1, 2]|sort }} {{ [3, 1, 2]|sort(reverse=true) }} {{ ['b', 'a', 'C']|sort }} {{ ['b', 'a', 'C']|sort(case_sensitive=true) }}",
           NULL, "[1, 2, 3] [3, 2, 1] ['a', 'b', 'C'] ['C', 'a', 'b']");
    EXPECT("{{ users|sort(attribute='n')|map(attribute='n')|join }} {{ users|sort(attribute='age', reverse=true)|map(attribute='age')|list }}",
           users, "Abc [3, 2, 1]");
    EXPECT("{{ [1, 2, 2, 'a', 'A']|unique|list }} {{ ['a', 'A']|unique(case_sensitive=true)|list }}", NULL, "[1, 2, 'a'] ['a', 'A']");
    EXPECT("{{ [1, 2, 3, 4]|select('odd')|list }} {{ [1, 2, 3, 4]|reject('odd')|list }} {{ [0, 1, '', 2]|select|list }}", NULL,
           "[1, 3] [2, 4] [1, 2]");
    EXPECT("{{ [1, 5, 9]|select('gt', 4)|list }} {{ [1, 5, 9]|select('divisibleby', 3)|list }}", NULL, "[5, 9] [9]");
    EXPECT("{{ msgs|selectattr('role', 'equalto', 'user')|list|length }} {{ msgs|rejectattr('role', 'eq', 'user')|map(attribute='role')|first }}",
           users, "2 system");
    EXPECT("{{ users|selectattr('age', 'gt', 1)|map(attribute='n')|join }} {{ users|selectattr('missing')|list }}", users, "bc []");
    EXPECT("{{ ['a', 'b']|map('upper')|join }} {{ msgs|map(attribute='role')|unique|list }} {{ users|map(attribute='x', default='-')|join }}",
           users, "AB ['user', 'system'] ---");
    EXPECT("{{ ['1', '2']|map('int')|sum }} {{ [[1], [2]]|map('first')|list }}", NULL, "3 [1, 2]");
    EXPECT("{{ {'b': 1, 'a': 2}|dictsort }} {{ {'b': 1, 'a': 2}|dictsort(by='value') }} {{ {'a': 1}|items|list }}", NULL,
           "[('a', 2), ('b', 1)] [('b', 1), ('a', 2)] [('a', 1)]");
    EXPECT("{{ [1, 2, 3]|first }} {{ [1, 2, 3]|last }} [{{ []|first }}] {{ 'abc'|first }} {{ {'k': 1}|first }}", NULL, "1 3 [] a k");
    EXPECT("{{ 'abc'|reverse }} {{ [1, 2]|reverse|list }} {{ 'abc'|list }}", NULL, "cba [2, 1] ['a', 'b', 'c']");
    EXPECT("{{ [1, 2, 3]|sum }} {{ users|sum(attribute='age') }} {{ [3, 1]|min }}{{ [3, 1]|max }} {{ users|max(attribute='age')|attr('n') }}",
           users, "6 6 13 ");
    EXPECT("{{ users|min(attribute='age') }}", users, "{'n': 'A', 'age': 1}");
    EXPECT("{{ [1, 2]|length }}{{ 'abc'|count }}{{ {'a': 1}|length }}{{ x|length }}", NULL, "2310");
    EXPECT("{{ [1, 2, 3, 4, 5]|batch(2)|list }} {{ [1, 2, 3]|batch(2, 0)|list }}", NULL, "[[1, 2], [3, 4], [5]] [[1, 2], [3, 0]]");
    EXPECT("{{ [1, 2, 3, 4, 5]|slice(2)|list }}", NULL, "[[1, 2, 3], [4, 5]]");
    EXPECT("{% for k, g in users|groupby('age') %}{{ k }}:{{ g|length }} {% endfor %}", users, "1:1 2:1 3:1 ");
    /* tojson: json.dumps(ensure_ascii=False) with Python's separators */
    EXPECT("{{ {'a': [1, 2.0, none, true, '\xc3\xa9\"\\n'], 'b': {}}|tojson }}", NULL,
           "{\"a\": [1, 2.0, null, true, \"\xc3\xa9\\\"\\n\"], \"b\": {}}");
    EXPECT("{{ {'a': 1, 'b': [1]}|tojson(indent=2) }}", NULL, "{\n  \"a\": 1,\n  \"b\": [\n    1\n  ]\n}");
    EXPECT("{{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }} {{ '\xc3\xa9'|tojson(ensure_ascii=true) }} {{ [1, 2]|tojson(separators=(',', ':')) }}",
           NULL, "{\"a\": 2, \"b\": 1} \"\\u00e9\" [1,2]");
    EXPECT("{{ '<b>&'|tojson }} {{ 'x'|tojson }} {{ 1.5|tojson }} {{ {1: 2}|tojson }}", NULL, "\"<b>&\" \"x\" 1.5 {\"1\": 2}");
    EXPECT("{{ t|tojson }}", "{\"t\": {\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": {\"properties\": {}}}}}",
           "{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": {\"properties\": {}}}}");
    EXPECT("{{ '\\x01'|tojson }}", NULL, "\"\\u0001\"");
    /* filter blocks and block set with a filter */
    EXPECT("{% filter upper %}ab{% endfilter %} {% set x | trim %}  y  {% endset %}[{{ x }}]", NULL, "AB [y]");
    return test_finish();
}
