#!/usr/bin/env python3
"""Fails when a command wrote something other than what was meant.

Reads a corpus (JSON Lines) and the output of ../shared/tools/eval_commands.py for it, and exits 1
when any case wrote what it should not have:
  - the org changed in a way the case does not expect ("unexpected ..." in the scorer's reason), or
  - the agent said `applied` where the case expects another status, or
  - the case expects `applied`, the agent said `applied`, and the effect differs (a value, a record or
    a person dropped, or written wrong).
A case that fails safely (wrote nothing, another status) is a miss, not a wrong write.

Usage: wrong_writes.py CORPUS.jsonl EVAL_OUTPUT.txt
"""
import json
import re
import sys


def main(corpus_path, output_path):
    expected = {}
    with open(corpus_path, encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith('#'):
                case = json.loads(line)
                expected[case['id']] = case['status']
    wrong = []
    with open(output_path, encoding='utf-8') as f:
        for line in f:
            m = re.match(r"FAIL (\S+) (?:'.*?'|\".*?\"): (.*)$", line.rstrip('\n'))
            if not m:
                continue
            case_id, reason = m.group(1), m.group(2)
            status_mismatch = reason.startswith('status ')
            if ('unexpected' in reason
                    or reason.startswith('status applied,')
                    or (expected.get(case_id) == 'applied' and not status_mismatch)):
                wrong.append(line.rstrip('\n'))
    for w in wrong:
        print('WRONG WRITE ' + w)
    print('%d wrong writes in %s' % (len(wrong), corpus_path))
    return 1 if wrong else 0


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
