// framework/core/tensor.h: the N-D tensor handle.
//
// A Tensor is a cheap, shared handle to a TensorImpl: a storage block (shared between views), a shape, strides
// (in elements, row-major when contiguous), an offset, a dtype (float32, or float64 for gradient checks) and a
// device tag. Views (reshape, permute, slice; framework/ops/view.h) share storage; ops never write into their
// inputs. Autograd state lives on the impl: requires_grad, the accumulated grad of a leaf, and grad_fn, the node
// that produced a non-leaf (framework/core/autograd.h).
//
// Contract: element accessors check dtype and bounds and throw fw::ShapeError naming the problem.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "framework/backend/backend_abi.h"

namespace fw {

enum class DType : int32_t { F32 = FW_F32, F64 = FW_F64 };
enum class Device : int32_t { CPU = FW_CPU, CUDA = FW_CUDA };
using Shape = std::vector<int64_t>;

// Thrown on shape mismatches and invalid arguments; the message names the op and the shapes.
struct ShapeError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

std::string shape_str(const Shape& s);  // "(2, 3, 4)"
const char* dtype_name(DType d);
size_t dtype_size(DType d);
int64_t shape_numel(const Shape& s);   // throws ShapeError on negative dims or overflow
Shape contiguous_strides(const Shape& s);

// Raw memory owned through the device's backend.
struct Storage {
  void* data = nullptr;
  size_t bytes = 0;
  Device device = Device::CPU;
  const fw_backend_v2* backend = nullptr;  // the backend that allocated data; it also frees it
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

struct Node;
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape, strides;
  int64_t offset = 0;  // in elements
  DType dtype = DType::F32;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // accumulated gradient of a leaf
  std::shared_ptr<Node> grad_fn;     // producer of a non-leaf
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Creation. All return contiguous tensors that do not require grad.
  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
  static Tensor ones(const Shape& shape, DType dtype = DType::F32, Device device = Device::CPU);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::F32, Device device = Device::CPU);
  static Tensor from_vector(const Shape& shape, const std::vector<float>& values);   // F32
  static Tensor from_vector(const Shape& shape, const std::vector<double>& values);  // F64
  static Tensor scalar(double value, DType dtype = DType::F32, Device device = Device::CPU);
  // A view over existing storage (used by views and kernels); checks the extent fits the storage.
  static Tensor view_of(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const;
  const Shape& strides() const;
  int64_t offset() const;
  DType dtype() const;
  Device device() const;
  bool is_contiguous() const;
  std::string str() const;  // "f32(2, 3)"

  // Pointer to element 0 of this view; T must match dtype. On a non-CPU device this is a device pointer: read
  // such tensors with to_vector() / item(), or move them with to_device().
  template <class T> T* data() const;
  void* raw_data() const;
  size_t storage_bytes_from_offset() const;

  double item() const;  // requires numel() == 1; any device
  double at(std::initializer_list<int64_t> index) const;          // CPU tensors
  void set(std::initializer_list<int64_t> index, double value);  // CPU tensors; writes directly, no graph
  std::vector<double> to_vector() const;  // in row-major order, any layout, any device (copied to the host)
  std::vector<float> to_float_vector() const;

  // Autograd.
  bool requires_grad() const;
  Tensor& requires_grad_(bool on = true);  // only on leaves
  Tensor grad() const;                     // undefined until backward reaches this leaf
  void zero_grad();                        // drops the accumulated grad
  void set_grad(const Tensor& g);
  const std::shared_ptr<Node>& grad_fn() const;
  bool is_leaf() const { return !grad_fn(); }
  void backward(const Tensor& grad_out = Tensor()) const;  // from a scalar unless grad_out is given

  Tensor detach() const;      // same storage, no graph
  Tensor clone() const;       // contiguous copy; recorded in the graph
  Tensor contiguous() const;  // this if contiguous, else clone()
  Tensor to(DType dtype) const;  // copy converted; recorded in the graph
  // A contiguous copy on `device` (this itself when already there), through the backends' host copies. Not
  // recorded in the graph: use it for parameters (nn::Module::to_device), batches and results.
  Tensor to_device(Device device) const;
  // In place: this tensor's data moves to `device` (every handle to it sees the move; views made earlier keep
  // the old storage). For leaves outside any graph: parameters and buffers (nn::Module::to_device). Drops grad.
  void to_device_(Device device);

  // In-place, outside the graph (optimizers, initializers). Throw on a tensor with grad_fn.
  void copy_(const Tensor& src);
  void fill_(double value);

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  void require_defined(const char* what) const;
  std::shared_ptr<TensorImpl> impl_;
};

}  // namespace fw
