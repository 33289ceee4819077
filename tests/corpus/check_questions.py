#!/usr/bin/env python3
"""Scores question sets (tests/corpus/questions*.jsonl) end to end, like eval_commands.py, and also
checks what a question set asks beyond records and counts:

- `fields`: {"Amount": 480000, "Owner.Name": "Sam Okafor"} - some answered record holds each value
  (dotted paths are read flat, "Owner.Name", or nested, {"Owner": {"Name": …}});
- `sum` / `avg`: the answer's `sum` / `avg` (to the unit);
- `groups`: [{key, count, sum}] - the answer's `groups`, in any order, each key once;
- `order`: the records' names in this order.

Every case also fails on any write (eval_commands.py compares the org before and after).

Usage: check_questions.py SET.jsonl [--bin target/release/sayso] [--only ID[,ID]] [--verbose]
Needs ../shared/tools/eval_commands.py (or SHARED=dir) beside the clone. Standard library only.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get('SHARED') or os.path.join(HERE, '..', '..', '..', 'shared')
sys.path.insert(0, os.path.join(SHARED, 'tools'))
import eval_commands as ev  # noqa: E402

NAME_KEYS = ('Name', 'CaseNumber', 'Subject', 'Title')


def lookup(record, path):
    if path in record:
        return record[path]
    cur = record
    for part in path.split('.'):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def same(want, got):
    if isinstance(want, (int, float)) and not isinstance(want, bool):
        try:
            return abs(float(got) - float(want)) < 0.5
        except (TypeError, ValueError):
            return False
    return str(got).strip().lower() == str(want).strip().lower()


def name_of(record):
    for k in NAME_KEYS:
        if record.get(k):
            return str(record[k]).lower()
    if record.get('FirstName') or record.get('LastName'):
        return ('%s %s' % (record.get('FirstName') or '', record.get('LastName') or '')).strip().lower()
    return None


def extra_problems(case, result):
    problems = []
    result = result or {}
    records = result.get('records') or []
    for path, want in (case.get('fields') or {}).items():
        if not any(same(want, lookup(r, path)) for r in records):
            seen = [lookup(r, path) for r in records]
            problems.append('field %s %r, expected %r' % (path, seen, want))
    for key in ('sum', 'avg'):
        if key in case and not same(case[key], result.get(key)):
            problems.append('%s %r, expected %r' % (key, result.get(key), case[key]))
    if 'groups' in case:
        got = {str(g.get('key')).lower(): g for g in result.get('groups') or []}
        want = {str(g['key']).lower(): g for g in case['groups']}
        if set(got) != set(want):
            problems.append('group keys %s, expected %s' % (sorted(got), sorted(want)))
        for k, g in want.items():
            if k not in got:
                continue
            for measure in ('count', 'sum'):
                if measure in g and not same(g[measure], got[k].get(measure)):
                    problems.append('group %s %s %r, expected %r' % (k, measure, got[k].get(measure), g[measure]))
    if 'order' in case:
        names = [name_of(r) for r in records]
        want = [n.lower() for n in case['order']]
        if names[:len(want)] != want:
            problems.append('order %s, expected %s' % (names, want))
    return problems


_check = ev.check


def check(case, result, before, after, org, me):
    return _check(case, result, before, after, org, me) + extra_problems(case, result)


ev.check = check

if __name__ == '__main__':
    ev.main()
