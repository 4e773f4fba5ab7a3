// Interop: npm's spdy-transport (a real SPDY/3.1 implementation with zlib
// header compression) as the client of berth's SPDY session, run by
// spdy-echo-server. Upgrades a TCP connection from HTTP/1.1 as kubectl
// does, opens the exec streams (error, stdin, stdout, resize), pings,
// resets one stream, and sends 320 KiB (over 4 x the 64 KiB window) through
// stdin while not reading stdout until a whole window has arrived: the data
// must come back intact on stdout, the server must never exceed the
// client's stream or session window, and its counters must show it waited
// for the window. Exit 0: pass, 1: fail, 77: skip (no spdy-transport).
'use strict'

const path = require('path')
const net = require('net')
const crypto = require('crypto')
const { spawn } = require('child_process')

const serverBin = process.argv[2]
const modules = process.env.BERTH_NODE_MODULES || path.join(__dirname, 'node_modules')
let transport
try {
  transport = require(path.join(modules, 'spdy-transport'))
} catch (e) {
  console.log(`SKIP: spdy-transport not found in ${modules} (run tests/stream/spdy/npm-install.sh): ${e.message}`)
  process.exit(77)
}

const WINDOW = 64 * 1024
const TOTAL = 5 * WINDOW
let server
let failed = false

function fail (msg) {
  console.log(`not ok - ${msg}`)
  failed = true
  if (server && server.exitCode === null) server.kill('SIGKILL')
  process.exit(1)
}

function ok (cond, msg) {
  if (cond) console.log(`ok - ${msg}`)
  else fail(msg)
}

// A hung peer ends the test rather than meson's timeout; not an assertion.
const guard = setTimeout(() => fail('the exchange did not finish within 60 s'), 60000)
process.on('exit', () => { if (server && server.exitCode === null) server.kill('SIGKILL') })

function startServer () {
  return new Promise((resolve, reject) => {
    server = spawn(serverBin, [], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    server.stderr.on('data', (d) => { err += d })
    server.stdout.on('data', (d) => {
      out += d
      const m = out.match(/PORT (\d+)\n/)
      if (m) resolve(Number(m[1]))
    })
    server.on('error', reject)
    server.exited = new Promise((resolve) => server.on('exit', (code) => resolve({ code, err })))
    server.exited.then(({ code, err }) => reject(new Error(`server exited (${code}) before listening: ${err}`)))
  })
}

// The HTTP/1.1 upgrade; resolves with the socket, any SPDY bytes that came
// with the response put back for the SPDY parser.
function upgrade (port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write('POST /exec/token?command=cat&input=1&output=1 HTTP/1.1\r\n' +
        `Host: 127.0.0.1:${port}\r\n` +
        'Connection: Upgrade\r\n' +
        'Upgrade: SPDY/3.1\r\n' +
        'X-Stream-Protocol-Version: v4.channel.k8s.io\r\n' +
        'X-Stream-Protocol-Version: channel.k8s.io\r\n' +
        'Content-Length: 0\r\n\r\n')
    })
    let buf = Buffer.alloc(0)
    function onData (d) {
      buf = Buffer.concat([buf, d])
      const end = buf.indexOf('\r\n\r\n')
      if (end < 0) return
      socket.removeListener('data', onData)
      socket.pause()
      const head = buf.slice(0, end).toString('latin1').split('\r\n')
      const rest = buf.slice(end + 4)
      if (rest.length) socket.unshift(rest)
      const headers = {}
      for (const line of head.slice(1)) {
        const i = line.indexOf(':')
        headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim()
      }
      resolve({ socket, status: head[0], headers })
    }
    socket.on('data', onData)
    socket.on('error', reject)
  })
}

function request (conn, headers) {
  return new Promise((resolve, reject) => {
    const stream = conn.request({ method: 'POST', path: '/', headers }, (err) => { if (err) reject(err) })
    stream.on('response', (code, h) => resolve({ stream, code, headers: h }))
    stream.on('error', (e) => fail(`stream ${headers.streamtype}: ${e.message}`))
  })
}

function collect (stream) {
  return new Promise((resolve) => {
    const chunks = []
    stream.on('data', (d) => chunks.push(d))
    stream.on('end', () => resolve(Buffer.concat(chunks)))
  })
}

async function main () {
  const port = await startServer()
  const { socket, status, headers } = await upgrade(port)
  ok(/^HTTP\/1\.1 101 /.test(status), `upgrade answered ${status}`)
  ok(headers.upgrade === 'SPDY/3.1', 'Upgrade: SPDY/3.1')
  ok(headers['x-stream-protocol-version'] === 'v4.channel.k8s.io', 'X-Stream-Protocol-Version: v4.channel.k8s.io')

  // windowSize: the client's stream window, announced in SETTINGS.
  const conn = transport.connection.create(socket, {
    protocol: 'spdy', isServer: false, headerCompression: true, windowSize: WINDOW
  })
  conn.start(3.1)
  conn.on('error', (e) => fail(`connection: ${e.message}`))

  // What the client grants, and what the server sends against it: the
  // server may never have more in flight than the window plus the grants.
  const granted = { 0: 0 }
  const received = { 0: 0 }
  const framer = conn._spdyState.framer
  const windowUpdateFrame = framer.windowUpdateFrame.bind(framer)
  framer.windowUpdateFrame = (frame, cb) => {
    granted[frame.id] = (granted[frame.id] || 0) + frame.delta
    return windowUpdateFrame(frame, cb)
  }
  let overrun = null
  let onWindowFull = null
  let onGoaway = null
  const goaway = new Promise((resolve) => { onGoaway = resolve })
  const serverGranted = {}
  conn.on('frame', (f) => {
    if (f.type === 'GOAWAY') onGoaway(f)
    if (f.type === 'WINDOW_UPDATE') serverGranted[f.id] = (serverGranted[f.id] || 0) + f.delta
    if (onWindowFull) onWindowFull()
    if (f.type !== 'DATA') return
    received[0] += f.data.length
    received[f.id] = (received[f.id] || 0) + f.data.length
    if (received[f.id] > WINDOW + (granted[f.id] || 0)) overrun = overrun || `stream ${f.id}: ${received[f.id]} bytes against ${WINDOW} + ${granted[f.id] || 0} granted`
    if (received[0] > WINDOW + granted[0]) overrun = overrun || `session: ${received[0]} bytes against ${WINDOW} + ${granted[0]} granted`
    if (onWindowFull) onWindowFull()
  })

  // kubectl's order: error first, then stdin, stdout; resize is reset below.
  const error = await request(conn, { streamtype: 'error' })
  const stdin = await request(conn, { streamtype: 'stdin', 'x-multi': ['a', 'b'] })
  const stdout = await request(conn, { streamtype: 'stdout' })
  const resize = await request(conn, { streamtype: 'resize' })
  ok(error.code === 200 && error.headers['x-echo-streamtype'] === 'error', 'SYN_REPLY for the error stream, headers inflated')
  // Sent as an array, so NUL-separated; spdy-transport splits what comes
  // back on NUL and joins the values with ", " as node's http does.
  const multi = stdin.headers['x-echo-x-multi']
  ok(multi === 'a, b', `a NUL-separated header crosses both ways: ${JSON.stringify(multi)}`)
  error.stream.end() // the client writes nothing on these
  stdout.stream.end()
  resize.stream.abort()

  const pinged = new Promise((resolve) => conn.ping(() => resolve(true)))

  // Do not read stdout until a whole window of it has arrived and the
  // server has taken half a window more of stdin than it could send (its
  // stdin grants say so; they follow the stdout DATA of what they grant):
  // a server that ignored the window would have sent that too by then.
  stdout.stream.pause()
  const windowFull = new Promise((resolve) => {
    onWindowFull = () => {
      const out = stdout.stream.id
      if ((received[out] || 0) >= WINDOW + (granted[out] || 0) && (serverGranted[stdin.stream.id] || 0) >= WINDOW * 1.5) resolve()
    }
  })
  const output = collect(stdout.stream)
  const statusMessage = collect(error.stream)

  const input = crypto.randomBytes(TOTAL)
  for (let at = 0; at < TOTAL; at += 10000) stdin.stream.write(input.slice(at, Math.min(at + 10000, TOTAL)))
  stdin.stream.end()

  await windowFull
  const id = stdout.stream.id
  ok(received[id] === WINDOW + (granted[id] || 0),
    `stdout filled its window exactly while unread (${received[id]} bytes, ${WINDOW} + ${granted[id] || 0} granted; ` +
    `${serverGranted[stdin.stream.id]} bytes of stdin taken)`)
  stdout.stream.resume()

  const echoed = await output
  const sha = (b) => crypto.createHash('sha256').update(b).digest('hex')
  ok(echoed.length === TOTAL, `stdout brought back ${echoed.length} of ${TOTAL} bytes`)
  ok(sha(echoed) === sha(input), 'the echoed bytes match (sha256)')
  ok(overrun === null, `the server kept within the client's windows${overrun ? ': ' + overrun : ''}`)
  const st = JSON.parse((await statusMessage).toString())
  ok(st.status === 'Success', `the error stream carried the v4 status ${JSON.stringify(st)}`)
  ok(await pinged, 'the server answered our PING')
  const gone = await goaway
  ok(gone.code === 'OK', `the server ended the session with GOAWAY ${gone.code}`)
  socket.destroy() // the server exits once the client has closed

  const { code, err } = await server.exited
  const m = err.match(/spdy-echo-server: (echoed=.*)\n/)
  if (!m) return fail(`server exited ${code} without its counters: ${err}`)
  const c = Object.fromEntries(m[1].split(' ').map((kv) => kv.split('=').map((x, i) => i ? Number(x) : x)))
  console.log(`# server: ${m[1]}`)
  ok(code === 0 && c.failed === 0, `the server exited 0 (${code})`)
  ok(c.echoed === TOTAL, 'the server echoed everything')
  ok(c.peer_flow_control === 1, 'the server saw the client does flow control (SETTINGS)')
  ok(c.window_stalls >= 1, `the server waited for the client's window (${c.window_stalls} stalls)`)
  ok(c.window_updates_received >= 1, `the client's WINDOW_UPDATEs arrived (${c.window_updates_received})`)
  ok(c.window_updates_sent >= 1, `the server granted stdin window as it forwarded (${c.window_updates_sent} updates)`)
  ok(c.max_held <= WINDOW, `the server never held more stdin than its window (${c.max_held})`)
  ok(c.pings_received >= 1 && c.our_pings_answered === 1, 'PINGs answered both ways')
  ok(c.peer_resets === 1, 'the reset stream was seen as reset by the peer')
}

main().then(() => {
  clearTimeout(guard)
  if (!failed) console.log('spdy interop: all checks passed')
}, (e) => {
  clearTimeout(guard)
  fail(e.stack || String(e))
})
