#include "spdy_session.hpp"

#include "error.hpp"

#include <algorithm>
#include <cerrno>

namespace berth::stream::spdy {

namespace {

template <class... F>
struct Overload : F... {
    using F::operator()...;
};
template <class... F>
Overload(F...) -> Overload<F...>;

// Stray frames for this many recently closed streams are dropped quietly
// rather than answered with RST_STREAM each.
constexpr size_t recent_streams = 64;
constexpr size_t max_pings_out = 16;

std::string sid(uint32_t id) { return "stream " + std::to_string(id); }

// Builds the event in place: moving a temporary variant into the vector
// trips GCC 12's -Wmaybe-uninitialized.
template <class T>
void emit(std::vector<Event>& events, T&& event) {
    events.emplace_back(std::in_place_type<std::decay_t<T>>, std::forward<T>(event));
}

} // namespace

ServerSession::ServerSession(SessionConfig config)
    : config_(config), decoder_(config.frames), inflater_(config.max_header_block) {
    if (config_.initial_window < default_window || config_.initial_window > max_window)
        throw Error(EINVAL, "SPDY session: initial_window " + std::to_string(config_.initial_window) +
                                " outside 64 KiB to 2^31-1");
    if (config_.session_window < default_window || config_.session_window > max_window)
        throw Error(EINVAL, "SPDY session: session_window " + std::to_string(config_.session_window) +
                                " outside 64 KiB to 2^31-1");
    if (config_.max_data_frame == 0 || config_.max_data_frame > max_length_field)
        throw Error(EINVAL, "SPDY session: max_data_frame " + std::to_string(config_.max_data_frame) +
                                " outside 1 to 2^24-1");
    if (config_.max_streams == 0 || config_.max_stream_queue == 0 || config_.output_high_water == 0)
        throw Error(EINVAL, "SPDY session: max_streams, max_stream_queue and output_high_water must be positive");
    stats_.peer_flow_control = config_.peer_flow_control == PeerFlowControl::enforce;

    if (config_.initial_window != default_window) {
        Settings s;
        s.entries.push_back({0, static_cast<uint32_t>(SettingId::initial_window_size), config_.initial_window});
        encode(s, output_);
    }
    if (config_.session_window > default_window) {
        encode(WindowUpdate{0, config_.session_window - default_window}, output_);
        session_recv_window_ = config_.session_window;
    }
}

std::vector<Event> ServerSession::feed(std::string_view bytes) {
    std::vector<Event> events;
    if (failed_) return events;
    try {
        while (auto frame = decoder_.next(bytes)) {
            handle(*frame, events);
            if (failed_) break;
        }
    } catch (const Error& e) {
        fail(e.err(), e.what(), events);
    }
    stats_.frames_ignored = decoder_.ignored_frames();
    pump();
    if (!failed_ && pending_output().size() > config_.max_output)
        fail(ENOBUFS, "SPDY session: " + std::to_string(pending_output().size()) +
                          " bytes of output wait for the peer, over the limit of " +
                          std::to_string(config_.max_output) + ": the peer is not reading",
             events);
    return events;
}

void ServerSession::fail(int err, std::string message, std::vector<Event>& events) {
    if (!goaway_sent_) queue_goaway(GoawayStatus::protocol_error);
    failed_ = true;
    emit(events, SessionError{err, std::move(message)});
}

void ServerSession::handle(Frame& frame, std::vector<Event>& events) {
    std::visit(Overload{
                   [&](DataChunk& f) { on_data(f, events); },
                   [&](SynStream& f) { on_syn_stream(f, events); },
                   [&](SynReply& f) { on_syn_reply(f, events); },
                   [&](RstStream& f) { on_rst(f, events); },
                   [&](Settings& f) { on_settings(f, events); },
                   [&](Ping& f) { on_ping(f, events); },
                   [&](Goaway& f) {
                       goaway_received_ = true;
                       emit(events, GoawayReceived{f.last_good_stream_id, f.status});
                   },
                   [&](HeadersFrame& f) { on_headers(f, events); },
                   [&](WindowUpdate& f) { on_window_update(f, events); },
               },
               frame);
}

void ServerSession::on_data(const DataChunk& c, std::vector<Event>& events) {
    const size_t n = c.data.size();
    auto it = streams_.find(c.stream_id);
    if (it == streams_.end()) {
        discard_data(n);
        // §2.2.2: DATA for a stream that is not open is INVALID_STREAM,
        // answered once per frame and not for streams just closed, whose
        // frames may still be in flight.
        if (c.end_of_frame && !recently_closed(c.stream_id) && !goaway_sent_)
            stream_error(c.stream_id, RstStatus::invalid_stream, "DATA on a stream that is not open", events);
        return;
    }
    Stream& s = it->second;
    if (s.remote_fin) {
        discard_data(n);
        stream_error(c.stream_id, RstStatus::stream_already_closed, "DATA after the peer's FIN", events);
        return;
    }
    session_recv_window_ -= static_cast<int64_t>(n);
    if (enforcing() && session_recv_window_ < 0)
        throw Error(EPROTO, "SPDY DATA on " + sid(c.stream_id) + " overruns the session window by " +
                                std::to_string(-session_recv_window_) + " bytes (SPDY/3.1 §2.6.8)");
    s.recv_window -= static_cast<int64_t>(n);
    if (enforcing() && s.recv_window < 0) {
        int64_t over = -s.recv_window;
        credit_session(n); // the owner never sees these bytes
        stream_error(c.stream_id, RstStatus::flow_control_error,
                     "DATA overruns the stream window by " + std::to_string(over) + " bytes", events);
        return;
    }
    if (n > 0) {
        s.recv_outstanding += n;
        session_outstanding_ += n;
        emit(events, StreamData{c.stream_id, std::string(c.data)});
    }
    if (c.fin) {
        s.remote_fin = true;
        emit(events, StreamHalfClosed{c.stream_id});
        maybe_close(c.stream_id);
    }
}

void ServerSession::on_syn_stream(SynStream& f, std::vector<Event>& events) {
    // Inflate first, whatever becomes of the stream: the zlib stream is
    // shared by every header block of the connection.
    std::string raw = inflater_.inflate(f.header_block);
    const uint32_t id = f.stream_id;
    if (goaway_sent_) { // §2.6.6: streams opened after our GOAWAY are ignored
        ++stats_.streams_refused;
        return;
    }
    if (id % 2 == 0) { // §2.3.2: the client's streams are odd
        stream_error(id, RstStatus::protocol_error, "SYN_STREAM with an even (server) stream id", events);
        return;
    }
    if (id <= last_peer_stream_) {
        if (streams_.count(id)) {
            stream_error(id, RstStatus::protocol_error, "second SYN_STREAM for an open stream", events);
            return;
        }
        throw Error(EPROTO, "SPDY SYN_STREAM: " + sid(id) + " is not above the last one opened, " +
                                std::to_string(last_peer_stream_) + " (§2.6.1)");
    }
    last_peer_stream_ = id;
    HeaderBlock headers;
    try {
        headers = parse_header_block(raw, config_.max_headers);
    } catch (const Error& e) {
        stream_error(id, RstStatus::protocol_error, e.what(), events);
        return;
    }
    if (streams_.size() >= config_.max_streams) {
        encode(RstStream{id, static_cast<uint32_t>(RstStatus::refused_stream)}, output_);
        ++stats_.streams_refused;
        recently_closed_.push_back(id);
        if (recently_closed_.size() > recent_streams) recently_closed_.pop_front();
        return;
    }
    last_accepted_stream_ = id;
    Stream s;
    s.send_window = peer_initial_window_;
    s.recv_window = config_.initial_window;
    s.remote_fin = f.flags & flag_fin;
    const bool unidirectional = f.flags & flag_unidirectional;
    if (unidirectional) s.unidirectional = s.local_fin = s.fin_sent = true; // §2.6.1: we may not send on it
    streams_.emplace(id, std::move(s));
    ++stats_.streams_opened;
    emit(events, StreamOpened{id, std::move(headers), f.priority, f.associated_id, unidirectional});
    if (f.flags & flag_fin) {
        emit(events, StreamHalfClosed{id});
        maybe_close(id);
    }
}

void ServerSession::on_syn_reply(SynReply& f, std::vector<Event>& events) {
    inflater_.inflate(f.header_block); // keep the zlib stream in step
    // berthd opens no streams, so there is nothing a SYN_REPLY can answer.
    stream_error(f.stream_id, RstStatus::protocol_error, "SYN_REPLY for a stream the server did not open", events);
}

void ServerSession::on_headers(HeadersFrame& f, std::vector<Event>& events) {
    std::string raw = inflater_.inflate(f.header_block);
    auto it = streams_.find(f.stream_id);
    if (it == streams_.end()) {
        if (!recently_closed(f.stream_id) && !goaway_sent_)
            stream_error(f.stream_id, RstStatus::invalid_stream, "HEADERS on a stream that is not open", events);
        return;
    }
    if (it->second.remote_fin) {
        stream_error(f.stream_id, RstStatus::stream_already_closed, "HEADERS after the peer's FIN", events);
        return;
    }
    HeaderBlock headers;
    try {
        headers = parse_header_block(raw, config_.max_headers);
    } catch (const Error& e) {
        stream_error(f.stream_id, RstStatus::protocol_error, e.what(), events);
        return;
    }
    emit(events, StreamHeaders{f.stream_id, std::move(headers)});
    if (f.flags & flag_fin) {
        it->second.remote_fin = true;
        emit(events, StreamHalfClosed{f.stream_id});
        maybe_close(f.stream_id);
    }
}

void ServerSession::on_rst(const RstStream& f, std::vector<Event>& events) {
    // Never answered with another RST_STREAM (§2.6.3).
    if (!streams_.count(f.stream_id)) return;
    emit(events, StreamReset{f.stream_id, f.status, true, "reset by the peer: " + rst_status_name(f.status)});
    close_stream(f.stream_id);
}

void ServerSession::on_settings(const Settings& f, std::vector<Event>& events) {
    for (const Setting& s : f.entries) {
        if (s.id != static_cast<uint32_t>(SettingId::initial_window_size)) continue; // the rest do not concern a server
        if (s.value > max_window)
            throw Error(EPROTO, "SPDY SETTINGS: INITIAL_WINDOW_SIZE " + std::to_string(s.value) +
                                    " exceeds 2^31-1 (§2.6.8)");
        stats_.peer_flow_control = true;
        // §2.6.8: a new initial window moves every stream's window by the
        // difference, which may leave it negative. The session window is
        // not affected (SPDY/3.1).
        const int64_t delta = int64_t(s.value) - peer_initial_window_;
        peer_initial_window_ = s.value;
        std::vector<uint32_t> overflowed;
        for (auto& [id, st] : streams_) {
            st.send_window += delta;
            if (st.send_window > int64_t(max_window)) overflowed.push_back(id);
        }
        for (uint32_t id : overflowed)
            stream_error(id, RstStatus::flow_control_error, "SETTINGS pushes the stream window past 2^31-1", events);
    }
}

void ServerSession::on_ping(const Ping& f, std::vector<Event>& events) {
    if (f.id % 2 == 1) { // the client's: echo it (§2.6.5)
        encode(f, output_);
        ++stats_.pings_answered;
        emit(events, PingReceived{f.id});
        return;
    }
    // An even id is ours; one we did not send is ignored (§2.6.5).
    auto it = std::find(pings_out_.begin(), pings_out_.end(), f.id);
    if (it == pings_out_.end()) return;
    pings_out_.erase(it);
    emit(events, PingAnswered{f.id});
}

void ServerSession::on_window_update(const WindowUpdate& f, std::vector<Event>& events) {
    stats_.peer_flow_control = true;
    ++stats_.window_updates_received;
    if (f.stream_id == 0) {
        if (f.delta == 0) throw Error(EPROTO, "SPDY WINDOW_UPDATE: delta 0 for the session (§2.6.8: 1 to 2^31-1)");
        session_send_window_ += f.delta;
        if (session_send_window_ > int64_t(max_window))
            throw Error(EPROTO, "SPDY WINDOW_UPDATE: the session window grows past 2^31-1 (§2.6.8)");
        return;
    }
    auto it = streams_.find(f.stream_id);
    if (it == streams_.end()) return; // the stream may have just closed
    if (f.delta == 0) {
        stream_error(f.stream_id, RstStatus::protocol_error, "WINDOW_UPDATE with delta 0", events);
        return;
    }
    it->second.send_window += f.delta;
    if (it->second.send_window > int64_t(max_window))
        stream_error(f.stream_id, RstStatus::flow_control_error, "WINDOW_UPDATE grows the window past 2^31-1", events);
}

void ServerSession::stream_error(uint32_t id, RstStatus status, std::string reason, std::vector<Event>& events) {
    encode(RstStream{id, static_cast<uint32_t>(status)}, output_);
    ++stats_.stream_errors;
    if (streams_.count(id)) {
        emit(events, StreamReset{id, static_cast<uint32_t>(status), false, std::move(reason)});
        close_stream(id);
    } else if (!recently_closed(id)) {
        recently_closed_.push_back(id);
        if (recently_closed_.size() > recent_streams) recently_closed_.pop_front();
    }
}

void ServerSession::close_stream(uint32_t id) {
    streams_.erase(id);
    recently_closed_.push_back(id);
    if (recently_closed_.size() > recent_streams) recently_closed_.pop_front();
}

void ServerSession::maybe_close(uint32_t id) {
    auto it = streams_.find(id);
    if (it != streams_.end() && it->second.remote_fin && it->second.fin_sent) close_stream(id);
}

bool ServerSession::recently_closed(uint32_t id) const {
    return std::find(recently_closed_.begin(), recently_closed_.end(), id) != recently_closed_.end();
}

void ServerSession::discard_data(size_t n) {
    session_recv_window_ -= static_cast<int64_t>(n);
    if (enforcing() && session_recv_window_ < 0)
        throw Error(EPROTO, "SPDY DATA overruns the session window by " + std::to_string(-session_recv_window_) +
                                " bytes (SPDY/3.1 §2.6.8)");
    credit_session(n);
}

void ServerSession::credit_session(size_t n) {
    session_recv_unacked_ += n;
    // Announce in batches of half a window, as peers refill by then; a
    // WINDOW_UPDATE per small read would flood the connection.
    if (session_recv_unacked_ > 0 && session_recv_unacked_ >= config_.session_window / 2) {
        window_update(0, session_recv_unacked_);
        session_recv_window_ += static_cast<int64_t>(session_recv_unacked_);
        session_recv_unacked_ = 0;
    }
}

// A delta is at most 2^31-1 (§2.6.8); only a peer that ignores the
// windows lets more than that be consumed at once.
void ServerSession::window_update(uint32_t id, size_t delta) {
    while (delta > 0) {
        uint32_t d = static_cast<uint32_t>(std::min<size_t>(delta, max_window));
        encode(WindowUpdate{id, d}, output_);
        ++stats_.window_updates_sent;
        delta -= d;
    }
}

void ServerSession::consumed(uint32_t stream_id, size_t n) {
    if (n == 0 || failed_) return;
    if (n > session_outstanding_)
        throw Error(EINVAL, "SPDY " + sid(stream_id) + ": consumed " + std::to_string(n) + " bytes, but only " +
                                std::to_string(session_outstanding_) + " were delivered and not yet consumed");
    auto it = streams_.find(stream_id);
    if (it != streams_.end()) {
        Stream& s = it->second;
        if (n > s.recv_outstanding)
            throw Error(EINVAL, "SPDY " + sid(stream_id) + ": consumed " + std::to_string(n) + " bytes, but only " +
                                    std::to_string(s.recv_outstanding) + " were delivered on it and not yet consumed");
        s.recv_outstanding -= n;
        if (!s.remote_fin) { // no update for a stream the peer has finished
            s.recv_unacked += n;
            if (s.recv_unacked >= config_.initial_window / 2) {
                window_update(stream_id, s.recv_unacked);
                s.recv_window += static_cast<int64_t>(s.recv_unacked);
                s.recv_unacked = 0;
            }
        }
    }
    session_outstanding_ -= n;
    credit_session(n);
}

ServerSession::Stream* ServerSession::sending_stream(uint32_t id, const char* what) {
    auto it = streams_.find(id);
    if (it != streams_.end()) return &it->second;
    if (id % 2 == 1 && id <= last_peer_stream_) return nullptr; // closed meanwhile
    throw Error(EINVAL, std::string("SPDY ") + what + ": the peer never opened " + sid(id));
}

void ServerSession::reply(uint32_t stream_id, const HeaderBlock& headers, bool fin) {
    if (failed_) return;
    Stream* sp = sending_stream(stream_id, "reply");
    if (!sp) return;
    Stream& s = *sp;
    if (s.replied) throw Error(EINVAL, "SPDY reply: " + sid(stream_id) + " was already replied to");
    if (s.unidirectional) throw Error(EINVAL, "SPDY reply: " + sid(stream_id) + " is unidirectional");
    SynReply f{stream_id, static_cast<uint8_t>(fin ? flag_fin : 0), deflater_.deflate(headers)};
    encode(f, output_);
    s.replied = true;
    if (fin) {
        s.local_fin = s.fin_sent = true;
        maybe_close(stream_id);
    }
}

size_t ServerSession::send_data(uint32_t stream_id, std::string_view data, bool fin) {
    if (failed_) return 0;
    Stream* sp = sending_stream(stream_id, "send");
    if (!sp) return 0;
    Stream& s = *sp;
    if (!s.replied) throw Error(EINVAL, "SPDY send: " + sid(stream_id) + " has not been replied to");
    if (s.local_fin) throw Error(EINVAL, "SPDY send: " + sid(stream_id) + " is already finished");
    size_t n = std::min(data.size(), config_.max_stream_queue - std::min(config_.max_stream_queue, s.queue.size()));
    s.queue.append(data.substr(0, n));
    if (fin && n == data.size()) s.local_fin = true;
    pump();
    return n;
}

size_t ServerSession::writable(uint32_t stream_id) const {
    if (failed_) return 0;
    auto it = streams_.find(stream_id);
    if (it == streams_.end() || !it->second.replied || it->second.local_fin) return 0;
    return config_.max_stream_queue - std::min(config_.max_stream_queue, it->second.queue.size());
}

bool ServerSession::may_send(uint32_t stream_id) const {
    auto it = streams_.find(stream_id);
    return !failed_ && it != streams_.end() && it->second.replied && !it->second.local_fin;
}

size_t ServerSession::queued(uint32_t stream_id) const {
    auto it = streams_.find(stream_id);
    return it == streams_.end() ? 0 : it->second.queue.size();
}

int64_t ServerSession::send_window(uint32_t stream_id) const {
    auto it = streams_.find(stream_id);
    return it == streams_.end() ? 0 : it->second.send_window;
}

void ServerSession::reset(uint32_t stream_id, RstStatus status) {
    if (failed_ || !streams_.count(stream_id)) return;
    encode(RstStream{stream_id, static_cast<uint32_t>(status)}, output_);
    close_stream(stream_id);
}

void ServerSession::goaway(GoawayStatus status) {
    if (goaway_sent_ || failed_) return;
    queue_goaway(status);
}

void ServerSession::queue_goaway(GoawayStatus status) {
    encode(Goaway{last_accepted_stream_, static_cast<uint32_t>(status)}, output_);
    goaway_sent_ = true;
}

uint32_t ServerSession::ping() {
    uint32_t id = next_ping_id_;
    next_ping_id_ = next_ping_id_ >= max_stream_id - 1 ? 2 : next_ping_id_ + 2;
    if (failed_) return id;
    pings_out_.push_back(id);
    if (pings_out_.size() > max_pings_out) pings_out_.erase(pings_out_.begin());
    encode(Ping{id}, output_);
    return id;
}

void ServerSession::consume_output(size_t n) {
    if (n > pending_output().size())
        throw Error(EINVAL, "SPDY session: consume_output(" + std::to_string(n) + ") past the " +
                                std::to_string(pending_output().size()) + " pending bytes");
    output_off_ += n;
    if (output_off_ == output_.size()) {
        output_.clear();
        output_off_ = 0;
    } else if (output_off_ >= 64 * 1024 && output_off_ * 2 >= output_.size()) {
        output_.erase(0, output_off_);
        output_off_ = 0;
    }
    pump();
}

// Moves queued DATA into the output, round-robin over the streams, as far
// as the peer's windows (when they bind) and the output's high-water mark
// allow.
void ServerSession::pump() {
    if (failed_) return;
    while (pending_output().size() < config_.output_high_water && !streams_.empty()) {
        bool progressed = false;
        auto it = streams_.lower_bound(rr_next_);
        for (size_t visited = 0, total = streams_.size(); visited < total; ++visited) {
            if (pending_output().size() >= config_.output_high_water) break;
            if (it == streams_.end()) it = streams_.begin();
            if (it == streams_.end()) break;
            const uint32_t id = it->first;
            Stream& s = it->second;
            ++it;
            const bool fin_due = s.local_fin && !s.fin_sent;
            if (s.queue.empty() && !fin_due) continue;
            size_t n = std::min(s.queue.size(), config_.max_data_frame);
            if (enforcing()) {
                int64_t window = std::min(s.send_window, session_send_window_);
                n = window <= 0 ? 0 : std::min<size_t>(n, static_cast<size_t>(window));
            }
            if (n == 0 && !s.queue.empty()) { // an empty FIN frame needs no window
                if (!s.stalled) ++stats_.window_stalls;
                s.stalled = true;
                continue;
            }
            s.stalled = false;
            const bool fin = fin_due && n == s.queue.size();
            encode_data(id, std::string_view(s.queue).substr(0, n), fin, output_);
            s.queue.erase(0, n);
            s.send_window -= static_cast<int64_t>(n);
            session_send_window_ -= static_cast<int64_t>(n);
            rr_next_ = id + 1;
            progressed = true;
            if (fin) {
                s.fin_sent = true;
                maybe_close(id); // `it` already points past this stream
            }
        }
        if (!progressed) break;
    }
}

} // namespace berth::stream::spdy
