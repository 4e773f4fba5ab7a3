// remotecommand over SPDY/3.1, as kubelet serves it (pkg/kubelet/cri/
// streaming/remotecommand/httpstream.go): the client opens one stream per
// type, named by its "streamType" header, after the upgrade; the server
// replies to each. The error stream carries the end: a metav1.Status
// (v4) or a failure's text (v1 to v3).
#include "command_transport.hpp"

#include "error.hpp"
#include "protocols.hpp"
#include "spdy_session.hpp"

#include <map>

namespace berth::stream {

namespace {

class SpdyCommandTransport final : public CommandTransport {
public:
    SpdyCommandTransport(const std::string& protocol, CommandStreams s) {
        version_ = protocol == protocol::channel_v4 ? 4 : protocol == protocol::channel_v3 ? 3
                   : protocol == protocol::channel_v2                                     ? 2
                                                                                          : 1;
        expected_ = 1 + s.stdin + s.stdout + (s.stderr && !s.tty) + (s.tty && version_ >= 3);
    }

    void feed(std::string_view bytes, std::vector<CommandInput>& out) override {
        struct Flush {
            SpdyCommandTransport* t;
            ~Flush() { t->flush_backlog(); }
        } flush_after{this};
        for (auto& ev : session_.feed(bytes)) {
            if (auto* o = std::get_if<spdy::StreamOpened>(&ev)) {
                opened(*o, out);
            } else if (auto* d = std::get_if<spdy::StreamData>(&ev)) {
                if (d->stream_id == stdin_id_) {
                    out.push_back({CommandInput::Kind::stdin_data, std::move(d->data), {}, {}});
                } else if (d->stream_id == resize_id_) {
                    size_t n = d->data.size();
                    try {
                        for (auto& sz : resize_.feed(d->data)) out.push_back({CommandInput::Kind::resize, {}, sz, {}});
                    } catch (const Error&) {
                        session_.reset(resize_id_, spdy::RstStatus::protocol_error);
                        resize_id_ = 0;
                    }
                    session_.consumed(d->stream_id, n);
                } else {
                    session_.consumed(d->stream_id, d->data.size());   // nothing else is read
                }
            } else if (auto* h = std::get_if<spdy::StreamHalfClosed>(&ev)) {
                if (h->stream_id == stdin_id_) out.push_back({CommandInput::Kind::stdin_closed, {}, {}, {}});
            } else if (auto* r = std::get_if<spdy::StreamReset>(&ev)) {
                if (r->stream_id == stdin_id_) out.push_back({CommandInput::Kind::stdin_closed, {}, {}, {}});
                for (auto& [ch, id] : out_ids_)
                    if (id == r->stream_id) id = 0;   // nowhere to send it any more
            } else if (auto* g = std::get_if<spdy::GoawayReceived>(&ev)) {
                (void)g;
                out.push_back({CommandInput::Kind::gone, {}, {}, "the client ended the SPDY session (GOAWAY)"});
            } else if (auto* e = std::get_if<spdy::SessionError>(&ev)) {
                out.push_back({CommandInput::Kind::gone, {}, {}, "SPDY: " + e->message});
            }
        }
    }

    bool ready() const override { return opened_ >= expected_ && error_id_ != 0; }

    size_t writable(uint8_t ch) const override {
        auto it = out_ids_.find(ch);
        if (it == out_ids_.end() || it->second == 0) return 1 << 20;   // dropped: take it, send nothing
        auto b = backlog_.find(ch);
        if (b != backlog_.end() && !b->second.empty()) return 0;
        return session_.writable(it->second);
    }

    // What the session does not take now waits here, in order, and holds
    // the channel (writable() is 0) until it is out.
    void send(uint8_t ch, std::string_view data) override {
        auto it = out_ids_.find(ch);
        if (it == out_ids_.end() || it->second == 0 || !session_.may_send(it->second)) return;
        backlog_[ch].append(data);
        flush_backlog();
    }

    void consumed_stdin(size_t n) override {
        if (stdin_id_ && session_.is_open(stdin_id_)) session_.consumed(stdin_id_, n);
    }

    void finish(int exit_code, const std::string& error) override {
        finished_ = true;
        // Output still waiting goes before the end.
        for (auto& [ch, data] : backlog_) {
            auto it = out_ids_.find(ch);
            if (!data.empty() && it != out_ids_.end() && it->second) pending_.push_back({it->second, std::move(data)});
        }
        backlog_.clear();
        if (error_id_ && session_.may_send(error_id_)) {
            std::string msg = end_status(version_, exit_code, error);
            pending_.push_back({error_id_, std::move(msg)});
        }
        for (auto id : replied_) pending_.push_back({id, ""});
        flush();
    }

    std::string_view pending_output() const override { return session_.pending_output(); }

    void consume_output(size_t n) override {
        session_.consume_output(n);
        flush_backlog();
        flush();
    }

    bool done() const override {
        if (session_.failed()) return session_.pending_output().empty();
        return finished_ && pending_.empty() && session_.pending_output().empty();
    }

private:
    void flush_backlog() {
        for (auto& [ch, data] : backlog_) {
            auto it = out_ids_.find(ch);
            if (it == out_ids_.end() || it->second == 0 || !session_.may_send(it->second)) {
                data.clear();
                continue;
            }
            while (!data.empty()) {
                size_t room = session_.writable(it->second);
                if (room == 0) break;
                size_t took = session_.send_data(it->second, std::string_view(data).substr(0, std::min(room, data.size())));
                if (took == 0) break;
                data.erase(0, took);
            }
        }
    }

    // The end's frames go out as the windows and the output allow: the
    // status, then FIN on every stream.
    void flush() {
        while (!pending_.empty()) {
            auto& [id, data] = pending_.front();
            if (!session_.may_send(id)) {
                pending_.erase(pending_.begin());
                continue;
            }
            size_t room = session_.writable(id);
            if (room == 0 && !data.empty()) return;
            size_t n = std::min(room, data.size());
            bool last = n == data.size();
            size_t took = session_.send_data(id, std::string_view(data).substr(0, n), last);
            data.erase(0, took);
            if (!last || took < n) return;
            pending_.erase(pending_.begin());
        }
    }

    void opened(const spdy::StreamOpened& o, std::vector<CommandInput>& out) {
        const std::string* t = spdy::find_header(o.headers, "streamtype");
        std::string type = t ? *t : "";
        // Go's spdystream replies with no headers; HTTP-layered peers
        // (spdy-transport) want :status and :version, which Go ignores.
        session_.reply(o.stream_id, {{":status", "200"}, {":version", "HTTP/1.1"}});
        replied_.push_back(o.stream_id);
        ++opened_;
        if (type == "error") {
            error_id_ = o.stream_id;
        } else if (type == "stdin") {
            stdin_id_ = o.stream_id;
        } else if (type == "stdout") {
            out_ids_[channel::stdout_] = o.stream_id;
        } else if (type == "stderr") {
            out_ids_[channel::stderr_] = o.stream_id;
        } else if (type == "resize") {
            resize_id_ = o.stream_id;
        } else {
            session_.reset(o.stream_id, spdy::RstStatus::refused_stream);
            --opened_;
            out.push_back({CommandInput::Kind::gone, {}, {}, "unknown streamType \"" + type + "\""});
        }
    }

    int version_ = 1;
    int expected_ = 1;
    int opened_ = 0;
    spdy::ServerSession session_;
    uint32_t error_id_ = 0, stdin_id_ = 0, resize_id_ = 0;
    std::map<uint8_t, uint32_t> out_ids_;
    std::vector<uint32_t> replied_;
    std::vector<std::pair<uint32_t, std::string>> pending_;
    std::map<uint8_t, std::string> backlog_;
    ResizeDecoder resize_;
    bool finished_ = false;
};

} // namespace

std::unique_ptr<CommandTransport> spdy_command_transport(const std::string& protocol, CommandStreams s) {
    return std::make_unique<SpdyCommandTransport>(protocol, s);
}

} // namespace berth::stream
