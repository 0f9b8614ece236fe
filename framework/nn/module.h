// framework/nn/module.h: the base of every layer and model: named parameters, buffers and sub-modules.
//
// Names are dotted paths built from registration names ("blocks.3.conv1.weight"); the order is registration
// order, so named_parameters() is stable and checkpoints can be matched name by name.
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
  void collect(const std::string& prefix, NamedTensors& out, bool params) const;
  NamedTensors params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

}  // namespace fw::nn
