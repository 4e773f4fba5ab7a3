// berthctl logs: crictl's logs. The server only names the log file
// (ContainerStatus.log_path); berthctl reads it here in the CRI format, as
// crictl does, joining partial lines (cri_log.hpp). -f follows the file
// across rotation (a new file at the path) and truncation until the
// container stops.
#include "cri_log_reader.hpp"
#include "ctl.hpp"

#include "error.hpp"
#include "fd.hpp"

#include <cstdio>
#include <fcntl.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace berth::ctl {

namespace v1 = runtime::v1;

namespace {

v1::ContainerStatus status_of(Client& c, const std::string& id) {
    v1::ContainerStatusRequest req;
    req.set_container_id(id);
    v1::ContainerStatusResponse resp;
    auto ctx = c.context();
    Client::check(c.runtime().ContainerStatus(ctx.get(), req, &resp),
                  ("getting the status of container \"" + id + "\": ContainerStatus").c_str());
    return resp.status();
}

void print_lines(const std::vector<LogLine>& lines, bool timestamps) {
    for (const auto& l : lines) {
        std::string s = format_line(l, timestamps);
        std::fwrite(s.data(), 1, s.size(), l.is_stderr ? stderr : stdout);
    }
    std::fflush(stdout);
    std::fflush(stderr);
}

// Reads fd from its offset to EOF into the parser.
void drain(int fd, LogParser& p, std::vector<LogLine>& out) {
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("read the container log");
        if (n == 0) return;
        p.feed(std::string_view(buf, static_cast<size_t>(n)), out);
    }
}

int logs(Client& c, const Args& a) {
    if (a.pos.size() != 1) throw Error(EINVAL, "logs: one container id expected; usage: berthctl logs [OPTIONS] CONTAINER-ID");
    const std::string id = a.pos[0];
    LogOptions o;
    o.tail = int_flag(a, "tail", -1);
    o.timestamps = a.has("timestamps");
    auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    if (a.has("since")) o.since_ns = parse_since(a.get("since"), now);
    bool follow = a.has("follow");

    if (a.has("reopen")) {
        v1::ReopenContainerLogRequest req;
        req.set_container_id(id);
        v1::ReopenContainerLogResponse resp;
        auto ctx = c.context();
        Client::check(c.runtime().ReopenContainerLog(ctx.get(), req, &resp), "ReopenContainerLog");
    }
    v1::ContainerStatus st;
    try {
        st = status_of(c, id);
    } catch (const Error& e) {
        // Not a container the CRI shows us (a non-root user is refused
        // CRI): an execution of berth.v1.Executions, if it is one.
        std::string what = e.what();
        if (what.find("code = NotFound") == std::string::npos && what.find("code = PermissionDenied") == std::string::npos)
            throw;
        try {
            return execution_logs(c, id, follow);
        } catch (const Error&) {
            throw e;
        }
    }
    std::string path = st.log_path();
    if (path.empty()) throw Error(EINVAL, "the container \"" + id + "\" has no log path");
    if (a.has("previous")) {
        // kubelet names a container's logs by attempt: .../NAME/ATTEMPT.log
        if (st.metadata().attempt() == 0) throw Error(ENOENT, "previous terminated container \"" + id + "\" not found");
        auto slash = path.rfind('/'), dot = path.rfind('.');
        if (dot == std::string::npos || dot < slash + 1) dot = path.size();
        path = path.substr(0, slash + 1) + std::to_string(st.metadata().attempt() - 1) + path.substr(dot);
        follow = false;
    }

    UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("open the container log " + path);
    LogParser parser;
    std::vector<LogLine> lines;
    drain(fd.get(), parser, lines);
    bool running = st.state() == v1::CONTAINER_RUNNING || st.state() == v1::CONTAINER_CREATED;
    if (!follow || !running) parser.finish(lines);
    print_lines(select_lines(std::move(lines), o), o.timestamps);
    if (!follow || !running) return 0;

    LogOptions later = o;
    later.tail = -1;
    auto last_check = std::chrono::steady_clock::now();
    for (;;) {
        std::vector<LogLine> more;
        drain(fd.get(), parser, more);
        if (!more.empty()) {
            print_lines(select_lines(std::move(more), later), o.timestamps);
            continue;
        }
        struct stat at_path {}, ours {};
        if (fstat(fd.get(), &ours) != 0) throw_errno("stat the container log");
        if (stat(path.c_str(), &at_path) == 0 && (at_path.st_ino != ours.st_ino || at_path.st_dev != ours.st_dev)) {
            // Rotated: the old file is read to its end above; go on with
            // the new one from its start.
            UniqueFd next(open(path.c_str(), O_RDONLY | O_CLOEXEC));
            if (next) {
                fd = std::move(next);
                parser.reset_carry();
                continue;
            }
        }
        off_t pos = lseek(fd.get(), 0, SEEK_CUR);
        if (pos > ours.st_size) {   // truncated in place (copytruncate)
            lseek(fd.get(), 0, SEEK_SET);
            parser.reset_carry();
            continue;
        }
        auto t = std::chrono::steady_clock::now();
        if (t - last_check >= std::chrono::seconds(1)) {
            last_check = t;
            auto s = status_of(c, id).state();
            if (s != v1::CONTAINER_RUNNING && s != v1::CONTAINER_CREATED) {
                // Stopped: what the runtime wrote before the exit is there.
                drain(fd.get(), parser, more);
                parser.finish(more);
                print_lines(select_lines(std::move(more), later), o.timestamps);
                return 0;
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

} // namespace

std::vector<Verb> logs_verbs() {
    return {
        {"logs", "logs [OPTIONS] CONTAINER-ID", "Fetch the logs of a container",
         {{"follow", false, 'f', "follow the log until the container stops"},
          {"previous", false, 'p', "the log of the previous attempt of the container"},
          {"since", true, 0, "lines since an RFC3339 time or a duration before now (42m, 1h)"},
          {"tail", true, 0, "the last N lines only (-1: all)"},
          {"timestamps", false, 't', "show the timestamps"},
          {"reopen", false, 'r', "ask the runtime to reopen the log first (ReopenContainerLog)"}},
         logs, Operand::container},
    };
}

} // namespace berth::ctl
