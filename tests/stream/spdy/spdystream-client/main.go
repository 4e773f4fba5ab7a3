// spdystream-client: the SPDY client Kubernetes itself uses (moby/spdystream,
// under kubelet's proxy, kubectl and client-go's remotecommand) against
// spdy-echo-server, as kubectl exec drives a streaming server: HTTP/1.1
// upgrade, then the error, stdin and stdout streams, each waiting for its
// SYN_REPLY. spdystream sends no WINDOW_UPDATE and honours none, so 320 KiB
// echoed through it passes only if berth's session, in its default detect
// mode, does not hold it to the 64 KiB windows.
//
// Usage: spdystream-client PORT. Prints TAP-ish lines; exit 0 pass, 1 fail.
package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/moby/spdystream"
)

const total = 5 * 64 * 1024

func fail(format string, args ...interface{}) {
	fmt.Printf("not ok - "+format+"\n", args...)
	os.Exit(1)
}

func ok(cond bool, format string, args ...interface{}) {
	if !cond {
		fail(format, args...)
	}
	fmt.Printf("ok - "+format+"\n", args...)
}

// bufConn reads through the bufio.Reader that read the HTTP response: the
// server's first SPDY frames may already sit in its buffer.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func main() {
	if len(os.Args) != 2 {
		fail("usage: spdystream-client PORT")
	}
	conn, err := net.Dial("tcp", "127.0.0.1:"+os.Args[1])
	if err != nil {
		fail("dial: %v", err)
	}
	// A hung exchange ends the test rather than meson's timeout.
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	fmt.Fprintf(conn, "POST /exec/token?command=cat&input=1&output=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"+
		"Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"+
		"X-Stream-Protocol-Version: v4.channel.k8s.io\r\nX-Stream-Protocol-Version: channel.k8s.io\r\n\r\n")
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		fail("reading the upgrade response: %v", err)
	}
	ok(resp.StatusCode == http.StatusSwitchingProtocols, "upgrade answered %s", resp.Status)
	ok(resp.Header.Get("X-Stream-Protocol-Version") == "v4.channel.k8s.io", "protocol %q", resp.Header.Get("X-Stream-Protocol-Version"))

	sc, err := spdystream.NewConnection(bufConn{conn, r}, false)
	if err != nil {
		fail("spdystream: %v", err)
	}
	go sc.Serve(spdystream.NoOpStreamHandler)

	open := func(kind string) *spdystream.Stream {
		s, err := sc.CreateStream(http.Header{"Streamtype": []string{kind}}, nil, false)
		if err != nil {
			fail("create %s stream: %v", kind, err)
		}
		if err := s.Wait(); err != nil {
			fail("%s stream: no SYN_REPLY: %v", kind, err)
		}
		return s
	}
	errStream := open("error")
	stdin := open("stdin")
	stdout := open("stdout")
	ok(true, "error, stdin and stdout streams replied to")

	if _, err := sc.Ping(); err != nil {
		fail("ping: %v", err)
	}
	ok(true, "the server answered a PING")

	input := make([]byte, total)
	rand.Read(input)
	go func() {
		for at := 0; at < total; at += 32 * 1024 { // io.Copy's buffer, as kubectl writes
			if _, err := stdin.Write(input[at : at+32*1024]); err != nil {
				fail("write stdin: %v", err)
			}
		}
		stdin.Close() // FIN
	}()
	echoed, err := io.ReadAll(stdout)
	if err != nil {
		fail("read stdout: %v", err)
	}
	ok(len(echoed) == total, "stdout brought back %d of %d bytes past the 64 KiB window", len(echoed), total)
	ok(sha256.Sum256(echoed) == sha256.Sum256(input), "the echoed bytes match (sha256)")

	msg, err := io.ReadAll(errStream)
	if err != nil {
		fail("read error stream: %v", err)
	}
	var status struct{ Status string }
	ok(json.Unmarshal(bytes.TrimSpace(msg), &status) == nil && status.Status == "Success", "the error stream carried %s", msg)
	sc.Close()
	fmt.Println("spdystream interop: all checks passed")
}
