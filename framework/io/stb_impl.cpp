// framework/io/stb_impl.cpp: the project's own stb_image / stb_image_write
// implementation, built for PNG only (Debian's libstb is not linked).
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include "framework/io/stb_config.h"
