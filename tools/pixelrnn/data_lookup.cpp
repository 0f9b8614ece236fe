// tools/pixelrnn/data_lookup.cpp: resolving --data (see data_lookup.h).
#include "tools/pixelrnn/data_lookup.h"

#include <cstdlib>
#include <filesystem>

#include "framework/io/dataset.h"

namespace pixelrnn::tool {

namespace fsys = std::filesystem;

void add_data_dir_flag(Flags& f) {
  f.value("data-dir", "DIR", "folder where bare --data names are looked up first (then $PIXELRNN_DATA, then ./data)");
}

std::vector<std::string> data_folders(const std::string& data_dir_flag) {
  std::vector<std::string> out;
  if (!data_dir_flag.empty()) out.push_back(data_dir_flag);
  const char* env = std::getenv("PIXELRNN_DATA");
  if (env && *env) out.emplace_back(env);
  out.emplace_back("data");
  return out;
}

std::string resolve_data(const std::string& data, const std::string& data_dir_flag) {
  if (data.empty()) throw fw::io::DataError("--data: empty dataset name");
  std::error_code ec;
  if (fsys::exists(data, ec)) return data;
  if (data.find('/') != std::string::npos) throw fw::io::DataError(data + ": no such file or folder");
  std::string tried = "./" + data;
  for (const std::string& folder : data_folders(data_dir_flag)) {
    const std::string p = (fsys::path(folder) / data).string();
    if (fsys::exists(p, ec)) return p;
    tried += ", " + p;
  }
  throw fw::io::DataError(data + ": dataset not found (tried " + tried +
                          "; run tools/fetch-data to fill data/, or pass --data-dir or set PIXELRNN_DATA)");
}

std::string normalize_path(const std::string& path) {
  std::error_code ec;
  fsys::path p = fsys::weakly_canonical(fsys::absolute(path, ec), ec);
  if (ec) p = fsys::absolute(path).lexically_normal();
  std::string s = p.string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

std::string checkpoint_data(const std::map<std::string, std::string>& metadata, const std::string& file,
                            const std::string& data_dir_flag) {
  std::error_code ec;
  auto path = metadata.find("train.data_path");
  if (path != metadata.end() && !path->second.empty() && fsys::exists(path->second, ec)) return path->second;
  auto name = metadata.find("train.data");
  if (name == metadata.end())
    throw std::runtime_error(file + " does not say what data it was trained on; pass --data");
  return resolve_data(name->second, data_dir_flag);
}

}  // namespace pixelrnn::tool
