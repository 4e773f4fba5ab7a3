// runtime/cli/args: flags where runc's CLI takes them.
#include "args.hpp"
#include "error.hpp"

#include <criterion/criterion.h>

#include <cstring>

using namespace berth::cli;

namespace {

const std::vector<Flag> cmd_flags = {
    {"all", 'a', false, "all"},
    {"pids-limit", 0, true, "limit"},
    {"resources", 'r', true, "file"},
};
const std::vector<Flag> globals = {{"root", 0, true, "state dir"}, {"debug", 0, false, "debug"}};

Parsed run(std::vector<std::string> argv, FlagOrder order = FlagOrder::anywhere, size_t* end = nullptr) {
    size_t i = 0;
    Parsed p = parse(argv, i, cmd_flags, {order, &globals, "update"});
    if (end) *end = i;
    return p;
}

void expect_error(std::vector<std::string> argv, const char* want, FlagOrder order = FlagOrder::anywhere) {
    try {
        run(std::move(argv), order);
    } catch (const berth::Error& e) {
        cr_expect(std::strstr(e.what(), want) != nullptr, "error \"%s\" does not contain \"%s\"", e.what(), want);
        return;
    }
    cr_expect(false, "no error, wanted one containing \"%s\"", want);
}

} // namespace

Test(cli_args, flags_after_positionals) {
    auto p = run({"ID", "--pids-limit", "5", "0", "-a"});
    cr_expect(p.args == std::vector<std::string>({"ID", "0"}));
    cr_expect_eq(p.get("pids-limit"), std::string("5"));
    cr_expect(p.flag("all"));
    auto q = run({"-a", "ID", "--pids-limit=7", "-resources", "-"});
    cr_expect(q.args == std::vector<std::string>({"ID"}));
    cr_expect_eq(q.get("pids-limit"), std::string("7"));
    cr_expect_eq(q.get("resources"), std::string("-"), "a value may start with a dash");
}

Test(cli_args, double_dash_ends_flags) {
    auto p = run({"ID", "--", "-a", "--pids-limit"});
    cr_expect(p.args == std::vector<std::string>({"ID", "-a", "--pids-limit"}));
    cr_expect(!p.flag("all"));
}

Test(cli_args, leading_stops_at_the_first_positional) {
    auto p = run({"-a", "ID", "sh", "-a", "--pids-limit", "1"}, FlagOrder::leading);
    cr_expect(p.flag("all"));
    cr_expect(!p.has("pids-limit"));
    cr_expect(p.args == std::vector<std::string>({"ID", "sh", "-a", "--pids-limit", "1"}));
}

Test(cli_args, until_command_leaves_the_command) {
    size_t end = 0;
    std::vector<std::string> argv = {"-a", "list", "-q"};
    size_t i = 0;
    Parsed p = parse(argv, i, cmd_flags, {FlagOrder::until_command});
    end = i;
    cr_expect(p.flag("all"));
    cr_expect(p.args.empty());
    cr_expect_eq(end, 1u);
}

Test(cli_args, errors) {
    expect_error({"ID", "--bogus"}, "unknown flag --bogus");
    expect_error({"ID", "--pids-limit"}, "flag --pids-limit needs a value");
    // A global flag after the command says where it goes.
    expect_error({"ID", "--root", "/x"}, "flag --root is a global flag: give it before the command, as in `berth --root VALUE update ...`");
    expect_error({"-debug"}, "flag -debug is a global flag");
}

Test(cli_args, help_table_shows_value_names) {
    std::vector<Flag> f = {{"bundle", 'b', true, "the bundle", "DIR"}, {"force", 0, false, "force it"}};
    std::string t = flag_table(f);
    cr_expect(t.find("  -b, --bundle DIR") != std::string::npos, "%s", t.c_str());
    cr_expect(t.find("      --force") != std::string::npos, "%s", t.c_str());
}
