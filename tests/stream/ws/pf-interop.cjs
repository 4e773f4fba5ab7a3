'use strict';
// Interop test of port-forward over WebSocket against a real client: npm's
// `ws` speaks v4.channel.k8s.io (and v4.base64, and no subprotocol) to
// pf-ws-server, berthd's StreamServer in front of a TCP echo server, as a
// client of kubelet's /portforward endpoint would. Checks the port prefix
// on both channels of each port, an echoed 1 MiB (the backpressure path),
// two ports at once, a refused connect and a port the request did not name
// on the error channel, the 400s and the 403, and that every forwarded
// connection was closed in the end (pf-ws-server's exit status). TAP.

const assert = require('assert');
const crypto = require('crypto');
const path = require('path');
const { spawn } = require('child_process');

const WebSocket = require(path.join(process.env.WS_NODE_MODULES, 'ws'));
const SERVER = process.env.PF_WS_SERVER;
const HANG_GUARD_MS = 60 * 1000;

const children = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

// Start pf-ws-server; resolves with its base URL and paths once printed.
function startServer(tokens, allowed) {
  return new Promise((resolve, reject) => {
    const child = spawn(SERVER, allowed ? [String(tokens), allowed] : [String(tokens)],
      { stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    let err = '';
    const exited = new Promise((res) =>
      child.on('exit', (code, signal) => {
        children.delete(child);
        res(code === null ? signal : code);
      }));
    child.stderr.on('data', (d) => { err += d; });
    child.stdout.on('data', (d) => {
      out += d;
      const lines = out.split('\n');
      if (lines.length > tokens + 1) {
        const base = lines[0].replace(/^http/, 'ws');
        resolve({ base, paths: lines.slice(1, tokens + 1), exited, log: () => err, stop: () => child.stdin.end() });
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`server exited (${code}) before printing its URLs: ${err}`)));
  });
}

const le16 = (p) => Buffer.from([p & 0xff, p >> 8]);

// One port-forward connection: run script(ws, got) once open; collect every
// message by channel until the connection closes.
async function forward(url, protocols, script) {
  const ws = protocols === undefined ? new WebSocket(url) : new WebSocket(url, protocols);
  const got = { messages: [], binaryFlags: [] };
  const waiters = [];
  got.stream = (ch) => Buffer.concat(got.messages.filter((m) => m.channel === ch).map((m) => m.data));
  got.first = (ch) => (got.messages.find((m) => m.channel === ch) || {}).data;
  // Resolves once channel ch carried n bytes after its 2-byte prefix.
  got.waitFor = (ch, n) => new Promise((resolve) => {
    const check = () => got.stream(ch).length >= n + 2;
    if (check()) resolve();
    else waiters.push({ check, resolve });
  });
  ws.on('message', (data, isBinary) => {
    got.binaryFlags.push(isBinary);
    const buf = Buffer.from(data);
    const m = isBinary
      ? { channel: buf[0], data: buf.subarray(1) }
      : { channel: buf[0] - 0x30, data: Buffer.from(buf.subarray(1).toString('latin1'), 'base64') };
    got.messages.push(m);
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i].check()) waiters.splice(i, 1)[0].resolve();
    }
  });
  const closed = new Promise((resolve, reject) => {
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    ws.on('error', reject);
  });
  closed.catch(() => {});
  await new Promise((resolve, reject) => {
    ws.on('open', resolve);
    ws.on('error', reject);
  });
  got.protocol = ws.protocol;
  const send = (ch, data) => {
    if (ws.protocol.includes('base64')) ws.send(String.fromCharCode(0x30 + ch) + Buffer.from(data).toString('base64'));
    else ws.send(Buffer.concat([Buffer.from([ch]), Buffer.from(data)]));
  };
  await script(ws, got, send);
  got.close = await closed;
  return got;
}

// The refusal of an upgrade: status and body.
function refused(url, protocols) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols);
    ws.on('error', () => {});
    ws.on('unexpected-response', (req, resp) => {
      let body = '';
      resp.on('data', (d) => { body += d; });
      resp.on('end', () => resolve({ status: resp.statusCode, body }));
    });
    ws.on('open', () => reject(new Error('the upgrade succeeded')));
  });
}

let A;   // the request named 8080, 8081 and 9
let B;   // the request named no port
let next = 0;
const urlA = (query) => `${A.base}${A.paths[next++]}${query}`;

const cases = [
  ['v4 binary: the port prefix on both channels, 1 MiB echoed intact, the client closes', async () => {
    const payload = crypto.randomBytes(1 << 20);
    const r = await forward(urlA('?port=8080'), ['v4.channel.k8s.io'], async (ws, got, send) => {
      // All of it at once: the server reads the client only while the pod keeps up.
      for (let at = 0; at < payload.length; at += 32 * 1024) send(0, payload.subarray(at, at + 32 * 1024));
      await got.waitFor(0, payload.length);
      ws.close(1000);
    });
    assert.strictEqual(r.protocol, 'v4.channel.k8s.io');
    assert.ok(r.binaryFlags.every((b) => b), 'a binary protocol sent text');
    assert.deepStrictEqual(r.messages.slice(0, 2), [{ channel: 0, data: le16(8080) }, { channel: 1, data: le16(8080) }]);
    const back = r.stream(0).subarray(2);
    assert.strictEqual(back.length, payload.length);
    assert.ok(back.equals(payload), 'the echo differs: the client\'s data carries no prefix, the pod sees it as sent');
    assert.strictEqual(r.stream(1).length, 2, `the error channel: ${r.stream(1).subarray(2)}`);
    assert.ok(r.messages.every((m) => m.data.length <= 32 * 1024), 'a message over 32 KiB');
    assert.strictEqual(r.close.code, 1000);
  }],

  ['v4 base64: text messages, prefix and data in base64', async () => {
    const payload = crypto.randomBytes(100 * 1024);
    const r = await forward(urlA('?port=8081'), ['v4.base64.channel.k8s.io', 'v4.channel.k8s.io'], async (ws, got, send) => {
      send(0, payload);
      await got.waitFor(0, payload.length);
      ws.close(1000);
    });
    assert.strictEqual(r.protocol, 'v4.base64.channel.k8s.io');
    assert.ok(r.binaryFlags.every((b) => !b), 'a base64 protocol sent binary');
    assert.deepStrictEqual(r.messages.slice(0, 2), [{ channel: 0, data: le16(8081) }, { channel: 1, data: le16(8081) }]);
    assert.ok(r.stream(0).subarray(2).equals(payload), 'the echo differs');
  }],

  ['two ports in one connection: channels 0/1 and 2/3, each its own TCP connection', async () => {
    const r = await forward(urlA('?port=8080&port=8081'), ['v4.channel.k8s.io'], async (ws, got, send) => {
      send(2, 'second');
      send(0, 'first');
      await Promise.all([got.waitFor(0, 5), got.waitFor(2, 6)]);
      ws.close(1000);
    });
    assert.deepStrictEqual(r.messages.slice(0, 4).map((m) => [m.channel, m.data]),
      [[0, le16(8080)], [1, le16(8080)], [2, le16(8081)], [3, le16(8081)]]);
    assert.strictEqual(r.stream(0).subarray(2).toString(), 'first');
    assert.strictEqual(r.stream(2).subarray(2).toString(), 'second');
  }],

  ['a port nothing listens on: the error channel says so, then the server closes (1000)', async () => {
    const r = await forward(urlA('?port=9'), ['v4.channel.k8s.io'], async () => {});
    assert.deepStrictEqual(r.first(1), le16(9));
    assert.strictEqual(r.stream(1).subarray(2).toString(),
      'error forwarding port 9 to pod pod-interop: connect to 127.0.0.1:9: Connection refused');
    assert.strictEqual(r.close.code, 1000);
  }],

  ['a port the request did not name: refused on the error channel', async () => {
    const r = await forward(urlA('?port=7'), ['v4.channel.k8s.io'], async () => {});
    assert.strictEqual(r.stream(1).subarray(2).toString(), 'port 7 was not asked for in the PortForward request');
    assert.strictEqual(r.close.code, 1000);
  }],

  ['no subprotocol: binary; no query: the request\'s own ports', async () => {
    const r = await forward(urlA(''), undefined, async (ws, got, send) => {
      send(0, 'legacy');
      await got.waitFor(0, 6);
      ws.close(1000);
    });
    assert.strictEqual(r.protocol, '');
    // The request named 8080, 8081 and 9: six channels, opened in order.
    assert.deepStrictEqual(r.messages.slice(0, 6).map((m) => [m.channel, m.data]),
      [[0, le16(8080)], [1, le16(8080)], [2, le16(8081)], [3, le16(8081)], [4, le16(9)], [5, le16(9)]]);
    assert.strictEqual(r.stream(0).subarray(2).toString(), 'legacy');
    assert.match(r.stream(5).subarray(2).toString(), /^error forwarding port 9 /);
  }],

  ['bad ports: 400 in kubelet\'s words', async () => {
    let res = await refused(urlA('?port=0'), ['v4.channel.k8s.io']);
    assert.strictEqual(res.status, 400);
    assert.strictEqual(res.body.trim(), 'port "0" must be > 0');
    res = await refused(`${B.base}${B.paths[0]}`, ['v4.channel.k8s.io']);
    assert.strictEqual(res.status, 400);
    assert.strictEqual(res.body.trim(), 'query parameter "port" is required');
  }],

  ['a subprotocol port-forward does not speak: 403', async () => {
    const res = await refused(urlA('?port=8080'), ['v5.channel.k8s.io']);
    assert.strictEqual(res.status, 403);
    assert.match(res.body, /requested protocol\(s\) are not supported: \[v5\.channel\.k8s\.io\]/);
  }],
];

function guard(promise) {
  let timer;
  const hang = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no end after ${HANG_GUARD_MS / 1000}s (hang guard)`)), HANG_GUARD_MS);
  });
  return Promise.race([promise, hang]).finally(() => clearTimeout(timer));
}

(async () => {
  console.log(`# ws ${require(path.join(process.env.WS_NODE_MODULES, 'ws', 'package.json')).version}, node ${process.version}`);
  console.log(`1..${cases.length + 1}`);
  let failed = 0;
  A = await startServer(cases.length + 2, '8080,8081,9');
  B = await startServer(1);
  for (const [i, [name, fn]] of cases.entries()) {
    try {
      await guard(fn());
      console.log(`ok ${i + 1} - ${name}`);
    } catch (e) {
      failed++;
      console.log(`not ok ${i + 1} - ${name}`);
      console.log(`# ${String(e && e.stack ? e.stack : e).replace(/\n/g, '\n# ')}`);
    }
  }
  // Every forwarded TCP connection was closed by the server.
  A.stop();
  B.stop();
  const rc = await guard(Promise.all([A.exited, B.exited])).catch((e) => [String(e)]);
  const name = 'the servers stop cleanly, every forwarded connection closed';
  if (rc[0] === 0 && rc[1] === 0) {
    console.log(`ok ${cases.length + 1} - ${name}`);
  } else {
    failed++;
    console.log(`not ok ${cases.length + 1} - ${name}`);
    console.log(`# exit ${rc}: ${A.log()} ${B.log()}`.replace(/\n/g, '\n# '));
  }
  console.log(`# ${cases.length + 1 - failed} of ${cases.length + 1} passed`);
  process.exit(failed ? 1 : 0);
})();
