// remotecommand over WebSocket, as kubelet serves it (apimachinery
// wsstream): one message per write, its first byte (or character, for the
// base64 protocols) the channel. Every channel the server writes gets an
// empty message first, as wsstream's Conn announces them. v5 lets the
// client close stdin with the CLOSE signal; before v5 a WebSocket client
// cannot half-close, and stdin ends with the connection.
#include "command_transport.hpp"

#include "error.hpp"
#include "websocket.hpp"

namespace berth::stream {

namespace {

constexpr size_t kOutputHighWater = 256 * 1024;

class WsCommandTransport final : public CommandTransport {
public:
    WsCommandTransport(const std::string& protocol, CommandStreams s)
        : s_(s), codec_(channel_protocol(protocol).value_or(ChannelProtocol{})) {
        announce(channel::stdout_, s.stdout);
        announce(channel::stderr_, s.stderr && !s.tty);
        announce(channel::error, true);
    }

    void feed(std::string_view bytes, std::vector<CommandInput>& out) override {
        for (auto& ev : ws_.feed(bytes)) {
            switch (ev.kind) {
            case WsEvent::Kind::message: message(ev.data, out); break;
            case WsEvent::Kind::close:
                if (!stdin_closed_ && s_.stdin) out.push_back({CommandInput::Kind::stdin_closed, {}, {}, {}});
                stdin_closed_ = true;
                out.push_back({CommandInput::Kind::gone, {}, {}, "the client closed the WebSocket"});
                break;
            case WsEvent::Kind::error:
                out.push_back({CommandInput::Kind::gone, {}, {}, "WebSocket: " + ev.data});
                break;
            default: break;
            }
        }
    }

    bool ready() const override { return true; }

    size_t writable(uint8_t) const override {
        if (ws_.close_sent() || ws_.failed()) return 1 << 20;   // nowhere to send: take it, drop it
        size_t have = ws_.pending_output().size();
        return have >= kOutputHighWater ? 0 : kOutputHighWater - have;
    }

    void send(uint8_t ch, std::string_view data) override {
        if (ws_.close_sent() || ws_.failed() || data.empty()) return;
        // Messages of at most 32 KiB, as kubelet's writes come.
        for (size_t off = 0; off < data.size(); off += 32 * 1024) message_out(ch, data.substr(off, 32 * 1024));
    }

    void consumed_stdin(size_t) override {}

    void finish(int exit_code, const std::string& error) override {
        if (ws_.close_sent() || ws_.failed()) return;
        const auto& p = codec_.protocol();
        std::string msg = end_status(p.version, exit_code, error);
        if (!msg.empty()) message_out(channel::error, msg);
        ws_.close(ws_close::normal);
    }

    std::string_view pending_output() const override { return ws_.pending_output(); }
    void consume_output(size_t n) override { ws_.consume_output(n); }
    // Once our close is out the connection may go; a client that does not
    // answer the close is not waited for.
    bool done() const override { return (ws_.close_sent() || ws_.failed()) && ws_.pending_output().empty(); }

private:
    void announce(uint8_t ch, bool on) {
        if (on) message_out(ch, "");
    }

    void message_out(uint8_t ch, std::string_view data) {
        std::string m = codec_.encode(ch, data);
        if (codec_.text()) ws_.send_text(m);
        else ws_.send_binary(m);
    }

    void message(const std::string& payload, std::vector<CommandInput>& out) {
        std::optional<ChannelMessage> m;
        try {
            m = codec_.decode(payload);
        } catch (const Error& e) {
            out.push_back({CommandInput::Kind::gone, {}, {}, e.what()});
            ws_.close(ws_close::protocol_error, "bad channel message");
            return;
        }
        if (!m) return;
        if (m->kind == ChannelMessage::Kind::close) {
            if (m->channel == channel::stdin_ && !stdin_closed_) {
                stdin_closed_ = true;
                out.push_back({CommandInput::Kind::stdin_closed, {}, {}, {}});
            }
            return;
        }
        if (m->channel == channel::stdin_ && s_.stdin && !stdin_closed_) {
            if (!m->data.empty()) out.push_back({CommandInput::Kind::stdin_data, std::move(m->data), {}, {}});
        } else if (m->channel == channel::resize && s_.tty) {
            try {
                for (auto& sz : ResizeDecoder().feed(m->data)) out.push_back({CommandInput::Kind::resize, {}, sz, {}});
            } catch (const Error&) {
                // A bad size is dropped, as kubelet logs and goes on.
            }
        }
    }

    CommandStreams s_;
    ChannelCodec codec_;
    WebSocketServer ws_;
    bool stdin_closed_ = false;
};

} // namespace

std::unique_ptr<CommandTransport> websocket_command_transport(const std::string& protocol, CommandStreams s) {
    return std::make_unique<WsCommandTransport>(protocol, s);
}

} // namespace berth::stream
