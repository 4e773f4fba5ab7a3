// berth.v1.Executions.Logs: the workload's CRI log file (kubelet's format,
// "TIME STREAM TAG CONTENT" a line) turned back into what it wrote, each
// chunk marked stdout or stderr; with follow, until the workload ends and
// its last lines are sent.
#include "executions.hpp"

#include "error.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace berth::cri {

namespace {

// Sends the complete lines of buf, keeping a trailing partial one.
void send_lines(std::string& buf, grpc::ServerWriter<berth::v1::LogChunk>& out) {
    size_t start = 0;
    for (size_t nl; (nl = buf.find('\n', start)) != std::string::npos; start = nl + 1) {
        std::string_view line(buf.data() + start, nl - start);
        // TIME STREAM TAG CONTENT
        size_t a = line.find(' ');
        size_t b = a == std::string_view::npos ? a : line.find(' ', a + 1);
        size_t c = b == std::string_view::npos ? b : line.find(' ', b + 1);
        if (c == std::string_view::npos) continue;   // not a log line
        std::string_view stream = line.substr(a + 1, b - a - 1), tag = line.substr(b + 1, c - b - 1);
        berth::v1::LogChunk chunk;
        std::string data(line.substr(c + 1));
        if (tag != "P") data += '\n';
        chunk.set_data(std::move(data));
        chunk.set_stderr(stream == "stderr");
        if (!out.Write(chunk)) throw Error(ECONNRESET, "Logs: the client went away");
    }
    buf.erase(0, start);
}

} // namespace

void execution_logs(Daemon& d, grpc::ServerContext& ctx, const Caller& caller, const berth::v1::LogsRequest& req,
                    grpc::ServerWriter<berth::v1::LogChunk>& out) {
    // A queued one has written nothing yet; followed, it is waited for.
    for (;;) {
        auto q = find_queued(d, caller, req.id());
        if (!q) break;
        if (!req.follow() || q->state() != "queued" || ctx.IsCancelled()) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    PodRecord p = find_execution(d, caller, req.id());
    auto w = workload_of(d, p);
    if (!w) throw Error(ENOENT, "execution " + p.id() + ": it has no workload");
    UniqueFd fd(::open(w->log_path().c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("execution " + p.id() + ": its log " + w->log_path());
    std::string buf;
    bool last_round = false;
    for (;;) {
        char chunk[64 * 1024];
        ssize_t n = ::read(fd.get(), chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("execution " + p.id() + ": read its log");
        }
        if (n > 0) {
            buf.append(chunk, static_cast<size_t>(n));
            send_lines(buf, out);
            continue;
        }
        // At the end of what is written.
        if (!req.follow() || last_round) return;
        if (ctx.IsCancelled()) return;
        auto now = workload_of(d, p);
        // Once it has ended, one more read takes what its shim wrote last.
        if (!now || now->state() == runtime::v1::CONTAINER_EXITED) last_round = true;
        else std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

} // namespace berth::cri
