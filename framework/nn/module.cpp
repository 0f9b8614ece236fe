// framework/nn/module.cpp: parameter/buffer/child registration and dotted-name collection for nn::Module.
//
// Registration order is kept in vectors (not maps), so named_parameters() walks a module's own parameters first,
// then each child in the order it was registered, recursively. Name checks make every dotted path unique.
#include "framework/nn/module.h"

#include <cxxabi.h>

#include <cstdlib>
#include <stdexcept>
#include <typeinfo>

namespace fw::nn {

std::string Module::describe() const {
  const char* mangled = typeid(*this).name();
  int status = 0;
  char* pretty = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string type = (status == 0 && pretty) ? pretty : mangled;
  std::free(pretty);
  return "Module " + type + " at '" + (path_.empty() ? std::string("<root>") : path_) + "'";
}

void Module::set_path(const std::string& path) {
  path_ = path;
  for (auto& [name, child] : children_) child->set_path(path + "." + name);
}

void Module::check_name(const std::string& name) const {
  // Names become path segments, so they must be non-empty, dot-free and unique across params, buffers, children.
  if (name.empty()) throw std::invalid_argument(describe() + ": empty name for a parameter, buffer or sub-module");
  if (name.find('.') != std::string::npos)
    throw std::invalid_argument(describe() + ": name '" + name + "' contains '.' (dots separate path segments)");
  for (const auto& p : params_)
    if (p.first == name) throw std::invalid_argument(describe() + ": duplicate name '" + name + "' (a parameter)");
  for (const auto& b : buffers_)
    if (b.first == name) throw std::invalid_argument(describe() + ": duplicate name '" + name + "' (a buffer)");
  for (const auto& c : children_)
    if (c.first == name) throw std::invalid_argument(describe() + ": duplicate name '" + name + "' (a sub-module)");
}

Tensor Module::register_parameter(const std::string& name, Tensor t) {
  check_name(name);
  if (!t.defined()) throw std::invalid_argument(describe() + ": parameter '" + name + "' is undefined");
  if (!t.is_leaf())
    throw std::invalid_argument(describe() + ": parameter '" + name + "' is not a leaf (" + t.str() + ")");
  if (!t.is_contiguous())
    throw std::invalid_argument(describe() + ": parameter '" + name + "' is not contiguous (" + t.str() + ")");
  t.requires_grad_(true);
  params_.emplace_back(name, t);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  check_name(name);
  if (!t.defined()) throw std::invalid_argument(describe() + ": buffer '" + name + "' is undefined");
  if (t.requires_grad())
    throw std::invalid_argument(describe() + ": buffer '" + name + "' requires grad; register it as a parameter");
  buffers_.emplace_back(name, t);
  return t;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  check_name(name);
  if (!m) throw std::invalid_argument(describe() + ": sub-module '" + name + "' is null");
  if (m.get() == this) throw std::invalid_argument(describe() + ": sub-module '" + name + "' is the module itself");
  for (const auto& c : children_)
    if (c.second == m)
      throw std::invalid_argument(describe() + ": sub-module '" + name + "' is already registered as '" + c.first +
                                  "' (its parameters would be counted twice)");
  m->set_path(path_.empty() ? name : path_ + "." + name);
  children_.emplace_back(name, std::move(m));
}

void Module::collect(const std::string& prefix, NamedTensors& out, bool params) const {
  for (const auto& [name, t] : params ? params_ : buffers_) out.emplace_back(prefix + name, t);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out, params);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", out, true);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", out, false);
  return out;
}

void Module::zero_grad() {
  for (auto& [name, t] : named_parameters()) t.zero_grad();
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const auto& [name, t] : named_parameters()) n += t.numel();
  return n;
}

void Module::to_device(Device device) {
  for (auto& [name, t] : named_parameters()) Tensor(t).to_device_(device);
  for (auto& [name, t] : named_buffers()) Tensor(t).to_device_(device);
}

}  // namespace fw::nn
