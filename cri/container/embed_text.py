#!/usr/bin/env python3
# embed_text.py IN OUT SYMBOL: OUT defines `const char SYMBOL[]` in
# berth::cri holding IN's text, so berthd needs no installed data file.
import sys

src, out, sym = sys.argv[1:4]
text = open(src, encoding='utf-8').read()
delim = 'BERTH_EMBED'
assert ')' + delim + '"' not in text
with open(out, 'w', encoding='utf-8') as f:
    f.write('// Generated from %s by embed_text.py.\n' % src.split('/')[-1])
    f.write('namespace berth::cri {\nextern const char %s[];\n' % sym)
    f.write('const char %s[] = R"%s(%s)%s";\n}\n' % (sym, delim, text, delim))
