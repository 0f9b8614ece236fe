// tools/pixelrnn/flags.cpp: the flag parser (see flags.h).
#include "tools/pixelrnn/flags.h"

#include <cctype>
#include <cerrno>
#include <iostream>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace pixelrnn::tool {

Flags::Flags(std::string command, std::string synopsis, std::string description)
    : command_(std::move(command)), synopsis_(std::move(synopsis)), description_(std::move(description)) {}

void Flags::value(const std::string& name, const std::string& value_name, const std::string& help,
                  const std::string& default_text, const std::string& short_name) {
  specs_.push_back({name, short_name, value_name, help, default_text, true, false});
}

void Flags::flag(const std::string& name, const std::string& help) {
  specs_.push_back({name, "", "", help, "", false, false});
}

void Flags::hidden_value(const std::string& name) { specs_.push_back({name, "", "X", "", "", true, true}); }

void Flags::positionals(const std::string& name, const std::string& help) {
  allow_positional_ = true;
  positional_name_ = name;
  positional_help_ = help;
}

const Flags::Spec* Flags::find(const std::string& key, bool is_short) const {
  for (const Spec& s : specs_)
    if (is_short ? (!s.short_name.empty() && s.short_name == key) : s.name == key) return &s;
  return nullptr;
}

void Flags::parse(const std::vector<std::string>& args) {
  bool flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (flags_done || a.size() < 2 || a[0] != '-') {
      if (!allow_positional_) throw UsageError("unexpected argument '" + a + "'");
      positional_.push_back(a);
      continue;
    }
    if (a == "--") {
      flags_done = true;
      continue;
    }
    if (a == "--help" || a == "-h") {
      help_ = true;
      continue;
    }
    if (a == "--version") {
      version_ = true;
      continue;
    }
    const bool is_short = a[1] != '-';
    std::string key = is_short ? a.substr(1) : a.substr(2), val;
    bool has_inline = false;
    if (const size_t eq = key.find('='); eq != std::string::npos) {
      val = key.substr(eq + 1);
      key = key.substr(0, eq);
      has_inline = true;
    }
    const Spec* s = find(key, is_short);
    if (!s) throw UsageError("unknown flag '" + a + "'");
    const std::string shown = is_short ? "-" + key : "--" + key;
    if (!s->takes_value) {
      if (has_inline) throw UsageError(shown + " takes no value");
      values_[s->name] = "1";
      typed_[s->name] = shown;
      continue;
    }
    if (!has_inline) {
      if (i + 1 >= args.size()) throw UsageError(shown + " needs a value (" + s->value_name + ")");
      val = args[++i];
    }
    values_[s->name] = val;
    typed_[s->name] = shown;
  }
}

std::string Flags::help() const {
  std::ostringstream o;
  o << "usage: " << command_ << " " << synopsis_ << "\n\n" << description_ << "\n";
  if (allow_positional_) o << "\narguments:\n  " << positional_name_ << "\n      " << positional_help_ << "\n";
  o << "\nflags:\n";
  for (const Spec& s : specs_) {
    if (s.hidden) continue;
    std::string head = "  ";
    if (!s.short_name.empty()) head += "-" + s.short_name + ", ";
    head += "--" + s.name;
    if (s.takes_value) head += " " + s.value_name;
    o << head << "\n      " << s.help;
    if (!s.default_text.empty()) o << " (default: " << s.default_text << ")";
    o << "\n";
  }
  o << "  -h, --help\n      show this help and exit\n  --version\n      print the version and exit\n";
  return o.str();
}

std::string Flags::shown(const std::string& name) const {
  auto it = typed_.find(name);
  return it == typed_.end() ? "--" + name : it->second;
}

bool Flags::has(const std::string& name) const { return values_.count(name) != 0; }

std::string Flags::str(const std::string& name, const std::string& def) const {
  auto it = values_.find(name);
  return it == values_.end() ? def : it->second;
}

int64_t parse_int(const std::string& what, const std::string& text) {
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || end != text.c_str() + text.size() || errno == ERANGE)
    throw UsageError(what + ": expected an integer, got '" + text + "'");
  return v;
}

double parse_real(const std::string& what, const std::string& text) {
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || errno == ERANGE || !std::isfinite(v))
    throw UsageError(what + ": expected a finite number, got '" + text + "'");
  return v;
}

int64_t Flags::integer(const std::string& name, int64_t def, int64_t lo, int64_t hi) const {
  if (!has(name)) return def;
  const int64_t v = parse_int(shown(name), str(name));
  if (v < lo || v > hi) {
    std::string range = hi == INT64_MAX ? ">= " + std::to_string(lo) : "in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
    throw UsageError(shown(name) + ": must be " + range + ", got " + std::to_string(v));
  }
  return v;
}

double Flags::real(const std::string& name, double def, double lo, double hi) const {
  if (!has(name)) return def;
  const double v = parse_real(shown(name), str(name));
  if (v < lo || v > hi) {
    std::ostringstream o;
    o << shown(name) << ": must be in [" << lo << ", " << hi << "], got " << v;
    throw UsageError(o.str());
  }
  return v;
}

std::string Flags::choice(const std::string& name, const std::string& def,
                          const std::vector<std::string>& choices) const {
  const std::string v = str(name, def);
  for (const std::string& c : choices)
    if (c == v) return v;
  std::string list;
  for (const std::string& c : choices) list += (list.empty() ? "" : ", ") + c;
  throw UsageError(shown(name) + ": unknown value '" + v + "' (choose one of: " + list + ")");
}

#ifndef PIXELRNN_VERSION
#define PIXELRNN_VERSION "unknown"
#endif

std::string version_line() { return std::string("pixelrnn ") + PIXELRNN_VERSION; }

bool help_or_version(const Flags& f) {
  if (f.help_requested()) {
    std::cout << f.help();
    return true;
  }
  if (f.version_requested()) {
    std::cout << version_line() << "\n";
    return true;
  }
  return false;
}

void check_extension(const Flags& f, const std::string& name, const std::string& ext) {
  const std::string path = f.str(name);
  std::string tail = path.size() >= ext.size() ? path.substr(path.size() - ext.size()) : "";
  for (char& ch : tail) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  if (tail != ext)
    throw UsageError(f.shown(name) + " " + path + ": the file name must end with " + ext + " (" +
                     (ext == ".png" ? "the grid is written as PNG" : "the array is written as NumPy .npy") + ")");
}

std::vector<int64_t> parse_int_list(const std::string& flag, const std::string& text, size_t count) {
  std::vector<int64_t> out;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    out.push_back(parse_int(flag, text.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (out.size() != count)
    throw UsageError(flag + ": expected " + std::to_string(count) + " comma-separated integers, got '" + text + "'");
  return out;
}

}  // namespace pixelrnn::tool
