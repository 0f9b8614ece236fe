// tools/pixelrnn/data_lookup.h: what --data names. A path that exists (a folder or a file, absolute or relative to
// the current folder) is used as it is; a bare name (no '/') that is not a path is looked up in the data folders,
// in this order: --data-dir DIR, $PIXELRNN_DATA, ./data (tools/fetch-data fills data/). Paths are compared after
// normalisation (absolute, '.', '..' and symbolic links resolved), so `data/mnist`, `./data/mnist/` and
// `/abs/path/data/mnist` are the same data. See docs/data.md.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "tools/pixelrnn/flags.h"

namespace pixelrnn::tool {

// Declares --data-dir on f.
void add_data_dir_flag(Flags& f);

// The folders a bare name is looked up in, in order: --data-dir, $PIXELRNN_DATA (when set and non-empty), ./data.
std::vector<std::string> data_folders(const std::string& data_dir_flag);

// The path --data names (see the file comment).
// throws: fw::io::DataError naming data and every place tried, with a hint to tools/fetch-data.
std::string resolve_data(const std::string& data, const std::string& data_dir_flag);

// The absolute, normalised form of an existing path (std::filesystem::weakly_canonical), without a trailing '/'.
std::string normalize_path(const std::string& path);

// The data a checkpoint was trained on: its "train.data_path" (the normalised path it was read from) when that
// still exists, else its "train.data" looked up as resolve_data does. throws: fw::io::DataError (not found) or
// std::runtime_error when the checkpoint names no data.
std::string checkpoint_data(const std::map<std::string, std::string>& metadata, const std::string& file,
                            const std::string& data_dir_flag);

}  // namespace pixelrnn::tool
