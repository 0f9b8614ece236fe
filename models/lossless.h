// models/lossless.h: lossless image coding with a model (paper section 2.1: p(x) = prod_i p(x_i | x_<i)): a range
// coder (framework/io/range_coder.h) codes every element in the generator's draw order with that element's
// predicted distribution, quantized to integer frequencies. The coded size is the model's NLL in bits plus the
// quantization and coder overheads (docs/tool.md, "compress").
//
// Encoder and decoder run the same incremental generator (PixelModel::sample with SampleOptions::choose): the
// encoder drives it with the true pixels, the decoder with the symbols it decodes, so element i's distribution
// is computed from the same values on both sides. What must match for the decoder to see the same frequencies:
// the weights (bit for bit), the chunking (images per sample() call, kept in the file), the generator's code
// and the floating-point behaviour of the machine and its libm (exp). The thread count does not matter: the
// generator computes each image in one task, in a fixed order, and the draws run in image order.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "framework/core/tensor.h"
#include "framework/io/range_coder.h"
#include "models/pixel_model.h"

namespace pixelrnn {

// Frequency total of every coded element (2^16; the floor gives an impossible symbol 16 bits).
constexpr uint32_t kCodeTotal = 1u << 16;

// The frequency table of one element: fw::io::quantize_probs(probs, kCodeTotal).
std::vector<uint32_t> code_frequencies(const std::vector<double>& probs);

// Runs the model's generator over the images x: (N, C, H, W) (valid values for the model), every element taking
// its true value; visit(info) sees each element's DrawInfo (probs filled, value = the true value, row and col in
// the full image) in draw order. For the Multi-scale model the small image's elements come first.
// throws: as PixelModel::sample, std::invalid_argument on bad images.
void visit_elements(PixelModel& model, const fw::Tensor& x, const std::function<void(const DrawInfo&)>& visit);

// Encodes the images x: (N, C, H, W) into enc. Returns the sum over elements of -log2 of the quantized
// probability (the ideal coded size in bits).
double encode_images(PixelModel& model, const fw::Tensor& x, fw::io::RangeEncoder& enc);

// Decodes n images from dec: returns (n, C, H, W) F32. A corrupt stream decodes to some images of valid values
// (the caller checks a checksum and dec.overrun()).
fw::Tensor decode_images(PixelModel& model, int64_t n, fw::io::RangeDecoder& dec);

}  // namespace pixelrnn
