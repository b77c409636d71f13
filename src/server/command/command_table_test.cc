// The command table: consistency of the data, COMMAND replies, docs/commands.md in sync.
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "server/command/arg_parse.h"
#include "server/command/command.h"
#include "server/command/command_test_base.h"

namespace skeg::server::testing {
namespace {

TEST(CommandTableTest, EntriesAreConsistent) {
  std::set<std::string_view> names;
  for (const CommandSpec& spec : AllCommands()) {
    EXPECT_TRUE(names.insert(spec.name).second) << spec.name;
    EXPECT_NE(spec.arity, 0) << spec.name;
    EXPECT_TRUE(spec.handler != nullptr || !spec.subcommands.empty()) << spec.name;
    EXPECT_FALSE(spec.summary.empty()) << spec.name;
    EXPECT_FALSE((spec.flags & kCmdWrite) && (spec.flags & kCmdReadOnly)) << spec.name;
    EXPECT_EQ(FindCommand(AsciiUpper(spec.name)), &spec);
    for (const CommandSpec& sub : spec.subcommands) {
      EXPECT_NE(sub.handler, nullptr) << spec.name << "|" << sub.name;
      EXPECT_EQ(FindSubcommand(spec, sub.name), &sub);
    }
  }
  EXPECT_EQ(FindCommand("hset"), nullptr);
}

TEST(CommandTableTest, DocsAreInSync) {
  const std::string path = std::string(SKEG_SOURCE_DIR) + "/docs/commands.md";
  const std::string expected = RenderCommandsMarkdown();
  if (std::getenv("SKEG_UPDATE_DOCS") != nullptr) {
    std::ofstream(path) << expected;
  }
  std::ifstream in(path);
  std::stringstream actual;
  actual << in.rdbuf();
  EXPECT_EQ(actual.str(), expected) << "docs/commands.md is stale: rerun with SKEG_UPDATE_DOCS=1";
}

using CommandCommandTest = CommandTest;

TEST_F(CommandCommandTest, CountInfoDocsList) {
  EXPECT_EQ(Run({"COMMAND", "COUNT"}), "(integer) " + std::to_string(AllCommands().size()));
  EXPECT_EQ(RunValue({"COMMAND"}).elems.size(), AllCommands().size());
  EXPECT_EQ(Run({"COMMAND", "INFO", "get", "nosuch"}),
            "[[\"get\", (integer) 2, [readonly, fast], (integer) 1, (integer) 1, (integer) 1, "
            "[@read, @string, @fast], [], [], []], (nil)]");
  RespValue client = RunValue({"COMMAND", "INFO", "client"});
  ASSERT_EQ(client.elems.size(), 1u);
  EXPECT_FALSE(client.elems[0].elems[9].elems.empty());
  EXPECT_EQ(client.elems[0].elems[9].elems[0].elems[0].str, "client|getname");
  RespValue docs = RunValue({"COMMAND", "DOCS", "set"});
  ASSERT_EQ(docs.elems.size(), 2u) << docs.ToString();
  EXPECT_EQ(docs.elems[0].str, "set");
  EXPECT_EQ(docs.elems[1].elems[0].str, "summary");
  EXPECT_EQ(RunValue({"COMMAND", "DOCS"}).elems.size(), AllCommands().size() * 2);
  EXPECT_FALSE(RunValue({"COMMAND", "LIST"}).elems.empty());
  EXPECT_EQ(Run({"COMMAND", "FOO"}), "ERR unknown subcommand 'FOO'. Try COMMAND HELP.");
}

}  // namespace
}  // namespace skeg::server::testing
