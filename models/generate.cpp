// models/generate.cpp: the network-level incremental generator (paper sections 3.1-3.6): the masked 7x7 input
// layer (mask A), the residual blocks' generators (models/generate_pixelcnn.cpp, models/generate_lstm.cpp), the
// output stack and the draws, pixel by pixel in raster order, R then G then B.
//
// At pixel (r, c), colour g: colour group g of the input layer (the 7x7 mask A reads earlier pixels and, at
// (r, c), the colours < g, already drawn), then of every block, then group g of the output stack's hidden layer
// and channel g's logits (mask B: groups <= g), then the draws of channel g. Images are independent, so each
// image's computation runs as one task (oneTBB), and the draws run in image order on the caller's rng.
#include "models/generate.h"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "framework/core/autograd.h"
#include "framework/core/parallel.h"
#include "models/generate_common.h"
#include "models/network.h"

namespace pixelrnn {
namespace {

using gen::Cache;

// t: (N, F, H, W) -> a cache (H, W, N, F).
Cache to_cache(const fw::Tensor& t) {
  const int64_t N = t.size(0), F = t.size(1), H = t.size(2), W = t.size(3);
  const std::vector<float> v = t.to_float_vector();
  Cache out(H, W, N, F);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t f = 0; f < F; ++f)
      for (int64_t r = 0; r < H; ++r)
        for (int64_t c = 0; c < W; ++c) out.at(r, c, n)[f] = v[static_cast<size_t>(((n * F + f) * H + r) * W + c)];
  return out;
}

// Runs fn(n) for every image, in parallel when there are several images and threads.
template <class Fn> void for_images(int64_t N, const Fn& fn) {
  const int64_t threads = fw::num_threads();
  if (N < 2 || threads < 2) {
    for (int64_t n = 0; n < N; ++n) fn(n);
    return;
  }
  const int64_t grain = std::max<int64_t>(1, N / (2 * threads));
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, N, grain), [&](const tbb::blocked_range<int64_t>& rg) {
    for (int64_t n = rg.begin(); n < rg.end(); ++n) fn(n);
  });
}

}  // namespace

fw::Tensor generate(const PixelNetwork& net, const fw::Tensor& canvas, const fw::Tensor& known, fw::Rng& rng,
                    const fw::Tensor& small, const SampleOptions& opts, int64_t done_before, int64_t total_extra) {
  fw::NoGradGuard no_grad;
  const ModelConfig& cfg = net.config();
  const std::string who = cfg.model + " sample";
  const std::vector<double> kn = check_sample_inputs(canvas, known, cfg.levels, who);
  const int64_t N = canvas.size(0), C = canvas.size(1), H = canvas.size(2), W = canvas.size(3);
  if (C != cfg.channels || H != cfg.height || W != cfg.width)
    throw fw::ShapeError(who + ": canvas " + canvas.str() + " should be (N, " + std::to_string(cfg.channels) + ", " +
                         std::to_string(cfg.height) + ", " + std::to_string(cfg.width) + ")");
  if (net.conditional() != small.defined())
    throw std::invalid_argument(who + ": " + (net.conditional() ? "conditional, but no conditioning image was given"
                                                                : "unconditional, but a conditioning image was given"));
  const int64_t h = cfg.hidden, oh = cfg.out_hidden, K = cfg.levels == 2 ? 1 : 256;
  const auto& blocks = net.blocks->items();
  const int64_t L = static_cast<int64_t>(blocks.size());

  fw::Tensor out = fw::Tensor::from_vector(canvas.shape(), canvas.to_float_vector());  // the caller's is not written
  float* px = out.data<float>();
  auto idx = [&](int64_t n, int64_t ch, int64_t r, int64_t c) { return ((n * C + ch) * H + r) * W + c; };
  // The input as the network sees it (PixelNetwork::prepare: levels 256 scaled by 1/255 in float32).
  const float scale = cfg.levels == 256 ? static_cast<float>(1.0 / 255.0) : 1.0f;
  Cache x(H, W, N, C);  // x: (H, W, N, C), scaled pixel values
  for (int64_t n = 0; n < N; ++n)
    for (int64_t ch = 0; ch < C; ++ch)
      for (int64_t r = 0; r < H; ++r)
        for (int64_t c = 0; c < W; ++c) x.at(r, c, n)[ch] = px[idx(n, ch, r, c)] * scale;

  // Activations: f[0] the input layer's output, f[l + 1] block l's: (H, W, N, 2h) each.
  std::vector<Cache> f(static_cast<size_t>(L + 1), Cache(H, W, N, 2 * h));
  // Conditioning biases (Multi-scale large network): each block's "cond" convolution of the conditioning map,
  // computed once for the whole image with the framework's ops, exactly as the forward pass does.
  std::vector<Cache> cond(static_cast<size_t>(L));
  if (net.conditional()) {
    const fw::Tensor m = net.condition->forward(net.prepare(small));  // m: (N, h, H, W)
    for (int64_t l = 0; l < L; ++l) cond[l] = to_cache(blocks[l]->cond_layer()->forward(m));
  }
  std::vector<std::unique_ptr<gen::BlockGen>> gens;
  for (int64_t l = 0; l < L; ++l) {
    gen::BlockContext ctx{&f[l], &f[l + 1], net.conditional() ? &cond[l] : nullptr, h, C};
    const ResidualBlock* b = blocks[l].get();
    if (auto* p = dynamic_cast<const PixelCNNBlock*>(b)) gens.push_back(gen::make_pixelcnn_gen(*p, ctx));
    else if (auto* q = dynamic_cast<const RowLSTMBlock*>(b)) gens.push_back(gen::make_row_lstm_gen(*q, ctx));
    else if (auto* d = dynamic_cast<const DiagonalBiLSTMBlock*>(b)) gens.push_back(gen::make_diagonal_gen(*d, ctx));
    else throw std::invalid_argument(who + ": block " + std::to_string(l) + " has no fast generator");
  }
  const gen::ConvP input = gen::read_conv(*net.input);
  const gen::ConvP hidden = gen::read_conv(*net.output->hidden), logits = gen::read_conv(*net.output->logits);
  if (input.co != 2 * h || input.ci != C || hidden.ci != 2 * h || hidden.co != oh || logits.co != C * K)
    throw fw::ShapeError(who + ": layer sizes do not match the configuration (" + cfg.describe() + ")");
  std::vector<float> hid(static_cast<size_t>(N * oh), 0.0f);  // hid: (N, oh), the output stack's hidden layer
  std::vector<float> lg(static_cast<size_t>(N * C * K), 0.0f);  // lg: (N, C*K), the current pixel's logits
  std::vector<double> z(static_cast<size_t>(K)), probs;

  for (int64_t r = 0; r < H; ++r) {
    if (r > 0)
      for_images(N, [&](int64_t n) {
        for (auto& g : gens) g->row_done(r - 1, n);
      });
    for (int64_t c = 0; c < W; ++c)
      for (int64_t ch = 0; ch < C; ++ch) {
        bool draw = false, head = false;  // channel ch unknown somewhere; some channel >= ch unknown somewhere
        for (int64_t n = 0; n < N; ++n)
          for (int64_t k = ch; k < C; ++k)
            if (kn[idx(n, k, r, c)] == 0.0) {
              head = true;
              draw = draw || k == ch;
            }
        for_images(N, [&](int64_t n) {
          gen::conv_at(input, x, r, c, n, gen::group_begin(2 * h, C, ch), gen::group_end(2 * h, C, ch), false,
                       f[0].at(r, c, n));
          for (auto& g : gens) g->at(r, c, ch, n);
          if (head)
            gen::dense_at(hidden, f[L].at(r, c, n), gen::group_begin(oh, C, ch), gen::group_end(oh, C, ch), true,
                          hid.data() + n * oh);
          if (draw) gen::dense_at(logits, hid.data() + n * oh, ch * K, (ch + 1) * K, true, lg.data() + n * C * K);
        });
        if (!draw) continue;
        for (int64_t n = 0; n < N; ++n) {
          if (kn[idx(n, ch, r, c)] != 0.0) continue;
          const double u = rng.uniform();
          for (int64_t k = 0; k < K; ++k) z[k] = lg[static_cast<size_t>(n * C * K + ch * K + k)];
          const bool want = opts.on_draw || opts.choose;
          int64_t value = draw_element(z.data(), cfg.levels, u, want ? &probs : nullptr);
          if (opts.choose) value = chosen_value(opts, DrawInfo{n, ch, r, c, u, value, &probs}, cfg.levels, who);
          px[idx(n, ch, r, c)] = static_cast<float>(value);
          x.at(r, c, n)[ch] = static_cast<float>(value) * scale;
          if (opts.on_draw) opts.on_draw(DrawInfo{n, ch, r, c, u, value, &probs});
        }
        if (opts.progress) opts.progress(done_before + (r * W + c) * C + ch + 1, total_extra + C * H * W);
      }
  }
  return out;
}

}  // namespace pixelrnn
