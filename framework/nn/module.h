// framework/nn/module.h: the base of every layer and model: named parameters, buffers and sub-modules.
//
// Names are dotted paths built from registration names ("blocks.3.conv1.weight"); the order is registration
// order, so named_parameters() is stable and checkpoints can be matched name by name.
// Registration names must be non-empty, contain no '.', and be unique within a module across parameters, buffers
// and sub-modules; violations throw std::invalid_argument naming the module (type and path) and the name.
// Parameters require grad; buffers (e.g. convolution masks) do not and are never updated by optimizers.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "framework/core/tensor.h"

namespace fw::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  virtual ~Module() = default;
  NamedTensors named_parameters() const;
  std::vector<Tensor> parameters() const;
  NamedTensors named_buffers() const;
  void zero_grad();
  int64_t num_parameters() const;  // total elements
  // Moves every parameter and buffer to `device` in place (Tensor::to_device_): handles held by layers see the
  // move. Call before building an optimizer; gradients are dropped.
  void to_device(Device device);
  // Dotted path of this module from its root ("" for a root or a module not yet registered as a child); kept up
  // to date when it (or an ancestor) is registered. Used in error messages.
  const std::string& path() const { return path_; }

 protected:
  // Registers t as a parameter (sets requires_grad) and returns it. Names are unique within a module.
  Tensor register_parameter(const std::string& name, Tensor t);
  Tensor register_buffer(const std::string& name, Tensor t);
  template <class M> std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> m);
  void check_name(const std::string& name) const;
  std::string describe() const;  // "Module <type> at '<path>'" for error messages
  void set_path(const std::string& path);  // sets path_ and re-bases every descendant
  void collect(const std::string& prefix, NamedTensors& out, bool params) const;
  NamedTensors params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  std::string path_;
};

}  // namespace fw::nn
