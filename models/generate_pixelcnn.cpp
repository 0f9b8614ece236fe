// models/generate_pixelcnn.cpp: the incremental generator of a PixelCNN residual block (paper section 3.5, block of
// Figure 5, masks of section 3.4).
//
// Block: a = reduce(relu(x)) (1x1), y = conv3x3(relu(a)) [+ cond], out = x + expand(relu(y)) (1x1); all mask B.
// At pixel (r, c), colour group g: a(r, c) and y(r, c) of group g, then out(r, c) of group g. The 3x3 mask-B
// convolution reads a at (r-1, c-1..c+1), (r, c-1) (earlier pixels, final) and at (r, c) the groups <= g (just
// computed): nothing later, so the value is final. a is cached for the whole image; y only for the current
// pixel (the 1x1 expand needs nothing else).
#include <stdexcept>

#include "models/generate_common.h"

namespace pixelrnn::gen {
namespace {

class PixelCNNGen : public BlockGen {
 public:
  PixelCNNGen(const PixelCNNBlock& b, const BlockContext& ctx)
      : ctx_(ctx), reduce_(read_conv(*b.reduce)), conv_(read_conv(*b.conv)), expand_(read_conv(*b.expand)) {
    const Cache& in = *ctx.in;
    h_ = ctx.hidden;
    if (reduce_.ci != 2 * h_ || reduce_.co != h_ || conv_.co != h_ || expand_.co != 2 * h_ || in.F != 2 * h_)
      throw fw::ShapeError("PixelCNN block generator: layer sizes do not match hidden " + std::to_string(h_));
    if (ctx.cond && ctx.cond->F != h_)
      throw fw::ShapeError("PixelCNN block generator: conditioning bias has " + std::to_string(ctx.cond->F) +
                           " maps, not h = " + std::to_string(h_));
    a_ = Cache(in.H, in.W, in.N, h_);                 // a: (H, W, N, h), before the relu
    y_.assign(static_cast<size_t>(in.N * h_), 0.0f);  // y: (N, h), the current pixel
  }

  void at(int64_t r, int64_t c, int64_t g, int64_t n) override {
    const int64_t C = ctx_.channels;
    const int64_t u0 = group_begin(h_, C, g), u1 = group_end(h_, C, g);
    const float* x = ctx_.in->at(r, c, n);
    dense_at(reduce_, x, u0, u1, true, a_.at(r, c, n));
    float* y = y_.data() + n * h_;
    conv_at(conv_, a_, r, c, n, u0, u1, true, y);
    if (ctx_.cond) {
      const float* cb = ctx_.cond->at(r, c, n);
      for (int64_t u = u0; u < u1; ++u) y[u] += cb[u];
    }
    const int64_t o0 = group_begin(2 * h_, C, g), o1 = group_end(2 * h_, C, g);
    float* out = ctx_.out->at(r, c, n);
    dense_at(expand_, y, o0, o1, true, out);
    for (int64_t o = o0; o < o1; ++o) out[o] = x[o] + out[o];
  }

 private:
  BlockContext ctx_;
  ConvP reduce_, conv_, expand_;
  int64_t h_ = 0;
  Cache a_;
  std::vector<float> y_;
};

}  // namespace

std::unique_ptr<BlockGen> make_pixelcnn_gen(const PixelCNNBlock& block, const BlockContext& ctx) {
  return std::make_unique<PixelCNNGen>(block, ctx);
}

}  // namespace pixelrnn::gen
