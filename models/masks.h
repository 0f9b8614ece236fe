// models/masks.h: the masks of masked convolutions, with features split into R, G, B groups (paper section 3.4).
//
// A masked convolution zeroes the weights that would let a pixel see its own future. With the kernel centre at
// (ca, cb) = ((KH-1)/2, (KW-1)/2) (the pixel the output belongs to under Padding2d::same), weight (o, i, a, b) is
//   1  if (a, b) precedes the centre in raster order (a < ca, or a == ca and b < cb),
//   0  if it follows the centre,
//   at the centre: mask A: 1 iff group(o) >  group(i)   (a colour sees only the colours before it),
//                  mask B: 1 iff group(o) >= group(i)   (... and also itself; used after the first layer).
// Groups: for C = 3 channels, a set of n features is split into three contiguous equal groups R | G | B
// (feature f belongs to group f / (n / 3)); the image's own channels are groups 0, 1, 2. For C = 1 every group
// is 0, so mask A is the usual "centre off" and mask B the usual "centre on" greyscale mask.
// LSTM gate maps (4h = i | f | o | g, each h maps) take the group of their hidden unit: gate_groups().
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <memory>

#include "framework/core/rng.h"
#include "framework/core/tensor.h"
#include "framework/nn/conv2d.h"

namespace pixelrnn {

enum class MaskType { A, B };

// The group of each of n features split into `channels` contiguous equal groups.
// throws std::invalid_argument naming `what` when n is not a multiple of channels (or channels is not 1 or 3).
std::vector<int64_t> feature_groups(int64_t n, int64_t channels, const std::string& what);
// The groups of `gates` stacked gate maps of h units each: gates copies of feature_groups(h, channels).
std::vector<int64_t> gate_groups(int64_t h, int64_t channels, int64_t gates, const std::string& what);

// mask: (out_groups.size(), in_groups.size(), kh, kw) of 0/1 in dtype, built by the rule above.
fw::Tensor make_mask(MaskType type, int64_t kh, int64_t kw, const std::vector<int64_t>& out_groups,
                     const std::vector<int64_t>& in_groups, fw::DType dtype);

// A convolution layer with Padding2d::same(kh, kw) padding (output (i, j) centred on input (i, j)) and the
// given mask (undefined: unmasked). Parameters weight (out, in, kh, kw) and, if bias, bias (out,); buffer mask.
std::shared_ptr<fw::nn::Conv2d> make_conv(int64_t in, int64_t out, int64_t kh, int64_t kw, const fw::Tensor& mask,
                                          bool bias, fw::DType dtype, fw::Rng& rng);

}  // namespace pixelrnn
