#include "attach.hpp"

#include "error.hpp"
#include "io_relay.hpp"
#include "log.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>

namespace berth::shim {

namespace {

UniqueFd connect_seqpacket(const std::string& path) {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof sa.sun_path) throw Error(EINVAL, "attach socket \"" + path + "\": bad path");
    std::memcpy(sa.sun_path, path.data(), path.size());
    UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) throw_errno("attach: socket");
    // A unix connect completes at once or fails (EAGAIN: the backlog is full).
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) throw_errno("attach: connect " + path);
    return fd;
}

} // namespace

AttachSession::AttachSession(EventLoop& loop, const std::string& path, AttachOptions opts, InputRelay* input)
    : loop_(loop), fd_(connect_seqpacket(path)), opts_(opts), input_(opts.in ? input : nullptr) {
    if (opts_.in && !input_) throw Error(EINVAL, "attach: the process has no stdin");
    if (!input_) input_done_ = true;
    update();   // first: if it throws, no relay holds a pointer to us
    if (input_) input_->add_session(this);
}

AttachSession::~AttachSession() {
    if (input_) input_->remove_session(this);
    close();
}

void AttachSession::send(Stream s, std::string_view data) {
    if (!fd_) return;
    if ((s == Stream::stdout_ && !opts_.out) || (s == Stream::stderr_ && !opts_.err)) return;
    while (!data.empty()) {
        size_t n = std::min(data.size(), max_packet);
        std::string pkt;
        pkt.reserve(n + 1);
        pkt.push_back(static_cast<char>(s));
        pkt.append(data.substr(0, n));
        data.remove_prefix(n);
        queued_ += pkt.size();
        queue_.push_back(std::move(pkt));
    }
    if (queued_ > max_queued) {
        log_error("attach: a session fell " + std::to_string(queued_) + " bytes behind the output: dropped");
        gone();
        return;
    }
    on_event(EPOLLOUT);
}

void AttachSession::on_event(uint32_t ev) {
    if (!fd_) return;
    while (!queue_.empty()) {
        ssize_t n = ::send(fd_.get(), queue_.front().data(), queue_.front().size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == ENOBUFS)) break;
        if (n < 0) {
            gone();   // EPIPE, ECONNRESET: the client left
            return;
        }
        queued_ -= queue_.front().size();
        queue_.pop_front();
    }
    if (finishing_ && queue_.empty()) {
        close();
        return;
    }
    // Input first, even on a hang-up: what the client sent before it left
    // still goes in (unless the relay is full: then it is lost with it).
    if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !input_done_ && !input_paused_) read_input();
    if ((ev & (EPOLLHUP | EPOLLERR)) && fd_) {
        gone();
        return;
    }
    update();
}

void AttachSession::read_input() {
    char buf[max_packet];
    while (input_ && !input_done_) {
        ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        if (n <= 0) {   // the client shut its input down (or left)
            end_input();
            break;
        }
        input_->push(std::string_view(buf, static_cast<size_t>(n)));
        // The push may have ended stdin (EPIPE: input_gone() cleared input_),
        // or filled the relay (it pauses us).
        if (!input_ || !input_->room()) break;
    }
}

void AttachSession::gone() {
    end_input();
    close();
}

void AttachSession::end_input() {
    if (input_done_) return;
    input_done_ = true;
    InputRelay* in = input_;
    input_ = nullptr;
    if (!in) return;
    in->remove_session(this);
    if (opts_.stdin_once) in->end(100);
}

void AttachSession::set_input_paused(bool paused) {
    input_paused_ = paused;
    update();
}

void AttachSession::input_gone() {
    input_ = nullptr;
    input_done_ = true;
    update();
}

void AttachSession::update() {
    if (!fd_) return;
    uint32_t want = 0;
    if (!queue_.empty()) want |= EPOLLOUT;
    if (!input_done_ && !input_paused_) want |= EPOLLIN;
    // Always watched (with no events, for EPOLLHUP): a client that leaves
    // is noticed.
    if (!loop_.watching(fd_.get())) loop_.add(fd_.get(), want, [this](uint32_t ev) { on_event(ev); });
    else if (want != watched_) loop_.modify(fd_.get(), want);
    watched_ = want;
}

void AttachSession::finish(int timeout_ms) {
    if (input_) {
        input_->remove_session(this);
        input_ = nullptr;
    }
    input_done_ = true;
    if (fd_ && !queue_.empty()) on_event(EPOLLOUT);   // may close
    if (!fd_ || queue_.empty()) {
        close();
        return;
    }
    finishing_ = true;
    finish_timer_ = std::make_unique<Timer>(loop_, timeout_ms, [this] { close(); });
    update();
}

void AttachSession::close() {
    finish_timer_.reset();
    if (fd_ && loop_.watching(fd_.get())) loop_.remove(fd_.get());
    fd_.reset();
    watched_ = 0;
    queue_.clear();
    queued_ = 0;
}

} // namespace berth::shim
