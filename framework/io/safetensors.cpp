// framework/io/safetensors.cpp: the safetensors writer and its validating reader.
//
// The reader works in three passes so that nothing is allocated from an untrusted size before it is checked:
//   1. the 8-byte size field and the header bounds;
//   2. the JSON (nlohmann, with a parser callback that records the header order and spots duplicate keys) and
//      every tensor entry's fields, shape and byte count;
//   3. the offsets, sorted, must tile the buffer exactly; only then are tensors allocated and filled.
#include "framework/io/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

namespace fw::io {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors.cpp copies tensor bytes as they are: it needs a little-endian host");

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

// Largest element count accepted; the same bound shape_numel (framework/core/tensor.h) enforces.
constexpr uint64_t kMaxNumel = static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / 16;

[[noreturn]] void fail(const std::string& name, const std::string& problem) {
  throw CheckpointError(name + ": " + problem);
}

// A name or key for an error message: quoted, control bytes escaped, at most 80 bytes of it.
std::string show(const std::string& s) {
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < 80; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > 80) out += "...";
  return out + "'";
}

std::string shape_text(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

const char* st_dtype_name(DType d) { return d == DType::F64 ? "F64" : "F32"; }

bool valid_utf8(const std::string& s) {
  try {
    (void)json(s).dump();
    return true;
  } catch (const json::type_error&) {
    return false;
  }
}

// ---------------------------------------------------------------- writer

struct Plan {
  std::string header;                 // the JSON, padded with spaces to a multiple of 8
  std::vector<Tensor> data;           // contiguous CPU tensors, in file order
};

Plan make_plan(const nn::NamedTensors& tensors, const std::map<std::string, std::string>& metadata,
               const std::string& name) {
  ordered_json header = ordered_json::object();
  if (!metadata.empty()) {
    ordered_json meta = ordered_json::object();
    for (const auto& [k, v] : metadata) {
      if (!valid_utf8(k)) fail(name, "metadata key " + show(k) + " is not valid UTF-8");
      if (!valid_utf8(v)) fail(name, "metadata value for key " + show(k) + " is not valid UTF-8");
      meta[k] = v;
    }
    header["__metadata__"] = std::move(meta);
  }
  Plan plan;
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& [tname, t] : tensors) {
    if (tname.empty()) fail(name, "a tensor has an empty name");
    if (tname == "__metadata__") fail(name, "a tensor is named '__metadata__', which the format reserves");
    if (!valid_utf8(tname)) fail(name, "tensor name " + show(tname) + " is not valid UTF-8");
    if (!seen.insert(tname).second) fail(name, "duplicate tensor name " + show(tname));
    if (!t.defined()) fail(name, "tensor " + show(tname) + " is undefined");
    if (t.device() != Device::CPU) fail(name, "tensor " + show(tname) + " is not on the CPU; copy it there first");
    if (t.dtype() != DType::F32 && t.dtype() != DType::F64)
      fail(name, "tensor " + show(tname) + " has dtype " + dtype_name(t.dtype()) + " (supported: F32, F64)");
    // (numel() == 0 first: core's is_contiguous() says false for some zero-size shapes such as (3, 0, 2).)
    Tensor c = t.numel() == 0 || t.is_contiguous() ? t.detach() : t.detach().contiguous();
    const uint64_t bytes = static_cast<uint64_t>(c.numel()) * dtype_size(c.dtype());
    ordered_json entry = ordered_json::object();
    entry["dtype"] = st_dtype_name(c.dtype());
    entry["shape"] = c.shape();
    entry["data_offsets"] = {offset, offset + bytes};
    header[tname] = std::move(entry);
    offset += bytes;
    plan.data.push_back(std::move(c));
  }
  plan.header = header.dump();
  plan.header.append((8 - plan.header.size() % 8) % 8, ' ');
  return plan;
}

template <class Write>
void emit(const Plan& plan, Write&& write) {
  uint8_t size_field[8];
  const uint64_t n = plan.header.size();
  for (int i = 0; i < 8; ++i) size_field[i] = static_cast<uint8_t>(n >> (8 * i));
  write(size_field, 8);
  write(plan.header.data(), plan.header.size());
  for (const Tensor& t : plan.data) {
    const size_t bytes = static_cast<size_t>(t.numel()) * dtype_size(t.dtype());
    if (bytes > 0) write(t.raw_data(), bytes);
  }
}

// ---------------------------------------------------------------- reader

struct Entry {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  uint64_t begin = 0, end = 0;
  size_t order = 0;  // position in the header
};

Shape parse_shape(const json& j, const std::string& name, const std::string& tname) {
  if (!j.is_array())
    fail(name, "tensor " + show(tname) + ": field 'shape' is a " + j.type_name() + ", not an array");
  Shape shape;
  uint64_t product = 1;  // of the non-zero dimensions, so that [0, huge] is caught too
  for (const json& d : j) {
    if (!d.is_number_integer())
      fail(name, "tensor " + show(tname) + ": a shape entry is a " + d.type_name() + ", not an integer");
    if (!d.is_number_unsigned())
      fail(name, "tensor " + show(tname) + ": negative dimension " + std::to_string(d.get<int64_t>()) +
                     " in the shape");
    const uint64_t dim = d.get<uint64_t>();
    if (dim > kMaxNumel)
      fail(name, "tensor " + show(tname) + ": dimension " + std::to_string(dim) + " is too large");
    if (dim != 0 && product > kMaxNumel / dim)
      fail(name, "tensor " + show(tname) + ": the product of the shape overflows (more than " +
                     std::to_string(kMaxNumel) + " elements)");
    if (dim != 0) product *= dim;
    shape.push_back(static_cast<int64_t>(dim));
  }
  return shape;
}

Entry parse_entry(const std::string& tname, const json& j, const std::string& name) {
  if (tname.empty()) fail(name, "a tensor has an empty name");
  if (!j.is_object()) fail(name, "tensor " + show(tname) + ": entry is a " + j.type_name() + ", not an object");
  for (const auto& item : j.items())
    if (item.key() != "dtype" && item.key() != "shape" && item.key() != "data_offsets")
      fail(name, "tensor " + show(tname) + ": unexpected field " + show(item.key()));
  for (const char* field : {"dtype", "shape", "data_offsets"})
    if (!j.contains(field)) fail(name, "tensor " + show(tname) + ": missing field '" + field + "'");

  Entry e;
  e.name = tname;
  const json& dt = j.at("dtype");
  if (!dt.is_string())
    fail(name, "tensor " + show(tname) + ": field 'dtype' is a " + dt.type_name() + ", not a string");
  const std::string& dts = dt.get_ref<const std::string&>();
  if (dts == "F32") e.dtype = DType::F32;
  else if (dts == "F64") e.dtype = DType::F64;
  else fail(name, "tensor " + show(tname) + ": unsupported dtype " + show(dts) + " (supported: F32, F64)");

  e.shape = parse_shape(j.at("shape"), name, tname);

  const json& off = j.at("data_offsets");
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
    fail(name, "tensor " + show(tname) + ": field 'data_offsets' is not [begin, end] with non-negative integers");
  e.begin = off[0].get<uint64_t>();
  e.end = off[1].get<uint64_t>();
  if (e.begin > e.end)
    fail(name, "tensor " + show(tname) + ": data_offsets [" + std::to_string(e.begin) + ", " +
                   std::to_string(e.end) + "] have begin > end");
  uint64_t numel = 1;
  for (int64_t d : e.shape) numel *= static_cast<uint64_t>(d);  // cannot overflow: checked in parse_shape
  const uint64_t need = numel * dtype_size(e.dtype);
  if (e.end - e.begin != need)
    fail(name, "tensor " + show(tname) + ": data_offsets [" + std::to_string(e.begin) + ", " +
                   std::to_string(e.end) + "] span " + std::to_string(e.end - e.begin) + " bytes but shape " +
                   shape_text(e.shape) + " of " + dts + " needs " + std::to_string(need));
  return e;
}

std::map<std::string, std::string> parse_metadata(const json& j, const std::string& name) {
  if (!j.is_object()) fail(name, "__metadata__ is a " + std::string(j.type_name()) + ", not an object of strings");
  std::map<std::string, std::string> out;
  for (const auto& item : j.items()) {
    if (!item.value().is_string())
      fail(name, "__metadata__ value for key " + show(item.key()) + " is a " + item.value().type_name() +
                     ", not a string");
    out.emplace(item.key(), item.value().get<std::string>());
  }
  return out;
}

}  // namespace

std::vector<uint8_t> encode_safetensors(const nn::NamedTensors& tensors,
                                        const std::map<std::string, std::string>& metadata,
                                        const std::string& name_for_errors) {
  const Plan plan = make_plan(tensors, metadata, name_for_errors);
  std::vector<uint8_t> out;
  emit(plan, [&](const void* p, size_t n) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + n);
  });
  return out;
}

void save_safetensors(const std::string& path, const nn::NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const Plan plan = make_plan(tensors, metadata, path);  // validates before the file is touched
  write_file_atomic(path, [&](AtomicSink& sink) { emit(plan, [&](const void* p, size_t n) { sink.write(p, n); }); });
}

SafetensorsFile parse_safetensors(const uint8_t* data, size_t n, const std::string& name) {
  // Pass 1: the size field and the header bounds.
  if (n < 8)
    fail(name, "file is " + std::to_string(n) + " bytes, shorter than the 8-byte header-size field");
  uint64_t hsize = 0;
  for (int i = 0; i < 8; ++i) hsize |= static_cast<uint64_t>(data[i]) << (8 * i);
  if (hsize == 0) fail(name, "header size is 0");
  if (hsize > kMaxSafetensorsHeader)
    fail(name, "header size " + std::to_string(hsize) + " exceeds the limit of " +
                   std::to_string(kMaxSafetensorsHeader) + " bytes");
  if (hsize > n - 8)
    fail(name, "header size " + std::to_string(hsize) + " exceeds the " + std::to_string(n - 8) +
                   " bytes after the size field (truncated file?)");
  const char* hbegin = reinterpret_cast<const char*>(data + 8);
  const uint8_t* buffer = data + 8 + hsize;
  const uint64_t buffer_size = n - 8 - hsize;

  // Pass 2: the JSON. The callback records the top-level keys in header order and the first duplicate key
  // at any depth (nlohmann itself would silently keep the last value).
  std::vector<std::set<std::string>> open_objects;
  std::vector<std::string> top_keys;
  std::string duplicate;
  bool duplicate_at_top = false;
  const json::parser_callback_t on_event = [&](int depth, json::parse_event_t ev, json& parsed) {
    if (ev == json::parse_event_t::object_start) {
      open_objects.emplace_back();
    } else if (ev == json::parse_event_t::object_end) {
      open_objects.pop_back();
    } else if (ev == json::parse_event_t::key) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (!open_objects.back().insert(key).second && duplicate.empty()) {
        duplicate = key;
        duplicate_at_top = depth == 1;
      }
      if (depth == 1) top_keys.push_back(key);  // a key of the root object
    }
    return true;
  };
  // nlohmann treats a NUL byte as the end of the input, which would hide whatever follows it; JSON allows
  // no raw NUL anywhere (not even inside strings), so one is always an error.
  if (const void* nul = std::memchr(hbegin, '\0', hsize))
    fail(name, "header is not valid JSON: NUL byte at header offset " +
                   std::to_string(static_cast<const char*>(nul) - hbegin));
  json root;
  try {
    root = json::parse(hbegin, hbegin + hsize, on_event);
  } catch (const json::exception& e) {
    fail(name, std::string("header is not valid JSON: ") + e.what());
  }
  if (!duplicate.empty())
    fail(name, duplicate_at_top ? "duplicate tensor name " + show(duplicate) + " in the header"
                                : "duplicate key " + show(duplicate) + " inside a header entry");
  if (!root.is_object()) fail(name, "header is a JSON " + std::string(root.type_name()) + ", not an object");

  SafetensorsFile out;
  std::vector<Entry> entries;
  for (const std::string& key : top_keys) {
    const json& value = root.at(key);
    if (key == "__metadata__") {
      out.metadata = parse_metadata(value, name);
    } else {
      entries.push_back(parse_entry(key, value, name));
      entries.back().order = entries.size() - 1;
    }
  }

  // Pass 3: the offsets must tile [0, buffer_size) exactly, in some order.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.begin != b.begin) return a.begin < b.begin;
    if (a.end != b.end) return a.end < b.end;
    return a.order < b.order;
  });
  uint64_t expected = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (e.begin != expected) {
      const std::string where = "tensor " + show(e.name) + " starts at byte " + std::to_string(e.begin);
      if (i == 0) fail(name, "data offsets do not start at 0: " + where);
      fail(name, std::string(e.begin > expected ? "gap" : "overlap") + " in the data offsets: " + where +
                     " but the previous tensor ends at byte " + std::to_string(expected));
    }
    expected = e.end;
  }
  if (expected < buffer_size)
    fail(name, std::to_string(buffer_size - expected) + " trailing bytes after the last tensor's data");
  if (expected > buffer_size)
    fail(name, "tensor data ends at byte " + std::to_string(expected) + " of the buffer but the buffer holds " +
                   std::to_string(buffer_size) + " bytes (truncated file?)");

  // Everything is consistent: allocate and copy.
  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (e.end > e.begin) std::memcpy(t.raw_data(), buffer + e.begin, e.end - e.begin);
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

SafetensorsFile load_safetensors(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError(path + ": cannot open: " + std::strerror(errno));
  std::vector<uint8_t> bytes;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) bytes.reserve(static_cast<size_t>(st.st_size));
  uint8_t chunk[1 << 16];
  for (;;) {
    const ssize_t k = ::read(fd, chunk, sizeof chunk);
    if (k < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw IoError(path + ": cannot read: " + std::strerror(err));
    }
    if (k == 0) break;
    bytes.insert(bytes.end(), chunk, chunk + k);
  }
  ::close(fd);
  return parse_safetensors(bytes.data(), bytes.size(), path);
}

}  // namespace fw::io
