// framework/core/tensor.cpp: Tensor creation, accessors, and the autograd-facing members.
#include "framework/core/tensor.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <sstream>

#include "framework/backend/backend.h"
#include "framework/core/autograd.h"
#include "framework/core/profile.h"
#include "framework/ops/copy.h"

namespace fw {

std::string shape_str(const Shape& s) {
  std::ostringstream o;
  o << "(";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << (s.size() == 1 ? ",)" : ")");
  return o.str();
}
const char* dtype_name(DType d) { return d == DType::F32 ? "f32" : "f64"; }
size_t dtype_size(DType d) { return d == DType::F32 ? 4 : 8; }

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0) throw ShapeError("shape " + shape_str(s) + " has a negative dimension");
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / 16 / d)
      throw ShapeError("shape " + shape_str(s) + " is too large");
    n *= d;
  }
  return n;
}

Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    acc *= std::max<int64_t>(s[i], 1);
  }
  return st;
}

Storage::Storage(size_t b, Device d) : bytes(b), device(d) {
  profile::count_allocation(b);  // counted while the profiler is on (framework/core/profile.h)
  backend = backend_for(static_cast<fw_device>(d));
  if (!backend) throw BackendError("no backend loaded for the tensor's device");
  data = backend->alloc(b);
  if (!data) throw std::bad_alloc();
}
// Freed by the backend that allocated it, even if that backend has since been unregistered (plugins are never
// dlclose'd, so the table stays valid).
Storage::~Storage() {
  profile::count_release(bytes);
  backend->free(data);
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  auto impl = std::make_shared<TensorImpl>();
  int64_t n = shape_numel(shape);
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(n) * dtype_size(dtype), device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}
Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(value);
  return t;
}
Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }
Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }
Tensor Tensor::scalar(double value, DType dtype, Device device) { return full({}, value, dtype, device); }

void Tensor::to_device_(Device d) {
  require_defined("to_device_");
  if (impl_->grad_fn) throw ShapeError("to_device_: tensor " + str() + " is part of a graph");
  if (device() == d) return;
  Tensor moved = to_device(d);
  impl_->storage = moved.impl_->storage;
  impl_->strides = moved.impl_->strides;
  impl_->offset = 0;
  impl_->grad.reset();
}

Tensor Tensor::to_device(Device d) const {
  require_defined("to_device");
  if (device() == d) return *this;
  Tensor src = detach().contiguous();
  Tensor out = empty(shape(), dtype(), d);
  const size_t bytes = static_cast<size_t>(numel()) * dtype_size(dtype());
  if (bytes == 0) return out;
  std::vector<unsigned char> host;
  const void* from = src.raw_data();
  if (src.device() != Device::CPU) {  // device -> host
    host.resize(bytes);
    if (src.impl_->storage->backend->copy_to_host(host.data(), from, bytes) != FW_OK)
      throw BackendError(std::string("to_device: copy to the host failed on backend ") +
                         src.impl_->storage->backend->name);
    from = host.data();
  }
  const fw_backend_v2* be = out.impl_->storage->backend;
  const int rc = d == Device::CPU ? (std::memcpy(out.raw_data(), from, bytes), FW_OK)
                                  : be->copy_from_host(out.raw_data(), from, bytes);
  if (rc != FW_OK) throw BackendError(std::string("to_device: copy from the host failed on backend ") + be->name);
  return out;
}

namespace {
template <class T> Tensor tensor_from(const Shape& shape, const std::vector<T>& v, DType dt) {
  if (shape_numel(shape) != static_cast<int64_t>(v.size()))
    throw ShapeError("from_vector: shape " + shape_str(shape) + " needs " + std::to_string(shape_numel(shape)) +
                     " values, got " + std::to_string(v.size()));
  Tensor t = Tensor::empty(shape, dt);
  if (!v.empty()) std::memcpy(t.raw_data(), v.data(), v.size() * sizeof(T));
  return t;
}
}  // namespace
Tensor Tensor::from_vector(const Shape& shape, const std::vector<float>& v) { return tensor_from(shape, v, DType::F32); }
Tensor Tensor::from_vector(const Shape& shape, const std::vector<double>& v) {
  return tensor_from(shape, v, DType::F64);
}

Tensor Tensor::view_of(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset) {
  base.require_defined("view_of");
  if (shape.size() != strides.size()) throw ShapeError("view_of: shape and strides differ in rank");
  int64_t n = shape_numel(shape);
  int64_t hi = offset, lo = offset;
  if (n > 0)
    for (size_t i = 0; i < shape.size(); ++i) {
      int64_t ext = (shape[i] - 1) * strides[i];
      (ext >= 0 ? hi : lo) += ext;
    }
  int64_t cap = static_cast<int64_t>(base.impl_->storage->bytes / dtype_size(base.dtype()));
  if (n > 0 && (lo < 0 || hi >= cap))
    throw ShapeError("view_of: view " + shape_str(shape) + " at offset " + std::to_string(offset) +
                     " does not fit a storage of " + std::to_string(cap) + " elements");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.impl_->storage;
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

void Tensor::require_defined(const char* what) const {
  if (!impl_) throw ShapeError(std::string(what) + ": undefined tensor");
}
const Shape& Tensor::shape() const { require_defined("shape"); return impl_->shape; }
const Shape& Tensor::strides() const { require_defined("strides"); return impl_->strides; }
int64_t Tensor::offset() const { require_defined("offset"); return impl_->offset; }
DType Tensor::dtype() const { require_defined("dtype"); return impl_->dtype; }
Device Tensor::device() const {
  require_defined("device");
  if (!impl_->storage) throw ShapeError("device: tensor " + shape_str(impl_->shape) + " has no data (a graph edge)");
  return impl_->storage->device;
}
int64_t Tensor::numel() const { return shape_numel(shape()); }
int64_t Tensor::size(int64_t d) const {
  int64_t r = dim();
  int64_t k = d < 0 ? d + r : d;
  if (k < 0 || k >= r) throw ShapeError("size: dim " + std::to_string(d) + " out of range for " + str());
  return impl_->shape[k];
}
bool Tensor::is_contiguous() const {
  require_defined("is_contiguous");
  int64_t acc = 1;
  for (size_t i = impl_->shape.size(); i-- > 0;) {
    if (impl_->shape[i] != 1 && impl_->strides[i] != acc) return false;
    acc *= std::max<int64_t>(impl_->shape[i], 1);
  }
  return true;
}
std::string Tensor::str() const {
  if (!impl_) return "undefined";
  std::string s = std::string(dtype_name(impl_->dtype)) + shape_str(impl_->shape);
  return !impl_->storage || impl_->storage->device == Device::CPU ? s : s + "@" + impl_->storage->backend->name;
}

void* Tensor::raw_data() const {
  require_defined("data");
  if (!impl_->storage) throw ShapeError("data: tensor " + shape_str(impl_->shape) + " has no data (a graph edge)");
  return static_cast<char*>(impl_->storage->data) + impl_->offset * dtype_size(impl_->dtype);
}
size_t Tensor::storage_bytes_from_offset() const {
  return impl_->storage->bytes - impl_->offset * dtype_size(impl_->dtype);
}
template <> float* Tensor::data<float>() const {
  if (dtype() != DType::F32) throw ShapeError("data<float>: tensor is " + str());
  return static_cast<float*>(raw_data());
}
template <> double* Tensor::data<double>() const {
  if (dtype() != DType::F64) throw ShapeError("data<double>: tensor is " + str());
  return static_cast<double*>(raw_data());
}

std::vector<double> Tensor::to_vector() const {
  require_defined("to_vector");
  if (device() != Device::CPU) return to_device(Device::CPU).to_vector();
  Tensor c = is_contiguous() ? *this : detach().contiguous();
  int64_t n = c.numel();
  std::vector<double> out(static_cast<size_t>(n));
  if (c.dtype() == DType::F32) {
    const float* p = c.data<float>();
    for (int64_t i = 0; i < n; ++i) out[i] = p[i];
  } else {
    const double* p = c.data<double>();
    for (int64_t i = 0; i < n; ++i) out[i] = p[i];
  }
  return out;
}
std::vector<float> Tensor::to_float_vector() const {
  std::vector<double> d = to_vector();
  return std::vector<float>(d.begin(), d.end());
}

static int64_t linear_index(const TensorImpl& t, std::initializer_list<int64_t> index, const char* op) {
  if (index.size() != t.shape.size())
    throw ShapeError(std::string(op) + ": " + std::to_string(index.size()) + " indices for shape " +
                     shape_str(t.shape));
  int64_t off = t.offset;
  size_t k = 0;
  for (int64_t i : index) {
    if (i < 0 || i >= t.shape[k])
      throw ShapeError(std::string(op) + ": index " + std::to_string(i) + " out of range in dim " +
                       std::to_string(k) + " of " + shape_str(t.shape));
    off += i * t.strides[k++];
  }
  return off;
}
double Tensor::at(std::initializer_list<int64_t> index) const {
  require_defined("at");
  if (device() != Device::CPU) throw ShapeError("at: tensor " + str() + " is not on the CPU; use to_vector()");
  int64_t off = linear_index(*impl_, index, "at");
  if (impl_->dtype == DType::F32) return static_cast<const float*>(impl_->storage->data)[off];
  return static_cast<const double*>(impl_->storage->data)[off];
}
void Tensor::set(std::initializer_list<int64_t> index, double v) {
  require_defined("set");
  if (device() != Device::CPU) throw ShapeError("set: tensor " + str() + " is not on the CPU");
  int64_t off = linear_index(*impl_, index, "set");
  if (impl_->dtype == DType::F32) static_cast<float*>(impl_->storage->data)[off] = static_cast<float>(v);
  else static_cast<double*>(impl_->storage->data)[off] = v;
}
double Tensor::item() const {
  if (numel() != 1) throw ShapeError("item: tensor " + str() + " has " + std::to_string(numel()) + " elements");
  return to_vector()[0];
}

bool Tensor::requires_grad() const { return impl_ && impl_->requires_grad; }
Tensor& Tensor::requires_grad_(bool on) {
  require_defined("requires_grad_");
  if (impl_->grad_fn && !on) throw ShapeError("requires_grad_(false) on a non-leaf tensor; use detach()");
  impl_->requires_grad = on;
  return *this;
}
Tensor Tensor::grad() const {
  require_defined("grad");
  return impl_->grad ? Tensor(impl_->grad) : Tensor();
}
void Tensor::zero_grad() { require_defined("zero_grad"); impl_->grad.reset(); }
void Tensor::set_grad(const Tensor& g) {
  require_defined("set_grad");
  if (g.defined() && g.shape() != shape())
    throw ShapeError("set_grad: gradient " + g.str() + " for tensor " + str());
  impl_->grad = g.impl_ptr();
}
const std::shared_ptr<Node>& Tensor::grad_fn() const {
  static const std::shared_ptr<Node> none;
  return impl_ ? impl_->grad_fn : none;
}
void Tensor::backward(const Tensor& grad_out) const { run_backward(*this, grad_out); }

Tensor Tensor::detach() const {
  require_defined("detach");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->shape = impl_->shape;
  impl->strides = impl_->strides;
  impl->offset = impl_->offset;
  impl->dtype = impl_->dtype;
  return Tensor(std::move(impl));
}
Tensor Tensor::clone() const { return copy_op(*this); }
Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }
Tensor Tensor::to(DType d) const { return convert_op(*this, d); }

void Tensor::copy_(const Tensor& src) {
  require_defined("copy_");
  if (impl_->grad_fn) throw ShapeError("copy_: in-place write into a non-leaf tensor " + str());
  if (src.shape() != shape()) throw ShapeError("copy_: source " + src.str() + " into " + str());
  copy_into(*this, src.device() == device() ? src : src.to_device(device()));
}
void Tensor::fill_(double value) {
  require_defined("fill_");
  if (impl_->grad_fn) throw ShapeError("fill_: in-place write into a non-leaf tensor " + str());
  if (!is_contiguous()) throw ShapeError("fill_: tensor " + str() + " is not contiguous");
  launch(device(), dtype(), fw_fill_params{buffer_of(*this), numel(), value});
}

}  // namespace fw
