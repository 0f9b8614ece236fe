// models/masks.cpp: mask A / mask B construction with R, G, B feature groups (paper section 3.4, Figure 2).
#include "models/masks.h"

#include <stdexcept>

namespace pixelrnn {

std::vector<int64_t> feature_groups(int64_t n, int64_t channels, const std::string& what) {
  if (channels != 1 && channels != 3)
    throw std::invalid_argument(what + ": channels " + std::to_string(channels) + " is not 1 or 3");
  if (n < 1 || n % channels)
    throw std::invalid_argument(what + ": " + std::to_string(n) + " features do not split into " +
                                std::to_string(channels) + " equal colour groups (section 3.4)");
  std::vector<int64_t> g(n);
  int64_t per = n / channels;
  for (int64_t f = 0; f < n; ++f) g[f] = f / per;
  return g;
}

std::vector<int64_t> gate_groups(int64_t h, int64_t channels, int64_t gates, const std::string& what) {
  std::vector<int64_t> one = feature_groups(h, channels, what), g;
  for (int64_t k = 0; k < gates; ++k) g.insert(g.end(), one.begin(), one.end());
  return g;
}

fw::Tensor make_mask(MaskType type, int64_t kh, int64_t kw, const std::vector<int64_t>& out_groups,
                     const std::vector<int64_t>& in_groups, fw::DType dtype) {
  if (kh < 1 || kw < 1) throw std::invalid_argument("make_mask: kernel " + std::to_string(kh) + "x" +
                                                    std::to_string(kw) + " must be at least 1x1");
  const int64_t co = static_cast<int64_t>(out_groups.size()), ci = static_cast<int64_t>(in_groups.size());
  const int64_t ca = (kh - 1) / 2, cb = (kw - 1) / 2;  // the centre under Padding2d::same
  std::vector<double> m(static_cast<size_t>(co * ci * kh * kw), 0.0);
  for (int64_t o = 0; o < co; ++o)
    for (int64_t i = 0; i < ci; ++i)
      for (int64_t a = 0; a < kh; ++a)
        for (int64_t b = 0; b < kw; ++b) {
          double v;
          if (a < ca || (a == ca && b < cb)) v = 1;  // strictly earlier pixel: the context
          else if (a == ca && b == cb)               // the pixel itself: colour order decides
            v = type == MaskType::A ? (out_groups[o] > in_groups[i]) : (out_groups[o] >= in_groups[i]);
          else v = 0;  // a later pixel: never
          m[((o * ci + i) * kh + a) * kw + b] = v;
        }
  fw::Tensor t = fw::Tensor::from_vector({co, ci, kh, kw}, m);
  return dtype == fw::DType::F64 ? t : t.to(dtype);
}

std::shared_ptr<fw::nn::Conv2d> make_conv(int64_t in, int64_t out, int64_t kh, int64_t kw, const fw::Tensor& mask,
                                          bool bias, fw::DType dtype, fw::Rng& rng) {
  fw::nn::Conv2dOptions o;
  o.in = in;
  o.out = out;
  o.kh = kh;
  o.kw = kw;
  o.pad = fw::Padding2d::same(kh, kw);
  o.bias = bias;
  o.mask = mask;
  o.dtype = dtype;
  return std::make_shared<fw::nn::Conv2d>(o, rng);
}

}  // namespace pixelrnn
