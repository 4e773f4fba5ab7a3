'use strict';
// Interop test of cri/stream/ws against a real WebSocket client: npm's `ws`
// (the version package.json pins) drives ws-echo-server as kubectl or a
// client library would drive berthd's exec endpoint. Also two raw-socket
// cases for what `ws` cannot send. Prints TAP; exits non-zero on a failure.
// Each case starts its own server and waits for it to exit; a hang guard
// kills it (by its pid) if a case never ends.

const assert = require('assert');
const crypto = require('crypto');
const net = require('net');
const path = require('path');
const { spawn } = require('child_process');

const WebSocket = require(path.join(process.env.WS_NODE_MODULES, 'ws'));
const SERVER = process.env.WS_ECHO_SERVER;
const HANG_GUARD_MS = 90 * 1000;

const children = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

// Start ws-echo-server; resolves once it printed its port.
function startServer() {
  return new Promise((resolve, reject) => {
    const child = spawn(SERVER, [], { stdio: ['ignore', 'pipe', 'pipe'] });
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
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve({ port: Number(out.slice(0, nl)), exited, log: () => err });
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`server exited (${code}) before printing its port: ${err}`)));
  });
}

// Decode a server message as the channel protocol says.
function channelMessage(data, base64) {
  const buf = Buffer.from(data);
  if (base64) {
    return { channel: buf[0] - 0x30, data: Buffer.from(buf.subarray(1).toString('latin1'), 'base64') };
  }
  return { channel: buf[0], data: buf.subarray(1) };
}

// One exec session: connect, run script(ws) once open, collect everything
// until the connection closes and the server exits.
async function exec({ protocols, query, base64 = false, script }) {
  const srv = await startServer();
  const url = `ws://127.0.0.1:${srv.port}/exec/t0ken?${query}`;
  const ws = protocols === undefined ? new WebSocket(url) : new WebSocket(url, protocols);
  const got = { messages: [], pings: [], pongs: [], binaryFlags: [] };
  ws.on('ping', (d) => got.pings.push(d.toString()));
  ws.on('pong', (d) => got.pongs.push(d.toString()));
  ws.on('message', (data, isBinary) => {
    got.binaryFlags.push(isBinary);
    got.messages.push(channelMessage(data, base64));
  });
  const closed = new Promise((resolve, reject) => {
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    ws.on('error', reject);
  });
  closed.catch(() => {});   // an error before 'open' is reported by the promise below
  await new Promise((resolve, reject) => {
    ws.on('open', () => {
      got.protocol = ws.protocol;
      script(ws, got);
      resolve();
    });
    ws.on('error', reject);
  });
  got.close = await closed;
  got.rc = await srv.exited;
  got.log = srv.log();
  got.stream = (ch) => Buffer.concat(got.messages.filter((m) => m.channel === ch).map((m) => m.data));
  got.chunks = (ch) => got.messages.filter((m) => m.channel === ch).map((m) => m.data.length);
  return got;
}

const withChannel = (ch, data) => Buffer.concat([Buffer.from([ch]), Buffer.from(data)]);
const b64 = (ch, data) => String.fromCharCode(0x30 + ch) + Buffer.from(data).toString('base64');

// Raw TCP: send bytes, gather everything until the server closes.
async function raw(request) {
  const srv = await startServer();
  const sock = net.connect(srv.port, '127.0.0.1');
  const chunks = [];
  const ended = new Promise((resolve, reject) => {
    sock.on('data', (d) => chunks.push(d));
    sock.on('end', () => {
      sock.end();
      resolve();
    });
    sock.on('error', reject);
  });
  sock.on('connect', () => sock.write(request));
  await ended;
  return { reply: Buffer.concat(chunks), rc: await srv.exited, log: srv.log() };
}

// Unmasked server frames of at most 125 bytes each.
function smallFrames(buf) {
  const frames = [];
  for (let i = 0; i < buf.length;) {
    const len = buf[i + 1] & 0x7f;
    assert.ok(len <= 125 && !(buf[i + 1] & 0x80), `unexpected frame header at ${i}`);
    frames.push({ fin: !!(buf[i] & 0x80), opcode: buf[i] & 0x0f, payload: buf.subarray(i + 2, i + 2 + len) });
    i += 2 + len;
  }
  return frames;
}

const cases = [
  ['binary v4: small, fragmented and 200 KiB stdin echoed, Success status, server closes', async () => {
    const small = Buffer.from('hello\n');
    const frag1 = crypto.randomBytes(1000);
    const frag2 = crypto.randomBytes(3000);
    const big = crypto.randomBytes(200 * 1024);
    const total = small.length + frag1.length + frag2.length + big.length;
    const r = await exec({
      protocols: ['v4.channel.k8s.io'],
      query: `bytes=${total}&exit=0`,
      script: (ws) => {
        ws.send(withChannel(0, small));
        // One message in two frames: FIN clear, then a continuation.
        ws.send(withChannel(0, frag1), { fin: false });
        ws.send(frag2, { fin: true });
        ws.send(withChannel(0, big));
      },
    });
    assert.strictEqual(r.rc, 0, r.log);
    assert.strictEqual(r.protocol, 'v4.channel.k8s.io');
    // kubelet's "streams ready" message comes first: an empty stdout write.
    assert.deepStrictEqual(r.messages[0], { channel: 1, data: Buffer.alloc(0) });
    assert.ok(r.binaryFlags.every((b) => b), 'a binary protocol sent text');
    assert.deepStrictEqual(r.chunks(1), [0, 6, 4000, 200 * 1024], 'the fragments came back as one message');
    assert.ok(r.stream(1).equals(Buffer.concat([small, frag1, frag2, big])), 'stdout differs from stdin');
    assert.deepStrictEqual(JSON.parse(r.stream(3).toString()), { metadata: {}, status: 'Success' });
    assert.deepStrictEqual(r.pings, ['srv-ping']);
    assert.deepStrictEqual(r.close, { code: 1000, reason: 'command done' });
  }],

  ['base64 v4 by the client\'s order: resize on stderr, exit code 3 as NonZeroExitCode', async () => {
    const data = crypto.randomBytes(70 * 1024);   // over 64 KiB, not UTF-8: base64 carries it
    const r = await exec({
      protocols: ['v4.base64.channel.k8s.io', 'v4.channel.k8s.io'],
      query: `bytes=${data.length + 3}&exit=3`,
      base64: true,
      script: (ws) => {
        ws.send(b64(4, '{"Width":80,"Height":24}'));
        ws.send(b64(0, 'ab\n'));
        ws.send(b64(0, data));
      },
    });
    assert.strictEqual(r.rc, 0, r.log);
    assert.strictEqual(r.protocol, 'v4.base64.channel.k8s.io');
    assert.ok(r.binaryFlags.every((b) => !b), 'a base64 protocol sent binary');
    assert.strictEqual(r.stream(2).toString(), '80x24\n');
    assert.ok(r.stream(1).equals(Buffer.concat([Buffer.from('ab\n'), data])), 'stdout differs from stdin');
    const status = JSON.parse(r.stream(3).toString());
    assert.strictEqual(status.status, 'Failure');
    assert.strictEqual(status.reason, 'NonZeroExitCode');
    assert.deepStrictEqual(status.details, { causes: [{ reason: 'ExitCode', message: '3' }] });
    assert.match(status.message, /^command terminated with non-zero exit code: /);
    assert.strictEqual(r.close.code, 1000);
  }],

  ['v5: two resizes in one message, CLOSE signal on stdin ends the command', async () => {
    const r = await exec({
      protocols: ['v5.channel.k8s.io', 'v4.channel.k8s.io'],
      query: 'exit=0',
      script: (ws) => {
        ws.send(withChannel(4, '{"Width":1,"Height":2}\n{"height":4,"width":3}\n'));
        ws.send(withChannel(0, 'abc'));
        ws.send(Buffer.from([255, 0]));
      },
    });
    assert.strictEqual(r.rc, 0, r.log);
    assert.strictEqual(r.protocol, 'v5.channel.k8s.io');
    assert.strictEqual(r.stream(2).toString(), '1x2\n3x4\n');
    assert.strictEqual(r.stream(1).toString(), 'abc');
    assert.deepStrictEqual(JSON.parse(r.stream(3).toString()), { metadata: {}, status: 'Success' });
    assert.strictEqual(r.close.code, 1000);
  }],

  ['ping from the client gets its pong; the client closes, the server echoes the close', async () => {
    const r = await exec({
      protocols: ['v4.channel.k8s.io'],
      query: 'exit=0',   // never ends by itself
      script: (ws) => {
        ws.once('pong', () => ws.close(4000, 'bye'));
        ws.ping('cli-ping');
      },
    });
    assert.strictEqual(r.rc, 0, r.log);
    assert.deepStrictEqual(r.pongs, ['cli-ping']);
    assert.strictEqual(r.close.code, 4000, 'the server echoes the client\'s code');
    assert.strictEqual(r.stream(3).length, 0, 'no status: the command did not end');
    assert.match(r.log, /client closed with 4000 bye/);
  }],

  ['no subprotocol: the legacy binary protocol, no status on success', async () => {
    const r = await exec({
      protocols: undefined,
      query: 'bytes=5&exit=0',
      script: (ws) => ws.send(withChannel(0, 'hello')),
    });
    assert.strictEqual(r.rc, 0, r.log);
    assert.strictEqual(r.protocol, '');
    assert.strictEqual(r.stream(1).toString(), 'hello');
    assert.strictEqual(r.messages.filter((m) => m.channel === 3).length, 0);
    assert.strictEqual(r.close.code, 1000);
  }],

  ['no common subprotocol: 403 listing the supported ones', async () => {
    const srv = await startServer();
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/exec/t`, ['v9.channel.k8s.io']);
    ws.on('error', () => {});
    const res = await new Promise((resolve, reject) => {
      ws.on('unexpected-response', (req, resp) => {
        let body = '';
        resp.on('data', (d) => { body += d; });
        resp.on('end', () => resolve({ status: resp.statusCode, body }));
      });
      ws.on('open', () => reject(new Error('the upgrade succeeded')));
    });
    assert.strictEqual(res.status, 403);
    assert.match(res.body, /requested protocol\(s\) are not supported: \[v9\.channel\.k8s\.io\]; supports \[v5\.channel\.k8s\.io v4\.channel\.k8s\.io v4\.base64\.channel\.k8s\.io\]/);
    assert.strictEqual(await srv.exited, 3);
  }],

  ['raw: an unmasked frame right behind the head fails the connection with 1002', async () => {
    const key = crypto.randomBytes(16).toString('base64');
    const head = 'GET /exec/t HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n`;
    const r = await raw(Buffer.concat([Buffer.from(head), Buffer.from([0x82, 0x02, 0x00, 0x41])]));
    assert.strictEqual(r.rc, 2, r.log);
    const end = r.reply.indexOf('\r\n\r\n');
    const responseHead = r.reply.subarray(0, end).toString();
    const accept = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    assert.match(responseHead, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
    assert.ok(responseHead.includes(`\r\nSec-WebSocket-Accept: ${accept}`), responseHead);
    const frames = smallFrames(r.reply.subarray(end + 4));
    assert.deepStrictEqual(frames.map((f) => f.opcode), [0x2, 0x9, 0x8]);   // ready, ping, close
    const close = frames[2].payload;
    assert.strictEqual(close.readUInt16BE(0), 1002);
    assert.match(close.subarray(2).toString(), /client frame not masked/);
    assert.match(r.log, /websocket frame 1: client frame not masked/);
  }],

  ['raw: a request head over the cap gets 431', async () => {
    const r = await raw(`GET /exec/t HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(40000)}\r\n\r\n`);
    assert.strictEqual(r.rc, 3, r.log);
    assert.match(r.reply.toString(), /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n[^]*\r\n\r\nHTTP request head: longer than 32768 bytes\n$/);
  }],
];

function guard(promise) {
  let timer;
  const hang = new Promise((_, reject) => {
    timer = setTimeout(() => {
      for (const c of children) c.kill('SIGKILL');
      reject(new Error(`no end after ${HANG_GUARD_MS / 1000}s (hang guard)`));
    }, HANG_GUARD_MS);
  });
  return Promise.race([promise, hang]).finally(() => clearTimeout(timer));
}

(async () => {
  console.log(`# ws ${require(path.join(process.env.WS_NODE_MODULES, 'ws', 'package.json')).version}, node ${process.version}`);
  console.log(`1..${cases.length}`);
  let failed = 0;
  for (const [i, [name, fn]] of cases.entries()) {
    try {
      await guard(fn());
      console.log(`ok ${i + 1} - ${name}`);
    } catch (e) {
      failed++;
      for (const c of children) c.kill('SIGKILL');
      console.log(`not ok ${i + 1} - ${name}`);
      console.log(`# ${String(e && e.stack ? e.stack : e).replace(/\n/g, '\n# ')}`);
    }
  }
  console.log(`# ${cases.length - failed} of ${cases.length} cases passed`);
  process.exit(failed ? 1 : 0);
})();
