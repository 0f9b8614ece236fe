// tools/pixelrnn/flags.h: a small command-line flag parser for the pixelrnn subcommands.
//
// Each subcommand declares its flags (with help text) on a Flags object, then parses its arguments:
//   --name VALUE, --name=VALUE, -x VALUE (short aliases), switches (--name, no value), positional arguments,
//   and "--" to end the flags. --help / -h sets help_requested() and --version version_requested() instead of
//   failing (help_or_version() prints them).
// Errors in the command line (an unknown flag, a missing value, a malformed number) throw UsageError, which the
// program reports with exit status 2. A flag given twice keeps the last value (as argparse does).
#pragma once
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace pixelrnn::tool {

// A mistake in the command line itself; main() prints it with a hint to --help and exits with status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Flags {
 public:
  // command: "pixelrnn train"; synopsis: the usage line after the command; description: a paragraph.
  Flags(std::string command, std::string synopsis, std::string description);

  // Declares a flag taking a value. name is the long form without dashes ("batch"); short_name is one letter
  // or empty; value_name is shown in the help ("N"); default_text is shown as "(default: ...)" when non-empty.
  void value(const std::string& name, const std::string& value_name, const std::string& help,
             const std::string& default_text = "", const std::string& short_name = "");
  // Declares a switch (no value).
  void flag(const std::string& name, const std::string& help);
  // Declares that positional arguments are accepted (shown in the help); without it they are a usage error.
  void positionals(const std::string& name, const std::string& help);
  // Hidden flags are accepted but not listed in --help (testing aids).
  void hidden_value(const std::string& name);

  // Parses args (without the program and subcommand names).
  // throws: UsageError naming the offending argument.
  void parse(const std::vector<std::string>& args);

  bool help_requested() const { return help_; }
  bool version_requested() const { return version_; }
  std::string help() const;

  // Whether the flag was given on the command line.
  bool has(const std::string& name) const;
  // The value of a flag, or def when absent.
  std::string str(const std::string& name, const std::string& def = "") const;
  // Integer / real values, checked to lie in [lo, hi]; def when absent.
  // throws: UsageError "--name: expected ..., got '...'" (the flag as typed, shown()) on malformed or out-of-range
  //   values.
  int64_t integer(const std::string& name, int64_t def, int64_t lo = INT64_MIN, int64_t hi = INT64_MAX) const;
  double real(const std::string& name, double def, double lo, double hi) const;
  // A value that must be one of choices. throws: UsageError listing the choices.
  std::string choice(const std::string& name, const std::string& def, const std::vector<std::string>& choices) const;
  bool on(const std::string& name) const { return has(name); }
  const std::vector<std::string>& args() const { return positional_; }
  const std::string& command() const { return command_; }
  // The flag as the user typed it ("-n" or "--count"), for error messages; "--name" when it was not given.
  std::string shown(const std::string& name) const;

 private:
  struct Spec {
    std::string name, short_name, value_name, help, default_text;
    bool takes_value = true, hidden = false;
  };
  const Spec* find(const std::string& long_or_short, bool is_short) const;
  std::string command_, synopsis_, description_, positional_name_, positional_help_;
  std::vector<Spec> specs_;
  std::map<std::string, std::string> values_, typed_;
  std::vector<std::string> positional_;
  bool help_ = false, version_ = false, allow_positional_ = false;
};

// Prints the help (stdout) when --help was given, else the version when --version was given; returns whether it
// printed either (the command then exits with status 0).
bool help_or_version(const Flags& f);
// The program's version line ("pixelrnn 0.1.0").
std::string version_line();

// Checks that an output path ends with ext (".png", ".npy"), case-insensitively.
// throws: UsageError naming the flag as typed and the path.
void check_extension(const Flags& f, const std::string& name, const std::string& ext);

// Parses "a,b,c" integers (for --pixel R,C and --rect). throws: UsageError naming the flag.
std::vector<int64_t> parse_int_list(const std::string& flag, const std::string& text, size_t count);
// Strict number parsing shared by the parser. throws: UsageError naming what.
int64_t parse_int(const std::string& what, const std::string& text);
double parse_real(const std::string& what, const std::string& text);

}  // namespace pixelrnn::tool
