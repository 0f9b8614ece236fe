// models/draw_receptive_fields.cpp: draws the receptive-field pictures of docs/models.md (the counterpart of the
// paper's Figure 4): for each model, with random weights and its default number of layers, on a 16x16 binary
// image, which input pixels the output distribution at the centre pixel (8, 8) depends on.
//
// Usage (from the repository root): ninja -C <build> draw_receptive_fields && <build>/models/draw_receptive_fields
// [output directory, default docs/img]. Writes receptive-field-<model>.png and prints how many pixels each sees.
#include <cstdio>
#include <string>

#include "models/pixel_model.h"
#include "models/receptive_field.h"

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "docs/img";
  try {
    for (const std::string& name : pixelrnn::model_names()) {
      pixelrnn::ModelConfig cfg;
      cfg.model = name;
      cfg.height = cfg.width = 16;
      cfg.hidden = 8;  // the field does not depend on the width of the layers
      fw::Rng rng(2016);
      auto model = pixelrnn::make_model(cfg, rng);
      pixelrnn::ReceptiveField rf = pixelrnn::receptive_field(*model, 8, 8, 0, 4);
      const std::string path = dir + "/receptive-field-" + name + ".png";
      pixelrnn::write_receptive_field_png(rf, path, 16);
      long past = 0;
      for (int64_t r = 0; r < 16; ++r)
        for (int64_t c = 0; c < 16; ++c) past += (r < 8 || (r == 8 && c < 8)) && rf.pixel(r, c) != 0.0;
      std::printf("%-16s layers %ld: sees %ld of the %d pixels before (8, 8), %ld in all -> %s\n", name.c_str(),
                  static_cast<long>(model->config().layers), past, 8 * 16 + 8, static_cast<long>(rf.seen_pixels()),
                  path.c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "draw_receptive_fields: %s\n", e.what());
    return 1;
  }
  return 0;
}
