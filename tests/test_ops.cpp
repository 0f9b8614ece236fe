// tests/test_ops.cpp: every op in framework/ops/families.h has a gradient check (tests/grad_*.cpp) and a line in
// docs/ops.md; then all the checks run, one doctest subcase per op.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "framework/ops/families.h"
#include "tests/gradcheck.h"

namespace {
struct OpRow {
  const char* name;
  const char* family;
};
#define FW_OP_ROW(name, family, what) {#name, family},
const std::vector<OpRow> kOps = {FW_OP_TABLE(FW_OP_ROW)};
#undef FW_OP_ROW
}  // namespace

TEST_CASE("every op in the op table has a gradient check") {
  for (const auto& op : kOps) {
    INFO("op '" << std::string(op.name) << "' (framework/ops/" << std::string(op.family)
                << ".cpp) has no GRADCHECK in tests/grad_" << std::string(op.family) << ".cpp");
    CHECK(gradcheck::registry().count(op.name) == 1);
  }
  for (const auto& [name, fn] : gradcheck::registry()) {
    bool listed = false;
    for (const auto& op : kOps) listed = listed || name == op.name;
    INFO("GRADCHECK(" << name << ") names no op in framework/ops/families.h");
    CHECK(listed);
  }
}

TEST_CASE("every op in the op table is documented in docs/ops.md") {
  std::ifstream f("docs/ops.md");
  REQUIRE_MESSAGE(f.good(), "docs/ops.md missing (tests run from the repository root)");
  std::stringstream ss;
  ss << f.rdbuf();
  std::string doc = ss.str();
  for (const auto& op : kOps) {
    INFO("docs/ops.md has no row for `" << std::string(op.name) << "`");
    CHECK(doc.find("| `" + std::string(op.name) + "` |") != std::string::npos);
  }
}

TEST_CASE("gradient checks (float64 central differences)") {
  for (const auto& [name, fn] : gradcheck::registry()) {
    SUBCASE(name.c_str()) { fn(); }
  }
}
