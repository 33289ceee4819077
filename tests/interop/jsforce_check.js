#!/usr/bin/env node
// jsforce (npm) against the sandbox served with --tls.
// Environment (set by tests/interop/run.sh): SANDBOX_URL, NODE_EXTRA_CA_CERTS (the sandbox CA),
// SANDBOX_DEMO (demo-org folder, for the JWT key), NODE_PATH (where jsforce is installed).
// OAuth: authorization code + PKCE (the login and consent pages are driven with fetch, as a browser
// would) and JWT bearer signed with the demo key. Prints one 'ok'/'FAIL' line per check; exit 1 on
// any failure.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const jsforce = require('jsforce');

const URL_ = process.env.SANDBOX_URL;
const DEMO = process.env.SANDBOX_DEMO;
const CLIENT_ID = 'sayso-cli';
const REDIRECT = 'http://localhost:1717/OauthRedirect';
const USER = 'dana.reyes@demo.sayso.dev';
const ADMIN = 'admin@demo.sayso.dev';
const PASSWORD = JSON.parse(fs.readFileSync(path.join(DEMO, 'security.json'), 'utf8')).demo_password;
const failed = [];

async function check(name, fn) {
  const t0 = Date.now();
  try {
    const detail = await fn();
    console.log(`ok    jsforce: ${name}${detail ? ' - ' + detail : ''} (${((Date.now() - t0) / 1000).toFixed(2)}s)`);
  } catch (e) {
    failed.push(name);
    console.log(`FAIL  jsforce: ${name}: ${(e && (e.errorCode || e.name)) || 'Error'}: ${String((e && e.message) || e).slice(0, 400)}`);
  }
}

function expect(cond, msg) {
  if (!cond) throw new Error(typeof msg === 'string' ? msg : JSON.stringify(msg));
}

const b64url = (buf) => Buffer.from(buf).toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');

// The browser part of the authorization-code flow: open the authorize URL, log in, approve.
async function browserLogin(authzUrl, username) {
  let res = await fetch(authzUrl, { redirect: 'manual' });
  let cookie = (res.headers.get('set-cookie') || '').split(';')[0];
  for (let step = 0; step < 4; step++) {
    if (res.status >= 300 && res.status < 400) {
      const loc = res.headers.get('location');
      const u = new URL(loc, URL_);
      if (u.searchParams.get('error')) throw new Error(`authorize error ${u.searchParams.get('error')}: ${u.searchParams.get('error_description')}`);
      if (u.searchParams.get('code')) return u.searchParams.get('code');
      res = await fetch(u, { redirect: 'manual', headers: cookie ? { cookie } : {} });
      continue;
    }
    const html = await res.text();
    const rid = (html.match(/name="request" value="([^"]+)"/) || [])[1];
    expect(rid, `no pending request in page (status ${res.status}): ${html.slice(0, 200)}`);
    const form = new URLSearchParams({ request: rid });
    if (/name="password"/.test(html)) {
      form.set('action', 'login');
      form.set('username', username);
      form.set('password', PASSWORD);
    } else {
      form.set('action', 'approve');
    }
    res = await fetch(new URL('/services/oauth2/authorize', URL_), {
      method: 'POST', redirect: 'manual', body: form,
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
    });
    const set = res.headers.get('set-cookie');
    if (set) cookie = set.split(';')[0];
  }
  throw new Error('no authorization code after 4 pages');
}

function jwtAssertion(username) {
  const key = fs.readFileSync(path.join(DEMO, 'keys', 'demo-jwt.key'), 'utf8');
  const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
  const claims = b64url(JSON.stringify({ iss: CLIENT_ID, sub: username, aud: URL_, exp: Math.floor(Date.now() / 1000) + 180 }));
  const sig = crypto.createSign('RSA-SHA256').update(`${header}.${claims}`).sign(key);
  return `${header}.${claims}.${b64url(sig)}`;
}

async function jwtConnection(username) {
  const refreshFn = (conn, callback) => {
    conn.oauth2.requestToken({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: jwtAssertion(username) })
      .then((res) => callback(null, res.access_token, res), callback);
  };
  const conn = new jsforce.Connection({ oauth2: { loginUrl: URL_, clientId: CLIENT_ID }, loginUrl: URL_, refreshFn, version: '63.0' });
  await conn.authorize({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: jwtAssertion(username) });
  return conn;
}

(async () => {
  const st = {};

  await check('OAuth authorization code + PKCE', async () => {
    const oauth2 = new jsforce.OAuth2({ loginUrl: URL_, clientId: CLIENT_ID, redirectUri: REDIRECT, useVerifier: true });
    const authz = oauth2.getAuthorizationUrl({ scope: 'api refresh_token', state: 'interop-state' });
    expect(/code_challenge=/.test(authz), `no PKCE challenge in ${authz}`);
    const code = await browserLogin(authz, USER);
    const conn = new jsforce.Connection({ oauth2, version: '63.0' });
    const info = await conn.authorize(code);
    expect(conn.instanceUrl === URL_, `instanceUrl ${conn.instanceUrl}`);
    expect(conn.refreshToken && conn.accessToken, 'no refresh/access token');
    expect(info.organizationId && info.id, info);
    st.dana = conn;
    const me = await conn.identity();
    expect(me.username === USER, me);
    return `user ${info.id}, refresh token issued`;
  });

  await check('OAuth JWT bearer (demo key)', async () => {
    st.admin = await jwtConnection(ADMIN);
    expect(st.admin.instanceUrl === URL_, st.admin.instanceUrl);
    const me = await st.admin.identity();
    expect(me.username === ADMIN, me);
    return ADMIN;
  });

  const conn = st.admin;
  if (!conn) { console.log('FAIL  jsforce: no connection, remaining checks skipped'); process.exit(1); }

  await check('query (autoFetch, scanAll) and record count', async () => {
    const res = await conn.query('SELECT Id, Name, StageName FROM Opportunity ORDER BY Name');
    expect(res.done && res.totalSize === res.records.length && res.totalSize > 20, { total: res.totalSize });
    const n = await conn.sobject('Opportunity').count();
    expect(n === res.totalSize, `count() ${n}`);
    const scan = await conn.query('SELECT Id FROM Opportunity').scanAll(true).run({ autoFetch: true, maxFetch: 10000 });
    expect(scan.totalSize >= res.totalSize, scan.totalSize);
    st.opps = res.records;
    return `${res.totalSize} opportunities`;
  });

  await check('single-record CRUD', async () => {
    const acc = conn.sobject('Account');
    const r = await acc.create({ Name: 'Interop JS Account', Industry: 'Technology' });
    expect(r.success && r.id.startsWith('001'), r);
    const u = await acc.update({ Id: r.id, Industry: 'Energy' });
    expect(u.success, u);
    const got = await acc.retrieve(r.id);
    expect(got.Industry === 'Energy' && got.Name === 'Interop JS Account', got);
    const d = await acc.destroy(r.id);
    expect(d.success, d);
    let err;
    try { await acc.retrieve(r.id); } catch (e) { err = e; }
    expect(err && ['ENTITY_IS_DELETED', 'NOT_FOUND'].includes(err.errorCode), `retrieve after delete: ${err && err.errorCode}`);
    return `${r.id}, then ${err.errorCode}`;
  });

  await check('sObject Collections (450 Tasks, allowRecursive, allOrNone)', async () => {
    const task = conn.sobject('Task');
    const rows = Array.from({ length: 450 }, (_, i) => ({ Subject: `Interop task ${i}`, Status: 'Not Started', Priority: 'Normal' }));
    const created = await task.create(rows, { allowRecursive: true });
    expect(created.length === 450 && created.every((r) => r.success), created.find((r) => !r.success));
    const ids = created.map((r) => r.id);
    const upd = await task.update(ids.map((Id) => ({ Id, Priority: 'High' })), { allowRecursive: true });
    expect(upd.every((r) => r.success), upd.find((r) => !r.success));
    const got = await task.retrieve(ids.slice(0, 150));
    expect(got.length === 150 && got.every((t) => t.Priority === 'High'), 'retrieve after update');
    // allOrNone: one bad row rolls the whole batch back.
    let rolled;
    try {
      rolled = await task.update([{ Id: ids[0], Subject: 'should not stick' }, { Id: ids[1], Subject: 'x'.repeat(300) }], { allOrNone: true });
    } catch (e) { rolled = e; }
    expect(Array.isArray(rolled) && rolled.every((r) => !r.success), rolled);
    const first = await task.retrieve(ids[0]);
    expect(first.Subject === 'Interop task 0', `allOrNone did not roll back: ${first.Subject}`);
    const del = await task.destroy(ids, { allowRecursive: true });
    expect(del.length === 450 && del.every((r) => r.success), del.find((r) => !r.success));
    const left = await conn.query("SELECT COUNT() FROM Task WHERE Subject LIKE 'Interop task %'");
    expect(left.totalSize === 0, left.totalSize);
    return `450 created/updated/deleted in chunks of 200; allOrNone rolled back (${rolled[1].errors[0].statusCode})`;
  });

  await check('Bulk 2.0 update (loadAndWaitForResults)', async () => {
    const opps = st.opps.slice(0, 10);
    const input = opps.map((o) => ({ Id: o.Id, Description: 'jsforce bulk2' }));
    input.push({ Id: '006000000000000AAA', Description: 'missing' });
    const res = await conn.bulk2.loadAndWaitForResults({ object: 'Opportunity', operation: 'update', input, pollInterval: 200, pollTimeout: 60000 });
    expect(res.successfulResults.length === 10, `successful ${res.successfulResults.length}`);
    expect(res.failedResults.length === 1 && res.failedResults[0].sf__Error, res.failedResults);
    expect(res.unprocessedRecords.length === 0, res.unprocessedRecords);
    const check = await conn.query("SELECT COUNT() FROM Opportunity WHERE Description = 'jsforce bulk2'");
    expect(check.totalSize === 10, check.totalSize);
    return `10 ok, 1 failed (${res.failedResults[0].sf__Error.slice(0, 50)})`;
  });

  await check('Bulk 2.0 query (bulk2.query, scanAll)', async () => {
    const soql = 'SELECT Id, Name, Account.Name FROM Opportunity ORDER BY Name';
    const collect = async (opts) => {
      const stream = await conn.bulk2.query(soql, { pollInterval: 200, pollTimeout: 60000, ...opts });
      const out = [];
      await new Promise((resolve, reject) => {
        stream.on('record', (r) => out.push(r));
        stream.on('end', resolve);
        stream.on('error', reject);
      });
      return out;
    };
    const rows = await collect({});
    const rest = await conn.query(soql);
    expect(rows.length === rest.totalSize && rows.length > 20, `${rows.length} bulk rows vs ${rest.totalSize} REST rows`);
    rows.forEach((r, i) => {
      const o = rest.records[i];
      const account = (o.Account && o.Account.Name) || '';
      expect(r.Id === o.Id && r.Name === o.Name && (r['Account.Name'] || '') === account, { bulk: r, rest: o });
    });
    const all = await collect({ scanAll: true });
    expect(all.length >= rows.length, `queryAll ${all.length} < query ${rows.length}`);
    return `${rows.length} rows with Account.Name, same as REST; queryAll ${all.length}`;
  });

  await check('limits and Sforce-Limit-Info', async () => {
    const lim = await conn.limits();
    expect(lim.DailyApiRequests && lim.DailyApiRequests.Max > 0, lim.DailyApiRequests);
    const usage = conn.limitInfo && conn.limitInfo.apiUsage;
    expect(usage && usage.used > 0 && usage.limit === lim.DailyApiRequests.Max, conn.limitInfo);
    return `api usage ${usage.used}/${usage.limit}`;
  });

  await check('refresh on 401 (refresh_token grant after revoke)', async () => {
    const c = st.dana;
    expect(c, 'no auth-code connection');
    const before = c.accessToken;
    let refreshed = 0;
    c.on('refresh', () => { refreshed++; });
    await c.oauth2.revokeToken(before);
    const res = await c.query('SELECT Id FROM Opportunity LIMIT 1');
    expect(res.records.length === 1, res);
    expect(refreshed === 1 && c.accessToken !== before, `refreshed ${refreshed} times`);
    return 'revoked access token -> 401 -> refresh_token grant -> retried';
  });

  await check('refresh on 401 (JWT refreshFn after revoke)', async () => {
    const before = conn.accessToken;
    let refreshed = 0;
    conn.on('refresh', () => { refreshed++; });
    await conn.oauth2.revokeToken(before);
    const res = await conn.sobject('Account').find({}, ['Id']).limit(2).execute();
    expect(res.length === 2, res);
    expect(refreshed === 1 && conn.accessToken !== before, `refreshed ${refreshed} times`);
    return 'new JWT assertion after INVALID_SESSION_ID';
  });

  process.exit(failed.length ? 1 : 0);
})().catch((e) => { console.log(`FAIL  jsforce: harness error: ${e && e.stack}`); process.exit(1); });
