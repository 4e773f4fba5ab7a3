// Where berthctl finds its berthds (issue 16): --host, repeatable, or the
// hosts file ($BERTH_CONFIG, default ~/.berth, /hosts), as Docker keeps
// its contexts under ~/.docker. One host a line:
//   unix:///run/berth/berthd.sock
//   tcp://node1.example.com:2376  node1      # PEM dir, relative to the file's
// A tcp:// host of the file uses mutual TLS (berthd serves nothing else on
// TCP) with ca.pem, cert.pem and key.pem from its dir, or the default one
// ($BERTH_CERT_PATH, ~/.berth) when the line names none.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::ctl {

struct Host {
    std::string url;            // unix:///PATH or tcp://HOST:PORT
    std::string tls_dir;        // tcp://: its PEM files' dir; "": the default
    bool tls_verify = false;    // mutual TLS without --tlsverify (the file's tcp:// hosts)
};

// Error(EINVAL) naming `what` ("--host", "FILE:LINE") unless url is
// unix:///PATH or tcp://HOST:PORT.
void check_host_url(const std::string& url, const std::string& what);

// The hosts file's text; `path` names it in errors ("PATH:LINE: why") and
// anchors relative TLS dirs. '#' starts a comment; blank lines are skipped.
std::vector<Host> parse_hosts_file(std::string_view text, const std::string& path);

// $BERTH_CONFIG/hosts, else ~/.berth/hosts ("" without either).
std::string hosts_file_path();
// The file's hosts; nullopt when it does not exist.
std::optional<std::vector<Host>> load_hosts_file(const std::string& path);

} // namespace berth::ctl
