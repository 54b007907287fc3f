#!/usr/bin/env python3
"""Lists functions longer than a limit (default 80 lines) in Rust files: STYLE.md's rule of
thumb, checked in CI by `make lint`. A function may stay longer when a comment on the line
before its `fn` says `long-fn:` and why."""
import re
import sys
from pathlib import Path

LIMIT = int(sys.argv[1]) if len(sys.argv) > 1 else 80
FN = re.compile(r'^\s*(pub(\([^)]*\))?\s+)?(async\s+)?(const\s+)?(unsafe\s+)?fn\s+(\w+)')


def body_end(lines, start):
    depth, seen = 0, False
    for i in range(start, len(lines)):
        code = re.sub(r'"(\\.|[^"\\])*"', '""', lines[i].split('//')[0])
        depth += code.count('{') - code.count('}')
        seen = seen or '{' in code
        if seen and depth <= 0:
            return i
        if not seen and code.rstrip().endswith(';'):
            return None
    return None


bad = []
for path in sorted(Path('src').rglob('*.rs')):
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        m = FN.match(line)
        if not m:
            continue
        end = body_end(lines, i)
        if end is None:
            continue
        n = end - i + 1
        excused = i > 0 and 'long-fn:' in lines[i - 1]
        if n > LIMIT and not excused:
            bad.append(f'{path}:{i + 1}: fn {m.group(6)} is {n} lines')
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
