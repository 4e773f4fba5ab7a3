// A Kubernetes streaming client for the e2e tests, on real protocol
// implementations from npm: spdy-transport (SPDY/3.1, as kubectl's and
// crictl's SPDY executor) or ws (WebSocket, as client-go's WebSocket
// executor). It runs one exec or attach against a URL berthd handed out:
//
//   node stream-client.cjs spdy|ws URL [--protocol P[,P...]] [--stdin TEXT]
//        [--stdin-bytes N] [--tty] [--resize WxH] [--no-stdout] [--stderr]
//        [--close-after MS]
//   node stream-client.cjs pf|wspf URL --port N [--send TEXT] [--protocol P]
//        (port-forward over SPDY or WebSocket; see runPf and runWsPf)
//
// and prints, once the server ends the session, JSON on stdout:
//   {"status": <101's status line>, "protocol": ..., "stdout": base64,
//    "stderr": base64, "error": <the error stream's text>, "sha": sha256 of stdout}
// Modules come from NODE_PATH (the e2e script points it at
// tests/stream/*/node_modules); exit 77 when they are missing.
'use strict'

const net = require('net')
const crypto = require('crypto')

const [mode, url, ...rest] = process.argv.slice(2)
const opt = { protocol: null, stdin: null, tty: false, resize: null, stdout: true, stderr: false, closeAfter: 0 }
for (let i = 0; i < rest.length; i++) {
  const a = rest[i]
  if (a === '--protocol') opt.protocol = rest[++i].split(',')
  else if (a === '--stdin') opt.stdin = Buffer.from(rest[++i])
  else if (a === '--stdin-bytes') opt.stdin = bytes(Number(rest[++i]))
  else if (a === '--tty') opt.tty = true
  else if (a === '--resize') opt.resize = rest[++i].split('x').map(Number)
  else if (a === '--no-stdout') opt.stdout = false
  else if (a === '--stderr') opt.stderr = true
  else if (a === '--close-after') opt.closeAfter = Number(rest[++i])
  else if (a === '--port' || a === '--send') i++
  else { console.error(`unknown argument ${a}`); process.exit(2) }
}

// Deterministic bytes, so the test can check what came back.
function bytes (n) {
  const out = Buffer.alloc(n)
  let seed = crypto.createHash('sha256').update('berth').digest()
  for (let at = 0; at < n; at += seed.length) {
    seed.copy(out, at, 0, Math.min(seed.length, n - at))
    seed = crypto.createHash('sha256').update(seed).digest()
  }
  return out
}

function need (name) {
  try {
    return require(name)
  } catch (e) {
    console.log(`SKIP: npm module ${name} not found (NODE_PATH=${process.env.NODE_PATH || ''}): ${e.message}`)
    process.exit(77)
  }
}

const out = { status: '', protocol: '', stdout: [], stderr: [], error: '' }
function finish () {
  const so = Buffer.concat(out.stdout)
  if (finish.done) return
  finish.done = true
  process.stdout.write(JSON.stringify({
    status: out.status,
    protocol: out.protocol,
    stdout: so.toString('base64'),
    stderr: Buffer.concat(out.stderr).toString('base64'),
    error: out.error,
    sha: crypto.createHash('sha256').update(so).digest('hex'),
    length: so.length,
    prefixes: out.prefixes,
    close: out.close
  }) + '\n', () => process.exit(0))
}
setTimeout(() => { console.error('stream-client: no end within 60 s'); process.exit(3) }, 60000)

const u = new URL(url)

function runWs () {
  const WebSocket = need('ws')
  const protocols = opt.protocol || ['v5.channel.k8s.io', 'v4.channel.k8s.io']
  const ws = new WebSocket(url.replace(/^http/, 'ws'), protocols)
  ws.on('upgrade', (res) => { out.status = `HTTP/1.1 ${res.statusCode}` })
  ws.on('unexpected-response', (req, res) => {
    out.status = `HTTP/1.1 ${res.statusCode}`
    let body = ''
    res.on('data', (d) => { body += d })
    res.on('end', () => { out.error = body; finish() })
  })
  ws.on('error', (e) => { if (!out.status) { out.error = e.message; finish() } })
  ws.on('open', () => {
    out.protocol = ws.protocol
    const b64 = ws.protocol.includes('base64')
    const send = (ch, data) => {
      if (b64) ws.send(String.fromCharCode(48 + ch) + Buffer.from(data).toString('base64'))
      else ws.send(Buffer.concat([Buffer.from([ch]), Buffer.from(data)]))
    }
    if (opt.resize) send(4, JSON.stringify({ Width: opt.resize[0], Height: opt.resize[1] }))
    if (opt.stdin) {
      for (let at = 0; at < opt.stdin.length; at += 32768) send(0, opt.stdin.slice(at, at + 32768))
      if (ws.protocol === 'v5.channel.k8s.io') ws.send(Buffer.from([255, 0]))
    }
    if (opt.closeAfter) setTimeout(() => ws.terminate(), opt.closeAfter)
  })
  ws.on('message', (data, isBinary) => {
    let ch, payload
    if (!isBinary) {
      const s = data.toString()
      ch = s.charCodeAt(0) - 48
      payload = Buffer.from(s.slice(1), 'base64')
    } else {
      ch = data[0]
      payload = data.slice(1)
    }
    if (ch === 1) out.stdout.push(payload)
    else if (ch === 2) out.stderr.push(payload)
    else if (ch === 3) out.error += payload.toString()
  })
  ws.on('close', finish)
}

function runSpdy () {
  const transport = need('spdy-transport')
  const protocols = opt.protocol || ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io']
  const socket = net.connect(Number(u.port), u.hostname, () => {
    socket.write(`POST ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n` +
      protocols.map((p) => `X-Stream-Protocol-Version: ${p}\r\n`).join('') + 'Content-Length: 0\r\n\r\n')
  })
  socket.on('error', (e) => { out.error = out.error || e.message; finish() })
  let buf = Buffer.alloc(0)
  function onData (d) {
    buf = Buffer.concat([buf, d])
    const end = buf.indexOf('\r\n\r\n')
    if (end < 0) return
    socket.removeListener('data', onData)
    socket.pause()
    const head = buf.slice(0, end).toString('latin1').split('\r\n')
    out.status = head[0]
    for (const line of head.slice(1)) {
      const i = line.indexOf(':')
      if (line.slice(0, i).trim().toLowerCase() === 'x-stream-protocol-version') out.protocol = line.slice(i + 1).trim()
    }
    const restBytes = buf.slice(end + 4)
    if (!/ 101 /.test(head[0])) {
      out.error = restBytes.toString()
      socket.on('data', (x) => { out.error += x.toString() })
      socket.on('end', finish)
      socket.resume()
      return
    }
    if (restBytes.length) socket.unshift(restBytes)
    session(transport, socket)
  }
  socket.on('data', onData)
}

function session (transport, socket) {
  const conn = transport.connection.create(socket, { protocol: 'spdy', isServer: false, headerCompression: true })
  conn.start(3.1)
  conn.on('error', () => {})
  const open = (type) => new Promise((resolve, reject) => {
    const s = conn.request({ method: 'POST', path: '/', headers: { streamtype: type } }, (err) => { if (err) reject(err) })
    s.on('response', () => resolve(s))
    s.on('error', () => {})
  })
  ;(async () => {
    // kubectl's order: error, stdin, stdout, stderr, resize.
    const error = await open('error')
    const ended = []
    const collect = (s, into) => new Promise((resolve) => { s.on('data', (d) => into.push(d)); s.on('end', resolve) })
    const errChunks = []
    ended.push(collect(error, errChunks))
    error.end()
    const stdin = opt.stdin !== null ? await open('stdin') : null
    if (opt.stdout) {
      const s = await open('stdout')
      s.end()
      ended.push(collect(s, out.stdout))
    }
    if (opt.stderr && !opt.tty) {
      const s = await open('stderr')
      s.end()
      ended.push(collect(s, out.stderr))
    }
    if (opt.tty) {
      const r = await open('resize')
      if (opt.resize) r.write(JSON.stringify({ Width: opt.resize[0], Height: opt.resize[1] }))
    }
    if (stdin) {
      for (let at = 0; at < opt.stdin.length; at += 16384) stdin.write(opt.stdin.slice(at, at + 16384))
      if (!opt.tty) stdin.end()
    }
    if (opt.closeAfter) setTimeout(() => socket.destroy(), opt.closeAfter)
    await Promise.all(ended)
    out.error = Buffer.concat(errChunks).toString()
    finish()
  })().catch((e) => { out.error = out.error || `client: ${e.message}`; finish() })
  socket.on('close', () => setTimeout(finish, 200))
}

// Port-forward (portforward.k8s.io), as kubectl port-forward: per
// connection an error and a data stream naming the port and a requestID;
// --send goes out on the data stream, which is then half-closed; prints
// {"data": base64 of what came back, "error": the error stream's text}.
function runPf () {
  const transport = need('spdy-transport')
  const port = rest[rest.indexOf('--port') + 1]
  const send = rest.includes('--send') ? Buffer.from(rest[rest.indexOf('--send') + 1].replace(/\\r\\n/g, '\r\n')) : Buffer.alloc(0)
  const socket = net.connect(Number(u.port), u.hostname, () => {
    socket.write(`POST ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n` +
      'X-Stream-Protocol-Version: portforward.k8s.io\r\nContent-Length: 0\r\n\r\n')
  })
  let buf = Buffer.alloc(0)
  socket.on('error', (e) => { out.error = out.error || e.message; finish() })
  socket.on('data', function onData (d) {
    buf = Buffer.concat([buf, d])
    const end = buf.indexOf('\r\n\r\n')
    if (end < 0) return
    socket.removeListener('data', onData)
    socket.pause()
    out.status = buf.slice(0, end).toString('latin1').split('\r\n')[0]
    if (!/ 101 /.test(out.status)) { out.error = buf.slice(end + 4).toString(); socket.destroy(); finish(); return }
    const restBytes = buf.slice(end + 4)
    if (restBytes.length) socket.unshift(restBytes)
    const conn = transport.connection.create(socket, { protocol: 'spdy', isServer: false, headerCompression: true })
    conn.start(3.1)
    conn.on('error', () => {})
    const open = (type) => new Promise((resolve, reject) => {
      const st = conn.request({ method: 'POST', path: '/', headers: { streamtype: type, port, requestid: '0' } }, (err) => { if (err) reject(err) })
      st.on('response', () => resolve(st))
      st.on('error', () => {})
    })
    ;(async () => {
      const error = await open('error')
      const errChunks = []
      const errEnd = new Promise((resolve) => { error.on('data', (x) => errChunks.push(x)); error.on('end', resolve) })
      error.end()
      const data = await open('data')
      const dataEnd = new Promise((resolve) => { data.on('data', (x) => out.stdout.push(x)); data.on('end', resolve) })
      data.end(send)
      await Promise.race([Promise.all([dataEnd, errEnd]), new Promise((resolve) => setTimeout(resolve, 10000))])
      out.error = Buffer.concat(errChunks).toString()
      finish()
    })().catch((e) => { out.error = `client: ${e.message}`; finish() })
  })
}

// Port-forward over WebSocket, as a client of kubelet's /portforward: the
// ports in the query (port=N; --port takes a comma-separated list), each
// port i on channels 2i (data) and 2i+1 (error), both opened by the server
// with the port as 2 little-endian bytes. --send goes out on port 0's data
// channel (no prefix). The server closes once the pod's side is done; prints
// {"stdout": base64 of port 0's data, "error": its error channel's text,
//  "prefixes": hex of each channel's first message, "close": the close code}.
function runWsPf () {
  const WebSocket = need('ws')
  const ports = rest[rest.indexOf('--port') + 1].split(',')
  const send = rest.includes('--send') ? Buffer.from(rest[rest.indexOf('--send') + 1].replace(/\\r\\n/g, '\r\n')) : Buffer.alloc(0)
  const protocols = opt.protocol || ['v4.channel.k8s.io']
  const query = ports.map((p) => `port=${p}`).join('&')
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}?${query}`, protocols)
  out.prefixes = {}
  ws.on('upgrade', (res) => { out.status = `HTTP/1.1 ${res.statusCode}` })
  ws.on('unexpected-response', (req, res) => {
    out.status = `HTTP/1.1 ${res.statusCode}`
    let body = ''
    res.on('data', (d) => { body += d })
    res.on('end', () => { out.error = body; finish() })
  })
  ws.on('error', (e) => { if (!out.status) { out.error = e.message; finish() } })
  ws.on('open', () => {
    out.protocol = ws.protocol
    const b64 = ws.protocol.includes('base64')
    if (send.length) ws.send(b64 ? '0' + send.toString('base64') : Buffer.concat([Buffer.from([0]), send]))
  })
  ws.on('message', (data, isBinary) => {
    const buf = Buffer.from(data)
    const ch = isBinary ? buf[0] : buf[0] - 48
    const payload = isBinary ? buf.subarray(1) : Buffer.from(buf.subarray(1).toString('latin1'), 'base64')
    if (!(ch in out.prefixes)) { out.prefixes[ch] = payload.toString('hex'); return }
    if (ch === 0) out.stdout.push(payload)
    else if (ch === 1) out.error += payload.toString()
  })
  ws.on('close', (code) => { out.close = code; finish() })
}

if (mode === 'pf') runPf()
else if (mode === 'wspf') runWsPf()
else if (mode === 'ws') runWs()
else if (mode === 'spdy') runSpdy()
else { console.error('mode: spdy, ws, pf or wspf'); process.exit(2) }
