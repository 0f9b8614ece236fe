// models/class_cond.cpp: the one-hot class vector and the per-class bias (models/class_cond.h).
#include "models/class_cond.h"

#include <stdexcept>

#include "framework/ops/matmul.h"
#include "framework/ops/view.h"

namespace pixelrnn {

fw::Tensor class_onehot(const std::vector<int64_t>& labels, int64_t n, int64_t classes, fw::DType dtype,
                        fw::Device device, const std::string& who) {
  if (classes < 1) throw std::invalid_argument(who + ": the model is not class-conditional (classes 0)");
  if (static_cast<int64_t>(labels.size()) != n)
    throw std::invalid_argument(who + ": " + std::to_string(labels.size()) + " labels for " + std::to_string(n) +
                                " images");
  std::vector<double> v(static_cast<size_t>(n * classes), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t k = labels[static_cast<size_t>(i)];
    if (k < 0 || k >= classes)
      throw std::invalid_argument(who + ": label " + std::to_string(k) + " of image " + std::to_string(i) +
                                  " is not a class 0.." + std::to_string(classes - 1));
    v[static_cast<size_t>(i * classes + k)] = 1.0;
  }
  fw::Tensor t = fw::Tensor::from_vector({n, classes}, v);  // (N, classes)
  if (dtype != fw::DType::F64) t = t.to(dtype).detach();
  return t.to_device(device);
}

fw::Tensor class_bias(const fw::Tensor& onehot, const fw::Tensor& table) {
  fw::Tensor b = fw::matmul(onehot, table);            // (N, F)
  return fw::reshape(b, {b.size(0), b.size(1), 1, 1});  // (N, F, 1, 1)
}

fw::Tensor class_table(int64_t classes, int64_t features, fw::DType dtype) {
  return fw::Tensor::zeros({classes, features}, dtype);
}

}  // namespace pixelrnn
