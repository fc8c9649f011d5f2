/* Chat templates: expressions (precedence, arithmetic, comparisons, and/or, conditional,
 * membership, slicing, attribute/item lookup) and how values print (Python str/repr). */
#include <stdlib.h>
#include <string.h>

#include "cmlx/error.h"
#include "cmlx/lm_template.h"
#include "test.h"
#include "test_template.h"


int main(void) {
    /* arithmetic with Python semantics */
    EXPECT("{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }}", NULL, "7 9");
    EXPECT("{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }}", NULL, "3 -4 2 -2");
    EXPECT("{{ 7 / 2 }} {{ 4 / 2 }} {{ 2 ** 10 }} {{ 2 ** 3 ** 2 }} {{ 2 ** -1 }}", NULL, "3.5 2.0 1024 64 0.5");
    EXPECT("{{ 7.5 // 2 }} {{ 1 + true }} {{ -3|abs }} {{ -(2) }}", NULL, "3.0 2 3 -2");
    EXPECT("{{ 'ab' * 2 }}{{ [0] * 2 }}{{ [1, 2] + [3] }}", NULL, "abab[0, 0][1, 2, 3]");
    EXPECT("{{ 'a' ~ 1 ~ none ~ true }}", NULL, "a1NoneTrue");
    EXPECT("{{ 'a' + 'b' }}", NULL, "ab");
    /* logic returns operands */
    EXPECT("{{ none or 'b' }} {{ 0 and 1 }} {{ [] or {} }} {{ 'x' and 'y' }}", NULL, "b 0 {} y");
    EXPECT("{{ not 1 == 2 }} {{ not none }} {{ not 'a' }}", NULL, "True True False");
    EXPECT("{{ 'x' if 0 else 'y' }}[{{ 1 if false }}]{{ 'a' if true else 'b' if true else 'c' }}", NULL, "y[]a");
    /* comparisons, chained */
    EXPECT("{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 != 1 }}", NULL,
           "True False True True True False");
    EXPECT("{{ 'b' in 'abc' }} {{ 2 not in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 3 in [1, 2] }}", NULL, "True False True False");
    /* tests bind tighter than and/or and not */
    EXPECT("{{ x is defined and x }} {{ not x is defined }}", NULL, "False True");
    /* slicing, negative steps, code points */
    EXPECT("{{ 'hello'[::-1] }} {{ [1, 2, 3, 4][1:3] }} {{ [1, 2, 3, 4][::-2] }} {{ 'abc'[-1] }} {{ [1, 2, 3][-2:] }}", NULL,
           "olleh [2, 3] [4, 2] c [2, 3]");
    EXPECT("{{ 'h\xc3\xa9llo'[1] }} {{ 'h\xc3\xa9llo'|length }} {{ 'h\xc3\xa9llo'[1:3] }} {{ 'h\xc3\xa9llo'[::-1] }}", NULL,
           "\xc3\xa9 5 \xc3\xa9l oll\xc3\xa9h");
    EXPECT("{{ [1, 2, 3][5:] }} {{ 'abc'[10:] }}|{{ [1, 2, 3][1:-1] }}", NULL, "[] |[2]");
    /* attribute vs item */
    const char *d = "{\"d\": {\"a\": 1, \"items\": 5, \"get\": 7}}";
    EXPECT("{{ d.a }}{{ d['a'] }}{{ d['items'] }}{{ d.get('a') }}{{ d.get('zz', 9) }}", d, "11519");
    EXPECT("{{ d.items()|list }}", d, "[('a', 1), ('items', 5), ('get', 7)]");
    EXPECT("{{ d.keys()|list }} {{ d.values()|list }}", d, "['a', 'items', 'get'] [1, 5, 7]");
    EXPECT("{{ [10, 20].1 }}", NULL, "20");
    /* printing values the way Python does */
    EXPECT("{{ v }}", "{\"v\": [1, 2.5, \"s\", null, true, {\"k\": \"v\"}]}", "[1, 2.5, 's', None, True, {'k': 'v'}]");
    EXPECT("{{ true }}{{ none }}{{ false }}", NULL, "TrueNoneFalse");
    EXPECT("{{ (1, 2) }} {{ (1,) }} {{ () }}", NULL, "(1, 2) (1,) ()");
    EXPECT("{{ {'a': \"it's\"} }} {{ ['a\"b'] }}", NULL, "{'a': \"it's\"} ['a\"b']");
    EXPECT("{{ [\"a'b\\\"c\"] }}", NULL, "['a\\'b\"c']");
    EXPECT("{{ ['a\\nb', '\\t'] }}", NULL, "['a\\nb', '\\t']");
    EXPECT("{{ ['\xc3\xa9'] }}", NULL, "['\xc3\xa9']");
    EXPECT("{{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1e15 }} {{ 1.5e-5 }} {{ 0.0001 }} {{ 1/3 }} {{ -0.0 }}", NULL,
           "1.0 0.30000000000000004 1e+16 1000000000000000.0 1.5e-05 0.0001 0.3333333333333333 -0.0");
    EXPECT("{{ 100000000000000000000.0 }} {{ 123456789.0 }} {{ 1e300 * 1e300 }} {{ 2.5e-300 }}", NULL,
           "1e+20 123456789.0 inf 2.5e-300");
    EXPECT("{{ x }}", "{\"x\": 3.0}", "3.0");
    EXPECT("{{ x }}", "{\"x\": -12345678901234}", "-12345678901234");
    /* string methods */
    EXPECT("{{ 'a,b,,c'.split(',') }} {{ '  a  b '.split() }} {{ 'a b c'.split(' ', 1) }} {{ 'a b c'.rsplit(' ', 1) }}",
           NULL, "['a', 'b', '', 'c'] ['a', 'b'] ['a', 'b c'] ['a b', 'c']");
    EXPECT("[{{ '  x '.strip() }}][{{ 'xxhixx'.strip('x') }}][{{ '\\n\\nx\\n'.lstrip('\\n') }}][{{ 'x  '.rstrip() }}]", NULL,
           "[x][hi][x\n][x]");
    EXPECT("{{ 'abc'.startswith('ab') }} {{ 'abc'.endswith(('x', 'c')) }} {{ 'abc'.startswith('b', 1) }}", NULL,
           "True True True");
    EXPECT("{{ 'Hello'.upper() }} {{ 'Hello'.lower() }} {{ 'hello world'.title() }} {{ 'hELLO'.capitalize() }}", NULL,
           "HELLO hello Hello World Hello");
    EXPECT("{{ 'aaa'.replace('a', 'b', 2) }} {{ 'h\xc3\xa9llo'.find('l') }} {{ 'abc'.find('z') }} {{ 'banana'.count('an') }}",
           NULL, "bba 2 -1 2");
    EXPECT("{{ '-'.join(['a', 'b']) }} {{ 'a\\nb\\r\\nc'.splitlines() }}", NULL, "a-b ['a', 'b', 'c']");
    EXPECT("{{ '{} and {}'.format(1, 'x') }} {{ '{0}{0}'.format('a') }} {{ '{n}!'.format(n=3) }} {{ '{:>4}|{:<3}|{:.2f}'.format('a', 'b', 3.14159) }}",
           NULL, "1 and x aa 3!    a|b  |3.14");
    EXPECT("{{ '123'.isdigit() }} {{ 'ab'.isalpha() }} {{ '  '.isspace() }} {{ 'x'.removeprefix('x') }}|", NULL,
           "True True True |");
    EXPECT("{{ [1, 2, 1].count(1) }} {{ [1, 2].index(2) }}", NULL, "2 1");
    return test_finish();
}
